//! The load of `bench/rooms.sh`: synthetic WebRTC participants (the `webrtc` crate, as the
//! host's SFU) in conference rooms. Each joins a room's signalling WebSocket, answers the
//! host's offers, sends a G.711 audio stream (50 packets a second) and counts the packets
//! of every other participant's stream that reach it.
//!
//! ```sh
//! room-clients SECONDS PER_ROOM EXTRA_STREAMS SIGNAL_URL...
//! ```
//!
//! PER_ROOM participants join each room (a few at a time). Once all are in and hear each
//! other — and EXTRA_STREAMS more streams from other participants (headless browsers in a
//! room) have arrived — it prints `ready`; after SECONDS in all it prints, counted from `ready` on, the
//! streams received, the packets received and expected (from sequence numbers), and the
//! loss: `streams=N received=N expected=N loss_pct=N`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rtc::interceptor::Registry;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_PCMU, MIME_TYPE_VP8, MediaEngine};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::transport::RTCIceCandidateInit;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCPeerConnectionIceEvent,
};

/// Participants joining at once.
const JOINING_AT_ONCE: usize = 8;
/// G.711: 20 ms of 8 kHz samples per packet.
const FRAME: Duration = Duration::from_millis(20);
const FRAME_SAMPLES: u32 = 160;

/// One received stream's counts, kept from `ready` on.
#[derive(Default)]
struct Received {
    packets: AtomicU64,
    /// The first and highest sequence numbers seen since `ready` (extended past wraps).
    first: AtomicU64,
    highest: AtomicU64,
}

/// What every participant shares: whether counting has started, and the streams.
#[derive(Default)]
struct Totals {
    counting: AtomicBool,
    streams: Mutex<Vec<Arc<Received>>>,
}

struct Handler {
    candidates: mpsc::UnboundedSender<RTCIceCandidateInit>,
    totals: Arc<Totals>,
    heard: mpsc::UnboundedSender<()>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if let Ok(candidate) = event.candidate.to_json() {
            let _ = self.candidates.send(candidate);
        }
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let (totals, heard) = (Arc::clone(&self.totals), self.heard.clone());
        tokio::spawn(async move {
            let received = Arc::new(Received::default());
            totals.streams.lock().expect("streams").push(Arc::clone(&received));
            let (mut heard_once, mut counting, mut extended, mut last) = (false, false, 0u64, None::<u16>);
            while let Some(event) = track.poll().await {
                let TrackRemoteEvent::OnRtpPacket(packet) = event else { continue };
                if !heard_once {
                    heard_once = true;
                    let _ = heard.send(());
                }
                let sequence = packet.header.sequence_number;
                extended = match last {
                    Some(last) if sequence.wrapping_sub(last) < 0x8000 => {
                        extended + u64::from(sequence.wrapping_sub(last))
                    }
                    Some(_) => extended,
                    None => u64::from(sequence) + 0x10000,
                };
                last = Some(sequence);
                if !totals.counting.load(Ordering::Relaxed) {
                    continue;
                }
                if !counting {
                    counting = true;
                    received.first.store(extended, Ordering::Relaxed);
                }
                received.highest.fetch_max(extended, Ordering::Relaxed);
                received.packets.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
}

fn media_engine() -> Result<(MediaEngine, Registry), String> {
    let mut engine = MediaEngine::default();
    let pcmu = RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: MIME_TYPE_PCMU.to_string(),
            clock_rate: 8000,
            channels: 0,
            sdp_fmtp_line: String::new(),
            rtcp_feedback: vec![],
        },
        payload_type: 0,
    };
    engine.register_codec(pcmu, RtpCodecKind::Audio).map_err(|e| e.to_string())?;
    // Video is not sent, but accepted: a rejected section would be left out of later
    // answers by the webrtc crate, which the host then cannot apply.
    let vp8 = RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: MIME_TYPE_VP8.to_string(),
            clock_rate: 90000,
            channels: 0,
            sdp_fmtp_line: String::new(),
            rtcp_feedback: vec![],
        },
        payload_type: 96,
    };
    engine.register_codec(vp8, RtpCodecKind::Video).map_err(|e| e.to_string())?;
    let registry = register_default_interceptors(Registry::new(), &mut engine).map_err(|e| e.to_string())?;
    Ok((engine, registry))
}

/// One participant in the room at `url`, until the process ends.
async fn participant(
    url: String,
    totals: Arc<Totals>,
    heard: mpsc::UnboundedSender<()>,
) -> Result<(), String> {
    let (candidates_tx, mut candidates) = mpsc::unbounded_channel();
    let (engine, registry) = media_engine()?;
    let handler = Arc::new(Handler { candidates: candidates_tx, totals, heard });
    let connection = PeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_media_engine(engine)
        .with_interceptor_registry(registry)
        .with_handler(handler)
        .with_udp_addrs(vec!["127.0.0.1:0"])
        .build()
        .await
        .map_err(|e| e.to_string())?;
    let connection: Arc<dyn PeerConnection> = Arc::new(connection);
    let ssrc = rand::random::<u32>();
    let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        format!("bench-{ssrc}"),
        format!("bench-audio-{ssrc}"),
        "bench audio".into(),
        RtpCodecKind::Audio,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(ssrc), ..Default::default() },
            codec: RTCRtpCodec { mime_type: MIME_TYPE_PCMU.into(), clock_rate: 8000, ..Default::default() },
            ..Default::default()
        }],
    )));
    let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str()).await.map_err(|e| e.to_string())?;
    let mut sending = false;
    let mut ticks = tokio::time::interval(FRAME);
    let (mut sequence, mut timestamp) = (rand::random::<u16>(), rand::random::<u32>());
    loop {
        tokio::select! {
            _ = ticks.tick(), if sending => {
                let header = rtc::rtp::header::Header {
                    version: 2,
                    payload_type: 0,
                    sequence_number: sequence,
                    timestamp,
                    ssrc,
                    ..Default::default()
                };
                let packet = rtc::rtp::Packet { header, payload: vec![0xffu8; FRAME_SAMPLES as usize].into() };
                let _ = track.write_rtp(packet).await;
                (sequence, timestamp) = (sequence.wrapping_add(1), timestamp.wrapping_add(FRAME_SAMPLES));
            }
            Some(candidate) = candidates.recv() => {
                let message = json!({"type": "candidate", "candidate": candidate}).to_string();
                socket.send(Message::text(message)).await.map_err(|e| e.to_string())?;
            }
            message = socket.next() => {
                let Some(Ok(Message::Text(text))) = message else {
                    return Err(format!("the host closed the signalling: {message:?}"));
                };
                let value: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
                match value["type"].as_str() {
                    Some("offer") => {
                        let sdp = value["sdp"].as_str().unwrap_or_default().to_string();
                        let offer = RTCSessionDescription::offer(sdp).map_err(|e| e.to_string())?;
                        connection.set_remote_description(offer).await.map_err(|e| e.to_string())?;
                        if !sending {
                            connection.add_track(Arc::clone(&track) as Arc<dyn TrackLocal>).await.map_err(|e| e.to_string())?;
                            sending = true;
                        }
                        let answer = connection.create_answer(None).await.map_err(|e| e.to_string())?;
                        let sdp = answer.sdp.clone();
                        connection.set_local_description(answer).await.map_err(|e| e.to_string())?;
                        let message = json!({"type": "answer", "sdp": sdp}).to_string();
                        socket.send(Message::text(message)).await.map_err(|e| e.to_string())?;
                    }
                    Some("candidate") => {
                        if let Ok(candidate) = serde_json::from_value::<RTCIceCandidateInit>(value["candidate"].clone()) {
                            let _ = connection.add_ice_candidate(candidate).await;
                        }
                    }
                    _ => return Err(format!("the host said {text}")),
                }
            }
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let [_, seconds, per_room, extra, urls @ ..] = args.as_slice() else {
        return Err("usage: room-clients SECONDS PER_ROOM EXTRA_STREAMS SIGNAL_URL...".into());
    };
    let extra: usize = extra.parse().map_err(|e| format!("EXTRA_STREAMS: {e}"))?;
    let seconds: u64 = seconds.parse().map_err(|e| format!("SECONDS: {e}"))?;
    let per_room: usize = per_room.parse().map_err(|e| format!("PER_ROOM: {e}"))?;
    let totals = Arc::new(Totals::default());
    let (heard_tx, mut heard) = mpsc::unbounded_channel();
    let joining = Arc::new(tokio::sync::Semaphore::new(JOINING_AT_ONCE));
    let mut participants = Vec::new();
    for url in urls {
        for _ in 0..per_room {
            let (url, totals, heard, joining) =
                (url.clone(), totals.clone(), heard_tx.clone(), joining.clone());
            participants.push(tokio::spawn(async move {
                let permit = joining.acquire_owned().await.map_err(|e| e.to_string())?;
                let mut run = Box::pin(participant(url, totals, heard));
                // The next ones join once this one is connected (or after a second).
                tokio::select! {
                    result = &mut run => return result,
                    () = tokio::time::sleep(Duration::from_secs(1)) => drop(permit),
                }
                run.await
            }));
        }
    }
    // Every participant hears every other one.
    let streams = urls.len() * per_room * (per_room - 1) + extra;
    let started = std::time::Instant::now();
    for heard_so_far in 0..streams {
        match tokio::time::timeout(Duration::from_secs(60), heard.recv()).await {
            Ok(Some(())) => {}
            _ => return Err(format!("only {heard_so_far} of {streams} streams arrived")),
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    totals.counting.store(true, Ordering::Relaxed);
    println!("ready {streams} streams after {:.1} s", started.elapsed().as_secs_f64());
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    totals.counting.store(false, Ordering::Relaxed);
    let mut by_stream: HashMap<usize, (u64, u64)> = HashMap::new();
    for (index, received) in totals.streams.lock().expect("streams").iter().enumerate() {
        let packets = received.packets.load(Ordering::Relaxed);
        if packets == 0 {
            continue;
        }
        let expected = received.highest.load(Ordering::Relaxed) - received.first.load(Ordering::Relaxed) + 1;
        by_stream.insert(index, (packets, expected));
    }
    let (received, expected) = by_stream.values().fold((0, 0), |(r, e), (p, x)| (r + p, e + x));
    let loss = if expected == 0 {
        100.0
    } else {
        100.0 * (expected.saturating_sub(received)) as f64 / expected as f64
    };
    println!("streams={} received={received} expected={expected} loss_pct={loss:.3}", by_stream.len());
    for participant in participants {
        participant.abort();
    }
    Ok(())
}
