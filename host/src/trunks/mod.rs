//! Centralita's own registrations to the companies' trunk providers (SPEC.md §1): every
//! configured provider account (primary and secondary) of every company is registered
//! with digest authentication and kept registered, and its status is visible through the
//! API (`GET /api/v1/companies/{company}/trunk-status`).
//!
//! - [`registration`]: one registration as a sans-IO state machine.
//! - `runner`: the task that carries one out through the SIP endpoint.
//! - [`supervisor`]: one task per configured trunk, following the companies' changes.
//! - [`ownership`]: in a cluster, which host registers each trunk.
//! - [`status`]: the shared status map the API reads.
//! - [`address`]: where a trunk's requests go.

pub mod address;
pub mod ownership;
pub mod registration;
mod runner;
pub mod status;
pub mod supervisor;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use crate::calls::LiveHosts;
use crate::sip::endpoint::tu::Command;
use crate::store::Store;
pub use registration::Backoff;
pub use status::{TrunkSlot, TrunkState, TrunkStatus, Trunks};

/// How the trunk registrations behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// The registration time asked of providers, in seconds.
    pub expires: u32,
    /// How often the supervisor re-reads the companies' trunks.
    pub poll_every: Duration,
    /// The delays between failed attempts.
    pub backoff: Backoff,
    /// The longest a removed trunk's task waits for its un-REGISTER to be answered.
    pub unregister_wait: Duration,
    /// The address named in the Contact: the cluster's SIP front, shared by every host
    /// (so a trunk handed over to another host keeps its binding); `None`: this host's.
    pub contact: Option<SocketAddr>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            expires: registration::DEFAULT_EXPIRES_S,
            poll_every: Duration::from_secs(2),
            backoff: Backoff::default(),
            unregister_wait: Duration::from_secs(10),
            contact: None,
        }
    }
}

impl Trunks {
    /// Start registering every company's trunks (in a cluster, those this host owns among
    /// `hosts`) from our SIP address `local`, sending through the SIP endpoint's
    /// `commands`; runs on the current tokio runtime until `shutdown` resolves, then
    /// un-registers them (see [`supervisor::SHUTDOWN_WAIT`]): the returned task ends once
    /// that is done, and the SIP endpoint should run until then.
    pub fn start(
        self: &Arc<Trunks>,
        store: Store,
        hosts: LiveHosts,
        commands: UnboundedSender<Command>,
        local: SocketAddr,
        settings: Settings,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> JoinHandle<()> {
        tokio::spawn(supervisor::supervise(self.clone(), store, hosts, commands, local, settings, shutdown))
    }
}
