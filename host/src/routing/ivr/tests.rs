//! IVR steps end to end: the standard `ivr` module in the sandbox, the host's clamps, and
//! the fallback to the no-input destination when the module fails.

use std::sync::Arc;

use chrono::Utc;
use serde_json::json;

use super::*;
use crate::sandbox::Sandbox;
use crate::sandbox::counters::Counters;
use crate::security::Guard;
use crate::sip::registrar::service::Registrar;
use crate::store::records::{AuditEntry, IvrOption};
use crate::store::{COMPANIES, Store, recent_audit};

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

/// Company "acme", with a generous deadline so a slow debug build never times out by accident.
fn company(app: &App) -> Company {
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
        permissions_module: "permissions".into(),
        permissions_config: json!({}),
        recording_retention_days: None,
        recording_quota_mb: None,
        dialling: Default::default(),
        created_at: Utc::now(),
    };
    app.store.write(|tx| tx.put(&COMPANIES, "acme", &company)).unwrap();
    company
}

/// A menu `name` reached on `number` with no keys, stored in acme.
fn bare_menu(app: &App, name: &str, number: &str) -> IvrMenu {
    let menu = IvrMenu {
        company: "acme".into(),
        name: name.into(),
        number: number.into(),
        greeting: None,
        allow_dialing: false,
        options: Vec::new(),
        no_input: None,
        invalid: None,
        timeout_seconds: 5,
        repeats: 2,
        module: "ivr".into(),
        config: json!({}),
        created_at: Utc::now(),
    };
    app.store.write(|tx| tx.put(&IVR_MENUS, &company_key("acme", name), &menu)).unwrap();
    menu
}

/// Menu "main" on 800: greeting "welcome", 1 → menu "sales", invalid → menu "help",
/// no input → menu "operator", repeats 2; the three target menus exist.
fn main_menu(app: &App) -> IvrMenu {
    for (name, number) in [("sales", "801"), ("help", "802"), ("operator", "803")] {
        bare_menu(app, name, number);
    }
    let mut menu = bare_menu(app, "main", "800");
    menu.greeting = Some("welcome".into());
    menu.options = vec![IvrOption { key: "1".into(), destination: Destination::Ivr("sales".into()) }];
    menu.invalid = Some(Destination::Ivr("help".into()));
    menu.no_input = Some(Destination::Ivr("operator".into()));
    app.store.write(|tx| tx.put(&IVR_MENUS, &company_key("acme", "main"), &menu)).unwrap();
    menu
}

fn call() -> CallInput {
    serde_json::from_value(json!({
        "call_id": "call-1",
        "company": "acme",
        "caller": "600111222",
        "called": "800",
        "direction": "inbound",
        "at": "2026-11-18T09:30:00Z",
        "time_zone": "Europe/Madrid",
        "random_seed": 7,
    }))
    .unwrap()
}

fn collected(step: IvrStep) -> Collect {
    match step {
        IvrStep::Collect(collect) => collect,
        IvrStep::Transfer(destination) => panic!("transferred to {destination:?}"),
    }
}

/// Start `menu`, then feed `inputs`, carrying the memo; the outcome of the last step.
fn walk(app: &App, company: &Company, menu: &IvrMenu, inputs: &[IvrInput]) -> StepOutcome {
    let mut outcome = step_outcome(app, company, menu, &call(), &IvrInput::Start, "");
    for input in inputs {
        let memo = collected(outcome.step).memo;
        outcome = step_outcome(app, company, menu, &call(), input, &memo);
    }
    outcome
}

fn digits(entry: &str) -> IvrInput {
    IvrInput::Digits(entry.into())
}

fn failed_audits(app: &App) -> Vec<AuditEntry> {
    let entries = app.store.read(|r| recent_audit(r, Some("acme"), 100)).unwrap();
    entries.into_iter().filter(|entry| entry.action == "decision.failed").collect()
}

#[test]
fn the_start_collects_one_key_with_the_greeting() {
    let app = app();
    let acme = company(&app);
    let menu = main_menu(&app);
    let collect = collected(step(&app, &acme, &menu, &call(), &IvrInput::Start, ""));
    assert_eq!(collect.prompt.as_deref(), Some("welcome"));
    assert_eq!(collect.max_digits, 1);
    assert_eq!(collect.timeout, Duration::from_secs(5));
    assert_eq!(collect.inter_digit_timeout, Duration::from_secs(3));
    assert!(!collect.memo.is_empty());
    assert_eq!(app.counters.get("acme", "ivr").decisions, 1);
}

#[test]
fn a_menu_without_a_greeting_collects_with_the_system_greeting() {
    let app = app();
    let acme = company(&app);
    let menu = bare_menu(&app, "plain", "810");
    let collect = collected(step(&app, &acme, &menu, &call(), &IvrInput::Start, ""));
    assert_eq!(collect.prompt.as_deref(), Some("ivr-default-greeting"));
}

#[test]
fn a_bound_key_transfers_to_its_destination() {
    let app = app();
    let acme = company(&app);
    let menu = main_menu(&app);
    let outcome = walk(&app, &acme, &menu, &[digits("1")]);
    assert_eq!(outcome.step, IvrStep::Transfer(Destination::Ivr("sales".into())));
    assert_eq!((outcome.decided_by, outcome.module_version), (DecidedBy::Module, None));
    assert!(failed_audits(&app).is_empty());
}

#[test]
fn invalid_entries_replay_until_the_repeats_run_out_then_go_to_the_invalid_destination() {
    let app = app();
    let acme = company(&app);
    let menu = main_menu(&app);
    // repeats = 2: the first two invalid entries replay the greeting ...
    let replay = walk(&app, &acme, &menu, &[digits("7"), digits("9")]);
    assert_eq!(collected(replay.step).prompt.as_deref(), Some("welcome"));
    // ... the third leaves for the invalid destination.
    let outcome = walk(&app, &acme, &menu, &[digits("7"), digits("9"), digits("*")]);
    assert_eq!(outcome.step, IvrStep::Transfer(Destination::Ivr("help".into())));
    assert_eq!(outcome.decided_by, DecidedBy::Module);
}

#[test]
fn timeouts_replay_until_the_repeats_run_out_then_go_to_the_no_input_destination() {
    let app = app();
    let acme = company(&app);
    let menu = main_menu(&app);
    let outcome = walk(&app, &acme, &menu, &[IvrInput::NoInput, IvrInput::NoInput, IvrInput::NoInput]);
    assert_eq!(outcome.step, IvrStep::Transfer(Destination::Ivr("operator".into())));
}

#[test]
fn with_dialling_allowed_a_number_goes_to_that_extension_when_it_exists() {
    let app = app();
    let acme = company(&app);
    let mut menu = main_menu(&app);
    menu.allow_dialing = true;
    assert_eq!(collected(step(&app, &acme, &menu, &call(), &IvrInput::Start, "")).max_digits, 3);
    // No extension 102 exists in acme: the answer is unusable and the fallback decides.
    let outcome = walk(&app, &acme, &menu, &[digits("102")]);
    assert_eq!(outcome.step, IvrStep::Transfer(Destination::Ivr("operator".into())));
    assert_eq!(outcome.decided_by, DecidedBy::Fallback);
    assert!(outcome.failure.as_deref().unwrap().contains("no extension \"102\""), "{:?}", outcome.failure);
}

#[test]
fn a_trapping_module_falls_back_to_the_no_input_destination_and_is_audited() {
    let app = app();
    let mut acme = company(&app);
    let mut menu = main_menu(&app);
    // A config larger than the decision's memory: the guest's allocation traps.
    acme.decision_memory_mib = 1;
    menu.config = json!({"padding": "x".repeat(2 * 1024 * 1024)});
    let outcome = step_outcome(&app, &acme, &menu, &call(), &IvrInput::Start, "");
    assert_eq!(outcome.step, IvrStep::Transfer(Destination::Ivr("operator".into())));
    assert_eq!(outcome.decided_by, DecidedBy::Fallback);
    assert!(outcome.failure.as_deref().unwrap().contains("memory"), "{:?}", outcome.failure);

    let counters = app.counters.get("acme", "ivr");
    assert_eq!((counters.decisions, counters.failures), (1, 1));
    let audits = failed_audits(&app);
    assert_eq!(audits.len(), 1);
    assert_eq!(audits[0].entity, "acme/ivr-menus/main");
    assert_eq!(audits[0].actor, "module:ivr");
    let detail = audits[0].detail.as_deref().unwrap();
    assert!(detail.contains("standard for call call-1 on start"), "{detail}");
    assert!(detail.contains("the caller went to IVR \"operator\""), "{detail}");
}

#[test]
fn a_failing_module_without_a_no_input_destination_hangs_up() {
    let app = app();
    let acme = company(&app);
    let mut menu = bare_menu(&app, "plain", "810");
    menu.config = json!({"extension_digits": "three"});
    let outcome = step_outcome(&app, &acme, &menu, &call(), &IvrInput::Start, "");
    assert_eq!(outcome.step, IvrStep::Transfer(Destination::HangUp));
    assert!(outcome.failure.as_deref().unwrap().contains("extension_digits"), "{:?}", outcome.failure);
}

#[test]
fn a_module_that_is_missing_or_decides_something_else_falls_back() {
    let app = app();
    let acme = company(&app);
    let mut menu = main_menu(&app);
    for (module, failure) in [("no-such-module", "no-such-module"), ("did-router", "does not export")] {
        menu.module = module.into();
        let outcome = step_outcome(&app, &acme, &menu, &call(), &IvrInput::Start, "");
        assert_eq!(outcome.step, IvrStep::Transfer(Destination::Ivr("operator".into())), "{module}");
        assert!(outcome.failure.as_deref().unwrap().contains(failure), "{module}: {:?}", outcome.failure);
    }
}

#[test]
fn a_memo_that_is_not_the_modules_falls_back() {
    let app = app();
    let acme = company(&app);
    let menu = main_menu(&app);
    let outcome = step_outcome(&app, &acme, &menu, &call(), &digits("1"), "nonsense");
    assert_eq!(outcome.decided_by, DecidedBy::Fallback);
    assert!(outcome.failure.as_deref().unwrap().contains("memo"), "{:?}", outcome.failure);
}

#[test]
fn what_a_module_asks_for_is_clamped() {
    let greedy = Collect {
        prompt: None,
        max_digits: 1000,
        timeout: Duration::from_secs(3600),
        inter_digit_timeout: Duration::ZERO,
        memo: String::new(),
    };
    let clamped = clamp(greedy);
    assert_eq!(clamped.max_digits, MAX_DIGITS);
    assert_eq!(clamped.timeout, MAX_TIMEOUT);
    assert_eq!(clamped.inter_digit_timeout, MIN_TIMEOUT);
    assert_eq!(clamp(Collect { max_digits: 0, ..clamped }).max_digits, 1);
}

#[test]
fn a_huge_memo_or_a_bad_prompt_name_is_an_unusable_answer() {
    let app = app();
    let collect = |prompt: &str, memo: String| {
        IvrStep::Collect(Collect {
            prompt: Some(prompt.into()),
            max_digits: 1,
            timeout: Duration::from_secs(5),
            inter_digit_timeout: Duration::from_secs(3),
            memo,
        })
    };
    assert!(usable(&app, "acme", collect("welcome", "x".repeat(MAX_MEMO_BYTES))).is_ok());
    let huge = usable(&app, "acme", collect("welcome", "x".repeat(MAX_MEMO_BYTES + 1)));
    assert!(huge.unwrap_err().to_string().contains("memo"));
    let path = usable(&app, "acme", collect("../etc/passwd", String::new()));
    assert!(path.unwrap_err().to_string().contains("not a prompt name"));
}

#[test]
fn menus_are_found_by_name_and_by_number_within_their_company() {
    let app = app();
    company(&app);
    main_menu(&app);
    assert_eq!(find_by_name(&app, "acme", "sales").unwrap().unwrap().number, "801");
    assert_eq!(find_by_number(&app, "acme", "800").unwrap().unwrap().name, "main");
    assert!(find_by_number(&app, "acme", "899").unwrap().is_none());
    assert!(find_by_name(&app, "other", "sales").unwrap().is_none());
}

#[test]
fn an_ivr_destination_exists_only_when_the_menu_does() {
    let app = app();
    company(&app);
    main_menu(&app);
    assert_eq!(missing_destination(&app, "acme", &Destination::Ivr("sales".into())).unwrap(), None);
    let missing = missing_destination(&app, "acme", &Destination::Ivr("nope".into())).unwrap();
    assert!(missing.unwrap().contains("no IVR \"nope\""));
}
