//! One web phone call's media: the browser's WebRTC leg (ICE, DTLS-SRTP, rtcp-mux,
//! bundle) ends in a peer connection here, and its audio goes on as plain RTP to and from
//! the relay through a UDP socket of the bridge's own — the address the SIP side's SDP
//! gives as the phone's. The relay, the B2BUA and the other party never learn that a
//! browser is on the line.
//!
//! Both sides usually speak the same G.711 codec (browsers do PCMU and PCMA), so packets
//! pass through as they are: only the transport changes. A browser that offers Opus
//! alone is transcoded to and from PCMU ([`super::opus`]).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_OPUS, MIME_TYPE_PCMA, MIME_TYPE_PCMU, MediaEngine,
};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::shared::marshal::{Marshal, Unmarshal};
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionEventHandler, RTCIceGatheringState, RTCPeerConnectionState,
};

use super::opus::{OpusError, OpusToPcmu, PcmuToOpus};
use crate::media::sdp::{PCMA, PCMU};

/// How long a description waits for the host's ICE candidates: they are host candidates
/// on one local address, so gathering is immediate; the bound only keeps a stuck
/// connection from holding the SIP message forever.
const GATHERING_LIMIT: Duration = Duration::from_secs(3);

/// The largest RTP packet read from the relay.
const MAX_PACKET: usize = 1500;

#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error("cannot bind the bridge's RTP socket: {0}")]
    Socket(#[from] std::io::Error),
    #[error("WebRTC: {0}")]
    WebRtc(String),
    #[error(transparent)]
    Opus(#[from] OpusError),
}

/// What the browser's leg speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrowserCodec {
    /// G.711 of this payload type ([`PCMU`] or [`PCMA`]), which the relay carries too.
    G711(u8),
    /// Opus of this payload type: the relay's side speaks PCMU.
    Opus(u8),
}

impl BrowserCodec {
    /// The G.711 payload type the relay's side speaks.
    pub fn relay_payload_type(self) -> u8 {
        match self {
            BrowserCodec::G711(payload_type) => payload_type,
            BrowserCodec::Opus(_) => PCMU,
        }
    }

    fn payload_type(self) -> u8 {
        match self {
            BrowserCodec::G711(payload_type) | BrowserCodec::Opus(payload_type) => payload_type,
        }
    }

    fn rtp_codec(self) -> RTCRtpCodec {
        match self {
            BrowserCodec::G711(payload_type) => {
                let mime_type = if payload_type == PCMA { MIME_TYPE_PCMA } else { MIME_TYPE_PCMU };
                RTCRtpCodec { mime_type: mime_type.to_string(), clock_rate: 8000, ..Default::default() }
            }
            BrowserCodec::Opus(_) => RTCRtpCodec {
                mime_type: MIME_TYPE_OPUS.to_string(),
                clock_rate: 48000,
                channels: 2,
                sdp_fmtp_line: "minptime=10;useinbandfec=1".to_string(),
                ..Default::default()
            },
        }
    }
}

fn webrtc(error: impl std::fmt::Display) -> BridgeError {
    BridgeError::WebRtc(error.to_string())
}

/// A browser's call leg, bridged to plain RTP.
pub struct Bridge {
    codec: BrowserCodec,
    connection: Arc<dyn PeerConnection>,
    track: Arc<TrackLocalStaticRTP>,
    /// The first description added the track (later ones renegotiate the same one).
    track_added: bool,
    /// Our DTLS role (`a=setup:` `active` or `passive`) once the first negotiation set
    /// it: later answers must keep it, as the browser cannot change roles on a live
    /// transport (RFC 5763 §5), and webrtc-rs would answer `active` every time.
    dtls_role: Option<String>,
    /// Where the bridge's RTP socket is: the phone's address on the SIP side.
    local: SocketAddr,
    /// Where the relay wants the browser's audio, once an SDP of the host said.
    relay: watch::Sender<Option<SocketAddr>>,
    gathered: watch::Receiver<bool>,
    /// The relay-to-browser pump; the browser-to-relay one ends with the connection.
    pump: JoinHandle<()>,
}

/// The peer connection's events: the browser's track is pumped to the relay.
struct Handler {
    codec: BrowserCodec,
    socket: Arc<UdpSocket>,
    relay: watch::Receiver<Option<SocketAddr>>,
    gathered: watch::Sender<bool>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.gathered.send(true);
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        tracing::debug!(%state, "web phone media connection");
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let transcoder = match self.codec {
            BrowserCodec::G711(_) => None,
            BrowserCodec::Opus(_) => match OpusToPcmu::new() {
                Ok(transcoder) => Some(transcoder),
                Err(error) => {
                    tracing::error!(%error, "cannot decode a web phone's Opus");
                    return;
                }
            },
        };
        tokio::spawn(to_relay(track, Arc::clone(&self.socket), self.relay.clone(), transcoder));
    }
}

impl Bridge {
    /// A bridge speaking `codec` to the browser, its sockets on `bind_ip`.
    pub async fn open(bind_ip: IpAddr, codec: BrowserCodec) -> Result<Bridge, BridgeError> {
        let socket = Arc::new(UdpSocket::bind(SocketAddr::new(bind_ip, 0)).await?);
        let local = socket.local_addr()?;
        let (relay, relay_seen) = watch::channel(None);
        let (gathered_tx, gathered) = watch::channel(false);
        let (rtp_codec, payload_type) = (codec.rtp_codec(), codec.payload_type());
        let mut engine = MediaEngine::default();
        engine
            .register_codec(
                RTCRtpCodecParameters { rtp_codec: rtp_codec.clone(), payload_type },
                RtpCodecKind::Audio,
            )
            .map_err(webrtc)?;
        let handler = Arc::new(Handler {
            codec,
            socket: Arc::clone(&socket),
            relay: relay_seen,
            gathered: gathered_tx,
        });
        let connection =
            crate::media::webrtc::peer_connection(engine, handler, bind_ip).await.map_err(webrtc)?;
        let ssrc = rand::random::<u32>();
        let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
            "centralita".to_string(),
            format!("centralita-audio-{ssrc}"),
            "centralita audio".to_string(),
            RtpCodecKind::Audio,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(ssrc), ..Default::default() },
                codec: rtp_codec,
                ..Default::default()
            }],
        )));
        let transcoder = match codec {
            BrowserCodec::G711(_) => None,
            BrowserCodec::Opus(_) => Some(PcmuToOpus::new()?),
        };
        let pump =
            tokio::spawn(to_browser(socket, relay.subscribe(), Arc::clone(&track), ssrc, codec, transcoder));
        Ok(Bridge {
            codec,
            connection,
            track,
            track_added: false,
            dtls_role: None,
            local,
            relay,
            gathered,
            pump,
        })
    }

    /// What the browser's leg speaks.
    pub fn codec(&self) -> BrowserCodec {
        self.codec
    }

    /// The bridge's RTP address: what the SIP side's SDP says the phone listens on.
    pub fn local(&self) -> SocketAddr {
        self.local
    }

    /// The relay wants the browser's audio at `relay` (none: not yet known, or on hold
    /// by address).
    pub fn send_to(&self, relay: Option<SocketAddr>) {
        self.relay.send_replace(relay);
    }

    /// Answer the browser's `offer`; the answer, with the host's ICE candidates.
    pub async fn answer(&mut self, offer: String) -> Result<String, BridgeError> {
        let offer = RTCSessionDescription::offer(offer).map_err(webrtc)?;
        self.connection.set_remote_description(offer).await.map_err(webrtc)?;
        // After the offer, so the track takes the transceiver the browser's m-line made.
        self.add_track().await?;
        let answer = self.connection.create_answer(None).await.map_err(webrtc)?;
        self.connection.set_local_description(answer).await.map_err(webrtc)?;
        let answer = self.gathered_description().await?;
        match &self.dtls_role {
            Some(role) => Ok(with_setup(&answer, role)),
            None => {
                self.dtls_role = setup_of(&answer);
                Ok(answer)
            }
        }
    }

    /// An offer to the browser, with the host's ICE candidates.
    pub async fn offer(&mut self) -> Result<String, BridgeError> {
        self.add_track().await?;
        let offer = self.connection.create_offer(None).await.map_err(webrtc)?;
        self.connection.set_local_description(offer).await.map_err(webrtc)?;
        self.gathered_description().await
    }

    /// The browser answered our offer with `answer`.
    pub async fn accept(&mut self, answer: String) -> Result<(), BridgeError> {
        if self.dtls_role.is_none() {
            // Whatever the browser took, we are the other end.
            let theirs = setup_of(&answer);
            self.dtls_role =
                theirs.map(|role| if role == "active" { "passive" } else { "active" }.to_string());
        }
        let answer = RTCSessionDescription::answer(answer).map_err(webrtc)?;
        self.connection.set_remote_description(answer).await.map_err(webrtc)
    }

    async fn add_track(&mut self) -> Result<(), BridgeError> {
        if !self.track_added {
            let track = Arc::clone(&self.track) as Arc<dyn TrackLocal>;
            self.connection.add_track(track).await.map_err(webrtc)?;
            self.track_added = true;
        }
        Ok(())
    }

    async fn gathered_description(&self) -> Result<String, BridgeError> {
        let mut gathered = self.gathered.clone();
        // Timing out still sends what was gathered (the browser may find a way anyway).
        let _ = tokio::time::timeout(GATHERING_LIMIT, gathered.wait_for(|done| *done)).await;
        let description = self.connection.local_description().await;
        description.map(|d| d.sdp).ok_or_else(|| BridgeError::WebRtc("no local description".into()))
    }

    /// End the browser's leg.
    pub async fn close(self) {
        self.pump.abort();
        if let Err(error) = self.connection.close().await {
            tracing::debug!(%error, "closing a web phone's media connection");
        }
    }
}

/// The `a=setup:` role of `description`.
fn setup_of(description: &str) -> Option<String> {
    description.lines().find_map(|line| line.trim_end().strip_prefix("a=setup:").map(str::to_string))
}

/// `description` with every `a=setup:` line saying `role`.
fn with_setup(description: &str, role: &str) -> String {
    description
        .split_inclusive('\n')
        .map(
            |line| {
                if line.starts_with("a=setup:") { format!("a=setup:{role}\r\n") } else { line.to_string() }
            },
        )
        .collect()
}

/// The browser's audio, packet by packet, to the relay (through `transcoder` if the
/// browser speaks Opus).
async fn to_relay(
    track: Arc<dyn TrackRemote>,
    socket: Arc<UdpSocket>,
    relay: watch::Receiver<Option<SocketAddr>>,
    mut transcoder: Option<OpusToPcmu>,
) {
    while let Some(event) = track.poll().await {
        let TrackRemoteEvent::OnRtpPacket(packet) = event else { continue };
        let Some(relay) = *relay.borrow() else { continue };
        let mut packet = match transcoder.as_mut() {
            Some(transcoder) => match transcoder.transcode(&packet) {
                Some(pcmu) => pcmu,
                None => continue,
            },
            None => packet,
        };
        // The browser's header extensions (its MID, audio level) mean nothing to a phone.
        packet.header.extension = false;
        packet.header.extensions.clear();
        if let Ok(bytes) = packet.marshal() {
            let _ = socket.send_to(&bytes, relay).await;
        }
    }
}

/// The relay's audio (from `relay`, nobody else), packet by packet, to the browser, as
/// the track's stream `ssrc` (the sender sends nothing else), through `transcoder` if the
/// browser speaks Opus. Only the relay side's codec passes: the track would relabel
/// anything else (telephone events) as audio.
async fn to_browser(
    socket: Arc<UdpSocket>,
    relay: watch::Receiver<Option<SocketAddr>>,
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    codec: BrowserCodec,
    mut transcoder: Option<PcmuToOpus>,
) {
    let mut buffer = vec![0u8; MAX_PACKET];
    loop {
        let Ok((length, from)) = socket.recv_from(&mut buffer).await else { return };
        // Only the relay speaks to the bridge (it sends from where it receives): a packet
        // from anywhere else is not the call's and never reaches the browser.
        if *relay.borrow() != Some(from) {
            continue;
        }
        let Ok(packet) = rtc::rtp::Packet::unmarshal(&mut &buffer[..length]) else { continue };
        if packet.header.payload_type != codec.relay_payload_type() {
            continue;
        }
        let packet = match transcoder.as_mut() {
            Some(transcoder) => transcoder.transcode(&packet, ssrc, codec.payload_type()),
            None => Some(packet),
        };
        if let Some(mut packet) = packet {
            packet.header.ssrc = ssrc;
            // Only extensions negotiated with the browser may go out; the phone's mean nothing.
            packet.header.extension = false;
            packet.header.extensions.clear();
            // Fails until the browser's answer bound the track: that packet is dropped.
            let _ = track.write_rtp(packet).await;
        }
    }
}
