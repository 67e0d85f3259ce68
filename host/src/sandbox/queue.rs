//! The queue-strategy decision point: asking a module who rings for a waiting caller, and
//! telling it who answered, with the WIT conversions of both.

use std::sync::Arc;

use super::bindings::exports::centralita::router::queue_strategy as wit;
use super::decision::{DecisionError, Outcome};
use super::{DecisionKind, DecisionScope, LoadedModule, Sandbox, convert};
use crate::routing::call::{CallInput, local_time, parse_time_zone};
use crate::routing::queue::{AgentState, AgentView, Attempt, RingPlan, module_config};
use crate::store::records::Queue;

impl Sandbox {
    /// Ask `module` which of `agents` ring for `call` waiting in `queue` at `attempt`. The
    /// plan comes back as the module gave it (the caller checks members and clamps the
    /// ring time).
    pub fn queue_select(
        &self,
        module: &Arc<LoadedModule>,
        scope: DecisionScope,
        call: &CallInput,
        queue: &Queue,
        agents: &[AgentView],
        attempt: &Attempt,
    ) -> Outcome<RingPlan> {
        let wit_agents: Vec<wit::Agent> = agents.iter().map(agent_to_wit).collect();
        let wit_attempt = attempt_to_wit(attempt);
        self.queue_decision(module, scope, call, queue, |guest, store, context, info| {
            let plan = guest.call_select(store, context, info, &wit_agents, &wit_attempt)?;
            Ok(plan.map(plan_from_wit))
        })
    }

    /// Tell `module` that `agent` answered `call` of `queue`.
    pub fn queue_answered(
        &self,
        module: &Arc<LoadedModule>,
        scope: DecisionScope,
        call: &CallInput,
        queue: &Queue,
        agent: &str,
    ) -> Outcome<()> {
        self.queue_decision(module, scope, call, queue, |guest, store, context, info| {
            guest.call_answered(store, context, info, agent)?;
            Ok(Ok(()))
        })
    }

    /// Run `ask` on a fresh instance of `module` with the call's context and the queue as
    /// the WIT shows them.
    fn queue_decision<T>(
        &self,
        module: &Arc<LoadedModule>,
        scope: DecisionScope,
        call: &CallInput,
        queue: &Queue,
        ask: impl FnOnce(
            &wit::Guest,
            &mut wasmtime::Store<super::state::DecisionState>,
            &super::bindings::types::CallContext,
            &wit::QueueInfo,
        ) -> wasmtime::Result<Result<T, String>>,
    ) -> Outcome<T> {
        if !module.info.decisions.contains(&DecisionKind::QueueStrategy) {
            return Outcome::refused(DecisionError::NotExported(DecisionKind::QueueStrategy.export_name()));
        }
        // The export's indices are looked up per decision (a few name lookups) rather than
        // kept in `LoadedModule`: a ring step lasts seconds, so the microseconds do not matter.
        let indices = match wit::GuestIndices::new(&module.pre) {
            Ok(indices) => indices,
            Err(error) => {
                let export = DecisionKind::QueueStrategy.export_name();
                return Outcome::refused(DecisionError::NotExported(format!(
                    "{export} as the contract says: {error:#}"
                )));
            }
        };
        let seed = call.random_seed.unwrap_or_else(rand::random);
        let zone = match parse_time_zone(&call.time_zone) {
            Ok(zone) => zone,
            Err(e) => return Outcome::refused(DecisionError::InvalidAnswer(e.to_string())),
        };
        let context = convert::call_to_wit(call, local_time(call.at, zone), seed);
        let info = queue_to_wit(queue);
        self.run(module, scope, call.at.timestamp_millis(), seed, |store, instance| {
            let guest = indices.load(&mut *store, instance)?;
            ask(&guest, store, &context, &info)
        })
    }
}

fn queue_to_wit(queue: &Queue) -> wit::QueueInfo {
    wit::QueueInfo {
        name: queue.name.clone(),
        number: queue.number.clone(),
        ring_seconds: queue.step_timeout_seconds,
        config: module_config(queue),
    }
}

fn agent_to_wit(agent: &AgentView) -> wit::Agent {
    wit::Agent {
        extension: agent.extension.clone(),
        order: agent.order,
        group: agent.group,
        state: match agent.state {
            AgentState::Available => wit::AgentState::Available,
            AgentState::InCall => wit::AgentState::InCall,
            AgentState::WrapUp => wit::AgentState::WrapUp,
            AgentState::Unavailable => wit::AgentState::Unavailable,
        },
        last_answered_ms: agent.last_answered_at.map(|at| at.timestamp_millis()),
        answered_today: agent.answered_today,
    }
}

fn attempt_to_wit(attempt: &Attempt) -> wit::Attempt {
    wit::Attempt {
        step: attempt.step,
        waited_ms: u64::try_from(attempt.waited.as_millis()).unwrap_or(u64::MAX),
        previous_agents: attempt.previous_agents.clone(),
    }
}

fn plan_from_wit(plan: wit::RingPlan) -> RingPlan {
    RingPlan { agents: plan.agents, ring_for: std::time::Duration::from_secs(u64::from(plan.ring_seconds)) }
}
