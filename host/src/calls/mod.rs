//! The call engine: one tokio task per call, a back-to-back user agent (B2BUA) between the
//! caller's dialog and the dialogs of the devices it rings. It asks the company's modules
//! (permissions) before placing a call, anchors the media in the host, and writes the
//! call's CDR when it ends. It talks to the SIP endpoint only through channels
//! ([`Command`], [`CallEvent`](crate::sip::endpoint::tu::CallEvent)).

mod b2bua;
pub mod dial_plan;
pub mod pickup;
pub(crate) mod presence;
mod record;
mod ringing;
mod targets;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

pub use presence::cluster::LiveHosts;
pub use record::CdrWriter;

use crate::app::App;
use crate::media::relay::MediaRelay;
use crate::shutdown::Draining;
use crate::sip::endpoint::CallSpawner;
use crate::sip::endpoint::tu::Command;

/// How long an extension rings before the call counts as unanswered (SPEC §8's ring
/// timeout; the no-answer destination comes with voicemail).
pub const DEFAULT_RING_TIMEOUT: Duration = Duration::from_secs(30);
/// How long each group of equal-order devices rings before the next group takes over.
pub const DEFAULT_GROUP_RING_TIME: Duration = Duration::from_secs(15);

/// The engine's settings.
#[derive(Debug, Clone)]
pub struct CallSettings {
    /// The SIP address put in Via and Contact of our requests.
    pub sip_address: SocketAddr,
    pub ring_timeout: Duration,
    pub group_ring_time: Duration,
    /// On once the host is stopping (told to the other hosts of a cluster).
    pub draining: Draining,
}

impl CallSettings {
    pub fn new(sip_address: SocketAddr) -> CallSettings {
        CallSettings {
            sip_address,
            ring_timeout: DEFAULT_RING_TIMEOUT,
            group_ring_time: DEFAULT_GROUP_RING_TIME,
            draining: Draining::default(),
        }
    }
}

/// What every call task shares.
pub struct CallEngine {
    app: App,
    media: MediaRelay,
    commands: UnboundedSender<Command>,
    cdrs: CdrWriter,
    settings: CallSettings,
    /// Which extensions are in a call or resting: what queues ring.
    presence: Arc<presence::Presence>,
    /// Which extensions ring now: what `*95`/`*96` take.
    pickups: Arc<pickup::Pickups>,
    /// The cluster's hosts that run now, as the queue state sharing judges them.
    live_hosts: LiveHosts,
    /// Call tasks running on this host (what a draining host waits for).
    running: Arc<AtomicUsize>,
}

/// Counts a call task for as long as it runs.
struct Running(Arc<AtomicUsize>);

impl Running {
    fn start(count: &Arc<AtomicUsize>) -> Running {
        count.fetch_add(1, Ordering::Relaxed);
        Running(count.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl CallEngine {
    pub fn new(
        app: App,
        media: MediaRelay,
        commands: UnboundedSender<Command>,
        cdrs: CdrWriter,
        settings: CallSettings,
    ) -> Arc<Self> {
        let presence = Arc::default();
        // With other hosts on the store, queues see their agents and waiting callers.
        let live_hosts =
            presence::cluster::share(&presence, &app.queue_stats, &app.store, &settings.draining);
        Arc::new(CallEngine {
            app,
            media,
            commands,
            cdrs,
            settings,
            presence,
            pickups: Arc::default(),
            live_hosts,
            running: Arc::default(),
        })
    }

    /// The cluster's hosts that run now (this one alone on a store no other host shares):
    /// the hosts that trunks are shared out between.
    pub fn live_hosts(&self) -> LiveHosts {
        self.live_hosts.clone()
    }

    /// `call`, counted among the calls in progress from now until it ends (or is dropped).
    fn counted<F: std::future::Future>(
        &self,
        call: F,
    ) -> impl std::future::Future<Output = F::Output> + use<F> {
        let running = Running::start(&self.running);
        async move {
            let _running = running;
            call.await
        }
    }

    /// Calls in progress on this host.
    pub fn calls_in_progress(&self) -> usize {
        self.running.load(Ordering::Relaxed)
    }

    /// The endpoint's hook that starts a task for each admitted call. Call with the
    /// runtime the calls should run on current: the SIP loop may run on another.
    pub fn spawner(self: &Arc<Self>) -> CallSpawner {
        let engine = self.clone();
        let runtime = tokio::runtime::Handle::current();
        Box::new(move |new_call| {
            runtime.spawn(engine.counted(b2bua::run(engine.clone(), new_call)));
        })
    }

    /// Take click-to-dial requests from the CTI API and place each call on its own task
    /// (once per host; a second call does nothing).
    pub fn serve_click_to_dial(self: &Arc<Self>) {
        let Some(mut requests) = self.app.events.take_dial_requests() else { return };
        let engine = self.clone();
        tokio::spawn(async move {
            while let Some(request) = requests.recv().await {
                tokio::spawn(engine.counted(b2bua::click_to_dial(engine.clone(), request)));
            }
        });
    }

    fn send(&self, command: Command) {
        // Fails only when the SIP task has stopped (shutdown): nothing is left to tell.
        let _ = self.commands.send(command);
    }
}
