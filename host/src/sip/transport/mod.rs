//! SIP transports: thin tasks around the sans-IO [`Endpoint`](crate::sip::endpoint::Endpoint).
//! UDP for now; TCP, TLS and WebSocket follow the same shape with `wire::StreamFramer`.

pub mod udp;
