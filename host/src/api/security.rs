//! The ban list and the whitelist (SPEC.md §10), operator only: list and lift bans, list,
//! add and remove whitelisted ranges. A range in a URL is percent-encoded
//! (`10.0.0.0%2F8`); a bare address means one address.

use std::net::IpAddr;
use std::time::SystemTime;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiState;
use super::auth::Access;
use super::error::{ApiError, ApiResult};
use super::extract::Body;
use crate::security::{Cidr, GuardError};
use crate::store::records::{Ban, WhitelistEntry};

/// Longest whitelist description accepted.
const MAX_DESCRIPTION: usize = 200;

/// A range to whitelist.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WhitelistBody {
    /// "10.0.0.0/8", "2001:db8::/32", or a bare address for one address.
    pub cidr: String,
    /// Why it is trusted, e.g. "office".
    #[serde(default)]
    pub description: String,
}

/// A whitelisted range and the bans its addition lifted.
#[derive(Debug, Serialize, ToSchema)]
pub struct WhitelistAdded {
    #[serde(flatten)]
    pub entry: WhitelistEntry,
    /// Addresses that were banned and lie in the range: no longer banned.
    pub lifted_bans: Vec<String>,
}

impl From<GuardError> for ApiError {
    fn from(error: GuardError) -> ApiError {
        match error {
            GuardError::AlreadyWhitelisted(_) => ApiError::conflict(error.to_string()),
            GuardError::Store(error) => error.into(),
        }
    }
}

/// `text` as a range, or a 422 naming `cidr`.
fn cidr(text: &str) -> ApiResult<Cidr> {
    Cidr::parse(text).map_err(|e| ApiError::field("cidr", e.to_string()))
}

/// The bans in force, oldest first (operator).
#[utoipa::path(get, path = "/api/v1/security/bans", tag = "security",
    responses((status = 200, body = [Ban]), (status = 403, body = super::error::ErrorBody)))]
pub async fn list_bans(State(s): State<ApiState>, access: Access) -> ApiResult<Json<Vec<Ban>>> {
    access.require_operator()?;
    Ok(Json(s.app.security.bans(SystemTime::now())))
}

/// Lift the ban of an address (operator).
#[utoipa::path(delete, path = "/api/v1/security/bans/{ip}", tag = "security",
    params(("ip" = String, Path, description = "The banned address, e.g. 203.0.113.7")),
    responses((status = 204), (status = 404, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
pub async fn unban(
    State(s): State<ApiState>,
    access: Access,
    Path(ip): Path<String>,
) -> ApiResult<StatusCode> {
    access.require_operator()?;
    let address: IpAddr = ip
        .trim()
        .parse()
        .map_err(|_| ApiError::field("ip", format!("{ip:?} is not an IPv4 or IPv6 address")))?;
    match s.app.security.unban(address, &access.actor(), SystemTime::now())? {
        Some(_) => Ok(StatusCode::NO_CONTENT),
        None => Err(ApiError::not_found(format!("a ban of {address}"))),
    }
}

/// The whitelisted ranges (operator).
#[utoipa::path(get, path = "/api/v1/security/whitelist", tag = "security",
    responses((status = 200, body = [WhitelistEntry]), (status = 403, body = super::error::ErrorBody)))]
pub async fn list_whitelist(
    State(s): State<ApiState>,
    access: Access,
) -> ApiResult<Json<Vec<WhitelistEntry>>> {
    access.require_operator()?;
    Ok(Json(s.app.security.whitelist()))
}

/// Whitelist a range; bans inside it are lifted (operator).
#[utoipa::path(post, path = "/api/v1/security/whitelist", tag = "security", request_body = WhitelistBody,
    responses((status = 201, body = WhitelistAdded), (status = 409, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)))]
pub async fn add_whitelist(
    State(s): State<ApiState>,
    access: Access,
    Body(body): Body<WhitelistBody>,
) -> ApiResult<(StatusCode, Json<WhitelistAdded>)> {
    access.require_operator()?;
    let range = cidr(&body.cidr)?;
    let description = body.description.trim();
    if description.chars().count() > MAX_DESCRIPTION {
        return Err(ApiError::field("description", format!("at most {MAX_DESCRIPTION} characters")));
    }
    let added = s.app.security.whitelist_add(range, description, &access.actor(), SystemTime::now())?;
    Ok((StatusCode::CREATED, Json(WhitelistAdded { entry: added.entry, lifted_bans: added.lifted })))
}

/// Remove a range from the whitelist (operator).
#[utoipa::path(delete, path = "/api/v1/security/whitelist/{cidr}", tag = "security",
    params(("cidr" = String, Path, description = "The range, percent-encoded: 10.0.0.0%2F8")),
    responses((status = 204), (status = 404, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
pub async fn remove_whitelist(
    State(s): State<ApiState>,
    access: Access,
    Path(text): Path<String>,
) -> ApiResult<StatusCode> {
    access.require_operator()?;
    let range = cidr(&text)?;
    match s.app.security.whitelist_remove(range, &access.actor())? {
        Some(_) => Ok(StatusCode::NO_CONTENT),
        None => Err(ApiError::not_found(format!("whitelisted range {range}"))),
    }
}
