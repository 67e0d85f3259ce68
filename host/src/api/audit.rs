//! Reading the audit log (SPEC.md §9).

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::ApiState;
use super::auth::Access;
use super::error::ApiResult;
use super::extract::Params;
use crate::store::recent_audit;
use crate::store::records::AuditEntry;

/// Most entries answered by default, and at most.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

/// Filters of the audit log.
#[derive(Debug, Deserialize, ToSchema, IntoParams)]
pub struct AuditQuery {
    /// Only this company's entries (operator listing).
    pub company: Option<String>,
    /// Most entries to answer (default 100, at most 1000).
    pub limit: Option<usize>,
}

/// The whole audit log, newest first (operator).
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery), responses((status = 200, body = [AuditEntry])))]
pub async fn all(
    State(s): State<ApiState>,
    access: Access,
    Params(query): Params<AuditQuery>,
) -> ApiResult<Json<Vec<AuditEntry>>> {
    access.require_operator()?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    Ok(Json(s.app.store.read(|r| recent_audit(r, query.company.as_deref(), limit))?))
}

/// A company's audit log, newest first.
#[utoipa::path(get, path = "/api/v1/companies/{company}/audit", tag = "audit", params(AuditQuery), responses((status = 200, body = [AuditEntry])))]
pub async fn company(
    State(s): State<ApiState>,
    access: Access,
    Path(company): Path<String>,
    Params(query): Params<AuditQuery>,
) -> ApiResult<Json<Vec<AuditEntry>>> {
    access.require_company(&company)?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    Ok(Json(s.app.store.read(|r| recent_audit(r, Some(&company), limit))?))
}
