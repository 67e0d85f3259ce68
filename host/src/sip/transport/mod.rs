//! SIP transports: thin tasks around the sans-IO [`Endpoint`](crate::sip::endpoint::Endpoint).
//! One task ([`driver`]) owns the endpoint, the UDP socket and the timers; TCP connections
//! ([`tcp`]) frame their byte streams with `wire::StreamFramer` and hand whole messages to it,
//! and so do WebSocket connections ([`websocket`], RFC 7118: one message per frame), which
//! the HTTP listener accepts.

pub mod driver;
pub mod tcp;
pub mod websocket;

use crate::sip::transaction::Reliability;

/// How a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Transport {
    #[default]
    Udp,
    Tcp,
    /// SIP over WebSocket (RFC 7118), `ws` or `wss` alike: a browser's connection.
    Ws,
}

impl Transport {
    /// The name in a Via header (`SIP/2.0/UDP`).
    pub fn via_name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Ws => "WS",
        }
    }

    /// Whether transactions over it retransmit (RFC 3261 §17: not over TCP).
    pub fn reliability(self) -> Reliability {
        match self {
            Transport::Udp => Reliability::Unreliable,
            Transport::Tcp | Transport::Ws => Reliability::Reliable,
        }
    }

    /// The transport named by the top Via of a message (`SIP/2.0/TCP host`), UDP when it
    /// names another or none.
    pub fn of_via(via: &str) -> Transport {
        let protocol = via.split_whitespace().next().unwrap_or_default();
        match protocol.rsplit('/').next().map(str::to_ascii_uppercase).as_deref() {
            Some("TCP") => Transport::Tcp,
            Some("WS" | "WSS") => Transport::Ws,
            _ => Transport::Udp,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_via_names_the_transport() {
        assert_eq!(Transport::of_via("SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK1"), Transport::Tcp);
        assert_eq!(Transport::of_via("SIP/2.0/udp 10.0.0.1"), Transport::Udp);
        assert_eq!(Transport::of_via("garbage"), Transport::Udp);
        assert!(Transport::Tcp.reliability().is_reliable());
        assert_eq!(Transport::of_via("SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK2"), Transport::Ws);
        assert!(Transport::Ws.reliability().is_reliable());
    }
}
