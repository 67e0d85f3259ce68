//! Two hosts (two connections to one test database), each sharing its queue state.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::*;
use crate::routing::queue::AgentState;
use crate::store::testing::fresh_database_url;

/// Far longer than a change takes to reach another host (two ticks and a round trip).
const NEVER: Duration = Duration::from_secs(15);

struct Host {
    presence: Arc<Presence>,
    stats: QueueStats,
    store: Store,
    live: LiveHosts,
    draining: Draining,
}

fn host(url: &str) -> Host {
    let store = Store::connect(url).expect("connect to the test database");
    let (presence, stats) = (Arc::new(Presence::default()), QueueStats::new(store.clone()));
    let draining = Draining::default();
    let live = share(&presence, &stats, &store, &draining);
    Host { presence, stats, store, live, draining }
}

/// Whether `host` takes `other` for a running host.
fn sees_running(host: &Host, other: &str) -> bool {
    host.live.now().is_some_and(|hosts| hosts.iter().any(|h| h == other))
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < NEVER, "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn state(host: &Host) -> AgentState {
    host.presence.state("acme", "101", true)
}

/// Queue "sales" of acme with `agents` (written on the store the hosts share).
fn sales_queue(store: &Store, agents: &[&str]) {
    let members: Vec<_> = agents.iter().map(|agent| (*agent, 1)).collect();
    let queue = crate::store::records::Queue::for_tests("sales", &members);
    store.write(|tx| tx.put(&QUEUES, &company_key("acme", "sales"), &queue)).expect("write the queue");
}

/// Write another host's `row` to `store` and announce it, as that host would.
fn write_row(store: &Store, row: HostActivity) {
    store
        .write(|tx| {
            tx.put(&HOST_ACTIVITY, &row.host.clone(), &row)?;
            tx.announce(TOPIC, &row.host)
        })
        .expect("write a host's row")
}

/// What `host` last wrote of its extensions.
fn reported(host: &Host) -> Vec<String> {
    let host_id = host.store.host_id().to_string();
    let row = host.store.read(|r| r.get(&HOST_ACTIVITY, &host_id)).expect("read");
    row.map(|row| row.report.extensions.into_keys().collect()).unwrap_or_default()
}

#[test]
fn an_agent_in_a_call_on_one_host_is_in_call_on_another_until_it_ends_then_rests_there_too() {
    let url = fresh_database_url();
    let (a, b) = (host(&url), host(&url));
    sales_queue(&a.store, &["101"]);
    let call = a.presence.enter_call("acme", "101");
    wait_until("b sees 101 in a's call", || state(&b) == AgentState::InCall);
    assert_eq!(b.presence.state("globex", "101", true), AgentState::Available, "companies apart");
    assert_eq!(
        b.presence.state("acme", "101", false),
        AgentState::Unavailable,
        "unregistered is unavailable"
    );
    a.presence.rest("acme", "101", Duration::from_secs(60));
    drop(call);
    wait_until("b sees 101 rest after a's call", || state(&b) == AgentState::WrapUp);
    a.presence.rest("acme", "101", Duration::ZERO);
    wait_until("b sees 101 free", || state(&b) == AgentState::Available);
}

#[test]
fn only_queue_agents_are_reported_and_a_new_agent_within_a_heartbeat() {
    let url = fresh_database_url();
    let (a, b) = (host(&url), host(&url));
    sales_queue(&a.store, &["101"]);
    let _agent = a.presence.enter_call("acme", "101");
    let _other = a.presence.enter_call("acme", "102");
    wait_until("b sees agent 101 in a's call", || state(&b) == AgentState::InCall);
    assert_eq!(reported(&a), [company_key("acme", "101")], "102 is no queue's agent: not reported");
    assert_eq!(b.presence.state("acme", "102", true), AgentState::Available);

    sales_queue(&a.store, &["101", "102"]);
    wait_until("b sees the new agent 102 in a's call", || {
        b.presence.state("acme", "102", true) == AgentState::InCall
    });
}

#[test]
fn callers_waiting_on_one_host_count_on_another() {
    let url = fresh_database_url();
    let (a, b) = (host(&url), host(&url));
    a.stats.joined("acme", "sales");
    b.stats.joined("acme", "sales");
    wait_until("each host counts both callers", || {
        a.stats.waiting("acme", "sales") == 2 && b.stats.waiting("acme", "sales") == 2
    });
    std::thread::sleep(Duration::from_millis(50));
    assert!(b.stats.live("acme", "sales").longest_waiting_ms >= 50, "{:?}", b.stats.live("acme", "sales"));
    a.stats.abandoned("acme", "sales", Duration::from_millis(50));
    wait_until("b counts its own caller only", || b.stats.waiting("acme", "sales") == 1);
    assert_eq!(b.stats.waiting("acme", "other"), 0, "queues apart");
}

#[test]
fn a_host_that_stops_writing_its_row_is_gone_after_a_while_and_an_old_row_is_forgotten() {
    let url = fresh_database_url();
    let b = host(&url);
    let busy = |written_at| HostActivity {
        host: "crashed".into(),
        sequence: 7,
        written_at,
        report: ActivityReport {
            extensions: BTreeMap::from([(
                crate::store::company_key("acme", "101"),
                ExtensionActivity { in_call: true, resting_until: None },
            )]),
            waiting: BTreeMap::new(),
        },
        draining: false,
    };
    let write = |row: HostActivity| write_row(&b.store, row);
    write(busy(Utc::now()));
    wait_until("b sees 101 in the crashed host's call", || state(&b) == AgentState::InCall);
    assert!(sees_running(&b, "crashed"), "{:?}", b.live.now());
    let stopped = Instant::now();
    wait_until("b takes the crashed host as gone", || state(&b) == AgentState::Available);
    assert!(stopped.elapsed() >= GONE_AFTER - TICK * 2, "gone after {:?}", stopped.elapsed());
    assert_eq!(b.live.now(), Some(vec![b.store.host_id().to_string()]), "only b runs now");

    let old = Utc::now() - chrono::Duration::from_std(FORGET_AFTER).unwrap();
    write(HostActivity { host: "long-gone".into(), ..busy(old) });
    wait_until("b deletes the long gone host's row", || {
        b.store.read(|r| r.get(&HOST_ACTIVITY, "long-gone")).expect("read").is_none()
    });
    assert_eq!(state(&b), AgentState::Available, "an old row never counts");
}

#[test]
fn a_host_whose_calls_are_gone_deletes_its_row() {
    let url = fresh_database_url();
    let a = host(&url);
    let rows = || a.store.read(|r| r.scan(&HOST_ACTIVITY, "")).expect("read").len();
    wait_until("a writes its row", || rows() == 1);
    let Host { presence, store, .. } = a;
    drop(presence);
    wait_until("a deletes its row", || store.read(|r| r.scan(&HOST_ACTIVITY, "")).expect("read").is_empty());
}

#[test]
fn every_host_sees_the_others_running_and_one_whose_clock_is_behind_once_its_row_moves() {
    let url = fresh_database_url();
    let (a, b) = (host(&url), host(&url));
    let (a_id, b_id) = (a.store.host_id().to_string(), b.store.host_id().to_string());
    wait_until("a and b see each other", || sees_running(&a, &b_id) && sees_running(&b, &a_id));
    let mut both = vec![a_id.clone(), b_id.clone()];
    both.sort();
    assert_eq!(a.live.now(), Some(both.clone()), "sorted, each host once");

    // A host whose clock is behind by more than FORGET_AFTER: its first row looks old by
    // the wall clock, but it is judged by its row moving, and not deleted as a stopped
    // host's old row would be.
    let behind = |sequence| HostActivity {
        host: "behind".into(),
        sequence,
        written_at: Utc::now() - chrono::Duration::from_std(FORGET_AFTER * 2).unwrap(),
        report: ActivityReport::default(),
        draining: false,
    };
    let write = |row: HostActivity| write_row(&a.store, row);
    write(behind(1));
    std::thread::sleep(TICK * 3);
    assert!(!sees_running(&a, "behind"), "a row first seen old is no running host yet");
    write(behind(2));
    wait_until("a sees the host whose clock is behind once its row moved", || sees_running(&a, "behind"));
    write(behind(3));
    wait_until("b sees it too", || b.live.now().is_some_and(|hosts| hosts.len() == 3));
}

#[test]
fn a_host_that_cannot_write_its_row_or_whose_thread_stopped_knows_no_live_hosts() {
    let store = Store::in_memory().expect("an in-memory store");
    let sharing = |written_ago: Duration| {
        let (live, hosts) = watch::channel(Some(vec![store.host_id().to_string()]));
        let mut sharing =
            Sharing::new(store.host_id().into(), store.clone(), Arc::default(), live, Draining::default());
        // Holds: the machine has been up for longer than GONE_AFTER.
        let at = Instant::now().checked_sub(written_ago).unwrap();
        sharing.written =
            Some(Written { report: ActivityReport::default(), draining: false, sequence: 1, at });
        sharing.forget_live_hosts_if_cut_off();
        (sharing, LiveHosts { hosts, shared: true })
    };

    let (written_lately, live) = sharing(GONE_AFTER / 2);
    assert!(live.now().is_some(), "the row was written within GONE_AFTER");
    drop(written_lately);
    assert_eq!(live.now(), None, "a stopped thread writes no row: the others take this host as stopped");

    let (_cut_off, live) = sharing(GONE_AFTER);
    assert_eq!(live.now(), None, "unwritten for GONE_AFTER: the others take this host as stopped");
}

#[test]
fn a_stopping_host_leaves_the_live_hosts_at_once_while_its_agents_in_calls_still_count() {
    let url = fresh_database_url();
    let (a, b) = (host(&url), host(&url));
    let a_id = a.store.host_id().to_string();
    sales_queue(&a.store, &["101"]);
    let _call = a.presence.enter_call("acme", "101");
    wait_until("b sees a running and 101 in its call", || {
        sees_running(&b, &a_id) && state(&b) == AgentState::InCall
    });

    a.draining.start();
    let started = Instant::now();
    wait_until("b no longer counts a among the live hosts", || !sees_running(&b, &a_id));
    assert!(started.elapsed() < GONE_AFTER, "told, not timed out: {:?}", started.elapsed());
    assert_eq!(b.live.now(), Some(vec![b.store.host_id().to_string()]), "its trunks go to b");
    std::thread::sleep(HEARTBEAT + TICK * 2);
    assert_eq!(state(&b), AgentState::InCall, "the call on the stopping host goes on, and counts");
}
