//! The call-events decision point: `identify-caller` (who is calling, from a CRM),
//! `on-event` (each call-state event, e.g. for webhooks) and `on-ended` (the call ended,
//! with its CDR as the contract shows it).

use std::sync::Arc;

use super::bindings::exports::centralita::router::call_events as wit;
use super::bindings::types::CallContext;
use super::decision::{DecisionError, Outcome};
use super::{DecisionKind, DecisionScope, LoadedModule, Sandbox, convert};
use crate::events::{CallStateEvent, Contact, EventKind};
use crate::routing::call::{CallInput, Direction, local_time, parse_time_zone};
use crate::store::records::Cdr;

impl Sandbox {
    /// Tell `module` that `call` ended as `cdr` says, with the company's `config`.
    pub fn on_ended(
        &self,
        module: &Arc<LoadedModule>,
        scope: DecisionScope,
        call: &CallInput,
        cdr: &Cdr,
        config: &serde_json::Value,
    ) -> Outcome<()> {
        let (indices, context, seed) = match prepare(module, call) {
            Ok(prepared) => prepared,
            Err(error) => return Outcome::refused(error),
        };
        let wit_cdr = cdr_to_wit(cdr);
        let config = config.to_string();
        self.run(module, scope, call.at.timestamp_millis(), seed, |store, instance| {
            let guest = indices.load(&mut *store, instance)?;
            guest.call_on_ended(&mut *store, &context, &wit_cdr, &config)
        })
    }
}

impl Sandbox {
    /// Ask `module` who `call`'s caller is, with the company's `config`.
    pub fn identify_caller(
        &self,
        module: &Arc<LoadedModule>,
        scope: DecisionScope,
        call: &CallInput,
        config: &serde_json::Value,
    ) -> Outcome<Option<Contact>> {
        let (indices, context, seed) = match prepare(module, call) {
            Ok(prepared) => prepared,
            Err(error) => return Outcome::refused(error),
        };
        let config = config.to_string();
        self.run(module, scope, call.at.timestamp_millis(), seed, |store, instance| {
            let guest = indices.load(&mut *store, instance)?;
            let found = guest.call_identify_caller(&mut *store, &context, &config)?;
            Ok(found.map(|contact| {
                contact.map(|c| Contact { id: c.id, name: c.name, organisation: c.organisation, url: c.url })
            }))
        })
    }

    /// Tell `module` of `event`, with the company's `config`.
    pub fn on_event(
        &self,
        module: &Arc<LoadedModule>,
        scope: DecisionScope,
        event: &CallStateEvent,
        config: &serde_json::Value,
    ) -> Outcome<()> {
        let indices = match guest_indices(module) {
            Ok(indices) => indices,
            Err(error) => return Outcome::refused(error),
        };
        let wit_event = event_to_wit(event);
        let config = config.to_string();
        let seed = rand::random();
        self.run(module, scope, event.at_ms, seed, |store, instance| {
            let guest = indices.load(&mut *store, instance)?;
            guest.call_on_event(&mut *store, &wit_event, &config)
        })
    }
}

/// The module's call-events export. Looked up per call (a few name lookups): every
/// entry point runs off the call's path or once per call, and modules linked before this
/// decision point existed need no new field.
fn guest_indices(module: &LoadedModule) -> Result<wit::GuestIndices, DecisionError> {
    if !module.info.decisions.contains(&DecisionKind::CallEvents) {
        return Err(DecisionError::NotExported(DecisionKind::CallEvents.export_name()));
    }
    wit::GuestIndices::new(&module.pre).map_err(|error| DecisionError::InvalidAnswer(format!("{error:#}")))
}

/// The export, `call` as the contract shows it, and the seed of its randomness.
fn prepare(
    module: &LoadedModule,
    call: &CallInput,
) -> Result<(wit::GuestIndices, CallContext, u64), DecisionError> {
    let indices = guest_indices(module)?;
    let seed = call.random_seed.unwrap_or_else(rand::random);
    let zone = parse_time_zone(&call.time_zone).map_err(|e| DecisionError::InvalidAnswer(e.to_string()))?;
    Ok((indices, convert::call_to_wit(call, local_time(call.at, zone), seed), seed))
}

fn event_to_wit(event: &CallStateEvent) -> wit::CallEvent {
    wit::CallEvent {
        kind: match event.event {
            EventKind::Dialing => wit::EventKind::Dialing,
            EventKind::Ringing => wit::EventKind::Ringing,
            EventKind::Connected => wit::EventKind::Connected,
            EventKind::Held => wit::EventKind::Held,
            EventKind::Resumed => wit::EventKind::Resumed,
            EventKind::TransferPending => wit::EventKind::TransferPending,
            EventKind::Consulting => wit::EventKind::Consulting,
            EventKind::Transferred => wit::EventKind::Transferred,
            EventKind::HungUp => wit::EventKind::HungUp,
        },
        call_id: event.call_id.clone(),
        caller: event.caller.clone(),
        called: event.called.clone(),
        user: Some(event.user.clone()),
        at_ms: event.at_ms,
        cause: event.cause.clone(),
    }
}

fn cdr_to_wit(cdr: &Cdr) -> wit::Cdr {
    let answered = cdr.answered_at.is_some();
    wit::Cdr {
        call_id: cdr.call_id.clone(),
        direction: match cdr.direction {
            Direction::Inbound => super::bindings::types::Direction::Inbound,
            Direction::Outbound => super::bindings::types::Direction::Outbound,
            Direction::Internal => super::bindings::types::Direction::Internal,
        },
        origin: cdr.caller.clone(),
        destination: cdr.called.clone(),
        started_ms: cdr.started_at.timestamp_millis(),
        answered_ms: cdr.answered_at.map(|at| at.timestamp_millis()),
        ended_ms: cdr.ended_at.timestamp_millis(),
        cause: cdr.status.cause().to_string(),
        // The CDR names who took the call as "extension 101"; the contract wants "101".
        answered_by: cdr
            .destination
            .as_deref()
            .filter(|_| answered)
            .and_then(|d| d.strip_prefix("extension "))
            .map(str::to_string),
        queue: None,
        recording: cdr.recording.clone(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use crate::store::records::CallStatus;

    use super::*;

    fn cdr(status: CallStatus, answered: bool) -> Cdr {
        let now = Utc::now();
        Cdr {
            company: "acme".into(),
            id: "c1-x".into(),
            call_id: "c1".into(),
            direction: Direction::Internal,
            caller: "100".into(),
            caller_name: None,
            called: "101".into(),
            destination: Some("extension 101".into()),
            status,
            hangup_cause: "caller hung up".into(),
            sip_status: Some(487),
            started_at: now,
            answered_at: answered.then_some(now),
            ended_at: now,
            ring_ms: 0,
            talk_s: 0,
            recording: None,
        }
    }

    #[test]
    fn a_cancelled_call_reaches_the_module_as_caller_cancel_without_answerer() {
        let wit = cdr_to_wit(&cdr(CallStatus::Cancelled, false));
        assert_eq!(wit.cause, "caller-cancel");
        assert_eq!((wit.origin.as_str(), wit.destination.as_str()), ("100", "101"));
        assert_eq!(wit.answered_ms, None);
        assert_eq!(wit.answered_by, None);
    }

    #[test]
    fn an_answered_call_names_the_extension_that_answered() {
        let wit = cdr_to_wit(&cdr(CallStatus::Answered, true));
        assert_eq!(wit.cause, "normal");
        assert_eq!(wit.answered_by.as_deref(), Some("101"));
    }
}
