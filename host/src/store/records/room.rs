//! Conference rooms (SPEC.md §11): a company's audio/video rooms, each joined through a
//! shareable link (and, optionally, a PIN).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A room's participant limit when none is given: every browser costs the host a peer
/// connection and a copy of every other participant's streams.
pub const DEFAULT_MAX_PARTICIPANTS: u32 = 25;
/// The largest limit a room may have.
pub const MAX_PARTICIPANTS: u32 = 200;

fn default_max_participants() -> u32 {
    DEFAULT_MAX_PARTICIPANTS
}

/// A conference room of a company.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Room {
    /// The company.
    pub company: String,
    /// Random and unguessable: the shareable link carries it.
    pub id: String,
    /// What people see.
    pub name: String,
    /// Digits asked of everyone who joins, when set.
    pub pin: Option<String>,
    /// The internal number SIP phones dial to join (audio only), when set.
    #[serde(default)]
    pub number: Option<String>,
    /// Most participants (browsers and phones) at once; more are turned away.
    #[serde(default = "default_max_participants")]
    pub max_participants: u32,
    pub created_at: DateTime<Utc>,
}
