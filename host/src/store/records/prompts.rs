//! Uploaded prompts (SPEC.md §5): what is known of one company upload. The converted audio
//! itself is a WAV file beside the database (see `crate::prompts`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A prompt a company uploaded, converted to telephony audio. It replaces the system
/// prompt of the same name for that company, if there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Prompt {
    /// The company.
    pub company: String,
    /// The prompt's name, unique in the company (lowercase letters, digits, '-').
    pub name: String,
    /// How long the converted audio lasts, in milliseconds.
    pub duration_ms: u64,
    /// The uploaded file's format: "wav", "mp3", "ogg", "flac" or "unknown".
    pub original_format: String,
    /// Size of the uploaded file in bytes.
    pub original_size: u64,
    /// When it was uploaded.
    pub uploaded_at: DateTime<Utc>,
    /// Who uploaded it: "operator" or "key:<id>".
    pub uploaded_by: String,
}
