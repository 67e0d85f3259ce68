//! What the host does with each SIP message, whatever the transport: match requests to
//! server transactions (absorbing retransmissions, RFC 3261 §17.2.3), hand new ones to
//! the registrar, and drive the transactions' timers. Sans-IO: datagrams and instants
//! in, datagrams out.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use rsip::prelude::*;
use rsip::{Method, Request, SipMessage};

use crate::sip::message::reply;
use crate::sip::registrar::service::{Outcome, Registrar};
use crate::sip::transaction::{Action, Reliability, ServerNonInvite, Timer, TimerConfig};
use crate::sip::wire::{self, Received};

/// A datagram to send.
pub type Packet = (Vec<u8>, SocketAddr);

struct Transaction {
    machine: ServerNonInvite<Vec<u8>>,
    deadline: Option<(Timer, Instant)>,
    peer: SocketAddr,
}

/// The host's SIP endpoint.
pub struct Endpoint {
    registrar: Arc<Registrar>,
    timers: TimerConfig,
    transactions: HashMap<String, Transaction>,
    last_purge: Option<Instant>,
}

/// How often lapsed registrations and nonces are dropped.
const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// The branch parameter of a request's top Via (RFC 3261 §17.2.3 matching key).
fn branch(request: &Request) -> Option<String> {
    let via = request.via_header().ok()?.value().to_string();
    via.split(';').find_map(|p| p.trim().strip_prefix("branch=").map(str::to_string))
}

impl Endpoint {
    pub fn new(registrar: Arc<Registrar>) -> Endpoint {
        Endpoint { registrar, timers: TimerConfig::default(), transactions: HashMap::new(), last_purge: None }
    }

    /// Live server transactions (for tests and metrics).
    pub fn transactions(&self) -> usize {
        self.transactions.len()
    }

    fn apply(
        transaction: &mut Transaction,
        actions: Vec<Action<Vec<u8>>>,
        now: Instant,
        out: &mut Vec<Packet>,
    ) -> bool {
        let mut terminated = false;
        for action in actions {
            match action {
                Action::Transmit(bytes) => out.push((bytes, transaction.peer)),
                Action::StartTimer(timer, after) => transaction.deadline = Some((timer, now + after)),
                Action::CancelTimer(_) => transaction.deadline = None,
                Action::Terminated => terminated = true,
                Action::PassUp(_) | Action::TransmitAck(_) | Action::Timeout | Action::TransportError => {}
            }
        }
        terminated
    }

    /// Handle one datagram from `source`; returns what to send.
    pub fn on_datagram(
        &mut self,
        bytes: &[u8],
        source: SocketAddr,
        now: Instant,
        wall: SystemTime,
    ) -> Vec<Packet> {
        let request = match wire::parse_datagram(bytes) {
            Ok(Received::Message(message)) => match *message {
                SipMessage::Request(request) => request,
                // No client transactions yet: responses have nowhere to go.
                SipMessage::Response(_) => return Vec::new(),
            },
            Ok(Received::KeepAlive) => return Vec::new(),
            Err(error) => {
                tracing::warn!(%source, %error, "dropped a malformed SIP datagram");
                return Vec::new();
            }
        };
        match request.method {
            Method::Ack => Vec::new(),
            // INVITE dialogs arrive with the call engine; until then say so.
            Method::Invite => {
                vec![(reply(&request, source, 501, Vec::new()).to_string().into_bytes(), source)]
            }
            _ => self.non_invite(request, bytes, source, now, wall),
        }
    }

    fn non_invite(
        &mut self,
        request: Request,
        bytes: &[u8],
        source: SocketAddr,
        now: Instant,
        wall: SystemTime,
    ) -> Vec<Packet> {
        let mut out = Vec::new();
        let Some(branch) = branch(&request) else {
            out.push((reply(&request, source, 400, Vec::new()).to_string().into_bytes(), source));
            return out;
        };
        let key = format!("{branch}|{}", request.method);
        if let Some(transaction) = self.transactions.get_mut(&key) {
            let actions = transaction.machine.on_retransmitted_request();
            if Self::apply(transaction, actions, now, &mut out) {
                self.transactions.remove(&key);
            }
            return out;
        }
        let (machine, _pass_up) = ServerNonInvite::new(bytes.to_vec(), Reliability::Unreliable, self.timers);
        let mut transaction = Transaction { machine, deadline: None, peer: source };
        let response = match request.method {
            Method::Register => {
                let (response, outcome) = self.registrar.handle(&request, source, wall);
                match &outcome {
                    Outcome::Registered { company, extension, bindings } => {
                        tracing::info!(company, extension, bindings, %source, "registered")
                    }
                    Outcome::AuthenticationFailed { company, extension } => {
                        tracing::warn!(company, extension, %source, "REGISTER authentication failed")
                    }
                    Outcome::Challenged | Outcome::Refused(_) => {
                        tracing::debug!(?outcome, %source, "REGISTER answered")
                    }
                }
                response
            }
            Method::Options => reply(
                &request,
                source,
                200,
                vec![rsip::Header::Allow("REGISTER, OPTIONS".to_string().into())],
            ),
            _ => reply(&request, source, 501, Vec::new()),
        };
        let status = u16::from(response.status_code.clone());
        let actions = transaction.machine.send_response(status, response.to_string().into_bytes());
        if !Self::apply(&mut transaction, actions, now, &mut out) {
            self.transactions.insert(key, transaction);
        }
        out
    }

    /// Fire the timers due at `now`; returns what to send.
    pub fn on_tick(&mut self, now: Instant) -> Vec<Packet> {
        if self.last_purge.is_none_or(|last| now.duration_since(last) >= PURGE_EVERY) {
            self.last_purge = Some(now);
            self.registrar.purge(SystemTime::now());
        }
        let mut out = Vec::new();
        self.transactions.retain(|_, transaction| match transaction.deadline {
            Some((timer, due)) if due <= now => {
                transaction.deadline = None;
                let actions = transaction.machine.on_timer(timer);
                !Self::apply(transaction, actions, now, &mut out)
            }
            _ => true,
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::store::Store;

    fn register(branch: &str) -> Vec<u8> {
        format!(
            "REGISTER sip:nowhere.test SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5071;branch={branch};rport\r\n\
             From: <sip:100@nowhere.test>;tag=a\r\n\
             To: <sip:100@nowhere.test>\r\n\
             Call-ID: reg-1\r\n\
             CSeq: 1 REGISTER\r\n\
             Contact: <sip:100@127.0.0.1:5071>\r\n\
             Content-Length: 0\r\n\r\n"
        )
        .into_bytes()
    }

    fn endpoint() -> Endpoint {
        Endpoint::new(Arc::new(Registrar::new(Store::in_memory().unwrap())))
    }

    #[test]
    fn a_retransmitted_request_is_absorbed_and_gets_the_same_response() {
        let mut endpoint = endpoint();
        let source: SocketAddr = "127.0.0.1:5071".parse().unwrap();
        let t0 = Instant::now();
        let first = endpoint.on_datagram(&register("z9hG4bK-1"), source, t0, SystemTime::now());
        let again = endpoint.on_datagram(&register("z9hG4bK-1"), source, t0, SystemTime::now());
        assert_eq!(first.len(), 1);
        assert_eq!(first, again, "the retransmission is answered from the transaction");
        assert!(String::from_utf8_lossy(&first[0].0).starts_with("SIP/2.0 404"), "unknown domain");
        assert_eq!(endpoint.transactions(), 1);

        // Timer J (64*T1 on UDP) ends the transaction; a new branch is a new transaction.
        assert!(endpoint.on_tick(t0 + Duration::from_secs(31)).is_empty());
        assert_eq!(endpoint.transactions(), 1);
        endpoint.on_tick(t0 + Duration::from_secs(33));
        assert_eq!(endpoint.transactions(), 0);
    }

    #[test]
    fn malformed_datagrams_and_responses_get_no_answer() {
        let mut endpoint = endpoint();
        let source: SocketAddr = "127.0.0.1:5071".parse().unwrap();
        for bytes in [&b"garbage"[..], b"\r\n\r\n", b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"] {
            assert!(endpoint.on_datagram(bytes, source, Instant::now(), SystemTime::now()).is_empty());
        }
    }
}
