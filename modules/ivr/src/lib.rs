//! The standard IVR menu (SPEC.md §3), installed for every company. The host plays, listens
//! and transfers; at each step it asks this module what to do next:
//!
//! 1. Start: play the greeting (the menu's, else the system prompt
//!    [`DEFAULT_GREETING`]) and collect one key — or, when the menu allows dialling, up to
//!    `extension_digits` digits ([`settings`]); the host ends an entry early on '#' or after
//!    the inter-digit timeout.
//! 2. A key bound to an option: transfer to its destination.
//! 3. With dialling allowed, a number of two or more digits (a trailing '#' ends it):
//!    transfer to that extension.
//! 4. Anything else is invalid: play the greeting again. The entry after `repeats` invalid
//!    ones goes to the menu's invalid destination, else the call hangs up.
//! 5. Nothing entered before the timeout: play the greeting again; after `repeats` such
//!    timeouts, go to the menu's no-input destination, else hang up.
//!
//! The counters travel in the collect's memo ([`memo`]), so the module needs no storage. A
//! malformed config or memo is an error, so the host's fallback decides and the failure is
//! counted and audited where the admin sees it.

use guest_sdk::ivr::{Collect, Ivr, IvrInput, IvrMenu, IvrStep};
use guest_sdk::types::{CallContext, Destination};

pub mod memo;
pub mod settings;

use memo::Memo;
use settings::Settings;

/// The system prompt played when a menu has no greeting of its own.
pub const DEFAULT_GREETING: &str = "ivr-default-greeting";

/// The module's decision type.
pub struct StandardIvr;

impl Ivr for StandardIvr {
    fn step(_call: CallContext, menu: IvrMenu, input: IvrInput, memo: String) -> Result<IvrStep, String> {
        let settings = Settings::from_json(&menu.config)?;
        let mut memo = Memo::from_text(&memo)?;
        Ok(match input {
            IvrInput::Start => collect(&menu, &settings, memo),
            IvrInput::NoInput => no_input(&menu, &settings, memo),
            // An empty entry is no entry at all.
            IvrInput::Digits(entry) if entry.is_empty() => no_input(&menu, &settings, memo),
            IvrInput::Digits(entry) => match chosen(&menu, &entry) {
                Some(destination) => IvrStep::Transfer(destination),
                None => {
                    memo.invalid = memo.invalid.saturating_add(1);
                    if memo.invalid > menu.repeats {
                        IvrStep::Transfer(menu.invalid.clone().unwrap_or(Destination::HangUp))
                    } else {
                        collect(&menu, &settings, memo)
                    }
                }
            },
        })
    }
}

guest_sdk::export_ivr_menu!(StandardIvr);

/// A timeout: replay, or after `repeats` of them leave for the no-input destination.
fn no_input(menu: &IvrMenu, settings: &Settings, mut memo: Memo) -> IvrStep {
    memo.no_input = memo.no_input.saturating_add(1);
    if memo.no_input > menu.repeats {
        IvrStep::Transfer(menu.no_input.clone().unwrap_or(Destination::HangUp))
    } else {
        collect(menu, settings, memo)
    }
}

/// Play the greeting and listen, carrying `memo` to the next step.
fn collect(menu: &IvrMenu, settings: &Settings, memo: Memo) -> IvrStep {
    IvrStep::Collect(Collect {
        prompt: Some(menu.greeting.clone().unwrap_or_else(|| DEFAULT_GREETING.to_string())),
        max_digits: if menu.allow_dialing { settings.extension_digits } else { 1 },
        timeout_ms: menu.timeout_seconds.saturating_mul(1000),
        inter_digit_timeout_ms: settings.inter_digit_seconds * 1000,
        memo: memo.to_text(),
    })
}

/// Where `entry` leads: a bound key's destination or, with dialling allowed, the extension
/// dialled; none when it is invalid.
fn chosen(menu: &IvrMenu, entry: &str) -> Option<Destination> {
    let bound = |key: &str| menu.options.iter().find(|option| option.key == key);
    if let Some(option) = bound(entry) {
        return Some(option.destination.clone());
    }
    if !menu.allow_dialing {
        return None;
    }
    // With dialling allowed a key may arrive ended by '#' ("1#").
    let number = entry.strip_suffix('#').unwrap_or(entry);
    if let Some(option) = bound(number) {
        return Some(option.destination.clone());
    }
    (number.len() > 1 && number.bytes().all(|b| b.is_ascii_digit()))
        .then(|| Destination::Extension(number.to_string()))
}

#[cfg(test)]
mod tests;
