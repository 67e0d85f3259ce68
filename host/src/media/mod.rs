//! Media anchored in the host: phones never send RTP to each other, the host relays it so
//! that recording, prompts, DTMF, transfer and pickup always work.
//!
//! - [`audio`]: telephony audio (8 kHz samples, G.711).
//! - [`sdp`]: parsing SDP and rewriting it for the other leg (offer/answer, hold, codecs).
//! - [`ports`]: the configurable RTP port range and the pool of RTP/RTCP pairs.
//! - [`relay`]: the relay itself, two sides per call, symmetric RTP latching; the host
//!   listens to a side (DTMF, recording) and plays to it (prompts, music) through it.
//! - [`rtp`]: the RTP header; [`dtmf`]: RFC 4733 events and SIP INFO digits;
//!   [`track`]: one side's audio being recorded.

pub mod audio;
pub mod dtmf;
pub mod ports;
pub mod relay;
pub mod rtp;
pub mod sdp;
pub mod track;
pub mod webrtc;

use std::net::SocketAddr;

pub use ports::{DEFAULT_PORT_RANGE, PortPool, PortRange};
pub use relay::{LiveAudio, MediaRelay, RelaySession, RelayStats, Side};
pub use sdp::{Direction, Sdp, SdpError};

/// Why media could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("port range {first}-{last} holds no even RTP port with its RTCP port above it")]
    BadRange { first: u16, last: u16 },
    #[error("port range {0:?} is not `<first>-<last>`")]
    BadRangeText(String),
    #[error("no free RTP/RTCP port pair left in {range} ({in_use} pairs in use)")]
    Exhausted { range: PortRange, in_use: usize },
    #[error("cannot bind a media socket on {address}: {source}")]
    Bind { address: SocketAddr, source: std::io::Error },
    #[error("media socket setup failed: {0}")]
    Socket(#[source] std::io::Error),
}
