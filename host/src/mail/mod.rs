//! Outgoing mail (voicemail messages, missed-call mail, the `mail` import of modules).
//!
//! [`Mailer::send`] checks a message (addresses, header text, size), composes it and puts
//! it on a bounded queue, and returns at once: it never waits for the network, so it is
//! safe on a call's task or inside a module's decision. A delivery thread of its own hands
//! queued messages to the SMTP server ([`delivery`]), retrying a failed delivery a few
//! times, and counts what was delivered and what failed ([`MailCounts`]).
//!
//! - [`settings`]: the SMTP URL and From address.
//! - [`compose`]: an [`OutgoingMail`] as a MIME message (attachments base64).
//! - [`delivery`]: the queue's consumer, retries and counters.
//! - [`rate_limit`]: how many messages a company's modules may send per minute.

mod compose;
mod delivery;
pub mod rate_limit;
pub mod settings;

use std::sync::Arc;
use std::sync::atomic::Ordering;

pub use delivery::MailCounts;
pub use rate_limit::MODULE_MAILS_PER_MINUTE;
pub use settings::MailSettings;

use delivery::{Job, Shared};

/// Largest message accepted: body text and attachments together, before encoding. A
/// voicemail of five minutes is about 5 MB of telephony WAV.
pub const MAX_MESSAGE_BYTES: usize = 10 * 1024 * 1024;
/// Messages waiting for delivery at most; one more is refused with [`MailError::QueueFull`].
pub const QUEUE_CAPACITY: usize = 256;
/// Bytes of messages waiting for delivery at most, so a slow server cannot make the
/// queue hold gigabytes of voicemail.
pub const MAX_QUEUED_BYTES: usize = 64 * 1024 * 1024;
/// Recipients of one message at most.
pub const MAX_RECIPIENTS: usize = 20;
/// Longest subject accepted, in bytes.
pub const MAX_SUBJECT_BYTES: usize = 998;

/// A message to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    /// One address, or several separated by commas ("ana@acme.example, Bob <bob@acme.example>").
    pub to: String,
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    pub attachments: Vec<MailAttachment>,
}

/// A file attached to a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailAttachment {
    pub filename: String,
    /// A MIME type, e.g. "audio/wav".
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Why a message was not queued, or a mailer not started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    #[error("mail delivery is not configured on this host")]
    NotConfigured,
    #[error("the SMTP URL {url:?} is invalid: {reason}")]
    InvalidSmtpUrl { url: String, reason: String },
    #[error("the From address {address:?} is invalid: {reason}")]
    InvalidFrom { address: String, reason: String },
    #[error("the message has no recipient")]
    NoRecipient,
    #[error("the recipient {address:?} is invalid: {reason}")]
    InvalidRecipient { address: String, reason: String },
    #[error("the message has {count} recipients; the limit is {limit}")]
    TooManyRecipients { count: usize, limit: usize },
    #[error("the subject is invalid: {0}")]
    InvalidSubject(String),
    #[error("the attachment {filename:?} is invalid: {reason}")]
    InvalidAttachment { filename: String, reason: String },
    #[error("the message is {size} bytes; the limit is {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("the mail queue is full; try again later")]
    QueueFull,
    #[error("company {company} sent more than {per_minute} messages in a minute; try again later")]
    RateLimited { company: String, per_minute: u32 },
    #[error("the mail delivery thread has stopped")]
    Stopped,
    #[error("cannot start mail delivery: {0}")]
    Start(String),
}

/// Delivers mail; cheap to clone (clones share one queue, one delivery thread and one set
/// of counters).
#[derive(Debug, Clone, Default)]
pub struct Mailer {
    shared: Option<Arc<Shared>>,
}

impl Mailer {
    /// A mailer that refuses every message (no SMTP server configured).
    pub fn disabled() -> Mailer {
        Mailer { shared: None }
    }

    /// A mailer delivering through the SMTP server of `settings`, from its From address.
    /// Starts the delivery thread; needs no async runtime of the caller.
    pub fn smtp(settings: &MailSettings) -> Result<Mailer, MailError> {
        Ok(Mailer { shared: Some(delivery::start(settings)?) })
    }

    /// Whether messages are delivered at all.
    pub fn is_enabled(&self) -> bool {
        self.shared.is_some()
    }

    /// Check, compose and queue `message` for delivery; returns at once.
    pub fn send(&self, message: OutgoingMail) -> Result<(), MailError> {
        let shared = self.shared.as_ref().ok_or(MailError::NotConfigured)?;
        let size = compose::raw_size(&message);
        if size > MAX_MESSAGE_BYTES {
            return Err(MailError::TooLarge { size, limit: MAX_MESSAGE_BYTES });
        }
        let composed = compose::compose(&shared.from, &message)?;
        if shared.queued_bytes.fetch_add(size, Ordering::AcqRel) + size > MAX_QUEUED_BYTES {
            shared.queued_bytes.fetch_sub(size, Ordering::AcqRel);
            return Err(MailError::QueueFull);
        }
        let job = Job { message: composed, to: message.to, size };
        match shared.queue.try_send(job) {
            Ok(()) => {
                shared.counters.queued.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(error) => {
                shared.queued_bytes.fetch_sub(size, Ordering::AcqRel);
                match error {
                    tokio::sync::mpsc::error::TrySendError::Full(_) => Err(MailError::QueueFull),
                    tokio::sync::mpsc::error::TrySendError::Closed(_) => Err(MailError::Stopped),
                }
            }
        }
    }

    /// [`Mailer::send`] for a module of `company`: refused once the company's modules sent
    /// [`MODULE_MAILS_PER_MINUTE`] messages in the last minute, so a module that loops
    /// cannot flood the SMTP server.
    pub fn send_from_module(&self, company: &str, message: OutgoingMail) -> Result<(), MailError> {
        let shared = self.shared.as_ref().ok_or(MailError::NotConfigured)?;
        if !shared.limiter.admit(company, std::time::Instant::now()) {
            return Err(MailError::RateLimited {
                company: company.to_string(),
                per_minute: MODULE_MAILS_PER_MINUTE,
            });
        }
        self.send(message)
    }

    /// What was queued, delivered and failed since the mailer started (zeros when disabled).
    pub fn counts(&self) -> MailCounts {
        self.shared.as_ref().map(|shared| shared.counters.snapshot()).unwrap_or_default()
    }
}

/// A real SMTP server (aiosmtpd) for the host's unit tests: the black-box tests' helper.
#[cfg(test)]
#[path = "../../../tests/support/smtp.rs"]
pub(crate) mod test_smtp;

#[cfg(test)]
mod tests;
