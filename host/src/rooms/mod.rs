//! Conference rooms for browsers (SPEC.md §11): a selective forwarding unit (SFU).
//!
//! Each browser in a room has one WebRTC peer connection with the host (ICE, DTLS-SRTP,
//! bundle, rtcp-mux, from the `webrtc` crate). What a browser sends — its microphone and
//! camera — is forwarded as it is, packet by packet, to every other browser of the room:
//! no decoding, so video costs the host no more than audio per packet.
//!
//! - [`Rooms`] keeps the rooms that have someone in them ([`room`]).
//! - A participant's signalling ([`peer`]) runs over the WebSocket its page opened: the
//!   host always makes the offers (the browser only answers), so a participant joining
//!   or leaving — which adds or removes tracks at everyone else — never makes two offers
//!   cross.

mod mixer;
mod peer;
mod room;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use axum::extract::ws::WebSocket;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_PCMA, MIME_TYPE_PCMU};
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RtpCodecKind};
use rtc::shared::marshal::Unmarshal;
use tokio::sync::{mpsc, watch};

pub use mixer::Mixer;
use room::{LiveRoom, Member, Reach};

use crate::media::sdp::PCMA;
use crate::sync::lock;

/// The rooms with participants, by (company, room id).
pub struct Rooms {
    live: Mutex<HashMap<(String, String), Arc<LiveRoom>>>,
    /// Where the peer connections' UDP sockets are bound (their ICE host candidates).
    bind_ip: IpAddr,
}

impl Default for Rooms {
    /// Rooms on loopback (tests; the server binds its SIP address's).
    fn default() -> Rooms {
        Rooms { live: Mutex::default(), bind_ip: IpAddr::V4(std::net::Ipv4Addr::LOCALHOST) }
    }
}

impl Rooms {
    /// Rooms whose media sockets bind `bind_ip`.
    pub fn new(bind_ip: IpAddr) -> Arc<Rooms> {
        Arc::new(Rooms { live: Mutex::default(), bind_ip })
    }

    /// Where WebRTC sockets bind (the host's SIP address): rooms' and web phones'.
    pub fn bind_ip(&self) -> IpAddr {
        self.bind_ip
    }

    /// How many browsers are in `company`'s room `id` now.
    pub fn participants(&self, company: &str, id: &str) -> usize {
        lock(&self.live).get(&(company.to_string(), id.to_string())).map_or(0, |room| room.size())
    }

    /// `company`'s room `id`, live from now on.
    fn live_room(&self, company: &str, id: &str) -> Arc<LiveRoom> {
        let key = (company.to_string(), id.to_string());
        lock(&self.live).entry(key).or_insert_with(|| Arc::new(LiveRoom::new())).clone()
    }

    /// Forget `room` once nobody is in it.
    fn left(&self, company: &str, id: &str, room: &Arc<LiveRoom>) {
        let key = (company.to_string(), id.to_string());
        let mut live = lock(&self.live);
        if room.size() == 0 && live.get(&key).is_some_and(|current| Arc::ptr_eq(current, room)) {
            live.remove(&key);
        }
    }

    /// A browser joins `company`'s room `id` over `socket`; returns when it leaves.
    pub async fn join(self: &Arc<Self>, company: &str, id: &str, socket: WebSocket) {
        let room = self.live_room(company, id);
        peer::run(&room, self.bind_ip, socket).await;
        self.left(company, id, &room);
    }

    /// A phone joins `company`'s room `id`, sending G.711 of `payload_type` (PCMU or
    /// PCMA): the others hear its RTP packets, sent to [`PhoneInRoom::audio`], and it
    /// hears [`PhoneInRoom::mix`]. It leaves when the handle is dropped.
    pub async fn join_phone(self: &Arc<Self>, company: &str, id: &str, payload_type: u8) -> PhoneInRoom {
        let room = self.live_room(company, id);
        let member = room.next_id();
        let mix = Arc::new(Mixer::default());
        room.enter(Arc::new(Member { id: member, reach: Reach::Phone(Arc::clone(&mix)) })).await;
        let mime_type = if payload_type == PCMA { MIME_TYPE_PCMA } else { MIME_TYPE_PCMU };
        let codec = RTCRtpCodec { mime_type: mime_type.to_string(), clock_rate: 8000, ..Default::default() };
        let (copies, _) = room.published_by(member, RtpCodecKind::Audio, codec).await;
        let (audio, mut packets) = mpsc::unbounded_channel::<Vec<u8>>();
        let closed = room.closed();
        let (rooms, company, id) = (Arc::clone(self), company.to_string(), id.to_string());
        tokio::spawn(async move {
            while let Some(bytes) = packets.recv().await {
                if let Ok(packet) = rtc::rtp::Packet::unmarshal(&mut bytes.as_slice()) {
                    room::forward(member, &packet, &copies).await;
                }
            }
            room.leave(member).await;
            rooms.left(&company, &id, &room);
        });
        PhoneInRoom { mix, audio, closed }
    }

    /// The room was deleted: everyone in it is sent away.
    pub fn close(&self, company: &str, id: &str) {
        if let Some(room) = lock(&self.live).remove(&(company.to_string(), id.to_string())) {
            room.close();
        }
    }
}

/// A phone in a room; dropping it leaves the room.
pub struct PhoneInRoom {
    /// What the phone hears: the others' audio, mixed (play it to the phone).
    pub mix: Arc<Mixer>,
    /// Where the phone's RTP packets go (a relay side's tap).
    pub audio: mpsc::UnboundedSender<Vec<u8>>,
    /// Changes when the room is deleted.
    pub closed: watch::Receiver<bool>,
}

/// `company`'s room dialled as `number`, if one is.
pub fn find_by_number(
    app: &crate::app::App,
    company: &str,
    number: &str,
) -> Result<Option<crate::store::records::Room>, crate::store::StoreError> {
    use crate::store::Read;
    let rooms = app.store.read(|r| r.scan(&crate::store::ROOMS, &crate::store::company_prefix(company)))?;
    Ok(rooms.into_iter().find(|room| room.number.as_deref() == Some(number)))
}

/// `company`'s room `id` (what a conference destination names), if it exists.
pub fn find_by_id(
    app: &crate::app::App,
    company: &str,
    id: &str,
) -> Result<Option<crate::store::records::Room>, crate::store::StoreError> {
    use crate::store::Read;
    app.store.read(|r| r.get(&crate::store::ROOMS, &crate::store::company_key(company, id)))
}
