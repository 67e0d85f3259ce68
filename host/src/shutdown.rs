//! Graceful shutdown: the server stops accepting on SIGINT or SIGTERM and finishes the
//! requests in flight; every acknowledged write is already durable in the store. SIP
//! drains: from the signal on, requests that would start something new (a call, a
//! registration, the front's keep-alive OPTIONS) are answered 503 "Shutting Down", which
//! a cluster's front takes as "try another host", while the calls in progress go on, up
//! to the drain timeout or a second signal.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::calls::CallEngine;

/// The reason phrase of the 503 a draining host answers with; the front
/// (deploy/kamailio/kamailio.cfg) fails such a request over to another host.
pub const SHUTTING_DOWN: &str = "Shutting Down";

/// Seconds a draining host asks a client to wait before it tries it again (Retry-After).
pub const RETRY_AFTER_S: u32 = 30;

/// How often a draining host looks whether its calls have ended.
const DRAIN_POLL: Duration = Duration::from_millis(100);

/// After the last call ended, SIP stays up this long: the calls' last requests (a BYE)
/// get their answers, or are retransmitted once (RFC 3261 T1 is 500 ms).
pub const LAST_ANSWERS: Duration = Duration::from_secs(1);

/// Whether the host is on its way out. Cheap to clone; every clone sees the others' calls.
#[derive(Clone, Debug, Default)]
pub struct Draining(Arc<DrainState>);

#[derive(Debug, Default)]
struct DrainState {
    on: AtomicBool,
    hurried: AtomicBool,
}

impl Draining {
    /// From now on, take nothing new.
    pub fn start(&self) {
        self.0.on.store(true, Ordering::Relaxed);
    }

    pub fn is_on(&self) -> bool {
        self.0.on.load(Ordering::Relaxed)
    }

    /// Stop waiting for the calls in progress (asked to stop a second time).
    pub fn hurry(&self) {
        self.0.hurried.store(true, Ordering::Relaxed);
    }

    fn hurried(&self) -> bool {
        self.0.hurried.load(Ordering::Relaxed)
    }
}

/// Let the calls in progress on this host end, for at most `limit` or until a second
/// signal ([`Draining::hurry`]); says in the log what it waits for and what it cuts.
pub async fn let_calls_end(engine: &CallEngine, limit: Duration, draining: &Draining) {
    let running = engine.calls_in_progress();
    if running == 0 {
        return;
    }
    if !limit.is_zero() {
        tracing::info!(
            calls = running,
            timeout_s = limit.as_secs(),
            "draining: waiting for the calls in progress"
        );
    }
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let left = engine.calls_in_progress();
        if left == 0 {
            tokio::time::sleep(LAST_ANSWERS).await;
            return;
        }
        if draining.hurried() || tokio::time::Instant::now() >= deadline {
            tracing::warn!(calls = left, "stopping with calls in progress: they are cut");
            return;
        }
        tokio::time::sleep(DRAIN_POLL.min(deadline - tokio::time::Instant::now())).await;
    }
}

/// Resolves when the process is asked to stop.
pub async fn signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
