//! Attended transfer in the relay (SPEC §12): a user puts the other party on hold and
//! consults a third party, then either hands the call over or goes back to it.
//!
//! The consulted party's phone gets the session's spare end, so no phone already in the
//! call is asked to move its media (a re-INVITE that some phones handle badly):
//! - consulting: the consulting side and the spare end are relayed to each other; the
//!   other side is relayed nowhere (the host plays it music on hold);
//! - complete: the spare end becomes the consulting side, relayed with the other side;
//!   the end it replaces is the spare from now on;
//! - cancel: the sides are relayed to each other again and the spare to nowhere.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use super::{ENDS, MediaError, NOWHERE, RelaySession, Side, Stream, set_remotes};

impl RelaySession {
    /// The end that is neither side.
    fn spare(&self) -> usize {
        let sides = [self.shared.end_index(Side::A), self.shared.end_index(Side::B)];
        // Two sides among three ends leave one.
        (0..ENDS).find(|end| !sides.contains(end)).expect("a spare end")
    }

    /// Ready the spare end for a consulted party's phone (binding it the first time) and
    /// return where that phone sends its RTP. Nothing is relayed to or from it yet.
    pub fn open_consult(&mut self) -> Result<SocketAddr, MediaError> {
        let spare = self.spare();
        let first_time = self.shared.ends[spare].get().is_none();
        if first_time {
            let end = self.relay.bind_end()?;
            // This session alone binds its ends, through `&mut self`.
            let _ = self.shared.ends[spare].set(end);
            self.start_relaying(spare);
        }
        self.shared.routes[spare].store(NOWHERE, Ordering::Release);
        let end = self.shared.end(spare).expect("bound above");
        end.stop_playing();
        end.listening.set(None);
        for stream in [Stream::Rtp, Stream::Rtcp] {
            // Latching again: the first packet of the new phone tells where it is.
            end.remote(stream).reset();
        }
        Ok(SocketAddr::new(self.advertise_ip, end.sockets.lease.rtp_port()))
    }

    /// Where the consulted party's phone receives RTP (RTCP on the next port).
    pub fn set_consult_remote(&self, rtp: Option<SocketAddr>) {
        if let Some(end) = self.shared.end(self.spare()) {
            set_remotes(end, rtp);
        }
    }

    /// `side` talks with the consulted party; the other side is relayed nowhere.
    pub fn consult_with(&self, side: Side) {
        let spare = self.spare();
        self.shared.connect(self.shared.end_index(side), spare);
        self.shared.routes[self.shared.end_index(side.other())].store(NOWHERE, Ordering::Release);
    }

    /// Back to the call: the sides are relayed to each other again, the consulted party
    /// to nowhere.
    pub fn end_consult(&self) {
        let spare = self.spare();
        self.shared.connect(self.shared.end_index(Side::A), self.shared.end_index(Side::B));
        self.shared.routes[spare].store(NOWHERE, Ordering::Release);
        if let Some(end) = self.shared.end(spare) {
            end.stop_playing();
            set_remotes(end, None);
        }
    }

    /// The consulted party takes `side`'s place: the consult end is `side` from now on,
    /// relayed with the other side, and `side`'s old end is the spare.
    pub fn complete_consult(&self, side: Side) {
        let (leaving, spare) = (self.shared.end_index(side), self.spare());
        // Ends are fewer than NOWHERE, so their indexes fit in a u8.
        self.shared.sides[side.index()].store(spare as u8, Ordering::Release);
        self.shared.connect(spare, self.shared.end_index(side.other()));
        self.shared.routes[leaving].store(NOWHERE, Ordering::Release);
        if let Some(end) = self.shared.end(leaving) {
            end.stop_playing();
            end.listening.set(None);
            set_remotes(end, None);
        }
    }
}

impl super::Remote {
    /// Not known, and latching onto the next source (as when new).
    fn reset(&self) {
        let mut current = self.address();
        *current = None;
        let generation = (self.state.load(Ordering::Relaxed) >> 1) + 1;
        self.state.store(generation << 1 | super::LATCHING, Ordering::Release);
    }
}
