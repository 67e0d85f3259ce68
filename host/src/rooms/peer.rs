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

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket};
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_PCMA, MIME_TYPE_PCMU, MIME_TYPE_RTX, MIME_TYPE_VP8, MediaEngine,
};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::transport::RTCIceCandidateInit;
use rtc::rtp_transceiver::rtp_sender::{RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RtpCodecKind};
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionEventHandler, RTCPeerConnectionIceEvent, RTCPeerConnectionState,
};

use super::room::{LiveRoom, Member, Reach, SenderSlot, TrackChange};
use crate::media::sdp::{PCMA, PCMU};

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

/// The codecs a room speaks: G.711 audio, which phones speak too (a phone joins with no
/// transcoding, and its mix is a table lookup away), and VP8 video, which every browser
/// sends, with retransmission (RTX) and the usual feedback.
/// Every codec a room speaks, by kind, with its payload type in the host's offers.
fn room_codecs() -> Vec<(RtpCodecKind, RTCRtpCodecParameters)> {
    let codec = |mime_type: &str, clock_rate, sdp_fmtp_line: &str, rtcp_feedback, payload_type| {
        RTCRtpCodecParameters {
            rtp_codec: RTCRtpCodec {
                mime_type: mime_type.to_string(),
                clock_rate,
                channels: 0,
                sdp_fmtp_line: sdp_fmtp_line.to_string(),
                rtcp_feedback,
            },
            payload_type,
        }
    };
    let feedback = |typ: &str, parameter: &str| RTCPFeedback { typ: typ.into(), parameter: parameter.into() };
    let video_feedback = vec![
        feedback("goog-remb", ""),
        feedback("ccm", "fir"),
        feedback("nack", ""),
        feedback("nack", "pli"),
    ];
    vec![
        (RtpCodecKind::Audio, codec(MIME_TYPE_PCMU, 8000, "", vec![], PCMU)),
        (RtpCodecKind::Audio, codec(MIME_TYPE_PCMA, 8000, "", vec![], PCMA)),
        (RtpCodecKind::Video, codec(MIME_TYPE_VP8, 90000, "", video_feedback, VP8)),
        (RtpCodecKind::Video, codec(MIME_TYPE_RTX, 90000, &format!("apt={VP8}"), vec![], VP8 + 1)),
    ]
}

fn media_engine() -> Result<MediaEngine, String> {
    let mut engine = MediaEngine::default();
    for (kind, codec) in room_codecs() {
        engine.register_codec(codec, kind).map_err(|e| e.to_string())?;
    }
    Ok(engine)
}

/// The media codec sent with `payload_type` (the payload types are the host's, from its
/// offers), for a track that did not name its codec; retransmissions (RTX) name none.
pub(super) fn codec_of(payload_type: u8) -> Option<RTCRtpCodec> {
    room_codecs()
        .into_iter()
        .find(|(_, c)| c.payload_type == payload_type && c.rtp_codec.mime_type != MIME_TYPE_RTX)
        .map(|(_, c)| c.rtp_codec)
}

/// VP8's payload type in a room's offers (its RTX is the next).
const VP8: u8 = 96;

/// A connection for participant `member` of `room`, its sockets on `bind_ip`, receiving
/// the browser's audio and video.
async fn connect(
    room: &Arc<LiveRoom>,
    member: u64,
    bind_ip: IpAddr,
    happened: mpsc::UnboundedSender<Happened>,
) -> Result<Arc<dyn PeerConnection>, String> {
    let handler = Arc::new(Handler { room: Arc::clone(room), member, happened });
    let connection = crate::media::webrtc::peer_connection(media_engine()?, handler, bind_ip).await?;
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
    let (changes, mut changes_asked) = mpsc::unbounded_channel();
    room.enter(Arc::new(Member { id, reach: Reach::Browser(changes) })).await;
    // Track changes wait here until no offer is out.
    let mut pending: Vec<TrackChange> = Vec::new();
    // The copies the offer that is out announces: they go live with its answer.
    let mut offered: Vec<Arc<SenderSlot>> = Vec::new();
    let mut closed = room.closed();
    // The first offer is due at once.
    let (mut offer_due, mut awaiting_answer) = (true, false);
    loop {
        if (offer_due || !pending.is_empty()) && !awaiting_answer {
            offered = apply(&connection, std::mem::take(&mut pending)).await;
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
            Some(change) = changes_asked.recv() => pending.push(change),
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
                        offered.drain(..).for_each(|slot| slot.answered());
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

/// Make the track changes asked for, before the next offer; the slots of the copies added.
async fn apply(connection: &Arc<dyn PeerConnection>, changes: Vec<TrackChange>) -> Vec<Arc<SenderSlot>> {
    let mut added = Vec::new();
    for change in changes {
        match change {
            TrackChange::Add(track, slot) => {
                // A transceiver of its own, send-only: not the one the browser sends on.
                let send_only = RTCRtpTransceiverInit {
                    direction: RTCRtpTransceiverDirection::Sendonly,
                    streams: Vec::new(),
                    send_encodings: Vec::new(),
                };
                match connection
                    .add_transceiver_from_track(track as Arc<dyn TrackLocal>, Some(send_only))
                    .await
                {
                    Ok(transceiver) => {
                        if let Ok(Some(sender)) = transceiver.sender().await {
                            slot.placed(sender);
                        }
                        added.push(slot);
                    }
                    Err(error) => tracing::warn!(%error, "cannot add a copy of a participant's track"),
                }
            }
            TrackChange::Remove(slot) => {
                if let Some(sender) = slot.sender()
                    && let Err(error) = connection.remove_track(sender).await
                {
                    tracing::debug!(%error, "removing a departed participant's track");
                }
            }
        }
    }
    added
}

/// A new offer, set as the local description.
async fn offer(connection: &Arc<dyn PeerConnection>) -> Result<String, String> {
    let offer = connection.create_offer(None).await.map_err(|e| e.to_string())?;
    let sdp = offer.sdp.clone();
    connection.set_local_description(offer).await.map_err(|e| e.to_string())?;
    Ok(sdp)
}
