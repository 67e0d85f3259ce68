//! The standard DID router (SPEC.md §2), installed for every company.
//!
//! Rules are tried in ascending `order`; the first whose year, month, day, weekday,
//! time window and caller-id all match wins, and the call goes to its destination with
//! its announcement and caller-id prefix. No match: the DID's default destination.
//!
//! - Date fields are [patterns](guest_sdk::pattern) over zero-padded values: year "2026",
//!   month "03", day "07", ISO weekday "1" (Monday) .. "7" (Sunday).
//! - The window is `start-time` (inclusive) to `end-time` (exclusive), "HH:MM" in the
//!   company's time zone (the host gives the local time). A missing start is 00:00, a
//!   missing end is 24:00, and equal start and end mean the whole day.
//! - A window whose end is before its start crosses midnight: 22:00–06:00 on Fridays
//!   covers Friday 22:00 to Saturday 06:00, so after midnight the date fields are checked
//!   against the day the window began.

use guest_sdk::did_routing::{Did, DidRouting, DidRule, RouteDecision};
use guest_sdk::pattern::Pattern;
use guest_sdk::types::{CallContext, LocalTime};

mod calendar;

use calendar::Day;

/// The module's decision type.
pub struct DidRouter;

impl DidRouting for DidRouter {
    fn route(call: CallContext, did: Did) -> Result<RouteDecision, String> {
        let today = Day::from_local(&call.local_time);
        let dates = CallDates { today: DateText::of(today), yesterday: DateText::of(today.previous()) };
        let minute_of_day = u32::from(call.local_time.hour) * 60 + u32::from(call.local_time.minute);

        let mut rules: Vec<&DidRule> = did.rules.iter().collect();
        rules.sort_by_key(|rule| rule.order);
        for rule in rules {
            if rule_matches(rule, &call, &dates, minute_of_day)
                .map_err(|e| format!("rule {}: {e}", rule.order))?
            {
                return Ok(RouteDecision {
                    destination: rule.destination.clone(),
                    announcement: rule.announcement.clone(),
                    caller_id_prefix: rule.prefix.clone(),
                    matched_rule: Some(rule.order),
                });
            }
        }
        Ok(RouteDecision {
            destination: did.default_destination,
            announcement: None,
            caller_id_prefix: None,
            matched_rule: None,
        })
    }
}

guest_sdk::export_did_router!(DidRouter);

const MINUTES_PER_DAY: u32 = 24 * 60;

/// The date fields of a day as the patterns see them: zero-padded text.
struct DateText {
    year: String,
    month: String,
    day: String,
    weekday: String,
}

impl DateText {
    fn of(day: Day) -> DateText {
        DateText {
            year: format!("{:04}", day.year),
            month: format!("{:02}", day.month),
            day: format!("{:02}", day.day),
            weekday: day.weekday.to_string(),
        }
    }
}

/// The call's day and the day before (for windows that began before midnight).
struct CallDates {
    today: DateText,
    yesterday: DateText,
}

/// Whether `rule` matches a call at `minute_of_day`. The cheap time window is checked
/// first, the patterns only for rules still in the running.
fn rule_matches(
    rule: &DidRule,
    call: &CallContext,
    dates: &CallDates,
    minute_of_day: u32,
) -> Result<bool, String> {
    let start = parse_time("start-time", rule.start_time.as_deref())?.unwrap_or(0);
    let end = parse_time("end-time", rule.end_time.as_deref())?.unwrap_or(MINUTES_PER_DAY);
    // Which day's date the window belongs to, if the call is inside the window at all.
    let crosses_midnight = start > end;
    let date = if start == end
        || (start < end && (start..end).contains(&minute_of_day))
        || (crosses_midnight && minute_of_day >= start)
    {
        &dates.today
    } else if crosses_midnight && minute_of_day < end {
        &dates.yesterday
    } else {
        return Ok(false);
    };
    Ok(field_matches("weekday", &rule.weekday, &date.weekday)?
        && field_matches("day", &rule.day, &date.day)?
        && field_matches("month", &rule.month, &date.month)?
        && field_matches("year", &rule.year, &date.year)?
        && field_matches("caller-id", &rule.caller_id, &call.caller)?)
}

/// Whether `pattern` (none = any) matches the whole of `value`.
fn field_matches(name: &str, pattern: &Option<String>, value: &str) -> Result<bool, String> {
    match pattern {
        None => Ok(true),
        Some(source) => Pattern::parse(source)
            .map(|p| p.matches(value))
            .map_err(|e| format!("{name} pattern {source:?}: {e}")),
    }
}

/// "HH:MM" to minutes after midnight ("24:00" allowed as the end of the day).
fn parse_time(name: &str, value: Option<&str>) -> Result<Option<u32>, String> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let bad = || format!("{name} {value:?} is not HH:MM");
    let (hours, minutes) = value.split_once(':').ok_or_else(bad)?;
    let hours: u32 = hours.parse().map_err(|_| bad())?;
    let minutes: u32 = minutes.parse().map_err(|_| bad())?;
    if minutes > 59 || hours > 24 || (hours == 24 && minutes > 0) {
        return Err(bad());
    }
    Ok(Some(hours * 60 + minutes))
}

impl Day {
    fn from_local(time: &LocalTime) -> Day {
        Day { year: time.year, month: time.month, day: time.day, weekday: time.weekday }
    }
}

#[cfg(test)]
mod tests;
