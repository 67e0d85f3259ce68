//! Who rings at one step, as a pure function of the members, the caller's attempt and what
//! the module remembers — so every strategy is a table test.
//!
//! An agent is eligible when available, or in a call when the queue rings busy agents;
//! agents in wrap-up or unavailable never ring. Members are taken in ascending order (then
//! extension, so equal orders are stable). The agents rung at the previous step
//! (`attempt.previous-agents`) are the cursor: linear, grouped linear and round robin
//! continue after them, wrapping around, so agents already tried are skipped until every
//! eligible agent has had a turn.

use guest_sdk::queue_strategy::{Agent, AgentState};

use crate::settings::{Settings, Strategy};

/// What the choice depends on besides the members.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    /// The agents rung at the previous step (empty at the first step).
    pub previous: &'a [String],
    /// Who took the queue's last call (round robin starts after them).
    pub last_agent: Option<&'a str>,
    /// Who last answered this caller, when the queue remembers agents.
    pub remembered: Option<&'a str>,
}

/// The extensions to ring now; empty = nobody can ring, keep waiting.
pub fn choose(settings: &Settings, agents: &[Agent], context: Context<'_>) -> Vec<String> {
    let mut members: Vec<&Agent> = agents.iter().collect();
    members.sort_by(|a, b| (a.order, &a.extension).cmp(&(b.order, &b.extension)));
    members.dedup_by(|a, b| a.extension == b.extension);
    let eligible = |agent: &Agent| match agent.state {
        AgentState::Available => true,
        AgentState::InCall => settings.ring_busy_agents,
        AgentState::WrapUp | AgentState::Unavailable => false,
    };

    let mut previous = context.previous;
    // The remembered agent rings alone first; the step after that is the strategy's first,
    // without them when anyone else can ring.
    let mut left_out = None;
    if let Some(remembered) = context.remembered
        && members.iter().any(|agent| agent.extension == remembered && eligible(agent))
    {
        if previous.is_empty() {
            return vec![remembered.to_string()];
        }
        if previous.len() == 1 && previous[0] == remembered {
            previous = &[];
            left_out = Some(remembered);
        }
    }
    let others_can_ring =
        members.iter().any(|agent| eligible(agent) && Some(agent.extension.as_str()) != left_out);
    let can_ring =
        |agent: &Agent| eligible(agent) && (!others_can_ring || Some(agent.extension.as_str()) != left_out);
    let after = previous.last().map(String::as_str);

    let chosen: Vec<&Agent> = match settings.strategy {
        Strategy::RingAll => members.iter().copied().filter(|agent| can_ring(agent)).collect(),
        Strategy::Linear => next_after(&members, after, can_ring).into_iter().collect(),
        Strategy::RoundRobin => {
            let cursor = after.or(context.last_agent).or_else(|| latest_answerer(&members));
            next_after(&members, cursor, can_ring).into_iter().collect()
        }
        Strategy::GroupedLinear => next_group(&members, after, can_ring),
    };
    chosen.into_iter().map(|agent| agent.extension.clone()).collect()
}

/// The first member after `cursor` (wrapping around; from the start when there is no
/// cursor or it is no member) that `pick` accepts. The cursor itself comes last.
fn next_after<'a>(
    members: &[&'a Agent],
    cursor: Option<&str>,
    pick: impl Fn(&Agent) -> bool,
) -> Option<&'a Agent> {
    let start = cursor
        .and_then(|cursor| members.iter().position(|agent| agent.extension == cursor))
        .map_or(0, |at| at + 1);
    (0..members.len()).map(|i| members[(start + i) % members.len()]).find(|agent| pick(agent))
}

/// Every `pick`ed member of the first group after `cursor`'s group (wrapping around) that
/// has one.
fn next_group<'a>(
    members: &[&'a Agent],
    cursor: Option<&str>,
    pick: impl Fn(&Agent) -> bool,
) -> Vec<&'a Agent> {
    let mut groups: Vec<u32> = members.iter().map(|agent| agent.group).collect();
    groups.sort_unstable();
    groups.dedup();
    let start = cursor
        .and_then(|cursor| members.iter().find(|agent| agent.extension == cursor))
        .and_then(|agent| groups.iter().position(|group| *group == agent.group))
        .map_or(0, |at| at + 1);
    for i in 0..groups.len() {
        let group = groups[(start + i) % groups.len()];
        let chosen: Vec<&Agent> =
            members.iter().copied().filter(|agent| agent.group == group && pick(agent)).collect();
        if !chosen.is_empty() {
            return chosen;
        }
    }
    Vec::new()
}

/// The member who answered most recently, by the host's own record.
fn latest_answerer<'a>(members: &[&'a Agent]) -> Option<&'a str> {
    members
        .iter()
        .filter_map(|agent| Some((agent.last_answered_ms?, agent.extension.as_str())))
        .max()
        .map(|(_, extension)| extension)
}
