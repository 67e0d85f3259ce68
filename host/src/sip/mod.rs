//! SIP, in RFC 3261's layers: the wire (framing and parsing), transactions, the registrar's
//! location service, and digest authentication. Dialogs and the transports build on these.

pub mod digest;
pub mod message;
pub mod registrar;
pub mod transaction;
pub mod transport;
pub mod wire;
