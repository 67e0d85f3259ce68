//! Call pickup (SPEC §7): which extensions are ringing now, so that another extension can
//! take the call (`*95` + extension, or `*96` for its pickup groups). A ringing call holds
//! a [`PickupSlot`] for the extensions it rings (its callee, or a queue step's agents)
//! while they ring; the picker's call hands its INVITE over
//! through the slot's channel, and the ringing call answers the picker in place of its
//! devices. In memory only: a restart ends every ringing call anyway.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use rsip::Request;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::sync::oneshot;

use crate::sip::dialog::Dialog;
use crate::sip::endpoint::tu::{CallEvent, ServerTx};
use crate::store::company_key;

/// The picker's call, handed to the ringing call it takes.
pub struct PickedUp {
    /// The picker's extension.
    pub picker: String,
    /// The picker's INVITE, its server transaction and our side of its dialog.
    pub invite: Box<Request>,
    pub tx: ServerTx,
    pub dialog: Dialog,
    /// Where the endpoint sends the picker's further requests (its ACK, BYE).
    pub events: UnboundedReceiver<CallEvent>,
}

/// A pickup asked of a ringing call. The answer gives the call back when it was not taken
/// (it was answered meanwhile, or the codecs do not meet).
pub struct PickupRequest {
    pub picked: PickedUp,
    pub reply: oneshot::Sender<Result<(), PickedUp>>,
}

/// Every ringing extension of every company.
#[derive(Debug, Default)]
pub struct Pickups {
    ringing: Mutex<HashMap<String, Vec<Ringing>>>,
    next_id: AtomicU64,
}

#[derive(Debug)]
struct Ringing {
    id: u64,
    since: Instant,
    requests: UnboundedSender<PickupRequest>,
}

/// A call ringing some extensions, open to pickup until dropped.
pub struct PickupSlot {
    pickups: Arc<Pickups>,
    keys: Vec<String>,
    id: u64,
    pub requests: UnboundedReceiver<PickupRequest>,
}

impl Pickups {
    fn ringing(&self) -> MutexGuard<'_, HashMap<String, Vec<Ringing>>> {
        // A panic while holding the lock left a plain map behind: keep using it.
        crate::sync::lock(&self.ringing)
    }

    /// `extensions` of `company` ring for one call until the slot drops: picking up at
    /// any of them takes it.
    pub fn open(self: &Arc<Self>, company: &str, extensions: &[&str]) -> PickupSlot {
        let (sender, requests) = unbounded_channel();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let since = Instant::now();
        let keys: Vec<String> = extensions.iter().map(|extension| company_key(company, extension)).collect();
        let mut ringing = self.ringing();
        for key in &keys {
            let entry = Ringing { id, since, requests: sender.clone() };
            ringing.entry(key.clone()).or_default().push(entry);
        }
        drop(ringing);
        PickupSlot { pickups: self.clone(), keys, id, requests }
    }

    /// The call that has rung longest at any of `extensions` of `company` (the one a
    /// picker expects to take).
    pub fn oldest(&self, company: &str, extensions: &[String]) -> Option<UnboundedSender<PickupRequest>> {
        let ringing = self.ringing();
        extensions
            .iter()
            .filter_map(|extension| ringing.get(&company_key(company, extension)))
            .flatten()
            .min_by_key(|entry| entry.since)
            .map(|entry| entry.requests.clone())
    }
}

impl Drop for PickupSlot {
    fn drop(&mut self) {
        let mut ringing = self.pickups.ringing();
        for key in &self.keys {
            if let Some(entries) = ringing.get_mut(key) {
                entries.retain(|entry| entry.id != self.id);
                if entries.is_empty() {
                    ringing.remove(key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_ringing_call_of_the_extensions_is_picked_and_a_closed_slot_is_gone() {
        let pickups = Arc::new(Pickups::default());
        let first = pickups.open("acme", &["101"]);
        let second = pickups.open("acme", &["102"]);
        let wanted = ["101".to_string(), "102".to_string()];
        let oldest = pickups.oldest("acme", &wanted).expect("a ringing call");
        assert!(oldest.same_channel(&pickups.ringing()["acme\u{0}101"][0].requests));
        assert!(pickups.oldest("globex", &wanted).is_none(), "companies apart");
        drop(first);
        let next = pickups.oldest("acme", &wanted).expect("still one ringing");
        assert!(next.same_channel(&pickups.ringing()["acme\u{0}102"][0].requests));
        drop(second);
        assert!(pickups.oldest("acme", &wanted).is_none());
        assert!(pickups.ringing().is_empty(), "closed slots leave nothing behind");
    }

    #[test]
    fn a_call_ringing_several_agents_is_open_to_pickup_at_each_until_it_stops() {
        let pickups = Arc::new(Pickups::default());
        let queue_step = pickups.open("acme", &["101", "102"]);
        for agent in ["101", "102"] {
            let found = pickups.oldest("acme", &[agent.to_string()]).expect("ringing at the agent");
            assert!(found.same_channel(&pickups.ringing()["acme\u{0}101"][0].requests), "one call at both");
        }
        drop(queue_step);
        assert!(pickups.ringing().is_empty(), "closed slots leave nothing behind");
    }
}
