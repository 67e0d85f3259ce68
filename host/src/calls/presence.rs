//! Which extensions are in a call right now, and which queue agents are resting after a
//! queue call (their wrap-up time): what a queue's strategy sees as an agent's state.
//! In memory only: after a restart no call is up and nobody rests. With other hosts on
//! the store, [`cluster`] adds what their calls do.

pub mod cluster;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::routing::queue::AgentState;
use crate::store::company_key;
use crate::store::records::ExtensionActivity;
use crate::sync::lock;

/// Calls and rests of every extension of every company.
#[derive(Debug, Default)]
pub struct Presence {
    activity: Mutex<HashMap<String, Activity>>,
    /// What the other hosts of a cluster report, merged, by `company NUL extension`.
    elsewhere: Mutex<HashMap<String, ExtensionActivity>>,
}

#[derive(Debug, Default)]
struct Activity {
    /// Connected calls the extension is a party of.
    calls: u32,
    /// The end of its wrap-up time after a queue call, on this host's monotonic clock
    /// and (for the other hosts) on the wall clock.
    resting_until: Option<(Instant, DateTime<Utc>)>,
}

impl Activity {
    fn resting(&self) -> bool {
        self.resting_until.is_some_and(|(until, _)| until > Instant::now())
    }
}

/// An extension's part in one connected call; the call ends (for presence) when dropped.
#[derive(Debug)]
pub struct InCall {
    presence: Arc<Presence>,
    key: String,
}

impl Presence {
    /// `extension` of `company` is a party of a connected call until the guard drops.
    pub fn enter_call(self: &Arc<Self>, company: &str, extension: &str) -> InCall {
        let key = company_key(company, extension);
        lock(&self.activity).entry(key.clone()).or_default().calls += 1;
        InCall { presence: self.clone(), key }
    }

    /// `extension` of `company` rests for `wrap_up` from now (a queue's wrap-up time).
    pub fn rest(&self, company: &str, extension: &str, wrap_up: Duration) {
        let wall = Utc::now() + chrono::Duration::from_std(wrap_up).unwrap_or(chrono::Duration::MAX);
        lock(&self.activity).entry(company_key(company, extension)).or_default().resting_until =
            Some((Instant::now() + wrap_up, wall));
    }

    /// What `extension` is doing, given whether any of its devices is registered: in a
    /// call or resting on this host or on another one, else available.
    pub fn state(&self, company: &str, extension: &str, registered: bool) -> AgentState {
        if !registered {
            return AgentState::Unavailable;
        }
        let key = company_key(company, extension);
        let (mut in_call, mut resting) = match lock(&self.activity).get(&key) {
            Some(activity) => (activity.calls > 0, activity.resting()),
            None => (false, false),
        };
        if let Some(elsewhere) = lock(&self.elsewhere).get(&key) {
            in_call |= elsewhere.in_call;
            resting |= elsewhere.resting_until.is_some_and(|until| until > Utc::now());
        }
        match (in_call, resting) {
            (true, _) => AgentState::InCall,
            (false, true) => AgentState::WrapUp,
            (false, false) => AgentState::Available,
        }
    }

    /// What this host's extensions do, for the other hosts: those in a call or resting.
    pub fn report(&self) -> BTreeMap<String, ExtensionActivity> {
        lock(&self.activity)
            .iter()
            .filter(|(_, activity)| activity.calls > 0 || activity.resting())
            .map(|(key, activity)| {
                let resting_until =
                    activity.resting_until.filter(|_| activity.resting()).map(|(_, wall)| wall);
                (key.clone(), ExtensionActivity { in_call: activity.calls > 0, resting_until })
            })
            .collect()
    }

    /// What the other hosts' extensions do now (replacing what they reported before).
    pub fn heard_elsewhere(&self, extensions: HashMap<String, ExtensionActivity>) {
        *lock(&self.elsewhere) = extensions;
    }
}

impl Drop for InCall {
    fn drop(&mut self) {
        let mut activity = lock(&self.presence.activity);
        if let Some(entry) = activity.get_mut(&self.key) {
            entry.calls = entry.calls.saturating_sub(1);
            if entry.calls == 0 && !entry.resting() {
                activity.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
        presence.rest("acme", "101", Duration::from_secs(60));
        assert_eq!(presence.state("acme", "101", true), AgentState::WrapUp);
        assert_eq!(presence.state("acme", "101", false), AgentState::Unavailable);
        presence.rest("acme", "101", Duration::ZERO);
        assert_eq!(presence.state("acme", "101", true), AgentState::Available);
    }

    #[test]
    fn what_other_hosts_report_adds_to_what_this_host_knows() {
        let (here, there) = (Arc::new(Presence::default()), Arc::new(Presence::default()));
        let _call = there.enter_call("acme", "101");
        there.rest("acme", "102", Duration::from_secs(60));
        there.rest("acme", "103", Duration::ZERO);
        let report = there.report();
        assert_eq!(report.len(), 2, "only the busy and the resting: {report:?}");
        here.heard_elsewhere(report.into_iter().collect());
        assert_eq!(here.state("acme", "101", true), AgentState::InCall);
        assert_eq!(here.state("acme", "102", true), AgentState::WrapUp);
        assert_eq!(here.state("acme", "103", true), AgentState::Available);
        let _local = here.enter_call("acme", "102");
        assert_eq!(here.state("acme", "102", true), AgentState::InCall, "a call here beats a rest there");
        here.heard_elsewhere(HashMap::new());
        assert_eq!(here.state("acme", "101", true), AgentState::Available, "the report replaces the last");
    }
}
