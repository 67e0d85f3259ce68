//! Call-state events for CTI (SPEC.md §12): what each user's calls are doing, pushed as it
//! happens to the company's WebSocket clients (a CRM plug-in, a browser panel), and the
//! active calls a client asks for when it (re)connects.
//!
//! - The call task reports through its [`CallReporter`] ([`reporter`]): the hub keeps the
//!   call's current state ([`ActiveCall`]) and publishes each event on the company's
//!   channel and on the channel of the user it concerns. Publishing never waits: a client that falls behind loses events and is told
//!   how many ([`tokio::sync::broadcast`]'s lag).
//! - Commands (hang up, hold, ...) reach the call task through the hub ([`control`]); the
//!   task answers with the state they led to.
//!
//! Every event concerns one user (extension): a call between two extensions gives each its
//! own Connected and Hung up. A per-user client sees its user's; a company client all.

pub mod cluster;
pub mod control;
pub mod reporter;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};
use utoipa::ToSchema;

use crate::routing::call::Direction;
use crate::sync::lock;
pub use control::{CallCommand, ClickToDial, Control, ControlError};
pub use reporter::CallReporter;

/// Events a company's channel holds for clients that have not read them yet; a client
/// further behind is told it lagged.
pub const CHANNEL_CAPACITY: usize = 4096;
/// The same for a user's channel: one user's calls make few events, and a channel's
/// slots are allocated up front for each user with a client.
pub const USER_CHANNEL_CAPACITY: usize = 256;

/// What happened to a call (SPEC.md §12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The user's device placed a call.
    Dialing,
    /// The user's devices ring with an incoming call.
    Ringing,
    /// The call was answered.
    Connected,
    /// The call was put on hold.
    Held,
    /// The call was taken off hold.
    Resumed,
    /// A transfer was asked for and is being set up.
    TransferPending,
    /// The user consults the target of an attended transfer.
    Consulting,
    /// The call went to another party.
    Transferred,
    /// The call ended for the user.
    HungUp,
}

/// A CRM contact matched to the caller by the company's call-events module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Contact {
    pub id: String,
    pub name: String,
    pub organisation: Option<String>,
    pub url: Option<String>,
}

/// One call-state event, as clients receive it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CallStateEvent {
    /// What happened.
    pub event: EventKind,
    /// The call (the caller's SIP Call-ID).
    pub call_id: String,
    pub company: String,
    /// The extension the event concerns.
    pub user: String,
    /// The calling number and, when known, name.
    pub caller: String,
    pub caller_name: Option<String>,
    /// The number called.
    pub called: String,
    pub direction: Direction,
    /// When it happened, ms since the Unix epoch.
    pub at_ms: i64,
    /// Why the call ended (Hung up only): "normal", "busy", "no-answer", ...
    pub cause: Option<String>,
    /// The caller as a CRM contact, when the company's module found one.
    pub contact: Option<Contact>,
}

/// An event as published: the event and its JSON message for WebSocket clients
/// (`{"type": "event", ...}`), written once for every client.
#[derive(Debug)]
pub struct Published {
    pub event: CallStateEvent,
    /// UTF-8 JSON; shared by every client without a copy.
    pub message: bytes::Bytes,
}

/// The message a client receives for an event.
#[derive(Serialize)]
struct EventMessage<'a> {
    r#type: &'static str,
    #[serde(flatten)]
    event: &'a CallStateEvent,
}

/// Where a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    /// Placed, nothing ringing yet.
    Dialing,
    /// A device rings.
    Ringing,
    /// Answered.
    Connected,
    /// Answered and on hold.
    Held,
    /// Answered; a user consults another party (attended transfer) while the other waits
    /// on hold.
    Consulting,
}

/// A call in progress, as the API lists it and a reconnecting client receives it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActiveCall {
    pub call_id: String,
    pub company: String,
    pub caller: String,
    pub caller_name: Option<String>,
    pub called: String,
    pub direction: Direction,
    pub state: CallState,
    /// The extensions the call concerns (the calling user, the rung or answering ones).
    pub users: Vec<String>,
    /// The user who put the call on hold, while it is.
    pub held_by: Option<String>,
    pub started_ms: i64,
    pub answered_ms: Option<i64>,
    pub contact: Option<Contact>,
    /// The extension being consulted for an attended transfer, while it is.
    pub consulting: Option<String>,
}

/// Which calls a client may see and control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every call of the company.
    Company,
    /// The calls of one extension.
    User(String),
}

impl Scope {
    pub fn sees_event(&self, event: &CallStateEvent) -> bool {
        match self {
            Scope::Company => true,
            Scope::User(user) => &event.user == user,
        }
    }

    pub fn sees_call(&self, call: &ActiveCall) -> bool {
        match self {
            Scope::Company => true,
            Scope::User(user) => call.users.contains(user),
        }
    }
}

/// A channel's company and, for a user's channel, its user.
type ChannelKey = (String, Option<String>);

fn channel_key(company: &str, scope: &Scope) -> ChannelKey {
    let user = match scope {
        Scope::Company => None,
        Scope::User(user) => Some(user.clone()),
    };
    (company.to_string(), user)
}

/// A call in the registry: its state and the way to its task.
struct Entry {
    call: ActiveCall,
    control: mpsc::UnboundedSender<Control>,
}

/// The host's call-state events: one channel per company, and the active calls.
#[derive(Default)]
pub struct EventHub {
    /// By (company, user): a company-wide channel (no user) and one per user with clients.
    channels: Mutex<HashMap<ChannelKey, broadcast::Sender<Arc<Published>>>>,
    /// By (company, call id): two companies' calls never meet, even on equal Call-IDs.
    calls: Mutex<HashMap<(String, String), Entry>>,
    /// Where every event also goes: the companies' call-events modules (webhooks).
    observer: OnceLock<mpsc::Sender<CallStateEvent>>,
    /// Where click-to-dial requests go: the call engine.
    dialer: OnceLock<mpsc::UnboundedSender<ClickToDial>>,
    /// Where every event also goes when other hosts share the store: to their clients.
    other_hosts: OnceLock<mpsc::UnboundedSender<CallStateEvent>>,
}

/// Events waiting for the call-events modules' feed; more are dropped (logged).
pub const OBSERVER_CAPACITY: usize = 8192;

impl EventHub {
    /// The events `scope` sees in `company` from now on: a company client's channel
    /// carries all of them, a user client's only that user's (so an event wakes only the
    /// clients it is for, however many other users' panels are connected).
    pub fn subscribe(&self, company: &str, scope: &Scope) -> broadcast::Receiver<Arc<Published>> {
        let mut channels = lock(&self.channels);
        let capacity = match scope {
            Scope::Company => CHANNEL_CAPACITY,
            Scope::User(_) => USER_CHANNEL_CAPACITY,
        };
        channels
            .entry(channel_key(company, scope))
            .or_insert_with(|| broadcast::channel(capacity).0)
            .subscribe()
    }

    /// Whether any client of any company listens.
    pub fn has_listeners(&self) -> bool {
        lock(&self.channels).values().any(|channel| channel.receiver_count() > 0)
    }

    /// How many clients listen to `company`'s events, company-wide or a user's.
    pub fn listeners(&self, company: &str) -> usize {
        let channels = lock(&self.channels);
        channels.iter().filter(|((owner, _), _)| owner == company).map(|(_, c)| c.receiver_count()).sum()
    }

    /// Every event from now on, also those of companies without clients, on a queue of
    /// [`OBSERVER_CAPACITY`] (a full queue drops events: publishing never waits). One
    /// observer per hub; `None` when there is one already.
    pub fn observe(&self) -> Option<mpsc::Receiver<CallStateEvent>> {
        let (sender, receiver) = mpsc::channel(OBSERVER_CAPACITY);
        self.observer.set(sender).ok().map(|()| receiver)
    }

    /// Every event of this host from now on, for the other hosts of a cluster (which
    /// deliver them with [`EventHub::deliver_from_another_host`]). One taker; `None` after.
    pub fn share_with_other_hosts(&self) -> Option<mpsc::UnboundedReceiver<CallStateEvent>> {
        let (sender, receiver) = mpsc::unbounded_channel();
        self.other_hosts.set(sender).ok().map(|()| receiver)
    }

    /// An event of a call on another host: to this host's clients only (the other host
    /// ran its call-events modules and keeps the call's state).
    pub fn deliver_from_another_host(&self, event: CallStateEvent) {
        self.deliver(event);
    }

    fn publish(&self, event: CallStateEvent) {
        if let Some(other_hosts) = self.other_hosts.get() {
            // Fails only when the relay stopped (shutting down).
            let _ = other_hosts.send(event.clone());
        }
        if let Some(observer) = self.observer.get()
            && let Err(mpsc::error::TrySendError::Full(event)) = observer.try_send(event.clone())
        {
            tracing::warn!(company = %event.company, call = %event.call_id, "event feed full; the module is not told of this event");
        }
        self.deliver(event);
    }

    /// To the clients of this host that see `event`.
    fn deliver(&self, event: CallStateEvent) {
        let mut channels = lock(&self.channels);
        let keys = [
            channel_key(&event.company, &Scope::Company),
            channel_key(&event.company, &Scope::User(event.user.clone())),
        ];
        let mut listened = Vec::new();
        for key in keys {
            match channels.get(&key) {
                Some(channel) if channel.receiver_count() > 0 => listened.push(channel.clone()),
                Some(_) => {
                    channels.remove(&key);
                }
                None => {}
            }
        }
        if listened.is_empty() {
            return;
        }
        let message = serde_json::to_string(&EventMessage { r#type: "event", event: &event })
            // A struct of strings and numbers always serialises.
            .expect("event serialises");
        let published = Arc::new(Published { event, message: message.into() });
        for channel in listened {
            // Fails only without receivers, just checked under the lock.
            let _ = channel.send(Arc::clone(&published));
        }
    }

    /// The company's calls in progress that `scope` sees, oldest first.
    pub fn active_calls(&self, company: &str, scope: &Scope) -> Vec<ActiveCall> {
        let mut calls: Vec<ActiveCall> = lock(&self.calls)
            .iter()
            .filter(|((owner, _), entry)| owner == company && scope.sees_call(&entry.call))
            .map(|(_, entry)| entry.call.clone())
            .collect();
        calls.sort_by(|a, b| a.started_ms.cmp(&b.started_ms).then_with(|| a.call_id.cmp(&b.call_id)));
        calls
    }

    /// One call in progress; `NoSuchCall` for another company's and `NotYours` for a call
    /// `scope` does not see.
    pub fn active_call(
        &self,
        company: &str,
        call_id: &str,
        scope: &Scope,
    ) -> Result<ActiveCall, ControlError> {
        self.with_entry(company, call_id, scope, |entry| entry.call.clone())
    }

    /// `what` of `company`'s call `call_id`, once `scope` may see it.
    fn with_entry<T>(
        &self,
        company: &str,
        call_id: &str,
        scope: &Scope,
        what: impl FnOnce(&Entry) -> T,
    ) -> Result<T, ControlError> {
        let calls = lock(&self.calls);
        let entry = calls.get(&(company.to_string(), call_id.to_string())).ok_or(ControlError::NoSuchCall)?;
        if !scope.sees_call(&entry.call) {
            return Err(ControlError::NotYours);
        }
        Ok(what(entry))
    }

    fn register(&self, call: ActiveCall, control: mpsc::UnboundedSender<Control>) {
        let key = (call.company.clone(), call.call_id.clone());
        lock(&self.calls).insert(key, Entry { call, control });
    }

    fn update(&self, call: &ActiveCall) {
        if let Some(entry) = lock(&self.calls).get_mut(&(call.company.clone(), call.call_id.clone())) {
            entry.call = call.clone();
        }
    }

    fn forget(&self, company: &str, call_id: &str) {
        lock(&self.calls).remove(&(company.to_string(), call_id.to_string()));
    }

    /// Where to send `company`'s call `call_id` a command, once `scope` may.
    fn control_of(
        &self,
        company: &str,
        call_id: &str,
        scope: &Scope,
    ) -> Result<mpsc::UnboundedSender<Control>, ControlError> {
        self.with_entry(company, call_id, scope, |entry| entry.control.clone())
    }
}

#[cfg(test)]
mod tests;
