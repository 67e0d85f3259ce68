//! Each call-state event to the company's call-events module (SPEC.md §13 "event
//! webhooks"): the standard module posts it to the config's `webhooks` URLs; an upload may
//! do anything its grants allow. Nothing here can hold up a call:
//!
//! - the hub hands events over without waiting ([`crate::events::EventHub::observe`]);
//! - each company has its own worker and queue, so one company's slow endpoint delays
//!   only its own events, which stay in order;
//! - a failed delivery is tried again after [`RETRY_DELAYS`] (delivery is at least once: a
//!   module posting to several URLs may post again to those that had it), then dropped,
//!   logged, counted and audited;
//! - a queue that is full (an endpoint down for long) drops new events, logged.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::mpsc;

use super::call_events::{DEFAULT_MODULE, record_module_failure, settings_of, with_standard_grants};
use super::failure::decision_scope;
use crate::app::App;
use crate::events::CallStateEvent;
use crate::sandbox::limits::MIN_CALL_EVENTS_DEADLINE;
use crate::store::records::{CallEventsSettings, Company};

/// Events waiting per company; more are dropped.
pub const QUEUE_PER_COMPANY: usize = 1024;
/// Waits before each new try of a failed delivery.
pub const RETRY_DELAYS: [Duration; 3] =
    [Duration::from_secs(1), Duration::from_secs(2), Duration::from_secs(4)];

/// Feed `events` (from the hub) to the companies' modules until the hub stops.
pub async fn run(app: App, mut events: mpsc::Receiver<CallStateEvent>) {
    let mut workers: HashMap<String, mpsc::Sender<CallStateEvent>> = HashMap::new();
    while let Some(event) = events.recv().await {
        let company = event.company.clone();
        let worker = workers.entry(company.clone()).or_insert_with(|| {
            let (sender, receiver) = mpsc::channel(QUEUE_PER_COMPANY);
            tokio::spawn(company_worker(app.clone(), company.clone(), receiver));
            sender
        });
        if let Err(mpsc::error::TrySendError::Full(event)) = worker.try_send(event) {
            tracing::warn!(%company, call = %event.call_id, "call-events module too far behind; event dropped");
        }
    }
}

async fn company_worker(app: App, company: String, mut events: mpsc::Receiver<CallStateEvent>) {
    while let Some(event) = events.recv().await {
        let Some((owner, settings)) = settings_of(&app, &company) else { continue };
        if !wants_events(&settings) {
            continue;
        }
        for attempt in 0..=RETRY_DELAYS.len() {
            let (app, owner, settings, event) = (app.clone(), owner.clone(), settings.clone(), event.clone());
            let delivered =
                tokio::task::spawn_blocking(move || tell(&app, &owner, &settings, &event, attempt))
                    .await
                    .unwrap_or(false);
            match RETRY_DELAYS.get(attempt) {
                Some(delay) if !delivered => tokio::time::sleep(*delay).await,
                _ => break,
            }
        }
    }
}

/// The standard module does something with events only when it has webhooks to post to.
fn wants_events(settings: &CallEventsSettings) -> bool {
    settings.module != DEFAULT_MODULE || settings.config.get("webhooks").is_some()
}

/// Tell the module of `event`; whether it took it. The last failure is audited.
fn tell(
    app: &App,
    company: &Company,
    settings: &CallEventsSettings,
    event: &CallStateEvent,
    attempt: usize,
) -> bool {
    let module = match app.sandbox.resolve(&app.store, &company.id, &settings.module) {
        Ok(module) => with_standard_grants(module, &settings.config),
        Err(error) => {
            tracing::warn!(company = %company.id, module = %settings.module, %error, "call-events module unavailable; event not told");
            return true;
        }
    };
    let mut scope = decision_scope(company, &module);
    scope.limits.deadline = scope.limits.deadline.max(MIN_CALL_EVENTS_DEADLINE);
    let outcome = app.sandbox.on_event(&module.loaded, scope, event, &settings.config);
    let Err(error) = outcome.answer else {
        app.counters.record(&company.id, &settings.module, None);
        return true;
    };
    let failure = error.to_string();
    let last = attempt == RETRY_DELAYS.len();
    tracing::warn!(company = %company.id, call = %event.call_id, module = %settings.module, %failure, attempt, last, "call-events module failed on an event");
    if last {
        let what = format!("on the {:?} event of call {}, given up", event.event, event.call_id);
        record_module_failure(app, company, settings, module.version, &failure, &what);
    } else {
        app.counters.record(&company.id, &settings.module, Some(failure));
    }
    false
}
