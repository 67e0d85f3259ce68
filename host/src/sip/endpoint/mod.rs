//! What the host does with each SIP message, whatever the transport: match it to a
//! transaction (RFC 3261 §17.1.3, §17.2.3), absorb retransmissions, answer REGISTER and
//! OPTIONS, admit new calls (digest authentication) and hand everything inside a call to
//! the call's task, and drive every transaction's timers. Sans-IO: datagrams, commands and
//! instants in, datagrams out.

mod ack;
pub mod timer_queue;
pub mod tu;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use rsip::prelude::*;
use rsip::{Method, Request, Response, SipMessage};

use crate::shutdown::{Draining, RETRY_AFTER_S, SHUTTING_DOWN};
use crate::sip::dialog::param;
use crate::sip::message::reply;
use crate::sip::registrar::service::{Admission, Outcome, Registrar};
use crate::sip::transaction::{
    Action, ClientInvite, ClientNonInvite, ServerInvite, ServerNonInvite, Timer, TimerConfig,
};
use crate::sip::transport::Transport;
use crate::sip::wire::{self, Received};
use timer_queue::{TimerQueue, TxKind};
use tu::{CallEvent, CallEvents, Caller, Command, LegId, NewCall, ServerTx};

/// Where a message came from or goes to: an address and the transport that reaches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    pub addr: SocketAddr,
    pub transport: Transport,
}

impl Peer {
    pub fn udp(addr: SocketAddr) -> Peer {
        Peer { addr, transport: Transport::Udp }
    }
}

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub bytes: Vec<u8>,
    pub to: Peer,
}

impl Packet {
    fn new(bytes: Vec<u8>, to: Peer) -> Packet {
        Packet { bytes, to }
    }
}

/// Most transactions of each kind held at once; beyond it new requests get 503 (a flood
/// must not grow memory without bound). A completed non-INVITE transaction over UDP stays
/// 32 s (Timer J, 64·T1) to absorb retransmissions, so a steady 10,000 REGISTERs/s (two
/// transactions each, the challenge and the authenticated one) holds 640,000. Measured
/// (bench/register.sh): 612 MB peak with 240,000 held, about 2 KB each with the table, so
/// the cap bounds a flood near 2 GB.
pub const MAX_TRANSACTIONS: usize = 1_000_000;

/// How often lapsed registrations and nonces are dropped.
const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(30);
/// How often the Call-IDs of ended calls (their tasks gone) are removed: often enough that
/// a host at 1,600 calls/s keeps a few thousand, not the 100,000 of [`PURGE_EVERY`].
const FORGET_ENDED_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Starts the task of a new call.
pub type CallSpawner = Box<dyn FnMut(NewCall) + Send>;

/// A failed authentication, reported to whoever counts them (the ban list).
pub type AuthFailureHook = Box<dyn FnMut(SocketAddr, &Outcome) + Send>;

/// One transaction: its machine, running timers, peer and, for client transactions, the
/// call and leg its responses belong to.
struct Tx<M> {
    machine: M,
    timers: Vec<(Timer, Instant)>,
    peer: Peer,
    owner: Option<(CallEvents, LegId)>,
    /// Server INVITE: the Call-ID, to tell the call about a CANCEL.
    call_id: Option<String>,
    /// INVITE transactions: the request (a client's as sent, to build the ACK of a non-2xx
    /// response; a server's as received, to answer it if its call vanishes).
    invite: Option<Vec<u8>>,
}

impl<M> Tx<M> {
    fn new(machine: M, peer: Peer) -> Tx<M> {
        Tx { machine, timers: Vec::new(), peer, owner: None, call_id: None, invite: None }
    }
}

/// What carrying out a machine's actions left for the endpoint to do.
#[derive(Default)]
struct Applied {
    terminated: bool,
    passed_up: bool,
    timed_out: bool,
}

/// The host's SIP endpoint.
///
/// The tables are B-trees, not hash maps: at 1,200 calls/s they hold tens of thousands of
/// transactions (a completed one stays 32 s), and a hash map that grows, or rehashes in
/// place after many removals, moves them all at once: 2–6 ms of CPU inside one message's
/// handling, with every call in flight waiting behind it (seen on the SIP thread during
/// bench/pdd.sh). A B-tree pays a few string comparisons per lookup instead, and never
/// stalls.
pub struct Endpoint {
    registrar: Arc<Registrar>,
    timers: TimerConfig,
    queue: TimerQueue,
    server_invites: BTreeMap<String, Tx<ServerInvite<Vec<u8>>>>,
    server_others: BTreeMap<String, Tx<ServerNonInvite<Vec<u8>>>>,
    client_invites: BTreeMap<String, Tx<ClientInvite<Vec<u8>>>>,
    client_others: BTreeMap<String, Tx<ClientNonInvite<Vec<u8>>>>,
    /// Calls by the Call-ID of each of their legs. A call whose task has ended (its events
    /// channel closed) is over: [`Endpoint::live_call`] skips it, and it is removed within
    /// [`FORGET_ENDED_EVERY`], so a call ending costs its task no message to this thread.
    calls: BTreeMap<String, CallEvents>,
    spawner: Option<CallSpawner>,
    on_auth_failure: Option<AuthFailureHook>,
    /// On once the host is stopping: nothing new is taken (see [`shutting_down`]).
    draining: Draining,
    last_purge: Option<Instant>,
    last_forget: Option<Instant>,
}

/// The answer of a host that is stopping to a request that would start something new:
/// 503 with the reason phrase the front fails over on ([`SHUTTING_DOWN`]), and when to
/// try this host again (RFC 3261 §21.5.4).
fn shutting_down(request: &Request, source: SocketAddr) -> Response {
    let retry = rsip::Header::RetryAfter(RETRY_AFTER_S.to_string().into());
    let mut response = reply(request, source, 503, vec![retry]);
    response.status_code = rsip::StatusCode::Other(503, SHUTTING_DOWN.to_string());
    response
}

/// The top Via's branch and sent-by: with the method, the server transaction key
/// (§17.2.3). A branch without the RFC 3261 cookie is still used; old clients are rare.
fn via_key(headers: &rsip::Headers) -> Option<(String, String)> {
    let via = headers.iter().find_map(|h| match h {
        rsip::Header::Via(via) => Some(via.value().to_string()),
        _ => None,
    })?;
    // A comma-joined Via line: the first value is the top Via.
    let top = via.split(',').next()?.trim();
    let mut parts = top.split(';');
    let sent_by = parts.next()?.split_whitespace().last()?.to_ascii_lowercase();
    let branch = parts.find_map(|p| {
        let (name, value) = p.split_once('=')?;
        name.trim().eq_ignore_ascii_case("branch").then(|| value.trim().to_string())
    })?;
    Some((branch, sent_by))
}

fn cseq_method(headers: &rsip::Headers) -> Option<String> {
    headers.iter().find_map(|h| match h {
        rsip::Header::CSeq(cseq) => cseq.value().split_whitespace().nth(1).map(str::to_ascii_uppercase),
        _ => None,
    })
}

/// A server INVITE keeps its request only to answer it if its call vanishes; once a final
/// response is out, the copy goes (completed transactions linger 32 s, thousands at once).
fn forget_answered_invite(tx: &mut Tx<ServerInvite<Vec<u8>>>) {
    if tx.machine.state() != crate::sip::transaction::ServerInviteState::Proceeding {
        tx.invite = None;
    }
}

fn has_to_tag(request: &Request) -> bool {
    request.to_header().is_ok_and(|to| param(to.value(), "tag").is_some())
}

fn call_id(headers: &rsip::Headers) -> Option<String> {
    headers.iter().find_map(|h| match h {
        rsip::Header::CallId(id) => Some(id.value().to_string()),
        _ => None,
    })
}

impl Endpoint {
    pub fn new(registrar: Arc<Registrar>) -> Endpoint {
        Endpoint {
            registrar,
            timers: TimerConfig::default(),
            queue: TimerQueue::default(),
            server_invites: BTreeMap::new(),
            server_others: BTreeMap::new(),
            client_invites: BTreeMap::new(),
            client_others: BTreeMap::new(),
            calls: BTreeMap::new(),
            spawner: None,
            on_auth_failure: None,
            draining: Draining::default(),
            last_purge: None,
            last_forget: None,
        }
    }

    /// Start calls with `spawner`; without one, INVITEs are refused with 503.
    pub fn with_calls(mut self, spawner: CallSpawner) -> Endpoint {
        self.spawner = Some(spawner);
        self
    }

    /// Report every failed authentication (REGISTER or INVITE) to `hook`.
    pub fn with_auth_failure_hook(mut self, hook: AuthFailureHook) -> Endpoint {
        self.on_auth_failure = Some(hook);
        self
    }

    /// Take nothing new once `draining` is on: requests that would start a call or a
    /// registration get [`shutting_down`]; those inside a call go on.
    pub fn with_draining(mut self, draining: Draining) -> Endpoint {
        self.draining = draining;
        self
    }

    /// Live transactions (for tests and metrics).
    pub fn transactions(&self) -> usize {
        self.server_invites.len()
            + self.server_others.len()
            + self.client_invites.len()
            + self.client_others.len()
    }

    /// The live call with a leg of Call-ID `id`.
    fn live_call(&self, id: &str) -> Option<&CallEvents> {
        self.calls.get(id).filter(|events| !events.is_closed())
    }

    /// When the SIP thread must next fire timers (see [`timer_queue`]); the stale entries
    /// before it (timers cancelled or restarted, transactions ended) are dropped, so they
    /// wake nobody.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        let Endpoint { server_invites, server_others, client_invites, client_others, .. } = self;
        self.queue.next_wake(|due| {
            let timers = match due.kind {
                TxKind::ServerInvite => server_invites.get(&due.key).map(|tx| &tx.timers),
                TxKind::ServerNonInvite => server_others.get(&due.key).map(|tx| &tx.timers),
                TxKind::ClientInvite => client_invites.get(&due.key).map(|tx| &tx.timers),
                TxKind::ClientNonInvite => client_others.get(&due.key).map(|tx| &tx.timers),
            };
            timers.is_some_and(|timers| timers.contains(&(due.timer, due.due)))
        })
    }

    /// Carry out `actions` of the transaction `key` of `kind`.
    fn apply<M>(
        queue: &mut TimerQueue,
        kind: TxKind,
        key: &str,
        tx: &mut Tx<M>,
        actions: Vec<Action<Vec<u8>>>,
        now: Instant,
        out: &mut Vec<Packet>,
    ) -> Applied {
        let mut applied = Applied::default();
        for action in actions {
            match action {
                Action::Transmit(bytes) => out.push(Packet::new(bytes, tx.peer)),
                Action::StartTimer(timer, after) => {
                    let due = now + after;
                    tx.timers.retain(|(t, _)| *t != timer);
                    tx.timers.push((timer, due));
                    queue.push(due, kind, key, timer);
                }
                Action::CancelTimer(timer) => tx.timers.retain(|(t, _)| *t != timer),
                Action::Terminated => applied.terminated = true,
                Action::PassUp(_) => applied.passed_up = true,
                Action::Timeout | Action::TransportError => applied.timed_out = true,
                Action::TransmitAck(response) => {
                    if let Some(ack) =
                        tx.invite.as_deref().and_then(|invite| ack::non_2xx_ack(invite, &response))
                    {
                        out.push(Packet::new(ack, tx.peer));
                    }
                }
            }
        }
        applied
    }

    /// Handle one datagram from `source`; returns what to send.
    pub fn on_datagram(
        &mut self,
        bytes: &[u8],
        source: SocketAddr,
        now: Instant,
        wall: SystemTime,
    ) -> Vec<Packet> {
        let message = match wire::parse_datagram(bytes) {
            Ok(Received::Message(message)) => *message,
            Ok(Received::KeepAlive) => return Vec::new(),
            Err(error) => {
                tracing::warn!(%source, %error, "dropped a malformed SIP datagram");
                return Vec::new();
            }
        };
        self.on_message(message, bytes, Peer::udp(source), now, wall)
    }

    /// Handle one message framed from a stream (TCP) by `from`; returns what to send.
    pub fn on_stream_message(
        &mut self,
        message: SipMessage,
        from: Peer,
        now: Instant,
        wall: SystemTime,
    ) -> Vec<Packet> {
        let bytes = message.to_string().into_bytes();
        self.on_message(message, &bytes, from, now, wall)
    }

    fn on_message(
        &mut self,
        message: SipMessage,
        bytes: &[u8],
        from: Peer,
        now: Instant,
        wall: SystemTime,
    ) -> Vec<Packet> {
        let mut out = Vec::new();
        match message {
            SipMessage::Request(request) => self.on_request(request, bytes, from, now, wall, &mut out),
            SipMessage::Response(response) => self.on_response(response, bytes, now, &mut out),
        }
        out
    }

    fn on_request(
        &mut self,
        request: Request,
        bytes: &[u8],
        from: Peer,
        now: Instant,
        wall: SystemTime,
        out: &mut Vec<Packet>,
    ) {
        let source = from.addr;
        let Some((branch, sent_by)) = via_key(&request.headers) else {
            out.push(Packet::new(reply(&request, source, 400, Vec::new()).to_string().into_bytes(), from));
            return;
        };
        let invite_key = format!("{branch}|{sent_by}");
        match request.method {
            Method::Invite => self.on_invite(request, bytes, invite_key, from, now, wall, out),
            Method::Ack => {
                if let Some(tx) = self.server_invites.get_mut(&invite_key) {
                    // The ACK of our non-2xx final response (§17.2.1).
                    let actions = tx.machine.on_ack(bytes.to_vec());
                    let applied = Self::apply(
                        &mut self.queue,
                        TxKind::ServerInvite,
                        &invite_key,
                        tx,
                        actions,
                        now,
                        out,
                    );
                    if applied.terminated {
                        self.server_invites.remove(&invite_key);
                    }
                    if !applied.passed_up {
                        return;
                    }
                }
                // The ACK of a 2xx belongs to the call (§13.3.1.4); an unknown one is dropped.
                if let Some(events) = call_id(&request.headers).and_then(|id| self.live_call(&id)) {
                    let _ = events.send(CallEvent::Request { tx: None, request: Box::new(request), source });
                }
            }
            _ => {
                let key = format!("{invite_key}|{}", request.method);
                self.on_non_invite(request, bytes, key, invite_key, from, now, wall, out)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_invite(
        &mut self,
        request: Request,
        bytes: &[u8],
        key: String,
        from: Peer,
        now: Instant,
        wall: SystemTime,
        out: &mut Vec<Packet>,
    ) {
        let source = from.addr;
        if absorb_retransmission(
            &mut self.server_invites,
            &mut self.queue,
            TxKind::ServerInvite,
            &key,
            now,
            out,
        ) {
            return;
        }
        if self.server_invites.len() >= MAX_TRANSACTIONS {
            out.push(Packet::new(reply(&request, source, 503, Vec::new()).to_string().into_bytes(), from));
            return;
        }
        let (machine, _) = ServerInvite::new(bytes.to_vec(), from.transport.reliability(), self.timers);
        let mut tx = Tx::new(machine, from);
        let id = call_id(&request.headers).unwrap_or_default();
        tx.call_id = Some(id.clone());
        tx.invite = Some(bytes.to_vec());

        if has_to_tag(&request) {
            // A re-INVITE (§14): the call answers it.
            match self.live_call(&id) {
                Some(events) => {
                    let _ = events.send(CallEvent::Request {
                        tx: Some(ServerTx(key.clone())),
                        request: Box::new(request),
                        source,
                    });
                    self.server_invites.insert(key, tx);
                }
                None => {
                    if !self.respond_invite(&key, &mut tx, reply(&request, source, 481, Vec::new()), now, out)
                    {
                        self.server_invites.insert(key, tx);
                    }
                }
            }
            return;
        }

        let admitted = match (self.spawner.is_some(), self.live_call(&id).is_some()) {
            _ if self.draining.is_on() => Err(shutting_down(&request, source)),
            // §16.3: no hops left (a loop between hosts, or a misconfigured trunk).
            _ if crate::sip::dialog::max_forwards(&request) == Some(0) => {
                Err(reply(&request, source, 483, Vec::new()))
            }
            (false, _) => Err(reply(&request, source, 503, Vec::new())),
            // A second initial INVITE with a live call's Call-ID (§8.2.2.2 loop/merge).
            (true, true) => Err(reply(&request, source, 482, Vec::new())),
            (true, false) => match self.registrar.admit_invite(&request, source, wall) {
                Admission::Extension { company, user } => {
                    Ok(Caller::Extension { company: company.id, extension: user.extension })
                }
                Admission::Trunk { company, did } => {
                    Ok(Caller::Trunk { company: company.id, did: did.number })
                }
                Admission::Refused(response, outcome) => {
                    self.report(&Method::Invite, source, &outcome);
                    Err(response)
                }
            },
        };
        let caller = match admitted {
            Ok(caller) => caller,
            Err(response) => {
                if !self.respond_invite(&key, &mut tx, response, now, out) {
                    self.server_invites.insert(key, tx);
                }
                return;
            }
        };
        tracing::debug!(?caller, %source, "call admitted");
        let (events_sender, events) = tokio::sync::mpsc::unbounded_channel();
        self.calls.insert(id, events_sender.clone());
        // The call's 100 Trying goes out before anything else (§17.2.1).
        let trying = reply(&request, source, 100, Vec::new());
        if self.respond_invite(&key, &mut tx, trying, now, out) {
            return;
        }
        self.server_invites.insert(key.clone(), tx);
        let new_call =
            NewCall { request: Box::new(request), source, tx: ServerTx(key), caller, events, events_sender };
        // Checked above: calls are only admitted when a spawner is set.
        if let Some(spawner) = self.spawner.as_mut() {
            spawner(new_call);
        }
    }

    /// Send `response` on a new server INVITE transaction; true when that ended it.
    fn respond_invite(
        &mut self,
        key: &str,
        tx: &mut Tx<ServerInvite<Vec<u8>>>,
        response: Response,
        now: Instant,
        out: &mut Vec<Packet>,
    ) -> bool {
        let status = u16::from(response.status_code.clone());
        let actions = tx.machine.send_response(status, response.to_string().into_bytes());
        forget_answered_invite(tx);
        Self::apply(&mut self.queue, TxKind::ServerInvite, key, tx, actions, now, out).terminated
    }

    /// Log a failed authentication of a `method` request and tell the ban list.
    fn report(&mut self, method: &Method, source: SocketAddr, outcome: &Outcome) {
        if let Outcome::AuthenticationFailed { company, extension } = outcome {
            tracing::warn!(company, extension, %source, "{method} authentication failed");
            if let Some(hook) = self.on_auth_failure.as_mut() {
                hook(source, outcome);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_non_invite(
        &mut self,
        request: Request,
        bytes: &[u8],
        key: String,
        invite_key: String,
        from: Peer,
        now: Instant,
        wall: SystemTime,
        out: &mut Vec<Packet>,
    ) {
        let source = from.addr;
        if absorb_retransmission(
            &mut self.server_others,
            &mut self.queue,
            TxKind::ServerNonInvite,
            &key,
            now,
            out,
        ) {
            return;
        }
        if self.server_others.len() >= MAX_TRANSACTIONS {
            out.push(Packet::new(reply(&request, source, 503, Vec::new()).to_string().into_bytes(), from));
            return;
        }
        let (machine, _) = ServerNonInvite::new(bytes.to_vec(), from.transport.reliability(), self.timers);
        let mut tx = Tx::new(machine, from);
        let id = call_id(&request.headers).unwrap_or_default();

        let response = match request.method {
            // Nothing new once the host is stopping; a CANCEL (of a call already taken) and
            // requests inside a dialog go on.
            _ if self.draining.is_on() && request.method != Method::Cancel && !has_to_tag(&request) => {
                Some(shutting_down(&request, source))
            }
            Method::Register => {
                let (response, outcome) = self.registrar.handle(&request, source, wall);
                match &outcome {
                    Outcome::Registered { company, extension, bindings } => {
                        tracing::info!(company, extension, bindings, %source, "registered")
                    }
                    Outcome::AuthenticationFailed { .. } => self.report(&Method::Register, source, &outcome),
                    Outcome::Challenged | Outcome::Refused(_) => {
                        tracing::debug!(?outcome, %source, "REGISTER answered")
                    }
                }
                Some(response)
            }
            Method::Cancel => {
                // §9.2: the CANCEL matches the INVITE transaction with the same key.
                let cancelled = self.server_invites.get(&invite_key).and_then(|invite| {
                    let id = invite.call_id.as_ref()?;
                    self.live_call(id)?.send(CallEvent::Cancelled).ok()
                });
                Some(reply(&request, source, if cancelled.is_some() { 200 } else { 481 }, Vec::new()))
            }
            Method::Options if !has_to_tag(&request) => Some(reply(
                &request,
                source,
                200,
                vec![rsip::Header::Allow(
                    "INVITE, ACK, CANCEL, BYE, REGISTER, OPTIONS, INFO".to_string().into(),
                )],
            )),
            _ if has_to_tag(&request) => match self.live_call(&id) {
                Some(events) => {
                    let _ = events.send(CallEvent::Request {
                        tx: Some(ServerTx(key.clone())),
                        request: Box::new(request.clone()),
                        source,
                    });
                    None
                }
                None => Some(reply(&request, source, 481, Vec::new())),
            },
            _ => Some(reply(&request, source, 501, Vec::new())),
        };
        match response {
            Some(response) => {
                let status = u16::from(response.status_code.clone());
                let actions = tx.machine.send_response(status, response.to_string().into_bytes());
                let applied =
                    Self::apply(&mut self.queue, TxKind::ServerNonInvite, &key, &mut tx, actions, now, out);
                if !applied.terminated {
                    self.server_others.insert(key, tx);
                }
            }
            // The call answers it later (Command::Respond).
            None => {
                self.server_others.insert(key, tx);
            }
        }
    }

    fn on_response(&mut self, response: Response, bytes: &[u8], now: Instant, out: &mut Vec<Packet>) {
        let Some((branch, _)) = via_key(&response.headers) else {
            return;
        };
        let status = u16::from(response.status_code.clone());
        let is_invite = cseq_method(&response.headers).as_deref() == Some("INVITE");
        let (applied, owner) = if is_invite {
            let Some(tx) = self.client_invites.get_mut(&branch) else {
                return;
            };
            let actions = tx.machine.on_response(status, bytes.to_vec());
            let applied = Self::apply(&mut self.queue, TxKind::ClientInvite, &branch, tx, actions, now, out);
            if (200..300).contains(&status) {
                // The ACK of a 2xx is the TU's: the copy kept for non-2xx ACKs can go.
                tx.invite = None;
            }
            if applied.terminated {
                (applied, self.client_invites.remove(&branch).and_then(|tx| tx.owner))
            } else {
                (applied, tx.owner.clone())
            }
        } else {
            let Some(tx) = self.client_others.get_mut(&branch) else {
                return;
            };
            let actions = tx.machine.on_response(status, bytes.to_vec());
            let applied =
                Self::apply(&mut self.queue, TxKind::ClientNonInvite, &branch, tx, actions, now, out);
            if applied.terminated {
                (applied, self.client_others.remove(&branch).and_then(|tx| tx.owner))
            } else {
                (applied, tx.owner.clone())
            }
        };
        // A 100 Trying only tells the transaction to stop retransmitting (§17.1.1.2): no
        // call acts on it, so it wakes none (a stateful proxy in front sends one per call).
        if applied.passed_up
            && status != 100
            && let Some((events, leg)) = owner
        {
            let _ = events.send(CallEvent::Response { leg, response: Box::new(response) });
        }
    }

    /// Carry out a call's command; returns what to send.
    pub fn on_command(&mut self, command: Command, now: Instant) -> Vec<Packet> {
        let mut out = Vec::new();
        match command {
            Command::Respond { tx, status, bytes } => {
                let key = tx.0;
                if let Some(tx) = self.server_invites.get_mut(&key) {
                    let actions = tx.machine.send_response(status, bytes);
                    forget_answered_invite(tx);
                    if Self::apply(&mut self.queue, TxKind::ServerInvite, &key, tx, actions, now, &mut out)
                        .terminated
                    {
                        self.server_invites.remove(&key);
                    }
                } else if let Some(tx) = self.server_others.get_mut(&key) {
                    let actions = tx.machine.send_response(status, bytes);
                    let applied = Self::apply(
                        &mut self.queue,
                        TxKind::ServerNonInvite,
                        &key,
                        tx,
                        actions,
                        now,
                        &mut out,
                    );
                    if applied.terminated {
                        self.server_others.remove(&key);
                    }
                }
            }
            Command::Send { request, call_id, leg, events } => {
                // A Call-ID reused after its call ended (a trunk's REGISTER) is the new task's.
                if self.live_call(&call_id).is_none() {
                    self.calls.insert(call_id, events.clone());
                }
                let owner = Some((events, leg));
                match request.method {
                    Method::Ack => {
                        let to = request.peer();
                        out.push(Packet::new(request.bytes, to));
                    }
                    Method::Invite => {
                        let (machine, actions) = ClientInvite::start(
                            request.bytes.clone(),
                            request.transport.reliability(),
                            self.timers,
                        );
                        let mut tx = Tx::new(machine, request.peer());
                        tx.owner = owner;
                        tx.invite = Some(request.bytes);
                        let key = request.branch;
                        let applied = Self::apply(
                            &mut self.queue,
                            TxKind::ClientInvite,
                            &key,
                            &mut tx,
                            actions,
                            now,
                            &mut out,
                        );
                        if !applied.terminated {
                            self.client_invites.insert(key, tx);
                        }
                    }
                    _ => {
                        let to = request.peer();
                        let (machine, actions) = ClientNonInvite::start(
                            request.bytes,
                            request.transport.reliability(),
                            self.timers,
                        );
                        let mut tx = Tx::new(machine, to);
                        tx.owner = owner;
                        let key = request.branch;
                        let applied = Self::apply(
                            &mut self.queue,
                            TxKind::ClientNonInvite,
                            &key,
                            &mut tx,
                            actions,
                            now,
                            &mut out,
                        );
                        if !applied.terminated {
                            self.client_others.insert(key, tx);
                        }
                    }
                }
            }
            Command::Finished { call_ids } => {
                for id in call_ids {
                    self.calls.remove(&id);
                }
            }
        }
        out
    }

    /// A safety net for a call task that ended without saying so (a bug, a panic): forget
    /// its Call-IDs and answer its unanswered INVITE with 500, so neither lingers.
    fn sweep_orphans(&mut self, now: Instant, out: &mut Vec<Packet>) {
        let orphans: Vec<String> = self
            .server_invites
            .iter()
            .filter(|(_, tx)| {
                tx.machine.state() == crate::sip::transaction::ServerInviteState::Proceeding
                    && tx.call_id.as_ref().is_some_and(|id| self.live_call(id).is_none())
            })
            .map(|(key, _)| key.clone())
            .collect();
        for key in orphans {
            let Some(mut tx) = self.server_invites.remove(&key) else { continue };
            let parsed = tx.invite.as_deref().map(wire::parse_datagram);
            let Some(Ok(Received::Message(message))) = parsed else { continue };
            let SipMessage::Request(request) = *message else { continue };
            tracing::error!(call_id = ?tx.call_id, "a call ended without answering its INVITE; answering 500");
            let response = reply(&request, tx.peer.addr, 500, Vec::new());
            if !self.respond_invite(&key, &mut tx, response, now, out) {
                self.server_invites.insert(key, tx);
            }
        }
    }

    /// Fire the timers due at `now`; returns what to send.
    pub fn on_tick(&mut self, now: Instant) -> Vec<Packet> {
        let mut out = Vec::new();
        if self.last_forget.is_none_or(|last| now.duration_since(last) >= FORGET_ENDED_EVERY) {
            self.last_forget = Some(now);
            self.calls.retain(|_, events| !events.is_closed());
        }
        if self.last_purge.is_none_or(|last| now.duration_since(last) >= PURGE_EVERY) {
            self.last_purge = Some(now);
            self.registrar.purge(SystemTime::now());
            self.sweep_orphans(now, &mut out);
        }
        while let Some(due) = self.queue.pop_due(now) {
            let queue = &mut self.queue;
            match due.kind {
                TxKind::ServerInvite => fire(&mut self.server_invites, queue, &due, now, &mut out),
                TxKind::ServerNonInvite => fire(&mut self.server_others, queue, &due, now, &mut out),
                TxKind::ClientInvite => fire(&mut self.client_invites, queue, &due, now, &mut out),
                TxKind::ClientNonInvite => fire(&mut self.client_others, queue, &due, now, &mut out),
            }
        }
        out
    }
}

/// What the endpoint asks of every transaction machine, whatever its kind.
trait Machine {
    fn on_timer(&mut self, timer: Timer) -> Vec<Action<Vec<u8>>>;
}

/// What it also asks of server machines.
trait ServerMachine: Machine {
    fn on_retransmitted_request(&mut self) -> Vec<Action<Vec<u8>>>;
}

macro_rules! machine {
    ($machine:ty) => {
        impl Machine for $machine {
            fn on_timer(&mut self, timer: Timer) -> Vec<Action<Vec<u8>>> {
                <$machine>::on_timer(self, timer)
            }
        }
    };
}
machine!(ServerInvite<Vec<u8>>);
machine!(ServerNonInvite<Vec<u8>>);
machine!(ClientInvite<Vec<u8>>);
machine!(ClientNonInvite<Vec<u8>>);

impl ServerMachine for ServerInvite<Vec<u8>> {
    fn on_retransmitted_request(&mut self) -> Vec<Action<Vec<u8>>> {
        ServerInvite::on_retransmitted_request(self)
    }
}

impl ServerMachine for ServerNonInvite<Vec<u8>> {
    fn on_retransmitted_request(&mut self) -> Vec<Action<Vec<u8>>> {
        ServerNonInvite::on_retransmitted_request(self)
    }
}

/// Fire `due` on the transaction of `table` it names, unless that timer was stopped or
/// restarted since (a stale heap entry); forget a transaction that ends, and tell a client
/// transaction's call when it timed out.
fn fire<M: Machine>(
    table: &mut BTreeMap<String, Tx<M>>,
    queue: &mut TimerQueue,
    due: &timer_queue::Due,
    now: Instant,
    out: &mut Vec<Packet>,
) {
    let key = due.key.as_str();
    let Some(tx) = table.get_mut(key).filter(|tx| tx.timers.contains(&(due.timer, due.due))) else {
        return;
    };
    tx.timers.retain(|(t, _)| *t != due.timer);
    let actions = tx.machine.on_timer(due.timer);
    let applied = Endpoint::apply(queue, due.kind, key, tx, actions, now, out);
    let owner = if applied.timed_out { tx.owner.clone() } else { None };
    if applied.terminated {
        table.remove(key);
    }
    if let Some((events, leg)) = owner {
        let _ = events.send(CallEvent::Timeout { leg });
    }
}

/// A request matching the server transaction `key` of `table` is a retransmission (§17.2.3):
/// the transaction answers it. False when no transaction matches.
fn absorb_retransmission<M: ServerMachine>(
    table: &mut BTreeMap<String, Tx<M>>,
    queue: &mut TimerQueue,
    kind: TxKind,
    key: &str,
    now: Instant,
    out: &mut Vec<Packet>,
) -> bool {
    let Some(tx) = table.get_mut(key) else {
        return false;
    };
    let actions = tx.machine.on_retransmitted_request();
    if Endpoint::apply(queue, kind, key, tx, actions, now, out).terminated {
        table.remove(key);
    }
    true
}

#[cfg(test)]
mod tests;
