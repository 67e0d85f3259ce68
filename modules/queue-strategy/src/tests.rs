//! Tests of the standard strategies, run natively with `cargo test -p queue-strategy`
//! against the SDK's fake host (its kv is this thread's own).

use guest_sdk::queue_strategy::AgentState::{self, Available, InCall, Unavailable, WrapUp};

use super::*;

/// Member `extension` of order/group `order` in `state`.
fn agent(extension: &str, order: u32, state: AgentState) -> Agent {
    Agent {
        extension: extension.into(),
        order,
        group: order,
        state,
        last_answered_ms: None,
        answered_today: 0,
    }
}

fn queue(config: &str) -> QueueInfo {
    QueueInfo { name: "sales".into(), number: "500".into(), ring_seconds: 15, config: config.into() }
}

fn attempt(step: u32, previous: &[&str]) -> Attempt {
    Attempt {
        step,
        waited_ms: u64::from(step) * 15_000,
        previous_agents: previous.iter().map(|s| s.to_string()).collect(),
    }
}

/// The agents `config`'s strategy rings for caller 600111222 at `step` after `previous`.
fn ring(config: &str, agents: &[Agent], step: u32, previous: &[&str]) -> Vec<String> {
    let call = guest_sdk::testing::inbound_call("600111222");
    match StandardQueue::select(call, queue(config), agents.to_vec(), attempt(step, previous)) {
        Ok(plan) => {
            assert_eq!(plan.ring_seconds, 15, "every step rings for the step timeout");
            plan.agents
        }
        Err(error) => panic!("{config}: unexpected error {error}"),
    }
}

fn answered(config: &str, caller: &str, agent: &str) {
    StandardQueue::answered(guest_sdk::testing::inbound_call(caller), queue(config), agent.into());
}

/// 101 (1), 102 (1), 103 (2), 104 (3): two in the first group.
fn four_available() -> Vec<Agent> {
    vec![
        agent("103", 2, Available),
        agent("101", 1, Available),
        agent("104", 3, Available),
        agent("102", 1, Available),
    ]
}

const RING_ALL: &str = r#"{"strategy": "ring-all"}"#;
const LINEAR: &str = r#"{"strategy": "linear"}"#;
const GROUPED: &str = r#"{"strategy": "grouped_linear"}"#;
const ROUND_ROBIN: &str = r#"{"strategy": "round-robin"}"#;

#[test]
fn ring_all_rings_every_eligible_agent_at_every_step() {
    guest_sdk::testing::reset();
    let agents = vec![
        agent("101", 1, Available),
        agent("102", 2, InCall),
        agent("103", 3, WrapUp),
        agent("104", 4, Unavailable),
        agent("105", 5, Available),
    ];
    assert_eq!(ring(RING_ALL, &agents, 0, &[]), ["101", "105"]);
    assert_eq!(ring(RING_ALL, &agents, 1, &["101", "105"]), ["101", "105"]);
    assert_eq!(ring("", &agents, 0, &[]), ["101", "105"], "ring all is the default");
}

#[test]
fn busy_agents_ring_only_when_the_queue_says_so() {
    guest_sdk::testing::reset();
    let agents = vec![agent("101", 1, InCall), agent("102", 2, WrapUp)];
    assert!(ring(RING_ALL, &agents, 0, &[]).is_empty(), "nobody eligible: keep waiting");
    let busy = r#"{"strategy": "ring-all", "ring-busy-agents": true}"#;
    assert_eq!(ring(busy, &agents, 0, &[]), ["101"], "wrap-up never rings");
}

#[test]
fn linear_rings_one_agent_at_a_time_in_order_and_wraps_around() {
    guest_sdk::testing::reset();
    let agents = four_available();
    assert_eq!(ring(LINEAR, &agents, 0, &[]), ["101"]);
    assert_eq!(ring(LINEAR, &agents, 1, &["101"]), ["102"]);
    assert_eq!(ring(LINEAR, &agents, 2, &["102"]), ["103"]);
    assert_eq!(ring(LINEAR, &agents, 3, &["103"]), ["104"]);
    assert_eq!(ring(LINEAR, &agents, 4, &["104"]), ["101"]);
}

#[test]
fn linear_skips_agents_who_cannot_ring() {
    guest_sdk::testing::reset();
    let mut agents = four_available();
    agents[1].state = WrapUp; // 101
    agents[3].state = InCall; // 102
    assert_eq!(ring(LINEAR, &agents, 0, &[]), ["103"]);
    assert_eq!(ring(LINEAR, &agents, 1, &["103"]), ["104"]);
    assert_eq!(ring(LINEAR, &agents, 2, &["104"]), ["103"], "the only other one was tried: around again");
}

#[test]
fn grouped_linear_rings_a_group_together_then_the_next() {
    guest_sdk::testing::reset();
    let agents = four_available();
    assert_eq!(ring(GROUPED, &agents, 0, &[]), ["101", "102"]);
    assert_eq!(ring(GROUPED, &agents, 1, &["101", "102"]), ["103"]);
    assert_eq!(ring(GROUPED, &agents, 2, &["103"]), ["104"]);
    assert_eq!(ring(GROUPED, &agents, 3, &["104"]), ["101", "102"]);
}

#[test]
fn grouped_linear_passes_over_a_group_with_nobody_to_ring() {
    guest_sdk::testing::reset();
    let mut agents = four_available();
    agents[0].state = Unavailable; // 103, alone in group 2
    agents[3].state = WrapUp; // 102
    assert_eq!(ring(GROUPED, &agents, 0, &[]), ["101"]);
    assert_eq!(ring(GROUPED, &agents, 1, &["101"]), ["104"]);
}

#[test]
fn round_robin_starts_after_the_agent_who_took_the_last_call() {
    guest_sdk::testing::reset();
    let agents = four_available();
    assert_eq!(ring(ROUND_ROBIN, &agents, 0, &[]), ["101"], "no call yet: from the start");
    answered(ROUND_ROBIN, "600999999", "102");
    assert_eq!(ring(ROUND_ROBIN, &agents, 0, &[]), ["103"]);
    assert_eq!(ring(ROUND_ROBIN, &agents, 1, &["103"]), ["104"]);
    assert_eq!(ring(ROUND_ROBIN, &agents, 2, &["104"]), ["101"]);
    answered(ROUND_ROBIN, "600999999", "104");
    assert_eq!(ring(ROUND_ROBIN, &agents, 0, &[]), ["101"]);
}

#[test]
fn round_robin_rings_the_last_agent_when_nobody_else_can() {
    guest_sdk::testing::reset();
    let agents = vec![agent("101", 1, Available), agent("102", 2, Unavailable)];
    answered(ROUND_ROBIN, "600999999", "101");
    assert_eq!(ring(ROUND_ROBIN, &agents, 0, &[]), ["101"]);
}

#[test]
fn round_robin_without_memory_uses_the_hosts_last_answer_times() {
    guest_sdk::testing::reset();
    let mut agents = four_available();
    agents[0].last_answered_ms = Some(1_000); // 103
    agents[1].last_answered_ms = Some(500); // 101
    assert_eq!(ring(ROUND_ROBIN, &agents, 0, &[]), ["104"]);
}

#[test]
fn a_remembered_agent_rings_alone_first_then_the_strategy_without_them() {
    guest_sdk::testing::reset();
    let remember = r#"{"strategy": "ring-all", "remember-agent": true}"#;
    let agents = four_available();
    assert_eq!(ring(remember, &agents, 0, &[]), ["101", "102", "103", "104"], "nobody remembered yet");
    answered(remember, "600111222", "103");
    assert_eq!(ring(remember, &agents, 0, &[]), ["103"]);
    assert_eq!(ring(remember, &agents, 1, &["103"]), ["101", "102", "104"]);
    assert_eq!(ring(remember, &agents, 2, &["101", "102", "104"]), ["101", "102", "103", "104"]);
}

#[test]
fn a_remembered_agent_who_cannot_ring_is_passed_over() {
    guest_sdk::testing::reset();
    let remember = r#"{"strategy": "linear", "remember-agent": true}"#;
    answered(remember, "600111222", "103");
    let mut agents = four_available();
    agents[0].state = InCall; // 103
    assert_eq!(ring(remember, &agents, 0, &[]), ["101"]);
}

#[test]
fn callers_are_remembered_only_when_the_queue_says_so_and_never_anonymous_ones() {
    guest_sdk::testing::reset();
    let agents = four_available();
    answered(LINEAR, "600111222", "103");
    let remember = r#"{"strategy": "linear", "remember-agent": true}"#;
    assert_eq!(ring(remember, &agents, 0, &[]), ["101"], "answered while the queue did not remember");
    answered(remember, "anonymous", "104");
    let call = guest_sdk::testing::inbound_call("anonymous");
    let plan = StandardQueue::select(call, queue(remember), agents, attempt(0, &[])).unwrap();
    assert_eq!(plan.agents, ["101"]);
}

#[test]
fn a_bad_config_is_an_error_the_host_can_fall_back_on() {
    guest_sdk::testing::reset();
    let call = guest_sdk::testing::inbound_call("600111222");
    for config in ["[]", "{", r#"{"strategy": "random"}"#, r#"{"remember-agent": "yes"}"#] {
        let answer = StandardQueue::select(call.clone(), queue(config), four_available(), attempt(0, &[]));
        assert!(answer.is_err(), "{config} was accepted");
    }
}

#[test]
fn members_of_equal_order_ring_in_extension_order() {
    guest_sdk::testing::reset();
    let agents = vec![agent("202", 1, Available), agent("201", 1, Available)];
    assert_eq!(ring(LINEAR, &agents, 0, &[]), ["201"]);
}
