//! Unit tests of the guard: bans from failed authentications, expiry, unban, the
//! whitelist, persistence across a restart and bounded memory.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, SystemTime};

use super::*;
use crate::audit::Actor;
use crate::store::{BANS, Read, Store, recent_audit};

/// Five failures within 60 s ban for an hour (the defaults).
fn guard() -> Guard {
    guard_with(BanSettings::default()).0
}

/// A guard over a fresh store, and that store.
fn guard_with(settings: BanSettings) -> (Guard, Store) {
    let store = Store::in_memory().unwrap();
    (Guard::load(store.clone(), settings).unwrap(), store)
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// `seconds` after a start time fixed for the whole test run (near the real clock, so
/// that [`Guard::admits`], which reads the clock, sees the same bans).
fn at(seconds: u64) -> SystemTime {
    static START: std::sync::OnceLock<SystemTime> = std::sync::OnceLock::new();
    *START.get_or_init(SystemTime::now) + Duration::from_secs(seconds)
}

fn operator() -> Actor {
    Actor { who: "operator".into(), client_ip: None }
}

/// Fail `count` times from `source`, one second apart from `start`; the last answer.
fn fail(guard: &Guard, source: &str, count: u64, start: u64) -> Option<crate::store::records::Ban> {
    (0..count).map(|n| guard.auth_failed(ip(source), "REGISTER 100@acme", at(start + n))).last().flatten()
}

#[test]
fn one_failure_short_of_the_limit_does_not_ban() {
    let guard = guard();
    assert_eq!(fail(&guard, "127.0.0.2", 4, 0), None);
    assert!(guard.admits_at(ip("127.0.0.2"), at(5)));
    assert!(guard.bans(at(5)).is_empty());
}

#[test]
fn the_limit_within_the_window_bans_drops_packets_and_writes_an_audit_entry() {
    let (guard, store) = guard_with(BanSettings::default());
    let ban = fail(&guard, "127.0.0.2", 5, 0).expect("the fifth failure bans");
    assert_eq!(ban.ip, "127.0.0.2");
    assert_eq!(ban.reason, "REGISTER 100@acme");
    assert_eq!(ban.failures, 5);
    let lasts = ban.expires_at.unwrap() - ban.banned_at;
    assert_eq!(lasts, chrono::Duration::hours(1));

    assert!(!guard.admits_at(ip("127.0.0.2"), at(10)));
    assert!(!guard.admits(ip("127.0.0.2")), "admits() reads the clock: within the hour");
    assert!(guard.admits_at(ip("127.0.0.3"), at(10)), "another address is unaffected");
    assert!(!guard.admits_at(ip("::ffff:127.0.0.2"), at(10)), "the IPv4-mapped form is the same host");
    assert_eq!(guard.bans(at(10)), vec![ban.clone()]);

    let stored = store.read(|r| r.get(&BANS, "127.0.0.2")).unwrap();
    assert_eq!(stored, Some(ban));
    let audit = store.read(|r| recent_audit(r, None, 10)).unwrap();
    assert_eq!(audit[0].action, "security.banned");
    assert_eq!(audit[0].entity, "127.0.0.2");
    let detail = audit[0].detail.as_deref().unwrap();
    assert!(detail.contains("REGISTER 100@acme") && detail.contains("5 failed"), "{detail}");
}

#[test]
fn the_limit_spread_over_more_than_the_window_does_not_ban() {
    let guard = guard();
    for n in 0..10 {
        // One failure every 20 s: never five within 60 s.
        assert_eq!(guard.auth_failed(ip("127.0.0.2"), "bad digest", at(n * 20)), None);
    }
    assert!(guard.bans(at(200)).is_empty());
}

#[test]
fn whitelisted_addresses_are_never_banned() {
    let guard = guard();
    guard.whitelist_add(Cidr::parse("127.0.0.0/29").unwrap(), "lab", &operator(), at(0)).unwrap();
    assert_eq!(fail(&guard, "127.0.0.7", 50, 0), None);
    assert!(guard.admits_at(ip("127.0.0.7"), at(60)));
    assert!(fail(&guard, "127.0.0.8", 5, 0).is_some(), "just outside the range");
}

#[test]
fn a_ban_stops_applying_when_it_expires() {
    let store = Store::in_memory().unwrap();
    let guard = Guard::load(store, BanSettings::new(2, 60, 30).unwrap()).unwrap();
    let ban = fail(&guard, "127.0.0.2", 2, 0).unwrap();
    assert!(!guard.admits_at(ip("127.0.0.2"), at(30)));
    assert!(guard.admits_at(ip("127.0.0.2"), at(31)), "30 s after the ban at t=1");
    assert!(guard.bans(at(31)).is_empty());
    assert_eq!(guard.unban(ip("127.0.0.2"), &operator(), at(31)).unwrap(), None, "nothing left to lift");
    assert_eq!(ban.failures, 2);
}

#[test]
fn an_expired_ban_is_cleared_from_the_store_by_the_next_ban() {
    let (guard, store) = guard_with(BanSettings::new(1, 60, 30).unwrap());
    guard.auth_failed(ip("127.0.0.2"), "bad digest", at(0)).unwrap();
    guard.auth_failed(ip("127.0.0.3"), "bad digest", at(100)).unwrap();
    let stored = store.read(|r| r.scan(&BANS, "")).unwrap();
    assert_eq!(stored.iter().map(|b| b.ip.as_str()).collect::<Vec<_>>(), ["127.0.0.3"]);
}

#[test]
fn a_zero_duration_ban_lasts_until_unbanned() {
    let (guard, _) = guard_with(BanSettings::new(1, 60, 0).unwrap());
    let ban = guard.auth_failed(ip("2001:db8::7"), "bad digest", at(0)).unwrap();
    assert_eq!(ban.expires_at, None);
    assert!(!guard.admits_at(ip("2001:db8::7"), at(10 * 365 * 24 * 3600)));
}

#[test]
fn unban_lifts_the_ban_audits_it_and_restarts_the_count() {
    let (guard, store) = guard_with(BanSettings::default());
    fail(&guard, "127.0.0.2", 5, 0).unwrap();
    let lifted = guard.unban(ip("127.0.0.2"), &operator(), at(10)).unwrap().expect("it was banned");
    assert_eq!(lifted.ip, "127.0.0.2");
    assert!(guard.admits_at(ip("127.0.0.2"), at(10)));
    assert!(guard.admits(ip("127.0.0.2")));
    assert_eq!(store.read(|r| r.get(&BANS, "127.0.0.2")).unwrap(), None);
    let audit = store.read(|r| recent_audit(r, None, 1)).unwrap();
    assert_eq!((audit[0].action.as_str(), audit[0].actor.as_str()), ("security.unbanned", "operator"));

    assert_eq!(guard.unban(ip("127.0.0.2"), &operator(), at(11)).unwrap(), None, "no longer banned");
    assert_eq!(fail(&guard, "127.0.0.2", 4, 12), None, "the count started again");
}

#[test]
fn whitelisting_a_range_lifts_the_bans_inside_it() {
    let guard = guard();
    fail(&guard, "127.0.0.2", 5, 0).unwrap();
    fail(&guard, "127.0.1.2", 5, 0).unwrap();
    let added =
        guard.whitelist_add(Cidr::parse("127.0.0.0/24").unwrap(), "office", &operator(), at(10)).unwrap();
    assert_eq!(added.lifted, ["127.0.0.2"]);
    assert_eq!(added.entry.cidr, "127.0.0.0/24");
    assert!(guard.admits_at(ip("127.0.0.2"), at(11)));
    assert!(!guard.admits_at(ip("127.0.1.2"), at(11)));
    assert_eq!(guard.bans(at(11)).len(), 1);
}

#[test]
fn the_whitelist_refuses_duplicates_and_removes_by_range() {
    let guard = guard();
    let range = Cidr::parse("10.0.0.0/8").unwrap();
    guard.whitelist_add(range, "vpn", &operator(), at(0)).unwrap();
    let again = guard.whitelist_add(Cidr::parse("10.1.2.3/8").unwrap(), "vpn", &operator(), at(0));
    assert!(matches!(again, Err(GuardError::AlreadyWhitelisted(cidr)) if cidr == "10.0.0.0/8"));
    assert!(guard.is_whitelisted(ip("10.9.9.9")));

    let removed = guard.whitelist_remove(range, &operator()).unwrap().unwrap();
    assert_eq!(removed.description, "vpn");
    assert!(!guard.is_whitelisted(ip("10.9.9.9")));
    assert!(guard.whitelist().is_empty());
    assert_eq!(guard.whitelist_remove(range, &operator()).unwrap(), None);
}

#[test]
fn bans_and_the_whitelist_survive_a_restart() {
    let store = Store::in_memory().unwrap();
    let settings = BanSettings::default();
    let guard = Guard::load(store.clone(), settings).unwrap();
    let ban = fail(&guard, "127.0.0.2", 5, 0).unwrap();
    guard.whitelist_add(Cidr::parse("2001:db8::/32").unwrap(), "hq", &operator(), at(0)).unwrap();
    drop(guard);

    let restarted = Guard::load(store, settings).unwrap();
    assert_eq!(restarted.bans(at(10)), vec![ban]);
    assert!(!restarted.admits(ip("127.0.0.2")));
    assert!(restarted.is_whitelisted(ip("2001:db8::1")));
    assert_eq!(restarted.whitelist()[0].description, "hq");
}

#[test]
fn bans_that_expired_while_down_are_dropped_at_start() {
    let store = Store::in_memory().unwrap();
    let settings = BanSettings::new(1, 60, 1).unwrap();
    let guard = Guard::load(store.clone(), settings).unwrap();
    // Banned two seconds ago for one second.
    guard.auth_failed(ip("127.0.0.2"), "bad digest", SystemTime::now() - Duration::from_secs(2)).unwrap();
    drop(guard);

    let restarted = Guard::load(store.clone(), settings).unwrap();
    assert!(restarted.admits(ip("127.0.0.2")));
    assert!(store.read(|r| r.scan(&BANS, "")).unwrap().is_empty());
}

#[test]
fn many_failing_addresses_keep_the_failure_table_bounded() {
    let guard = Guard::load_with_capacity(Store::in_memory().unwrap(), BanSettings::default(), 1000).unwrap();
    for n in 0..20_000u32 {
        let source = IpAddr::V4(Ipv4Addr::from(0x7f00_0000 + n));
        assert_eq!(guard.auth_failed(source, "bad digest", at(0)), None);
    }
    assert!(guard.tracked_sources() <= 1000);
    assert!(guard.bans(at(0)).is_empty());
}

#[test]
fn nothing_banned_admits_everyone_without_looking() {
    let guard = guard();
    assert!(guard.admits(ip("127.0.0.1")));
    assert!(guard.admits(ip("::1")));
}
