//! The standard call permissions policy (SPEC.md §1, §13), installed for every company.
//! The host asks it before every call an extension places:
//!
//! 1. An emergency number is always allowed, dialled as is, with the caller's configured
//!    caller id; nothing else is looked at, so not even a broken config can stop it.
//! 2. The config is read ([`policy`]); a malformed one is an error, so the host's fallback
//!    decides and the failure is counted and audited where the admin sees it.
//! 3. A caller marked "internal calls only" may not call outside: deny "internal calls only".
//! 4. An outside number starting with a blocked prefix: deny "blocked prefix P". Prefixes
//!    apply to outside numbers only, so an extension that happens to start with "806"
//!    still reaches its colleague.
//! 5. Anything else is allowed as dialled. Outside, the caller presents their outgoing
//!    caller id (a company DID, or anonymous when none is set); inside, their extension.

use guest_sdk::permissions::{Allowance, CallerProfile, DialledKind, Permissions, Verdict};
use guest_sdk::types::CallContext;

mod json;
pub mod policy;

use policy::Policy;

/// The module's decision type.
pub struct StandardPermissions;

impl Permissions for StandardPermissions {
    fn authorize(
        _call: CallContext,
        caller: CallerProfile,
        dialled: String,
        kind: DialledKind,
        config: String,
    ) -> Result<Verdict, String> {
        if kind == DialledKind::Emergency {
            return Ok(allow(dialled, caller.outgoing_caller_id));
        }
        let policy = Policy::from_json(&config)?;
        if kind == DialledKind::Internal {
            return Ok(allow(dialled, Some(caller.extension)));
        }
        if caller.internal_only {
            return Ok(Verdict::Deny("internal calls only".to_string()));
        }
        if let Some(prefix) = policy.blocked_prefix(&dialled) {
            return Ok(Verdict::Deny(format!("blocked prefix {prefix}")));
        }
        Ok(allow(dialled, caller.outgoing_caller_id))
    }
}

guest_sdk::export_call_policy!(StandardPermissions);

fn allow(dial: String, caller_id: Option<String>) -> Verdict {
    Verdict::Allow(Allowance { dial, caller_id })
}

#[cfg(test)]
mod tests;
