//! Call permissions (SPEC.md §1, §13): before an extension places a call, the company's
//! permissions module (by default the standard `permissions` module) decides whether it
//! may, what is dialled and which caller id is shown. When the module fails — a trap, the
//! deadline, an error, an answer the host cannot use — the failure is logged, counted and
//! audited and the host decides instead: outside calls are refused (a broken policy must
//! not open the trunk to everyone), while calls to colleagues and emergency numbers go
//! ahead (a broken policy must not stop a colleague call or 112).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::call::CallInput;
use super::failure::{decision_scope, log_lines, record_failure, version_label};
use crate::app::App;
use crate::sandbox::registry::RegistryError;
use crate::store::StoreError;
use crate::store::records::{Company, Role, User};

/// Name of the standard permissions module, every company's default.
pub const DEFAULT_MODULE: &str = "permissions";

/// The reason given when an outside call is refused because the module failed.
pub const FAILED_CLOSED_REASON: &str = "permissions module failed";

/// Emergency numbers, always classified as [`DialledKind::Emergency`] even when a company
/// has an extension or alias with the same digits: an emergency call must reach the
/// emergency services. (number, service)
pub const EMERGENCY_NUMBERS: &[(&str, &str)] = &[
    ("112", "European emergency number"),
    ("911", "North American emergency number"),
    ("999", "United Kingdom emergency number"),
    ("061", "Spain: medical emergencies"),
    ("062", "Spain: Guardia Civil"),
    ("080", "Spain: fire brigade"),
    ("085", "Spain: fire brigade (some provinces)"),
    ("091", "Spain: Policía Nacional"),
    ("092", "Spain: Policía Local"),
];

/// What kind of number was dialled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DialledKind {
    /// An extension (or alias) of the caller's company.
    Internal,
    /// A number outside the company.
    External,
    /// An emergency number ([`EMERGENCY_NUMBERS`]).
    Emergency,
}

/// What kind of number `dialled` is: an emergency number, else internal when
/// `is_internal` says it names one of the company's extensions or aliases, else external.
pub fn classify(dialled: &str, is_internal: impl Fn(&str) -> bool) -> DialledKind {
    if EMERGENCY_NUMBERS.iter().any(|(number, _)| *number == dialled) {
        DialledKind::Emergency
    } else if is_internal(dialled) {
        DialledKind::Internal
    } else {
        DialledKind::External
    }
}

/// The calling user as a permissions decision sees them, borrowed from the user record.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    /// The caller's extension number.
    pub extension: &'a str,
    /// The caller's role.
    pub role: Role,
    /// Whether the caller may only call internally.
    pub internal_only: bool,
    /// The caller id for outside calls; none = anonymous.
    pub outgoing_caller_id: Option<&'a str>,
}

impl<'a> From<&'a User> for Caller<'a> {
    fn from(user: &'a User) -> Caller<'a> {
        Caller {
            extension: &user.extension,
            role: user.role,
            internal_only: user.internal_only,
            outgoing_caller_id: user.outgoing_caller_id.as_deref(),
        }
    }
}

/// Everything a permissions module is asked, besides the call itself.
#[derive(Debug, Clone, Copy)]
pub struct PermissionQuery<'a> {
    /// Who calls.
    pub caller: Caller<'a>,
    /// The number they dialled.
    pub dialled: &'a str,
    /// What kind of number it is.
    pub kind: DialledKind,
    /// The policy's settings (the company's `permissions_config`).
    pub config: &'a serde_json::Value,
}

/// What the call may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Place the call to `dial`, presenting `caller_id` (none = anonymous).
    Allow { dial: String, caller_id: Option<String> },
    /// Refuse the call.
    Deny { reason: String },
}

/// Who made a permissions decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DecidedBy {
    /// The company's permissions module.
    Module,
    /// The module failed; the host's fail-closed rule decided.
    Fallback,
}

/// The result of authorising one call.
#[derive(Debug, Clone, Serialize)]
pub struct PermissionOutcome {
    /// What the call may do.
    pub verdict: Verdict,
    /// Who decided.
    pub decided_by: DecidedBy,
    /// The module asked.
    pub module: String,
    /// Its uploaded version; none for the standard module.
    pub module_version: Option<u32>,
    /// Why the module's answer was not used.
    pub failure: Option<String>,
    /// What the module logged.
    pub logs: Vec<String>,
    /// Time the decision took, in microseconds.
    pub elapsed_us: u64,
}

/// May `caller` of `company` dial `dialled` (of `kind`, see [`classify`]) on `call`? Asks
/// the company's permissions module; when it fails, refuses outside calls and lets
/// internal and emergency calls through (see the module header). An error means the
/// database could not be read, not that the module failed.
pub fn authorize(
    app: &App,
    company: &Company,
    caller: &User,
    dialled: &str,
    kind: DialledKind,
    call: &CallInput,
) -> Result<PermissionOutcome, StoreError> {
    let module_name = &company.permissions_module;
    let mut outcome = PermissionOutcome {
        verdict: Verdict::Deny { reason: FAILED_CLOSED_REASON.to_string() },
        decided_by: DecidedBy::Module,
        module: module_name.clone(),
        module_version: None,
        failure: None,
        logs: Vec::new(),
        elapsed_us: 0,
    };
    let query =
        PermissionQuery { caller: Caller::from(caller), dialled, kind, config: &company.permissions_config };

    let answer = match app.sandbox.resolve(&app.store, &company.id, module_name) {
        Err(RegistryError::Store(error)) => return Err(error),
        Err(error) => Err(error.to_string()),
        Ok(module) => {
            outcome.module_version = module.version;
            let mut result =
                app.sandbox.authorize(&module.loaded, decision_scope(company, &module), call, &query);
            outcome.elapsed_us = result.elapsed.as_micros() as u64;
            outcome.logs = log_lines(&mut result);
            result.answer.map_err(|error| error.to_string())
        }
    };

    match answer {
        Ok(verdict) => {
            app.counters.record(&company.id, module_name, None);
            outcome.verdict = verdict;
        }
        Err(failure) => {
            outcome.verdict = fallback_verdict(&query);
            let version = version_label(outcome.module_version);
            let carried_out = match &outcome.verdict {
                Verdict::Allow { .. } => "allowed",
                Verdict::Deny { .. } => "refused",
            };
            tracing::warn!(company = %company.id, caller = %caller.extension, %dialled, module = %module_name, %version, %failure, "permissions module failed; the call was {carried_out}");
            record_failure(
                app,
                &company.id,
                module_name,
                &version,
                &failure,
                format!("{}/users/{}", company.id, caller.extension),
                format!(
                    "{version} for call {} to {dialled}: {failure}; the call was {carried_out}",
                    call.call_id
                ),
            );
            outcome.decided_by = DecidedBy::Fallback;
            outcome.failure = Some(failure);
        }
    }
    Ok(outcome)
}

/// The host's own decision when the module failed: fail closed for outside calls, open
/// for colleagues (showing the caller's extension) and emergencies (showing the caller's
/// configured caller id), as the standard module would.
fn fallback_verdict(query: &PermissionQuery<'_>) -> Verdict {
    let dial = query.dialled.to_string();
    match query.kind {
        DialledKind::External => Verdict::Deny { reason: FAILED_CLOSED_REASON.to_string() },
        DialledKind::Internal => Verdict::Allow { dial, caller_id: Some(query.caller.extension.to_string()) },
        DialledKind::Emergency => {
            Verdict::Allow { dial, caller_id: query.caller.outgoing_caller_id.map(str::to_string) }
        }
    }
}

#[cfg(test)]
mod tests;
