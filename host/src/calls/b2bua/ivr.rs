//! An IVR menu (SPEC §3) run by the host for a caller it answered: the company's `ivr`
//! module decides each step (play and collect, or leave for a destination); the host plays,
//! gathers the digits and times out, and hands the input back.

use super::host::{Gathered, Gathering};
use super::*;
use crate::routing::ivr::{self as ivr_routing, IvrInput, IvrStep};
use crate::store::records::IvrMenu;

/// Steps one caller may take through menus before the host ends the walk: a module that
/// never transfers must not hold a caller forever.
const MAX_IVR_STEPS: usize = 64;

impl Call {
    /// Walk the caller through `menu` until the module sends it somewhere; the error is
    /// why the call ended inside the menu (the caller hung up).
    pub(super) async fn run_ivr(&mut self, company: &Company, menu: &IvrMenu) -> Result<Destination, Ending> {
        self.record.destination = Some(format!("ivr {}", menu.name));
        let (caller, dialled) = (self.record.caller.clone(), self.record.called.clone());
        let mut input = IvrInput::Start;
        let mut memo = String::new();
        for _ in 0..MAX_IVR_STEPS {
            let call = self.call_input(company, &caller, &dialled);
            let step = ivr_routing::step(&self.engine.app, company, menu, &call, &input, &memo);
            let collect = match step {
                IvrStep::Transfer(destination) => {
                    tracing::info!(menu = %menu.name, ?destination, "IVR transfers the caller");
                    return Ok(destination);
                }
                IvrStep::Collect(collect) => collect,
            };
            let prompt = collect.prompt.as_deref().and_then(|name| self.prompt(&company.id, name));
            let how = Gathering {
                max_digits: collect.max_digits,
                timeout: collect.timeout,
                inter_digit_timeout: collect.inter_digit_timeout,
                hash_ends: collect.max_digits > 1,
            };
            memo = collect.memo;
            input = match self.collect(prompt.into_iter().collect(), how).await {
                Ok(Gathered::Digits(digits)) => IvrInput::Digits(digits),
                Ok(Gathered::NoInput) => IvrInput::NoInput,
                Err(cause) => return Err(Ending::new(CallStatus::Answered, cause, None)),
            };
        }
        tracing::warn!(menu = %menu.name, "IVR step limit reached; hanging up");
        Ok(Destination::HangUp)
    }
}
