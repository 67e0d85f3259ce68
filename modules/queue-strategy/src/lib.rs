//! The standard queue strategy (SPEC.md §4), installed for every company. The host runs
//! the queue — waiting callers, music, timeouts, wrap-up — and asks this module at every
//! ring step which agents ring and for how long:
//!
//! - `ring-all`: every eligible agent at once;
//! - `linear`: one agent at a time, in the members' order;
//! - `grouped-linear`: the members of one group (same order) together, the next group
//!   after the step timeout;
//! - `round-robin`: one agent at a time, starting after the agent who took the queue's
//!   last call.
//!
//! With "remember the agent", a caller first rings the agent who last answered them, alone.
//! Agents in wrap-up or unavailable never ring; agents in a call ring only when the queue
//! rings busy agents. Settings: [`settings`]; the choice itself: [`strategy`]; what is kept
//! in kv between calls: [`memory`]. Each step rings for the queue's step timeout.

use guest_sdk::queue_strategy::{Agent, Attempt, QueueInfo, QueueStrategy, RingPlan};
use guest_sdk::types::CallContext;

pub mod memory;
pub mod settings;
pub mod strategy;

use settings::{Settings, Strategy};
use strategy::Context;

/// The module's decision type.
pub struct StandardQueue;

impl QueueStrategy for StandardQueue {
    fn select(
        call: CallContext,
        queue: QueueInfo,
        agents: Vec<Agent>,
        attempt: Attempt,
    ) -> Result<RingPlan, String> {
        let settings = Settings::from_json(&queue.config)?;
        let last_agent = match settings.strategy {
            Strategy::RoundRobin => memory::last_agent(&queue.name),
            _ => None,
        };
        let remembered = match settings.remember_agent {
            true => memory::remembered_agent(&queue.name, &call.caller),
            false => None,
        };
        let context = Context {
            previous: &attempt.previous_agents,
            last_agent: last_agent.as_deref(),
            remembered: remembered.as_deref(),
        };
        let agents = strategy::choose(&settings, &agents, context);
        Ok(RingPlan { agents, ring_seconds: queue.ring_seconds })
    }

    fn answered(call: CallContext, queue: QueueInfo, agent: String) {
        // A config the module cannot read still records the last agent: it costs nothing
        // and round robin needs it once the config is fixed.
        let remember = Settings::from_json(&queue.config).is_ok_and(|settings| settings.remember_agent);
        memory::record_answer(&queue.name, &call.caller, &agent, remember);
    }
}

guest_sdk::export_queue_router!(StandardQueue);

#[cfg(test)]
mod tests;
