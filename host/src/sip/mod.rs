//! SIP, in RFC 3261's layers: the wire (framing and parsing), then transactions.
//! Dialogs, the registrar and the transports build on these.

pub mod wire;
