//! The web phone (SPEC.md §8, §11): a browser registers as a device of an extension over
//! SIP on a WebSocket (RFC 7118) and places and takes calls like any phone.
//!
//! - [`gateway`]: on the browser's connection, WebRTC session descriptions are exchanged
//!   for plain ones, so the B2BUA and the relay treat the browser as one more phone;
//! - [`bridge`]: per call, the browser's WebRTC media terminated and carried on as the
//!   plain RTP the relay expects.

mod bridge;
pub mod gateway;
