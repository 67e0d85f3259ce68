//! Number normalisation (SPEC.md §12): the many ways people write one phone number —
//! `+44 (161) 5527789`, `44 161 5527789`, `0161 5527789`, `9 5527789` — become one E.164
//! number, so a CRM matches callers and click-to-dial dials what the user meant.
//! Internal numbers (as long as the company's extensions) stay as they are.
//!
//! The company's [`DiallingPlan`] says how its people dial: the outside-line prefix they
//! put before outside numbers (e.g. `9`), the country and area they are in, the national
//! trunk prefix (`0` in most of Europe) and the length of internal numbers.

use serde::{Deserialize, Serialize};
use thiserror::Error;
use utoipa::ToSchema;

/// Most digits an E.164 number has (ITU-T E.164 §6).
pub const MAX_E164_DIGITS: usize = 15;

/// How a company's people write and dial numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DiallingPlan {
    /// Digits dialled before an outside number to get a line, e.g. "9"; none = no prefix.
    pub outside_line_prefix: Option<String>,
    /// The company's country calling code without "+", e.g. "44"; none = numbers without
    /// a country stay national.
    pub country_code: Option<String>,
    /// The area code local numbers belong to, without the trunk prefix, e.g. "161".
    pub area_code: Option<String>,
    /// The prefix of national numbers, e.g. "0" ("" where the country has none).
    pub national_prefix: String,
    /// How many digits the company's internal numbers have, e.g. 4; none = any number of
    /// at most 6 digits counts as internal.
    pub internal_length: Option<u8>,
}

impl Default for DiallingPlan {
    fn default() -> DiallingPlan {
        DiallingPlan {
            outside_line_prefix: None,
            country_code: None,
            area_code: None,
            national_prefix: "0".to_string(),
            internal_length: None,
        }
    }
}

/// Longest number that counts as internal when the plan does not say.
const DEFAULT_MAX_INTERNAL: usize = 6;

/// A normalised number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "kind", content = "number", rename_all = "snake_case")]
pub enum Normalised {
    /// An internal number (extension, queue, IVR ...), as written without non-digits.
    Internal(String),
    /// An E.164 number, "+" and digits.
    E164(String),
    /// A national number the plan cannot place in a country (no country code set).
    National(String),
}

impl Normalised {
    /// The number as text.
    pub fn as_str(&self) -> &str {
        match self {
            Normalised::Internal(n) | Normalised::E164(n) | Normalised::National(n) => n,
        }
    }
}

/// Why a number cannot be normalised.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NormaliseError {
    #[error("{0:?} has no digits")]
    NoDigits(String),
    #[error("{0:?} has more than {MAX_E164_DIGITS} digits once normalised")]
    TooLong(String),
    #[error("{field} must be digits only, not {value:?}")]
    BadPlan { field: &'static str, value: String },
}

impl DiallingPlan {
    /// Refuse a plan whose fields are not digit strings.
    pub fn check(&self) -> Result<(), NormaliseError> {
        let fields = [
            ("outside_line_prefix", self.outside_line_prefix.as_deref()),
            ("country_code", self.country_code.as_deref()),
            ("area_code", self.area_code.as_deref()),
            ("national_prefix", Some(self.national_prefix.as_str())),
        ];
        for (field, value) in fields {
            if let Some(value) = value
                && !value.chars().all(|c| c.is_ascii_digit())
            {
                return Err(NormaliseError::BadPlan { field, value: value.to_string() });
            }
        }
        for (field, value) in
            [("outside_line_prefix", &self.outside_line_prefix), ("country_code", &self.country_code)]
        {
            if value.as_deref() == Some("") {
                return Err(NormaliseError::BadPlan { field, value: String::new() });
            }
        }
        Ok(())
    }

    /// `written` as one number: non-digits are ignored (a leading "+" or "00" marks an
    /// international number), the outside-line prefix is dropped, and national and local
    /// numbers get the company's country and area.
    pub fn normalise(&self, written: &str) -> Result<Normalised, NormaliseError> {
        let plus = written.trim_start().starts_with('+');
        let digits: String = written.chars().filter(char::is_ascii_digit).collect();
        if digits.is_empty() {
            return Err(NormaliseError::NoDigits(written.to_string()));
        }
        if !plus && self.is_internal(&digits) {
            return Ok(Normalised::Internal(digits));
        }
        let digits = match &self.outside_line_prefix {
            Some(prefix) if !plus && digits.len() > prefix.len() => {
                digits.strip_prefix(prefix.as_str()).map(str::to_string).unwrap_or(digits)
            }
            _ => digits,
        };
        let e164 = |national_significant: &str, country: &str| {
            let number = format!("{country}{national_significant}");
            if number.len() > MAX_E164_DIGITS {
                Err(NormaliseError::TooLong(written.to_string()))
            } else {
                Ok(Normalised::E164(format!("+{number}")))
            }
        };
        if plus {
            return e164(&digits, "");
        }
        if let Some(international) = digits.strip_prefix("00") {
            return e164(international, "");
        }
        let national = (!self.national_prefix.is_empty())
            .then(|| digits.strip_prefix(self.national_prefix.as_str()))
            .flatten();
        let Some(country) = &self.country_code else {
            return Ok(Normalised::National(digits));
        };
        if let Some(national) = national {
            return e164(national, country);
        }
        // The country code written without "+": a full international number is longer
        // than any local one (country code plus at least 8 national digits).
        if digits.starts_with(country.as_str()) && digits.len() >= country.len() + 8 {
            return e164(&digits, "");
        }
        let area = self.area_code.as_deref().unwrap_or("");
        e164(&format!("{area}{digits}"), country)
    }

    /// Whether `digits` (no prefix yet) is one of the company's internal numbers.
    fn is_internal(&self, digits: &str) -> bool {
        match self.internal_length {
            Some(length) => digits.len() == usize::from(length),
            None => digits.len() <= DEFAULT_MAX_INTERNAL,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPEC §12's example: outside line 9, country 44, area 161, four-digit extensions.
    fn manchester() -> DiallingPlan {
        DiallingPlan {
            outside_line_prefix: Some("9".into()),
            country_code: Some("44".into()),
            area_code: Some("161".into()),
            national_prefix: "0".into(),
            internal_length: Some(4),
        }
    }

    #[test]
    fn every_form_of_one_number_normalises_to_the_same_e164() {
        let plan = manchester();
        for written in [
            "+44 (161) 5527789",
            "44 161 5527789",
            "+44-161-552-7789",
            "0044 161 5527789",
            "0161 5527789",
            "(0161) 552 7789",
            "5527789",
            "552-7789",
            "9 0161 5527789",
            "9 5527789",
            "9 0044 161 5527789",
            "tel: +44 161 552 7789",
        ] {
            assert_eq!(plan.normalise(written), Ok(Normalised::E164("+441615527789".into())), "{written}");
        }
    }

    #[test]
    fn internal_numbers_stay_internal() {
        let plan = manchester();
        assert_eq!(plan.normalise("1234"), Ok(Normalised::Internal("1234".into())));
        assert_eq!(plan.normalise("12-34"), Ok(Normalised::Internal("1234".into())));
        // A "+" makes any number an outside one.
        assert_eq!(plan.normalise("+1234"), Ok(Normalised::E164("+1234".into())));
    }

    #[test]
    fn other_countries_keep_their_own_code() {
        let plan = manchester();
        assert_eq!(plan.normalise("+34 910 000 000"), Ok(Normalised::E164("+34910000000".into())));
        assert_eq!(plan.normalise("9 0034 910000000"), Ok(Normalised::E164("+34910000000".into())));
        assert_eq!(plan.normalise("0034910000000"), Ok(Normalised::E164("+34910000000".into())));
    }

    #[test]
    fn another_area_of_the_country_dialled_nationally() {
        assert_eq!(manchester().normalise("020 7946 0018"), Ok(Normalised::E164("+442079460018".into())));
    }

    #[test]
    fn without_a_country_numbers_stay_national() {
        let plan = DiallingPlan { country_code: None, ..manchester() };
        assert_eq!(plan.normalise("9 0161 5527789"), Ok(Normalised::National("01615527789".into())));
        assert_eq!(plan.normalise("+44 161 5527789"), Ok(Normalised::E164("+441615527789".into())));
    }

    #[test]
    fn the_default_plan_treats_short_numbers_as_internal() {
        let plan = DiallingPlan::default();
        assert_eq!(plan.normalise("101"), Ok(Normalised::Internal("101".into())));
        assert_eq!(plan.normalise("600123456"), Ok(Normalised::National("600123456".into())));
    }

    #[test]
    fn a_country_without_national_prefix() {
        // Spain: no trunk prefix, nine-digit numbers.
        let plan = DiallingPlan {
            outside_line_prefix: Some("0".into()),
            country_code: Some("34".into()),
            area_code: None,
            national_prefix: String::new(),
            internal_length: Some(3),
        };
        assert_eq!(plan.normalise("0 910 000 000"), Ok(Normalised::E164("+34910000000".into())));
        assert_eq!(plan.normalise("910000000"), Ok(Normalised::E164("+34910000000".into())));
        assert_eq!(plan.normalise("34 910 000 000"), Ok(Normalised::E164("+34910000000".into())));
        assert_eq!(plan.normalise("101"), Ok(Normalised::Internal("101".into())));
    }

    #[test]
    fn no_digits_and_too_long_are_errors() {
        let plan = manchester();
        assert!(matches!(plan.normalise("(+) -"), Err(NormaliseError::NoDigits(_))));
        assert!(matches!(plan.normalise("+1234567890123456"), Err(NormaliseError::TooLong(_))));
    }

    #[test]
    fn a_plan_with_non_digits_is_refused() {
        let plan = DiallingPlan { country_code: Some("+44".into()), ..manchester() };
        assert!(matches!(plan.check(), Err(NormaliseError::BadPlan { field: "country_code", .. })));
        assert_eq!(manchester().check(), Ok(()));
    }
}
