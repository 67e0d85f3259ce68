//! DIDs and their time rules (SPEC.md §2), and the dry run that routes a call at a
//! given time before any phone exists.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::Access;
use super::error::{ApiError, ApiResult};
use super::extract::Body;
use super::{ApiState, validate};
use crate::routing::call::{CallInput, Direction};
use crate::routing::did::{RouteOutcome, route_did};
use crate::sandbox::DecisionKind;
use crate::sandbox::registry::RegistryError;
use crate::store::records::{Destination, Did, DidRule};
use crate::store::*;

/// Longest caller id accepted in a dry run.
const MAX_CALLER_LEN: usize = 64;

/// Name of the standard module that routes DIDs.
pub const DEFAULT_MODULE: &str = "did-router";

/// A DID as created or replaced.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DidBody {
    /// The number: 3-20 digits, optionally after '+' (stored without it, so "+34..." and
    /// "34..." are the same DID); unique across companies.
    pub number: String,
    #[serde(default)]
    pub description: String,
    /// Unconditional forward: every call goes here, no rule is evaluated.
    #[serde(default)]
    pub forward: Option<Destination>,
    /// Ordered rules.
    #[serde(default)]
    pub rules: Vec<DidRule>,
    pub default_destination: Destination,
    /// Used when the module fails; default: the default destination.
    #[serde(default)]
    pub fallback_destination: Option<Destination>,
    /// The deciding module; default "did-router".
    #[serde(default)]
    pub module: Option<String>,
    /// Module settings (a JSON object).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub config: Option<serde_json::Value>,
}

/// A call to route in a dry run.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteRequest {
    /// The calling number.
    pub caller: String,
    /// The caller's display name.
    #[serde(default)]
    pub caller_name: Option<String>,
    /// When the call arrives (RFC 3339); default now.
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
}

fn build(s: &ApiState, company: &str, body: DidBody) -> ApiResult<Did> {
    validate::number("number", &body.number, 3, 20)?;
    for (i, rule) in body.rules.iter().enumerate() {
        let f = |name: &str| format!("rules[{i}].{name}");
        for (name, value) in [
            ("year", &rule.year),
            ("month", &rule.month),
            ("day", &rule.day),
            ("weekday", &rule.weekday),
            ("caller_id", &rule.caller_id),
        ] {
            validate::pattern(&f(name), value)?;
        }
        for (name, value) in [("start_time", &rule.start_time), ("end_time", &rule.end_time)] {
            if let Some(value) = value {
                validate::time(&f(name), value)?;
            }
        }
        validate::destination(&s.app, company, &f("destination"), &rule.destination)?;
    }
    validate::destination(&s.app, company, "default_destination", &body.default_destination)?;
    for (name, destination) in
        [("forward", &body.forward), ("fallback_destination", &body.fallback_destination)]
    {
        if let Some(destination) = destination {
            validate::destination(&s.app, company, name, destination)?;
        }
    }
    let module = body.module.unwrap_or_else(|| DEFAULT_MODULE.to_string());
    match s.app.sandbox.resolve(&s.app.store, company, &module) {
        Err(RegistryError::UnknownModule(_)) => {
            return Err(ApiError::field("module", format!("{company} has no module {module:?}")));
        }
        Err(error) => return Err(error.into()),
        Ok(resolved) if !resolved.loaded.info.decisions.contains(&DecisionKind::DidRouting) => {
            return Err(ApiError::field("module", format!("module {module:?} does not export did-routing")));
        }
        Ok(_) => {}
    }
    let config = body.config.unwrap_or_else(|| serde_json::json!({}));
    if !config.is_object() {
        return Err(ApiError::field("config", "must be a JSON object"));
    }
    Ok(Did {
        company: company.to_string(),
        number: canonical_number(&body.number).to_string(),
        description: body.description,
        forward: body.forward,
        rules: body.rules,
        default_destination: body.default_destination,
        fallback_destination: body.fallback_destination,
        module,
        config,
    })
}

/// Create a DID.
#[utoipa::path(post, path = "/api/v1/companies/{company}/dids", tag = "dids", request_body = DidBody, responses((status = 201, body = Did)))]
pub async fn create(
    State(s): State<ApiState>,
    access: Access,
    Path(company): Path<String>,
    Body(body): Body<DidBody>,
) -> ApiResult<(StatusCode, Json<Did>)> {
    access.require_company(&company)?;
    super::company(&s, &company)?;
    let did = build(&s, &company, body)?;
    let actor = access.actor();
    s.app.store.write(|tx| {
        if let Some(owner) = tx.get(&DID_OWNERS, &did.number)? {
            let whose = if owner == company { "this company" } else { "another company" };
            return Err(ApiError::conflict(format!("DID {} already belongs to {whose}", did.number)));
        }
        tx.put(&DID_OWNERS, &did.number, &company)?;
        tx.put(&DIDS, &company_key(&company, &did.number), &did)?;
        tx.audit(actor.entry(Some(&company), "did.create", format!("{company}/dids/{}", did.number), None))?;
        Ok(())
    })?;
    Ok((StatusCode::CREATED, Json(did)))
}

/// List a company's DIDs.
#[utoipa::path(get, path = "/api/v1/companies/{company}/dids", tag = "dids", responses((status = 200, body = [Did])))]
pub async fn list(
    State(s): State<ApiState>,
    access: Access,
    Path(company): Path<String>,
) -> ApiResult<Json<Vec<Did>>> {
    access.require_company(&company)?;
    super::company(&s, &company)?;
    Ok(Json(s.app.store.read(|r| r.scan(&DIDS, &company_prefix(&company)))?))
}

/// A DID number as stored: without a leading '+'.
pub fn canonical_number(number: &str) -> &str {
    number.strip_prefix('+').unwrap_or(number)
}

fn load(s: &ApiState, company: &str, number: &str) -> ApiResult<Did> {
    let number = canonical_number(number);
    s.app
        .store
        .read(|r| r.get(&DIDS, &company_key(company, number)))?
        .ok_or_else(|| ApiError::not_found(format!("DID {number}")))
}

/// One DID.
#[utoipa::path(get, path = "/api/v1/companies/{company}/dids/{number}", tag = "dids", responses((status = 200, body = Did)))]
pub async fn get(
    State(s): State<ApiState>,
    access: Access,
    Path((company, number)): Path<(String, String)>,
) -> ApiResult<Json<Did>> {
    access.require_company(&company)?;
    Ok(Json(load(&s, &company, &number)?))
}

/// Replace a DID's settings and rules.
#[utoipa::path(put, path = "/api/v1/companies/{company}/dids/{number}", tag = "dids", request_body = DidBody, responses((status = 200, body = Did)))]
pub async fn update(
    State(s): State<ApiState>,
    access: Access,
    Path((company, number)): Path<(String, String)>,
    Body(body): Body<DidBody>,
) -> ApiResult<Json<Did>> {
    access.require_company(&company)?;
    let number = canonical_number(&number).to_string();
    if canonical_number(&body.number) != number {
        return Err(ApiError::field("number", "cannot be changed; delete and create instead"));
    }
    let did = build(&s, &company, body)?;
    let actor = access.actor();
    s.app.store.write(|tx| {
        let key = company_key(&company, &number);
        if tx.get(&DIDS, &key)?.is_none() {
            return Err(ApiError::not_found(format!("DID {number}")));
        }
        tx.put(&DIDS, &key, &did)?;
        tx.audit(actor.entry(Some(&company), "did.update", format!("{company}/dids/{number}"), None))?;
        Ok(())
    })?;
    Ok(Json(did))
}

/// Delete a DID.
#[utoipa::path(delete, path = "/api/v1/companies/{company}/dids/{number}", tag = "dids", responses((status = 204)))]
pub async fn delete(
    State(s): State<ApiState>,
    access: Access,
    Path((company, number)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    access.require_company(&company)?;
    let actor = access.actor();
    s.app.store.write(|tx| {
        let number = canonical_number(&number);
        if tx.get(&DIDS, &company_key(&company, number))?.is_none() {
            return Err(ApiError::not_found(format!("DID {number}")));
        }
        let users = tx.scan(&USERS, &company_prefix(&company))?;
        let presenting: Vec<&str> = users
            .iter()
            .filter(|u| u.outgoing_caller_id.as_deref() == Some(number))
            .map(|u| u.extension.as_str())
            .collect();
        if !presenting.is_empty() {
            return Err(ApiError::conflict(format!(
                "DID {number} is the outgoing caller id of extensions {}; change them first",
                presenting.join(", ")
            )));
        }
        tx.delete(&DIDS, &company_key(&company, number))?;
        tx.delete(&DID_OWNERS, number)?;
        tx.audit(actor.entry(Some(&company), "did.delete", format!("{company}/dids/{number}"), None))?;
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT)
}

/// Route a call arriving on the DID now or at `at`, exactly as a real call would be.
#[utoipa::path(post, path = "/api/v1/companies/{company}/dids/{number}/route", tag = "dids", request_body = RouteRequest,
    responses((status = 200, body = RouteOutcome)))]
pub async fn route(
    State(s): State<ApiState>,
    access: Access,
    Path((company, number)): Path<(String, String)>,
    Body(request): Body<RouteRequest>,
) -> ApiResult<Json<RouteOutcome>> {
    access.require_company(&company)?;
    let company = super::company(&s, &company)?;
    let did = load(&s, &company.id, &number)?;
    if request.caller.is_empty() || request.caller.len() > MAX_CALLER_LEN {
        return Err(ApiError::field("caller", format!("must be 1-{MAX_CALLER_LEN} characters")));
    }
    let call = CallInput {
        call_id: format!("dry-run-{}", hex::encode(rand::random::<[u8; 6]>())),
        company: company.id.clone(),
        caller: request.caller,
        caller_name: request.caller_name,
        called: did.number.clone(),
        direction: Direction::Inbound,
        at: request.at.unwrap_or_else(Utc::now),
        time_zone: company.time_zone.clone(),
        random_seed: None,
    };
    let app = s.app.clone();
    // Decisions run wasm synchronously: keep them off the async workers.
    let outcome =
        tokio::task::spawn_blocking(move || route_did(&app, &company, &did, &call)).await.map_err(
            |e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("routing task failed: {e}")),
        )??;
    Ok(Json(outcome))
}
