//! SIP transports: thin tasks around the sans-IO layers. UDP for now; TCP, TLS and
//! WebSocket follow the same shape with `wire::StreamFramer`.

pub mod endpoint;
pub mod udp;
