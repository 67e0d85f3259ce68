//! Graceful shutdown: the server stops accepting on SIGINT or SIGTERM and finishes the
//! requests in flight; every acknowledged write is already durable in the store. SIP
//! drains: from the signal on, requests that would start something new (a call, a
//! registration, the front's keep-alive OPTIONS) are answered 503 "Shutting Down", which
//! a cluster's front takes as "try another host", while the calls in progress go on, up
//! to the drain timeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The reason phrase of the 503 a draining host answers with; the front
/// (deploy/kamailio/kamailio.cfg) fails such a request over to another host.
pub const SHUTTING_DOWN: &str = "Shutting Down";

/// Seconds a draining host asks a client to wait before it tries it again (Retry-After).
pub const RETRY_AFTER_S: u32 = 30;

/// Whether the host is on its way out. Cheap to clone; every clone sees [`Draining::start`].
#[derive(Clone, Debug, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    /// From now on, take nothing new.
    pub fn start(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_on(&self) -> bool {
        self.0.load(Ordering::Relaxed)
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
