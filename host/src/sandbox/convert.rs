//! Host records to WIT values and back.

use super::bindings::{did_routing as wit_did, types as wit};
use crate::routing::RouteDecision;
use crate::routing::call::{CallInput, Direction, LocalTime};
use crate::store::records::{Destination, Did, DidRule};

pub fn destination_to_wit(d: &Destination) -> wit::Destination {
    match d.clone() {
        Destination::Extension(s) => wit::Destination::Extension(s),
        Destination::Queue(s) => wit::Destination::Queue(s),
        Destination::Ivr(s) => wit::Destination::Ivr(s),
        Destination::Voicemail(s) => wit::Destination::Voicemail(s),
        Destination::ExternalNumber(s) => wit::Destination::ExternalNumber(s),
        Destination::Conference(s) => wit::Destination::Conference(s),
        Destination::Module(s) => wit::Destination::Module(s),
        Destination::HangUp => wit::Destination::HangUp,
    }
}

pub fn destination_from_wit(d: wit::Destination) -> Destination {
    match d {
        wit::Destination::Extension(s) => Destination::Extension(s),
        wit::Destination::Queue(s) => Destination::Queue(s),
        wit::Destination::Ivr(s) => Destination::Ivr(s),
        wit::Destination::Voicemail(s) => Destination::Voicemail(s),
        wit::Destination::ExternalNumber(s) => Destination::ExternalNumber(s),
        wit::Destination::Conference(s) => Destination::Conference(s),
        wit::Destination::Module(s) => Destination::Module(s),
        wit::Destination::HangUp => Destination::HangUp,
    }
}

/// The call context of `call` at local time `local`, with randomness `seed`.
pub fn call_to_wit(call: &CallInput, local: LocalTime, seed: u64) -> wit::CallContext {
    wit::CallContext {
        call_id: call.call_id.clone(),
        company: call.company.clone(),
        caller: call.caller.clone(),
        caller_name: call.caller_name.clone(),
        called: call.called.clone(),
        direction: match call.direction {
            Direction::Inbound => wit::Direction::Inbound,
            Direction::Outbound => wit::Direction::Outbound,
            Direction::Internal => wit::Direction::Internal,
        },
        now_ms: call.at.timestamp_millis(),
        local_time: wit::LocalTime {
            year: local.year,
            month: local.month,
            day: local.day,
            weekday: local.weekday,
            hour: local.hour,
            minute: local.minute,
            second: local.second,
            utc_offset_minutes: local.utc_offset_minutes,
        },
        time_zone: call.time_zone.clone(),
        random_seed: seed,
    }
}

/// A stored pattern field for the contract: "" and "." (any value) become none, which
/// costs the guest no allocation.
fn pattern_to_wit(pattern: &str) -> Option<String> {
    let pattern = pattern.trim();
    (!pattern.is_empty() && pattern != ".").then(|| pattern.to_string())
}

fn rule_to_wit(rule: &DidRule) -> wit_did::DidRule {
    wit_did::DidRule {
        order: rule.order,
        year: pattern_to_wit(&rule.year),
        month: pattern_to_wit(&rule.month),
        day: pattern_to_wit(&rule.day),
        weekday: pattern_to_wit(&rule.weekday),
        start_time: rule.start_time.clone(),
        end_time: rule.end_time.clone(),
        caller_id: pattern_to_wit(&rule.caller_id),
        destination: destination_to_wit(&rule.destination),
        announcement: rule.announcement.clone(),
        prefix: rule.prefix.clone(),
    }
}

pub fn did_to_wit(did: &Did) -> wit_did::Did {
    wit_did::Did {
        number: did.number.clone(),
        description: did.description.clone(),
        rules: did.rules.iter().map(rule_to_wit).collect(),
        default_destination: destination_to_wit(&did.default_destination),
        config: did.config.to_string(),
    }
}

pub fn route_from_wit(route: wit_did::RouteDecision) -> RouteDecision {
    RouteDecision {
        destination: destination_from_wit(route.destination),
        announcement: route.announcement,
        caller_id_prefix: route.caller_id_prefix,
        matched_rule: route.matched_rule,
    }
}
