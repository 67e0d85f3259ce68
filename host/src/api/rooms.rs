//! Conference rooms (SPEC.md §11): a company creates, lists and deletes its rooms through
//! the API; each has a shareable link, `/rooms/{company}/{id}`, a page that joins the
//! room's audio and video in the browser. The link is the credential (its id is random),
//! with an optional PIN on top.

use axum::extract::{Path, Query, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiState;
use super::auth::Access;
use super::error::{ApiError, ApiResult};
use super::extract::Body;
use crate::store::records::{DEFAULT_MAX_PARTICIPANTS, Destination, MAX_PARTICIPANTS, Room};
use crate::store::*;

/// The room page: HTML and its script, served as they are (no build step).
const ROOM_PAGE: &str = include_str!("../rooms/page/room.html");
const ROOM_SCRIPT: &str = include_str!("../rooms/page/room.js");

/// The routes of this file.
pub fn routes() -> Router<ApiState> {
    let rooms = "/api/v1/companies/{company}/rooms";
    Router::new()
        .route(rooms, get(list).post(create))
        .route(&format!("{rooms}/{{id}}"), get(get_room).delete(delete))
        .route("/rooms/room.js", get(script))
        .route("/rooms/{company}/{id}", get(page))
        .route("/rooms/{company}/{id}/signal", get(signal))
}

/// A room as created.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoomBody {
    /// 1-64 characters.
    pub name: String,
    /// 4-12 digits everyone who joins must give; none: the link alone admits.
    #[serde(default)]
    pub pin: Option<String>,
    /// An internal number SIP phones dial to join the room's audio (they are asked for
    /// the PIN, when there is one); free in the company's number space.
    #[serde(default)]
    pub number: Option<String>,
    /// Most participants at once, 2-200 (default 25); more are turned away.
    #[serde(default)]
    pub max_participants: Option<u32>,
}

/// A room as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoomView {
    pub id: String,
    pub name: String,
    pub pin: Option<String>,
    pub number: Option<String>,
    pub max_participants: u32,
    /// The shareable link (on the host and port this request came to).
    pub link: String,
    /// Browsers in the room now.
    pub participants: usize,
    pub created_at: chrono::DateTime<Utc>,
}

fn view(s: &ApiState, headers: &HeaderMap, room: Room) -> RoomView {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    RoomView {
        link: format!("http://{host}/rooms/{}/{}", room.company, room.id),
        participants: s.app.rooms.participants(&room.company, &room.id),
        id: room.id,
        name: room.name,
        pin: room.pin,
        number: room.number,
        max_participants: room.max_participants,
        created_at: room.created_at,
    }
}

fn entity(company: &str, id: &str) -> String {
    format!("{company}/rooms/{id}")
}

/// Create a room; answers its shareable link.
#[utoipa::path(post, path = "/api/v1/companies/{company}/rooms", tag = "rooms", request_body = RoomBody,
    responses((status = 201, body = RoomView), (status = 422, body = super::error::ErrorBody)))]
pub async fn create(
    State(s): State<ApiState>,
    access: Access,
    headers: HeaderMap,
    Path(company): Path<String>,
    Body(body): Body<RoomBody>,
) -> ApiResult<(StatusCode, Json<RoomView>)> {
    access.require_company(&company)?;
    super::company(&s, &company)?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(ApiError::field("name", "1-64 characters"));
    }
    if let Some(pin) = &body.pin
        && !((4..=12).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(ApiError::field("pin", "4-12 digits"));
    }
    if let Some(number) = &body.number
        && !((1..=12).contains(&number.len()) && number.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(ApiError::field("number", "1-12 digits"));
    }
    let max_participants = body.max_participants.unwrap_or(DEFAULT_MAX_PARTICIPANTS);
    if !(2..=MAX_PARTICIPANTS).contains(&max_participants) {
        return Err(ApiError::field("max_participants", format!("2-{MAX_PARTICIPANTS}")));
    }
    let room = Room {
        company: company.clone(),
        id: format!("{:016x}{:016x}", rand::random::<u64>(), rand::random::<u64>()),
        name: name.to_string(),
        pin: body.pin,
        number: body.number,
        max_participants,
        created_at: Utc::now(),
    };
    let actor = access.actor();
    s.app.store.write(|tx| {
        if let Some(number) = &room.number {
            super::numbers::check_free(tx, &company, number, super::numbers::Own::Room(&room.id), "number")?;
        }
        tx.put(&ROOMS, &company_key(&company, &room.id), &room)?;
        tx.audit(actor.entry(Some(&company), "room.create", entity(&company, &room.id), None))?;
        Ok::<_, ApiError>(())
    })?;
    Ok((StatusCode::CREATED, Json(view(&s, &headers, room))))
}

/// List a company's rooms.
#[utoipa::path(get, path = "/api/v1/companies/{company}/rooms", tag = "rooms",
    responses((status = 200, body = [RoomView])))]
pub async fn list(
    State(s): State<ApiState>,
    access: Access,
    headers: HeaderMap,
    Path(company): Path<String>,
) -> ApiResult<Json<Vec<RoomView>>> {
    access.require_company(&company)?;
    super::company(&s, &company)?;
    let rooms = s.app.store.read(|r| r.scan(&ROOMS, &company_prefix(&company)))?;
    Ok(Json(rooms.into_iter().map(|room| view(&s, &headers, room)).collect()))
}

/// One room.
#[utoipa::path(get, path = "/api/v1/companies/{company}/rooms/{id}", tag = "rooms",
    responses((status = 200, body = RoomView), (status = 404, body = super::error::ErrorBody)))]
pub async fn get_room(
    State(s): State<ApiState>,
    access: Access,
    headers: HeaderMap,
    Path((company, id)): Path<(String, String)>,
) -> ApiResult<Json<RoomView>> {
    access.require_company(&company)?;
    let room = s.app.store.read(|r| r.get(&ROOMS, &company_key(&company, &id)))?;
    let room = room.ok_or_else(|| ApiError::not_found(format!("room {id:?}")))?;
    Ok(Json(view(&s, &headers, room)))
}

/// Delete a room: its link stops working and everyone in it is sent away. Refused while
/// a DID, an IVR menu or a queue sends calls to it.
#[utoipa::path(delete, path = "/api/v1/companies/{company}/rooms/{id}", tag = "rooms",
    responses((status = 204), (status = 404, body = super::error::ErrorBody)))]
pub async fn delete(
    State(s): State<ApiState>,
    access: Access,
    Path((company, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    access.require_company(&company)?;
    let actor = access.actor();
    s.app.store.write(|tx| {
        if tx.get(&ROOMS, &company_key(&company, &id))?.is_none() {
            return Err(ApiError::not_found(format!("room {id:?}")));
        }
        let users = super::senders::senders_to(tx, &company, &Destination::Conference(id.clone()))?;
        if !users.is_empty() {
            return Err(ApiError::conflict(format!(
                "room {id:?} is the destination of {}",
                users.join(", ")
            )));
        }
        tx.delete(&ROOMS, &company_key(&company, &id))?;
        tx.audit(actor.entry(Some(&company), "room.delete", entity(&company, &id), None))?;
        Ok(())
    })?;
    s.app.rooms.close(&company, &id);
    Ok(StatusCode::NO_CONTENT)
}

/// The room, or 404 for a link that names none (a deleted room, a mistyped link).
fn room(s: &ApiState, company: &str, id: &str) -> ApiResult<Room> {
    let room = s.app.store.read(|r| r.get(&ROOMS, &company_key(company, id)))?;
    room.ok_or_else(|| ApiError::not_found("no such room (deleted, or a mistyped link)"))
}

/// The room page.
pub async fn page(
    State(s): State<ApiState>,
    Path((company, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let room = room(&s, &company, &id)?;
    let name = html_escape(&room.name);
    let page = ROOM_PAGE
        .replace("{{ROOM_NAME}}", &name)
        .replace("{{PIN_REQUIRED}}", &room.pin.is_some().to_string());
    Ok(Html(page).into_response())
}

/// The room page's script.
pub async fn script() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], ROOM_SCRIPT)
}

#[derive(Deserialize)]
pub struct SignalQuery {
    #[serde(default)]
    pin: Option<String>,
}

/// The room's signalling WebSocket (see `rooms::peer` for its messages); the PIN, when
/// the room has one, in `?pin=`.
pub async fn signal(
    State(s): State<ApiState>,
    Path((company, id)): Path<(String, String)>,
    Query(query): Query<SignalQuery>,
    upgrade: WebSocketUpgrade,
) -> ApiResult<Response> {
    let room = room(&s, &company, &id)?;
    if let Some(pin) = &room.pin {
        let given = query.pin.unwrap_or_default();
        if !crate::constant_time::eq(given.as_bytes(), pin.as_bytes()) {
            return Err(ApiError::forbidden("wrong or missing PIN"));
        }
    }
    if s.app.rooms.participants(&company, &id) >= room.max_participants as usize {
        return Err(ApiError::conflict(format!("the room is full ({} participants)", room.max_participants)));
    }
    let rooms = s.app.rooms.clone();
    Ok(upgrade.on_upgrade(move |socket| async move { rooms.join(&company, &id, socket).await }))
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
