//! Pickup groups (SPEC.md §7): named sets of a company's extensions. Dialling the group
//! pickup code takes a call ringing at a member of any group the caller is in; an
//! extension may be in several groups.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::Access;
use super::error::{ApiError, ApiResult};
use super::extract::Body;
use super::{ApiState, validate};
use crate::app::App;
use crate::store::records::PickupGroup;
use crate::store::*;

/// The routes of this file.
pub fn routes() -> Router<ApiState> {
    let groups = "/api/v1/companies/{company}/pickup-groups";
    Router::new()
        .route(groups, get(list).post(create))
        .route(&format!("{groups}/{{name}}"), get(get_group).put(update).delete(delete))
}

/// The pickup groups of `company` that `extension` is a member of. A store failure is
/// logged and answers none (the pickup then finds no call).
pub fn pickup_groups_of(app: &App, company: &str, extension: &str) -> Vec<PickupGroup> {
    match app.store.read(|r| r.scan(&PICKUP_GROUPS, &company_prefix(company))) {
        Ok(groups) => groups.into_iter().filter(|g| g.members.iter().any(|m| m == extension)).collect(),
        Err(error) => {
            tracing::error!(company, extension, %error, "pickup groups unreadable");
            Vec::new()
        }
    }
}

/// A pickup group as created or replaced.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PickupGroupBody {
    /// 1-64 letters, digits, '-', '_', '.'.
    pub name: String,
    /// Extensions of the company, each once.
    #[serde(default)]
    pub members: Vec<String>,
}

fn entity(company: &str, name: &str) -> String {
    format!("{company}/pickup-groups/{name}")
}

/// Check `body` against the company's extensions and build the record.
fn build(tx: &Tx, company: &str, body: PickupGroupBody) -> ApiResult<PickupGroup> {
    validate::name("name", &body.name)?;
    for (index, member) in body.members.iter().enumerate() {
        let field = format!("members[{index}]");
        if body.members[..index].contains(member) {
            return Err(ApiError::field(field, format!("extension {member:?} is listed twice")));
        }
        if tx.get(&USERS, &company_key(company, member))?.is_none() {
            return Err(ApiError::field(field, format!("{company} has no extension {member:?}")));
        }
    }
    Ok(PickupGroup { company: company.to_string(), name: body.name, members: body.members })
}

/// Create a pickup group.
#[utoipa::path(post, path = "/api/v1/companies/{company}/pickup-groups", tag = "pickup-groups",
    request_body = PickupGroupBody, responses((status = 201, body = PickupGroup)))]
pub async fn create(
    State(s): State<ApiState>,
    access: Access,
    Path(company): Path<String>,
    Body(body): Body<PickupGroupBody>,
) -> ApiResult<(StatusCode, Json<PickupGroup>)> {
    access.require_company(&company)?;
    super::company(&s, &company)?;
    let actor = access.actor();
    let group = s.app.store.write(|tx| {
        let group = build(tx, &company, body)?;
        let key = company_key(&company, &group.name);
        if tx.get(&PICKUP_GROUPS, &key)?.is_some() {
            return Err(ApiError::conflict(format!("pickup group {:?} already exists", group.name)));
        }
        tx.put(&PICKUP_GROUPS, &key, &group)?;
        tx.audit(actor.entry(Some(&company), "pickup_group.create", entity(&company, &group.name), None))?;
        Ok(group)
    })?;
    Ok((StatusCode::CREATED, Json(group)))
}

/// List a company's pickup groups.
#[utoipa::path(get, path = "/api/v1/companies/{company}/pickup-groups", tag = "pickup-groups",
    responses((status = 200, body = [PickupGroup])))]
pub async fn list(
    State(s): State<ApiState>,
    access: Access,
    Path(company): Path<String>,
) -> ApiResult<Json<Vec<PickupGroup>>> {
    access.require_company(&company)?;
    super::company(&s, &company)?;
    Ok(Json(s.app.store.read(|r| r.scan(&PICKUP_GROUPS, &company_prefix(&company)))?))
}

/// One pickup group.
#[utoipa::path(get, path = "/api/v1/companies/{company}/pickup-groups/{name}", tag = "pickup-groups",
    responses((status = 200, body = PickupGroup)))]
pub async fn get_group(
    State(s): State<ApiState>,
    access: Access,
    Path((company, name)): Path<(String, String)>,
) -> ApiResult<Json<PickupGroup>> {
    access.require_company(&company)?;
    let group = s.app.store.read(|r| r.get(&PICKUP_GROUPS, &company_key(&company, &name)))?;
    Ok(Json(group.ok_or_else(|| ApiError::not_found(format!("pickup group {name:?}")))?))
}

/// Replace a pickup group's members.
#[utoipa::path(put, path = "/api/v1/companies/{company}/pickup-groups/{name}", tag = "pickup-groups",
    request_body = PickupGroupBody, responses((status = 200, body = PickupGroup)))]
pub async fn update(
    State(s): State<ApiState>,
    access: Access,
    Path((company, name)): Path<(String, String)>,
    Body(body): Body<PickupGroupBody>,
) -> ApiResult<Json<PickupGroup>> {
    access.require_company(&company)?;
    if body.name != name {
        return Err(ApiError::field("name", "cannot be changed; delete and create instead"));
    }
    let actor = access.actor();
    let group = s.app.store.write(|tx| {
        let key = company_key(&company, &name);
        if tx.get(&PICKUP_GROUPS, &key)?.is_none() {
            return Err(ApiError::not_found(format!("pickup group {name:?}")));
        }
        let group = build(tx, &company, body)?;
        tx.put(&PICKUP_GROUPS, &key, &group)?;
        tx.audit(actor.entry(Some(&company), "pickup_group.update", entity(&company, &name), None))?;
        Ok(group)
    })?;
    Ok(Json(group))
}

/// Delete a pickup group.
#[utoipa::path(delete, path = "/api/v1/companies/{company}/pickup-groups/{name}", tag = "pickup-groups",
    responses((status = 204)))]
pub async fn delete(
    State(s): State<ApiState>,
    access: Access,
    Path((company, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    access.require_company(&company)?;
    let actor = access.actor();
    s.app.store.write(|tx| {
        if !tx.delete(&PICKUP_GROUPS, &company_key(&company, &name))? {
            return Err(ApiError::not_found(format!("pickup group {name:?}")));
        }
        tx.audit(actor.entry(Some(&company), "pickup_group.delete", entity(&company, &name), None))?;
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT)
}
