//! The web phone's edge: on a browser's SIP WebSocket, session descriptions describe
//! WebRTC media (ICE, DTLS-SRTP); everywhere else in the host they describe plain RTP.
//! Each SDP body that crosses the connection is exchanged here for its counterpart, and a
//! [`Bridge`] per call carries the audio between the two.
//!
//! Offer/answer (RFC 3264) is followed per Call-ID, whatever message carries the body
//! (INVITE, 2xx, ACK): a body arriving while the other side's offer is outstanding is the
//! answer to it, any other is a new offer. So a browser's offer becomes a plain offer of
//! its first G.711 codec at the bridge's address, and the host's plain answer becomes the
//! bridge's WebRTC answer; the host's offer becomes the bridge's WebRTC offer, and the
//! browser's answer a plain answer. A body sent again (a 2xx retransmitted until its
//! ACK, a 200 repeating a 183's answer) gets the same translation again.
//!
//! A browser offering Opus and no G.711 is transcoded to PCMU. A body that cannot be
//! bridged (none of the three) passes unchanged, and the host's answer to it is the
//! clear 488 it gives any unusable offer.

use std::collections::HashMap;
use std::net::IpAddr;

use rsip::prelude::*;
use rsip::{Header, Method, SipMessage};

use super::bridge::{Bridge, BrowserCodec};
use crate::media::sdp::{self, Direction, HostCodec, Sdp};

/// Calls one connection carries at most; past it the oldest call's media is dropped.
const MAX_CALLS: usize = 16;

/// The SDP translation for one browser's SIP WebSocket.
pub struct Gateway {
    bind_ip: IpAddr,
    calls: HashMap<String, CallMedia>,
    /// Call-IDs in the order they were first seen, for [`MAX_CALLS`].
    order: Vec<String>,
}

#[derive(Default)]
struct CallMedia {
    bridge: Option<Bridge>,
    pending: Pending,
    /// A negotiation completed: a failed re-INVITE leaves the call's media as it was.
    established: bool,
    /// The origin version of the plain descriptions given to the host (RFC 3264 §8).
    version: u64,
    session_id: String,
    /// The last plain body sent to the browser, and what it became.
    last_out: Option<(Vec<u8>, Vec<u8>)>,
    /// The last WebRTC body the browser sent, and what it became (an answer in a 183
    /// and again in the 200 is one answer).
    last_in: Option<(Vec<u8>, Vec<u8>)>,
}

#[derive(Default)]
enum Pending {
    #[default]
    Nothing,
    /// The browser offered this, in this direction; the host's answer is due.
    BrowserOffer(String, Direction),
    /// The host offered this; the browser's answer is due.
    HostOffer(Box<Sdp>),
}

#[derive(Debug, thiserror::Error)]
enum Untranslatable {
    #[error("the description has neither PCMU nor PCMA")]
    NoG711,
    #[error("the browser offers none of PCMU, PCMA and Opus")]
    NoCommonCodec,
    #[error(transparent)]
    Bridge(#[from] super::bridge::BridgeError),
}

impl Gateway {
    /// A gateway whose bridges bind `bind_ip`.
    pub fn new(bind_ip: IpAddr) -> Gateway {
        Gateway { bind_ip, calls: HashMap::new(), order: Vec::new() }
    }

    /// A message from the browser, its WebRTC description (if any) made plain.
    pub async fn from_browser(&mut self, mut message: SipMessage) -> SipMessage {
        let Some(call_id) = call_id(&message) else { return message };
        let ends = ends_media(&message);
        if let Some(description) = sdp_body(&message)
            && !description.is_plain_rtp()
        {
            let text = String::from_utf8_lossy(message.body()).into_owned();
            match self.browser_description(&call_id, text, &description).await {
                Ok(plain) => replace_body(&mut message, plain),
                Err(error) => tracing::warn!(%call_id, %error, "a web phone's media cannot be bridged"),
            }
        }
        if let Some(failed_invite) = ends {
            self.media_ended(&call_id, failed_invite).await;
        }
        message
    }

    /// Bytes the endpoint sends the browser, their plain description (if any) made WebRTC.
    pub async fn to_browser(&mut self, bytes: Vec<u8>) -> Vec<u8> {
        let Ok(mut message) = SipMessage::try_from(bytes.as_slice()) else { return bytes };
        let Some(call_id) = call_id(&message) else { return bytes };
        let ends = ends_media(&message);
        let mut changed = false;
        if let Some(description) = sdp_body(&message)
            && description.is_plain_rtp()
        {
            match self.host_description(&call_id, message.body().clone(), &description).await {
                Ok(webrtc) => {
                    replace_body(&mut message, webrtc);
                    changed = true;
                }
                Err(error) => {
                    tracing::warn!(%call_id, %error, "a call's media cannot be bridged to a web phone")
                }
            }
        }
        if let Some(failed_invite) = ends {
            self.media_ended(&call_id, failed_invite).await;
        }
        if changed { message.to_string().into_bytes() } else { bytes }
    }

    /// The browser sent `description` (`text`): its plain counterpart for the host.
    async fn browser_description(
        &mut self,
        call_id: &str,
        text: String,
        description: &Sdp,
    ) -> Result<Vec<u8>, Untranslatable> {
        let bind_ip = self.bind_ip;
        let call = self.call(call_id);
        if let Some((sent, translated)) = &call.last_in
            && *sent == text.as_bytes()
        {
            return Ok(translated.clone());
        }
        let plain = call.browser_to_plain(bind_ip, &text, description).await?;
        call.last_in = Some((text.into_bytes(), plain.clone()));
        Ok(plain)
    }
}

impl CallMedia {
    /// `description` with this call's origin, its version one more than the last.
    fn stamped(&mut self, mut description: Sdp) -> Vec<u8> {
        self.version += 1;
        description.set_origin(&self.session_id, self.version);
        description.to_bytes()
    }

    /// The plain counterpart of the browser's `text` (`description`), a new offer or the
    /// answer to the host's.
    async fn browser_to_plain(
        &mut self,
        bind_ip: IpAddr,
        text: &str,
        description: &Sdp,
    ) -> Result<Vec<u8>, Untranslatable> {
        let call = self;
        let text = text.to_string();
        match std::mem::take(&mut call.pending) {
            Pending::HostOffer(offer) => {
                let bridge = call.bridge.as_mut().ok_or(Untranslatable::NoG711)?;
                bridge.accept(text).await?;
                let codec = HostCodec {
                    payload_type: offer.first_g711().ok_or(Untranslatable::NoG711)?,
                    telephone_event: None,
                };
                call.established = true;
                let direction = both(offer.direction().answer(), description.direction());
                let answer = offer.host_answer(bridge.local(), codec).with_direction(direction);
                Ok(call.stamped(answer))
            }
            _ => {
                if call.bridge.is_none() {
                    let codec = match (description.first_g711(), description.payload_type_of("opus/48000/2"))
                    {
                        (Some(g711), _) => BrowserCodec::G711(g711),
                        (None, Some(opus)) => BrowserCodec::Opus(opus),
                        (None, None) => return Err(Untranslatable::NoCommonCodec),
                    };
                    call.bridge = Some(Bridge::open(bind_ip, codec).await?);
                }
                // Just set: `Bridge::open` succeeded or returned above.
                let bridge = call.bridge.as_ref().expect("the call has a bridge");
                let payload_type = bridge.codec().relay_payload_type();
                let codec = HostCodec { payload_type, telephone_event: None };
                let offer = sdp::host_offer(bridge.local(), codec).with_direction(description.direction());
                call.pending = Pending::BrowserOffer(text, description.direction());
                Ok(call.stamped(offer))
            }
        }
    }
}

impl Gateway {
    /// The host sent `plain` (`description`): its WebRTC counterpart for the browser.
    async fn host_description(
        &mut self,
        call_id: &str,
        plain: Vec<u8>,
        description: &Sdp,
    ) -> Result<Vec<u8>, Untranslatable> {
        let bind_ip = self.bind_ip;
        let call = self.call(call_id);
        if let Some((sent, translated)) = &call.last_out
            && *sent == plain
        {
            return Ok(translated.clone());
        }
        let translated = match std::mem::take(&mut call.pending) {
            Pending::BrowserOffer(offer, offered) => {
                let bridge = call.bridge.as_mut().ok_or(Untranslatable::NoG711)?;
                bridge.send_to(description.remote_rtp());
                let answer = bridge.answer(offer).await?;
                call.established = true;
                // The peer connection answers as its transceiver stands (send and
                // receive); RFC 3264 §6.1 wants the offer's direction answered, and the
                // host's answer may narrow it further.
                with_direction(&answer, both(offered.answer(), description.direction()))
            }
            _ => {
                let payload_type = description.first_g711().ok_or(Untranslatable::NoG711)?;
                if call.bridge.is_none() {
                    call.bridge = Some(Bridge::open(bind_ip, BrowserCodec::G711(payload_type)).await?);
                }
                // Just set: `Bridge::open` succeeded or returned above.
                let bridge = call.bridge.as_mut().expect("the call has a bridge");
                bridge.send_to(description.remote_rtp());
                let offer = bridge.offer().await?;
                call.pending = Pending::HostOffer(Box::new(description.clone()));
                offer
            }
        }
        .into_bytes();
        call.last_out = Some((plain, translated.clone()));
        Ok(translated)
    }

    /// The call's media, new if it has none yet.
    fn call(&mut self, call_id: &str) -> &mut CallMedia {
        if !self.calls.contains_key(call_id) {
            if self.order.len() >= MAX_CALLS {
                let oldest = self.order.remove(0);
                if let Some(call) = self.calls.remove(&oldest)
                    && let Some(bridge) = call.bridge
                {
                    tokio::spawn(bridge.close());
                }
            }
            self.order.push(call_id.to_string());
            let session_id = rand::random::<u32>().to_string();
            self.calls.insert(call_id.to_string(), CallMedia { session_id, ..CallMedia::default() });
        }
        // Inserted just above when missing.
        self.calls.get_mut(call_id).expect("the call is present")
    }

    /// The call's dialog ended (`false`) or its INVITE failed (`true`: only a call that
    /// never negotiated loses its media then).
    async fn media_ended(&mut self, call_id: &str, failed_invite: bool) {
        let Some(call) = self.calls.get_mut(call_id) else { return };
        if failed_invite && call.established {
            call.pending = Pending::Nothing;
            return;
        }
        if let Some(call) = self.calls.remove(call_id)
            && let Some(bridge) = call.bridge
        {
            bridge.close().await;
        }
        self.order.retain(|id| id != call_id);
    }

    /// Close every call's media: the connection is gone.
    pub async fn close(self) {
        for (_, call) in self.calls {
            if let Some(bridge) = call.bridge {
                bridge.close().await;
            }
        }
    }
}

/// The direction allowing only what both `a` and `b` allow.
fn both(a: Direction, b: Direction) -> Direction {
    match (a.sends() && b.sends(), a.receives() && b.receives()) {
        (true, true) => Direction::SendRecv,
        (true, false) => Direction::SendOnly,
        (false, true) => Direction::RecvOnly,
        (false, false) => Direction::Inactive,
    }
}

/// `description` (one audio stream, the bridge's) with its direction attribute set to `direction`.
fn with_direction(description: &str, direction: Direction) -> String {
    description
        .split_inclusive('\n')
        .map(|line| {
            let attribute = line.trim_end().strip_prefix("a=").and_then(Direction::from_attribute);
            if attribute.is_some() { format!("a={}\r\n", direction.attribute()) } else { line.to_string() }
        })
        .collect()
}

fn call_id(message: &SipMessage) -> Option<String> {
    message.call_id_header().ok().map(|h| h.value().to_string())
}

/// Whether `message` ends the call's media: `Some(false)` for a BYE or CANCEL,
/// `Some(true)` for a failure response to an INVITE.
fn ends_media(message: &SipMessage) -> Option<bool> {
    match message {
        SipMessage::Request(request) => {
            matches!(request.method, Method::Bye | Method::Cancel).then_some(false)
        }
        SipMessage::Response(response) => {
            let invite =
                response.cseq_header().is_ok_and(|c| c.value().split_whitespace().nth(1) == Some("INVITE"));
            (invite && response.status_code.code() >= 300).then_some(true)
        }
    }
}

/// The message's SDP body, if it has one that parses.
fn sdp_body(message: &SipMessage) -> Option<Sdp> {
    if message.body().is_empty() {
        return None;
    }
    sdp::parse(message.body()).ok()
}

/// Swap the body of `message` for `body`, with its Content-Length.
fn replace_body(message: &mut SipMessage, body: Vec<u8>) {
    let headers = message.headers_mut();
    headers.retain(|header| !matches!(header, Header::ContentLength(_)));
    headers.push(Header::ContentLength(body.len().to_string().into()));
    *message.body_mut() = body;
}
