//! Which devices of an extension are registered right now (SIP core: "registered devices
//! are visible through the API").

use std::time::SystemTime;

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use utoipa::ToSchema;

use super::ApiState;
use super::auth::Access;
use super::error::{ApiError, ApiResult};
use crate::store::{Read, USERS, company_key};

/// One registered contact.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegistrationView {
    /// The Contact URI the device registered.
    pub contact: String,
    /// Where its REGISTER came from (where requests for it are sent).
    pub source: String,
    /// How: "udp" or "tcp" (requests go back the same way).
    pub transport: String,
    /// Seconds until the registration lapses.
    pub expires_in_s: u64,
    /// The device's User-Agent.
    pub user_agent: Option<String>,
}

/// The live registrations of an extension.
#[utoipa::path(get, path = "/api/v1/companies/{company}/users/{extension}/registrations", tag = "users",
    responses((status = 200, body = [RegistrationView])))]
pub async fn list(
    State(s): State<ApiState>,
    access: Access,
    Path((company, extension)): Path<(String, String)>,
) -> ApiResult<Json<Vec<RegistrationView>>> {
    access.require_user(&company, &extension)?;
    if s.app.store.read(|r| r.get(&USERS, &company_key(&company, &extension)))?.is_none() {
        return Err(ApiError::not_found(format!("extension {extension}")));
    }
    let now = SystemTime::now();
    let bindings = s.app.registrar.bindings(&company, &extension, now);
    Ok(Json(
        bindings
            .into_iter()
            .map(|b| RegistrationView {
                contact: b.contact,
                source: b.source.to_string(),
                transport: b.transport.via_name().to_ascii_lowercase(),
                expires_in_s: b.expires_at.duration_since(now).unwrap_or_default().as_secs(),
                user_agent: b.user_agent,
            })
            .collect(),
    ))
}
