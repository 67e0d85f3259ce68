//! Which host of a cluster registers a trunk. A provider account registered by every host
//! would hold one binding per host: a provider that keeps one contact per account sends
//! its calls to whichever registered last, one that keeps several rings every host at
//! once. So each trunk has one owner among the live hosts, chosen by rendezvous hashing
//! (the host scoring highest for the trunk): every host computes the same owner from the
//! same hosts, and a host joining or leaving moves only the trunks it wins or held.
//!
//! The live hosts are those the queue state thread judges running
//! ([`crate::calls::LiveHosts`]: a host's `host_activity` row moved within
//! [`GONE_AFTER`](crate::calls::presence::cluster::GONE_AFTER)), so that trunks and queues
//! agree on them. A stopped host's trunks are registered by another within that time and
//! a heartbeat's read of the rows.
//! While the hosts' views differ (a host starting, one stopping) a trunk can be registered
//! twice, or not at all, for a few seconds.

use super::status::{TrunkKey, TrunkSlot};

/// The host among `hosts` that registers `trunk`; none when there is no host.
pub fn owner<'a>(trunk: &TrunkKey, hosts: &'a [String]) -> Option<&'a str> {
    // Ties (a hash collision) go to the smallest id, so every host agrees.
    hosts.iter().max_by_key(|host| (score(host, trunk), std::cmp::Reverse(host.as_str()))).map(String::as_str)
}

/// FNV-1a of the host, the company and the slot: stable across hosts and releases (the
/// standard library's hasher is seeded per process).
fn score(host: &str, (company, slot): &TrunkKey) -> u64 {
    let slot = match slot {
        TrunkSlot::Primary => "primary",
        TrunkSlot::Secondary => "secondary",
    };
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [host, company, slot] {
        for byte in part.bytes().chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trunks(companies: usize) -> Vec<TrunkKey> {
        (0..companies)
            .flat_map(|n| [(format!("c{n}"), TrunkSlot::Primary), (format!("c{n}"), TrunkSlot::Secondary)])
            .collect()
    }

    fn hosts(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|id| id.to_string()).collect()
    }

    #[test]
    fn every_trunk_has_one_owner_the_same_whatever_order_the_hosts_come_in() {
        let forward = hosts(&["a", "b", "c"]);
        let backward = hosts(&["c", "b", "a"]);
        let mut per_host = std::collections::HashMap::new();
        for trunk in trunks(300) {
            let owner = owner(&trunk, &forward).unwrap();
            assert_eq!(Some(owner), super::owner(&trunk, &backward));
            *per_host.entry(owner).or_insert(0) += 1;
        }
        // Spread over the hosts, not all on one.
        assert_eq!(per_host.len(), 3, "{per_host:?}");
        assert!(per_host.values().all(|&n| n > 100), "{per_host:?}");
        assert_eq!(owner(&trunks(1)[0], &[]), None);
    }

    #[test]
    fn a_host_leaving_moves_only_its_own_trunks() {
        let three = hosts(&["a", "b", "c"]);
        let two = hosts(&["a", "c"]);
        for trunk in trunks(300) {
            let before = owner(&trunk, &three).unwrap();
            let after = owner(&trunk, &two).unwrap();
            if before != "b" {
                assert_eq!(before, after, "{trunk:?} moved though its host stayed");
            }
        }
    }
}
