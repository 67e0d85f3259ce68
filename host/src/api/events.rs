//! The call-event stream (SPEC.md §12) over WebSocket:
//! `GET /api/v1/companies/{company}/events` with a company key (every call) or a user's
//! key (that user's calls). Browsers, which cannot set headers on a WebSocket, pass the
//! key as `?access_token=`.
//!
//! Messages from the host, one JSON object per text frame:
//! - `{"type": "snapshot", "calls": [ActiveCall ...]}` first, and again whenever the
//!   client sends `{"type": "snapshot"}` — the state of its calls after a reconnect;
//! - `{"type": "event", "event": "ringing", "call_id": ..., ...}` (a [`CallStateEvent`]) as
//!   things happen;
//! - `{"type": "lagged", "missed": N}` when the client read too slowly and N events were
//!   dropped for it (ask for a snapshot to catch up);
//! - `{"type": "error", "error": ...}` for a message the host does not understand.
//!
//! [`CallStateEvent`]: crate::events::CallStateEvent

use std::sync::Arc;

use axum::Router;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;

use super::ApiState;
use super::auth::Access;
use super::error::ApiResult;
use crate::events::{ActiveCall, EventHub, Scope};

/// Read buffer of a client's socket: enough for its largest message (a snapshot request).
const CLIENT_READ_BUFFER: usize = 4096;

/// The routes of this file.
pub fn routes() -> Router<ApiState> {
    Router::new().route("/api/v1/companies/{company}/events", get(stream))
}

/// Open the company's (or the user's) call-event stream.
#[utoipa::path(get, path = "/api/v1/companies/{company}/events", tag = "calls",
    description = "WebSocket. Messages: `snapshot` (active calls), `event` (a CallStateEvent), `lagged`, `error`; send `{\"type\": \"snapshot\"}` for the current calls.",
    responses((status = 101, description = "switching to WebSocket"), (status = 403, body = super::error::ErrorBody)))]
pub async fn stream(
    State(s): State<ApiState>,
    access: Access,
    Path(company): Path<String>,
    upgrade: WebSocketUpgrade,
) -> ApiResult<Response> {
    let scope = access.call_scope(&company)?;
    super::company(&s, &company)?;
    let hub = s.app.events.clone();
    // Clients send a few bytes; tungstenite zeroes its whole read buffer on every read
    // attempt (128 KiB by default, ≈ 13 µs: most of the cost of each event sent, measured
    // with bench/events.sh and perf).
    let upgrade = upgrade.read_buffer_size(CLIENT_READ_BUFFER);
    Ok(upgrade.on_upgrade(move |socket| serve(socket, hub, company, scope)))
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ToClient {
    Snapshot { calls: Vec<ActiveCall> },
    Lagged { missed: u64 },
    Error { error: String },
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum FromClient {
    Snapshot,
}

impl ToClient {
    fn message(&self) -> Message {
        // Strings, numbers and lists of them always serialise.
        Message::Text(serde_json::to_string(self).expect("message serialises").into())
    }
}

async fn serve(mut socket: WebSocket, hub: Arc<EventHub>, company: String, scope: Scope) {
    // Subscribe before the snapshot: an event between the two is sent, not lost.
    let mut events = hub.subscribe(&company, &scope);
    let snapshot =
        |hub: &EventHub| ToClient::Snapshot { calls: hub.active_calls(&company, &scope) }.message();
    if socket.send(snapshot(&hub)).await.is_err() {
        return;
    }
    loop {
        let outgoing = tokio::select! {
            published = events.recv() => match published {
                Ok(published) if scope.sees_event(&published.event) => {
                    match Utf8Bytes::try_from(published.message.clone()) {
                        Ok(text) => Message::Text(text),
                        // serde_json writes UTF-8; nothing else is published.
                        Err(_) => continue,
                    }
                }
                Ok(_) => continue,
                Err(RecvError::Lagged(missed)) => ToClient::Lagged { missed }.message(),
                Err(RecvError::Closed) => break,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => match serde_json::from_str::<FromClient>(&text) {
                    Ok(FromClient::Snapshot) => snapshot(&hub),
                    Err(error) => ToClient::Error { error: format!("unknown message: {error}") }.message(),
                },
                // Pings are answered by the WebSocket layer; binary frames mean nothing here.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Binary(_))) => continue,
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
            },
        };
        if socket.send(outgoing).await.is_err() {
            break;
        }
    }
}
