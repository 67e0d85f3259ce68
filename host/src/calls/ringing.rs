//! Which registered contacts of an extension ring, in which groups (SPEC §8 through
//! [`ring_groups`]), and what the caller hears when none answers.
//!
//! A registered contact is matched to a configured device by its Contact user: a phone
//! registered with `Contact: <sip:100-desk@…>` is device `desk` of extension 100 (its
//! `sip_username`). Contacts that match no device ring in the first group — a phone
//! nobody has configured yet still rings — unless the extension has a device with order 0
//! or disabled for it.

use crate::sip::dialog::uri_in;
use crate::sip::message::uri_user;
use crate::sip::registrar::location::Binding;
use crate::sip::registrar::ring::ring_groups;
use crate::store::records::Device;

/// The ring order given to contacts that match no configured device.
const UNCONFIGURED_ORDER: u8 = 1;

/// The contacts of `bindings` that ring, in groups, by the rules of `devices`.
pub fn plan(bindings: Vec<Binding>, devices: &[Device]) -> Vec<Vec<Binding>> {
    let entries: Vec<(Binding, u8, bool)> = bindings
        .into_iter()
        .map(|binding| {
            let user = uri_user(uri_in(&binding.contact));
            let device = devices.iter().find(|d| user.as_deref() == Some(d.sip_username.as_str()));
            match device {
                Some(device) => (binding, device.order, device.enabled),
                None => (binding, UNCONFIGURED_ORDER, true),
            }
        })
        .collect();
    ring_groups(&entries, |e| e.1, |e| e.2)
        .into_iter()
        .map(|group| group.into_iter().map(|e| e.0.clone()).collect())
        .collect()
}

/// The status the caller gets when every device failed with `statuses` (RFC 3261
/// §16.7's spirit: busy beats declined beats unavailable).
pub fn final_status(statuses: &[u16]) -> u16 {
    if statuses.iter().any(|s| matches!(s, 486 | 600)) {
        486
    } else if statuses.contains(&603) {
        603
    } else {
        480
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::store::records::DeviceKind;

    fn binding(user: &str) -> Binding {
        Binding {
            contact: format!("<sip:{user}@127.0.0.1:5070>"),
            source: "127.0.0.1:5070".parse().unwrap(),
            transport: crate::sip::transport::Transport::Udp,
            call_id: user.into(),
            cseq: 1,
            expires_at: SystemTime::now(),
            user_agent: None,
        }
    }

    fn device(id: &str, order: u8, enabled: bool) -> Device {
        Device {
            company: "acme".into(),
            extension: "100".into(),
            id: id.into(),
            name: id.into(),
            kind: DeviceKind::Softphone,
            order,
            enabled,
            sip_username: format!("100-{id}"),
            created_at: chrono::Utc::now(),
        }
    }

    fn users(groups: &[Vec<Binding>]) -> Vec<Vec<String>> {
        groups.iter().map(|g| g.iter().map(|b| b.call_id.clone()).collect()).collect()
    }

    #[test]
    fn contacts_ring_by_their_device_order_and_unknown_ones_first() {
        let devices = [device("desk", 2, true), device("mobile", 3, true), device("old", 0, true)];
        let bindings = vec![binding("100-mobile"), binding("100"), binding("100-desk"), binding("100-old")];
        assert_eq!(users(&plan(bindings, &devices)), [vec!["100"], vec!["100-desk"], vec!["100-mobile"]]);
    }

    #[test]
    fn a_disabled_device_never_rings() {
        let devices = [device("desk", 1, false)];
        assert!(plan(vec![binding("100-desk")], &devices).is_empty());
    }

    #[test]
    fn busy_wins_over_declined_and_unavailable() {
        assert_eq!(final_status(&[480, 486, 603]), 486);
        assert_eq!(final_status(&[408, 603]), 603);
        assert_eq!(final_status(&[408, 404]), 480);
        assert_eq!(final_status(&[]), 480);
    }
}
