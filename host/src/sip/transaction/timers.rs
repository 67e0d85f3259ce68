//! The transaction timers of RFC 3261 §17 (table 4 of Appendix A) and RFC 6026 §8 (timers L
//! and M), their durations, and the doubling retransmission interval of timers A, E and G.
//!
//! The machines never read a clock: they ask the driver to start and cancel these timers and
//! are told when one fires. Starting a timer that is already running restarts it.

use std::time::Duration;

/// One transaction timer, named as in RFC 3261 §17 and RFC 6026 §8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// Client INVITE: retransmit the request (unreliable transports), doubling each time.
    A,
    /// Client INVITE: give up waiting for any response (64·T1).
    B,
    /// Client INVITE: absorb retransmitted non-2xx finals in Completed (≥ 32 s, 0 reliable).
    D,
    /// Client non-INVITE: retransmit the request (unreliable transports), doubling up to T2.
    E,
    /// Client non-INVITE: give up waiting for a final response (64·T1).
    F,
    /// Server INVITE: retransmit the non-2xx final response (unreliable), doubling up to T2.
    G,
    /// Server INVITE: give up waiting for the ACK of a non-2xx final response (64·T1).
    H,
    /// Server INVITE: absorb retransmitted ACKs in Confirmed (T4, 0 reliable).
    I,
    /// Server non-INVITE: absorb retransmitted requests in Completed (64·T1, 0 reliable).
    J,
    /// Client non-INVITE: absorb retransmitted responses in Completed (T4, 0 reliable).
    K,
    /// Server INVITE (RFC 6026): stay in Accepted to absorb INVITE retransmissions (64·T1).
    L,
    /// Client INVITE (RFC 6026): stay in Accepted to pass up retransmitted 2xx (64·T1).
    M,
}

/// Whether the transport delivers messages reliably (TCP, TLS, WebSocket) or not (UDP).
///
/// A reliable transport never retransmits (timers A, E and G are not started) and the
/// linger timers D, I, J and K are zero: the machine terminates at once instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reliability {
    /// UDP: the transaction retransmits and lingers to absorb retransmissions.
    Unreliable,
    /// TCP, TLS or WebSocket: the transport retransmits, the transaction does not.
    Reliable,
}

impl Reliability {
    /// True for TCP, TLS and WebSocket.
    pub fn is_reliable(self) -> bool {
        self == Reliability::Reliable
    }
}

/// The base timer values of RFC 3261 §17.1.1.1 and Appendix A, overridable per deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate; the first retransmission interval. Default 500 ms.
    pub t1: Duration,
    /// Cap of the non-INVITE request and INVITE response retransmission interval. Default 4 s.
    pub t2: Duration,
    /// Longest time a message may stay in the network. Default 5 s.
    pub t4: Duration,
    /// Timer D on unreliable transports; RFC 3261 requires at least 32 s. Default 32 s.
    pub timer_d: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            timer_d: Duration::from_secs(32),
        }
    }
}

impl TimerConfig {
    /// 64·T1: timers B, F, H, L and M, and J on unreliable transports.
    pub fn transaction_timeout(&self) -> Duration {
        self.t1.saturating_mul(64)
    }

    /// How long a linger timer (D, I, J or K) runs, or `None` when it is zero because the
    /// transport is reliable. Any other timer also answers `None`.
    pub fn linger(&self, timer: Timer, reliability: Reliability) -> Option<Duration> {
        if reliability.is_reliable() {
            return None;
        }
        match timer {
            Timer::D => Some(self.timer_d),
            Timer::I | Timer::K => Some(self.t4),
            Timer::J => Some(self.transaction_timeout()),
            _ => None,
        }
    }
}

/// The running interval of a retransmission timer (A, E or G): starts at T1 and doubles on
/// every firing, optionally capped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetransmitInterval {
    current: Duration,
    cap: Option<Duration>,
}

impl RetransmitInterval {
    /// Timer A: T1, doubling without a cap (timer B ends it after seven sends).
    pub(crate) fn uncapped(config: &TimerConfig) -> Self {
        RetransmitInterval { current: config.t1, cap: None }
    }

    /// Timers E and G: T1, doubling up to T2.
    pub(crate) fn capped_at_t2(config: &TimerConfig) -> Self {
        RetransmitInterval { current: config.t1, cap: Some(config.t2) }
    }

    /// The interval the timer is (re)started with now.
    pub(crate) fn current(&self) -> Duration {
        self.current
    }

    /// Doubles the interval (up to the cap) and returns the new value.
    pub(crate) fn double(&mut self) -> Duration {
        let doubled = self.current.saturating_mul(2);
        self.current = match self.cap {
            Some(cap) => doubled.min(cap),
            None => doubled,
        };
        self.current
    }

    /// Sets the interval to a fixed value (timer E in Proceeding restarts at T2).
    pub(crate) fn set(&mut self, interval: Duration) -> Duration {
        self.current = interval;
        self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_rfc_3261_values() {
        let config = TimerConfig::default();
        assert_eq!(config.t1, Duration::from_millis(500));
        assert_eq!(config.t2, Duration::from_secs(4));
        assert_eq!(config.t4, Duration::from_secs(5));
        assert_eq!(config.transaction_timeout(), Duration::from_secs(32));
    }

    #[test]
    fn linger_timers_are_zero_on_reliable_transports() {
        let config = TimerConfig::default();
        for timer in [Timer::D, Timer::I, Timer::J, Timer::K] {
            assert_eq!(config.linger(timer, Reliability::Reliable), None);
            assert!(config.linger(timer, Reliability::Unreliable).is_some());
        }
        assert_eq!(config.linger(Timer::D, Reliability::Unreliable), Some(Duration::from_secs(32)));
        assert_eq!(config.linger(Timer::I, Reliability::Unreliable), Some(config.t4));
        assert_eq!(config.linger(Timer::J, Reliability::Unreliable), Some(Duration::from_secs(32)));
        assert_eq!(config.linger(Timer::K, Reliability::Unreliable), Some(config.t4));
    }

    #[test]
    fn capped_interval_doubles_up_to_t2() {
        let config = TimerConfig::default();
        let mut interval = RetransmitInterval::capped_at_t2(&config);
        let seen: Vec<u64> = (0..5).map(|_| interval.double().as_millis() as u64).collect();
        assert_eq!(seen, [1000, 2000, 4000, 4000, 4000]);
    }
}
