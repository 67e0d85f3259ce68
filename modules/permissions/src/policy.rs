//! The policy's settings, read from the company's JSON config:
//!
//! ```json
//! {"blocked-prefixes": ["00", "0034806", "+44"]}
//! ```
//!
//! - `blocked-prefixes`: outside numbers starting with any of these are refused. A leading
//!   '+' means the international access code, so it is read as "00" both in a prefix and in
//!   the dialled number: blocking "00" also blocks "+44…", and blocking "+34806" also
//!   blocks "0034806…".
//!
//! Other members are ignored, so a company may keep settings of its own module beside these.

use crate::json::{self, Value};

/// The settings the standard policy understands.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {
    /// Blocked prefixes, normalised (see [`international`]).
    pub blocked_prefixes: Vec<String>,
}

/// Longest prefix accepted; a whole international number is 15 digits after "00".
const MAX_PREFIX_DIGITS: usize = 20;

impl Policy {
    /// Read the settings from `config`, the JSON text the host passes.
    pub fn from_json(config: &str) -> Result<Policy, String> {
        let value = json::parse(config).map_err(|e| format!("config: {e}"))?;
        if !matches!(value, Value::Object(_)) {
            return Err(format!("config must be a JSON object, not {}", value.kind()));
        }
        let blocked_prefixes = match value.get("blocked-prefixes") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => {
                items.iter().enumerate().map(|(i, item)| prefix(i, item)).collect::<Result<_, _>>()?
            }
            Some(other) => {
                return Err(format!("config: blocked-prefixes must be an array, not {}", other.kind()));
            }
        };
        Ok(Policy { blocked_prefixes })
    }

    /// The blocked prefix (normalised) that `dialled` starts with, if any.
    pub fn blocked_prefix(&self, dialled: &str) -> Option<&str> {
        let dialled = international(dialled);
        self.blocked_prefixes.iter().map(String::as_str).find(|prefix| dialled.starts_with(prefix))
    }
}

/// Item `index` of `blocked-prefixes`: digits, optionally after one '+'.
fn prefix(index: usize, item: &Value) -> Result<String, String> {
    let name = format!("config: blocked-prefixes[{index}]");
    let Value::String(text) = item else {
        return Err(format!("{name} must be a string, not {}", item.kind()));
    };
    let digits = text.strip_prefix('+').unwrap_or(text);
    if digits.is_empty() || digits.len() > MAX_PREFIX_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{name} {text:?} must be 1-{MAX_PREFIX_DIGITS} digits, optionally after '+'"));
    }
    Ok(international(text).into_owned())
}

/// `number` with a leading '+' written as the international access code "00".
pub fn international(number: &str) -> std::borrow::Cow<'_, str> {
    match number.strip_prefix('+') {
        Some(rest) => format!("00{rest}").into(),
        None => number.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_object_blocks_nothing() {
        assert_eq!(Policy::from_json("{}").unwrap(), Policy::default());
        assert_eq!(Policy::from_json(r#"{"blocked-prefixes": null}"#).unwrap(), Policy::default());
    }

    #[test]
    fn other_members_are_ignored() {
        let policy = Policy::from_json(r#"{"crm": {"url": "x"}, "blocked-prefixes": ["806"]}"#).unwrap();
        assert_eq!(policy.blocked_prefixes, vec!["806".to_string()]);
    }

    #[test]
    fn plus_and_double_zero_are_the_same_prefix() {
        let policy = Policy::from_json(r#"{"blocked-prefixes": ["+34806"]}"#).unwrap();
        assert_eq!(policy.blocked_prefix("0034806123456"), Some("0034806"));
        assert_eq!(policy.blocked_prefix("+34806123456"), Some("0034806"));
        assert_eq!(policy.blocked_prefix("+34911234567"), None);
    }

    #[test]
    fn malformed_settings_are_errors_that_name_the_member() {
        for (config, names) in [
            ("[]", "JSON object"),
            ("nonsense", "invalid JSON"),
            (r#"{"blocked-prefixes": "00"}"#, "must be an array"),
            (r#"{"blocked-prefixes": [0]}"#, "blocked-prefixes[0] must be a string"),
            (r#"{"blocked-prefixes": ["00", ""]}"#, "blocked-prefixes[1]"),
            (r#"{"blocked-prefixes": ["80x"]}"#, "\"80x\""),
            (r#"{"blocked-prefixes": ["+"]}"#, "\"+\""),
        ] {
            let error = Policy::from_json(config).unwrap_err();
            assert!(error.contains(names), "{config}: {error}");
        }
    }
}
