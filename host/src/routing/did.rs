//! Routing a call that arrives on a DID: the unconditional forward, else the DID's module,
//! else — when the module fails or names a destination that does not exist — the DID's
//! fallback destination, with the failure logged, counted and audited.

use serde::Serialize;
use utoipa::ToSchema;

use super::RouteDecision;
use super::call::CallInput;
use super::failure::{decision_scope, log_lines, record_failure, version_label};
use crate::app::App;
use crate::sandbox::decision::DecisionError;
use crate::store::records::{Company, Destination, Did};
use crate::store::{EXTERNAL_NUMBERS, Read, StoreError, USERS, company_key};

/// Who made the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecidedBy {
    /// The DID's unconditional forward; no module was asked.
    Forward,
    /// The DID's module.
    Module,
    /// The module failed; the DID's fallback destination was used.
    Fallback,
}

/// The result of routing one call.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RouteOutcome {
    /// The decision carried out.
    #[serde(flatten)]
    pub decision: RouteDecision,
    /// Who made it.
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

/// Route `call` arriving on `did` of `company`.
pub fn route_did(
    app: &App,
    company: &Company,
    did: &Did,
    call: &CallInput,
) -> Result<RouteOutcome, StoreError> {
    let mut outcome = RouteOutcome {
        decision: RouteDecision {
            destination: did.default_destination.clone(),
            announcement: None,
            caller_id_prefix: None,
            matched_rule: None,
        },
        decided_by: DecidedBy::Module,
        module: did.module.clone(),
        module_version: None,
        failure: None,
        logs: Vec::new(),
        elapsed_us: 0,
    };
    if let Some(forward) = &did.forward {
        outcome.decision.destination = forward.clone();
        outcome.decided_by = DecidedBy::Forward;
        return Ok(outcome);
    }

    let answer = match app.sandbox.resolve(&app.store, &company.id, &did.module) {
        Err(error) => Err(error.to_string()),
        Ok(module) => {
            outcome.module_version = module.version;
            let mut result =
                app.sandbox.route_did(&module.loaded, decision_scope(company, &module), call, did);
            outcome.elapsed_us = result.elapsed.as_micros() as u64;
            outcome.logs = log_lines(&mut result);
            match result.answer {
                Ok(decision) => match missing_destination(app, &company.id, &decision.destination)? {
                    None => Ok(decision),
                    Some(why) => Err(DecisionError::InvalidAnswer(why).to_string()),
                },
                Err(error) => Err(error.to_string()),
            }
        }
    };

    match answer {
        Ok(decision) => {
            app.counters.record(&company.id, &did.module, None);
            outcome.decision = decision;
        }
        Err(failure) => {
            let version = version_label(outcome.module_version);
            tracing::warn!(company = %company.id, did = %did.number, module = %did.module, %version, %failure, "routing module failed; using the fallback destination");
            record_failure(
                app,
                &company.id,
                &did.module,
                &version,
                &failure,
                format!("{}/dids/{}", company.id, did.number),
                format!("{version} for call {}: {failure}", call.call_id),
            );
            outcome.decision.destination =
                did.fallback_destination.clone().unwrap_or_else(|| did.default_destination.clone());
            outcome.decided_by = DecidedBy::Fallback;
            outcome.failure = Some(failure);
        }
    }
    Ok(outcome)
}

/// Why `destination` cannot be used in `company`, or `None` when it exists.
pub fn missing_destination(
    app: &App,
    company: &str,
    destination: &Destination,
) -> Result<Option<String>, StoreError> {
    let exists =
        |found: bool, what: &str, name: &str| (!found).then(|| format!("{company} has no {what} {name:?}"));
    Ok(match destination {
        Destination::HangUp => None,
        Destination::Extension(number) => exists(
            app.store.read(|r| r.get(&USERS, &company_key(company, number)))?.is_some(),
            "extension",
            number,
        ),
        Destination::ExternalNumber(name) => exists(
            app.store.read(|r| r.get(&EXTERNAL_NUMBERS, &company_key(company, name)))?.is_some(),
            "external number",
            name,
        ),
        Destination::Module(name) => {
            exists(app.sandbox.module_exists(&app.store, company, name)?, "module", name)
        }
        Destination::Queue(name) => {
            exists(super::queue::find_by_name(app, company, name)?.is_some(), "queue", name)
        }
        Destination::Ivr(name) => {
            exists(super::ivr::find_by_name(app, company, name)?.is_some(), "IVR", name)
        }
        Destination::Voicemail(name) => {
            exists(crate::voicemail::find_by_name(app, company, name)?.is_some(), "voicemail box", name)
        }
        Destination::Conference(id) => {
            exists(crate::rooms::find_by_id(app, company, id)?.is_some(), "conference room", id)
        }
    })
}
