//! Call recording records (SPEC.md §6): an extension's recording settings, one stored
//! recording's metadata (its audio is a WAV file beside the database, see
//! `crate::recordings`), and a company's recording storage use.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::routing::call::Direction;

/// Which of an extension's calls are recorded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordingMode {
    /// No call is recorded.
    #[default]
    Never,
    /// Only conference calls are recorded.
    Conferences,
    /// A call is recorded from the moment the user presses `*1`.
    OnDemand,
    /// Every call is recorded.
    Always,
}

/// An extension's recording settings; stored users without them read as "never".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RecordingSettings {
    /// Which calls are recorded (default never).
    #[serde(default)]
    pub mode: RecordingMode,
    /// Play the "call-may-be-recorded" prompt at the start of a recorded call.
    #[serde(default)]
    pub announce: bool,
}

/// One stored call recording: two channels, the caller on the left and the callee on
/// the right.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Recording {
    /// Unique id; starts with the start time, so that ids sort in time order.
    pub id: String,
    /// The company.
    pub company: String,
    /// SIP Call-ID of the call's first leg (the same as its CDR's).
    pub call_id: String,
    /// Which way the call flowed.
    pub direction: Direction,
    /// The calling number.
    pub from: String,
    /// The called number.
    pub to: String,
    /// The extension whose recording setting made the recording.
    pub extension: String,
    /// When recording started.
    pub started_at: DateTime<Utc>,
    /// How long the recording lasts, in milliseconds.
    pub duration_ms: u64,
    /// Size of the WAV file in bytes.
    pub size: u64,
    /// Audio channels: 2 (caller left, callee right).
    pub channels: u16,
}

/// A company's recording storage: the bytes its recordings take, kept with every
/// recording saved or deleted so that checking the quota at a call's start reads one row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingUsage {
    /// Sum of the sizes of the company's recordings.
    pub bytes: u64,
    /// When the quota was found reached (and the audit entry written); cleared once space
    /// is freed, so that the next crossing is audited again.
    #[serde(default)]
    pub quota_reached_at: Option<DateTime<Utc>>,
}
