//! The missed-call mail of SPEC.md §13, run natively with `cargo test -p call-events`
//! against the guest SDK's fake host.

use guest_sdk::testing;
use guest_sdk::types::Direction;

use super::*;

/// A call from 600 to extension 101 at the fake host's instant (Wednesday 2026-11-18
/// 10:00 in Madrid) that rang 12 s and ended with `cause`, answered or not.
fn cdr(cause: &str, answered: bool) -> Cdr {
    let started_ms = 1_795_000_000_000;
    Cdr {
        call_id: "call-1".into(),
        direction: Direction::Internal,
        origin: "600".into(),
        destination: "101".into(),
        started_ms,
        answered_ms: answered.then_some(started_ms + 12_000),
        ended_ms: started_ms + 12_000,
        cause: cause.into(),
        answered_by: answered.then(|| "101".to_string()),
        queue: None,
        recording: None,
    }
}

fn call() -> CallContext {
    let mut call = testing::inbound_call("600");
    call.called = "101".into();
    call
}

/// The mails `on_ended` sent for `cdr` with `config`.
fn mails_for(cdr: Cdr, config: &str) -> Vec<Message> {
    testing::reset();
    StandardCallEvents::on_ended(call(), cdr, config.into()).expect("on_ended");
    testing::mails()
}

const OFFICE: &str = r#"{"missed_call_mail": "office@acme.example"}"#;

#[test]
fn a_caller_who_hangs_up_before_anyone_answers_is_mailed_with_the_callers_number() {
    let mails = mails_for(cdr("caller-cancel", false), OFFICE);
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.to, vec!["office@acme.example".to_string()]);
    assert_eq!(mail.subject, "Missed call from 600 to 101");
    assert!(mail.body.contains("From: 600\n"), "{}", mail.body);
    assert!(mail.body.contains("To: 101\n"), "{}", mail.body);
    assert!(mail.body.contains("When: 2026-11-18 10:00:00 Europe/Madrid (UTC+01:00)"), "{}", mail.body);
    assert!(mail.body.contains("Rang for: 12 s"), "{}", mail.body);
    assert!(mail.body.contains("hung up before anyone answered"), "{}", mail.body);
    assert!(mail.attachments.is_empty());
}

#[test]
fn unanswered_and_busy_calls_are_missed_too_but_answered_refused_and_outgoing_ones_are_not() {
    assert_eq!(mails_for(cdr("no-answer", false), OFFICE).len(), 1);
    assert_eq!(mails_for(cdr("busy", false), OFFICE).len(), 1);
    assert!(mails_for(cdr("normal", true), OFFICE).is_empty(), "answered");
    assert!(mails_for(cdr("refused", false), OFFICE).is_empty(), "refused by policy");
    let mut outgoing = cdr("no-answer", false);
    outgoing.direction = Direction::Outbound;
    assert!(mails_for(outgoing, OFFICE).is_empty(), "the company's own outgoing call");
}

#[test]
fn the_callers_name_is_shown_beside_the_number() {
    testing::reset();
    let mut call = call();
    call.caller_name = Some("Ana\r\nBcc: x@evil.example".into());
    StandardCallEvents::on_ended(call, cdr("caller-cancel", false), OFFICE.into()).unwrap();
    let subject = &testing::mails()[0].subject;
    assert!(subject.starts_with("Missed call from Ana  Bcc: x@evil.example (600)"), "{subject}");
    assert!(!subject.contains(['\r', '\n']), "{subject}");
}

#[test]
fn addresses_by_called_number_with_a_catch_all() {
    let config = r#"{"missed_call_mail": {"101": "ana@acme.example", "*": "office@acme.example"}}"#;
    assert_eq!(mails_for(cdr("caller-cancel", false), config)[0].to, vec!["ana@acme.example".to_string()]);
    let mut to_102 = cdr("caller-cancel", false);
    to_102.destination = "102".into();
    assert_eq!(mails_for(to_102.clone(), config)[0].to, vec!["office@acme.example".to_string()]);
    let only_101 = r#"{"missed_call_mail": {"101": "ana@acme.example"}}"#;
    assert!(mails_for(to_102, only_101).is_empty(), "no address for 102");
}

#[test]
fn without_an_address_nothing_is_sent() {
    assert!(mails_for(cdr("caller-cancel", false), "{}").is_empty());
    assert!(mails_for(cdr("caller-cancel", false), "").is_empty());
    assert!(mails_for(cdr("caller-cancel", false), r#"{"missed_call_mail": null, "crm": "x"}"#).is_empty());
}

#[test]
fn a_malformed_config_is_an_error_naming_the_setting() {
    for bad in [
        "[1]",
        "{",
        r#"{"missed_call_mail": 7}"#,
        r#"{"missed_call_mail": ""}"#,
        r#"{"missed_call_mail": {"101": 1}}"#,
    ] {
        testing::reset();
        let error =
            StandardCallEvents::on_ended(call(), cdr("caller-cancel", false), bad.into()).unwrap_err();
        assert!(error.starts_with("config"), "{bad}: {error}");
        assert!(testing::mails().is_empty());
    }
}

fn hung_up_event() -> CallEvent {
    CallEvent {
        kind: EventKind::HungUp,
        call_id: "call-1".into(),
        caller: "600".into(),
        called: "101".into(),
        user: Some("101".into()),
        at_ms: 1_795_000_000_000,
        cause: Some("caller-cancel".into()),
    }
}

#[test]
fn without_webhooks_identify_caller_and_on_event_do_nothing() {
    testing::reset();
    assert!(matches!(StandardCallEvents::identify_caller(call(), OFFICE.into()), Ok(None)));
    assert_eq!(StandardCallEvents::on_event(hung_up_event(), OFFICE.into()), Ok(()));
    assert!(testing::mails().is_empty() && testing::logs().is_empty());
}

#[test]
fn each_event_is_posted_as_json_to_every_webhook() {
    use std::cell::RefCell;
    use std::rc::Rc;
    testing::reset();
    let posted: Rc<RefCell<Vec<(String, String)>>> = Rc::default();
    let seen = posted.clone();
    testing::set_http(move |request| {
        seen.borrow_mut().push((request.url.clone(), String::from_utf8_lossy(&request.body).into_owned()));
        Ok(http::Response { status: 204, headers: Vec::new(), body: Vec::new() })
    });
    let config = r#"{"webhooks": ["http://crm.example/a", "https://hooks.example/b"]}"#;
    assert_eq!(StandardCallEvents::on_event(hung_up_event(), config.into()), Ok(()));
    let posted = posted.borrow();
    assert_eq!(
        posted.iter().map(|(url, _)| url.as_str()).collect::<Vec<_>>(),
        ["http://crm.example/a", "https://hooks.example/b"]
    );
    let body: serde_json::Value = serde_json::from_str(&posted[0].1).expect("JSON");
    assert_eq!(body["event"], "hung_up");
    assert_eq!(body["call_id"], "call-1");
    assert_eq!(body["user"], "101");
    assert_eq!(body["cause"], "caller-cancel");
}

#[test]
fn a_webhook_that_fails_makes_the_event_an_error_for_the_host_to_retry() {
    testing::reset();
    testing::set_http(|request| {
        let status = if request.url.ends_with("/down") { 503 } else { 200 };
        Ok(http::Response { status, headers: Vec::new(), body: Vec::new() })
    });
    let config = r#"{"webhooks": ["http://crm.example/up", "http://crm.example/down"]}"#;
    let error = StandardCallEvents::on_event(hung_up_event(), config.into()).unwrap_err();
    assert!(error.contains("http://crm.example/down: answered 503") && !error.contains("/up"), "{error}");
    let bad = r#"{"webhooks": ["ftp://x"]}"#;
    assert!(StandardCallEvents::on_event(hung_up_event(), bad.into()).unwrap_err().starts_with("config"));
}
