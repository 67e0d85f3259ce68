//! Queue state across the hosts of a cluster: each host keeps its row of the store's
//! `host_activity` table up to date with what its calls do — queue agents in a call or
//! resting after a queue call, callers waiting in each queue — and reads the other hosts'
//! rows, so that a queue on any host skips an agent busy on another and counts every
//! host's waiting callers.
//!
//! - Only queue agents are reported: no other host asks after another extension, and
//!   extensions coming and going from calls would change the row at every tick. The
//!   agents are read from the queues every [`HEARTBEAT`], so a new member's calls are
//!   shared within a second of its joining the queue.
//! - A thread of its own does it, never a call: every [`TICK`] it writes the row if the
//!   report changed (announcing it on the change feed) or [`HEARTBEAT`] has passed, and
//!   reads the others' rows when one announced a change or [`HEARTBEAT`] has passed. A
//!   change is seen elsewhere within two ticks and a database round trip.
//! - Each write raises the row's sequence. A host whose sequence has not moved for
//!   [`GONE_AFTER`] has stopped (or lost the database): its agents are free again and its
//!   waiting callers no longer count. A stopped host's row written over [`FORGET_AFTER`]
//!   ago (and seen standing still) is deleted.
//! - A host that is stopping says so in its row (`draining`): its agents and waiting
//!   callers still count until its calls end, but it is no longer among the live hosts,
//!   so the others take its trunks over at once.
//! - The hosts judged alive this way are published as [`LiveHosts`]: the trunks take
//!   their owners from the same judgement ([`crate::trunks::ownership`]), so queues and
//!   trunks never disagree on which hosts run, even when the hosts' clocks differ. A
//!   host that could not write its own row for
//!   [`GONE_AFTER`] knows the others take it as stopped, and publishes that it knows no
//!   live hosts until it writes again.
//! - Wrap-up ends and join times cross hosts on the wall clock: hosts keep time with NTP.
//! - The rest of a queue's state is in the store already, shared by every host: "remember
//!   the agent" and round robin's last agent in the strategy module's kv, and the agents'
//!   answers of the day in the queue statistics (written every second).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::watch;

use super::Presence;
use crate::routing::queue::stats::QueueStats;
use crate::shutdown::Draining;
use crate::store::records::{ActivityReport, ExtensionActivity, HostActivity};
use crate::store::{HOST_ACTIVITY, Heard, QUEUES, Read, Store, StoreError, company_key};

/// The change feed's topic for a host's new row; the subject is the host's id.
const TOPIC: &str = "host-activity";
/// How often the thread looks for changes, here and on the other hosts.
pub const TICK: Duration = Duration::from_millis(100);
/// The longest a host goes without writing its row, changed or not.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// A host whose row has not moved for this long has stopped.
pub const GONE_AFTER: Duration = Duration::from_secs(5);
/// A stopped host's row written this long ago is deleted.
pub const FORGET_AFTER: Duration = Duration::from_secs(600);

/// The hosts of the cluster that run now, this one included, sorted: as the queue state
/// thread last judged them. `None` before its first read of the others' rows, while this
/// host cannot write its own row (the others take it as stopped) and once the thread has
/// stopped. On a store no other host shares, this host alone from the start.
#[derive(Clone)]
pub struct LiveHosts {
    hosts: watch::Receiver<Option<Vec<String>>>,
    shared: bool,
}

impl LiveHosts {
    /// The hosts judged alive at the last read, if they are known.
    pub fn now(&self) -> Option<Vec<String>> {
        // A stopped thread writes no row: the other hosts count this one as stopped.
        if self.shared && self.hosts.has_changed().is_err() {
            return None;
        }
        self.hosts.borrow().clone()
    }

    /// Returns once the live hosts changed since the last return (or since the start);
    /// never once the thread has stopped.
    pub async fn changed(&mut self) {
        if self.hosts.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Share `presence`'s and `stats`' waiting callers with the other hosts of `store`, and
/// take theirs, until `presence` is dropped. Nothing to do on a store no other host shares.
/// Returns the hosts alive by the same judgement.
pub fn share(presence: &Arc<Presence>, stats: &QueueStats, store: &Store, draining: &Draining) -> LiveHosts {
    let host = store.host_id().to_string();
    if !store.is_shared() {
        return LiveHosts { hosts: watch::channel(Some(vec![host])).1, shared: false };
    }
    let (live, live_hosts) = watch::channel(None);
    // Set when another host announces a new row (or the feed missed some): read them all.
    let others_changed = Arc::new(AtomicBool::new(true));
    store.listen({
        let (host, others_changed) = (host.clone(), Arc::clone(&others_changed));
        move |heard| match heard {
            Heard::Change { topic, subject } if topic == TOPIC && subject != host => {
                others_changed.store(true, Ordering::Relaxed)
            }
            Heard::Missed => others_changed.store(true, Ordering::Relaxed),
            _ => {}
        }
    });
    let mut sharing = Sharing::new(host, store.clone(), others_changed, live, draining.clone());
    let (presence, stats) = (Arc::downgrade(presence), stats.clone());
    let started = std::thread::Builder::new().name("queue-state".into()).spawn(move || {
        sharing.run(presence, stats);
    });
    if let Err(error) = started {
        tracing::error!(%error, "cannot share queue state with the other hosts");
    }
    LiveHosts { hosts: live_hosts, shared: true }
}

/// What the thread knows between ticks.
struct Sharing {
    host: String,
    store: Store,
    others_changed: Arc<AtomicBool>,
    /// What was last written, and when.
    written: Option<Written>,
    /// Whether this host is stopping.
    draining: Draining,
    /// Every queue's agents, by `company NUL extension`, and when they were read.
    agents: HashSet<String>,
    agents_read: Option<Instant>,
    last_read: Option<Instant>,
    /// What was seen of each other host's row.
    seen: HashMap<String, Seen>,
    /// Whether the last write failed, so that a database outage is logged once.
    failing: bool,
    /// Where the live hosts are published after each read.
    live: watch::Sender<Option<Vec<String>>>,
}

impl Sharing {
    fn new(
        host: String,
        store: Store,
        others_changed: Arc<AtomicBool>,
        live: watch::Sender<Option<Vec<String>>>,
        draining: Draining,
    ) -> Sharing {
        Sharing {
            host,
            store,
            others_changed,
            written: None,
            draining,
            agents: HashSet::new(),
            agents_read: None,
            last_read: None,
            seen: HashMap::new(),
            failing: false,
            live,
        }
    }

    fn run(&mut self, presence: Weak<Presence>, stats: QueueStats) {
        loop {
            std::thread::sleep(TICK);
            let Some(presence) = presence.upgrade() else {
                // The host's calls are gone: so is what it told the others.
                let _ = self.store.write(|tx| tx.delete(&HOST_ACTIVITY, &self.host));
                return;
            };
            let outcome = self.read_agents_if_due().and_then(|()| {
                let mut extensions = presence.report();
                extensions.retain(|key, _| self.agents.contains(key));
                self.write_if_due(ActivityReport { extensions, waiting: stats.waiting_report() })?;
                self.read_if_due(&presence, &stats)
            });
            self.forget_live_hosts_if_cut_off();
            match outcome {
                Ok(()) if self.failing => {
                    tracing::info!("sharing queue state with the other hosts again");
                    self.failing = false;
                }
                Ok(()) => {}
                Err(error) if !self.failing => {
                    tracing::warn!(%error, "cannot share queue state with the other hosts; retrying");
                    self.failing = true;
                }
                Err(_) => {}
            }
        }
    }

    /// Until this host has written its row within [`GONE_AFTER`], the other hosts take it
    /// as stopped (and its trunks over): it then knows no live hosts.
    fn forget_live_hosts_if_cut_off(&self) {
        if self.written.as_ref().is_none_or(|written| written.at.elapsed() >= GONE_AFTER) {
            self.live.send_if_modified(|hosts| hosts.take().is_some());
        }
    }

    fn read_agents_if_due(&mut self) -> Result<(), StoreError> {
        if self.agents_read.is_some_and(|at| at.elapsed() < HEARTBEAT) {
            return Ok(());
        }
        let queues = self.store.read(|r| r.scan(&QUEUES, ""))?;
        self.agents = queues
            .iter()
            .flat_map(|queue| queue.members.iter().map(|m| company_key(&queue.company, &m.extension)))
            .collect();
        self.agents_read = Some(Instant::now());
        Ok(())
    }

    fn write_if_due(&mut self, report: ActivityReport) -> Result<(), StoreError> {
        let draining = self.draining.is_on();
        let sequence = match &self.written {
            Some(written)
                if written.report == report
                    && written.draining == draining
                    && written.at.elapsed() < HEARTBEAT =>
            {
                return Ok(());
            }
            Some(written) => written.sequence + 1,
            None => 1,
        };
        let row =
            HostActivity { host: self.host.clone(), sequence, written_at: Utc::now(), report, draining };
        self.store.write(|tx| {
            tx.put(&HOST_ACTIVITY, &self.host, &row)?;
            tx.announce(TOPIC, &self.host)
        })?;
        self.written = Some(Written { report: row.report, draining, sequence, at: Instant::now() });
        Ok(())
    }

    fn read_if_due(&mut self, presence: &Presence, stats: &QueueStats) -> Result<(), StoreError> {
        let heartbeat_due = self.last_read.is_none_or(|at| at.elapsed() >= HEARTBEAT);
        if !self.others_changed.swap(false, Ordering::Relaxed) && !heartbeat_due {
            return Ok(());
        }
        let rows = match self.store.read(|r| r.scan(&HOST_ACTIVITY, "")) {
            Ok(rows) => rows,
            Err(error) => {
                self.others_changed.store(true, Ordering::Relaxed);
                return Err(error);
            }
        };
        self.last_read = Some(Instant::now());
        let mut extensions: HashMap<String, ExtensionActivity> = HashMap::new();
        let mut waiting: HashMap<String, Vec<_>> = HashMap::new();
        let mut forgotten = Vec::new();
        let mut live = vec![self.host.clone()];
        for row in rows {
            if row.host == self.host {
                continue;
            }
            let age = (Utc::now() - row.written_at).to_std().unwrap_or_default();
            if !self.alive(&row, age) {
                // Only a row seen standing still is forgotten: a running host's clock can be
                // far behind, but its row moves at every heartbeat.
                let still =
                    self.seen.get(&row.host).is_some_and(|seen| seen.first_seen.elapsed() >= GONE_AFTER);
                if age >= FORGET_AFTER && still {
                    forgotten.push(row.host);
                }
                continue;
            }
            if !row.draining {
                live.push(row.host);
            }
            for (key, activity) in row.report.extensions {
                let merged = extensions.entry(key).or_default();
                merged.in_call |= activity.in_call;
                merged.resting_until = merged.resting_until.max(activity.resting_until);
            }
            for (key, joined) in row.report.waiting {
                waiting.entry(key).or_default().extend(joined);
            }
        }
        live.sort();
        self.live.send_if_modified(|hosts| {
            let changed = hosts.as_ref() != Some(&live);
            *hosts = Some(live);
            changed
        });
        presence.heard_elsewhere(extensions);
        stats.heard_elsewhere(waiting);
        if !forgotten.is_empty() {
            self.store.write(|tx| {
                for host in &forgotten {
                    tx.delete(&HOST_ACTIVITY, host)?;
                    self.seen.remove(host);
                }
                Ok::<_, StoreError>(())
            })?;
        }
        Ok(())
    }

    /// Whether the host of `row` (written `age` ago by its clock) still runs: its row
    /// moved within [`GONE_AFTER`].
    fn alive(&mut self, row: &HostActivity, age: Duration) -> bool {
        let now = Instant::now();
        let seen = self.seen.entry(row.host.clone()).or_insert_with(|| Seen {
            sequence: row.sequence,
            moved_at: (age < GONE_AFTER).then_some(now),
            first_seen: now,
        });
        if seen.sequence != row.sequence {
            seen.sequence = row.sequence;
            seen.moved_at = Some(now);
        }
        seen.moved_at.is_some_and(|at| at.elapsed() < GONE_AFTER)
    }
}

/// This host's row as last written.
struct Written {
    report: ActivityReport,
    draining: bool,
    sequence: u64,
    at: Instant,
}

/// What the thread saw of another host's row.
struct Seen {
    sequence: u64,
    /// When the sequence last moved (`None`: not since the row was first seen, already old).
    moved_at: Option<Instant>,
    first_seen: Instant,
}

#[cfg(test)]
mod tests;
