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

mod peer;
mod room;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::ws::WebSocket;

use room::LiveRoom;

/// The rooms with participants, by (company, room id).
pub struct Rooms {
    live: Mutex<HashMap<(String, String), Arc<LiveRoom>>>,
    /// Where the peer connections' UDP sockets are bound (their ICE host candidates).
    bind_ip: IpAddr,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A map of rooms is always whole: a panic elsewhere cannot leave it half-written.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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

    /// How many browsers are in `company`'s room `id` now.
    pub fn participants(&self, company: &str, id: &str) -> usize {
        lock(&self.live).get(&(company.to_string(), id.to_string())).map_or(0, |room| room.size())
    }

    /// A browser joins `company`'s room `id` over `socket`; returns when it leaves.
    pub async fn join(self: &Arc<Self>, company: &str, id: &str, socket: WebSocket) {
        let key = (company.to_string(), id.to_string());
        let room = lock(&self.live).entry(key.clone()).or_insert_with(|| Arc::new(LiveRoom::new())).clone();
        peer::run(&room, self.bind_ip, socket).await;
        let mut live = lock(&self.live);
        if room.size() == 0 && live.get(&key).is_some_and(|current| Arc::ptr_eq(current, &room)) {
            live.remove(&key);
        }
    }

    /// The room was deleted: everyone in it is sent away.
    pub fn close(&self, company: &str, id: &str) {
        if let Some(room) = lock(&self.live).remove(&(company.to_string(), id.to_string())) {
            room.close();
        }
    }
}
