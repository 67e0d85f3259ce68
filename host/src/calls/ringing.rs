//! Which registered contacts of an extension ring, in which groups (SPEC §8 through
//! [`ring_groups`]), and what the caller hears when none answers.
//!
//! A registered contact is matched to a configured device by its Contact user: a phone
//! registered with `Contact: <sip:100-desk@…>` is device `desk` of extension 100 (its
//! `sip_username`). Contacts that match no device ring in the first group — a phone
//! nobody has configured yet still rings — unless the extension has a device with order 0
//! or disabled for it.
//!
//! A web phone is a contact registered over WebSocket. In the extension's `exclusive` web
//! phone mode, while one is registered only the web phones ring (SPEC §8).

use std::time::SystemTime;

use crate::app::App;
use crate::sip::dialog::uri_in;
use crate::sip::message::uri_user;
use crate::sip::registrar::location::Binding;
use crate::sip::registrar::ring::ring_groups;
use crate::sip::transport::Transport;
use crate::store::records::{Device, User, WebPhoneMode};
use crate::store::{DEVICES, Read, StoreError, USERS, company_key, devices_prefix};

/// The ring order given to contacts that match no configured device.
const UNCONFIGURED_ORDER: u8 = 1;

/// The registered contacts of `company`'s `extension` that ring now, in groups, by its
/// devices' rules and its web phone mode.
pub fn extension_plan(app: &App, company: &str, extension: &str) -> Result<Vec<Vec<Binding>>, StoreError> {
    let bindings = app.registrar.bindings(company, extension, SystemTime::now());
    let (devices, user) = app.store.read(|r| {
        let devices = r.scan(&DEVICES, &devices_prefix(company, extension))?;
        let user: Option<User> = r.get(&USERS, &company_key(company, extension))?;
        Ok((devices, user))
    })?;
    let mode = user.map(|u| u.web_phone_mode).unwrap_or_default();
    Ok(plan(bindings, &devices, mode))
}

/// The contacts of `bindings` that ring, in groups, by the rules of `devices` and `mode`.
pub fn plan(mut bindings: Vec<Binding>, devices: &[Device], mode: WebPhoneMode) -> Vec<Vec<Binding>> {
    let is_web_phone = |binding: &Binding| binding.transport == Transport::Ws;
    if mode == WebPhoneMode::Exclusive && bindings.iter().any(is_web_phone) {
        bindings.retain(is_web_phone);
    }
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
        assert_eq!(
            users(&plan(bindings, &devices, WebPhoneMode::MultiDevice)),
            [vec!["100"], vec!["100-desk"], vec!["100-mobile"]]
        );
    }

    #[test]
    fn a_disabled_device_never_rings() {
        let devices = [device("desk", 1, false)];
        assert!(plan(vec![binding("100-desk")], &devices, WebPhoneMode::MultiDevice).is_empty());
    }

    fn web_phone(user: &str) -> Binding {
        Binding { transport: Transport::Ws, ..binding(user) }
    }

    #[test]
    fn in_multi_device_mode_the_web_phone_rings_by_its_order_with_the_others() {
        let devices = [device("desk", 1, true), device("web", 2, true)];
        let bindings = vec![web_phone("100-web"), binding("100-desk")];
        let groups = plan(bindings, &devices, WebPhoneMode::MultiDevice);
        assert_eq!(users(&groups), [vec!["100-desk"], vec!["100-web"]]);
    }

    #[test]
    fn in_exclusive_mode_a_logged_in_web_phone_rings_alone() {
        let devices = [device("desk", 1, true), device("web", 2, true)];
        let bindings = vec![binding("100-desk"), web_phone("100-web")];
        assert_eq!(users(&plan(bindings, &devices, WebPhoneMode::Exclusive)), [vec!["100-web"]]);
    }

    #[test]
    fn in_exclusive_mode_without_a_web_phone_the_other_devices_ring() {
        let devices = [device("desk", 1, true), device("mobile", 2, true)];
        let bindings = vec![binding("100-mobile"), binding("100-desk")];
        let groups = plan(bindings, &devices, WebPhoneMode::Exclusive);
        assert_eq!(users(&groups), [vec!["100-desk"], vec!["100-mobile"]]);
    }

    #[test]
    fn busy_wins_over_declined_and_unavailable() {
        assert_eq!(final_status(&[480, 486, 603]), 486);
        assert_eq!(final_status(&[408, 603]), 603);
        assert_eq!(final_status(&[408, 404]), 480);
        assert_eq!(final_status(&[]), 480);
    }
}
