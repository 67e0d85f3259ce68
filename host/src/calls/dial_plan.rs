//! What a number dialled by an extension means in its company: another extension, an
//! alias of one (SPEC §1: an alias dials its real number), or a number outside.

use crate::store::records::User;
use crate::store::{ALIASES, Read, Store, StoreError, USERS, company_key};

/// Where a dialled number leads.
#[derive(Debug, Clone)]
pub enum Target {
    /// An extension of the company.
    Extension(Box<User>),
    /// A number outside the company (dialled through the trunk).
    External(String),
    /// Nothing this company knows, and not a phone number either.
    Unknown,
}

/// How many aliases are followed before giving up (an alias may name another alias).
const MAX_ALIAS_HOPS: usize = 4;

/// Resolve `dialled` in `company`.
pub fn resolve(store: &Store, company: &str, dialled: &str) -> Result<Target, StoreError> {
    store.read(|r| {
        let mut number = dialled.to_string();
        for _ in 0..=MAX_ALIAS_HOPS {
            if let Some(user) = r.get(&USERS, &company_key(company, &number))? {
                return Ok(Target::Extension(Box::new(user)));
            }
            match r.get(&ALIASES, &company_key(company, &number))? {
                Some(alias) => number = alias.target,
                None => break,
            }
        }
        Ok(if is_phone_number(&number) { Target::External(number) } else { Target::Unknown })
    })
}

/// Digits, optionally after one leading '+' (what can be dialled outside).
pub fn is_phone_number(number: &str) -> bool {
    let digits = number.strip_prefix('+').unwrap_or(number);
    !digits.is_empty() && digits.len() <= 20 && digits.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_digits_with_an_optional_plus() {
        for yes in ["0034911234567", "+34911234567", "112"] {
            assert!(is_phone_number(yes), "{yes}");
        }
        for no in ["", "+", "sales", "12a", "++1", "123456789012345678901"] {
            assert!(!is_phone_number(no), "{no}");
        }
    }
}
