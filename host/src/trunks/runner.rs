//! The task that carries out one trunk's [`Registration`]: it finds the provider's
//! address, hands REGISTERs to the SIP endpoint (which runs their client transactions),
//! feeds the responses back, sleeps until refreshes and retries, publishes the status, and
//! when told to stop removes the binding with a last REGISTER (`Expires: 0`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::sync::oneshot;
use tracing::Instrument;

use super::Settings;
use super::address::{next_hop, resolve};
use super::registration::{Registration, Step};
use super::status::{TrunkKey, TrunkSlot, Trunks};
use crate::sip::dialog::Outgoing;
use crate::sip::endpoint::tu::{CallEvent, Command};
use crate::sip::message::reply;
use crate::store::records::TrunkProvider;

/// Everything one registration task needs.
pub(super) struct Job {
    pub key: TrunkKey,
    pub account: TrunkProvider,
    /// Our SIP address (Via and Contact).
    pub local: SocketAddr,
    pub settings: Settings,
    /// The SIP endpoint's command channel.
    pub commands: UnboundedSender<Command>,
    pub trunks: Arc<Trunks>,
    /// The status entry this task owns (see [`Trunks::claim`]).
    pub generation: u64,
    /// Set before the stop when another host took the trunk over with the same Contact:
    /// the binding is its now, not to be removed.
    pub keep_binding: Arc<AtomicBool>,
}

/// How waiting for something ended.
enum Woken {
    /// The supervisor said stop (or is gone).
    Stop,
    /// An event of our REGISTER's transaction.
    Event(CallEvent),
    /// The sleep ran out.
    Due,
}

struct Runner {
    job: Job,
    registration: Registration,
    events: UnboundedReceiver<CallEvent>,
    events_sender: UnboundedSender<CallEvent>,
}

/// The registration of `account` in `slot` from our SIP address `local`, as `settings`
/// ask (expiry, back-off, the Contact: the front's when set).
pub(super) fn registration(
    account: &TrunkProvider,
    slot: TrunkSlot,
    local: SocketAddr,
    settings: &Settings,
) -> Registration {
    Registration::new(account.clone(), slot, local, settings.expires, settings.backoff)
        .contact_at(settings.contact.unwrap_or(local))
}

/// Run the registration of `job` until `stop` fires (or its sender is dropped).
pub(super) async fn run(job: Job, mut stop: oneshot::Receiver<()>) {
    let (events_sender, events) = unbounded_channel();
    let registration = registration(&job.account, job.key.1, job.local, &job.settings);
    let mut runner = Runner { job, registration, events, events_sender };
    let span = tracing::info_span!(
        "trunk",
        company = %runner.job.key.0,
        trunk = ?runner.job.key.1,
        domain = %runner.job.account.domain,
        call_id = %runner.registration.call_id()
    );
    async move {
        runner.register_until_stopped(&mut stop).await;
        if runner.job.keep_binding.load(Ordering::Relaxed) {
            tracing::info!("another host keeps the trunk's registration");
        } else {
            runner.unregister().await;
        }
        let call_id = runner.registration.call_id().to_string();
        // The endpoint routes nothing more to us.
        let _ = runner.job.commands.send(Command::Finished { call_ids: vec![call_id] });
    }
    .instrument(span)
    .await
}

impl Runner {
    async fn register_until_stopped(&mut self, stop: &mut oneshot::Receiver<()>) {
        loop {
            let host = next_hop(&self.job.account).to_string();
            let resolved = tokio::select! {
                _ = &mut *stop => return,
                resolved = resolve(&host) => resolved,
            };
            let dest = match resolved {
                Ok(dest) => dest,
                Err(error) => {
                    let retry = self.registration.unreachable(error.to_string(), Instant::now());
                    self.publish();
                    if !self.sleep(stop, Some(retry)).await {
                        return;
                    }
                    continue;
                }
            };
            let request = self.registration.register(dest, Instant::now());
            if !self.send(request) {
                return;
            }
            // One attempt: answer challenges until it ends in a sleep (refresh or retry)
            // or a stop (refused credentials).
            loop {
                self.publish();
                let step = match self.wait(stop, None).await {
                    Woken::Stop => return,
                    Woken::Due => continue,
                    Woken::Event(event) => self.on_event(event),
                };
                match step {
                    Step::Send(request) => {
                        if !self.send(request) {
                            return;
                        }
                    }
                    Step::Wait => {}
                    Step::Sleep(until) => {
                        self.publish();
                        if !self.sleep(stop, Some(until)).await {
                            return;
                        }
                        break;
                    }
                    Step::Stop => {
                        self.publish();
                        // Refused: nothing to do until the account changes (a new task).
                        self.sleep(stop, None).await;
                        return;
                    }
                }
            }
        }
    }

    /// Remove our binding (when one may exist), answering a challenge, for at most the
    /// configured while: the trunk is going away and nobody waits for the answer.
    async fn unregister(&mut self) {
        let Some(request) = self.registration.unregister(Instant::now()) else { return };
        tracing::info!("removing the trunk's registration (Expires: 0)");
        if !self.send(request) {
            return;
        }
        let deadline = tokio::time::Instant::now() + self.job.settings.unregister_wait;
        loop {
            let event = match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(event)) => event,
                _ => return,
            };
            match self.on_event(event) {
                Step::Send(request) => {
                    if !self.send(request) {
                        return;
                    }
                }
                Step::Wait => {}
                Step::Sleep(_) | Step::Stop => return,
            }
        }
    }

    fn on_event(&mut self, event: CallEvent) -> Step {
        let now = Instant::now();
        match event {
            CallEvent::Response { response, .. } => self.registration.on_response(&response, now),
            CallEvent::Timeout { leg } => self.registration.on_timeout(leg, now),
            // Nobody has a dialog with a registration: refuse what the endpoint routed
            // here by our Call-ID, so its server transaction does not linger.
            CallEvent::Request { tx: Some(tx), request, source } => {
                let bytes = reply(&request, source, 481, Vec::new()).to_string().into_bytes();
                let _ = self.job.commands.send(Command::Respond { tx, status: 481, bytes });
                Step::Wait
            }
            CallEvent::Request { tx: None, .. } | CallEvent::Cancelled => Step::Wait,
        }
    }

    /// Hand `request` to the endpoint; false when the endpoint is gone (shutting down).
    fn send(&self, request: Outgoing) -> bool {
        let command = Command::Send {
            call_id: self.registration.call_id().to_string(),
            // Responses and timeouts come back tagged with the request's CSeq number.
            leg: request.cseq,
            request,
            events: self.events_sender.clone(),
        };
        self.job.commands.send(command).is_ok()
    }

    /// Sleep until `until` (none: until stopped); false when told to stop. Stray events
    /// (a late retransmission, a request routed here) are dealt with meanwhile.
    async fn sleep(&mut self, stop: &mut oneshot::Receiver<()>, until: Option<Instant>) -> bool {
        loop {
            match self.wait(stop, until).await {
                Woken::Stop => return false,
                Woken::Due => return true,
                Woken::Event(event) => {
                    // Nothing is in flight while sleeping: the registration ignores it.
                    if let Step::Send(request) = self.on_event(event) {
                        self.send(request);
                    }
                }
            }
        }
    }

    /// Wait for a stop, an event, or `until`.
    async fn wait(&mut self, stop: &mut oneshot::Receiver<()>, until: Option<Instant>) -> Woken {
        let sleep = async {
            match until {
                Some(until) => tokio::time::sleep_until(until.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stop => Woken::Stop,
            event = self.events.recv() => match event {
                Some(event) => Woken::Event(event),
                // Unreachable while we hold a sender; treated as a stop all the same.
                None => Woken::Stop,
            },
            _ = sleep => Woken::Due,
        }
    }

    fn publish(&self) {
        let status = self.registration.status(Instant::now(), chrono::Utc::now());
        self.job.trunks.publish(&self.job.key, self.job.generation, status);
    }
}
