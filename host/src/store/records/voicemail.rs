//! Voicemail boxes and the messages left in them (SPEC.md §5). The audio of a message is a
//! WAV file beside the store (see `crate::voicemail`); the record says who called, when and
//! for how long.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Days a message is kept when the box does not say.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;
/// Longest message recorded when the box does not say: three minutes.
pub const DEFAULT_MAX_MESSAGE_SECONDS: u32 = 180;

/// A voicemail box. The API shows it without `pin_hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VoicemailBox {
    /// The company.
    pub company: String,
    /// The name destinations refer to, unique in the company.
    pub name: String,
    /// Dialling this number reaches the box (1-10 digits).
    pub number: String,
    /// Where new messages are mailed with the audio attached; empty = no mail.
    pub email: String,
    /// The prompt played before the beep; none = the system "voicemail-greeting".
    pub greeting: Option<String>,
    /// Messages older than this many days are deleted (1-365).
    pub retention_days: u32,
    /// The PIN for listening by phone, as `sha256$<salt hex>$<digest hex>` (see
    /// `crate::voicemail::pin`); never shown.
    pub pin_hash: String,
    /// Recording stops after this many seconds.
    pub max_message_seconds: u32,
    /// When the box was created.
    pub created_at: DateTime<Utc>,
    /// The user (extension) whose portal shows the box and its messages; none = only the
    /// company's admins and keys see it.
    #[serde(default)]
    pub owner: Option<String>,
}

/// A message left in a voicemail box.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VoicemailMessage {
    /// Random id, unique in the box (16 hex digits).
    pub id: String,
    /// The company.
    pub company: String,
    /// The name of the box it was left in.
    pub mailbox: String,
    /// The calling number, or "anonymous".
    pub caller: String,
    /// The number that was dialled.
    pub called: String,
    /// When the recording ended.
    pub received_at: DateTime<Utc>,
    /// Length of the recording in milliseconds.
    pub duration_ms: u64,
    /// Whether someone has listened to it (by phone or through the API).
    pub heard: bool,
    /// Size of the WAV file in bytes.
    pub size: u64,
}
