//! What the menu remembers between steps, carried by the host in `collect.memo` (the
//! module keeps no storage): how many invalid entries and how many timeouts the caller has
//! had so far, as JSON `{"invalid": 1, "no_input": 0}`. "" (the start) is zero of both.

use serde_json::{Value, json};

/// The counters of one caller's walk through the menu.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memo {
    /// Entries that matched no key (nor, with dialling allowed, an extension number).
    pub invalid: u32,
    /// Times the caller entered nothing before the timeout.
    pub no_input: u32,
}

impl Memo {
    /// Read the memo the host handed back; "" is a fresh one. Anything else that is not
    /// ours is an error: the host hands memos back unchanged, so a strange one means the
    /// caller's state is lost and the host's fallback should decide.
    pub fn from_text(text: &str) -> Result<Memo, String> {
        if text.trim().is_empty() {
            return Ok(Memo::default());
        }
        let value: Value = serde_json::from_str(text).map_err(|e| format!("memo: {e}"))?;
        if !value.is_object() {
            return Err("memo must be a JSON object".to_string());
        }
        let counter = |name: &str| match value.get(name) {
            None => Ok(0),
            Some(count) => count
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| format!("memo: {name} must be a count, not {count}")),
        };
        Ok(Memo { invalid: counter("invalid")?, no_input: counter("no_input")? })
    }

    /// The memo as text for the next `collect`.
    pub fn to_text(self) -> String {
        json!({"invalid": self.invalid, "no_input": self.no_input}).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_memo_is_the_start() {
        assert_eq!(Memo::from_text("").unwrap(), Memo::default());
    }

    #[test]
    fn a_memo_reads_back_what_it_wrote() {
        let memo = Memo { invalid: 2, no_input: 1 };
        assert_eq!(Memo::from_text(&memo.to_text()).unwrap(), memo);
    }

    #[test]
    fn a_memo_that_is_not_ours_is_an_error() {
        for text in ["nonsense", "[]", r#"{"invalid": -1}"#, r#"{"no_input": "2"}"#] {
            assert!(Memo::from_text(text).is_err(), "{text:?} was accepted");
        }
    }
}
