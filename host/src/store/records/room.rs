//! Conference rooms (SPEC.md §11): a company's audio/video rooms, each joined through a
//! shareable link (and, optionally, a PIN).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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
    pub created_at: DateTime<Utc>,
}
