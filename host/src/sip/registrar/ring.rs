//! The ring plan of an extension with several devices (SPEC.md §8, "multiterminal"):
//! which devices ring, in which order. Pure logic; the call side rings each group in turn.
//!
//! - the lowest order rings first;
//! - equal orders ring together;
//! - order 0 never rings;
//! - a disabled device never rings.

use crate::store::records::Device;

/// The devices of `devices` that ring, in groups: each group rings together, groups in
/// ascending order. Inside a group the devices keep their order in `devices`. No ringable
/// device gives no group at all (never an empty group).
pub fn ring_groups<D>(devices: &[D], order: impl Fn(&D) -> u8, enabled: impl Fn(&D) -> bool) -> Vec<Vec<&D>> {
    let mut ringable: Vec<(u8, &D)> =
        devices.iter().filter(|d| enabled(d)).map(|d| (order(d), d)).filter(|(o, _)| *o != 0).collect();
    // Stable: equal orders keep their order in `devices`.
    ringable.sort_by_key(|(o, _)| *o);
    let mut groups: Vec<Vec<&D>> = Vec::new();
    let mut current = None;
    for (o, device) in ringable {
        match groups.last_mut() {
            Some(group) if current == Some(o) => group.push(device),
            _ => {
                groups.push(vec![device]);
                current = Some(o);
            }
        }
    }
    groups
}

/// [`ring_groups`] of stored devices, by their `order` and `enabled`.
pub fn device_ring_groups(devices: &[Device]) -> Vec<Vec<&Device>> {
    ring_groups(devices, |d| d.order, |d| d.enabled)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (name, order, enabled)
    type D = (&'static str, u8, bool);

    fn plan(devices: &[D]) -> Vec<Vec<&'static str>> {
        ring_groups(devices, |d| d.1, |d| d.2).into_iter().map(|g| g.iter().map(|d| d.0).collect()).collect()
    }

    #[test]
    fn lowest_order_rings_first() {
        let devices = [("mobile", 3, true), ("desk", 1, true), ("soft", 2, true)];
        assert_eq!(plan(&devices), [vec!["desk"], vec!["soft"], vec!["mobile"]]);
    }

    #[test]
    fn equal_orders_ring_together() {
        let devices = [("desk", 2, true), ("mobile", 5, true), ("soft", 2, true), ("web", 5, true)];
        assert_eq!(plan(&devices), [vec!["desk", "soft"], vec!["mobile", "web"]]);
    }

    #[test]
    fn order_zero_never_rings() {
        let devices = [("desk", 0, true), ("soft", 1, true), ("mobile", 0, true)];
        assert_eq!(plan(&devices), [vec!["soft"]]);
    }

    #[test]
    fn disabled_devices_never_ring() {
        let devices = [("desk", 1, false), ("soft", 1, true), ("mobile", 2, false)];
        assert_eq!(plan(&devices), [vec!["soft"]]);
    }

    #[test]
    fn no_ringable_device_gives_no_group() {
        assert!(plan(&[]).is_empty());
        assert!(plan(&[("desk", 0, true), ("soft", 3, false)]).is_empty());
    }

    #[test]
    fn stored_devices_ring_by_their_order_and_switch() {
        let device = |id: &str, order, enabled| Device {
            company: "acme".into(),
            extension: "100".into(),
            id: id.into(),
            name: id.into(),
            kind: crate::store::records::DeviceKind::Softphone,
            order,
            enabled,
            sip_username: format!("100-{id}"),
            created_at: chrono::Utc::now(),
        };
        let devices = [device("b", 2, true), device("a", 1, true), device("c", 1, false)];
        let groups = device_ring_groups(&devices);
        let ids: Vec<Vec<&str>> = groups.iter().map(|g| g.iter().map(|d| d.id.as_str()).collect()).collect();
        assert_eq!(ids, [vec!["a"], vec!["b"]]);
    }
}
