//! The queue decision end to end: the standard `queue-strategy` module run through the
//! sandbox, what the host does with its plan, and the fallback when the module fails.

use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::routing::queue::stats::QueueStats;
use crate::sandbox::Sandbox;
use crate::sandbox::counters::Counters;
use crate::security::Guard;
use crate::sip::registrar::service::Registrar;
use crate::store::records::RingStrategy;
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
        queue_stats: QueueStats::new(store.clone()),
        events: Default::default(),
        rooms: Default::default(),
        store,
    }
}

/// Company "acme", with a generous deadline so a slow debug build never times out.
fn company(app: &App) -> Company {
    let company: Company = serde_json::from_value(json!({
        "id": "acme", "name": "Acme", "max_extensions": 10, "time_zone": "Europe/Madrid",
        "sip_domain": "acme.test", "trunk": null, "secondary_trunk": null,
        "decision_deadline_ms": 1000, "decision_memory_mib": 16, "created_at": "2026-01-01T00:00:00Z"
    }))
    .unwrap();
    app.store.write(|tx| tx.put(&COMPANIES, "acme", &company)).unwrap();
    company
}

/// Queue "sales" (number 500) of 101, 102 (order 1) and 103 (order 2), 15 s steps.
fn queue(app: &App, strategy: RingStrategy) -> Queue {
    let queue = Queue { strategy, ..Queue::for_tests("sales", &[("103", 2), ("101", 1), ("102", 1)]) };
    app.store.write(|tx| tx.put(&QUEUES, &company_key("acme", "sales"), &queue)).unwrap();
    queue
}

fn call(caller: &str) -> CallInput {
    serde_json::from_value(json!({
        "call_id": "call-1", "company": "acme", "caller": caller, "called": "500",
        "direction": "inbound", "at": "2026-11-18T09:30:00Z", "time_zone": "Europe/Madrid",
        "random_seed": 7,
    }))
    .unwrap()
}

/// Every member available except those listed in `states`.
fn agents(app: &App, queue: &Queue, states: &[(&str, AgentState)]) -> Vec<AgentView> {
    super::agents(app, queue, |member| {
        states
            .iter()
            .find(|(extension, _)| *extension == member.extension)
            .map_or(AgentState::Available, |s| s.1)
    })
}

fn step(number: u32, previous: &[&str]) -> Attempt {
    Attempt {
        step: number,
        waited: Duration::from_secs(u64::from(number) * 15),
        previous_agents: previous.iter().map(|s| s.to_string()).collect(),
    }
}

fn ring(
    app: &App,
    company: &Company,
    queue: &Queue,
    caller: &str,
    agents: &[AgentView],
    attempt: &Attempt,
) -> Vec<String> {
    let plan = select(app, company, queue, &call(caller), agents, attempt);
    assert_eq!(plan.ring_for, Duration::from_secs(15));
    plan.agents
}

fn failed_audits(app: &App) -> Vec<crate::store::records::AuditEntry> {
    let entries = app.store.read(|r| recent_audit(r, Some("acme"), 100)).unwrap();
    entries.into_iter().filter(|entry| entry.action == "decision.failed").collect()
}

#[test]
fn queues_are_found_by_name_and_by_number() {
    let app = app();
    queue(&app, RingStrategy::RingAll);
    assert_eq!(find_by_name(&app, "acme", "sales").unwrap().unwrap().number, "500");
    assert_eq!(find_by_number(&app, "acme", "500").unwrap().unwrap().name, "sales");
    assert!(find_by_name(&app, "acme", "support").unwrap().is_none());
    assert!(find_by_number(&app, "acme", "501").unwrap().is_none());
    assert!(find_by_number(&app, "globex", "500").unwrap().is_none(), "another company's queue");
}

#[test]
fn the_standard_module_rings_all_available_members() {
    let app = app();
    let company = company(&app);
    let queue = queue(&app, RingStrategy::RingAll);
    let agents = agents(&app, &queue, &[("102", AgentState::InCall)]);
    assert_eq!(ring(&app, &company, &queue, "600111222", &agents, &step(0, &[])), ["101", "103"]);
    assert!(failed_audits(&app).is_empty());
}

#[test]
fn the_standard_module_rings_linear_and_grouped_steps_through_the_sandbox() {
    let app = app();
    let company = company(&app);
    let linear = queue(&app, RingStrategy::Linear);
    let agents = agents(&app, &linear, &[]);
    assert_eq!(ring(&app, &company, &linear, "600111222", &agents, &step(0, &[])), ["101"]);
    assert_eq!(ring(&app, &company, &linear, "600111222", &agents, &step(1, &["101"])), ["102"]);
    let grouped = queue(&app, RingStrategy::GroupedLinear);
    assert_eq!(ring(&app, &company, &grouped, "600111222", &agents, &step(0, &[])), ["101", "102"]);
    assert_eq!(ring(&app, &company, &grouped, "600111222", &agents, &step(1, &["101", "102"])), ["103"]);
}

#[test]
fn round_robin_and_remember_the_agent_keep_their_state_through_answered() {
    let app = app();
    let company = company(&app);
    let mut queue = queue(&app, RingStrategy::RoundRobin);
    let agents = agents(&app, &queue, &[]);
    assert_eq!(ring(&app, &company, &queue, "600111222", &agents, &step(0, &[])), ["101"]);
    // No runtime here: `answered` runs the module on this thread.
    answered(&app, &company, &queue, &call("600999999"), "101");
    assert_eq!(ring(&app, &company, &queue, "600111222", &agents, &step(0, &[])), ["102"]);

    queue.remember_agent = true;
    answered(&app, &company, &queue, &call("600111222"), "103");
    assert_eq!(ring(&app, &company, &queue, "600111222", &agents, &step(0, &[])), ["103"]);
    assert_eq!(ring(&app, &company, &queue, "600333444", &agents, &step(0, &[])), ["101"]);
    assert!(failed_audits(&app).is_empty());
}

#[test]
fn the_queue_record_overrides_the_strategy_in_its_config() {
    let app = app();
    let mut queue = queue(&app, RingStrategy::Linear);
    queue.config = json!({"strategy": "ring-all", "mine": [1, 2]});
    let config: serde_json::Value = serde_json::from_str(&module_config(&queue)).unwrap();
    assert_eq!(
        config,
        json!({"strategy": "linear", "ring-busy-agents": false, "remember-agent": false, "mine": [1, 2]})
    );
}

#[test]
fn agents_who_are_not_members_never_ring() {
    let app = app();
    let company = company(&app);
    let queue = queue(&app, RingStrategy::RingAll);
    let mut agents = agents(&app, &queue, &[]);
    let mut stranger = agents[0].clone();
    stranger.extension = "999".into();
    agents.push(stranger);
    assert_eq!(ring(&app, &company, &queue, "600111222", &agents, &step(0, &[])), ["101", "102", "103"]);
}

#[test]
fn the_ring_time_stays_within_bounds() {
    let app = app();
    let company = company(&app);
    let mut queue = queue(&app, RingStrategy::RingAll);
    let agents = agents(&app, &queue, &[]);
    queue.step_timeout_seconds = 0;
    assert_eq!(select(&app, &company, &queue, &call("1"), &agents, &step(0, &[])).ring_for, MIN_RING);
    queue.step_timeout_seconds = 3600;
    assert_eq!(select(&app, &company, &queue, &call("1"), &agents, &step(0, &[])).ring_for, MAX_RING);
}

#[test]
fn a_failing_module_rings_every_available_member_and_is_audited() {
    let app = app();
    let company = company(&app);
    let mut queue = queue(&app, RingStrategy::Linear);
    // The standard permissions module does not export queue-strategy.
    queue.module = "permissions".into();
    let agents = agents(&app, &queue, &[("103", AgentState::WrapUp)]);
    let plan = select(&app, &company, &queue, &call("600111222"), &agents, &step(0, &[]));
    assert_eq!(
        plan,
        RingPlan { agents: vec!["101".into(), "102".into()], ring_for: Duration::from_secs(15) }
    );
    let audits = failed_audits(&app);
    assert_eq!(audits.len(), 1);
    assert_eq!(audits[0].entity, "acme/queues/sales");
    assert!(
        audits[0].detail.as_deref().unwrap_or_default().contains("queue-strategy"),
        "{:?}",
        audits[0].detail
    );

    queue.module = "no-such-module".into();
    queue.ring_busy_agents = true;
    let agents = self::agents(&app, &queue, &[("101", AgentState::InCall), ("102", AgentState::Unavailable)]);
    let plan = select(&app, &company, &queue, &call("600111222"), &agents, &step(0, &[]));
    assert_eq!(plan.agents, ["101", "103"]);
    assert_eq!(failed_audits(&app).len(), 2);
}

#[test]
fn agents_carry_their_answers_of_today() {
    let app = app();
    let queue = queue(&app, RingStrategy::RingAll);
    app.queue_stats.answered("acme", "sales", "102", Duration::from_secs(3));
    let agents = agents(&app, &queue, &[]);
    let view = agents.iter().find(|agent| agent.extension == "102").unwrap();
    assert_eq!((view.order, view.group, view.answered_today), (1, 1, 1));
    assert!(view.last_answered_at.is_some());
}
