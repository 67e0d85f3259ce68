//! The RTP port range and the pool that hands out its pairs: an even port for RTP and
//! the odd one above it for RTCP (RFC 3550 §11), each pair to one relay side at a time.

use std::collections::HashSet;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use super::MediaError;

/// The range used when none is configured (what most PBX firewalls already open).
pub const DEFAULT_PORT_RANGE: PortRange = PortRange { first: 20000, last: 29999 };

/// An inclusive range of UDP ports for media, holding at least one even/odd pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    first: u16,
    last: u16,
}

impl PortRange {
    /// The ports `first..=last`; refused when no even port with its odd neighbour fits.
    pub fn new(first: u16, last: u16) -> Result<PortRange, MediaError> {
        let range = PortRange { first, last };
        if range.pairs() == 0 { Err(MediaError::BadRange { first, last }) } else { Ok(range) }
    }

    pub fn first(&self) -> u16 {
        self.first
    }

    pub fn last(&self) -> u16 {
        self.last
    }

    /// The first even port of the range that is not port 0.
    fn first_rtp(&self) -> u32 {
        let first = u32::from(self.first.max(2));
        first + first % 2
    }

    /// How many RTP/RTCP pairs the range holds.
    pub fn pairs(&self) -> usize {
        let (first, last) = (self.first_rtp(), u32::from(self.last));
        if last < first + 1 { 0 } else { ((last - first - 1) / 2 + 1) as usize }
    }

    /// The RTP port of pair number `index` (0-based, below [`PortRange::pairs`]).
    fn rtp_port(&self, index: usize) -> u16 {
        // index < pairs() keeps this within `last`, so within u16.
        u16::try_from(self.first_rtp() + 2 * index as u32).unwrap_or(u16::MAX)
    }
}

impl Default for PortRange {
    fn default() -> PortRange {
        DEFAULT_PORT_RANGE
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

impl FromStr for PortRange {
    type Err = MediaError;

    /// `"20000-29999"`, as in a configuration file.
    fn from_str(text: &str) -> Result<PortRange, MediaError> {
        let bad = || MediaError::BadRangeText(text.to_string());
        let (first, last) = text.split_once('-').ok_or_else(bad)?;
        let first = first.trim().parse().map_err(|_| bad())?;
        let last = last.trim().parse().map_err(|_| bad())?;
        PortRange::new(first, last)
    }
}

/// Which pairs are in use, and where the next search starts.
#[derive(Debug, Default)]
struct PoolState {
    in_use: HashSet<u16>,
    next: usize,
}

/// Hands out RTP/RTCP socket pairs from a [`PortRange`]; a pair comes back to the pool
/// when its [`PortLease`] is dropped.
#[derive(Debug)]
pub struct PortPool {
    range: PortRange,
    state: Mutex<PoolState>,
}

/// Two bound sockets on a pair of ports, and the lease that returns the pair when dropped.
/// Dropping the sockets before the lease (field order) means a returned pair is free.
#[derive(Debug)]
pub struct BoundPair {
    pub rtp: UdpSocket,
    pub rtcp: UdpSocket,
    pub lease: PortLease,
}

/// A pair of ports taken from a [`PortPool`]; dropping it gives the pair back.
#[derive(Debug)]
pub struct PortLease {
    pool: Arc<PortPool>,
    rtp_port: u16,
}

impl PortLease {
    /// The RTP port (RTCP is the next one).
    pub fn rtp_port(&self) -> u16 {
        self.rtp_port
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        self.pool.state().in_use.remove(&self.rtp_port);
    }
}

impl PortPool {
    pub fn new(range: PortRange) -> Arc<PortPool> {
        Arc::new(PortPool { range, state: Mutex::new(PoolState::default()) })
    }

    pub fn range(&self) -> PortRange {
        self.range
    }

    /// Pairs handed out and not yet returned.
    pub fn in_use(&self) -> usize {
        self.state().in_use.len()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, PoolState> {
        // The state is a set and a cursor, consistent after any panic: keep using it.
        crate::sync::lock(&self.state)
    }

    /// Bind the next free pair on `ip`. The search goes round the range from after the
    /// last pair handed out, so a pair just returned is reused last and a late packet of a
    /// finished call does not land in a new one. A pair another program holds is skipped.
    pub fn bind_pair(self: &Arc<Self>, ip: IpAddr) -> Result<BoundPair, MediaError> {
        let pairs = self.range.pairs();
        let mut state = self.state();
        for step in 0..pairs {
            let index = (state.next + step) % pairs;
            let port = self.range.rtp_port(index);
            if state.in_use.contains(&port) {
                continue;
            }
            let (rtp, rtcp) = match bind_both(ip, port) {
                Ok(sockets) => sockets,
                Err(error) if is_taken(&error) => continue,
                Err(source) => return Err(MediaError::Bind { address: SocketAddr::new(ip, port), source }),
            };
            state.in_use.insert(port);
            state.next = (index + 1) % pairs;
            drop(state);
            let lease = PortLease { pool: Arc::clone(self), rtp_port: port };
            return Ok(BoundPair { rtp, rtcp, lease });
        }
        Err(MediaError::Exhausted { range: self.range, in_use: state.in_use.len() })
    }
}

fn bind_both(ip: IpAddr, port: u16) -> io::Result<(UdpSocket, UdpSocket)> {
    let rtp = UdpSocket::bind(SocketAddr::new(ip, port))?;
    // `port` is even and below `last`, so `port + 1` is a port of the range.
    let rtcp = UdpSocket::bind(SocketAddr::new(ip, port + 1))?;
    Ok((rtp, rtcp))
}

/// Whether a bind failed because the port is taken (by another program): try the next.
fn is_taken(error: &io::Error) -> bool {
    matches!(error.kind(), io::ErrorKind::AddrInUse | io::ErrorKind::PermissionDenied)
}

/// A range of `pairs` pairs on loopback that no program held a moment ago, distinct from
/// every other range handed to a test of this process (tests run in parallel).
#[cfg(test)]
pub(crate) fn free_test_range(pairs: u16) -> PortRange {
    use std::sync::atomic::{AtomicU32, Ordering};
    // Below Linux's ephemeral ports (32768 up), so other tests' clients do not land there;
    // offset by the process id so two test processes rarely start on the same ports.
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let base = 12000 + (std::process::id() % 500) * 16;
    loop {
        let first = base + NEXT.fetch_add(2 * u32::from(pairs), Ordering::Relaxed);
        let first = u16::try_from(first).expect("test port ranges stay below 65536");
        let localhost = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
        let held: Vec<_> = (0..pairs).map_while(|i| bind_both(localhost, first + 2 * i).ok()).collect();
        if held.len() == usize::from(pairs) {
            return PortRange::new(first, first + 2 * pairs - 1).expect("a range of whole pairs");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCALHOST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn the_default_range_is_20000_to_29999() {
        assert_eq!(PortRange::default(), PortRange::new(20000, 29999).unwrap());
        assert_eq!(DEFAULT_PORT_RANGE.pairs(), 5000);
    }

    #[test]
    fn pairs_start_on_an_even_port_and_fit_inside() {
        let odd = PortRange::new(20001, 20006).unwrap();
        assert_eq!(odd.pairs(), 2);
        assert_eq!((odd.rtp_port(0), odd.rtp_port(1)), (20002, 20004));
        assert_eq!(PortRange::new(0, 3).unwrap().rtp_port(0), 2, "port 0 is never handed out");
        assert_eq!(PortRange::new(65534, 65535).unwrap().pairs(), 1);
        assert!(matches!(PortRange::new(20001, 20002), Err(MediaError::BadRange { .. })));
        assert!(matches!(PortRange::new(20010, 20000), Err(MediaError::BadRange { .. })));
    }

    #[test]
    fn ranges_parse_from_text() {
        assert_eq!("10000 - 10099".parse::<PortRange>().unwrap(), PortRange::new(10000, 10099).unwrap());
        assert!(matches!("10000".parse::<PortRange>(), Err(MediaError::BadRangeText(_))));
        assert!(matches!("a-b".parse::<PortRange>(), Err(MediaError::BadRangeText(_))));
        assert_eq!(PortRange::default().to_string(), "20000-29999");
    }

    #[test]
    fn pairs_are_even_distinct_and_come_back_when_dropped() {
        let range = free_test_range(3);
        let pool = PortPool::new(range);
        let pairs: Vec<_> = (0..3).map(|_| pool.bind_pair(LOCALHOST).unwrap()).collect();
        let mut ports: Vec<u16> = pairs.iter().map(|pair| pair.lease.rtp_port()).collect();
        for pair in &pairs {
            let port = pair.lease.rtp_port();
            assert_eq!(port % 2, 0);
            assert_eq!(pair.rtp.local_addr().unwrap().port(), port);
            assert_eq!(pair.rtcp.local_addr().unwrap().port(), port + 1);
        }
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 3);
        assert!(matches!(pool.bind_pair(LOCALHOST), Err(MediaError::Exhausted { in_use: 3, .. })));
        drop(pairs);
        assert_eq!(pool.in_use(), 0);
        assert!(pool.bind_pair(LOCALHOST).is_ok());
    }

    #[test]
    fn a_pair_held_by_another_program_is_skipped() {
        let range = free_test_range(2);
        let squatter = UdpSocket::bind(SocketAddr::new(LOCALHOST, range.rtp_port(0) + 1)).unwrap();
        let pool = PortPool::new(range);
        let pair = pool.bind_pair(LOCALHOST).unwrap();
        assert_eq!(pair.lease.rtp_port(), range.rtp_port(1));
        assert!(matches!(pool.bind_pair(LOCALHOST), Err(MediaError::Exhausted { in_use: 1, .. })));
        drop(squatter);
    }

    #[test]
    fn a_returned_pair_is_reused_last() {
        let pool = PortPool::new(free_test_range(2));
        let first = pool.bind_pair(LOCALHOST).unwrap();
        let first_port = first.lease.rtp_port();
        drop(first);
        let second = pool.bind_pair(LOCALHOST).unwrap();
        assert_ne!(second.lease.rtp_port(), first_port);
    }
}
