//! SIP, in RFC 3261's layers: the wire (framing and parsing), transactions, dialogs, the
//! endpoint that matches messages to them, the registrar's location service and digest
//! authentication, and the transports that carry it all.

pub mod dialog;
pub mod digest;
pub mod endpoint;
pub mod message;
pub mod registrar;
pub mod transaction;
pub mod transport;
pub mod wire;
