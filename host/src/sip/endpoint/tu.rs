//! What passes between the endpoint and its transaction users (TU, RFC 3261 §17): the call
//! tasks. Calls never touch transactions or sockets; they send [`Command`]s and receive
//! [`CallEvent`]s.

use std::net::SocketAddr;

use rsip::{Request, Response};
use tokio::sync::mpsc::UnboundedSender;

use crate::sip::dialog::Outgoing;

/// A server transaction a call answers (its key in the endpoint).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerTx(pub(crate) String);

/// Which of a call's legs a request was sent for; responses come back with it.
pub type LegId = u32;

/// What the endpoint tells a call.
#[derive(Debug)]
pub enum CallEvent {
    /// A response to the request sent for `leg`: provisional, final, or a retransmitted 2xx.
    Response { leg: LegId, response: Box<Response> },
    /// The request sent for `leg` got no final response in time (timer B or F) or could
    /// not be sent: act as on a 408 (§8.1.3.1).
    Timeout { leg: LegId },
    /// A request inside one of the call's dialogs (BYE, re-INVITE, INFO, a 2xx ACK). Answer
    /// it on `tx`; an ACK has none.
    Request { tx: Option<ServerTx>, request: Box<Request>, source: SocketAddr },
    /// The caller sent CANCEL for the initial INVITE; the endpoint answered the CANCEL.
    Cancelled,
}

/// The events channel of one call.
pub type CallEvents = UnboundedSender<CallEvent>;

/// What a call asks of the endpoint.
#[derive(Debug)]
pub enum Command {
    /// Send this response on server transaction `tx`.
    Respond { tx: ServerTx, status: u16, bytes: Vec<u8> },
    /// Send `request` in a new client transaction (an ACK is sent as is, without one); its
    /// responses go to `events` tagged `leg`, and requests in its dialog (by Call-ID) too.
    Send { request: Outgoing, call_id: String, leg: LegId, events: CallEvents },
    /// Stop routing these Call-IDs to their task now. (A call's Call-IDs are forgotten
    /// anyway once its task has dropped its events.)
    Finished { call_ids: Vec<String> },
}

/// Who is placing a new call, as established by the endpoint before the call starts.
#[derive(Debug, Clone)]
pub enum Caller {
    /// An extension that authenticated with its SIP credentials.
    Extension { company: String, extension: String },
    /// The company's trunk provider, delivering a call to one of the company's DIDs.
    Trunk { company: String, did: String },
}

/// A new call: the initial INVITE the endpoint admitted.
#[derive(Debug)]
pub struct NewCall {
    pub request: Box<Request>,
    pub source: SocketAddr,
    /// The INVITE's server transaction.
    pub tx: ServerTx,
    pub caller: Caller,
    /// The call's own events.
    pub events: tokio::sync::mpsc::UnboundedReceiver<CallEvent>,
    /// Sends events to this call (for the client transactions it starts).
    pub events_sender: CallEvents,
}
