//! The IVR decision point: asking a module for the next step of a caller in a menu, with
//! the WIT conversions of the menu, the input and the step.

use std::sync::Arc;
use std::time::Duration;

use super::bindings::exports::centralita::router::ivr as wit;
use super::decision::{DecisionError, Outcome};
use super::{DecisionKind, DecisionScope, LoadedModule, Sandbox, convert};
use crate::routing::call::{CallInput, local_time, parse_time_zone};
use crate::routing::ivr::{Collect, IvrInput, IvrStep};
use crate::store::records::IvrMenu;

impl Sandbox {
    /// Ask `module` what `call` does next in `menu` after `input`, `memo` being what the
    /// previous collect carried. The step comes back as the module gave it (the caller
    /// checks destinations and clamps the collect).
    pub fn ivr_step(
        &self,
        module: &Arc<LoadedModule>,
        scope: DecisionScope,
        call: &CallInput,
        menu: &IvrMenu,
        input: &IvrInput,
        memo: &str,
    ) -> Outcome<IvrStep> {
        if !module.info.decisions.contains(&DecisionKind::Ivr) {
            return Outcome::refused(DecisionError::NotExported(DecisionKind::Ivr.export_name()));
        }
        // The export's indices are looked up per step (a few name lookups): a step waits
        // seconds for the caller anyway, and `LoadedModule` stays as it is.
        let indices = match wit::GuestIndices::new(&module.pre) {
            Ok(indices) => indices,
            Err(error) => return Outcome::refused(DecisionError::InvalidAnswer(format!("{error:#}"))),
        };
        let seed = call.random_seed.unwrap_or_else(rand::random);
        let zone = match parse_time_zone(&call.time_zone) {
            Ok(zone) => zone,
            Err(e) => return Outcome::refused(DecisionError::InvalidAnswer(e.to_string())),
        };
        let context = convert::call_to_wit(call, local_time(call.at, zone), seed);
        let wit_menu = menu_to_wit(menu);
        let wit_input = input_to_wit(input);
        let outcome = self.run(module, scope, call.at.timestamp_millis(), seed, |store, instance| {
            let guest = indices.load(&mut *store, instance)?;
            guest.call_step(&mut *store, &context, &wit_menu, &wit_input, memo)
        });
        Outcome { answer: outcome.answer.map(step_from_wit), logs: outcome.logs, elapsed: outcome.elapsed }
    }
}

fn menu_to_wit(menu: &IvrMenu) -> wit::IvrMenu {
    wit::IvrMenu {
        name: menu.name.clone(),
        number: menu.number.clone(),
        greeting: menu.greeting.clone(),
        allow_dialing: menu.allow_dialing,
        options: menu
            .options
            .iter()
            .map(|option| wit::IvrOption {
                key: option.key.clone(),
                destination: convert::destination_to_wit(&option.destination),
            })
            .collect(),
        no_input: menu.no_input.as_ref().map(convert::destination_to_wit),
        invalid: menu.invalid.as_ref().map(convert::destination_to_wit),
        timeout_seconds: menu.timeout_seconds,
        repeats: menu.repeats,
        config: menu.config.to_string(),
    }
}

fn input_to_wit(input: &IvrInput) -> wit::IvrInput {
    match input {
        IvrInput::Start => wit::IvrInput::Start,
        IvrInput::Digits(digits) => wit::IvrInput::Digits(digits.clone()),
        IvrInput::NoInput => wit::IvrInput::NoInput,
    }
}

fn step_from_wit(step: wit::IvrStep) -> IvrStep {
    match step {
        wit::IvrStep::Collect(collect) => IvrStep::Collect(Collect {
            prompt: collect.prompt,
            max_digits: collect.max_digits,
            timeout: Duration::from_millis(u64::from(collect.timeout_ms)),
            inter_digit_timeout: Duration::from_millis(u64::from(collect.inter_digit_timeout_ms)),
            memo: collect.memo,
        }),
        wit::IvrStep::Transfer(destination) => IvrStep::Transfer(convert::destination_from_wit(destination)),
    }
}
