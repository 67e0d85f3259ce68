//! IVR menus (SPEC.md §3) as the media runner sees them: at each step of a caller's walk
//! through a menu the menu's module (by default the standard `ivr`) says whether to play
//! and collect digits or to transfer. What a module asks for is clamped ([`MAX_DIGITS`],
//! [`MAX_TIMEOUT`], [`MAX_MEMO_BYTES`]): a module must not be able to hold a caller
//! forever. When the module fails — a trap, the deadline, an error, an answer the host
//! cannot use — the failure is logged, counted and audited and the caller goes to the
//! menu's no-input destination, else the call hangs up.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::call::CallInput;
use super::did::missing_destination;
use super::failure::{decision_scope, log_lines, record_failure, version_label};
use crate::app::App;
use crate::sandbox::decision::DecisionError;
use crate::store::records::{Company, Destination, IvrMenu};
use crate::store::{IVR_MENUS, Read, StoreError, company_key, company_prefix};

/// Most digits one collect may ask for.
pub const MAX_DIGITS: u32 = 32;
/// Longest wait a collect may ask for, for the first digit and between two digits.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);
/// Shortest wait a collect may ask for: a zero wait would replay a menu as fast as the
/// host can.
pub const MIN_TIMEOUT: Duration = Duration::from_secs(1);
/// Largest memo a module may carry between steps.
pub const MAX_MEMO_BYTES: usize = 4 * 1024;
/// Longest prompt name a collect may ask for (prompt names are 1-64 characters).
const MAX_PROMPT_NAME: usize = 64;

/// What happened since the previous step. JSON: `"start"`, `{"digits": "1"}`, `"no_input"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IvrInput {
    /// The caller just entered the menu.
    Start,
    /// The caller entered these digits (a key, or an extension number).
    Digits(String),
    /// Nothing was entered before the timeout.
    NoInput,
}

/// Play a prompt and collect digits, then step again with what was entered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collect {
    /// The prompt to play first; none = collect in silence.
    pub prompt: Option<String>,
    /// Stop after this many digits (1..=[`MAX_DIGITS`]).
    pub max_digits: u32,
    /// Wait for the first digit after the prompt ends.
    pub timeout: Duration,
    /// Wait allowed between two digits; '#' also ends an entry.
    pub inter_digit_timeout: Duration,
    /// Hand this back unchanged in the next step.
    pub memo: String,
}

/// The next thing to do with the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IvrStep {
    /// Play and collect, then call [`step`] again with the input.
    Collect(Collect),
    /// Leave the menu for a destination.
    Transfer(Destination),
}

/// Who decided a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecidedBy {
    /// The menu's module.
    Module,
    /// The module failed; the menu's no-input destination (else hang-up) was used.
    Fallback,
}

/// One step and how it was decided (what the dry run shows).
#[derive(Debug, Clone, PartialEq)]
pub struct StepOutcome {
    /// The step to carry out.
    pub step: IvrStep,
    /// Who decided it.
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

/// The menu `name` of `company`.
pub fn find_by_name(app: &App, company: &str, name: &str) -> Result<Option<IvrMenu>, StoreError> {
    app.store.read(|r| r.get(&IVR_MENUS, &company_key(company, name)))
}

/// The menu of `company` that dialling `number` reaches.
pub fn find_by_number(app: &App, company: &str, number: &str) -> Result<Option<IvrMenu>, StoreError> {
    let menus = app.store.read(|r| r.scan(&IVR_MENUS, &company_prefix(company)))?;
    Ok(menus.into_iter().find(|menu| menu.number == number))
}

/// The next step of `call` in `menu` of `company` after `input`, `memo` being what the
/// previous collect carried ("" at the start).
///
/// Never fails: when the module fails (trap, deadline, error, unusable answer) the failure
/// is logged, counted and audited (routing/failure.rs) and the host falls back to the
/// menu's no-input destination, else hang-up.
pub fn step(
    app: &App,
    company: &Company,
    menu: &IvrMenu,
    call: &CallInput,
    input: &IvrInput,
    memo: &str,
) -> IvrStep {
    step_outcome(app, company, menu, call, input, memo).step
}

/// [`step`], with who decided and why (for the dry run).
pub fn step_outcome(
    app: &App,
    company: &Company,
    menu: &IvrMenu,
    call: &CallInput,
    input: &IvrInput,
    memo: &str,
) -> StepOutcome {
    let mut outcome = StepOutcome {
        step: IvrStep::Transfer(fallback_destination(menu)),
        decided_by: DecidedBy::Module,
        module: menu.module.clone(),
        module_version: None,
        failure: None,
        logs: Vec::new(),
        elapsed_us: 0,
    };
    let answer = match app.sandbox.resolve(&app.store, &company.id, &menu.module) {
        Err(error) => Err(error.to_string()),
        Ok(module) => {
            outcome.module_version = module.version;
            let mut result = app.sandbox.ivr_step(
                &module.loaded,
                decision_scope(company, &module),
                call,
                menu,
                input,
                memo,
            );
            outcome.elapsed_us = result.elapsed.as_micros() as u64;
            outcome.logs = log_lines(&mut result);
            match result.answer {
                Ok(step) => usable(app, &company.id, step).map_err(|why| why.to_string()),
                Err(error) => Err(error.to_string()),
            }
        }
    };

    match answer {
        Ok(step) => {
            app.counters.record(&company.id, &menu.module, None);
            outcome.step = step;
        }
        Err(failure) => {
            let version = version_label(outcome.module_version);
            let destination = fallback_destination(menu);
            tracing::warn!(company = %company.id, menu = %menu.name, module = %menu.module, %version, %failure, ?destination, "IVR module failed; the caller goes to the menu's no-input destination");
            record_failure(
                app,
                &company.id,
                &menu.module,
                &version,
                &failure,
                format!("{}/ivr-menus/{}", company.id, menu.name),
                format!(
                    "{version} for call {} on {}: {failure}; the caller went to {}",
                    call.call_id,
                    describe(input),
                    describe_destination(&destination)
                ),
            );
            outcome.decided_by = DecidedBy::Fallback;
            outcome.failure = Some(failure);
        }
    }
    outcome
}

/// Where a caller goes when the module failed: the no-input destination, else hang-up.
fn fallback_destination(menu: &IvrMenu) -> Destination {
    menu.no_input.clone().unwrap_or(Destination::HangUp)
}

/// The module's step made safe to carry out: a collect clamped to the host's limits, a
/// transfer only to a destination that exists.
fn usable(app: &App, company: &str, step: IvrStep) -> Result<IvrStep, DecisionError> {
    let invalid = |why: String| DecisionError::InvalidAnswer(why);
    match step {
        IvrStep::Transfer(destination) => match missing_destination(app, company, &destination) {
            Ok(None) => Ok(IvrStep::Transfer(destination)),
            Ok(Some(why)) => Err(invalid(why)),
            Err(error) => Err(invalid(format!("cannot check the destination: {error}"))),
        },
        IvrStep::Collect(collect) => {
            if collect.memo.len() > MAX_MEMO_BYTES {
                return Err(invalid(format!(
                    "memo of {} bytes; the limit is {MAX_MEMO_BYTES}",
                    collect.memo.len()
                )));
            }
            if let Some(prompt) = &collect.prompt
                && !is_prompt_name(prompt)
            {
                let shown: String = prompt.chars().take(MAX_PROMPT_NAME).collect();
                return Err(invalid(format!("prompt {shown:?} is not a prompt name")));
            }
            Ok(IvrStep::Collect(clamp(collect)))
        }
    }
}

/// `collect` within the host's limits.
pub fn clamp(collect: Collect) -> Collect {
    Collect {
        max_digits: collect.max_digits.clamp(1, MAX_DIGITS),
        timeout: collect.timeout.clamp(MIN_TIMEOUT, MAX_TIMEOUT),
        inter_digit_timeout: collect.inter_digit_timeout.clamp(MIN_TIMEOUT, MAX_TIMEOUT),
        ..collect
    }
}

/// 1-64 letters, digits, '-', '_', '.': what a prompt may be called.
fn is_prompt_name(name: &str) -> bool {
    (1..=MAX_PROMPT_NAME).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// An input as audit details show it.
fn describe(input: &IvrInput) -> String {
    match input {
        IvrInput::Start => "start".to_string(),
        IvrInput::Digits(digits) => format!("digits {digits:?}"),
        IvrInput::NoInput => "no input".to_string(),
    }
}

/// A destination as audit details show it, e.g. `queue "sales"`.
fn describe_destination(destination: &Destination) -> String {
    match destination {
        Destination::HangUp => "hang-up".to_string(),
        Destination::Extension(name) => format!("extension {name:?}"),
        Destination::Queue(name) => format!("queue {name:?}"),
        Destination::Ivr(name) => format!("IVR {name:?}"),
        Destination::Voicemail(name) => format!("voicemail box {name:?}"),
        Destination::ExternalNumber(name) => format!("external number {name:?}"),
        Destination::Conference(name) => format!("conference room {name:?}"),
        Destination::Module(name) => format!("module {name:?}"),
    }
}

#[cfg(test)]
mod tests;
