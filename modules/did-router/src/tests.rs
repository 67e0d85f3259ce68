//! Table tests of SPEC.md §2, run natively with `cargo test -p did-router`.

use super::*;
use guest_sdk::types::Destination;

/// A call at local `date` ("YYYY-MM-DD"), `time` ("HH:MM") on ISO `weekday`.
fn call_at(date: &str, weekday: u8, time: &str, caller: &str) -> CallContext {
    guest_sdk::testing::inbound_call_at(caller, date, weekday, time)
}

fn rule(order: u32, to: &str) -> DidRule {
    DidRule {
        order,
        year: None,
        month: None,
        day: None,
        weekday: None,
        start_time: None,
        end_time: None,
        caller_id: None,
        destination: Destination::Extension(to.into()),
        announcement: None,
        prefix: None,
    }
}

fn did(rules: Vec<DidRule>) -> Did {
    Did {
        number: "34910000000".into(),
        description: "main line".into(),
        rules,
        default_destination: Destination::Voicemail("main".into()),
        config: "{}".into(),
    }
}

fn destination(call: CallContext, rules: Vec<DidRule>) -> Destination {
    DidRouter::route(call, did(rules)).expect("route").destination
}

fn routes_to_rule(call: CallContext, rule: DidRule) -> bool {
    matches!(destination(call, vec![rule]), Destination::Extension(_))
}

#[test]
fn every_spec_date_pattern_example() {
    // (field, pattern, value that matches, value that does not)
    let table: &[(&str, &str, &str, &str)] = &[
        ("year", ".", "2026-03-04", ""),
        ("year", "2021", "2021-03-04", "2022-03-04"),
        ("year", "202[1-5]", "2024-03-04", "2026-03-04"),
        ("year", "2021|2025", "2025-03-04", "2023-03-04"),
        ("month", "0[3-6]", "2026-05-04", "2026-07-04"),
        ("month", "(03|06)", "2026-06-04", "2026-04-04"),
        ("day", "0[5-9]|1[0-9]|2[0-5]", "2026-03-17", "2026-03-27"),
        ("day", "0[5-9]|1[0-9]|2[0-5]", "2026-03-05", "2026-03-04"),
    ];
    for &(name, pattern, yes, no) in table {
        let mut r = rule(1, "101");
        match name {
            "year" => r.year = Some(pattern.into()),
            "month" => r.month = Some(pattern.into()),
            _ => r.day = Some(pattern.into()),
        }
        assert!(routes_to_rule(call_at(yes, 3, "10:00", "600"), r.clone()), "{name} {pattern} vs {yes}");
        if !no.is_empty() {
            assert!(!routes_to_rule(call_at(no, 3, "10:00", "600"), r), "{name} {pattern} vs {no}");
        }
    }
}

#[test]
fn weekday_is_iso_monday_one_to_sunday_seven() {
    let mut r = rule(1, "101");
    r.weekday = Some("[2-5]".into());
    assert!(routes_to_rule(call_at("2026-11-17", 2, "10:00", "600"), r.clone())); // Tuesday
    assert!(routes_to_rule(call_at("2026-11-20", 5, "10:00", "600"), r.clone())); // Friday
    assert!(!routes_to_rule(call_at("2026-11-16", 1, "10:00", "600"), r.clone())); // Monday
    assert!(!routes_to_rule(call_at("2026-11-22", 7, "10:00", "600"), r)); // Sunday
}

#[test]
fn time_window_includes_start_and_excludes_end() {
    let mut r = rule(1, "101");
    r.start_time = Some("09:00".into());
    r.end_time = Some("14:00".into());
    let at = |t| routes_to_rule(call_at("2026-11-18", 3, t, "600"), r.clone());
    assert!(!at("08:59"));
    assert!(at("09:00"));
    assert!(at("13:59"));
    assert!(!at("14:00"));
}

#[test]
fn window_crossing_midnight_belongs_to_the_day_it_started() {
    let mut r = rule(1, "101");
    r.weekday = Some("5".into()); // Friday night
    r.start_time = Some("22:00".into());
    r.end_time = Some("06:00".into());
    let friday = |t| routes_to_rule(call_at("2026-11-20", 5, t, "600"), r.clone());
    let saturday = |t| routes_to_rule(call_at("2026-11-21", 6, t, "600"), r.clone());
    assert!(!friday("21:59"));
    assert!(friday("22:00"));
    assert!(friday("23:59"));
    assert!(saturday("00:00"));
    assert!(saturday("05:59"));
    assert!(!saturday("06:00"));
    assert!(!saturday("22:30")); // Saturday night is not Friday night
    assert!(!friday("02:00")); // Friday 02:00 belongs to Thursday's night
}

#[test]
fn midnight_crossing_checks_the_previous_date_across_a_year_end() {
    let mut r = rule(1, "101");
    r.year = Some("2026".into());
    r.month = Some("12".into());
    r.day = Some("31".into());
    r.start_time = Some("20:00".into());
    r.end_time = Some("02:00".into());
    assert!(routes_to_rule(call_at("2027-01-01", 5, "01:30", "600"), r.clone()));
    assert!(!routes_to_rule(call_at("2027-01-01", 5, "02:30", "600"), r));
}

#[test]
fn missing_or_equal_times_mean_the_whole_day() {
    let mut r = rule(1, "101");
    r.start_time = Some("00:00".into());
    r.end_time = Some("00:00".into());
    assert!(routes_to_rule(call_at("2026-11-18", 3, "23:59", "600"), r.clone()));
    r.start_time = None;
    r.end_time = Some("24:00".into());
    assert!(routes_to_rule(call_at("2026-11-18", 3, "23:59", "600"), r));
}

#[test]
fn caller_id_pattern_selects_callers() {
    let mut vip = rule(1, "200");
    vip.caller_id = Some("34600\\d+".into());
    let everyone = rule(2, "101");
    let to =
        |caller| destination(call_at("2026-11-18", 3, "10:00", caller), vec![vip.clone(), everyone.clone()]);
    assert_eq!(to("34600123456"), Destination::Extension("200".into()));
    assert_eq!(to("34911123456"), Destination::Extension("101".into()));
}

#[test]
fn first_matching_rule_by_order_wins_whatever_the_list_order() {
    let rules = vec![rule(20, "later"), rule(10, "first"), rule(30, "last")];
    assert_eq!(
        destination(call_at("2026-11-18", 3, "10:00", "600"), rules),
        Destination::Extension("first".into())
    );
}

#[test]
fn no_match_goes_to_the_default_destination() {
    let mut r = rule(1, "101");
    r.month = Some("01".into());
    let route = DidRouter::route(call_at("2026-11-18", 3, "10:00", "600"), did(vec![r])).unwrap();
    assert_eq!(route.destination, Destination::Voicemail("main".into()));
    assert_eq!(route.matched_rule, None);
}

#[test]
fn announcement_and_prefix_come_from_the_matched_rule() {
    let mut r = rule(5, "101");
    r.announcement = Some("closed-today".into());
    r.prefix = Some("SALES ".into());
    let route = DidRouter::route(call_at("2026-11-18", 3, "10:00", "600"), did(vec![r])).unwrap();
    assert_eq!(route.announcement.as_deref(), Some("closed-today"));
    assert_eq!(route.caller_id_prefix.as_deref(), Some("SALES "));
    assert_eq!(route.matched_rule, Some(5));
}

#[test]
fn a_bad_rule_is_an_error_naming_the_rule_and_field() {
    let mut r = rule(3, "101");
    r.month = Some("0[3-".into());
    let error = DidRouter::route(call_at("2026-11-18", 3, "10:00", "600"), did(vec![r])).unwrap_err();
    assert!(error.contains("rule 3") && error.contains("month"), "{error}");

    let mut r = rule(4, "101");
    r.start_time = Some("25:00".into());
    let error = DidRouter::route(call_at("2026-11-18", 3, "10:00", "600"), did(vec![r])).unwrap_err();
    assert!(error.contains("rule 4") && error.contains("start-time"), "{error}");
}
