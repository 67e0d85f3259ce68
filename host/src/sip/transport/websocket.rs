//! SIP over WebSocket (RFC 7118): a browser's SIP client connects to `/sip` on the HTTP
//! listener with the `sip` subprotocol (`ws`, or `wss` behind a TLS front). Each text or
//! binary frame carries one whole SIP message; what the endpoint sends the peer goes back
//! as a text frame on the same connection, as for TCP. A frame that is not a SIP message
//! closes the connection.
//!
//! The browser's media is WebRTC: each message's session description passes through the
//! connection's [`Gateway`], which bridges it to the plain RTP the rest of the host speaks.

use std::net::SocketAddr;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rsip::SipMessage;

use super::Transport;
use super::driver::StreamIntake;
use crate::api::ApiState;
use crate::sip::endpoint::Peer;
use crate::sip::wire::MAX_MESSAGE;
use crate::webphone::gateway::Gateway;

/// The subprotocol RFC 7118 registers.
const SUBPROTOCOL: &str = "sip";

/// `GET /sip`: upgrade to a SIP WebSocket connection.
pub async fn upgrade(
    State(s): State<ApiState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Some(intake) = s.sip_websockets.clone() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "SIP over WebSocket is not served here").into_response();
    };
    if !s.app.security.admits(peer.ip()) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let bind_ip = s.app.rooms.bind_ip();
    upgrade
        .protocols([SUBPROTOCOL])
        .max_message_size(MAX_MESSAGE)
        .on_upgrade(move |socket| serve_connection(socket, peer, intake, Gateway::new(bind_ip)))
}

/// Carry SIP messages between the connection from `peer` and the driver until either ends.
async fn serve_connection(
    mut socket: WebSocket,
    peer: SocketAddr,
    intake: StreamIntake,
    mut gateway: Gateway,
) {
    let (writer, mut outgoing) = intake.connections.attach(peer);
    let from = Peer { addr: peer, transport: Transport::Ws };
    loop {
        tokio::select! {
            Some(bytes) = outgoing.recv() => {
                let bytes = gateway.to_browser(bytes).await;
                let text = String::from_utf8_lossy(&bytes).into_owned();
                if socket.send(Message::Text(text.into())).await.is_err() {
                    break;
                }
            }
            frame = socket.recv() => {
                let bytes = match frame {
                    Some(Ok(Message::Text(text))) => text.as_bytes().to_vec(),
                    Some(Ok(Message::Binary(bytes))) => bytes.to_vec(),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                };
                match SipMessage::try_from(bytes.as_slice()) {
                    Ok(message) => {
                        let message = gateway.from_browser(message).await;
                        if intake.inbound.send((message, from)).await.is_err() {
                            break;
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%peer, %error, "malformed SIP on a WebSocket; closing the connection");
                        break;
                    }
                }
            }
        }
    }
    intake.connections.detach(peer, &writer);
    gateway.close().await;
}
