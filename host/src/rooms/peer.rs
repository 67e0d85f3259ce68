//! One browser in a room: its peer connection, and the signalling over the WebSocket its
//! page opened.
//!
//! Messages are JSON objects with a `type`:
//! - host → browser: `offer` (`sdp`), `candidate` (`candidate`: an RTCIceCandidateInit),
//!   `error` (`error`);
//! - browser → host: `answer` (`sdp`), `candidate`.
//!
//! The host makes every offer: the first one receives the browser's microphone and camera
//! (two receive-only transceivers, which the page turns to send) and carries a copy of
//! every track already in the room; later ones follow participants joining and leaving.
//! An offer waits until the previous one was answered, so offers never cross.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket};
use rtc::interceptor::Registry;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::MediaEngine;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::transport::RTCIceCandidateInit;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCPeerConnectionIceEvent,
    RTCPeerConnectionState,
};

use super::room::{LiveRoom, Member};

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ToBrowser {
    Offer { sdp: String },
    Candidate { candidate: RTCIceCandidateInit },
    Error { error: String },
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum FromBrowser {
    Answer { sdp: String },
    Candidate { candidate: RTCIceCandidateInit },
}

/// What the peer connection tells the participant's task.
enum Happened {
    /// Something to send the browser.
    Send(ToBrowser),
    /// The connection failed or closed: the participant is gone.
    Ended,
}

/// The peer connection's events, handed to the participant's task and the room.
struct Handler {
    room: Arc<LiveRoom>,
    member: u64,
    happened: mpsc::UnboundedSender<Happened>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if let Ok(candidate) = event.candidate.to_json() {
            let _ = self.happened.send(Happened::Send(ToBrowser::Candidate { candidate }));
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        tracing::debug!(member = self.member, %state, "room participant connection");
        if matches!(state, RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed) {
            let _ = self.happened.send(Happened::Ended);
        }
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        tokio::spawn(Arc::clone(&self.room).publish(self.member, track));
    }
}

/// The codecs a room forwards: what browsers send by default (Opus, VP8 ...), and G.711.
fn media_engine() -> Result<(MediaEngine, Registry), String> {
    let mut engine = MediaEngine::default();
    engine.register_default_codecs().map_err(|e| e.to_string())?;
    let registry = register_default_interceptors(Registry::new(), &mut engine).map_err(|e| e.to_string())?;
    Ok((engine, registry))
}

/// A connection for participant `member` of `room`, its sockets on `bind_ip`, receiving
/// the browser's audio and video.
async fn connect(
    room: &Arc<LiveRoom>,
    member: u64,
    bind_ip: IpAddr,
    happened: mpsc::UnboundedSender<Happened>,
) -> Result<Arc<dyn PeerConnection>, String> {
    let (engine, registry) = media_engine()?;
    let handler = Arc::new(Handler { room: Arc::clone(room), member, happened });
    let connection = PeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_media_engine(engine)
        .with_interceptor_registry(registry)
        .with_handler(handler)
        .with_udp_addrs(vec![SocketAddr::new(bind_ip, 0)])
        .build()
        .await
        .map_err(|e| e.to_string())?;
    let connection: Arc<dyn PeerConnection> = Arc::new(connection);
    for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
        let receive = RTCRtpTransceiverInit {
            direction: RTCRtpTransceiverDirection::Recvonly,
            streams: Vec::new(),
            send_encodings: Vec::new(),
        };
        connection.add_transceiver_from_kind(kind, Some(receive)).await.map_err(|e| e.to_string())?;
    }
    Ok(connection)
}

fn message(to: &ToBrowser) -> Message {
    // Strings and a struct of strings and numbers always serialise.
    Message::Text(serde_json::to_string(to).expect("signalling message serialises").into())
}

/// Run one browser's stay in `room`, until it leaves, its connection fails or the room
/// is deleted.
pub(super) async fn run(room: &Arc<LiveRoom>, bind_ip: IpAddr, mut socket: WebSocket) {
    let id = room.next_id();
    let (happened_tx, mut happened) = mpsc::unbounded_channel();
    let connection = match connect(room, id, bind_ip, happened_tx).await {
        Ok(connection) => connection,
        Err(error) => {
            tracing::error!(%error, "cannot set up a room participant's connection");
            let _ = socket.send(message(&ToBrowser::Error { error })).await;
            return;
        }
    };
    let (renegotiate, mut renegotiations) = mpsc::unbounded_channel();
    room.enter(Arc::new(Member { id, connection: Arc::clone(&connection), renegotiate })).await;
    let mut closed = room.closed();
    // The first offer is due at once.
    let (mut offer_due, mut awaiting_answer) = (true, false);
    loop {
        if offer_due && !awaiting_answer {
            match offer(&connection).await {
                Ok(sdp) => {
                    if socket.send(message(&ToBrowser::Offer { sdp })).await.is_err() {
                        break;
                    }
                    (offer_due, awaiting_answer) = (false, true);
                }
                Err(error) => {
                    tracing::warn!(%error, member = id, "cannot make an offer to a room participant");
                    break;
                }
            }
        }
        tokio::select! {
            Some(what) = happened.recv() => match what {
                Happened::Send(to) => {
                    if socket.send(message(&to)).await.is_err() {
                        break;
                    }
                }
                Happened::Ended => break,
            },
            Some(()) = renegotiations.recv() => offer_due = true,
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => match serde_json::from_str::<FromBrowser>(&text) {
                    Ok(FromBrowser::Answer { sdp }) => {
                        let answer = RTCSessionDescription::answer(sdp).map_err(|e| e.to_string());
                        let applied = match answer {
                            Ok(answer) => connection.set_remote_description(answer).await.map_err(|e| e.to_string()),
                            Err(error) => Err(error),
                        };
                        if let Err(error) = applied {
                            tracing::warn!(%error, member = id, "a room participant's answer is unusable");
                            let _ = socket.send(message(&ToBrowser::Error { error })).await;
                            break;
                        }
                        awaiting_answer = false;
                    }
                    Ok(FromBrowser::Candidate { candidate }) => {
                        if let Err(error) = connection.add_ice_candidate(candidate).await {
                            tracing::debug!(%error, member = id, "a room participant's ICE candidate");
                        }
                    }
                    Err(error) => {
                        let error = format!("unknown message: {error}");
                        let _ = socket.send(message(&ToBrowser::Error { error })).await;
                    }
                },
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            _ = closed.changed() => break,
        }
    }
    room.leave(id).await;
    if let Err(error) = connection.close().await {
        tracing::debug!(%error, member = id, "closing a room participant's connection");
    }
}

/// A new offer, set as the local description.
async fn offer(connection: &Arc<dyn PeerConnection>) -> Result<String, String> {
    let offer = connection.create_offer(None).await.map_err(|e| e.to_string())?;
    let sdp = offer.sdp.clone();
    connection.set_local_description(offer).await.map_err(|e| e.to_string())?;
    Ok(sdp)
}
