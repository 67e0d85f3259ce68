//! Queues as the host's call mechanics see them (SPEC.md §4): finding a queue, asking its
//! strategy module who rings at each step, and telling it who answered. The mechanics
//! themselves — waiting callers, music, ringing, timeouts, wrap-up — live with the calls;
//! [`stats`] keeps the figures they report.
//!
//! [`select`] never fails: when the module fails (a trap, the deadline, an error, no such
//! module) the failure is logged, counted and audited and every agent who can ring rings,
//! for the queue's step timeout — a broken strategy must not leave callers waiting.

pub mod stats;

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::call::CallInput;
use super::failure::{decision_scope, log_lines, record_failure, version_label};
use crate::app::App;
use crate::store::records::{Company, Queue, QueueMember};
use crate::store::{QUEUES, Read, StoreError, company_key, company_prefix};

/// Name of the standard queue-strategy module, every queue's default.
pub const DEFAULT_MODULE: &str = "queue-strategy";

/// Shortest and longest a ring step may last, whatever the module says.
pub const MIN_RING: Duration = Duration::from_secs(1);
pub const MAX_RING: Duration = Duration::from_secs(300);

/// What an agent is doing right now (the WIT `agent-state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    /// Logged in and free.
    Available,
    /// On another call.
    InCall,
    /// In the wrap-up time after a queue call.
    WrapUp,
    /// Logged out, no device registered, or paused.
    Unavailable,
}

/// A member of the queue as its strategy sees it (the WIT `agent`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentView {
    /// The agent's extension number.
    pub extension: String,
    /// The member's order in the queue (ascending).
    pub order: u32,
    /// The member's group, for grouped strategies.
    pub group: u32,
    /// What the agent is doing.
    pub state: AgentState,
    /// When the agent last answered a call of this queue.
    pub last_answered_at: Option<DateTime<Utc>>,
    /// Calls of this queue the agent answered today.
    pub answered_today: u32,
}

/// Where a waiting caller is in the queue (the WIT `attempt`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attempt {
    /// 0 for the first ring step, then 1, 2, ...
    pub step: u32,
    /// How long the caller has waited so far.
    pub waited: Duration,
    /// The agents rung at the previous step (empty at the first); the standard strategies
    /// continue after them.
    pub previous_agents: Vec<String>,
}

/// Who rings now (the WIT `ring-plan`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingPlan {
    /// Extensions to ring together; empty = ring nobody this step (keep waiting).
    pub agents: Vec<String>,
    /// How long to ring them before asking again.
    pub ring_for: Duration,
}

/// The queue `name` of `company`.
pub fn find_by_name(app: &App, company: &str, name: &str) -> Result<Option<Queue>, StoreError> {
    app.store.read(|r| r.get(&QUEUES, &company_key(company, name)))
}

/// The queue of `company` whose number is `number`.
pub fn find_by_number(app: &App, company: &str, number: &str) -> Result<Option<Queue>, StoreError> {
    // A company has a handful of queues: a scan is cheaper than keeping a second index.
    let queues = app.store.read(|r| r.scan(&QUEUES, &company_prefix(company)))?;
    Ok(queues.into_iter().find(|queue| queue.number == number))
}

/// The members of `queue` as its strategy sees them, each in the state `state_of` says,
/// with their answers of today from the queue's statistics.
pub fn agents(app: &App, queue: &Queue, state_of: impl Fn(&QueueMember) -> AgentState) -> Vec<AgentView> {
    queue
        .members
        .iter()
        .map(|member| {
            let figures = app.queue_stats.agent(&queue.company, &queue.name, &member.extension);
            AgentView {
                extension: member.extension.clone(),
                order: member.order,
                group: member.order,
                state: state_of(member),
                last_answered_at: figures.last_answered_at,
                answered_today: figures.answered_today,
            }
        })
        .collect()
}

/// The config text the module reads: the queue's `config` object with the queue's own
/// choices written over it (`strategy`, `ring-busy-agents`, `remember-agent`).
pub fn module_config(queue: &Queue) -> String {
    let mut config = match &queue.config {
        serde_json::Value::Object(members) => members.clone(),
        _ => serde_json::Map::new(),
    };
    config.insert("strategy".into(), queue.strategy.module_name().into());
    config.insert("ring-busy-agents".into(), queue.ring_busy_agents.into());
    config.insert("remember-agent".into(), queue.remember_agent.into());
    serde_json::Value::Object(config).to_string()
}

/// Which of `agents` ring for `call` waiting in `queue` at `attempt`, and for how long.
/// Asks the queue's module; drops agents that are not members of the queue and keeps the
/// ring time within [`MIN_RING`]..=[`MAX_RING`]. Never fails: see the module header.
/// Runs the module on this thread (tens of microseconds).
pub fn select(
    app: &App,
    company: &Company,
    queue: &Queue,
    call: &CallInput,
    agents: &[AgentView],
    attempt: &Attempt,
) -> RingPlan {
    let mut version = None;
    let answer = match app.sandbox.resolve(&app.store, &company.id, &queue.module) {
        Err(error) => Err(error.to_string()),
        Ok(module) => {
            version = module.version;
            let mut outcome = app.sandbox.queue_select(
                &module.loaded,
                decision_scope(company, &module),
                call,
                queue,
                agents,
                attempt,
            );
            for line in log_lines(&mut outcome) {
                tracing::debug!(company = %company.id, queue = %queue.name, module = %queue.module, "{line}");
            }
            outcome.answer.map_err(|error| error.to_string())
        }
    };
    match answer {
        Ok(plan) => {
            app.counters.record(&company.id, &queue.module, None);
            members_only(queue, plan)
        }
        Err(failure) => {
            let version = version_label(version);
            tracing::warn!(company = %company.id, queue = %queue.name, module = %queue.module, %version, %failure, "queue strategy failed; ringing every available agent");
            record_failure(
                app,
                &company.id,
                &queue.module,
                &version,
                &failure,
                format!("{}/queues/{}", company.id, queue.name),
                format!("{version} for call {}: {failure}; every available agent rang", call.call_id),
            );
            fallback_plan(queue, agents)
        }
    }
}

/// Tell `queue`'s module that `agent` answered `call`, without waiting for it: the module
/// runs on a blocking thread when a runtime is at hand, else on this one. A failure is
/// logged, counted and audited; nothing else depends on it.
pub fn answered(app: &App, company: &Company, queue: &Queue, call: &CallInput, agent: &str) {
    let (app, company, queue, call, agent) =
        (app.clone(), company.clone(), queue.clone(), call.clone(), agent.to_string());
    let tell = move || tell_answered(&app, &company, &queue, &call, &agent);
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn_blocking(tell)),
        Err(_) => tell(),
    }
}

fn tell_answered(app: &App, company: &Company, queue: &Queue, call: &CallInput, agent: &str) {
    let mut version = None;
    let answer = match app.sandbox.resolve(&app.store, &company.id, &queue.module) {
        Err(error) => Err(error.to_string()),
        Ok(module) => {
            version = module.version;
            let outcome = app.sandbox.queue_answered(
                &module.loaded,
                decision_scope(company, &module),
                call,
                queue,
                agent,
            );
            outcome.answer.map_err(|error| error.to_string())
        }
    };
    match answer {
        Ok(()) => app.counters.record(&company.id, &queue.module, None),
        Err(failure) => {
            let version = version_label(version);
            tracing::warn!(company = %company.id, queue = %queue.name, module = %queue.module, %version, %failure, "queue strategy failed to take note of an answer");
            record_failure(
                app,
                &company.id,
                &queue.module,
                &version,
                &failure,
                format!("{}/queues/{}", company.id, queue.name),
                format!("{version} told call {} was answered by {agent}: {failure}", call.call_id),
            );
        }
    }
}

/// The step timeout within [`MIN_RING`]..=[`MAX_RING`].
fn clamp_ring(ring_for: Duration) -> Duration {
    ring_for.clamp(MIN_RING, MAX_RING)
}

/// `plan` without agents that are not members of `queue` (nor repeats), its ring time
/// clamped.
fn members_only(queue: &Queue, plan: RingPlan) -> RingPlan {
    let members: HashSet<&str> = queue.members.iter().map(|m| m.extension.as_str()).collect();
    let mut seen = HashSet::new();
    let (agents, strangers): (Vec<String>, Vec<String>) = plan
        .agents
        .into_iter()
        .filter(|agent| seen.insert(agent.clone()))
        .partition(|agent| members.contains(agent.as_str()));
    if !strangers.is_empty() {
        tracing::warn!(company = %queue.company, queue = %queue.name, module = %queue.module, ?strangers, "queue strategy named agents that are not members; not ringing them");
    }
    RingPlan { agents, ring_for: clamp_ring(plan.ring_for) }
}

/// When the module failed: every member who is available (or in a call, when the queue
/// rings busy agents), in the members' order, for the step timeout.
fn fallback_plan(queue: &Queue, agents: &[AgentView]) -> RingPlan {
    let members: HashSet<&str> = queue.members.iter().map(|m| m.extension.as_str()).collect();
    let mut seen = HashSet::new();
    let mut ringing: Vec<&AgentView> = agents
        .iter()
        .filter(|agent| match agent.state {
            AgentState::Available => true,
            AgentState::InCall => queue.ring_busy_agents,
            AgentState::WrapUp | AgentState::Unavailable => false,
        })
        .filter(|agent| members.contains(agent.extension.as_str()) && seen.insert(agent.extension.as_str()))
        .collect();
    ringing.sort_by(|a, b| (a.order, &a.extension).cmp(&(b.order, &b.extension)));
    RingPlan {
        agents: ringing.into_iter().map(|agent| agent.extension.clone()).collect(),
        ring_for: clamp_ring(Duration::from_secs(u64::from(queue.step_timeout_seconds))),
    }
}

#[cfg(test)]
mod tests;
