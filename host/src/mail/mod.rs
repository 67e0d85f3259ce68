//! Outgoing mail (voicemail messages, missed-call mail, the `mail` import of modules).
//!
//! [`Mailer`] queues a message and returns at once: delivery to the SMTP server happens off
//! the call path. (Skeleton: delivery lands with the SMTP work of the media-services issue.)

/// A message to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub attachments: Vec<MailAttachment>,
}

/// A file attached to a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailAttachment {
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Why a message was not queued.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("mail delivery is not configured on this host")]
    NotConfigured,
}

/// Delivers mail; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Mailer {}

impl Mailer {
    /// A mailer that refuses every message (no SMTP server configured).
    pub fn disabled() -> Mailer {
        Mailer {}
    }

    /// Queue `message` for delivery.
    pub fn send(&self, message: OutgoingMail) -> Result<(), MailError> {
        let _ = message;
        Err(MailError::NotConfigured)
    }
}
