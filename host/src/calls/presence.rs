//! Which extensions are in a call right now, and which queue agents are resting after a
//! queue call (their wrap-up time): what a queue's strategy sees as an agent's state.
//! In memory only: after a restart no call is up and nobody rests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crate::routing::queue::AgentState;
use crate::store::company_key;

/// Calls and rests of every extension of every company.
#[derive(Debug, Default)]
pub struct Presence {
    activity: Mutex<HashMap<String, Activity>>,
}

#[derive(Debug, Default)]
struct Activity {
    /// Connected calls the extension is a party of.
    calls: u32,
    /// The end of its wrap-up time after a queue call.
    resting_until: Option<Instant>,
}

/// An extension's part in one connected call; the call ends (for presence) when dropped.
#[derive(Debug)]
pub struct InCall {
    presence: Arc<Presence>,
    key: String,
}

impl Presence {
    fn activity(&self) -> MutexGuard<'_, HashMap<String, Activity>> {
        // A panic while holding the lock left only counters behind: keep using them.
        self.activity.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `extension` of `company` is a party of a connected call until the guard drops.
    pub fn enter_call(self: &Arc<Self>, company: &str, extension: &str) -> InCall {
        let key = company_key(company, extension);
        self.activity().entry(key.clone()).or_default().calls += 1;
        InCall { presence: self.clone(), key }
    }

    /// `extension` of `company` rests until `until` (a queue's wrap-up time).
    pub fn rest(&self, company: &str, extension: &str, until: Instant) {
        self.activity().entry(company_key(company, extension)).or_default().resting_until = Some(until);
    }

    /// What `extension` is doing, given whether any of its devices is registered.
    pub fn state(&self, company: &str, extension: &str, registered: bool) -> AgentState {
        if !registered {
            return AgentState::Unavailable;
        }
        let activity = self.activity();
        match activity.get(&company_key(company, extension)) {
            Some(activity) if activity.calls > 0 => AgentState::InCall,
            Some(Activity { resting_until: Some(until), .. }) if *until > Instant::now() => {
                AgentState::WrapUp
            }
            _ => AgentState::Available,
        }
    }
}

impl Drop for InCall {
    fn drop(&mut self) {
        let mut activity = self.presence.activity();
        if let Some(entry) = activity.get_mut(&self.key) {
            entry.calls = entry.calls.saturating_sub(1);
            if entry.calls == 0 && entry.resting_until.is_none_or(|until| until <= Instant::now()) {
                activity.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn an_extension_is_in_call_while_any_of_its_calls_is_up() {
        let presence = Arc::new(Presence::default());
        assert_eq!(presence.state("acme", "101", true), AgentState::Available);
        let first = presence.enter_call("acme", "101");
        let second = presence.enter_call("acme", "101");
        assert_eq!(presence.state("acme", "101", true), AgentState::InCall);
        assert_eq!(presence.state("globex", "101", true), AgentState::Available, "companies apart");
        drop(first);
        assert_eq!(presence.state("acme", "101", true), AgentState::InCall);
        drop(second);
        assert_eq!(presence.state("acme", "101", true), AgentState::Available);
    }

    #[test]
    fn a_resting_agent_is_in_wrap_up_until_the_time_passes_and_unregistered_is_unavailable() {
        let presence = Presence::default();
        presence.rest("acme", "101", Instant::now() + Duration::from_secs(60));
        assert_eq!(presence.state("acme", "101", true), AgentState::WrapUp);
        assert_eq!(presence.state("acme", "101", false), AgentState::Unavailable);
        presence.rest("acme", "101", Instant::now() - Duration::from_secs(1));
        assert_eq!(presence.state("acme", "101", true), AgentState::Available);
    }
}
