//! How the host reaches its SMTP server, and as whom it sends.
//!
//! The server is one URL, as lettre reads it:
//! - `smtp://127.0.0.1:2525`: plain SMTP (a local relay, the tests' aiosmtpd);
//! - `smtp://user:pass@mail.example.com:587?tls=required`: STARTTLS, then login;
//! - `smtps://user:pass@mail.example.com`: TLS from the first byte (port 465 by default).
//!
//! User and password are percent-decoded.

use std::time::Duration;

use lettre::AsyncSmtpTransport;
use lettre::Tokio1Executor;
use lettre::message::Mailbox;
use lettre::transport::smtp::AsyncSmtpTransportBuilder;

use super::MailError;

/// The waits before each retry of a failed delivery: a message is tried once more after
/// each, then counted as failed.
pub const DEFAULT_RETRY_DELAYS: [Duration; 3] =
    [Duration::from_secs(2), Duration::from_secs(15), Duration::from_secs(60)];

/// Longest time one SMTP command may take before the attempt counts as failed.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Where and as whom mail is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// The SMTP server (see the module header).
    pub smtp_url: String,
    /// The From address of every message, e.g. "Centralita <pbx@example.com>".
    pub from: String,
    /// The waits before each retry of a failed delivery.
    pub retry_delays: Vec<Duration>,
}

impl MailSettings {
    /// Settings with the default retries.
    pub fn new(smtp_url: impl Into<String>, from: impl Into<String>) -> MailSettings {
        MailSettings {
            smtp_url: smtp_url.into(),
            from: from.into(),
            retry_delays: DEFAULT_RETRY_DELAYS.to_vec(),
        }
    }

    /// The From address, parsed.
    pub(super) fn sender(&self) -> Result<Mailbox, MailError> {
        self.from
            .parse::<Mailbox>()
            .map_err(|e| MailError::InvalidFrom { address: self.from.clone(), reason: e.to_string() })
    }

    /// The transport's builder; building the transport itself needs the delivery thread's
    /// runtime (its connection pool starts a task).
    pub(super) fn transport(&self) -> Result<AsyncSmtpTransportBuilder, MailError> {
        let invalid = |reason: String| MailError::InvalidSmtpUrl { url: self.redacted_url(), reason };
        if !(self.smtp_url.starts_with("smtp://") || self.smtp_url.starts_with("smtps://")) {
            return Err(invalid("use smtp://HOST[:PORT] or smtps://[USER:PASSWORD@]HOST[:PORT]".into()));
        }
        let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(&self.smtp_url)
            .map_err(|e| invalid(e.to_string()))?;
        Ok(builder.timeout(Some(SMTP_TIMEOUT)))
    }

    /// The URL without its password, for logs and errors.
    pub fn redacted_url(&self) -> String {
        redact(&self.smtp_url)
    }
}

/// `url` with the password of its user part replaced by `***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info.split_once(':').map_or(user_info, |(user, _)| user);
            let hidden = if user_info.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}{tail}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_starttls_and_tls_urls_are_accepted() {
        for url in [
            "smtp://127.0.0.1:2525",
            "smtp://user:pa%40ss@mail.example.com:587?tls=required",
            "smtps://user:secret@mail.example.com",
        ] {
            assert!(MailSettings::new(url, "pbx@example.com").transport().is_ok(), "{url}");
        }
    }

    #[test]
    fn other_schemes_and_garbage_are_refused_without_showing_the_password() {
        for url in ["http://mail.example.com", "mail.example.com:25", "smtp://", "smtps://u:hunter2@"] {
            let error = MailSettings::new(url, "pbx@example.com").transport().unwrap_err();
            assert!(matches!(error, MailError::InvalidSmtpUrl { .. }), "{url}: {error}");
            assert!(!error.to_string().contains("hunter2"), "{error}");
        }
    }

    #[test]
    fn the_password_is_hidden_in_logs() {
        assert_eq!(
            redact("smtps://ana:hunter2@mail.example.com:465"),
            "smtps://ana:***@mail.example.com:465"
        );
        assert_eq!(redact("smtp://127.0.0.1:2525"), "smtp://127.0.0.1:2525");
        assert_eq!(
            redact("smtp://ana@mail.example.com/?tls=required"),
            "smtp://ana@mail.example.com/?tls=required"
        );
    }

    #[test]
    fn a_from_address_must_parse() {
        assert!(MailSettings::new("smtp://h", "Centralita <pbx@example.com>").sender().is_ok());
        let error = MailSettings::new("smtp://h", "not an address").sender().unwrap_err();
        assert!(matches!(error, MailError::InvalidFrom { .. }), "{error}");
    }
}
