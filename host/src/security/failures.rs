//! Counting failed authentications per source address in a sliding window (sans-IO: the
//! caller passes the time). Memory is bounded: an address keeps at most `limit` failure
//! times, failures older than the window are forgotten, and at most `capacity` addresses
//! are tracked at once, so an attacker rotating source addresses cannot grow the table.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

/// Most source addresses tracked at once by the host's guard.
pub const MAX_TRACKED_SOURCES: usize = 50_000;

/// Recent failures of each source address.
#[derive(Debug)]
pub struct Failures {
    limit: usize,
    window: Duration,
    capacity: usize,
    recent: HashMap<IpAddr, VecDeque<SystemTime>>,
}

impl Failures {
    /// `limit` failures within `window` reach the limit; at most `capacity` addresses
    /// are tracked.
    pub fn new(limit: u32, window: Duration, capacity: usize) -> Failures {
        Failures { limit: limit.max(1) as usize, window, capacity: capacity.max(1), recent: HashMap::new() }
    }

    /// Count a failure of `ip` at `now`. When it makes `limit` failures within the window,
    /// the address is forgotten and the count is returned (the caller bans it).
    pub fn record(&mut self, ip: IpAddr, now: SystemTime) -> Option<u32> {
        if !self.recent.contains_key(&ip) && self.recent.len() >= self.capacity {
            self.make_room(now);
        }
        let times = self.recent.entry(ip).or_default();
        times.retain(|&at| within(at, now, self.window));
        times.push_back(now);
        if times.len() >= self.limit {
            let count = times.len();
            self.recent.remove(&ip);
            // `limit` is at most MAX_BAN_FAILURES, far below u32::MAX.
            return Some(u32::try_from(count).unwrap_or(u32::MAX));
        }
        None
    }

    /// Forget `ip`'s failures (it was banned, unbanned or whitelisted).
    pub fn forget(&mut self, ip: IpAddr) {
        self.recent.remove(&ip);
    }

    /// How many addresses are tracked.
    pub fn tracked(&self) -> usize {
        self.recent.len()
    }

    /// Forget addresses whose failures all left the window; if that frees nothing, forget
    /// the quarter whose last failure is oldest (one O(n) pass per quarter of the table,
    /// so a flood of new addresses costs amortised O(1) each).
    fn make_room(&mut self, now: SystemTime) {
        let window = self.window;
        self.recent.retain(|_, times| times.back().is_some_and(|&last| within(last, now, window)));
        if self.recent.len() < self.capacity {
            return;
        }
        let mut last_failures: Vec<(SystemTime, IpAddr)> =
            self.recent.iter().filter_map(|(ip, times)| Some((*times.back()?, *ip))).collect();
        let evict = (self.capacity / 4).max(1).min(last_failures.len());
        last_failures.select_nth_unstable_by_key(evict - 1, |(at, _)| *at);
        for (_, ip) in &last_failures[..evict] {
            self.recent.remove(ip);
        }
    }
}

/// Whether a failure at `at` still counts at `now`. A clock that stepped back counts it.
fn within(at: SystemTime, now: SystemTime, window: Duration) -> bool {
    now.duration_since(at).map_or(true, |age| age < window)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u32) -> IpAddr {
        IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + n))
    }

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + seconds)
    }

    #[test]
    fn the_limit_within_the_window_is_reported_once_and_the_address_forgotten() {
        let mut failures = Failures::new(3, Duration::from_secs(60), 100);
        assert_eq!(failures.record(ip(1), at(0)), None);
        assert_eq!(failures.record(ip(1), at(10)), None);
        assert_eq!(failures.record(ip(1), at(59)), Some(3));
        assert_eq!(failures.tracked(), 0);
        assert_eq!(failures.record(ip(1), at(60)), None, "counting starts again");
    }

    #[test]
    fn failures_older_than_the_window_stop_counting() {
        let mut failures = Failures::new(3, Duration::from_secs(60), 100);
        assert_eq!(failures.record(ip(1), at(0)), None);
        assert_eq!(failures.record(ip(1), at(30)), None);
        assert_eq!(failures.record(ip(1), at(60)), None, "the first failure left the window");
        assert_eq!(failures.record(ip(1), at(89)), Some(3));
    }

    #[test]
    fn addresses_are_counted_apart() {
        let mut failures = Failures::new(2, Duration::from_secs(60), 100);
        assert_eq!(failures.record(ip(1), at(0)), None);
        assert_eq!(failures.record(ip(2), at(1)), None);
        assert_eq!(failures.record(ip(2), at(2)), Some(2));
        assert_eq!(failures.record(ip(1), at(3)), Some(2));
    }

    #[test]
    fn a_flood_of_new_addresses_never_exceeds_the_capacity() {
        let mut failures = Failures::new(5, Duration::from_secs(60), 1000);
        for n in 0..100_000 {
            failures.record(ip(n), at(u64::from(n) / 1000));
            assert!(failures.tracked() <= 1000);
        }
    }

    #[test]
    fn a_full_table_first_forgets_stale_addresses_then_the_oldest() {
        let mut failures = Failures::new(2, Duration::from_secs(60), 4);
        for n in 0..4 {
            failures.record(ip(n), at(u64::from(n)));
        }
        // Everything is stale at t=100: the table empties before the new address is added.
        failures.record(ip(10), at(100));
        assert_eq!(failures.tracked(), 1);

        for n in 11..14 {
            failures.record(ip(n), at(100 + u64::from(n)));
        }
        // Full and nothing stale: the oldest (ip 10) goes, the newer ones keep counting.
        failures.record(ip(20), at(120));
        assert_eq!(failures.tracked(), 4);
        assert_eq!(failures.record(ip(13), at(121)), Some(2), "a recent address kept its count");
        assert_eq!(failures.record(ip(10), at(122)), None, "the oldest address was forgotten");
    }
}
