//! Tests of writing, filtering and finding CDRs.

use chrono::{DateTime, TimeDelta, Utc};

use super::*;
use crate::routing::call::{Direction, parse_time_zone};
use crate::store::records::CallStatus;

fn at(instant: &str) -> DateTime<Utc> {
    // Test literals are valid RFC 3339.
    instant.parse().unwrap()
}

/// A CDR of `company` that ended at `ended_at`.
pub(crate) fn sample(company: &str, ended_at: &str) -> Cdr {
    let ended_at = at(ended_at);
    let call_id = format!("call-{}", ended_at.timestamp_millis());
    Cdr {
        company: company.to_string(),
        id: new_id(&call_id),
        call_id,
        direction: Direction::Inbound,
        caller: "+34600111222".to_string(),
        caller_name: Some("Ana".to_string()),
        called: "+34910000000".to_string(),
        destination: Some("extension 101".to_string()),
        status: CallStatus::Answered,
        hangup_cause: "caller hung up".to_string(),
        sip_status: Some(200),
        started_at: ended_at - TimeDelta::seconds(70),
        answered_at: Some(ended_at - TimeDelta::seconds(60)),
        ended_at,
        ring_ms: 10_000,
        talk_s: 60,
        recording: None,
    }
}

fn utc() -> chrono_tz::Tz {
    chrono_tz::UTC
}

fn filter(values: FilterValues<'_>) -> CdrFilter {
    // Each test passes valid values.
    CdrFilter::parse(&values, utc()).unwrap()
}

#[test]
fn written_cdrs_are_found_newest_first_and_only_in_their_company() {
    let store = Store::in_memory().unwrap();
    let older = sample("acme", "2026-03-01T10:00:00Z");
    let newer = sample("acme", "2026-03-01T11:00:00Z");
    let other = sample("globex", "2026-03-01T10:30:00Z");
    for cdr in [&newer, &other, &older] {
        write(&store, cdr).unwrap();
    }
    assert_eq!(find(&store, "acme", &CdrFilter::default()).unwrap(), [newer, older]);
    assert_eq!(find(&store, "globex", &CdrFilter::default()).unwrap(), [other]);
    assert!(find(&store, "acm", &CdrFilter::default()).unwrap().is_empty());
}

#[test]
fn two_records_of_one_call_ending_together_are_both_kept() {
    let store = Store::in_memory().unwrap();
    let first = sample("acme", "2026-03-01T10:00:00Z");
    let mut second = first.clone();
    second.id = new_id(&first.call_id);
    assert_ne!(first.id, second.id);
    write(&store, &first).unwrap();
    write(&store, &second).unwrap();
    assert_eq!(find(&store, "acme", &CdrFilter::default()).unwrap().len(), 2);
}

#[test]
fn a_batch_is_written_in_one_go() {
    let store = Store::in_memory().unwrap();
    let batch = [sample("acme", "2026-03-01T10:00:00Z"), sample("globex", "2026-03-01T10:00:01Z")];
    write_all(&store, &batch).unwrap();
    assert_eq!(find(&store, "acme", &CdrFilter::default()).unwrap(), [batch[0].clone()]);
    assert_eq!(find(&store, "globex", &CdrFilter::default()).unwrap(), [batch[1].clone()]);
}

#[test]
fn writing_a_record_again_replaces_it() {
    let store = Store::in_memory().unwrap();
    let mut cdr = sample("acme", "2026-03-01T10:00:00Z");
    write(&store, &cdr).unwrap();
    cdr.recording = Some("/recordings/1.wav".to_string());
    write(&store, &cdr).unwrap();
    assert_eq!(find(&store, "acme", &CdrFilter::default()).unwrap(), [cdr]);
}

#[test]
fn key_order_is_end_time_order_across_digit_counts() {
    // 1999 has 12-digit epoch millis, 2026 has 13: zero padding keeps them in order.
    let early = cdr_key("acme", at("1999-01-01T00:00:00Z"), "z");
    let late = cdr_key("acme", at("2026-01-01T00:00:00Z"), "a");
    assert!(early < late);
    assert!(early.starts_with(&company_prefix("acme")));
}

#[test]
fn direction_filter_keeps_only_that_direction() {
    let mut cdr = sample("acme", "2026-03-01T10:00:00Z");
    let outbound = filter(FilterValues { direction: Some("outbound"), ..Default::default() });
    assert!(!outbound.matches(&cdr));
    cdr.direction = Direction::Outbound;
    assert!(outbound.matches(&cdr));
    let internal = filter(FilterValues { direction: Some("internal"), ..Default::default() });
    assert!(!internal.matches(&cdr));
}

#[test]
fn status_filter_and_unanswered_means_every_status_but_answered() {
    let unanswered = filter(FilterValues { status: Some("unanswered"), ..Default::default() });
    let busy = filter(FilterValues { status: Some("busy"), ..Default::default() });
    let mut cdr = sample("acme", "2026-03-01T10:00:00Z");
    assert!(!unanswered.matches(&cdr));
    for status in [
        CallStatus::NoAnswer,
        CallStatus::Busy,
        CallStatus::Cancelled,
        CallStatus::Failed,
        CallStatus::Refused,
    ] {
        cdr.status = status;
        assert!(unanswered.matches(&cdr), "{status:?}");
        assert_eq!(busy.matches(&cdr), status == CallStatus::Busy, "{status:?}");
    }
    let answered = filter(FilterValues { status: Some("answered"), ..Default::default() });
    cdr.status = CallStatus::Answered;
    assert!(answered.matches(&cdr));
}

#[test]
fn number_filter_matches_digits_of_caller_or_called() {
    let cdr = sample("acme", "2026-03-01T10:00:00Z");
    for (number, expected) in [
        ("600111", true),
        ("+34 600", true),
        ("(91) 000", true),
        ("910000000", true),
        ("34600111222", true),
        ("777", false),
        ("600 112", false),
    ] {
        let f = filter(FilterValues { number: Some(number), ..Default::default() });
        assert_eq!(f.matches(&cdr), expected, "{number}");
    }
    let mut anonymous = cdr.clone();
    anonymous.caller = "anonymous".to_string();
    let f = filter(FilterValues { number: Some("600"), ..Default::default() });
    assert!(!f.matches(&anonymous));
}

#[test]
fn instant_bounds_include_both_ends() {
    let f = filter(FilterValues {
        from: Some("2026-03-01T10:00:00Z"),
        to: Some("2026-03-01T11:00:00+00:00"),
        ..Default::default()
    });
    for (ended, expected) in [
        ("2026-03-01T09:59:59.999Z", false),
        ("2026-03-01T10:00:00Z", true),
        ("2026-03-01T11:00:00Z", true),
        ("2026-03-01T11:00:00.001Z", false),
    ] {
        assert_eq!(f.matches(&sample("acme", ended)), expected, "{ended}");
    }
}

#[test]
fn an_unescaped_plus_in_an_instant_is_read_back() {
    let f = filter(FilterValues { from: Some("2026-03-01T10:00:00 01:00"), ..Default::default() });
    assert_eq!(f.from, Some(at("2026-03-01T09:00:00Z")));
}

#[test]
fn date_bounds_are_whole_days_in_the_company_zone() {
    let madrid = parse_time_zone("Europe/Madrid").unwrap();
    let values = FilterValues { from: Some("2026-03-01"), to: Some("2026-03-02"), ..Default::default() };
    let f = CdrFilter::parse(&values, madrid).unwrap();
    // Madrid is UTC+1 in March: its 1 March starts at 23:00 UTC the day before.
    assert_eq!(f.from, Some(at("2026-02-28T23:00:00Z")));
    assert_eq!(f.until, Some(at("2026-03-02T23:00:00Z")));
    for (ended, expected) in [
        ("2026-02-28T22:59:59Z", false),
        ("2026-02-28T23:00:00Z", true),
        ("2026-03-02T22:59:59Z", true),
        ("2026-03-02T23:00:00Z", false),
    ] {
        assert_eq!(f.matches(&sample("acme", ended)), expected, "{ended}");
    }
    // The same dates in UTC are other instants.
    let utc_filter = filter(values);
    assert_eq!(utc_filter.from, Some(at("2026-03-01T00:00:00Z")));
}

#[test]
fn a_day_of_a_daylight_saving_change_has_its_real_length() {
    let madrid = parse_time_zone("Europe/Madrid").unwrap();
    // 29 March 2026: clocks go from 02:00 to 03:00, the day lasts 23 hours.
    let values = FilterValues { from: Some("2026-03-29"), to: Some("2026-03-29"), ..Default::default() };
    let f = CdrFilter::parse(&values, madrid).unwrap();
    assert_eq!(f.from, Some(at("2026-03-28T23:00:00Z")));
    assert_eq!(f.until, Some(at("2026-03-29T22:00:00Z")));
}

#[test]
fn a_day_whose_midnight_does_not_exist_starts_at_its_first_real_time() {
    // Santiago de Chile moved its clocks from 00:00 to 01:00 on 8 September 2024.
    let santiago = parse_time_zone("America/Santiago").unwrap();
    let f =
        CdrFilter::parse(&FilterValues { from: Some("2024-09-08"), ..Default::default() }, santiago).unwrap();
    // 01:00 at UTC-3.
    assert_eq!(f.from, Some(at("2024-09-08T04:00:00Z")));
    // Samoa skipped 30 December 2011 entirely: that day is empty.
    let apia = parse_time_zone("Pacific/Apia").unwrap();
    let values = FilterValues { from: Some("2011-12-30"), ..Default::default() };
    let skipped = CdrFilter::parse(&values, apia).unwrap();
    let next =
        CdrFilter::parse(&FilterValues { from: Some("2011-12-31"), ..Default::default() }, apia).unwrap();
    assert_eq!(skipped.from, next.from);
}

#[test]
fn filters_combine() {
    let f = filter(FilterValues {
        direction: Some("inbound"),
        status: Some("unanswered"),
        from: Some("2026-03-01"),
        to: Some("2026-03-01"),
        number: Some("600"),
    });
    let mut cdr = sample("acme", "2026-03-01T10:00:00Z");
    cdr.status = CallStatus::NoAnswer;
    assert!(f.matches(&cdr));
    let mut wrong_direction = cdr.clone();
    wrong_direction.direction = Direction::Internal;
    let mut answered = cdr.clone();
    answered.status = CallStatus::Answered;
    let mut next_day = cdr.clone();
    next_day.ended_at = at("2026-03-02T00:00:00Z");
    let mut other_number = cdr.clone();
    other_number.caller = "+44161000000".to_string();
    for (why, cdr) in [
        ("direction", &wrong_direction),
        ("status", &answered),
        ("date", &next_day),
        ("number", &other_number),
    ] {
        assert!(!f.matches(cdr), "{why}");
    }
}

#[test]
fn empty_values_are_no_condition() {
    let f = filter(FilterValues {
        direction: Some(""),
        status: Some(" "),
        from: Some(""),
        to: Some(""),
        number: Some(""),
    });
    assert_eq!(f, CdrFilter::default());
}

#[test]
fn bad_values_name_their_parameter() {
    let cases: [(FilterValues<'_>, &str); 9] = [
        (FilterValues { direction: Some("sideways"), ..Default::default() }, "direction"),
        (FilterValues { direction: Some("Inbound"), ..Default::default() }, "direction"),
        (FilterValues { status: Some("missed"), ..Default::default() }, "status"),
        (FilterValues { from: Some("yesterday"), ..Default::default() }, "from"),
        (FilterValues { from: Some("2026-02-30"), ..Default::default() }, "from"),
        (FilterValues { to: Some("2026-03-01T25:00:00Z"), ..Default::default() }, "to"),
        (FilterValues { from: Some("2026-03-02"), to: Some("2026-03-01"), ..Default::default() }, "to"),
        (FilterValues { number: Some("abc"), ..Default::default() }, "number"),
        (FilterValues { number: Some("+"), ..Default::default() }, "number"),
    ];
    for (values, parameter) in cases {
        let error = CdrFilter::parse(&values, utc()).unwrap_err();
        assert_eq!(error.parameter, parameter, "{values:?}: {error}");
    }
}
