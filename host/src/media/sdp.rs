//! SDP as the media anchor needs it (RFC 4566 syntax, RFC 3264 offer/answer): parse the
//! body of an INVITE or a 2xx, read where the sender wants its audio, and print the same
//! description as the host offers or answers it to the other leg ([`Sdp::relayed`]).
//!
//! Sans-IO and our own: every line is kept as it came so the description prints back
//! faithfully, except the lines the relay rewrites. Nothing here panics on input; a body
//! that cannot be used is an [`SdpError`] that says why (the engine answers 488 to it).

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// PCMU's static payload type (RFC 3551 table 4).
pub const PCMU: u8 = 0;
/// PCMA's static payload type (RFC 3551 table 4).
pub const PCMA: u8 = 8;

/// Attributes dropped on the way to the other leg: the host terminates the transport, so
/// the sender's ICE candidates, SRTP/DTLS keys and multiplexing/bundling choices describe
/// a transport the other leg will never talk to.
const TRANSPORT_ATTRIBUTES: &[&str] = &[
    "candidate",
    "end-of-candidates",
    "remote-candidates",
    "ice-ufrag",
    "ice-pwd",
    "ice-options",
    "ice-lite",
    "ice-mismatch",
    "crypto",
    "key-mgmt",
    "fingerprint",
    "setup",
    "rtcp-mux",
    "rtcp-mux-only",
    "group",
    "bundle-only",
];

/// Attributes that name one payload type (`a=<name>:<pt> ...`), dropped with their codec.
const PER_CODEC_ATTRIBUTES: &[&str] = &["rtpmap", "fmtp", "rtcp-fb"];

/// Why a body is not a usable session description.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    #[error("the body is not UTF-8")]
    NotUtf8,
    #[error("the body does not start with a v= line")]
    NotSdp,
    #[error("line {number} is not `<type>=<value>`")]
    BadLine { number: usize },
    #[error("malformed o= line {0:?}")]
    BadOrigin(String),
    #[error("no o= line")]
    MissingOrigin,
    #[error("malformed m= line {0:?}")]
    BadMedia(String),
    #[error("bad port in m= line {0:?}")]
    BadPort(String),
    #[error("malformed c= line {0:?}")]
    BadConnection(String),
    #[error("payload type {0:?} of the audio stream is not a number from 0 to 127")]
    BadPayloadType(String),
    #[error("no m=audio line")]
    NoAudio,
    #[error("the audio stream has no c= line, at media or session level")]
    MissingConnection,
    #[error("the audio stream uses {0}; the relay carries plain RTP/AVP or RTP/AVPF")]
    UnsupportedTransport(String),
    #[error("the audio stream offers neither PCMU nor PCMA")]
    NoG711,
}

/// Which way media flows, from the point of view of the description's sender
/// (RFC 3264 §5.1, §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    /// The direction named by an attribute (`sendrecv`, `sendonly`, ...), if it is one.
    pub fn from_attribute(name: &str) -> Option<Direction> {
        match name {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }

    /// The attribute naming this direction.
    pub fn attribute(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// Whether the sender of the description sends media.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether the sender of the description wants to receive media.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The direction an answer takes to an offer with this one (RFC 3264 §6.1).
    pub fn answer(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            other => other,
        }
    }

    /// This direction once the sender also refuses to receive (an RFC 2543 hold, c=0.0.0.0).
    fn without_receiving(self) -> Direction {
        match self {
            Direction::SendRecv | Direction::SendOnly => Direction::SendOnly,
            Direction::RecvOnly | Direction::Inactive => Direction::Inactive,
        }
    }
}

/// One `<type>=<value>` line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    kind: char,
    value: String,
}

impl Line {
    fn new(kind: char, value: impl Into<String>) -> Line {
        Line { kind, value: value.into() }
    }

    /// For an `a=` line, the attribute's name and its value after the colon, if any.
    fn attribute(&self) -> Option<(&str, Option<&str>)> {
        if self.kind != 'a' {
            return None;
        }
        Some(match self.value.split_once(':') {
            Some((name, value)) => (name, Some(value)),
            None => (self.value.as_str(), None),
        })
    }
}

/// One media description: its m= line, split, and the lines after it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Media {
    kind: String,
    port: u16,
    /// The `/<number of ports>` suffix, kept only to print back.
    port_count: Option<String>,
    proto: String,
    formats: Vec<String>,
    lines: Vec<Line>,
}

impl Media {
    fn parse(value: &str) -> Result<Media, SdpError> {
        let mut fields = value.split_ascii_whitespace();
        let (Some(kind), Some(port), Some(proto)) = (fields.next(), fields.next(), fields.next()) else {
            return Err(SdpError::BadMedia(value.to_string()));
        };
        let (port, port_count) = match port.split_once('/') {
            Some((port, count)) => (port, Some(count.to_string())),
            None => (port, None),
        };
        let port = port.parse().map_err(|_| SdpError::BadPort(value.to_string()))?;
        Ok(Media {
            kind: kind.to_string(),
            port,
            port_count,
            proto: proto.to_string(),
            formats: fields.map(str::to_string).collect(),
            lines: Vec::new(),
        })
    }

    fn is_plain_rtp(&self) -> bool {
        matches!(self.proto.as_str(), "RTP/AVP" | "RTP/AVPF")
    }

    /// The same media description refused (RFC 3264 §6: port 0, same formats), keeping
    /// only its c= lines, pointed at `via`, so the description stays well-formed.
    fn rejected(&self, via: IpAddr) -> Media {
        let lines = self.lines.iter().filter(|line| line.kind == 'c').map(|_| connection_line(via)).collect();
        Media { port: 0, port_count: None, lines, ..self.clone() }
    }

    /// The encoding an `a=rtpmap:` line gives to payload type `pt` ("PCMU/8000"), if any.
    fn rtpmap(&self, pt: &str) -> Option<&str> {
        self.lines.iter().find_map(|line| match line.attribute() {
            Some(("rtpmap", Some(value))) => {
                let (number, encoding) = value.split_once(' ')?;
                (number == pt).then(|| encoding.trim())
            }
            _ => None,
        })
    }

    /// Whether the relay carries payload type `pt`: PCMU, PCMA, or RFC 4733 events at 8 kHz.
    fn is_relayed_codec(&self, pt: &str) -> bool {
        match self.rtpmap(pt) {
            Some(encoding) => {
                let encoding = encoding.to_ascii_lowercase();
                // "PCMU/8000" or "PCMU/8000/1": the channel count is optional (RFC 4566 §6).
                let base = encoding.strip_suffix("/1").unwrap_or(&encoding);
                matches!(base, "pcmu/8000" | "pcma/8000" | "telephone-event/8000")
            }
            None => pt == "0" || pt == "8",
        }
    }

    fn is_g711(&self, pt: &str) -> bool {
        match self.rtpmap(pt) {
            Some(encoding) => {
                let encoding = encoding.to_ascii_lowercase();
                encoding.starts_with("pcmu/") || encoding.starts_with("pcma/")
            }
            None => pt == "0" || pt == "8",
        }
    }
}

/// A parsed session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sdp {
    /// The session-level lines, from `v=` up to the first `m=`.
    session: Vec<Line>,
    media: Vec<Media>,
    /// Which media description is the audio stream the relay carries.
    audio: usize,
    /// The audio stream's connection address (media-level c=, else session-level).
    address: IpAddr,
    payload_types: Vec<u8>,
}

/// Parse the body of an INVITE, a 2xx or an ACK as SDP.
pub fn parse(body: &[u8]) -> Result<Sdp, SdpError> {
    let text = std::str::from_utf8(body).map_err(|_| SdpError::NotUtf8)?;
    let mut session = Vec::new();
    let mut media: Vec<Media> = Vec::new();
    // Accept CRLF and bare LF (RFC 4566 §5 asks parsers to), skip blank lines.
    let lines = text.split('\n').map(|line| line.trim_end_matches(['\r', ' ', '\t'])).enumerate();
    for (index, raw) in lines.filter(|(_, line)| !line.is_empty()) {
        if session.is_empty() && !raw.starts_with("v=") {
            return Err(SdpError::NotSdp);
        }
        let mut chars = raw.chars();
        let (Some(kind), Some('=')) = (chars.next(), chars.next()) else {
            return Err(SdpError::BadLine { number: index + 1 });
        };
        let value = chars.as_str();
        if kind == 'm' {
            media.push(Media::parse(value)?);
        } else if let Some(current) = media.last_mut() {
            current.lines.push(Line::new(kind, value));
        } else {
            session.push(Line::new(kind, value));
        }
    }
    if session.is_empty() {
        return Err(SdpError::NotSdp);
    }
    Sdp::index(session, media)
}

impl Sdp {
    /// Check the parts and find the audio stream's details.
    fn index(session: Vec<Line>, media: Vec<Media>) -> Result<Sdp, SdpError> {
        let origin = session.iter().find(|line| line.kind == 'o').ok_or(SdpError::MissingOrigin)?;
        if origin.value.split_ascii_whitespace().count() != 6 {
            return Err(SdpError::BadOrigin(origin.value.clone()));
        }
        // Prefer a plain RTP audio stream that is in use; fall back to any audio stream
        // so an SRTP-only offer is reported as such rather than as "no audio".
        let audios = || media.iter().enumerate().filter(|(_, m)| m.kind == "audio");
        let audio = audios()
            .find(|(_, m)| m.is_plain_rtp() && m.port != 0)
            .or_else(|| audios().find(|(_, m)| m.is_plain_rtp()))
            .or_else(|| audios().next())
            .map(|(index, _)| index)
            .ok_or(SdpError::NoAudio)?;
        let stream = &media[audio];
        let connection = stream
            .lines
            .iter()
            .chain(session.iter())
            .find(|line| line.kind == 'c')
            .ok_or(SdpError::MissingConnection)?;
        let address = parse_connection(&connection.value)?;
        let payload_types = stream
            .formats
            .iter()
            .map(|pt| match pt.parse::<u8>() {
                Ok(number) if number <= 127 => Ok(number),
                _ => Err(SdpError::BadPayloadType(pt.clone())),
            })
            .collect::<Result<_, _>>()?;
        Ok(Sdp { session, media, audio, address, payload_types })
    }

    fn stream(&self) -> &Media {
        &self.media[self.audio]
    }

    /// The audio stream's connection address (media-level `c=`, else session-level).
    pub fn audio_address(&self) -> IpAddr {
        self.address
    }

    /// The audio stream's RTP port (0: the stream is refused or disabled).
    pub fn audio_port(&self) -> u16 {
        self.stream().port
    }

    /// The audio stream's payload types, in the sender's order of preference.
    pub fn payload_types(&self) -> &[u8] {
        &self.payload_types
    }

    /// The payload type carrying RFC 4733 telephone events at 8 kHz, if offered.
    pub fn telephone_event(&self) -> Option<u8> {
        let stream = self.stream();
        self.payload_types.iter().copied().find(|pt| {
            let encoding = stream.rtpmap(&pt.to_string()).map(str::to_ascii_lowercase);
            encoding.is_some_and(|encoding| encoding.starts_with("telephone-event/8000"))
        })
    }

    /// Whether the audio stream is held the RFC 2543 way: a connection address of 0.0.0.0
    /// (or `::`), meaning "send me nothing".
    pub fn held_by_address(&self) -> bool {
        self.address.is_unspecified()
    }

    /// The direction written in the description: media-level attribute, else
    /// session-level, else sendrecv (RFC 3264 §5.1).
    fn declared_direction(&self) -> Direction {
        let find = |lines: &[Line]| {
            lines
                .iter()
                .find_map(|line| line.attribute().and_then(|(name, _)| Direction::from_attribute(name)))
        };
        find(&self.stream().lines).or_else(|| find(&self.session)).unwrap_or(Direction::SendRecv)
    }

    /// Which way the sender wants audio to flow. A connection address of 0.0.0.0 counts as
    /// on hold (RFC 2543): the sender receives nothing, whatever the attribute says.
    pub fn direction(&self) -> Direction {
        let declared = self.declared_direction();
        if self.held_by_address() { declared.without_receiving() } else { declared }
    }

    /// Where the sender wants its RTP: `None` when it is on hold by address (0.0.0.0) or
    /// the stream is disabled (port 0).
    pub fn remote_rtp(&self) -> Option<SocketAddr> {
        let port = self.audio_port();
        (port != 0 && !self.held_by_address()).then_some(SocketAddr::new(self.address, port))
    }

    /// Where the sender wants its RTCP: the `a=rtcp:` attribute (RFC 3605) if there is a
    /// usable one, else the RTP port plus one (RFC 3550 §11).
    pub fn remote_rtcp(&self) -> Option<SocketAddr> {
        let rtp = self.remote_rtp()?;
        let declared = self.stream().lines.iter().find_map(|line| match line.attribute() {
            Some(("rtcp", Some(value))) => Some(value),
            _ => None,
        });
        if let Some(value) = declared {
            let mut fields = value.split_ascii_whitespace();
            if let Some(Ok(port)) = fields.next().map(str::parse::<u16>) {
                // "a=rtcp:53021 IN IP4 126.16.64.4": the address is optional.
                let address = fields.nth(2).and_then(|address| address.parse().ok()).unwrap_or(rtp.ip());
                return Some(SocketAddr::new(address, port));
            }
        }
        rtp.port().checked_add(1).map(|port| SocketAddr::new(rtp.ip(), port))
    }

    /// The origin's session id and version (`o=` fields 2 and 3).
    pub fn origin(&self) -> (&str, &str) {
        let origin = self.session.iter().find(|line| line.kind == 'o').map_or("", |line| line.value.as_str());
        // `index` checked that an o= line with six fields exists; "0" is never used.
        let mut fields = origin.split_ascii_whitespace().skip(1);
        (fields.next().unwrap_or("0"), fields.next().unwrap_or("0"))
    }

    /// Replace the origin's session id and version, for a description the engine must
    /// keep consistent on one leg when the party behind the host changes (RFC 3264 §8).
    pub fn set_origin(&mut self, session_id: &str, version: u64) {
        for line in self.session.iter_mut().filter(|line| line.kind == 'o') {
            let fields: Vec<&str> = line.value.split_ascii_whitespace().collect();
            if let [user, _, _, rest @ ..] = fields.as_slice() {
                line.value = format!("{user} {session_id} {version} {}", rest.join(" "));
            }
        }
    }

    /// The same description as the host offers or answers it to the other leg, with the
    /// host's relay at `via` as the media address.
    ///
    /// - `o=`: the host's own origin (user `-`, address `via`), keeping the sender's session
    ///   id and version so a re-offer from the sender bumps the version on the other leg too;
    /// - every `c=` becomes `via`'s address, the audio `m=` port `via`'s port, `a=rtcp:`
    ///   `via`'s port plus one (where the relay's RTCP socket listens);
    /// - codecs are filtered to PCMU, PCMA and telephone-event/8000 (RFC 4733), keeping
    ///   their rtpmap/fmtp/rtcp-fb lines; none of PCMU or PCMA left is [`SdpError::NoG711`];
    /// - ICE, SRTP/DTLS, rtcp-mux and BUNDLE attributes are dropped (the host terminates
    ///   the transport);
    /// - other media descriptions (video, a second audio) stay, refused with port 0, as
    ///   RFC 3264 §6 wants as many m= lines in the answer as in the offer.
    ///
    /// Hold: a `c=0.0.0.0` hold is printed as the host's address with an explicit
    /// `a=sendonly` (or `a=inactive`) instead. The host always receives on its relay
    /// ports, so its address is never 0.0.0.0; the attribute carries the same meaning the
    /// way RFC 3264 §8.4 prefers, and stays valid with IPv6 relays. Direction attributes
    /// are otherwise kept as written.
    pub fn relayed(&self, via: SocketAddr) -> Result<Sdp, SdpError> {
        let stream = self.stream();
        if stream.port != 0 && !stream.is_plain_rtp() {
            return Err(SdpError::UnsupportedTransport(stream.proto.clone()));
        }
        let session = self
            .session
            .iter()
            .filter(|line| !is_transport_attribute(line))
            .map(|line| match line.kind {
                'o' => origin_line(&line.value, via.ip()),
                'c' => connection_line(via.ip()),
                _ => line.clone(),
            })
            .collect();
        let media = self
            .media
            .iter()
            .enumerate()
            .map(|(index, media)| {
                if index == self.audio && media.port != 0 {
                    self.relayed_audio(via)
                } else {
                    Ok(media.rejected(via.ip()))
                }
            })
            .collect::<Result<_, _>>()?;
        Sdp::index(session, media)
    }

    fn relayed_audio(&self, via: SocketAddr) -> Result<Media, SdpError> {
        let stream = self.stream();
        let formats: Vec<String> =
            stream.formats.iter().filter(|pt| stream.is_relayed_codec(pt)).cloned().collect();
        if !formats.iter().any(|pt| stream.is_g711(pt)) {
            return Err(SdpError::NoG711);
        }
        let held = self.held_by_address();
        let mut lines: Vec<Line> = stream
            .lines
            .iter()
            .filter(|line| !is_transport_attribute(line))
            .filter_map(|line| {
                if line.kind == 'c' {
                    return Some(connection_line(via.ip()));
                }
                match line.attribute() {
                    Some((name, Some(value))) if PER_CODEC_ATTRIBUTES.contains(&name) => {
                        let pt = value.split_ascii_whitespace().next().unwrap_or("");
                        (pt == "*" || formats.iter().any(|kept| kept == pt)).then(|| line.clone())
                    }
                    Some(("rtcp", _)) => {
                        via.port().checked_add(1).map(|port| Line::new('a', format!("rtcp:{port}")))
                    }
                    // A hold by address is rewritten as an explicit direction below.
                    Some((name, None)) if held && Direction::from_attribute(name).is_some() => None,
                    _ => Some(line.clone()),
                }
            })
            .collect();
        if held {
            lines.push(Line::new('a', self.direction().attribute()));
        }
        Ok(Media {
            kind: stream.kind.clone(),
            port: via.port(),
            port_count: None,
            proto: stream.proto.clone(),
            formats,
            lines,
        })
    }

    /// The description as bytes, CRLF line ends, for a SIP body.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl fmt::Display for Sdp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.session {
            write!(f, "{}={}\r\n", line.kind, line.value)?;
        }
        for media in &self.media {
            write!(f, "m={} {}", media.kind, media.port)?;
            if let Some(count) = &media.port_count {
                write!(f, "/{count}")?;
            }
            write!(f, " {}", media.proto)?;
            for format in &media.formats {
                write!(f, " {format}")?;
            }
            f.write_str("\r\n")?;
            for line in &media.lines {
                write!(f, "{}={}\r\n", line.kind, line.value)?;
            }
        }
        Ok(())
    }
}

fn is_transport_attribute(line: &Line) -> bool {
    line.attribute().is_some_and(|(name, _)| TRANSPORT_ATTRIBUTES.contains(&name))
}

/// The address of a `c=` value: `IN IP4 192.0.2.1`, `IN IP4 224.2.1.1/127`, `IN IP6 ::1`.
fn parse_connection(value: &str) -> Result<IpAddr, SdpError> {
    let bad = || SdpError::BadConnection(value.to_string());
    let mut fields = value.split_ascii_whitespace();
    let (Some("IN"), Some(kind), Some(address)) = (fields.next(), fields.next(), fields.next()) else {
        return Err(bad());
    };
    let address = address.split('/').next().unwrap_or(address);
    let address: IpAddr = address.parse().map_err(|_| bad())?;
    match (kind, address) {
        ("IP4", IpAddr::V4(_)) | ("IP6", IpAddr::V6(_)) => Ok(address),
        _ => Err(bad()),
    }
}

fn address_type(address: IpAddr) -> &'static str {
    if address.is_ipv4() { "IP4" } else { "IP6" }
}

fn connection_line(address: IpAddr) -> Line {
    Line::new('c', format!("IN {} {address}", address_type(address)))
}

/// `o=` with the host as originator: `-` for the user, the sender's session id and version.
fn origin_line(value: &str, address: IpAddr) -> Line {
    let mut fields = value.split_ascii_whitespace().skip(1);
    // `index` checked that the o= line has six fields.
    let (id, version) = (fields.next().unwrap_or("0"), fields.next().unwrap_or("0"));
    Line::new('o', format!("- {id} {version} IN {} {address}", address_type(address)))
}

mod host;

pub use host::{HostCodec, host_offer};

#[cfg(test)]
mod tests;
