//! Service codes (SPEC.md §1, §7): the operator sets the host's codes, a company may
//! override any of them; the codes in force for a company are its overrides over the
//! operator's. Every code is `*` or `#` then 1-6 digits, and within the codes in force no
//! code is a prefix of another (`*95` would swallow a `*951` code).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use super::ApiState;
use super::auth::Access;
use super::error::{ApiError, ApiResult};
use super::extract::Body;
use crate::app::App;
use crate::store::records::{ServiceCodeOverrides, ServiceCodes};
use crate::store::*;

/// The key of the operator's row in [`SERVICE_CODES`].
const OPERATOR_KEY: &str = "operator";
/// Most digits after the leading `*` or `#`.
const MAX_CODE_DIGITS: usize = 6;

/// The routes of this file.
pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/service-codes", get(get_operator).put(put_operator))
        .route("/api/v1/companies/{company}/service-codes", get(get_company).put(put_company))
}

/// The codes in force for `company`: its overrides over the operator's codes. A store
/// failure is logged and answers the operator's codes, else the product defaults, so a
/// call is never refused for it.
pub fn effective_service_codes(app: &App, company: &str) -> ServiceCodes {
    let read = app.store.read(|r| {
        let operator = r.get(&SERVICE_CODES, OPERATOR_KEY)?.unwrap_or_default();
        let overrides = r.get(&SERVICE_CODE_OVERRIDES, company)?.unwrap_or_default();
        Ok::<_, StoreError>(overrides.apply(&operator))
    });
    read.unwrap_or_else(|error| {
        tracing::error!(company, %error, "service codes unreadable; using the defaults");
        ServiceCodes::default()
    })
}

/// A company's service codes: those in force, and which of them are its own.
#[derive(Debug, Serialize, ToSchema)]
pub struct CompanyServiceCodes {
    /// The codes phones of the company dial.
    pub effective: ServiceCodes,
    /// The company's own codes; a code left out is the operator's.
    pub overrides: ServiceCodeOverrides,
}

/// Each code with the name of its field.
fn named(codes: &ServiceCodes) -> [(&'static str, &str); 4] {
    [
        ("pickup_direct", &codes.pickup_direct),
        ("pickup_group", &codes.pickup_group),
        ("voicemail_access", &codes.voicemail_access),
        ("record_on_demand", &codes.record_on_demand),
    ]
}

/// `*` or `#`, then 1-6 digits.
fn check_code(field: &str, code: &str) -> ApiResult<()> {
    let digits = code.strip_prefix(['*', '#']).unwrap_or("");
    let ok = (1..=MAX_CODE_DIGITS).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(ApiError::field(field, format!("{code:?} is not '*' or '#' then 1-6 digits")))
    }
}

/// Two codes of `codes` where the first is a prefix of (or equal to) the second, as
/// (field, code) pairs.
type Clash<'a> = ((&'static str, &'a str), (&'static str, &'a str));

fn find_clash(codes: &ServiceCodes) -> Option<Clash<'_>> {
    let all = named(codes);
    for (i, &(field, code)) in all.iter().enumerate() {
        for (j, &(other_field, other)) in all.iter().enumerate() {
            // Equal codes are one clash, reported once.
            if i != j && other.starts_with(code) && (code.len() < other.len() || i < j) {
                return Some(((field, code), (other_field, other)));
            }
        }
    }
    None
}

/// No code of `codes` is a prefix of another. The error names the field for which
/// `blame` is true, else the longer code's; `whose` says whose codes they are ("", or
/// " of acme").
fn check_prefix_free(codes: &ServiceCodes, whose: &str, blame: impl Fn(&str) -> bool) -> ApiResult<()> {
    let Some(((short_field, short), (long_field, long))) = find_clash(codes) else {
        return Ok(());
    };
    let field = if !blame(long_field) && blame(short_field) { short_field } else { long_field };
    Err(ApiError::field(
        field,
        format!(
            "the {long_field} code {long:?} starts with the {short_field} code {short:?}{whose}; \
             codes must not be prefixes of each other"
        ),
    ))
}

/// The operator's service codes (operator).
#[utoipa::path(get, path = "/api/v1/service-codes", tag = "service-codes", responses((status = 200, body = ServiceCodes)))]
pub async fn get_operator(State(s): State<ApiState>, access: Access) -> ApiResult<Json<ServiceCodes>> {
    access.require_operator()?;
    Ok(Json(s.app.store.read(|r| r.get(&SERVICE_CODES, OPERATOR_KEY))?.unwrap_or_default()))
}

/// Replace the operator's service codes (operator). Refused when a company's overrides
/// would then clash with them.
#[utoipa::path(put, path = "/api/v1/service-codes", tag = "service-codes", request_body = ServiceCodes,
    responses((status = 200, body = ServiceCodes)))]
pub async fn put_operator(
    State(s): State<ApiState>,
    access: Access,
    Body(codes): Body<ServiceCodes>,
) -> ApiResult<Json<ServiceCodes>> {
    access.require_operator()?;
    for (field, code) in named(&codes) {
        check_code(field, code)?;
    }
    check_prefix_free(&codes, "", |_| true)?;
    let actor = access.actor();
    s.app.store.write(|tx| {
        for company in tx.scan(&COMPANIES, "")? {
            if let Some(overrides) = tx.get(&SERVICE_CODE_OVERRIDES, &company.id)? {
                check_prefix_free(&overrides.apply(&codes), &format!(" of {}", company.id), |_| false)
                    .map_err(|e| ApiError {
                        status: StatusCode::CONFLICT,
                        message: e.message,
                        field: e.field,
                    })?;
            }
        }
        tx.put(&SERVICE_CODES, OPERATOR_KEY, &codes)?;
        tx.audit(actor.entry(None, "service_codes.update", "service-codes".into(), None))?;
        Ok::<_, ApiError>(())
    })?;
    Ok(Json(codes))
}

/// Whether `overrides` sets the code `field`.
fn overridden(overrides: &ServiceCodeOverrides, field: &str) -> bool {
    match field {
        "pickup_direct" => overrides.pickup_direct.is_some(),
        "pickup_group" => overrides.pickup_group.is_some(),
        "voicemail_access" => overrides.voicemail_access.is_some(),
        "record_on_demand" => overrides.record_on_demand.is_some(),
        _ => false,
    }
}

fn company_codes(s: &ApiState, company: &str) -> ApiResult<CompanyServiceCodes> {
    let overrides = s.app.store.read(|r| r.get(&SERVICE_CODE_OVERRIDES, company))?.unwrap_or_default();
    Ok(CompanyServiceCodes { effective: effective_service_codes(&s.app, company), overrides })
}

/// A company's service codes: those in force and its own overrides.
#[utoipa::path(get, path = "/api/v1/companies/{company}/service-codes", tag = "service-codes",
    responses((status = 200, body = CompanyServiceCodes)))]
pub async fn get_company(
    State(s): State<ApiState>,
    access: Access,
    Path(company): Path<String>,
) -> ApiResult<Json<CompanyServiceCodes>> {
    access.require_company(&company)?;
    super::company(&s, &company)?;
    Ok(Json(company_codes(&s, &company)?))
}

/// Replace a company's overrides; a code left out (or null) is the operator's. `{}`
/// returns to the operator's codes.
#[utoipa::path(put, path = "/api/v1/companies/{company}/service-codes", tag = "service-codes",
    request_body = ServiceCodeOverrides, responses((status = 200, body = CompanyServiceCodes)))]
pub async fn put_company(
    State(s): State<ApiState>,
    access: Access,
    Path(company): Path<String>,
    Body(overrides): Body<ServiceCodeOverrides>,
) -> ApiResult<Json<CompanyServiceCodes>> {
    access.require_company(&company)?;
    super::company(&s, &company)?;
    // Checked against an empty base: only the codes given are looked at.
    let given = overrides.apply(&ServiceCodes {
        pickup_direct: String::new(),
        pickup_group: String::new(),
        voicemail_access: String::new(),
        record_on_demand: String::new(),
    });
    for (field, code) in named(&given) {
        if !code.is_empty() {
            check_code(field, code)?;
        }
    }
    let actor = access.actor();
    s.app.store.write(|tx| {
        let operator = tx.get(&SERVICE_CODES, OPERATOR_KEY)?.unwrap_or_default();
        check_prefix_free(&overrides.apply(&operator), "", |field| overridden(&overrides, field))?;
        if overrides == ServiceCodeOverrides::default() {
            tx.delete(&SERVICE_CODE_OVERRIDES, &company)?;
        } else {
            tx.put(&SERVICE_CODE_OVERRIDES, &company, &overrides)?;
        }
        tx.audit(actor.entry(
            Some(&company),
            "service_codes.update",
            format!("{company}/service-codes"),
            None,
        ))?;
        Ok::<_, ApiError>(())
    })?;
    Ok(Json(company_codes(&s, &company)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_prefix_free() {
        let defaults = ServiceCodes::default();
        for (field, code) in named(&defaults) {
            check_code(field, code).unwrap();
        }
        check_prefix_free(&defaults, "", |_| true).unwrap();
    }

    #[test]
    fn a_code_is_a_star_or_hash_then_digits() {
        for good in ["*1", "#9", "*123456"] {
            check_code("pickup_direct", good).unwrap_or_else(|e| panic!("{good}: {e:?}"));
        }
        for bad in ["", "*", "95", "*9a", "**9", "*1234567", "+95"] {
            let error = check_code("pickup_direct", bad).expect_err(bad);
            assert_eq!(error.field.as_deref(), Some("pickup_direct"));
        }
    }

    #[test]
    fn a_code_that_starts_another_is_refused_naming_the_longer_one() {
        let codes = ServiceCodes { voicemail_access: "*951".into(), ..ServiceCodes::default() };
        let error = check_prefix_free(&codes, "", |_| false).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("voicemail_access"), "{}", error.message);

        let codes = ServiceCodes { record_on_demand: "*9".into(), ..ServiceCodes::default() };
        let error = check_prefix_free(&codes, "", |_| false).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("pickup_direct"), "{}", error.message);
    }

    #[test]
    fn a_clash_names_the_code_a_company_overrode() {
        let overrides = ServiceCodeOverrides { record_on_demand: Some("*9".into()), ..Default::default() };
        let codes = overrides.apply(&ServiceCodes::default());
        let error = check_prefix_free(&codes, "", |field| overridden(&overrides, field)).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("record_on_demand"), "{}", error.message);
    }

    #[test]
    fn two_equal_codes_are_refused() {
        let codes = ServiceCodes { pickup_group: "*95".into(), ..ServiceCodes::default() };
        let error = check_prefix_free(&codes, "", |_| false).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("pickup_group"), "{}", error.message);
    }

    #[test]
    fn overrides_replace_only_the_codes_they_give() {
        let overrides = ServiceCodeOverrides { pickup_direct: Some("#8".into()), ..Default::default() };
        let effective = overrides.apply(&ServiceCodes::default());
        assert_eq!(effective, ServiceCodes { pickup_direct: "#8".into(), ..ServiceCodes::default() });
    }
}
