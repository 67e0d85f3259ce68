//! Keeps one registration task per configured trunk: it re-reads the companies every few
//! seconds (or sooner when [`Trunks::changed`] is called) and starts a task for a new
//! trunk, stops the task of a removed one, and replaces the task of a changed one. Polling
//! needs nothing from the companies API and reading every company is cheap (one table
//! scan); a stopped task removes its binding in the background. In a cluster each trunk is
//! registered by one host ([`super::ownership`]); the others show who does. The trunks are
//! dealt again at once when a host comes or goes, and a host that does not know the live
//! hosts (starting, or cut off from the store) registers none. Behind a front whose
//! address every host names as Contact (`--sip-front`), a task whose trunk another host
//! took over leaves the binding: it is that host's too.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::Settings;
use super::ownership;
use super::runner::{Job, registration, run};
use super::status::{TrunkKey, TrunkSlot, TrunkState, TrunkStatus, Trunks};
use crate::calls::LiveHosts;
use crate::sip::endpoint::tu::Command;
use crate::store::records::{Company, TrunkProvider};
use crate::store::{COMPANIES, Read, Store};

/// A running registration task.
struct Running {
    account: TrunkProvider,
    generation: u64,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
    /// Told to the task before its stop: see [`Job::keep_binding`].
    keep_binding: Arc<AtomicBool>,
}

/// The trunks `companies` configure to be registered, by company and slot.
pub fn configured(companies: &[Company]) -> HashMap<TrunkKey, TrunkProvider> {
    let mut trunks = HashMap::new();
    for company in companies {
        for (slot, trunk) in
            [(TrunkSlot::Primary, &company.trunk), (TrunkSlot::Secondary, &company.secondary_trunk)]
        {
            if let Some(trunk) = trunk.as_ref().filter(|trunk| trunk.register) {
                trunks.insert((company.id.clone(), slot), trunk.clone());
            }
        }
    }
    trunks
}

/// The supervisor's loop; runs until `shutdown` resolves, then stops every task (which
/// un-registers its trunk, unless the hosts share the front's Contact: the others take
/// the trunks over) and returns once they ended or [`SHUTDOWN_WAIT`] passed.
pub(super) async fn supervise(
    trunks: Arc<Trunks>,
    store: Store,
    mut hosts: LiveHosts,
    commands: UnboundedSender<Command>,
    local: SocketAddr,
    settings: Settings,
    shutdown: impl Future<Output = ()>,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    let mut supervisor = Supervisor::new(trunks.clone(), commands, local, settings);
    if store.is_shared() {
        trunks.set_this_host(store.host_id());
    }
    loop {
        let live = hosts.now();
        // Not knowing the live hosts, or cut off from them: they register this host's share.
        let cut_off = store.is_shared() && live.is_none();
        let wanted = store.read(|r| r.scan(&COMPANIES, "")).map(|companies| configured(&companies));
        match wanted.map(|configured| ours(&store, &trunks, live, configured)) {
            Ok(Ours { mine, elsewhere }) => {
                supervisor.reconcile(mine, |key, account| elsewhere.get(key) == Some(account))
            }
            Err(_) if cut_off => supervisor.reconcile(HashMap::new(), |_, _| true),
            Err(error) => {
                tracing::error!(%error, "cannot read the companies' trunks; registrations kept as they are")
            }
        }
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            _ = tokio::time::sleep(settings.poll_every) => {}
            _ = trunks.wake.notified() => {}
            _ = hosts.changed() => {}
        }
    }
    // A stopping host's trunks: the others register them within seconds; with a Contact
    // of its own, the provider would ring this host until the binding expired.
    supervisor.reconcile(HashMap::new(), |_, _| store.is_shared());
    let all_ended = async {
        for task in supervisor.stopping.into_values() {
            let _ = task.await;
        }
    };
    if tokio::time::timeout(SHUTDOWN_WAIT, all_ended).await.is_err() {
        tracing::warn!("some trunks' un-REGISTER went unanswered before the host stopped");
    }
}

/// The longest a stopping host waits for its trunks' un-REGISTERs to be answered.
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(2);

/// The configured trunks this host registers, and those other hosts do.
struct Ours {
    mine: HashMap<TrunkKey, TrunkProvider>,
    elsewhere: HashMap<TrunkKey, TrunkProvider>,
}

/// Of the `configured` trunks, those this host registers: every one on a single host; in a
/// cluster those it owns among the live `hosts` ([`ownership`]), the others noted in
/// `trunks` as registered by their owner; none while the live hosts are not known yet
/// (they are all taken as registered elsewhere).
fn ours(
    store: &Store,
    trunks: &Trunks,
    hosts: Option<Vec<String>>,
    configured: HashMap<TrunkKey, TrunkProvider>,
) -> Ours {
    if !store.is_shared() {
        return Ours { mine: configured, elsewhere: HashMap::new() };
    }
    // Registering every trunk until the other hosts are known would register them twice.
    let Some(hosts) = hosts else {
        return Ours { mine: HashMap::new(), elsewhere: configured };
    };
    let (mut mine, mut elsewhere, mut statuses) = (HashMap::new(), HashMap::new(), HashMap::new());
    for (key, account) in configured {
        match ownership::owner(&key, &hosts) {
            Some(host) if host != store.host_id() => {
                let status = TrunkStatus {
                    host: Some(host.to_string()),
                    ..TrunkStatus::without_task(key.1, &account, TrunkState::OnAnotherHost)
                };
                statuses.insert(key.clone(), status);
                elsewhere.insert(key, account);
            }
            _ => {
                mine.insert(key, account);
            }
        }
    }
    trunks.set_elsewhere(statuses);
    Ours { mine, elsewhere }
}

/// The registration tasks, running and stopping.
struct Supervisor {
    trunks: Arc<Trunks>,
    commands: UnboundedSender<Command>,
    local: SocketAddr,
    settings: Settings,
    running: HashMap<TrunkKey, Running>,
    /// Tasks told to stop, still sending their un-REGISTER. A changed trunk's new task
    /// waits for its predecessor: both use the same Contact, and an un-REGISTER arriving
    /// after the new REGISTER would remove the new binding.
    stopping: HashMap<TrunkKey, JoinHandle<()>>,
}

impl Supervisor {
    fn new(
        trunks: Arc<Trunks>,
        commands: UnboundedSender<Command>,
        local: SocketAddr,
        settings: Settings,
    ) -> Supervisor {
        Supervisor { trunks, commands, local, settings, running: HashMap::new(), stopping: HashMap::new() }
    }

    /// Make the running tasks match `wanted`. A trunk `elsewhere` (with the same account)
    /// is registered by another host now; when the hosts share the Contact (the front's),
    /// its binding is that host's too, and the stopped task leaves it.
    fn reconcile(
        &mut self,
        mut wanted: HashMap<TrunkKey, TrunkProvider>,
        elsewhere: impl Fn(&TrunkKey, &TrunkProvider) -> bool,
    ) {
        self.stopping.retain(|_, task| !task.is_finished());
        let stale: Vec<TrunkKey> = self
            .running
            .iter()
            .filter(|(key, task)| {
                // A task that ended by itself (the endpoint is gone, or a bug) is restarted.
                wanted.get(*key) != Some(&task.account) || task.task.is_finished()
            })
            .map(|(key, _)| key.clone())
            .collect();
        for key in stale {
            if let Some(task) = self.running.remove(&key) {
                let domain = &task.account.domain;
                tracing::info!(company = %key.0, trunk = ?key.1, %domain, "trunk removed, changed or now registered by another host");
                self.trunks.release(&key, task.generation);
                let shared_contact = self.settings.contact.is_some();
                task.keep_binding.store(shared_contact && elsewhere(&key, &task.account), Ordering::Relaxed);
                // The task un-registers (unless told to keep the binding) and ends by itself.
                let _ = task.stop.send(());
                self.stopping.insert(key, task.task);
            }
        }
        for (key, account) in wanted.drain() {
            // Not yet: the predecessor is still un-registering (a later poll starts it).
            if self.running.contains_key(&key) || self.stopping.contains_key(&key) {
                continue;
            }
            self.start(key, account);
        }
    }

    fn start(&mut self, key: TrunkKey, account: TrunkProvider) {
        tracing::info!(company = %key.0, trunk = ?key.1, domain = %account.domain, "registering a trunk");
        let (local, settings) = (self.local, self.settings);
        let first = registration(&account, key.1, local, &settings)
            .status(std::time::Instant::now(), chrono::Utc::now());
        let generation = self.trunks.claim(key.clone(), first);
        let (stop, stopped) = oneshot::channel();
        let keep_binding = Arc::new(AtomicBool::new(false));
        let job = Job {
            key: key.clone(),
            account: account.clone(),
            local,
            settings,
            commands: self.commands.clone(),
            trunks: self.trunks.clone(),
            generation,
            keep_binding: keep_binding.clone(),
        };
        let task = tokio::spawn(run(job, stopped));
        self.running.insert(key, Running { account, generation, stop, task, keep_binding });
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn company(id: &str, trunk: Option<&str>, secondary: Option<&str>) -> Company {
        let account = |domain: &str| TrunkProvider {
            username: format!("{id}-trunk"),
            password: "pw".into(),
            domain: domain.into(),
            outbound_proxy: None,
            register: true,
        };
        Company {
            id: id.into(),
            name: id.into(),
            max_extensions: 10,
            time_zone: "UTC".into(),
            sip_domain: format!("{id}.example"),
            trunk: trunk.map(account),
            secondary_trunk: secondary.map(account),
            decision_deadline_ms: 10,
            decision_memory_mib: 16,
            permissions_module: "permissions".into(),
            permissions_config: serde_json::json!({}),
            recording_retention_days: None,
            recording_quota_mb: None,
            dialling: Default::default(),
            created_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn every_configured_trunk_of_every_company_is_wanted_by_company_and_slot_unless_not_to_be_registered() {
        let wanted = configured(&[
            company("acme", Some("192.0.2.1"), Some("192.0.2.2")),
            company("bare", None, None),
            company("solo", None, Some("192.0.2.3")),
        ]);
        let mut keys: Vec<&TrunkKey> = wanted.keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                &("acme".to_string(), TrunkSlot::Primary),
                &("acme".to_string(), TrunkSlot::Secondary),
                &("solo".to_string(), TrunkSlot::Secondary)
            ]
        );
        assert_eq!(wanted[&("acme".to_string(), TrunkSlot::Secondary)].domain, "192.0.2.2");

        // An IP-authenticated trunk is not registered.
        let mut by_address = company("ipauth", Some("192.0.2.4"), None);
        if let Some(trunk) = by_address.trunk.as_mut() {
            trunk.register = false;
        }
        assert!(configured(&[by_address]).is_empty());
    }

    #[tokio::test]
    async fn a_changed_trunk_is_registered_anew_once_its_predecessor_unregistered() {
        let trunks = Arc::new(Trunks::default());
        let (commands, mut sent) = tokio::sync::mpsc::unbounded_channel();
        let settings = Settings { unregister_wait: Duration::from_millis(20), ..Settings::default() };
        let mut supervisor =
            Supervisor::new(trunks.clone(), commands, "127.0.0.1:5060".parse().unwrap(), settings);
        let key = ("acme".to_string(), TrunkSlot::Primary);
        let domain = |trunks: &Trunks| trunks.get("acme", TrunkSlot::Primary).map(|status| status.domain);

        supervisor.reconcile(configured(&[company("acme", Some("192.0.2.1"), None)]), |_, _| false);
        let Some(Command::Send { request, .. }) = sent.recv().await else {
            panic!("the new trunk registers")
        };
        assert_eq!(request.dest, "192.0.2.1:5060".parse::<std::net::SocketAddr>().unwrap());
        assert_eq!(domain(&trunks).as_deref(), Some("192.0.2.1"));

        let changed = configured(&[company("acme", Some("192.0.2.9"), None)]);
        supervisor.reconcile(changed.clone(), |_, _| false);
        // Its REGISTER was in flight: the old task un-registers (unanswered here) first.
        let Some(Command::Send { request, .. }) = sent.recv().await else { panic!("an un-REGISTER") };
        assert!(String::from_utf8_lossy(&request.bytes).contains("Expires: 0"));
        assert!(!supervisor.running.contains_key(&key), "the new task waits for the old one");
        assert_eq!(domain(&trunks), None);
        assert!(matches!(sent.recv().await, Some(Command::Finished { .. })), "the old task ends");
        while supervisor.stopping.values().any(|task| !task.is_finished()) {
            tokio::task::yield_now().await;
        }
        supervisor.reconcile(changed, |_, _| false);
        let Some(Command::Send { request, .. }) = sent.recv().await else {
            panic!("the changed trunk registers")
        };
        assert_eq!(request.dest, "192.0.2.9:5060".parse::<std::net::SocketAddr>().unwrap());
        assert_eq!(domain(&trunks).as_deref(), Some("192.0.2.9"));

        supervisor.reconcile(HashMap::new(), |_, _| false);
        assert!(supervisor.running.is_empty());
        assert_eq!(trunks.company("acme"), []);
    }

    #[tokio::test]
    async fn behind_a_front_a_trunk_names_it_and_one_handed_over_keeps_its_binding_one_removed_does_not() {
        let front: std::net::SocketAddr = "192.0.2.80:5060".parse().unwrap();
        let settings = Settings {
            unregister_wait: Duration::from_millis(20),
            contact: Some(front),
            ..Settings::default()
        };
        let (commands, mut sent) = tokio::sync::mpsc::unbounded_channel();
        let local = "127.0.0.1:5060".parse().unwrap();
        let mut supervisor = Supervisor::new(Arc::new(Trunks::default()), commands, local, settings);
        let acme = configured(&[company("acme", Some("192.0.2.1"), None)]);
        let text = |command: Option<Command>| match command {
            Some(Command::Send { request, .. }) => String::from_utf8_lossy(&request.bytes).to_string(),
            other => panic!("a REGISTER, not {other:?}"),
        };

        supervisor.reconcile(acme.clone(), |_, _| false);
        let register = text(sent.recv().await);
        assert!(register.contains("Contact: <sip:acme-trunk@192.0.2.80:5060>"), "{register}");
        assert!(register.contains("Via: SIP/2.0/UDP 127.0.0.1:5060"), "sent from this host: {register}");

        // Another host took the trunk over, with the same Contact: no un-REGISTER.
        supervisor.reconcile(HashMap::new(), |_, _| true);
        let after = sent.recv().await;
        assert!(
            matches!(after, Some(Command::Finished { .. })),
            "the task ends without a request: {after:?}"
        );
        while supervisor.stopping.values().any(|task| !task.is_finished()) {
            tokio::task::yield_now().await;
        }

        // Removed from the company: the binding goes.
        supervisor.reconcile(acme, |_, _| false);
        text(sent.recv().await);
        supervisor.reconcile(HashMap::new(), |_, _| false);
        let unregister = text(sent.recv().await);
        assert!(unregister.contains("Expires: 0"), "{unregister}");
    }
}
