//! SDP for the host's own media: when the host answers a caller itself (IVR, voicemail,
//! queues) it picks one G.711 codec from the offer, and when it later connects that caller
//! to someone, it offers the callee exactly that codec, so the relay can pass both
//! directions through unchanged.

use std::net::SocketAddr;

use super::{Direction, Line, Media, PCMA, PCMU, Sdp, SdpError, address_type, connection_line};

/// The audio the host exchanges with a phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostCodec {
    /// [`PCMU`] or [`PCMA`].
    pub payload_type: u8,
    /// The RFC 4733 telephone-event payload type, when the phone sends digits that way.
    pub telephone_event: Option<u8>,
}

impl HostCodec {
    fn formats(&self) -> Vec<String> {
        std::iter::once(self.payload_type).chain(self.telephone_event).map(|pt| pt.to_string()).collect()
    }

    fn attributes(&self) -> Vec<Line> {
        let name = if self.payload_type == PCMA { "PCMA" } else { "PCMU" };
        let mut lines = vec![Line::new('a', format!("rtpmap:{} {name}/8000", self.payload_type))];
        if let Some(event) = self.telephone_event {
            lines.push(Line::new('a', format!("rtpmap:{event} telephone-event/8000")));
            lines.push(Line::new('a', format!("fmtp:{event} 0-16")));
        }
        lines.push(Line::new('a', "ptime:20"));
        lines.push(Line::new('a', "sendrecv"));
        lines
    }
}

impl Sdp {
    /// The codec the host answers this offer with: the first of PCMU and PCMA (by their
    /// static payload types) in the sender's order, with its telephone events if offered.
    pub fn host_codec(&self) -> Result<HostCodec, SdpError> {
        if !self.stream().is_plain_rtp() {
            return Err(SdpError::UnsupportedTransport(self.stream().proto.clone()));
        }
        let payload_type = self.first_g711().ok_or(SdpError::NoG711)?;
        Ok(HostCodec { payload_type, telephone_event: self.telephone_event() })
    }

    /// The host's answer to this offer: `codec` received at `via`; every other media
    /// description refused (RFC 3264 §6 keeps their number and order).
    pub fn host_answer(&self, via: SocketAddr, codec: HostCodec) -> Sdp {
        let media = self
            .media
            .iter()
            .enumerate()
            .map(|(index, media)| {
                if index == self.audio {
                    host_audio(via, codec, media.proto.clone())
                } else {
                    media.rejected(via.ip())
                }
            })
            .collect();
        Sdp {
            session: session_lines(via),
            media,
            audio: self.audio,
            address: via.ip(),
            payload_types: codec_types(codec),
        }
    }
}

impl Sdp {
    /// Whether the audio stream is plain RTP (`RTP/AVP`, `RTP/AVPF`), what the relay
    /// carries, rather than a WebRTC one (`UDP/TLS/RTP/SAVPF`) a browser sends.
    pub fn is_plain_rtp(&self) -> bool {
        self.stream().is_plain_rtp()
    }

    /// The first of PCMU and PCMA (by their static payload types) in the sender's order,
    /// whatever the transport.
    pub fn first_g711(&self) -> Option<u8> {
        self.payload_types.iter().copied().find(|&pt| pt == PCMU || pt == PCMA)
    }

    /// The audio stream's payload type whose `a=rtpmap:` encoding is `encoding` (such as
    /// "opus/48000/2", compared without case), if there is one.
    pub fn payload_type_of(&self, encoding: &str) -> Option<u8> {
        let stream = self.stream();
        self.payload_types.iter().copied().find(|pt| {
            stream.rtpmap(&pt.to_string()).is_some_and(|named| named.eq_ignore_ascii_case(encoding))
        })
    }

    /// The same description with the audio stream's direction attribute set to `direction`.
    pub fn with_direction(mut self, direction: Direction) -> Sdp {
        let stream = &mut self.media[self.audio];
        stream.lines.retain(|line| {
            line.attribute().is_none_or(|(name, _)| Direction::from_attribute(name).is_none())
        });
        stream.lines.push(Line::new('a', direction.attribute()));
        self
    }
}

/// An offer from the host of exactly `codec`, received at `via`.
pub fn host_offer(via: SocketAddr, codec: HostCodec) -> Sdp {
    Sdp {
        session: session_lines(via),
        media: vec![host_audio(via, codec, "RTP/AVP".to_string())],
        audio: 0,
        address: via.ip(),
        payload_types: codec_types(codec),
    }
}

fn codec_types(codec: HostCodec) -> Vec<u8> {
    std::iter::once(codec.payload_type).chain(codec.telephone_event).collect()
}

fn host_audio(via: SocketAddr, codec: HostCodec, proto: String) -> Media {
    let mut lines = vec![connection_line(via.ip())];
    lines.extend(codec.attributes());
    Media { kind: "audio".into(), port: via.port(), port_count: None, proto, formats: codec.formats(), lines }
}

fn session_lines(via: SocketAddr) -> Vec<Line> {
    // Any number works as the session id; a random one keeps two host sessions apart.
    let id: u32 = rand::random();
    vec![
        Line::new('v', "0"),
        Line::new('o', format!("- {id} 1 IN {} {}", address_type(via.ip()), via.ip())),
        Line::new('s', "centralita"),
        Line::new('t', "0 0"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::sdp::parse;

    const OFFER: &str = "v=0\r\no=bob 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n\
        m=audio 4000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n\
        m=video 4002 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n";

    #[test]
    fn the_host_answers_the_first_g711_codec_with_its_events_and_refuses_video() {
        let offer = parse(OFFER.as_bytes()).unwrap();
        let codec = offer.host_codec().unwrap();
        assert_eq!(codec, HostCodec { payload_type: PCMA, telephone_event: Some(101) });
        let via: SocketAddr = "198.51.100.1:20000".parse().unwrap();
        let answer = parse(&offer.host_answer(via, codec).to_bytes()).unwrap();
        assert_eq!(answer.remote_rtp(), Some(via));
        assert_eq!(answer.payload_types(), &[8, 101]);
        assert_eq!(answer.telephone_event(), Some(101));
        let text = answer.to_string();
        assert!(text.contains("m=video 0 RTP/AVP 96"), "{text}");
        assert!(text.contains("a=rtpmap:8 PCMA/8000"), "{text}");
    }

    #[test]
    fn an_offer_without_static_g711_is_refused() {
        let offer = OFFER.replace("RTP/AVP 8 0 101", "RTP/AVP 9 101");
        assert_eq!(parse(offer.as_bytes()).unwrap().host_codec(), Err(SdpError::NoG711));
    }

    #[test]
    fn the_host_offers_exactly_the_codec_it_answered() {
        let via: SocketAddr = "198.51.100.1:20002".parse().unwrap();
        let offer = host_offer(via, HostCodec { payload_type: PCMU, telephone_event: None });
        let parsed = parse(&offer.to_bytes()).unwrap();
        assert_eq!(parsed.payload_types(), &[0]);
        assert_eq!(parsed.remote_rtp(), Some(via));
        assert_eq!(parsed.telephone_event(), None);
    }
}
