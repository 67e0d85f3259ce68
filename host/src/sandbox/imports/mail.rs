//! `mail.send`. Delivery through an SMTP relay comes with the media-services work
//! (voicemail, missed-call mail); until then every message is refused with a reason the
//! module can log, so a module written today keeps working when delivery arrives.

use crate::sandbox::bindings::mail::{Host, Message};
use crate::sandbox::state::DecisionState;

impl Host for DecisionState {
    fn send(&mut self, message: Message) -> Result<(), String> {
        if message.to.is_empty() {
            return Err("message has no recipient".into());
        }
        Err("mail delivery is not configured on this host".into())
    }
}
