//! Call events across the hosts of a cluster: every event of this host is published on
//! the store's change feed (PostgreSQL `NOTIFY`, from a thread of its own, never on a
//! call's path), and every event another host publishes reaches this host's clients. The
//! host where the call runs keeps its state and runs the call-events modules.
//!
//! Events leave together: the first waits [`GATHER`] for others, and those gathered go in
//! as few notifications as the payload limit allows. A busy host sends about ten
//! notifications a second, not one per event (each wakes every host and PostgreSQL); a
//! client on another host hears of a call up to [`GATHER`] later than one on the call's
//! own host.

use std::sync::Arc;

use serde::Deserialize;

use super::{CallStateEvent, EventHub};
use crate::store::{Heard, Store};

/// The feed's topic for call events.
const TOPIC: &str = "call-events";
/// PostgreSQL's limit on a notification's payload is 8000 bytes; an event is far smaller.
const MAX_PAYLOAD: usize = 7900;
/// How long the first event waits for others to leave with it.
const GATHER: std::time::Duration = std::time::Duration::from_millis(100);

/// Events as shared: with the host they came from, which has delivered them already.
#[derive(Deserialize)]
struct Shared {
    host: String,
    events: Vec<CallStateEvent>,
}

/// Builds [`Shared`] payloads up to [`MAX_PAYLOAD`] bytes from events serialised one by one.
struct Batch {
    head: String,
    payload: String,
}

impl Batch {
    fn new(host: &str) -> Batch {
        // A host id is a token of letters and digits: it needs no escaping.
        let head = format!("{{\"host\":\"{host}\",\"events\":[");
        Batch { payload: head.clone(), head }
    }

    fn is_empty(&self) -> bool {
        self.payload.len() == self.head.len()
    }

    /// Add `event` (serialised), unless the payload would grow past the limit.
    fn try_add(&mut self, event: &str) -> bool {
        if self.payload.len() + event.len() + 2 > MAX_PAYLOAD {
            return false;
        }
        if !self.is_empty() {
            self.payload.push(',');
        }
        self.payload.push_str(event);
        true
    }

    /// The payload so far; the batch starts again empty.
    fn take(&mut self) -> String {
        let mut payload = std::mem::replace(&mut self.payload, self.head.clone());
        payload.push_str("]}");
        payload
    }
}

/// Share `hub`'s events with the other hosts of `store`, and deliver theirs. Nothing to
/// do on a store no other host shares.
pub fn share(hub: &Arc<EventHub>, store: &Store) {
    if !store.is_shared() {
        return;
    }
    let Some(mut events) = hub.share_with_other_hosts() else { return };
    let host = store.host_id().to_string();
    let publisher = store.clone();
    let from = host.clone();
    let started = std::thread::Builder::new().name("events-out".into()).spawn(move || {
        let mut batch = Batch::new(&from);
        let publish = |payload: String| {
            if let Err(error) = publisher.publish(TOPIC, &payload) {
                tracing::warn!(%error, "the other hosts' clients miss events");
            }
        };
        while let Some(first) = events.blocking_recv() {
            std::thread::sleep(GATHER);
            let mut next = Some(first);
            while let Some(event) = next.take() {
                // Strings and numbers: it serialises.
                let text = serde_json::to_string(&event).expect("an event serialises");
                if !batch.try_add(&text) {
                    if !batch.is_empty() {
                        publish(batch.take());
                    }
                    if !batch.try_add(&text) {
                        tracing::warn!(call = %event.call_id, bytes = text.len(), "event too large for the other hosts");
                    }
                }
                next = events.try_recv().ok();
            }
            if !batch.is_empty() {
                publish(batch.take());
            }
        }
    });
    if let Err(error) = started {
        tracing::error!(%error, "cannot share call events with the other hosts");
        return;
    }
    let hub = Arc::clone(hub);
    store.listen(move |heard| {
        // Without a client there is nobody to deliver to: skip reading the payload.
        if let Heard::Change { topic, subject } = heard
            && topic == TOPIC
            && hub.has_listeners()
        {
            match serde_json::from_str::<Shared>(&subject) {
                Ok(shared) if shared.host != host => {
                    for event in shared.events {
                        hub.deliver_from_another_host(event);
                    }
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "an unreadable event from another host"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_events_leave_together_in_payloads_under_the_notification_limit() {
        let mut batch = Batch::new("0123456789abcdef");
        let events: Vec<String> =
            (0..100).map(|i| format!(r#"{{"call_id":"{i}","pad":"{}"}}"#, "x".repeat(200))).collect();
        let mut payloads = Vec::new();
        for event in &events {
            if !batch.try_add(event) {
                payloads.push(batch.take());
                assert!(batch.try_add(event), "an empty batch takes an event");
            }
        }
        payloads.push(batch.take());
        assert!(batch.is_empty());
        assert!(payloads.len() > 1 && payloads.len() < 10, "{} payloads", payloads.len());
        let mut received = Vec::new();
        for payload in &payloads {
            assert!(payload.len() <= MAX_PAYLOAD, "{} bytes", payload.len());
            let shared: serde_json::Value = serde_json::from_str(payload).expect("a payload is JSON");
            assert_eq!(shared["host"], "0123456789abcdef");
            for event in shared["events"].as_array().expect("events") {
                received.push(event["call_id"].as_str().expect("call_id").to_string());
            }
        }
        let sent: Vec<String> = (0..100).map(|i| i.to_string()).collect();
        assert_eq!(received, sent, "every event once, in order");
    }

    #[test]
    fn an_event_larger_than_a_notification_does_not_fit_even_alone() {
        let mut batch = Batch::new("h");
        assert!(!batch.try_add(&"x".repeat(MAX_PAYLOAD)));
        assert!(batch.is_empty());
    }
}
