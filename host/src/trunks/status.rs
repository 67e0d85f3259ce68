//! What the API shows about each trunk registration, and the shared map the registration
//! tasks publish it in. A task writes only while it still owns its entry (its generation):
//! a task being stopped (un-registering in the background) never overwrites the entry of
//! its successor for the same trunk.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::Notify;
use utoipa::ToSchema;

use crate::store::records::TrunkProvider;

/// Which of a company's two provider accounts (SPEC.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrunkSlot {
    /// `Company.trunk`.
    Primary,
    /// `Company.secondary_trunk`.
    Secondary,
}

/// Where a trunk's registration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrunkState {
    /// A REGISTER is on its way (first attempt, or a retry after a failure).
    Registering,
    /// The provider accepted the binding; it is refreshed before `registered_until`.
    Registered,
    /// The last attempt failed; see `last_error`, and `next_attempt` (none: the provider
    /// refused the credentials and nothing is retried until the account changes).
    Failed,
    /// Another host of the cluster registers it (`host`); ask that host's API for more.
    OnAnotherHost,
    /// Not registered: an IP-authenticated trunk (`"register": false`).
    NotRegistered,
}

/// One trunk registration as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TrunkStatus {
    pub trunk: TrunkSlot,
    /// The account user name at the provider.
    pub username: String,
    /// The provider's SIP domain (the registrar).
    pub domain: String,
    pub state: TrunkState,
    /// The status code of the provider's last final response.
    pub last_status: Option<u16>,
    /// Why the last attempt failed; none after a success.
    pub last_error: Option<String>,
    /// When the binding the provider granted lapses.
    pub registered_until: Option<DateTime<Utc>>,
    /// When the next REGISTER (refresh or retry) goes out.
    pub next_attempt: Option<DateTime<Utc>>,
    /// In a cluster, the id of the host that registers it; absent on a single host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

impl TrunkStatus {
    /// The status of `account` in `slot` with no registration task of this host behind it
    /// (yet): in `state`, nothing attempted, no host named.
    pub fn without_task(slot: TrunkSlot, account: &TrunkProvider, state: TrunkState) -> TrunkStatus {
        TrunkStatus {
            trunk: slot,
            username: account.username.clone(),
            domain: account.domain.clone(),
            state,
            last_status: None,
            last_error: None,
            registered_until: None,
            next_attempt: None,
            host: None,
        }
    }
}

/// A trunk registration's identity: company id and slot.
pub type TrunkKey = (String, TrunkSlot);

struct Entry {
    generation: u64,
    status: TrunkStatus,
}

/// Every trunk registration's status; shared by the supervisor, the registration tasks and
/// the API.
#[derive(Default)]
pub struct Trunks {
    entries: Mutex<HashMap<TrunkKey, Entry>>,
    /// The trunks other hosts of the cluster register (see [`super::ownership`]).
    elsewhere: Mutex<HashMap<TrunkKey, TrunkStatus>>,
    /// This host's id, in a cluster: shown with the registrations it runs.
    this_host: std::sync::OnceLock<String>,
    next_generation: AtomicU64,
    /// Wakes the supervisor before its next poll (see [`Trunks::changed`]).
    pub(super) wake: Notify,
}

impl Trunks {
    /// The statuses of `company`'s registrations, primary first.
    pub fn company(&self, company: &str) -> Vec<TrunkStatus> {
        [TrunkSlot::Primary, TrunkSlot::Secondary]
            .into_iter()
            .filter_map(|slot| self.get(company, slot))
            .collect()
    }

    /// The status of one registration: this host's, else the note of the host that has it.
    pub fn get(&self, company: &str, slot: TrunkSlot) -> Option<TrunkStatus> {
        let key = (company.to_string(), slot);
        if let Some(entry) = self.lock().get(&key) {
            return Some(TrunkStatus { host: self.this_host.get().cloned(), ..entry.status.clone() });
        }
        crate::sync::lock(&self.elsewhere).get(&key).cloned()
    }

    /// In a cluster: this host's id, shown with its registrations (set once).
    pub(super) fn set_this_host(&self, host: &str) {
        let _ = self.this_host.set(host.to_string());
    }

    /// The trunks other hosts register now, replacing the previous list.
    pub(super) fn set_elsewhere(&self, trunks: HashMap<TrunkKey, TrunkStatus>) {
        *crate::sync::lock(&self.elsewhere) = trunks;
    }

    /// The companies' trunks changed: re-read them now rather than at the next poll. (The
    /// supervisor polls anyway; this only makes a change take effect sooner.)
    pub fn changed(&self) {
        self.wake.notify_one();
    }

    /// Take over `key` with a first status; returns the generation to publish with.
    pub(super) fn claim(&self, key: TrunkKey, status: TrunkStatus) -> u64 {
        let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(key, Entry { generation, status });
        generation
    }

    /// Publish `status` for `key` if `generation` still owns it.
    pub(super) fn publish(&self, key: &TrunkKey, generation: u64, status: TrunkStatus) {
        if let Some(entry) = self.lock().get_mut(key).filter(|entry| entry.generation == generation) {
            entry.status = status;
        }
    }

    /// Forget `key` if `generation` still owns it.
    pub(super) fn release(&self, key: &TrunkKey, generation: u64) {
        let mut entries = self.lock();
        if entries.get(key).is_some_and(|entry| entry.generation == generation) {
            entries.remove(key);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TrunkKey, Entry>> {
        crate::sync::lock(&self.entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(slot: TrunkSlot, state: TrunkState) -> TrunkStatus {
        let account = TrunkProvider {
            username: "acme".into(),
            password: "secret".into(),
            domain: "voip.example".into(),
            outbound_proxy: None,
            register: true,
        };
        TrunkStatus::without_task(slot, &account, state)
    }

    #[test]
    fn a_stopped_task_cannot_overwrite_its_successors_status() {
        let trunks = Trunks::default();
        let key = ("acme".to_string(), TrunkSlot::Primary);
        let old = trunks.claim(key.clone(), status(TrunkSlot::Primary, TrunkState::Registering));
        let new = trunks.claim(key.clone(), status(TrunkSlot::Primary, TrunkState::Registering));
        trunks.publish(&key, old, status(TrunkSlot::Primary, TrunkState::Failed));
        trunks.release(&key, old);
        assert_eq!(trunks.get("acme", TrunkSlot::Primary).unwrap().state, TrunkState::Registering);
        trunks.publish(&key, new, status(TrunkSlot::Primary, TrunkState::Registered));
        assert_eq!(trunks.get("acme", TrunkSlot::Primary).unwrap().state, TrunkState::Registered);
        trunks.release(&key, new);
        assert_eq!(trunks.get("acme", TrunkSlot::Primary), None);
    }

    #[test]
    fn a_company_lists_only_its_own_trunks_primary_first() {
        let trunks = Trunks::default();
        trunks.claim(("acme".into(), TrunkSlot::Secondary), status(TrunkSlot::Secondary, TrunkState::Failed));
        trunks.claim(("acme".into(), TrunkSlot::Primary), status(TrunkSlot::Primary, TrunkState::Registered));
        trunks.claim(("other".into(), TrunkSlot::Primary), status(TrunkSlot::Primary, TrunkState::Failed));
        let slots: Vec<TrunkSlot> = trunks.company("acme").iter().map(|s| s.trunk).collect();
        assert_eq!(slots, [TrunkSlot::Primary, TrunkSlot::Secondary]);
    }
}
