//! Transaction timers in one deadline-ordered heap, so the endpoint sleeps until the next
//! one instead of scanning every transaction (a busy host holds hundreds of thousands:
//! RFC 3261 keeps completed transactions for 32 s to absorb retransmissions).
//!
//! Cancelling or restarting a timer leaves its old entry in the heap; the transaction
//! remembers the deadline of each running timer and stale entries are skipped on pop.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::Instant;

use crate::sip::transaction::Timer;

/// Which table a transaction lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxKind {
    ServerInvite,
    ServerNonInvite,
    ClientInvite,
    ClientNonInvite,
}

/// A timer of transaction `key` due at `due`.
#[derive(Debug)]
pub struct Due {
    pub due: Instant,
    pub kind: TxKind,
    pub key: String,
    pub timer: Timer,
    seq: u64,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    // Reversed: BinaryHeap is a max-heap and the earliest deadline must come out first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.due, other.seq).cmp(&(self.due, self.seq))
    }
}

/// The heap of pending timers.
#[derive(Default)]
pub struct TimerQueue {
    heap: BinaryHeap<Due>,
    seq: u64,
}

impl TimerQueue {
    pub fn push(&mut self, due: Instant, kind: TxKind, key: &str, timer: Timer) {
        self.seq += 1;
        self.heap.push(Due { due, kind, key: key.to_string(), timer, seq: self.seq });
    }

    /// The next entry due at or before `now`, if any.
    pub fn pop_due(&mut self, now: Instant) -> Option<Due> {
        if self.heap.peek()?.due <= now { self.heap.pop() } else { None }
    }

    /// When the earliest entry is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.heap.peek().map(|d| d.due)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn timers_come_out_earliest_first_and_only_when_due() {
        let mut queue = TimerQueue::default();
        let t0 = Instant::now();
        queue.push(t0 + Duration::from_millis(500), TxKind::ClientInvite, "b", Timer::A);
        queue.push(t0 + Duration::from_millis(100), TxKind::ServerNonInvite, "a", Timer::J);
        queue.push(t0 + Duration::from_millis(100), TxKind::ServerInvite, "c", Timer::G);
        assert_eq!(queue.next_due(), Some(t0 + Duration::from_millis(100)));
        assert!(queue.pop_due(t0).is_none());
        let first = queue.pop_due(t0 + Duration::from_secs(1)).unwrap();
        let second = queue.pop_due(t0 + Duration::from_secs(1)).unwrap();
        assert_eq!((first.key.as_str(), second.key.as_str()), ("a", "c"), "equal deadlines keep push order");
        assert_eq!(queue.pop_due(t0 + Duration::from_secs(1)).unwrap().key, "b");
        assert!(queue.next_due().is_none());
    }
}
