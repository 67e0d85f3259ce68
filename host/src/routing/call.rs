//! The call a decision is asked about, as the host knows it, and the company-local time
//! handed to modules.

use chrono::{DateTime, Datelike, Offset, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Which way a call flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    #[default]
    Inbound,
    Outbound,
    Internal,
}

/// A call at a decision point.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CallInput {
    /// The host's id of the call.
    #[serde(default = "dry_run_call_id")]
    pub call_id: String,
    /// The company.
    #[serde(default)]
    pub company: String,
    /// The calling number, or "anonymous".
    pub caller: String,
    /// The caller's display name.
    #[serde(default)]
    pub caller_name: Option<String>,
    /// The number called.
    #[serde(default)]
    pub called: String,
    /// Which way the call flows.
    #[serde(default)]
    pub direction: Direction,
    /// The decision's instant.
    pub at: DateTime<Utc>,
    /// The company's IANA time zone.
    #[serde(default = "utc")]
    pub time_zone: String,
    /// Randomness for the decision; chosen by the host when absent.
    #[serde(default)]
    pub random_seed: Option<u64>,
}

fn dry_run_call_id() -> String {
    "dry-run".to_string()
}

fn utc() -> String {
    "UTC".to_string()
}

/// A calendar time in a time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub weekday: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub utc_offset_minutes: i32,
}

/// Why a time zone name was refused.
#[derive(Debug, thiserror::Error)]
#[error("unknown time zone {0:?} (use an IANA name such as \"Europe/Madrid\")")]
pub struct UnknownTimeZone(pub String);

/// Parse an IANA time-zone name.
pub fn parse_time_zone(name: &str) -> Result<Tz, UnknownTimeZone> {
    name.parse::<Tz>().map_err(|_| UnknownTimeZone(name.to_string()))
}

/// `at` as a wall-clock time in `zone`.
pub fn local_time(at: DateTime<Utc>, zone: Tz) -> LocalTime {
    let local = at.with_timezone(&zone);
    LocalTime {
        // chrono years fit in u16 for every date a PBX routes (0..=65535).
        year: local.year().clamp(0, i32::from(u16::MAX)) as u16,
        month: local.month() as u8,
        day: local.day() as u8,
        weekday: local.weekday().number_from_monday() as u8,
        hour: local.hour() as u8,
        minute: local.minute() as u8,
        second: local.second() as u8,
        utc_offset_minutes: local.offset().fix().local_minus_utc() / 60,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_time_follows_daylight_saving() {
        let madrid = parse_time_zone("Europe/Madrid").unwrap();
        let winter = local_time("2026-01-15T08:30:00Z".parse().unwrap(), madrid);
        assert_eq!((winter.hour, winter.minute, winter.utc_offset_minutes), (9, 30, 60));
        let summer = local_time("2026-07-15T08:30:00Z".parse().unwrap(), madrid);
        assert_eq!((summer.hour, summer.utc_offset_minutes), (10, 120));
    }

    #[test]
    fn local_date_and_iso_weekday_can_differ_from_utc() {
        let tokyo = parse_time_zone("Asia/Tokyo").unwrap();
        // Sunday 2026-11-22 20:00 UTC is Monday 05:00 in Tokyo.
        let t = local_time("2026-11-22T20:00:00Z".parse().unwrap(), tokyo);
        assert_eq!((t.year, t.month, t.day, t.weekday, t.hour), (2026, 11, 23, 1, 5));
    }

    #[test]
    fn unknown_zone_is_named_in_the_error() {
        let error = parse_time_zone("Mars/Olympus").unwrap_err();
        assert!(error.to_string().contains("Mars/Olympus"));
    }
}
