//! The permissions decision end to end: the company's module in the sandbox, and the
//! host's fail-closed rule when the module fails (with the `mischief` test module).

use std::sync::Arc;

use chrono::Utc;
use serde_json::json;

use super::*;
use crate::audit::Actor;
use crate::sandbox::Sandbox;
use crate::sandbox::counters::Counters;
use crate::security::Guard;
use crate::sip::registrar::service::Registrar;
use crate::store::records::Grants;
use crate::store::{COMPANIES, Store, recent_audit};

const DID: &str = "34910000000";

fn app() -> App {
    let store = Store::in_memory().unwrap();
    App {
        sandbox: Arc::new(Sandbox::new(store.clone(), None, false).unwrap()),
        counters: Arc::new(Counters::default()),
        registrar: Arc::new(Registrar::new(store.clone())),
        security: Arc::new(Guard::load(store.clone(), Default::default()).unwrap()),
        mail: crate::mail::Mailer::disabled(),
        prompts: crate::prompts::Prompts::default(),
        data_dir: None,
        queue_stats: crate::routing::queue::stats::QueueStats::new(store.clone()),
        events: Default::default(),
        rooms: Default::default(),
        store,
    }
}

/// Company "acme" deciding with `module` and `config`, a generous deadline so a slow
/// debug build never times out by accident.
fn company(app: &App, module: &str, config: serde_json::Value) -> Company {
    let company = Company {
        id: "acme".into(),
        name: "Acme".into(),
        max_extensions: 10,
        time_zone: "Europe/Madrid".into(),
        sip_domain: "acme.example.com".into(),
        trunk: None,
        secondary_trunk: None,
        decision_deadline_ms: 1000,
        decision_memory_mib: 16,
        permissions_module: module.into(),
        permissions_config: config,
        recording_retention_days: None,
        recording_quota_mb: None,
        dialling: Default::default(),
        created_at: Utc::now(),
    };
    app.store.write(|tx| tx.put(&COMPANIES, "acme", &company)).unwrap();
    company
}

/// Extension 101, whose outside calls show the company's DID.
fn user(internal_only: bool) -> User {
    User {
        company: "acme".into(),
        extension: "101".into(),
        role: Role::User,
        email: "ana@acme.example".into(),
        full_name: "Ana".into(),
        portal_password_hash: None,
        internal_only,
        mobile: None,
        sip_password: "secret".into(),
        sip_password_expires_at: None,
        outgoing_caller_id: Some(DID.into()),
        recording: Default::default(),
        web_phone_mode: Default::default(),
        created_at: Utc::now(),
    }
}

fn call(dialled: &str) -> CallInput {
    serde_json::from_value(json!({
        "call_id": "call-1",
        "company": "acme",
        "caller": "101",
        "called": dialled,
        "direction": "outbound",
        "at": "2026-11-18T09:30:00Z",
        "time_zone": "Europe/Madrid",
        "random_seed": 7,
    }))
    .unwrap()
}

fn decide(
    app: &App,
    company: &Company,
    caller: &User,
    dialled: &str,
    kind: DialledKind,
) -> PermissionOutcome {
    authorize(app, company, caller, dialled, kind, &call(dialled)).unwrap()
}

fn allowed(dial: &str, caller_id: Option<&str>) -> Verdict {
    Verdict::Allow { dial: dial.into(), caller_id: caller_id.map(str::to_string) }
}

fn denied(reason: &str) -> Verdict {
    Verdict::Deny { reason: reason.into() }
}

/// The bytes of the `mischief` test module, built by the host's build script into
/// `<target>/guests` (this test binary is `<target>/<profile>/deps/…`).
fn mischief_bytes() -> Vec<u8> {
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).unwrap();
    std::fs::read(target.join("guests/wasm32-wasip2/release/mischief.wasm")).expect("mischief was built")
}

/// `app` with `mischief` uploaded to acme as the module "mischief" (it imports mail and
/// http, so the upload grants both).
fn with_mischief(app: &App) -> Company {
    let grants = Grants { mail: true, http_allow: vec!["example.com".into()] };
    let company = company(app, "mischief", json!({}));
    app.sandbox
        .upload(&app.store, &Actor::system(), "acme", "mischief", &mischief_bytes(), grants, true)
        .unwrap();
    company
}

fn failed_audits(app: &App) -> Vec<crate::store::records::AuditEntry> {
    let entries = app.store.read(|r| recent_audit(r, Some("acme"), 100)).unwrap();
    entries.into_iter().filter(|entry| entry.action == "decision.failed").collect()
}

#[test]
fn the_standard_module_allows_an_outside_call_with_the_callers_did() {
    let app = app();
    let acme = company(&app, DEFAULT_MODULE, json!({}));
    let outcome = decide(&app, &acme, &user(false), "34911234567", DialledKind::External);
    assert_eq!(outcome.verdict, allowed("34911234567", Some(DID)));
    assert_eq!(
        (outcome.decided_by, outcome.module.as_str(), outcome.module_version),
        (DecidedBy::Module, "permissions", None)
    );
    assert_eq!(outcome.failure, None);
    assert_eq!(app.counters.get("acme", "permissions").decisions, 1);
}

#[test]
fn a_colleague_call_shows_the_callers_extension() {
    let app = app();
    let acme = company(&app, DEFAULT_MODULE, json!({}));
    let outcome = decide(&app, &acme, &user(true), "102", DialledKind::Internal);
    assert_eq!(outcome.verdict, allowed("102", Some("101")));
}

#[test]
fn an_internal_only_user_cannot_call_outside_but_can_call_112() {
    let app = app();
    let acme = company(&app, DEFAULT_MODULE, json!({}));
    let outside = decide(&app, &acme, &user(true), "34911234567", DialledKind::External);
    assert_eq!(outside.verdict, denied("internal calls only"));
    assert_eq!(outside.decided_by, DecidedBy::Module);
    let emergency = decide(&app, &acme, &user(true), "112", DialledKind::Emergency);
    assert_eq!(emergency.verdict, allowed("112", Some(DID)));
}

#[test]
fn a_blocked_prefix_in_the_companys_config_refuses_the_call() {
    let app = app();
    let acme = company(&app, DEFAULT_MODULE, json!({"blocked-prefixes": ["00", "0034806"]}));
    let outcome = decide(&app, &acme, &user(false), "0044207123456", DialledKind::External);
    assert_eq!(outcome.verdict, denied("blocked prefix 00"));
    assert_eq!(outcome.decided_by, DecidedBy::Module);
    assert!(failed_audits(&app).is_empty());
}

#[test]
fn a_malformed_config_fails_closed_for_outside_calls_only() {
    let app = app();
    let acme = company(&app, DEFAULT_MODULE, json!({"blocked-prefixes": "00"}));
    let outside = decide(&app, &acme, &user(false), "34911234567", DialledKind::External);
    assert_eq!(outside.verdict, denied(FAILED_CLOSED_REASON));
    assert_eq!(outside.decided_by, DecidedBy::Fallback);
    assert!(outside.failure.as_deref().unwrap().contains("blocked-prefixes"), "{:?}", outside.failure);
    let colleague = decide(&app, &acme, &user(false), "102", DialledKind::Internal);
    assert_eq!(colleague.verdict, allowed("102", Some("101")));
    assert_eq!(colleague.decided_by, DecidedBy::Fallback);
}

#[test]
fn a_panicking_module_refuses_outside_calls_allows_colleagues_and_112_and_is_audited() {
    let app = app();
    let acme = with_mischief(&app);
    // Mischief picks its trick from the dialled number: "panic" panics whatever the kind.
    let outside = decide(&app, &acme, &user(false), "panic", DialledKind::External);
    assert_eq!(outside.verdict, denied(FAILED_CLOSED_REASON));
    assert_eq!((outside.decided_by, outside.module_version), (DecidedBy::Fallback, Some(1)));
    assert!(outside.failure.as_deref().unwrap().contains("panicked on purpose"), "{:?}", outside.failure);

    let colleague = decide(&app, &acme, &user(false), "panic", DialledKind::Internal);
    assert_eq!(colleague.verdict, allowed("panic", Some("101")));
    let emergency = decide(&app, &acme, &user(true), "panic", DialledKind::Emergency);
    assert_eq!(emergency.verdict, allowed("panic", Some(DID)));

    let counters = app.counters.get("acme", "mischief");
    assert_eq!((counters.decisions, counters.failures), (3, 3));
    let audits = failed_audits(&app);
    assert_eq!(audits.len(), 3);
    let outside_audit = audits.iter().find(|a| a.detail.as_deref().unwrap().contains("refused")).unwrap();
    assert_eq!(outside_audit.entity, "acme/users/101");
    assert_eq!(outside_audit.actor, "module:mischief");
    assert!(outside_audit.detail.as_deref().unwrap().contains("version 1 for call call-1 to panic"));
}

#[test]
fn an_erroring_timing_out_or_nonsense_answering_module_fails_closed() {
    let app = app();
    let mut acme = with_mischief(&app);
    acme.decision_deadline_ms = 50;
    for (dialled, failure) in
        [("error", "mischief refuses"), ("loop", "deadline"), ("nonsense", "dial \"\" is not a number")]
    {
        let outcome = decide(&app, &acme, &user(false), dialled, DialledKind::External);
        assert_eq!(outcome.verdict, denied(FAILED_CLOSED_REASON), "{dialled}");
        assert!(outcome.failure.as_deref().unwrap().contains(failure), "{dialled}: {:?}", outcome.failure);
    }
}

#[test]
fn a_working_uploaded_module_decides_and_its_verdict_is_carried_out() {
    let app = app();
    let acme = with_mischief(&app);
    let outcome = decide(&app, &acme, &user(false), "deny", DialledKind::External);
    assert_eq!((outcome.verdict, outcome.decided_by), (denied("mischief says no"), DecidedBy::Module));
    let outcome = decide(&app, &acme, &user(false), "34911234567", DialledKind::External);
    assert_eq!(outcome.verdict, allowed("34911234567", Some("mischief")));
}

#[test]
fn a_module_that_is_missing_or_decides_something_else_fails_closed() {
    let app = app();
    for module in ["no-such-module", "did-router"] {
        let acme = company(&app, module, json!({}));
        let outcome = decide(&app, &acme, &user(false), "34911234567", DialledKind::External);
        assert_eq!(outcome.verdict, denied(FAILED_CLOSED_REASON), "{module}");
        assert_eq!(outcome.decided_by, DecidedBy::Fallback);
    }
}

#[test]
fn emergency_numbers_are_classified_before_the_companys_numbers() {
    let everything_internal = |_: &str| true;
    for (number, _) in EMERGENCY_NUMBERS {
        assert_eq!(classify(number, everything_internal), DialledKind::Emergency, "{number}");
    }
    let extensions = |dialled: &str| ["101", "102"].contains(&dialled);
    assert_eq!(classify("102", extensions), DialledKind::Internal);
    assert_eq!(classify("34911234567", extensions), DialledKind::External);
    assert_eq!(classify("1120", extensions), DialledKind::External);
}

#[test]
fn a_stored_company_without_permissions_fields_reads_with_the_standard_policy() {
    let stored = json!({
        "id": "old", "name": "Old", "max_extensions": 5, "time_zone": "UTC",
        "sip_domain": "old.example.com", "trunk": null, "secondary_trunk": null,
        "decision_deadline_ms": 10, "decision_memory_mib": 16, "created_at": "2026-01-01T00:00:00Z",
    });
    let company: Company = serde_json::from_value(stored).unwrap();
    assert_eq!(company.permissions_module, DEFAULT_MODULE);
    assert_eq!(company.permissions_config, json!({}));
}
