//! Routing decisions as the rest of the host sees them: the call being decided, the
//! decision, and what happens when a module fails (the entity's fallback, an audit entry).

pub mod call;
pub mod call_events;
pub mod did;
pub mod event_feed;
mod failure;
pub mod ivr;
pub mod permissions;
pub mod queue;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::store::records::Destination;

/// A DID routing decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RouteDecision {
    /// Where the call goes.
    pub destination: Destination,
    /// Prompt to play first.
    pub announcement: Option<String>,
    /// Text to prepend to the caller id shown to agents.
    pub caller_id_prefix: Option<String>,
    /// The `order` of the rule that matched, if one did.
    pub matched_rule: Option<u32>,
}
