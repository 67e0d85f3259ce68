//! The devices of an extension (SPEC.md §8, "multiterminal"): up to
//! [`MAX_DEVICES_PER_EXTENSION`] per user, each with a ring order and an on/off switch.
//! Which devices ring, and when, is [`crate::sip::registrar::ring`]'s.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::Access;
use super::error::{ApiError, ApiResult};
use super::extract::Body;
use super::{ApiState, validate};
use crate::store::records::{Device, DeviceKind};
use crate::store::*;

/// Most devices one extension may have (SPEC.md §8).
pub const MAX_DEVICES_PER_EXTENSION: usize = 8;

/// A device as created or replaced.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceBody {
    /// Short id, unique per extension, e.g. "desk" (1-32 lowercase letters, digits, '-').
    pub id: String,
    /// Display name.
    pub name: String,
    pub kind: DeviceKind,
    /// Ring order: the lowest rings first, equal orders ring together, 0 never rings.
    #[serde(default = "default_order")]
    pub order: u8,
    /// Disabled devices never ring.
    #[serde(default = "default_enabled")]
    pub enabled: bool,
}

fn default_order() -> u8 {
    1
}

fn default_enabled() -> bool {
    true
}

/// Check `body` and build the device of `extension`, keeping `existing`'s creation time.
fn build(company: &str, extension: &str, body: DeviceBody, existing: Option<&Device>) -> ApiResult<Device> {
    validate::slug("id", &body.id)?;
    validate::non_empty("name", &body.name)?;
    Ok(Device {
        company: company.to_string(),
        extension: extension.to_string(),
        sip_username: format!("{extension}-{}", body.id),
        id: body.id,
        name: body.name,
        kind: body.kind,
        order: body.order,
        enabled: body.enabled,
        created_at: existing.map_or_else(Utc::now, |d| d.created_at),
    })
}

fn entity(company: &str, extension: &str, id: &str) -> String {
    format!("{company}/users/{extension}/devices/{id}")
}

/// 404 unless the user `extension` exists.
fn require_user(r: &impl Read, company: &str, extension: &str) -> ApiResult<()> {
    match r.get(&USERS, &company_key(company, extension))? {
        Some(_) => Ok(()),
        None => Err(ApiError::not_found(format!("extension {extension}"))),
    }
}

fn not_found(extension: &str, id: &str) -> ApiError {
    ApiError::not_found(format!("device {id:?} of extension {extension}"))
}

/// Add a device to a user's extension.
#[utoipa::path(post, path = "/api/v1/companies/{company}/users/{extension}/devices", tag = "devices",
    request_body = DeviceBody,
    responses((status = 201, body = Device), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody)))]
pub async fn create(
    State(s): State<ApiState>,
    access: Access,
    Path((company, extension)): Path<(String, String)>,
    Body(body): Body<DeviceBody>,
) -> ApiResult<(StatusCode, Json<Device>)> {
    access.require_user(&company, &extension)?;
    super::company(&s, &company)?;
    let device = build(&company, &extension, body, None)?;
    let actor = access.actor();
    s.app.store.write(|tx| {
        require_user(tx, &company, &extension)?;
        let key = device_key(&company, &extension, &device.id);
        if tx.get(&DEVICES, &key)?.is_some() {
            return Err(ApiError::conflict(format!(
                "device {:?} of extension {extension} already exists",
                device.id
            )));
        }
        let existing = tx.count(&DEVICES, &devices_prefix(&company, &extension))?;
        if existing >= MAX_DEVICES_PER_EXTENSION {
            return Err(ApiError::conflict(format!(
                "an extension may have at most {MAX_DEVICES_PER_EXTENSION} devices and {extension} has {existing}"
            )));
        }
        tx.put(&DEVICES, &key, &device)?;
        tx.audit(actor.entry(
            Some(&company),
            "device.create",
            entity(&company, &extension, &device.id),
            None,
        ))?;
        Ok(())
    })?;
    Ok((StatusCode::CREATED, Json(device)))
}

/// List a user's devices, by id.
#[utoipa::path(get, path = "/api/v1/companies/{company}/users/{extension}/devices", tag = "devices",
    responses((status = 200, body = [Device]), (status = 404, body = super::error::ErrorBody)))]
pub async fn list(
    State(s): State<ApiState>,
    access: Access,
    Path((company, extension)): Path<(String, String)>,
) -> ApiResult<Json<Vec<Device>>> {
    access.require_user(&company, &extension)?;
    let devices = s.app.store.read(|r| {
        require_user(r, &company, &extension)?;
        Ok::<_, ApiError>(r.scan(&DEVICES, &devices_prefix(&company, &extension))?)
    })?;
    Ok(Json(devices))
}

/// One device.
#[utoipa::path(get, path = "/api/v1/companies/{company}/users/{extension}/devices/{id}", tag = "devices",
    responses((status = 200, body = Device), (status = 404, body = super::error::ErrorBody)))]
pub async fn get(
    State(s): State<ApiState>,
    access: Access,
    Path((company, extension, id)): Path<(String, String, String)>,
) -> ApiResult<Json<Device>> {
    access.require_user(&company, &extension)?;
    let device = s.app.store.read(|r| r.get(&DEVICES, &device_key(&company, &extension, &id)))?;
    device.map(Json).ok_or_else(|| not_found(&extension, &id))
}

/// Replace a device's settings (the id cannot change).
#[utoipa::path(put, path = "/api/v1/companies/{company}/users/{extension}/devices/{id}", tag = "devices",
    request_body = DeviceBody,
    responses((status = 200, body = Device), (status = 404, body = super::error::ErrorBody)))]
pub async fn update(
    State(s): State<ApiState>,
    access: Access,
    Path((company, extension, id)): Path<(String, String, String)>,
    Body(body): Body<DeviceBody>,
) -> ApiResult<Json<Device>> {
    access.require_user(&company, &extension)?;
    if body.id != id {
        return Err(ApiError::field("id", "cannot be changed; delete and create instead"));
    }
    let actor = access.actor();
    let device = s.app.store.write(|tx| {
        let key = device_key(&company, &extension, &id);
        let existing = tx.get(&DEVICES, &key)?.ok_or_else(|| not_found(&extension, &id))?;
        let device = build(&company, &extension, body, Some(&existing))?;
        tx.put(&DEVICES, &key, &device)?;
        tx.audit(actor.entry(Some(&company), "device.update", entity(&company, &extension, &id), None))?;
        Ok::<_, ApiError>(device)
    })?;
    Ok(Json(device))
}

/// Remove a device.
#[utoipa::path(delete, path = "/api/v1/companies/{company}/users/{extension}/devices/{id}", tag = "devices",
    responses((status = 204), (status = 404, body = super::error::ErrorBody)))]
pub async fn delete(
    State(s): State<ApiState>,
    access: Access,
    Path((company, extension, id)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    access.require_user(&company, &extension)?;
    let actor = access.actor();
    s.app.store.write(|tx| {
        if !tx.delete(&DEVICES, &device_key(&company, &extension, &id))? {
            return Err(not_found(&extension, &id));
        }
        tx.audit(actor.entry(Some(&company), "device.delete", entity(&company, &extension, &id), None))?;
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT)
}
