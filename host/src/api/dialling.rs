//! A company's dialling plan (SPEC.md §12) and number normalisation: a company admin sets
//! how its people write numbers; a CRM asks what number a written one is, so it matches
//! contacts the way the host matches callers.

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::IntoParams;

use super::ApiState;
use super::auth::Access;
use super::error::{ApiError, ApiResult};
use super::extract::Body;
use crate::dialling::{DiallingPlan, Normalised};
use crate::store::*;

/// The routes of this file.
pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/companies/{company}/dialling", get(get_plan).put(put_plan))
        .route("/api/v1/companies/{company}/normalise", get(normalise))
}

/// The company's dialling plan.
#[utoipa::path(get, path = "/api/v1/companies/{company}/dialling", tag = "dialling",
    responses((status = 200, body = DiallingPlan)))]
pub async fn get_plan(
    State(s): State<ApiState>,
    access: Access,
    Path(company): Path<String>,
) -> ApiResult<Json<DiallingPlan>> {
    access.require_company(&company)?;
    Ok(Json(super::company(&s, &company)?.dialling))
}

/// Replace the company's dialling plan (a company key may).
#[utoipa::path(put, path = "/api/v1/companies/{company}/dialling", tag = "dialling", request_body = DiallingPlan,
    responses((status = 200, body = DiallingPlan), (status = 422, body = super::error::ErrorBody)))]
pub async fn put_plan(
    State(s): State<ApiState>,
    access: Access,
    Path(id): Path<String>,
    Body(plan): Body<DiallingPlan>,
) -> ApiResult<Json<DiallingPlan>> {
    access.require_company(&id)?;
    plan.check().map_err(|e| ApiError::field("dialling", e.to_string()))?;
    let actor = access.actor();
    s.app.store.write(|tx| {
        let mut company =
            tx.get(&COMPANIES, &id)?.ok_or_else(|| ApiError::not_found(format!("company {id:?}")))?;
        company.dialling = plan.clone();
        tx.put(&COMPANIES, &id, &company)?;
        tx.audit(actor.entry(Some(&id), "company.dialling", format!("{id}/dialling"), None))?;
        Ok::<_, ApiError>(())
    })?;
    Ok(Json(plan))
}

/// The number to normalise.
#[derive(Debug, Deserialize, IntoParams)]
pub struct NormaliseQuery {
    /// The number as written, e.g. "+44 (161) 5527789".
    pub number: String,
}

/// A written number as the company's plan reads it: `{"kind": "e164", "number":
/// "+441615527789"}`, `internal` or `national`.
#[utoipa::path(get, path = "/api/v1/companies/{company}/normalise", tag = "dialling", params(NormaliseQuery),
    responses((status = 200, body = Normalised), (status = 422, body = super::error::ErrorBody)))]
pub async fn normalise(
    State(s): State<ApiState>,
    access: Access,
    Path(company): Path<String>,
    Query(query): Query<NormaliseQuery>,
) -> ApiResult<Json<Normalised>> {
    access.require_company(&company)?;
    let plan = super::company(&s, &company)?.dialling;
    plan.normalise(&query.number).map(Json).map_err(|e| ApiError::field("number", e.to_string()))
}
