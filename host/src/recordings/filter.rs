//! Which recordings a listing shows: direction, numbers, extension and a time range.

use chrono::{DateTime, Utc};

use crate::cdr::filter::digits_of;
use crate::routing::call::Direction;
use crate::store::records::Recording;

/// The conditions a recording must meet to be listed; the default lists every one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordingFilter {
    pub direction: Option<Direction>,
    /// Digits the calling number contains.
    pub from_digits: Option<String>,
    /// Digits the called number contains.
    pub to_digits: Option<String>,
    /// The extension whose setting made the recording, exactly.
    pub extension: Option<String>,
    /// Earliest start, inclusive.
    pub since: Option<DateTime<Utc>>,
    /// Starts must be before this instant (exclusive).
    pub until: Option<DateTime<Utc>>,
}

impl RecordingFilter {
    /// Whether `recording` meets every condition.
    pub fn matches(&self, recording: &Recording) -> bool {
        let contains = |wanted: &Option<String>, number: &str| {
            wanted.as_deref().is_none_or(|wanted| digits_of(number).contains(wanted))
        };
        self.direction.is_none_or(|d| recording.direction == d)
            && contains(&self.from_digits, &recording.from)
            && contains(&self.to_digits, &recording.to)
            && self.extension.as_deref().is_none_or(|e| recording.extension == e)
            && self.since.is_none_or(|since| recording.started_at >= since)
            && self.until.is_none_or(|until| recording.started_at < until)
    }
}
