//! SIP, in RFC 3261's layers: the wire (framing and parsing), then transactions; digest
//! authentication for the registrar and calls. Dialogs, the registrar and the transports
//! build on these.

pub mod digest;
pub mod wire;
