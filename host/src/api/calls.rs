//! Call control (SPEC.md §12): the company's calls in progress, and commands on them —
//! click-to-dial, hang up, hold, resume, blind transfer, attended transfer (consult,
//! complete, cancel), pickup. A user's key sees and controls that user's calls only; a
//! company key all of the company's. Every command answers with the call's state after
//! it, or a clear error: no such call (404), not yours (403), wrong state (409).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::ToSchema;

use super::ApiState;
use super::auth::Access;
use super::error::{ApiError, ApiResult};
use super::extract::Body;
use crate::events::{ActiveCall, CallCommand, ControlError, Scope};

/// The routes of this file.
pub fn routes() -> Router<ApiState> {
    let calls = "/api/v1/companies/{company}/calls";
    Router::new()
        .route(calls, get(list).post(click_to_dial))
        .route(&format!("{calls}/{{call_id}}"), get(get_call))
        .route(&format!("{calls}/{{call_id}}/hangup"), post(hang_up))
        .route(&format!("{calls}/{{call_id}}/hold"), post(hold))
        .route(&format!("{calls}/{{call_id}}/resume"), post(resume))
        .route(&format!("{calls}/{{call_id}}/transfer"), post(transfer))
        .route(&format!("{calls}/{{call_id}}/pickup"), post(pick_up))
        .route(&format!("{calls}/{{call_id}}/consult"), post(consult))
        .route(&format!("{calls}/{{call_id}}/consult/complete"), post(complete_transfer))
        .route(&format!("{calls}/{{call_id}}/consult/cancel"), post(cancel_consult))
}

impl From<ControlError> for ApiError {
    fn from(error: ControlError) -> ApiError {
        let status = match error {
            ControlError::NoSuchCall => StatusCode::NOT_FOUND,
            ControlError::NotYours => StatusCode::FORBIDDEN,
            ControlError::WrongState(_) | ControlError::Busy => StatusCode::CONFLICT,
        };
        ApiError::new(status, error.to_string())
    }
}

/// The calls in progress the caller may see, oldest first.
#[utoipa::path(get, path = "/api/v1/companies/{company}/calls", tag = "calls",
    responses((status = 200, body = [ActiveCall])))]
pub async fn list(
    State(s): State<ApiState>,
    access: Access,
    Path(company): Path<String>,
) -> ApiResult<Json<Vec<ActiveCall>>> {
    let scope = access.call_scope(&company)?;
    super::company(&s, &company)?;
    Ok(Json(s.app.events.active_calls(&company, &scope)))
}

/// One call in progress.
#[utoipa::path(get, path = "/api/v1/companies/{company}/calls/{call_id}", tag = "calls",
    responses((status = 200, body = ActiveCall), (status = 404, body = super::error::ErrorBody)))]
pub async fn get_call(
    State(s): State<ApiState>,
    access: Access,
    Path((company, call_id)): Path<(String, String)>,
) -> ApiResult<Json<ActiveCall>> {
    let scope = access.call_scope(&company)?;
    Ok(Json(s.app.events.active_call(&company, &call_id, &scope)?))
}

/// End the call for every party.
#[utoipa::path(post, path = "/api/v1/companies/{company}/calls/{call_id}/hangup", tag = "calls",
    responses((status = 200, body = ActiveCall), (status = 404, body = super::error::ErrorBody)))]
pub async fn hang_up(
    State(s): State<ApiState>,
    access: Access,
    Path((company, call_id)): Path<(String, String)>,
) -> ApiResult<Json<ActiveCall>> {
    let scope = access.call_scope(&company)?;
    Ok(Json(s.app.events.command(&company, &call_id, &scope, CallCommand::HangUp).await?))
}

/// Who holds the call.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldBody {
    /// The party (extension) that holds: the other hears music on hold. Default: the
    /// user of a user's key, else the calling user, else the answering one.
    #[serde(default)]
    pub user: Option<String>,
}

/// Put the call on hold.
#[utoipa::path(post, path = "/api/v1/companies/{company}/calls/{call_id}/hold", tag = "calls", request_body = HoldBody,
    responses((status = 200, body = ActiveCall), (status = 409, body = super::error::ErrorBody)))]
pub async fn hold(
    State(s): State<ApiState>,
    access: Access,
    Path((company, call_id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<ActiveCall>> {
    let scope = access.call_scope(&company)?;
    // The body is optional: none holds for the default party.
    let body: HoldBody = if body.iter().all(u8::is_ascii_whitespace) {
        HoldBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?
    };
    let user = acting_user(&scope, body.user)?;
    Ok(Json(s.app.events.command(&company, &call_id, &scope, CallCommand::Hold { user }).await?))
}

/// Take the call off hold.
#[utoipa::path(post, path = "/api/v1/companies/{company}/calls/{call_id}/resume", tag = "calls",
    responses((status = 200, body = ActiveCall), (status = 409, body = super::error::ErrorBody)))]
pub async fn resume(
    State(s): State<ApiState>,
    access: Access,
    Path((company, call_id)): Path<(String, String)>,
) -> ApiResult<Json<ActiveCall>> {
    let scope = access.call_scope(&company)?;
    Ok(Json(s.app.events.command(&company, &call_id, &scope, CallCommand::Resume).await?))
}

/// Where a blind transfer goes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferBody {
    /// An internal number: an extension, a queue, an IVR menu or a voicemail box.
    pub to: String,
    /// The answering user who hands the call on (default: the user of a user's key, else
    /// the answering user).
    #[serde(default)]
    pub user: Option<String>,
}

/// Hand the call to another number (blind transfer): the answering user leaves at once and
/// the caller rings the new number.
#[utoipa::path(post, path = "/api/v1/companies/{company}/calls/{call_id}/transfer", tag = "calls", request_body = TransferBody,
    responses((status = 200, body = ActiveCall), (status = 409, body = super::error::ErrorBody)))]
pub async fn transfer(
    State(s): State<ApiState>,
    access: Access,
    Path((company, call_id)): Path<(String, String)>,
    Body(body): Body<TransferBody>,
) -> ApiResult<Json<ActiveCall>> {
    let scope = access.call_scope(&company)?;
    let user = acting_user(&scope, body.user)?;
    if body.to.trim().is_empty() {
        return Err(ApiError::field("to", "missing"));
    }
    let command = CallCommand::Transfer { user, to: body.to.trim().to_string() };
    Ok(Json(s.app.events.command(&company, &call_id, &scope, command).await?))
}

/// Whom an attended transfer consults.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsultBody {
    /// The extension to consult (and transfer the call to).
    pub to: String,
    /// The user who consults: the answering or the calling user of the call (default: the
    /// user of a user's key, else the answering user, else the calling one).
    #[serde(default)]
    pub user: Option<String>,
}

/// Attended transfer, first step: the user consults an extension while the other party
/// waits on hold (music). The consulted devices ring; once one answers, the user talks
/// to it. Then `consult/complete` hands the call over or `consult/cancel` goes back.
/// The consult ends by itself if the extension does not answer, declines or hangs up.
#[utoipa::path(post, path = "/api/v1/companies/{company}/calls/{call_id}/consult", tag = "calls", request_body = ConsultBody,
    responses((status = 200, body = ActiveCall), (status = 409, body = super::error::ErrorBody)))]
pub async fn consult(
    State(s): State<ApiState>,
    access: Access,
    Path((company, call_id)): Path<(String, String)>,
    Body(body): Body<ConsultBody>,
) -> ApiResult<Json<ActiveCall>> {
    let scope = access.call_scope(&company)?;
    let user = acting_user(&scope, body.user)?;
    if body.to.trim().is_empty() {
        return Err(ApiError::field("to", "missing"));
    }
    let command = CallCommand::Consult { user, to: body.to.trim().to_string() };
    Ok(Json(s.app.events.command(&company, &call_id, &scope, command).await?))
}

/// Attended transfer, completed: the consulted party (who answered) takes the consulting
/// user's place, and the consulting user leaves the call.
#[utoipa::path(post, path = "/api/v1/companies/{company}/calls/{call_id}/consult/complete", tag = "calls",
    responses((status = 200, body = ActiveCall), (status = 409, body = super::error::ErrorBody)))]
pub async fn complete_transfer(
    State(s): State<ApiState>,
    access: Access,
    Path((company, call_id)): Path<(String, String)>,
) -> ApiResult<Json<ActiveCall>> {
    let scope = access.call_scope(&company)?;
    Ok(Json(s.app.events.command(&company, &call_id, &scope, CallCommand::CompleteTransfer).await?))
}

/// Attended transfer, cancelled: the consulted party is hung up (or stops ringing) and
/// the call is as before, off hold.
#[utoipa::path(post, path = "/api/v1/companies/{company}/calls/{call_id}/consult/cancel", tag = "calls",
    responses((status = 200, body = ActiveCall), (status = 409, body = super::error::ErrorBody)))]
pub async fn cancel_consult(
    State(s): State<ApiState>,
    access: Access,
    Path((company, call_id)): Path<(String, String)>,
) -> ApiResult<Json<ActiveCall>> {
    let scope = access.call_scope(&company)?;
    Ok(Json(s.app.events.command(&company, &call_id, &scope, CallCommand::CancelConsult).await?))
}

/// Who picks a ringing call up.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PickUpBody {
    /// The user whose devices take the call (default: the user of a user's key).
    #[serde(default)]
    pub user: Option<String>,
}

/// Pick a ringing call up: the user's devices ring too, asked to answer by themselves,
/// and the first answer wins. A user's key may take calls ringing at members of its
/// pickup groups (SPEC §7); a company key any call of the company.
#[utoipa::path(post, path = "/api/v1/companies/{company}/calls/{call_id}/pickup", tag = "calls", request_body = PickUpBody,
    responses((status = 200, body = ActiveCall), (status = 409, body = super::error::ErrorBody)))]
pub async fn pick_up(
    State(s): State<ApiState>,
    access: Access,
    Path((company, call_id)): Path<(String, String)>,
    Body(body): Body<PickUpBody>,
) -> ApiResult<Json<ActiveCall>> {
    let scope = access.call_scope(&company)?;
    let picker = acting_user(&scope, body.user)?.ok_or_else(|| ApiError::field("user", "missing"))?;
    if let Scope::User(me) = &scope {
        let call = s.app.events.active_call(&company, &call_id, &Scope::Company)?;
        let mates: Vec<String> = super::pickup_groups::pickup_groups_of(&s.app, &company, me)
            .into_iter()
            .flat_map(|group| group.members)
            .collect();
        if !call.users.iter().any(|user| mates.contains(user)) {
            return Err(ControlError::NotYours.into());
        }
    }
    let command = CallCommand::PickUp { user: picker };
    Ok(Json(s.app.events.command(&company, &call_id, &Scope::Company, command).await?))
}

/// The user a command acts for: a user's key acts for its own user only.
fn acting_user(scope: &Scope, given: Option<String>) -> ApiResult<Option<String>> {
    match (scope, given) {
        (Scope::User(own), Some(other)) if own != &other => {
            Err(ApiError::forbidden("a user's key acts for that user only"))
        }
        (Scope::User(own), _) => Ok(Some(own.clone())),
        (Scope::Company, user) => Ok(user),
    }
}

/// A click-to-dial call.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClickToDialBody {
    /// The user whose devices ring first (default: the user of a user's key).
    #[serde(default)]
    pub user: Option<String>,
    /// The number to call once the user answers, as written (normalised by the company's
    /// dialling plan: `+44 (161) 5527789`, `9 0161 5527789`, `102`).
    pub number: String,
}

/// Click-to-dial: ring the user's devices and, when one answers, call the number. Answers
/// once the devices ring (state `dialing`); follow the call on the event stream.
#[utoipa::path(post, path = "/api/v1/companies/{company}/calls", tag = "calls", request_body = ClickToDialBody,
    responses((status = 201, body = ActiveCall), (status = 409, body = super::error::ErrorBody)))]
pub async fn click_to_dial(
    State(s): State<ApiState>,
    access: Access,
    Path(company): Path<String>,
    Body(body): Body<ClickToDialBody>,
) -> ApiResult<(StatusCode, Json<ActiveCall>)> {
    let scope = access.call_scope(&company)?;
    super::company(&s, &company)?;
    let user = acting_user(&scope, body.user)?.ok_or_else(|| ApiError::field("user", "missing"))?;
    if body.number.trim().is_empty() {
        return Err(ApiError::field("number", "missing"));
    }
    let call = s.app.events.click_to_dial(&company, &user, body.number.trim()).await?;
    Ok((StatusCode::CREATED, Json(call)))
}
