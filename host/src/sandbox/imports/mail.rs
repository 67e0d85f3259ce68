//! `mail.send`: a module's message goes to the host's [`Mailer`] under the company's rate
//! limit ([`crate::mail::MODULE_MAILS_PER_MINUTE`]), from the host's own From address.
//! Queueing never waits for the SMTP server, so the decision's deadline is not at stake;
//! whether the server then accepts the message is logged and counted by the mailer, not
//! told to the module. Every refusal comes back to the module as a sentence it can log.
//!
//! Only installs granted mail may import the interface (checked at upload); the grant is
//! checked again here so no other path (a standard module without the grant, `module run`)
//! sends mail.

use std::sync::Arc;

use crate::mail::{MailAttachment, Mailer, OutgoingMail};
use crate::sandbox::Sandbox;
use crate::sandbox::bindings::mail::{Host, Message};
use crate::sandbox::services::HostServices;
use crate::sandbox::state::DecisionState;

impl Host for DecisionState {
    fn send(&mut self, message: Message) -> Result<(), String> {
        let (company, module) = (&self.scope.company, &self.scope.module);
        if !self.scope.grants.mail {
            tracing::warn!(company, module, "mail from a module without the mail grant refused");
            return Err("this module's install does not grant mail".into());
        }
        let outgoing = OutgoingMail {
            to: message.to.join(", "),
            subject: message.subject,
            text: message.body,
            attachments: message
                .attachments
                .into_iter()
                .map(|a| MailAttachment { filename: a.filename, content_type: a.content_type, bytes: a.data })
                .collect(),
        };
        let to = outgoing.to.clone();
        match self.services.mail.send_from_module(company, outgoing) {
            Ok(()) => {
                tracing::info!(company, module, %to, "module queued a mail");
                Ok(())
            }
            Err(error) => {
                tracing::warn!(company, module, %to, %error, "module mail refused");
                Err(error.to_string())
            }
        }
    }
}

impl Sandbox {
    /// Deliver the `mail` import's messages through `mailer` (by default every message is
    /// refused as not configured). Call before the first decision runs.
    pub fn with_mailer(mut self, mailer: Mailer) -> Sandbox {
        self.services = Arc::new(HostServices { store: self.services.store.clone(), mail: mailer });
        self
    }
}
