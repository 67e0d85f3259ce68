//! A caller waiting in a queue (SPEC §4). The host answered the caller and plays the
//! queue's music (its own prompt, else the company's music on hold) while, step after
//! step, the queue's strategy module names the agents to ring and for how long. The
//! first agent to answer is connected; a full queue, or the queue's maximum time, sends
//! the caller to the unanswered destination. Agents in wrap-up, unregistered ones, and
//! (unless the queue says otherwise) agents already in a call are never rung. When the
//! agent hangs up first, the caller goes to the queue's destination after the agent
//! (a survey menu, say), if it has one.

use super::ring::RingPlan;
use super::*;
use crate::routing::queue::stats::UnansweredReason;
use crate::routing::queue::{self as queues, AgentState, Attempt};
use crate::store::records::Queue;

/// How long a step lasts when the strategy rings nobody (everyone busy): the caller keeps
/// waiting and the strategy is asked again.
const IDLE_STEP: Duration = Duration::from_secs(2);

/// Where the caller goes from the queue.
pub(super) enum QueueOutcome {
    /// The call ended in the queue: connected to an agent and over, or abandoned.
    Ended(Ending),
    /// Nobody answered in time, the queue was full, or the agent hung up first.
    Next(Destination),
}

impl Call {
    /// Keep the host-answered caller in `queue` until an agent answers (then the call is
    /// talked through), the caller hangs up, or the queue gives up on it.
    pub(super) async fn wait_in_queue(
        &mut self,
        company: &Company,
        queue: &Queue,
        display: &str,
        caller_id: Option<&str>,
    ) -> Result<QueueOutcome, String> {
        let app = self.engine.app.clone();
        self.record.destination = Some(format!("queue {}", queue.name));
        let unanswered = || queue.unanswered_destination.clone().unwrap_or(Destination::HangUp);
        if queue.max_waiting > 0
            && app.queue_stats.waiting(&company.id, &queue.name) >= queue.max_waiting as usize
        {
            app.queue_stats.unanswered(&company.id, &queue.name, Duration::ZERO, UnansweredReason::Full);
            tracing::info!(queue = %queue.name, "queue full; caller sent to the unanswered destination");
            if let Some(full) = self.prompt(&company.id, crate::prompts::system::QUEUE_FULL)
                && let Err(cause) = self.play_to_end(vec![full]).await
            {
                return Ok(QueueOutcome::Ended(Ending::new(CallStatus::Answered, cause, None)));
            }
            return Ok(QueueOutcome::Next(unanswered()));
        }

        app.queue_stats.joined(&company.id, &queue.name);
        let joined = Instant::now();
        let music = queue
            .music_on_hold
            .as_deref()
            .and_then(|name| self.prompt(&company.id, name))
            .or_else(|| self.prompt(&company.id, crate::prompts::system::MUSIC_ON_HOLD));
        self.play(music.into_iter().collect(), true);
        let host = self.host.as_ref().ok_or_else(|| internal("a queue caller the host did not answer"))?;
        let media = self.media.as_ref().ok_or_else(|| internal("a queue caller without media"))?;
        self.offer = sdp::host_offer(media.local(Side::B), host.codec).to_bytes();
        let from = queue_from(queue, display, caller_id, &company.sip_domain);
        if queue.autoanswer {
            // The de facto auto-answer request phones honour (Call-Info answer-after).
            self.leg_headers = vec![("Call-Info", format!("<sip:{}>;answer-after=0", company.sip_domain))];
        }
        let input = self.call_input(company, caller_id.unwrap_or("anonymous"), &queue.number);
        let deadline = joined + Duration::from_secs(u64::from(queue.max_time_seconds.max(1)));
        let mut attempt = Attempt::default();
        loop {
            let now = Instant::now();
            if now >= deadline {
                app.queue_stats.unanswered(
                    &company.id,
                    &queue.name,
                    joined.elapsed(),
                    UnansweredReason::TimedOut,
                );
                tracing::info!(queue = %queue.name, "nobody answered in the queue's time");
                self.play_silence();
                return Ok(QueueOutcome::Next(unanswered()));
            }
            attempt.waited = joined.elapsed();
            let agents = queues::agents(&app, queue, |member| self.agent_state(company, &member.extension));
            let plan = queues::select(&app, company, queue, &input, &agents, &attempt);
            let ringable: Vec<&String> = plan
                .agents
                .iter()
                .filter(|agent| {
                    let state = agents.iter().find(|a| &a.extension == *agent).map(|a| a.state);
                    match state {
                        Some(AgentState::Available) => true,
                        Some(AgentState::InCall) => queue.ring_busy_agents,
                        _ => false,
                    }
                })
                .collect();
            let targets = self.agent_targets(company, &ringable).map_err(internal)?;
            tracing::debug!(queue = %queue.name, step = attempt.step, agents = ?plan.agents, ?ringable, devices = targets.len(), "queue step");
            let step_end = deadline.min(now + if targets.is_empty() { IDLE_STEP } else { plan.ring_for });
            if targets.is_empty() {
                if let Heard::HungUp(cause) = self.wait_for_queue_step(step_end).await {
                    app.queue_stats.abandoned(&company.id, &queue.name, joined.elapsed());
                    return Ok(QueueOutcome::Ended(Ending::new(CallStatus::Cancelled, cause, None)));
                }
            } else {
                let ring_plan =
                    RingPlan { group_time: None, timeout: step_end.saturating_duration_since(now) };
                // While the agents ring, `*95` + an agent's extension takes the caller.
                let ringing: Vec<&str> = ringable.iter().map(|agent| agent.as_str()).collect();
                self.pickup_slot = Some(self.engine.pickups.open(&company.id, &ringing));
                let rung = self.ring(vec![targets], &from, ring_plan).await;
                self.pickup_slot = None;
                match rung {
                    None => {
                        let agent = self
                            .winner
                            .and_then(|winner| self.legs[winner].extension.clone())
                            .unwrap_or_default();
                        app.queue_stats.answered(&company.id, &queue.name, &agent, joined.elapsed());
                        queues::answered(&app, company, queue, &input, &agent);
                        self.rest_after =
                            Some((agent, Duration::from_secs(u64::from(queue.wrap_up_seconds))));
                        self.leg_headers.clear();
                        // With a destination after the agent, the caller stays when the
                        // agent hangs up, and goes there.
                        self.keep_caller = queue.after_destination.is_some();
                        let ending = self.talk().await;
                        self.keep_caller = false;
                        return Ok(match (&queue.after_destination, self.callee_left) {
                            (Some(after), true) => QueueOutcome::Next(after.clone()),
                            _ => QueueOutcome::Ended(ending),
                        });
                    }
                    Some(ending) if matches!(ending.status, CallStatus::Cancelled | CallStatus::Failed) => {
                        app.queue_stats.abandoned(&company.id, &queue.name, joined.elapsed());
                        return Ok(QueueOutcome::Ended(ending));
                    }
                    // Nobody answered this step: the next one.
                    Some(_) => {}
                }
            }
            attempt.step += 1;
            attempt.previous_agents = plan.agents;
        }
    }

    /// What `extension` is doing, as the strategy sees it.
    fn agent_state(&self, company: &Company, extension: &str) -> AgentState {
        let registered =
            !self.engine.app.registrar.bindings(&company.id, extension, SystemTime::now()).is_empty();
        self.engine.presence.state(&company.id, extension, registered)
    }

    /// Every ringing device of `agents` (by the multi-device rules, all groups at once).
    fn agent_targets(&self, company: &Company, agents: &[&String]) -> Result<Vec<RingTarget>, StoreError> {
        let app = &self.engine.app;
        let mut targets = Vec::new();
        for agent in agents {
            for group in ringing::extension_plan(app, &company.id, agent)? {
                targets.extend(group.iter().map(|b| RingTarget::device(b, agent, &company.sip_domain)));
            }
        }
        Ok(targets)
    }

    /// Wait until `until` with the music playing; only a hang-up interrupts.
    async fn wait_for_queue_step(&mut self, until: Instant) -> Heard {
        loop {
            match self.wait(Some(until)).await {
                Heard::Digit(_) | Heard::PlaybackDone(_) => {}
                other => return other,
            }
        }
    }
}

/// The From agents see: the queue's name before the caller's name when the queue shows it
/// (SPEC §4), so an agent knows a queue call before answering.
fn queue_from(queue: &Queue, display: &str, caller_id: Option<&str>, domain: &str) -> String {
    let display = display.replace('"', "");
    let display = if queue.show_queue_name { format!("{}: {display}", queue.name) } else { display };
    match caller_id {
        Some(user) => format!("\"{display}\" <sip:{user}@{domain}>"),
        None => format!("\"{display}\" <sip:anonymous@anonymous.invalid>"),
    }
}
