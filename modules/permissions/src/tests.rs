//! Table tests of the standard policy, run natively with `cargo test -p permissions`.

use super::*;

const BLOCKING: &str = r#"{"blocked-prefixes": ["00", "0034806", "905"]}"#;

/// A user of extension 101 whose outside calls show the company's main DID.
fn caller(internal_only: bool, outgoing_caller_id: Option<&str>) -> CallerProfile {
    CallerProfile {
        extension: "101".into(),
        role: "user".into(),
        internal_only,
        outgoing_caller_id: outgoing_caller_id.map(str::to_string),
    }
}

/// The verdict as (allowed, dial or reason, caller id), which the table compares.
fn decide(
    caller: CallerProfile,
    dialled: &str,
    kind: DialledKind,
    config: &str,
) -> (bool, String, Option<String>) {
    let call = guest_sdk::testing::outbound_call(&caller.extension, dialled);
    match StandardPermissions::authorize(call, caller, dialled.into(), kind, config.into()) {
        Ok(Verdict::Allow(allowance)) => (true, allowance.dial, allowance.caller_id),
        Ok(Verdict::Deny(reason)) => (false, reason, None),
        Err(error) => panic!("{dialled}: unexpected error {error}"),
    }
}

/// (case, internal-only, outgoing caller id, dialled, kind, config, expected verdict as
/// (allowed, dial or reason, caller id)).
type Case<'a> =
    (&'a str, bool, Option<&'a str>, &'a str, DialledKind, &'a str, (bool, &'a str, Option<&'a str>));

#[test]
fn the_policy_table() {
    use DialledKind::{Emergency, External, Internal};
    let did = Some("34910000000");
    #[rustfmt::skip]
    let table: &[Case] = &[
        ("outside call shows the DID", false, did, "34911234567", External, "{}", (true, "34911234567", did)),
        ("outside call without a DID is anonymous", false, None, "34911234567", External, "{}", (true, "34911234567", None)),
        ("colleague call shows the extension", false, did, "102", Internal, "{}", (true, "102", Some("101"))),
        ("internal-only user calls a colleague", true, did, "102", Internal, BLOCKING, (true, "102", Some("101"))),
        ("internal-only user calls outside", true, did, "34911234567", External, "{}", (false, "internal calls only", None)),
        ("internal-only user calls 112", true, did, "112", Emergency, "{}", (true, "112", did)),
        ("international prefix blocked", false, did, "0044207123456", External, BLOCKING, (false, "blocked prefix 00", None)),
        ("'+' is the international prefix", false, did, "+44207123456", External, BLOCKING, (false, "blocked prefix 00", None)),
        ("premium prefix blocked", false, did, "905123456", External, BLOCKING, (false, "blocked prefix 905", None)),
        ("national number not blocked", false, did, "34911234567", External, BLOCKING, (true, "34911234567", did)),
        ("an extension like a blocked prefix", false, did, "905", Internal, BLOCKING, (true, "905", Some("101"))),
        ("emergency beats a blocking prefix", false, did, "091", Emergency, r#"{"blocked-prefixes": ["0"]}"#, (true, "091", did)),
    ];
    for &(case, internal_only, caller_id, dialled, kind, config, (allowed, text, shown)) in table {
        let got = decide(caller(internal_only, caller_id), dialled, kind, config);
        let expected = (allowed, text.to_string(), shown.map(str::to_string));
        assert_eq!(got, expected, "{case}");
    }
}

#[test]
fn a_number_matching_two_blocked_prefixes_names_the_first_in_the_list() {
    // "00" and "0034806" both match; the reason names the first in the admin's list.
    let (allowed, reason, _) = decide(caller(false, None), "0034806111222", DialledKind::External, BLOCKING);
    assert!(!allowed);
    assert_eq!(reason, "blocked prefix 00");
}

#[test]
fn a_malformed_config_is_an_error_for_the_host_to_handle() {
    for config in ["", "nonsense", "[]", r#"{"blocked-prefixes": "00"}"#] {
        let call = guest_sdk::testing::outbound_call("101", "34911234567");
        let answer = StandardPermissions::authorize(
            call,
            caller(false, None),
            "34911234567".into(),
            DialledKind::External,
            config.into(),
        );
        assert!(answer.is_err(), "{config:?} was accepted");
    }
}

#[test]
fn a_malformed_config_never_stops_an_emergency_call() {
    let (allowed, dial, _) = decide(caller(true, None), "112", DialledKind::Emergency, "nonsense");
    assert!(allowed);
    assert_eq!(dial, "112");
}
