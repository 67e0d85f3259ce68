//! Field checks shared by the API handlers; each error names its field.

use super::error::{ApiError, ApiResult};
use crate::app::App;
use crate::routing::did::missing_destination;
use crate::store::records::Destination;
use guest_sdk::pattern::Pattern;

pub fn non_empty(field: &str, value: &str) -> ApiResult<()> {
    if value.trim().is_empty() { Err(ApiError::field(field, "must not be empty")) } else { Ok(()) }
}

/// 1-32 lowercase letters, digits and '-'.
pub fn slug(field: &str, value: &str) -> ApiResult<()> {
    let ok = (1..=32).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok { Ok(()) } else { Err(ApiError::field(field, "use 1-32 lowercase letters, digits and '-'")) }
}

/// Digits with an optional leading '+', `min..=max` digits long.
pub fn number(field: &str, value: &str, min: usize, max: usize) -> ApiResult<()> {
    let digits = value.strip_prefix('+').unwrap_or(value);
    let ok = (min..=max).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(ApiError::field(field, format!("must be {min}-{max} digits, optionally after '+'")))
    }
}

/// A name used in URLs: 1-64 letters, digits, '-', '_', '.'.
pub fn name(field: &str, value: &str) -> ApiResult<()> {
    let ok = (1..=64).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok { Ok(()) } else { Err(ApiError::field(field, "use 1-64 letters, digits, '-', '_' or '.'")) }
}

/// A rule pattern (SPEC §2).
pub fn pattern(field: &str, value: &str) -> ApiResult<()> {
    Pattern::parse(value).map(|_| ()).map_err(|e| ApiError::field(field, format!("pattern {value:?}: {e}")))
}

/// "HH:MM", 00:00-24:00.
pub fn time(field: &str, value: &str) -> ApiResult<()> {
    let valid = value.split_once(':').is_some_and(|(h, m)| {
        h.len() == 2
            && m.len() == 2
            && matches!((h.parse::<u32>(), m.parse::<u32>()), (Ok(h), Ok(m)) if (h < 24 && m < 60) || (h == 24 && m == 0))
    });
    if valid { Ok(()) } else { Err(ApiError::field(field, format!("{value:?} is not HH:MM"))) }
}

/// The destination exists in `company`.
pub fn destination(app: &App, company: &str, field: &str, destination: &Destination) -> ApiResult<()> {
    match missing_destination(app, company, destination)? {
        None => Ok(()),
        Some(why) => Err(ApiError::field(field, why)),
    }
}

pub fn email(field: &str, value: &str) -> ApiResult<()> {
    let ok = value.split_once('@').is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.'));
    if ok { Ok(()) } else { Err(ApiError::field(field, format!("{value:?} is not an e-mail address"))) }
}

/// A DNS name (letters, digits, '-', dots between labels), returned in lower case.
pub fn domain(field: &str, value: &str) -> ApiResult<String> {
    let lower = value.trim().to_ascii_lowercase();
    let labels_ok = lower.split('.').all(|label| {
        (1..=63).contains(&label.len())
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    });
    if lower.len() <= 253 && labels_ok {
        Ok(lower)
    } else {
        Err(ApiError::field(field, format!("{value:?} is not a domain name")))
    }
}
