//! The module's settings, read from the company's call-events config JSON:
//!
//! ```json
//! {"missed_call_mail": "office@acme.example"}
//! {"missed_call_mail": {"101": "ana@acme.example", "34910000000": "sales@acme.example", "*": "office@acme.example"}}
//! ```
//!
//! - `missed_call_mail` as a string: every missed call is mailed there;
//! - as an object: keyed by the called number (an extension or a DID), with `*` for any
//!   other number; a number with no key and no `*` is not mailed.
//!
//! `webhooks` lists URLs each call-state event (Ringing, Connected, Hung up ...) is posted
//! to as JSON: `{"webhooks": ["https://crm.example/centralita/events"]}`.
//!
//! An address may list several recipients separated by commas. `missed-call-mail` is
//! accepted for `missed_call_mail`. Other members are ignored, so a company may keep
//! settings of its own module beside these.

use serde_json::Value;

/// Where missed calls are mailed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum MissedCallMail {
    /// Not at all.
    #[default]
    Off,
    /// Every missed call to one address.
    Everyone(String),
    /// By called number ("*" for the others).
    ByNumber(Vec<(String, String)>),
}

/// The settings the standard module understands.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Settings {
    pub missed_call_mail: MissedCallMail,
    /// URLs every call-state event is posted to as JSON.
    pub webhooks: Vec<String>,
}

impl Settings {
    /// Read the settings from `config`; empty text means none.
    pub fn from_json(config: &str) -> Result<Settings, String> {
        if config.trim().is_empty() {
            return Ok(Settings::default());
        }
        let value: Value = serde_json::from_str(config).map_err(|e| format!("config: {e}"))?;
        let Value::Object(members) = value else {
            return Err("config must be a JSON object".to_string());
        };
        let mail = members.get("missed_call_mail").or_else(|| members.get("missed-call-mail"));
        let missed_call_mail = match mail {
            None | Some(Value::Null) => MissedCallMail::Off,
            Some(Value::String(address)) => MissedCallMail::Everyone(address_text("", address)?),
            Some(Value::Object(by_number)) => MissedCallMail::ByNumber(
                by_number
                    .iter()
                    .map(|(number, address)| match address {
                        Value::String(address) => Ok((number.clone(), address_text(number, address)?)),
                        other => {
                            Err(format!("config: missed_call_mail.{number} must be an address, not {other}"))
                        }
                    })
                    .collect::<Result<_, String>>()?,
            ),
            Some(other) => {
                return Err(format!(
                    "config: missed_call_mail must be an address or an object of addresses by number, not {other}"
                ));
            }
        };
        let webhooks = match members.get("webhooks") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(urls)) => urls
                .iter()
                .map(|url| match url.as_str() {
                    Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                        Ok(url.to_string())
                    }
                    _ => Err(format!("config: webhooks must list http(s) URLs, not {url}")),
                })
                .collect::<Result<_, String>>()?,
            Some(other) => return Err(format!("config: webhooks must be a list of URLs, not {other}")),
        };
        Ok(Settings { missed_call_mail, webhooks })
    }

    /// Where a missed call to `called` is mailed, if anywhere.
    pub fn address_for(&self, called: &str) -> Option<&str> {
        match &self.missed_call_mail {
            MissedCallMail::Off => None,
            MissedCallMail::Everyone(address) => Some(address),
            MissedCallMail::ByNumber(by_number) => by_number
                .iter()
                .find(|(number, _)| number == called)
                .or_else(|| by_number.iter().find(|(number, _)| number == "*"))
                .map(|(_, address)| address.as_str()),
        }
    }
}

/// A configured address: not empty. (The host checks its syntax when the mail is sent.)
fn address_text(number: &str, address: &str) -> Result<String, String> {
    let address = address.trim();
    if address.is_empty() {
        let at = if number.is_empty() { String::new() } else { format!(".{number}") };
        return Err(format!("config: missed_call_mail{at} is empty"));
    }
    Ok(address.to_string())
}
