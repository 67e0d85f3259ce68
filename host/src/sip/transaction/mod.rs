//! The SIP transaction layer of RFC 3261 §17, updated by RFC 6026, as sans-IO state machines.
//!
//! Four machines, one per file: [`ClientInvite`] (§17.1.1), [`ClientNonInvite`] (§17.1.2),
//! [`ServerInvite`] (§17.2.1) and [`ServerNonInvite`] (§17.2.2). None of them touches a socket
//! or a clock. The driver (a transport task) feeds each one the messages matched to it
//! (§17.1.3, §17.2.3), the timers that fired and the transport errors it saw; each call returns
//! the [`Action`]s to carry out, in order.
//!
//! Messages are opaque: a machine is generic over the message type `M` and only ever looks at
//! the status code it is given with a response. It keeps the request (client) or the last
//! response (server) to retransmit it, and hands messages back in [`Action::Transmit`] and
//! [`Action::PassUp`].
//!
//! What stays with the driver and the transaction user (TU):
//! - matching messages to transactions, and CANCEL (its own non-INVITE transaction);
//! - building the ACK of a non-2xx final response ([`Action::TransmitAck`] carries the response
//!   whose To tag it needs, §17.1.1.3) — the ACK of a 2xx is the TU's own (§13.2.2.4);
//! - the 100 Trying of a server INVITE transaction: the TU sends it at once through
//!   [`ServerInvite::send_response`] (§17.2.1 lets the transaction do it after 200 ms; a
//!   sans-IO machine cannot build the message);
//! - forgetting the transaction and any of its running timers on [`Action::Terminated`].
//!
//! Every machine accepts any sequence of events: an event that makes no sense in the current
//! state is ignored and returns no actions, and a terminated machine ignores everything.

pub mod client_invite;
pub mod client_non_invite;
pub mod server_invite;
pub mod server_non_invite;
pub mod timers;

use std::time::Duration;

pub use client_invite::{ClientInvite, ClientInviteState};
pub use client_non_invite::{ClientNonInvite, ClientNonInviteState};
pub use server_invite::{ServerInvite, ServerInviteState};
pub use server_non_invite::{ServerNonInvite, ServerNonInviteState};
pub use timers::{Reliability, Timer, TimerConfig};

/// What the driver must do after feeding a machine an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action<M> {
    /// Hand this message to the transport: a request (first send or retransmission) or a
    /// response (first send or retransmission).
    Transmit(M),
    /// Client INVITE only: build the ACK for this non-2xx final response (§17.1.1.3: Request-URI,
    /// Call-ID, From, CSeq number and top Via of the INVITE, To of the response) and transmit it.
    TransmitAck(M),
    /// Start (or restart) this timer.
    StartTimer(Timer, Duration),
    /// Stop this timer if it is running.
    CancelTimer(Timer),
    /// Deliver this message to the transaction user.
    PassUp(M),
    /// Timer B, F or H fired: tell the TU the transaction timed out (a 408 for a client).
    Timeout,
    /// Tell the TU the transport failed to send (§17.1.4, §17.2.4).
    TransportError,
    /// The transaction is over: forget it and its timers.
    Terminated,
}

/// The classes of response a transaction treats differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatusClass {
    /// 100–199.
    Provisional,
    /// 200–299.
    Success,
    /// 300–699.
    Failure,
}

impl StatusClass {
    /// The class of `status`, or `None` outside 100–699 (such a response is ignored).
    pub(crate) fn of(status: u16) -> Option<StatusClass> {
        match status {
            100..=199 => Some(StatusClass::Provisional),
            200..=299 => Some(StatusClass::Success),
            300..=699 => Some(StatusClass::Failure),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
