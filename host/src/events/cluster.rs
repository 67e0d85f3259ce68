//! Call events across the hosts of a cluster: every event of this host is published on
//! the store's change feed (PostgreSQL `NOTIFY`, from a thread of its own, never on a
//! call's path), and every event another host publishes reaches this host's clients. The
//! host where the call runs keeps its state and runs the call-events modules.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{CallStateEvent, EventHub};
use crate::store::{Heard, Store};

/// The feed's topic for call events.
const TOPIC: &str = "call-event";
/// PostgreSQL's limit on a notification's payload is 8000 bytes; an event is far smaller.
const MAX_PAYLOAD: usize = 7900;

/// An event as shared: with the host it came from, which has delivered it already.
#[derive(Serialize, Deserialize)]
struct Shared {
    host: String,
    event: CallStateEvent,
}

/// Share `hub`'s events with the other hosts of `store`, and deliver theirs. Nothing to
/// do on a store no other host shares.
pub fn share(hub: &Arc<EventHub>, store: &Store) {
    if !store.is_shared() {
        return;
    }
    let Some(mut events) = hub.share_with_other_hosts() else { return };
    let host = crate::sip::dialog::token();
    let publisher = store.clone();
    let from = host.clone();
    let started = std::thread::Builder::new().name("events-out".into()).spawn(move || {
        while let Some(event) = events.blocking_recv() {
            let shared = Shared { host: from.clone(), event };
            // Strings and numbers: it serialises.
            let payload = serde_json::to_string(&shared).expect("an event serialises");
            if payload.len() > MAX_PAYLOAD {
                tracing::warn!(call = %shared.event.call_id, bytes = payload.len(), "event too large for the other hosts");
                continue;
            }
            if let Err(error) = publisher.publish(TOPIC, &payload) {
                tracing::warn!(%error, call = %shared.event.call_id, "the other hosts' clients miss an event");
            }
        }
    });
    if let Err(error) = started {
        tracing::error!(%error, "cannot share call events with the other hosts");
        return;
    }
    let hub = Arc::clone(hub);
    store.listen(move |heard| {
        if let Heard::Change { topic, subject } = heard
            && topic == TOPIC
        {
            match serde_json::from_str::<Shared>(&subject) {
                Ok(shared) if shared.host != host => hub.deliver_from_another_host(shared.event),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "an unreadable event from another host"),
            }
        }
    });
}
