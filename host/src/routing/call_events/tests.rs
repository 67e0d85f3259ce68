//! A call's end told to the company's call-events module: the standard module's
//! missed-call mail reaching a real SMTP server (aiosmtpd) through the `mail` import, and a
//! failing module counted and audited.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::json;

use super::*;
use crate::mail::test_smtp as smtp;
use crate::mail::{MailSettings, Mailer};
use crate::routing::call::Direction;
use crate::sandbox::Sandbox;
use crate::sandbox::counters::Counters;
use crate::security::Guard;
use crate::sip::registrar::service::Registrar;
use crate::store::records::CallStatus;
use crate::store::{Store, recent_audit};

fn app(mail: Mailer) -> App {
    let store = Store::in_memory().unwrap();
    App {
        sandbox: Arc::new(Sandbox::new(store.clone(), None, false).unwrap().with_mailer(mail.clone())),
        counters: Arc::new(Counters::default()),
        registrar: Arc::new(Registrar::new(store.clone())),
        security: Arc::new(Guard::load(store.clone(), Default::default()).unwrap()),
        mail,
        prompts: crate::prompts::Prompts::default(),
        data_dir: None,
        queue_stats: crate::routing::queue::stats::QueueStats::new(store.clone()),
        events: Default::default(),
        rooms: Default::default(),
        store,
    }
}

/// Company "acme" in Madrid; built from JSON so fields other work adds take their defaults.
fn company(app: &App) -> Company {
    let company: Company = serde_json::from_value(json!({
        "id": "acme", "name": "Acme", "max_extensions": 10, "time_zone": "Europe/Madrid",
        "sip_domain": "acme.test", "decision_deadline_ms": 1000, "decision_memory_mib": 16,
        "created_at": Utc::now(),
    }))
    .unwrap();
    app.store.write(|tx| tx.put(&COMPANIES, "acme", &company)).unwrap();
    company
}

fn configure(app: &App, module: &str, config: serde_json::Value) -> CallEventsSettings {
    let settings = CallEventsSettings { module: module.into(), config };
    app.store.write(|tx| tx.put(&CALL_EVENTS, "acme", &settings)).unwrap();
    settings
}

/// A call from 600 to 101 on 2026-11-18 at 09:00 UTC that the caller cancelled.
fn cancelled_call() -> (CallInput, Cdr) {
    let started = "2026-11-18T09:00:00Z".parse().unwrap();
    let call = CallInput {
        call_id: "call-1".into(),
        company: "acme".into(),
        caller: "600".into(),
        caller_name: None,
        called: "101".into(),
        direction: Direction::Internal,
        at: Utc::now(),
        time_zone: "UTC".into(),
        random_seed: Some(7),
    };
    let cdr = Cdr {
        company: "acme".into(),
        id: "call-1-x".into(),
        call_id: "call-1".into(),
        direction: Direction::Internal,
        caller: "600".into(),
        caller_name: None,
        called: "101".into(),
        destination: Some("extension 101".into()),
        status: CallStatus::Cancelled,
        hangup_cause: "caller hung up".into(),
        sip_status: Some(487),
        started_at: started,
        answered_at: None,
        ended_at: started + chrono::Duration::seconds(8),
        ring_ms: 8000,
        talk_s: 0,
        recording: None,
    };
    (call, cdr)
}

#[test]
fn a_cancelled_call_is_mailed_by_the_standard_module_through_a_real_smtp_server() {
    let server = smtp::SmtpServer::start();
    let app = app(Mailer::smtp(&MailSettings::new(server.url(), "pbx@centralita.test")).unwrap());
    company(&app);
    configure(&app, DEFAULT_MODULE, json!({"missed_call_mail": "office@acme.test"}));
    let (call, cdr) = cancelled_call();
    call_ended(&app, call, &cdr);
    let mail = server.wait_for(1, smtp::MAIL_TIMEOUT).remove(0);
    assert_eq!(mail.envelope_to(), "office@acme.test");
    assert_eq!(mail.subject(), "Missed call from 600 to 101");
    // The call's start in the company's zone, not the instant the CallInput was made.
    assert!(mail.text.contains("When: 2026-11-18 10:00:00 Europe/Madrid"), "{}", mail.text);
    assert_eq!(app.counters.get("acme", DEFAULT_MODULE).failures, 0);
}

#[test]
fn a_company_without_call_events_settings_runs_no_module() {
    let app = app(Mailer::disabled());
    company(&app);
    let (call, cdr) = cancelled_call();
    call_ended(&app, call, &cdr);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(app.counters.get("acme", DEFAULT_MODULE).decisions, 0);
}

#[test]
fn a_module_that_cannot_hear_call_ends_is_counted_and_audited() {
    let app = app(Mailer::disabled());
    let company = company(&app);
    let settings = configure(&app, "permissions", json!({}));
    let (call, cdr) = cancelled_call();
    let outcome = tell_ended(&app, &company, &settings, call, &cdr);
    let failure = outcome.failure.expect("permissions exports no call-events");
    assert!(failure.contains("call-events"), "{failure}");
    assert_eq!(app.counters.get("acme", "permissions").failures, 1);
    let audit = app.store.read(|r| recent_audit(r, Some("acme"), 10)).unwrap();
    assert!(
        audit.iter().any(|e| e.action == "decision.failed" && e.entity == "acme/call-events"),
        "{audit:?}"
    );
}

#[test]
fn without_smtp_the_standard_modules_mail_fails_visibly() {
    let app = app(Mailer::disabled());
    let company = company(&app);
    let settings = configure(&app, DEFAULT_MODULE, json!({"missed_call_mail": "office@acme.test"}));
    let (call, cdr) = cancelled_call();
    let outcome = tell_ended(&app, &company, &settings, call, &cdr);
    let failure = outcome.failure.expect("the mail cannot be sent");
    assert!(failure.contains("not configured"), "{failure}");
}
