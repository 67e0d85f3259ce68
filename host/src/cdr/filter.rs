//! Which CDRs a listing or export shows: direction, status, a date range and a number,
//! parsed from the text an API client sends. Dates without a time are days in the
//! company's time zone.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

use crate::routing::call::Direction;
use crate::store::records::{CallStatus, Cdr};

/// Every direction, for parsing and for naming in errors.
const DIRECTIONS: [Direction; 3] = [Direction::Inbound, Direction::Outbound, Direction::Internal];

/// Every call status, for parsing and for naming in errors.
const STATUSES: [CallStatus; 6] = [
    CallStatus::Answered,
    CallStatus::NoAnswer,
    CallStatus::Busy,
    CallStatus::Cancelled,
    CallStatus::Failed,
    CallStatus::Refused,
];

/// The name of a direction, as the API and the CSV export write it.
pub fn direction_name(direction: Direction) -> &'static str {
    match direction {
        Direction::Inbound => "inbound",
        Direction::Outbound => "outbound",
        Direction::Internal => "internal",
    }
}

/// The name of a call status, as the API and the CSV export write it.
pub fn status_name(status: CallStatus) -> &'static str {
    match status {
        CallStatus::Answered => "answered",
        CallStatus::NoAnswer => "no_answer",
        CallStatus::Busy => "busy",
        CallStatus::Cancelled => "cancelled",
        CallStatus::Failed => "failed",
        CallStatus::Refused => "refused",
    }
}

/// Which statuses a filter keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// Exactly this status.
    Is(CallStatus),
    /// Every status but answered.
    Unanswered,
}

impl StatusFilter {
    fn matches(self, status: CallStatus) -> bool {
        match self {
            StatusFilter::Is(wanted) => status == wanted,
            StatusFilter::Unanswered => status != CallStatus::Answered,
        }
    }
}

/// A filter value that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{parameter}: {reason}")]
pub struct FilterError {
    /// The query parameter at fault.
    pub parameter: &'static str,
    /// What was wrong with it.
    pub reason: String,
}

impl FilterError {
    fn new(parameter: &'static str, reason: impl Into<String>) -> FilterError {
        FilterError { parameter, reason: reason.into() }
    }
}

/// The filter values as a client sent them; absent or empty = no condition.
#[derive(Debug, Clone, Copy, Default)]
pub struct FilterValues<'a> {
    /// `inbound`, `outbound` or `internal`.
    pub direction: Option<&'a str>,
    /// A [`CallStatus`] name, or `unanswered`.
    pub status: Option<&'a str>,
    /// The earliest end: an RFC 3339 instant, or a date = that day's start.
    pub from: Option<&'a str>,
    /// The latest end: an RFC 3339 instant (inclusive), or a date = that whole day.
    pub to: Option<&'a str>,
    /// Digits that the caller's or the called number contains.
    pub number: Option<&'a str>,
}

/// The conditions a CDR must meet to be shown; the default shows every CDR.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CdrFilter {
    pub direction: Option<Direction>,
    pub status: Option<StatusFilter>,
    /// Earliest end time, inclusive.
    pub from: Option<DateTime<Utc>>,
    /// End times must be before this instant (exclusive).
    pub until: Option<DateTime<Utc>>,
    /// Digits only; a CDR matches when its caller or called number, read as digits,
    /// contains them.
    pub number_digits: Option<String>,
}

impl CdrFilter {
    /// Parse the values a client sent; dates are days in `zone`, the company's zone.
    pub fn parse(values: &FilterValues<'_>, zone: Tz) -> Result<CdrFilter, FilterError> {
        let given = |value: Option<&str>| value.map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
        let direction = given(values.direction).map(|v| parse_direction(&v)).transpose()?;
        let status = given(values.status).map(|v| parse_status(&v)).transpose()?;
        let from = given(values.from).map(|v| parse_bound("from", &v, Edge::Start, zone)).transpose()?;
        let until = given(values.to).map(|v| parse_bound("to", &v, Edge::End, zone)).transpose()?;
        if let (Some(from), Some(until)) = (from, until)
            && until <= from
        {
            return Err(FilterError::new("to", "must be after from"));
        }
        let number_digits = given(values.number)
            .map(|v| {
                let digits = digits_of(&v);
                if digits.is_empty() {
                    Err(FilterError::new("number", "must contain digits"))
                } else {
                    Ok(digits)
                }
            })
            .transpose()?;
        Ok(CdrFilter { direction, status, from, until, number_digits })
    }

    /// Whether `cdr` meets every condition.
    pub fn matches(&self, cdr: &Cdr) -> bool {
        self.direction.is_none_or(|d| cdr.direction == d)
            && self.status.is_none_or(|s| s.matches(cdr.status))
            && self.from.is_none_or(|from| cdr.ended_at >= from)
            && self.until.is_none_or(|until| cdr.ended_at < until)
            && self.number_digits.as_deref().is_none_or(|wanted| {
                digits_of(&cdr.caller).contains(wanted) || digits_of(&cdr.called).contains(wanted)
            })
    }
}

fn parse_direction(value: &str) -> Result<Direction, FilterError> {
    DIRECTIONS.into_iter().find(|d| direction_name(*d) == value).ok_or_else(|| {
        FilterError::new("direction", format!("{value:?} is not one of inbound, outbound, internal"))
    })
}

fn parse_status(value: &str) -> Result<StatusFilter, FilterError> {
    if value == "unanswered" {
        return Ok(StatusFilter::Unanswered);
    }
    STATUSES.into_iter().find(|s| status_name(*s) == value).map(StatusFilter::Is).ok_or_else(|| {
        let names: Vec<_> = STATUSES.into_iter().map(status_name).collect();
        FilterError::new("status", format!("{value:?} is not one of {}, unanswered", names.join(", ")))
    })
}

/// Which end of the range a bound is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edge {
    /// `from`: a date means the start of that day.
    Start,
    /// `to`: a date means the whole day, an instant is included.
    End,
}

/// A `from` or `to` value as an instant; for `to`, the first instant no longer included.
fn parse_bound(
    parameter: &'static str,
    value: &str,
    edge: Edge,
    zone: Tz,
) -> Result<DateTime<Utc>, FilterError> {
    if let Some(instant) = parse_instant(value) {
        return Ok(match edge {
            Edge::Start => instant,
            // Inclusive: everything up to and including the instant itself.
            Edge::End => instant + TimeDelta::nanoseconds(1),
        });
    }
    let date = NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| {
        FilterError::new(
            parameter,
            format!(
                "{value:?} is neither an RFC 3339 instant (2026-03-01T09:30:00+01:00) nor a date (2026-03-01)"
            ),
        )
    })?;
    let day = match edge {
        Edge::Start => Some(date),
        Edge::End => date.succ_opt(),
    };
    day.and_then(|day| start_of_day(day, zone))
        .ok_or_else(|| FilterError::new(parameter, format!("{value:?} is out of range")))
}

/// An RFC 3339 instant. A '+' left unescaped in a query string arrives as a space
/// ("...T09:30:00 01:00"); that mistake is common enough to read it as the '+' it was.
fn parse_instant(value: &str) -> Option<DateTime<Utc>> {
    if let Ok(instant) = DateTime::parse_from_rfc3339(value) {
        return Some(instant.to_utc());
    }
    let (time, offset) = value.rsplit_once(' ')?;
    if !time.contains('T') && !time.contains('t') {
        return None;
    }
    DateTime::parse_from_rfc3339(&format!("{time}+{offset}")).ok().map(|i| i.to_utc())
}

/// The first instant of `day` in `zone`. Where a daylight-saving change skips local
/// midnight (or, as in Samoa in 2011, the whole day), the day starts at the first local
/// time that exists; every zone's offsets are whole quarter hours, so stepping by
/// quarter hours for two days finds it.
fn start_of_day(day: NaiveDate, zone: Tz) -> Option<DateTime<Utc>> {
    let midnight: NaiveDateTime = day.and_time(NaiveTime::MIN);
    (0..=192)
        .map(|quarter| midnight.checked_add_signed(TimeDelta::minutes(15 * quarter)))
        .find_map(|local| zone.from_local_datetime(&local?).earliest())
        .map(|start| start.to_utc())
}

/// The ASCII digits of `number`, in order.
pub fn digits_of(number: &str) -> String {
    number.chars().filter(char::is_ascii_digit).collect()
}
