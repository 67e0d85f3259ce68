//! Queues (ACD, SPEC.md §4) and their daily statistics. The host runs a queue's mechanics
//! (waiting callers, music, ringing, timeouts, wrap-up); the queue's module (by default
//! the standard `queue-strategy`) chooses who rings at each step.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Destination;

/// Who rings at each step of a queue (SPEC.md §4), as the standard module carries it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RingStrategy {
    /// Every available agent at once.
    #[default]
    RingAll,
    /// One agent at a time, in the members' order.
    Linear,
    /// The members of one group (same order) together, the next group after the step timeout.
    GroupedLinear,
    /// One agent at a time, starting after the agent who took the queue's last call.
    RoundRobin,
}

impl RingStrategy {
    /// The name the strategy module reads in its config, e.g. "grouped-linear".
    pub fn module_name(self) -> &'static str {
        match self {
            RingStrategy::RingAll => "ring-all",
            RingStrategy::Linear => "linear",
            RingStrategy::GroupedLinear => "grouped-linear",
            RingStrategy::RoundRobin => "round-robin",
        }
    }
}

/// An agent of a queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QueueMember {
    /// The agent's extension number.
    pub extension: String,
    /// Ascending ring order; for grouped linear, members of equal order are one group.
    #[serde(default)]
    pub order: u32,
}

/// A queue of a company (SPEC.md §4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Queue {
    /// The company.
    pub company: String,
    /// The name destinations refer to, unique in the company.
    pub name: String,
    /// Dialling or transferring to this number reaches the queue (digits).
    pub number: String,
    /// Most callers waiting at once; one more goes to the unanswered destination. 0 = no limit.
    pub max_waiting: u32,
    /// Seconds a ring step lasts before the next agent, group or priority is tried.
    pub step_timeout_seconds: u32,
    /// Seconds a caller may wait in all before going to the unanswered destination.
    pub max_time_seconds: u32,
    /// Seconds an agent rests after a queue call before ringing again.
    pub wrap_up_seconds: u32,
    /// The agents, in any order (`order` says who rings first).
    pub members: Vec<QueueMember>,
    /// Agents' phones answer queue calls by themselves.
    pub autoanswer: bool,
    /// Agents already in a call ring too.
    pub ring_busy_agents: bool,
    /// The prompt played while callers wait; none = the company's music on hold.
    pub music_on_hold: Option<String>,
    /// A caller first rings the agent who last answered them.
    pub remember_agent: bool,
    /// Agents see the queue's name before the caller id.
    pub show_queue_name: bool,
    /// Where callers go when nobody answered in time or the queue is full; none = hang up.
    pub unanswered_destination: Option<Destination>,
    /// Where the caller goes when the agent hangs up first; none = the call ends.
    pub after_destination: Option<Destination>,
    /// Who rings at each step.
    pub strategy: RingStrategy,
    /// The module that chooses (default "queue-strategy").
    pub module: String,
    /// More settings for the module, a JSON object.
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    /// When the queue was created.
    pub created_at: DateTime<Utc>,
}

impl Queue {
    /// Whether the queue sends callers on to `destination` (unanswered, or after an agent).
    pub fn sends_to(&self, destination: &Destination) -> bool {
        [&self.unanswered_destination, &self.after_destination]
            .into_iter()
            .flatten()
            .any(|d| d == destination)
    }

    /// For tests: queue `name` (number 500) of company acme with `members` (extension,
    /// order), ring all, 15 s steps, 300 s at most, 10 s of wrap-up, everything else off.
    #[cfg(test)]
    pub fn for_tests(name: &str, members: &[(&str, u32)]) -> Queue {
        Queue {
            company: "acme".into(),
            name: name.into(),
            number: "500".into(),
            max_waiting: 0,
            step_timeout_seconds: 15,
            max_time_seconds: 300,
            wrap_up_seconds: 10,
            members: members
                .iter()
                .map(|(extension, order)| QueueMember { extension: extension.to_string(), order: *order })
                .collect(),
            autoanswer: false,
            ring_busy_agents: false,
            music_on_hold: None,
            remember_agent: false,
            show_queue_name: true,
            unanswered_destination: None,
            after_destination: None,
            strategy: RingStrategy::RingAll,
            module: "queue-strategy".into(),
            config: serde_json::json!({}),
            created_at: DateTime::UNIX_EPOCH,
        }
    }
}

/// One queue's figures for one day (UTC), kept by `crate::routing::queue::stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueDay {
    /// The day (UTC) the figures are of.
    pub day: NaiveDate,
    /// Callers who reached the queue (waited, or found it full).
    pub offered: u64,
    /// Callers an agent answered.
    pub answered: u64,
    /// Callers who hung up while waiting.
    pub abandoned: u64,
    /// Callers sent on after the queue's maximum time.
    pub timed_out: u64,
    /// Callers turned away because the queue was full.
    pub full: u64,
    /// Sum of the waits of answered callers, in milliseconds.
    pub answered_wait_ms: u64,
    /// Sum of the waits of callers who hung up, in milliseconds.
    pub abandoned_wait_ms: u64,
    /// The longest wait of any caller, in milliseconds.
    pub longest_wait_ms: u64,
    /// Calls answered, per agent extension.
    pub answered_by: BTreeMap<String, u64>,
    /// When each agent last answered.
    pub last_answered: BTreeMap<String, DateTime<Utc>>,
}

impl QueueDay {
    /// Add `other`'s figures to these.
    pub fn merge(&mut self, other: &QueueDay) {
        self.offered += other.offered;
        self.answered += other.answered;
        self.abandoned += other.abandoned;
        self.timed_out += other.timed_out;
        self.full += other.full;
        self.answered_wait_ms += other.answered_wait_ms;
        self.abandoned_wait_ms += other.abandoned_wait_ms;
        self.longest_wait_ms = self.longest_wait_ms.max(other.longest_wait_ms);
        for (agent, count) in &other.answered_by {
            *self.answered_by.entry(agent.clone()).or_default() += count;
        }
        for (agent, at) in &other.last_answered {
            let last = self.last_answered.entry(agent.clone()).or_insert(*at);
            *last = (*last).max(*at);
        }
    }
}

/// The key of a queue's day row: `company NUL queue NUL YYYY-MM-DD`, so one queue's days
/// are one range in date order.
pub fn queue_day_key(company: &str, queue: &str, day: NaiveDate) -> String {
    format!("{company}\0{queue}\0{}", day.format("%Y-%m-%d"))
}

/// The key prefix of every day row of one queue.
pub fn queue_days_prefix(company: &str, queue: &str) -> String {
    format!("{company}\0{queue}\0")
}
