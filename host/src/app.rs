//! The state every part of the running host shares.

use std::path::PathBuf;
use std::sync::Arc;

use crate::mail::Mailer;
use crate::prompts::Prompts;
use crate::sandbox::Sandbox;
use crate::sandbox::counters::Counters;
use crate::security::Guard;
use crate::sip::registrar::service::Registrar;
use crate::store::Store;

/// The host's shared state; cheap to clone.
#[derive(Clone)]
pub struct App {
    pub store: Store,
    pub sandbox: Arc<Sandbox>,
    pub counters: Arc<Counters>,
    pub registrar: Arc<Registrar>,
    /// The ban list and whitelist, checked for every SIP packet.
    pub security: Arc<Guard>,
    /// Outgoing mail (voicemail, missed calls, modules).
    pub mail: Mailer,
    /// The audio played to callers.
    pub prompts: Prompts,
    /// Where audio files (voicemail, recordings) live; `None` in tests keeps them in memory.
    pub data_dir: Option<PathBuf>,
    /// Queue statistics, reported by the queue mechanics and read by the API.
    pub queue_stats: crate::routing::queue::stats::QueueStats,
    /// Call-state events and the active calls, for CTI clients (SPEC §12).
    pub events: Arc<crate::events::EventHub>,
    /// The conference rooms with someone in them (SPEC §11).
    pub rooms: Arc<crate::rooms::Rooms>,
}
