//! The menu's module settings, read from its config JSON:
//!
//! ```json
//! {"extension_digits": 3, "inter_digit_seconds": 3}
//! ```
//!
//! - `extension_digits`: with "allow dialling", the longest extension number a caller may
//!   dial during the greeting, 1-32 (default 3). The host also ends the entry on '#' or
//!   after the inter-digit timeout, so shorter numbers work too.
//! - `inter_digit_seconds`: seconds allowed between two digits, 1-10 (default 3).
//!
//! Other members are ignored, so a company may keep settings of its own module beside these.

use serde_json::Value;

/// Longest extension number accepted in `extension_digits` (the host's own cap).
pub const MAX_EXTENSION_DIGITS: u32 = 32;
/// Longest pause between two digits accepted in `inter_digit_seconds`.
pub const MAX_INTER_DIGIT_SECONDS: u32 = 10;

/// The settings the standard menu understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub extension_digits: u32,
    pub inter_digit_seconds: u32,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings { extension_digits: 3, inter_digit_seconds: 3 }
    }
}

impl Settings {
    /// Read the settings from `config`; empty text means the defaults.
    pub fn from_json(config: &str) -> Result<Settings, String> {
        let mut settings = Settings::default();
        if config.trim().is_empty() {
            return Ok(settings);
        }
        let value: Value = serde_json::from_str(config).map_err(|e| format!("config: {e}"))?;
        let Value::Object(members) = value else {
            return Err("config must be a JSON object".to_string());
        };
        if let Some(digits) = whole(&members, "extension_digits", MAX_EXTENSION_DIGITS)? {
            settings.extension_digits = digits;
        }
        if let Some(seconds) = whole(&members, "inter_digit_seconds", MAX_INTER_DIGIT_SECONDS)? {
            settings.inter_digit_seconds = seconds;
        }
        Ok(settings)
    }
}

/// The member `name` as a whole number in 1..=`max`; none when absent or null.
fn whole(members: &serde_json::Map<String, Value>, name: &str, max: u32) -> Result<Option<u32>, String> {
    match members.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => match value.as_u64() {
            Some(n) if (1..=u64::from(max)).contains(&n) => Ok(Some(n as u32)),
            _ => Err(format!("config: {name} must be a whole number 1-{max}, not {value}")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_text_and_an_empty_object_are_the_defaults() {
        assert_eq!(Settings::from_json("").unwrap(), Settings::default());
        assert_eq!(Settings::from_json("{}").unwrap(), Settings::default());
        assert_eq!(Settings::from_json(r#"{"extension_digits": null}"#).unwrap(), Settings::default());
    }

    #[test]
    fn members_are_read_and_others_ignored() {
        let settings =
            Settings::from_json(r#"{"extension_digits": 4, "inter_digit_seconds": 5, "crm": "x"}"#).unwrap();
        assert_eq!(settings, Settings { extension_digits: 4, inter_digit_seconds: 5 });
    }

    #[test]
    fn malformed_settings_are_errors_that_name_the_member() {
        for (config, names) in [
            ("[]", "JSON object"),
            ("nonsense", "config:"),
            (r#"{"extension_digits": 0}"#, "extension_digits"),
            (r#"{"extension_digits": 33}"#, "extension_digits"),
            (r#"{"extension_digits": "3"}"#, "extension_digits"),
            (r#"{"extension_digits": 2.5}"#, "extension_digits"),
            (r#"{"inter_digit_seconds": 11}"#, "inter_digit_seconds"),
        ] {
            let error = Settings::from_json(config).unwrap_err();
            assert!(error.contains(names), "{config}: {error}");
        }
    }
}
