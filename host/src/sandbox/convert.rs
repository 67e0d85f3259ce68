//! Host records to WIT values and back.

use super::bindings::{did_routing as wit_did, permissions as wit_permissions, types as wit};
use super::decision::DecisionError;
use crate::routing::RouteDecision;
use crate::routing::call::{CallInput, Direction, LocalTime};
use crate::routing::permissions::{Caller, DialledKind, Verdict};
use crate::store::records::{Destination, Did, DidRule, Role};

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

pub fn caller_to_wit(caller: &Caller<'_>) -> wit_permissions::CallerProfile {
    wit_permissions::CallerProfile {
        extension: caller.extension.to_string(),
        role: match caller.role {
            Role::User => "user",
            Role::Admin => "admin",
        }
        .to_string(),
        internal_only: caller.internal_only,
        outgoing_caller_id: caller.outgoing_caller_id.map(str::to_string),
    }
}

pub fn dialled_kind_to_wit(kind: DialledKind) -> wit_permissions::DialledKind {
    match kind {
        DialledKind::Internal => wit_permissions::DialledKind::Internal,
        DialledKind::External => wit_permissions::DialledKind::External,
        DialledKind::Emergency => wit_permissions::DialledKind::Emergency,
    }
}

/// Longest number a module may ask the host to dial or to present as caller id.
const MAX_NUMBER_LEN: usize = 64;
/// Longest deny reason kept; a longer one is cut (it is only logged and shown).
const MAX_REASON_LEN: usize = 256;

/// A verdict the host can carry out: the number to dial and the caller id must be short
/// and made of what a SIP URI's user part carries unescaped (letters, digits, `+*#.-_`),
/// so a module can never inject header text through them.
pub fn verdict_from_wit(verdict: wit_permissions::Verdict) -> Result<Verdict, DecisionError> {
    match verdict {
        wit_permissions::Verdict::Allow(allowance) => {
            check_number("dial", &allowance.dial)?;
            if let Some(caller_id) = &allowance.caller_id {
                check_number("caller-id", caller_id)?;
            }
            Ok(Verdict::Allow { dial: allowance.dial, caller_id: allowance.caller_id })
        }
        wit_permissions::Verdict::Deny(mut reason) => {
            if reason.len() > MAX_REASON_LEN {
                let cut = (0..=MAX_REASON_LEN).rev().find(|&i| reason.is_char_boundary(i)).unwrap_or(0);
                reason.truncate(cut);
            }
            // The reason may end up in a SIP Reason header or a log line: one line of text.
            if reason.contains(char::is_control) {
                reason = reason.replace(char::is_control, " ");
            }
            Ok(Verdict::Deny { reason })
        }
    }
}

fn check_number(field: &str, value: &str) -> Result<(), DecisionError> {
    let valid = !value.is_empty()
        && value.len() <= MAX_NUMBER_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'*' | b'#' | b'.' | b'-' | b'_'));
    if valid {
        return Ok(());
    }
    let shown = match value.len() > MAX_NUMBER_LEN {
        true => format!("of {} bytes", value.len()),
        false => format!("{value:?}"),
    };
    Err(DecisionError::InvalidAnswer(format!(
        "{field} {shown} is not a number the host can use (1-{MAX_NUMBER_LEN} letters, digits or +*#.-_)"
    )))
}
