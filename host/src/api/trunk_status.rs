//! Whether the host is registered to a company's trunk providers (SPEC.md §1): one entry
//! per configured account, primary first.

use axum::Json;
use axum::extract::{Path, State};

use super::ApiState;
use super::auth::Access;
use super::error::ApiResult;
use crate::trunks::{TrunkSlot, TrunkState, TrunkStatus};

/// The registration status of each of the company's trunks (none configured: empty). In a
/// cluster one host registers each trunk; the others answer `on_another_host` and name it.
#[utoipa::path(get, path = "/api/v1/companies/{company}/trunk-status", tag = "companies",
    params(("company" = String, Path, description = "Company id")),
    responses((status = 200, body = [TrunkStatus]), (status = 404, description = "No such company")))]
pub async fn get(
    State(s): State<ApiState>,
    access: Access,
    Path(company): Path<String>,
) -> ApiResult<Json<Vec<TrunkStatus>>> {
    access.require_company(&company)?;
    let record = super::company(&s, &company)?;
    let configured = [(TrunkSlot::Primary, record.trunk), (TrunkSlot::Secondary, record.secondary_trunk)];
    let statuses = configured
        .into_iter()
        .filter_map(|(slot, account)| {
            let account = account?;
            // The status of the task registering this very account; a trunk saved a moment
            // ago (the registrations follow the companies within seconds) shows as about
            // to register.
            let live = s
                .trunks
                .get(&company, slot)
                .filter(|live| live.username == account.username && live.domain == account.domain);
            let state = if account.register { TrunkState::Registering } else { TrunkState::NotRegistered };
            Some(live.unwrap_or_else(|| TrunkStatus::without_task(slot, &account, state)))
        })
        .collect();
    Ok(Json(statuses))
}
