//! Transaction timers in one deadline-ordered heap, so the endpoint sleeps until the next
//! one instead of scanning every transaction (a busy host holds hundreds of thousands:
//! RFC 3261 keeps completed transactions for 32 s to absorb retransmissions).
//!
//! Cancelling or restarting a timer leaves its old entry in the heap; the transaction
//! remembers the deadline of each running timer and stale entries are skipped on pop, and
//! dropped before the endpoint sleeps (so none wakes it).
//!
//! Only the retransmission timers (A, E, G) need their millisecond. The others end a
//! transaction or give up on a peer after seconds; they fall due on a [`COARSE_GRID`], so
//! the thousands started each second by a busy host wake its SIP thread at most a hundred
//! times a second instead of once each.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

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

/// The step on which the timers that are not retransmissions fall due: they are rounded
/// up to it, never earlier than RFC 3261 asks. Coarser batches more timers per wake-up but
/// makes each a longer pause of the SIP thread (at 1,650 calls/s a 100 ms step ends some
/// 700 transactions at once, and the post-dial delay's p99 grew by 2 ms).
pub const COARSE_GRID: Duration = Duration::from_millis(10);

/// The heap of pending timers.
pub struct TimerQueue {
    heap: BinaryHeap<Due>,
    seq: u64,
    /// Where the coarse grid starts.
    origin: Instant,
}

impl Default for TimerQueue {
    fn default() -> TimerQueue {
        TimerQueue { heap: BinaryHeap::new(), seq: 0, origin: Instant::now() }
    }
}

impl TimerQueue {
    /// When `timer`, started at `now` to run `after`, falls due.
    pub fn due(&self, timer: Timer, now: Instant, after: Duration) -> Instant {
        let due = now + after;
        if matches!(timer, Timer::A | Timer::E | Timer::G) {
            return due;
        }
        let since = due.saturating_duration_since(self.origin).as_nanos();
        let grid = COARSE_GRID.as_nanos();
        let steps = since.div_ceil(grid);
        // Within u64 nanoseconds for 500 years of uptime.
        self.origin + Duration::from_nanos(u64::try_from(steps * grid).unwrap_or(u64::MAX))
    }

    pub fn push(&mut self, due: Instant, kind: TxKind, key: &str, timer: Timer) {
        self.seq += 1;
        self.heap.push(Due { due, kind, key: key.to_string(), timer, seq: self.seq });
    }

    /// The next entry due at or before `now`, if any.
    pub fn pop_due(&mut self, now: Instant) -> Option<Due> {
        if self.heap.peek()?.due <= now { self.heap.pop() } else { None }
    }

    /// The earliest entry.
    pub fn peek(&self) -> Option<&Due> {
        self.heap.peek()
    }

    /// Drop the earliest entry (a stale one).
    pub fn pop(&mut self) {
        self.heap.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_come_out_earliest_first_and_only_when_due() {
        let mut queue = TimerQueue::default();
        let t0 = Instant::now();
        queue.push(t0 + Duration::from_millis(500), TxKind::ClientInvite, "b", Timer::A);
        queue.push(t0 + Duration::from_millis(100), TxKind::ServerNonInvite, "a", Timer::J);
        queue.push(t0 + Duration::from_millis(100), TxKind::ServerInvite, "c", Timer::G);
        assert_eq!(queue.peek().map(|d| d.due), Some(t0 + Duration::from_millis(100)));
        assert!(queue.pop_due(t0).is_none());
        let first = queue.pop_due(t0 + Duration::from_secs(1)).unwrap();
        let second = queue.pop_due(t0 + Duration::from_secs(1)).unwrap();
        assert_eq!((first.key.as_str(), second.key.as_str()), ("a", "c"), "equal deadlines keep push order");
        assert_eq!(queue.pop_due(t0 + Duration::from_secs(1)).unwrap().key, "b");
        assert!(queue.peek().is_none());
    }

    #[test]
    fn retransmissions_keep_their_millisecond_and_the_rest_fall_due_on_the_grid_never_earlier() {
        let queue = TimerQueue::default();
        let now = queue.origin + Duration::from_millis(1234);
        let t1 = Duration::from_millis(500);
        for timer in [Timer::A, Timer::E, Timer::G] {
            assert_eq!(queue.due(timer, now, t1), now + t1);
        }
        for timer in
            [Timer::B, Timer::D, Timer::F, Timer::H, Timer::I, Timer::J, Timer::K, Timer::L, Timer::M]
        {
            let due = queue.due(timer, now, 64 * t1);
            assert_eq!(due, queue.origin + Duration::from_millis(33_240), "{timer:?}");
            assert!(due >= now + 64 * t1 && due < now + 64 * t1 + COARSE_GRID);
        }
        let on_the_grid = queue.origin + Duration::from_millis(730);
        assert_eq!(queue.due(Timer::K, on_the_grid, Duration::ZERO), on_the_grid);
    }
}
