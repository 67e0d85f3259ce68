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
        let minute_of_day = u32::from(call.local_time.hour) * 60 + u32::from(call.local_time.minute);

        let mut rules: Vec<&DidRule> = did.rules.iter().collect();
        rules.sort_by_key(|rule| rule.order);
        for rule in rules {
            if rule_matches(rule, &call, today, minute_of_day)
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

/// Whether `rule` matches a call at `minute_of_day` of `today`.
fn rule_matches(rule: &DidRule, call: &CallContext, today: Day, minute_of_day: u32) -> Result<bool, String> {
    if !field("caller-id", &rule.caller_id)?.matches(&call.caller) {
        return Ok(false);
    }
    let start = parse_time("start-time", rule.start_time.as_deref())?.unwrap_or(0);
    let end = parse_time("end-time", rule.end_time.as_deref())?.unwrap_or(MINUTES_PER_DAY);
    // Which day's date the window belongs to, if the call is inside the window at all.
    let crosses_midnight = start > end;
    let window_day = if start == end
        || (start < end && (start..end).contains(&minute_of_day))
        || (crosses_midnight && minute_of_day >= start)
    {
        today
    } else if crosses_midnight && minute_of_day < end {
        today.previous()
    } else {
        return Ok(false);
    };
    date_matches(rule, window_day)
}

fn date_matches(rule: &DidRule, day: Day) -> Result<bool, String> {
    Ok(field("year", &rule.year)?.matches(&format!("{:04}", day.year))
        && field("month", &rule.month)?.matches(&format!("{:02}", day.month))
        && field("day", &rule.day)?.matches(&format!("{:02}", day.day))
        && field("weekday", &rule.weekday)?.matches(&day.weekday.to_string()))
}

fn field(name: &str, source: &str) -> Result<Pattern, String> {
    Pattern::parse(source).map_err(|e| format!("{name} pattern {source:?}: {e}"))
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
