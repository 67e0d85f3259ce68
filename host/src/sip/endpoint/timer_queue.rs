//! Transaction timers in one deadline-ordered heap, so the endpoint sleeps until the next
//! one instead of scanning every transaction (a busy host holds hundreds of thousands:
//! RFC 3261 keeps completed transactions for 32 s to absorb retransmissions).
//!
//! Cancelling or restarting a timer leaves its old entry in the heap; the transaction
//! remembers the deadline of each running timer and stale entries are skipped on pop, and
//! dropped before the endpoint sleeps (so none wakes it).
//!
//! Only the retransmission timers (A, E, G) need their millisecond. The others end a
//! transaction or give up on a peer after seconds: they fire whenever the SIP thread is
//! awake anyway (it fires due timers after every message), and wake it themselves only
//! [`LAZY_SLACK`] after they fell due. A host at a few hundred calls a second starts
//! thousands of them each second; none then costs the SIP thread a wake-up of its own.

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

/// How late a timer that is not a retransmission may fire when nothing else wakes the SIP
/// thread: never earlier than RFC 3261 asks, and at most this much later. A quiet host
/// then ends its transactions in batches of up to this long; a busy one ends them a few
/// at a time, with the messages that woke it.
pub const LAZY_SLACK: Duration = Duration::from_millis(100);

/// Whether `timer` needs its millisecond (a retransmission).
fn is_precise(timer: Timer) -> bool {
    matches!(timer, Timer::A | Timer::E | Timer::G)
}

/// The pending timers: the retransmissions in one heap, the others in another.
#[derive(Default)]
pub struct TimerQueue {
    precise: BinaryHeap<Due>,
    lazy: BinaryHeap<Due>,
    seq: u64,
}

impl TimerQueue {
    pub fn push(&mut self, due: Instant, kind: TxKind, key: &str, timer: Timer) {
        self.seq += 1;
        let entry = Due { due, kind, key: key.to_string(), timer, seq: self.seq };
        if is_precise(timer) { self.precise.push(entry) } else { self.lazy.push(entry) }
    }

    /// The next entry due at or before `now`, if any, the earliest of either kind first.
    pub fn pop_due(&mut self, now: Instant) -> Option<Due> {
        let precise = self.precise.peek().map(|d| d.due).filter(|due| *due <= now);
        let lazy = self.lazy.peek().map(|d| d.due).filter(|due| *due <= now);
        match (precise, lazy) {
            (Some(p), Some(l)) if l < p => self.lazy.pop(),
            (Some(_), _) => self.precise.pop(),
            (None, Some(_)) => self.lazy.pop(),
            (None, None) => None,
        }
    }

    /// When the SIP thread must wake for the timers, `running` telling which entries are
    /// still wanted (a cancelled or restarted timer leaves a stale one, dropped here so it
    /// wakes nobody): the next retransmission, or [`LAZY_SLACK`] after the next other timer.
    pub fn next_wake(&mut self, running: impl Fn(&Due) -> bool) -> Option<Instant> {
        let precise = earliest_running(&mut self.precise, &running);
        let lazy = earliest_running(&mut self.lazy, &running).map(|due| due + LAZY_SLACK);
        precise.into_iter().chain(lazy).min()
    }
}

/// The earliest deadline in `heap` whose entry is `running`; stale entries before it go.
fn earliest_running(heap: &mut BinaryHeap<Due>, running: &impl Fn(&Due) -> bool) -> Option<Instant> {
    while let Some(due) = heap.peek() {
        if running(due) {
            return Some(due.due);
        }
        heap.pop();
    }
    None
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
        assert!(queue.pop_due(t0).is_none());
        let first = queue.pop_due(t0 + Duration::from_secs(1)).unwrap();
        let second = queue.pop_due(t0 + Duration::from_secs(1)).unwrap();
        assert_eq!(first.due, second.due);
        assert_eq!(queue.pop_due(t0 + Duration::from_secs(1)).unwrap().key, "b");
        assert!(queue.pop_due(t0 + Duration::from_secs(1)).is_none());
    }

    #[test]
    fn retransmissions_wake_the_thread_on_time_and_the_rest_at_most_the_slack_late() {
        let mut queue = TimerQueue::default();
        let t0 = Instant::now();
        let t1 = Duration::from_millis(500);
        queue.push(t0 + 64 * t1, TxKind::ServerNonInvite, "j", Timer::J);
        assert_eq!(queue.next_wake(|_| true), Some(t0 + 64 * t1 + LAZY_SLACK));
        // Due, it fires with whatever wakes the thread first, the slack unspent.
        assert_eq!(queue.pop_due(t0 + 64 * t1).map(|d| d.key), Some("j".to_string()));

        queue.push(t0 + t1, TxKind::ClientInvite, "a", Timer::A);
        queue.push(t0 + Duration::from_millis(450), TxKind::ClientNonInvite, "k", Timer::K);
        assert_eq!(queue.next_wake(|_| true), Some(t0 + t1), "the retransmission is not delayed");
    }

    #[test]
    fn stale_entries_are_dropped_and_wake_nobody() {
        let mut queue = TimerQueue::default();
        let t0 = Instant::now();
        queue.push(t0 + Duration::from_millis(500), TxKind::ClientInvite, "gone", Timer::A);
        queue.push(t0 + Duration::from_secs(32), TxKind::ClientInvite, "gone", Timer::B);
        assert_eq!(queue.next_wake(|due| due.key != "gone"), None);
        assert!(queue.pop_due(t0 + Duration::from_secs(60)).is_none(), "dropped, not kept");
    }
}
