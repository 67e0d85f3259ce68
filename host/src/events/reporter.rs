//! What a call task tells the hub: one [`CallReporter`] per call keeps the call's
//! [`ActiveCall`] up to date and publishes an event per user concerned at each change.
//! Dropping it ends the call for every user who heard of it (a task that ended without
//! saying why still leaves no call behind in the registry).

use std::sync::Arc;

use tokio::sync::mpsc;

use super::{ActiveCall, CallState, CallStateEvent, Contact, Control, EventHub, EventKind};
use crate::routing::call::Direction;

/// The call task's side of the hub.
pub struct CallReporter {
    hub: Arc<EventHub>,
    call: ActiveCall,
    /// The users whose devices rang, each told once.
    rung: Vec<String>,
    ended: bool,
}

/// Milliseconds since the Unix epoch, now.
fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl CallReporter {
    /// Register a new call; commands for it arrive on the receiver.
    pub fn open(
        hub: Arc<EventHub>,
        company: &str,
        call_id: &str,
        caller: &str,
        called: &str,
    ) -> (CallReporter, mpsc::UnboundedReceiver<Control>) {
        let call = ActiveCall {
            call_id: call_id.to_string(),
            company: company.to_string(),
            caller: caller.to_string(),
            caller_name: None,
            called: called.to_string(),
            direction: Direction::Internal,
            state: CallState::Dialing,
            users: Vec::new(),
            held_by: None,
            started_ms: now_ms(),
            answered_ms: None,
            contact: None,
            consulting: None,
        };
        let (control, commands) = mpsc::unbounded_channel();
        hub.register(call.clone(), control);
        (CallReporter { hub, call, rung: Vec::new(), ended: false }, commands)
    }

    /// The call as clients see it now.
    pub fn call(&self) -> &ActiveCall {
        &self.call
    }

    /// The call's parties as the routing found them (the caller's name, the direction).
    pub fn describe(&mut self, caller_name: Option<&str>, direction: Direction) {
        self.call.caller_name = caller_name.map(str::to_string);
        self.call.direction = direction;
        self.hub.update(&self.call);
    }

    /// The caller found as a CRM contact; later events carry it.
    pub fn identified(&mut self, contact: Contact) {
        self.call.contact = Some(contact);
        self.hub.update(&self.call);
    }

    /// `user`'s device placed the call.
    pub fn dialing(&mut self, user: &str) {
        self.concern(user);
        self.emit(EventKind::Dialing, user, None);
    }

    /// `user`'s devices ring (once per user and call: later provisional responses, or
    /// another round of a queue, say nothing new).
    pub fn ringing(&mut self, user: &str) {
        if self.rung.iter().any(|u| u == user) {
            return;
        }
        self.rung.push(user.to_string());
        self.concern(user);
        if self.call.state == CallState::Dialing {
            self.call.state = CallState::Ringing;
        }
        self.emit(EventKind::Ringing, user, None);
    }

    /// The call was answered by `answerer` (none: not by a user, e.g. an outside number);
    /// users who rang and did not answer hear that the call is over for them.
    pub fn connected(&mut self, caller: Option<&str>, answerer: Option<&str>) {
        let parties: Vec<&str> = caller.into_iter().chain(answerer).collect();
        let left: Vec<String> =
            self.call.users.iter().filter(|u| !parties.contains(&u.as_str())).cloned().collect();
        for user in &left {
            self.emit(EventKind::HungUp, user, Some("answered-elsewhere"));
        }
        self.call.users.retain(|u| parties.contains(&u.as_str()));
        for user in &parties {
            self.concern(user);
        }
        self.call.state = CallState::Connected;
        self.call.answered_ms = Some(now_ms());
        for user in parties {
            self.emit(EventKind::Connected, user, None);
        }
    }

    /// The call was put on hold by `by` (a user, or none: the other party's phone).
    pub fn held(&mut self, by: Option<&str>) {
        if self.call.state != CallState::Connected {
            return;
        }
        self.call.state = CallState::Held;
        self.call.held_by = by.map(str::to_string);
        self.emit_all(EventKind::Held, None);
    }

    /// The call was taken off hold.
    pub fn resumed(&mut self) {
        if self.call.state != CallState::Held {
            return;
        }
        self.call.state = CallState::Connected;
        self.call.held_by = None;
        self.emit_all(EventKind::Resumed, None);
    }

    /// A transfer was asked for: every user hears it is being set up.
    pub fn transfer_pending(&mut self) {
        self.emit_all(EventKind::TransferPending, None);
    }

    /// `by` consults `target` before transferring the call to it: the other party waits
    /// on hold. `target`'s Ringing follows when its devices ring.
    pub fn consulting(&mut self, by: &str, target: &str) {
        self.call.state = CallState::Consulting;
        self.call.held_by = Some(by.to_string());
        self.call.consulting = Some(target.to_string());
        self.emit_all(EventKind::Consulting, None);
    }

    /// The consulted `user` answered: it talks with the consulting user.
    pub fn consult_connected(&mut self, user: &str) {
        self.concern(user);
        self.emit(EventKind::Connected, user, None);
    }

    /// The consult with `target` ended without a transfer (`cause`): the call is back as
    /// it was, taken off hold.
    pub fn consult_ended(&mut self, target: &str, cause: &str) {
        self.call.consulting = None;
        self.rung.retain(|u| u != target);
        if self.call.users.iter().any(|u| u == target) {
            self.emit(EventKind::HungUp, target, Some(cause));
            self.call.users.retain(|u| u != target);
        }
        self.call.state = CallState::Held;
        self.resumed();
    }

    /// The consulted `target` took the place of `leaving` (a user, or none), who left: the
    /// remaining parties are connected.
    pub fn consult_completed(&mut self, leaving: Option<&str>, target: &str) {
        if let Some(leaving) = leaving {
            self.emit(EventKind::Transferred, leaving, None);
            self.call.users.retain(|u| u != leaving);
        }
        self.concern(target);
        self.call.consulting = None;
        self.call.held_by = None;
        self.call.state = CallState::Connected;
        self.emit_all(EventKind::Connected, None);
    }

    /// `user` handed the call on and left it.
    pub fn transferred(&mut self, user: &str) {
        self.emit(EventKind::Transferred, user, None);
        self.call.users.retain(|u| u != user);
        self.call.state = CallState::Ringing;
        self.call.held_by = None;
        self.hub.update(&self.call);
    }

    /// The call ended, for `cause`.
    pub fn hung_up(&mut self, cause: &str) {
        if self.ended {
            return;
        }
        self.ended = true;
        self.hub.forget(&self.call.company, &self.call.call_id);
        self.emit_all(EventKind::HungUp, Some(cause));
    }

    fn concern(&mut self, user: &str) {
        if !self.call.users.iter().any(|u| u == user) {
            self.call.users.push(user.to_string());
        }
    }

    fn emit_all(&mut self, kind: EventKind, cause: Option<&str>) {
        for user in self.call.users.clone() {
            self.emit(kind, &user, cause);
        }
    }

    fn emit(&mut self, kind: EventKind, user: &str, cause: Option<&str>) {
        if !self.ended {
            self.hub.update(&self.call);
        }
        let call = &self.call;
        self.hub.publish(CallStateEvent {
            event: kind,
            call_id: call.call_id.clone(),
            company: call.company.clone(),
            user: user.to_string(),
            caller: call.caller.clone(),
            caller_name: call.caller_name.clone(),
            called: call.called.clone(),
            direction: call.direction,
            at_ms: now_ms(),
            cause: cause.map(str::to_string),
            contact: call.contact.clone(),
        });
    }
}

impl Drop for CallReporter {
    fn drop(&mut self) {
        self.hung_up("ended");
    }
}
