//! What one host of a cluster tells the others of its calls, so that queues agree across
//! hosts (SPEC.md §4): which extensions are in a call or resting after a queue call, and
//! which callers wait in each queue. Each host keeps its own row up to date; see
//! `calls::presence::cluster`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One host's row, keyed by the host's id (new at every start).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostActivity {
    /// The host's id, as in the key.
    pub host: String,
    /// Raised at every write: a host whose row stops moving has stopped.
    pub sequence: u64,
    /// When the host wrote the row (its clock).
    pub written_at: DateTime<Utc>,
    /// What the host's calls do.
    pub report: ActivityReport,
    /// The host is stopping: its calls go on (and count), but it takes no trunk.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub draining: bool,
}

/// What a host's calls do now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityReport {
    /// Extensions in a call or resting, keyed by `company NUL extension`.
    pub extensions: BTreeMap<String, ExtensionActivity>,
    /// When each waiting caller joined, per queue (`company NUL queue`).
    pub waiting: BTreeMap<String, Vec<DateTime<Utc>>>,
}

/// What one extension does on one host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionActivity {
    /// It is a party of a connected call.
    pub in_call: bool,
    /// The end of its wrap-up time after a queue call, if it is still resting.
    pub resting_until: Option<DateTime<Utc>>,
}
