//! Queue statistics (SPEC.md §4): the host's queue mechanics report each caller's way
//! through a queue here, and the API reads the figures back.
//!
//! - Live figures (callers waiting now, the longest wait now) are kept in memory only: a
//!   restart ends every waiting call anyway. With other hosts on the store, their waiting
//!   callers count too (`calls::presence::cluster` tells them).
//! - Historical figures (offered, answered, abandoned, unanswered, waits, per-agent
//!   answers) are counted per queue and UTC day in memory and written to the store by a
//!   background thread every [`FLUSH_INTERVAL`], in one transaction: a call task never
//!   waits for a disk write. Readers see stored days plus what is not yet written.
//!
//! Every caller who [`QueueStats::joined`] ends with exactly one of
//! [`QueueStats::answered`], [`QueueStats::abandoned`] or [`QueueStats::unanswered`]
//! (reason [`UnansweredReason::TimedOut`]); a caller turned away because the queue was
//! full never joined and is reported with [`UnansweredReason::Full`] only.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::store::records::{QueueDay, queue_day_key, queue_days_prefix};
use crate::store::{QUEUE_DAYS, Read, Store, StoreError, company_key};

/// How often counted figures are written to the store.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// Why a caller left a queue without an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnansweredReason {
    /// The caller waited the queue's maximum time.
    TimedOut,
    /// The queue already had its maximum of waiting callers.
    Full,
}

/// What is happening in a queue right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct LiveFigures {
    /// Callers waiting now.
    pub waiting: usize,
    /// How long the caller who has waited longest has waited so far, in milliseconds.
    pub longest_waiting_ms: u64,
}

/// A queue's figures over a range of days.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct HistoricalFigures {
    /// Callers who reached the queue (waited, or found it full).
    pub offered: u64,
    /// Callers an agent answered.
    pub answered: u64,
    /// Callers who hung up while waiting.
    pub abandoned: u64,
    /// Callers sent on after the queue's maximum time.
    pub unanswered_timed_out: u64,
    /// Callers turned away because the queue was full.
    pub unanswered_full: u64,
    /// Average wait of answered callers, in milliseconds (0 when none).
    pub average_answer_wait_ms: u64,
    /// Average wait of callers who hung up, in milliseconds (0 when none).
    pub average_abandon_wait_ms: u64,
    /// The longest wait of any caller, in milliseconds.
    pub longest_wait_ms: u64,
    /// Calls answered, per agent extension.
    pub answered_by: std::collections::BTreeMap<String, u64>,
}

impl From<&QueueDay> for HistoricalFigures {
    fn from(day: &QueueDay) -> HistoricalFigures {
        let average = |total: u64, count: u64| total.checked_div(count).unwrap_or(0);
        HistoricalFigures {
            offered: day.offered,
            answered: day.answered,
            abandoned: day.abandoned,
            unanswered_timed_out: day.timed_out,
            unanswered_full: day.full,
            average_answer_wait_ms: average(day.answered_wait_ms, day.answered),
            average_abandon_wait_ms: average(day.abandoned_wait_ms, day.abandoned),
            longest_wait_ms: day.longest_wait_ms,
            answered_by: day.answered_by.clone(),
        }
    }
}

/// An agent's answers in one queue, as the queue's strategy is told them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AgentFigures {
    /// When the agent last answered a call of the queue today (UTC); earlier days are
    /// not searched.
    pub last_answered_at: Option<DateTime<Utc>>,
    /// Calls of the queue the agent answered today (UTC).
    pub answered_today: u32,
}

/// (company, queue)
type QueueId = (String, String);

#[derive(Default)]
struct Counts {
    /// When each waiting caller joined, oldest first (this host's monotonic clock, and
    /// the wall clock for the other hosts).
    waiting: HashMap<QueueId, Vec<(Instant, DateTime<Utc>)>>,
    /// When each caller waiting on another host joined.
    elsewhere: HashMap<QueueId, Vec<DateTime<Utc>>>,
    /// Figures not yet written, per queue and day.
    pending: HashMap<(QueueId, NaiveDate), QueueDay>,
}

struct Inner {
    store: Store,
    counts: Mutex<Counts>,
    /// Serialises flushes, so figures taken by one are written before the next reads.
    flushing: Mutex<()>,
}

/// The host's queue statistics; cheap to clone.
#[derive(Clone)]
pub struct QueueStats {
    inner: Arc<Inner>,
}

fn id(company: &str, queue: &str) -> QueueId {
    (company.to_string(), queue.to_string())
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl QueueStats {
    /// Statistics kept in `store`, written by a background thread that ends when the last
    /// clone is dropped.
    pub fn new(store: Store) -> QueueStats {
        let inner = Arc::new(Inner { store, counts: Mutex::default(), flushing: Mutex::default() });
        let weak = Arc::downgrade(&inner);
        let spawned = std::thread::Builder::new().name("queue-stats".into()).spawn(move || flush_loop(weak));
        if let Err(error) = spawned {
            // Figures then stay in memory until `flush` is called; the API still shows them.
            tracing::error!(%error, "cannot start the queue statistics writer");
        }
        QueueStats { inner }
    }

    fn counts(&self) -> MutexGuard<'_, Counts> {
        crate::sync::lock(&self.inner.counts)
    }

    /// Count something about today's figures of `queue`.
    fn today(&self, company: &str, queue: &str, update: impl FnOnce(&mut QueueDay)) {
        let day = Utc::now().date_naive();
        update(self.counts().pending.entry((id(company, queue), day)).or_default());
    }

    /// A caller started waiting in `queue`.
    pub fn joined(&self, company: &str, queue: &str) {
        self.counts().waiting.entry(id(company, queue)).or_default().push((Instant::now(), Utc::now()));
        self.today(company, queue, |day| day.offered += 1);
    }

    /// `agent` answered a caller of `queue` who had waited `wait`.
    pub fn answered(&self, company: &str, queue: &str, agent: &str, wait: Duration) {
        self.left(company, queue, wait);
        let now = Utc::now();
        self.today(company, queue, |day| {
            day.answered += 1;
            day.answered_wait_ms += millis(wait);
            day.longest_wait_ms = day.longest_wait_ms.max(millis(wait));
            *day.answered_by.entry(agent.to_string()).or_default() += 1;
            day.last_answered.insert(agent.to_string(), now);
        });
    }

    /// A caller of `queue` hung up after waiting `wait`.
    pub fn abandoned(&self, company: &str, queue: &str, wait: Duration) {
        self.left(company, queue, wait);
        self.today(company, queue, |day| {
            day.abandoned += 1;
            day.abandoned_wait_ms += millis(wait);
            day.longest_wait_ms = day.longest_wait_ms.max(millis(wait));
        });
    }

    /// A caller of `queue` went to its unanswered destination after `wait`, for `reason`.
    pub fn unanswered(&self, company: &str, queue: &str, wait: Duration, reason: UnansweredReason) {
        match reason {
            UnansweredReason::TimedOut => self.left(company, queue, wait),
            // Turned away at the door: never joined, so offered is counted here.
            UnansweredReason::Full => self.today(company, queue, |day| day.offered += 1),
        }
        self.today(company, queue, |day| {
            match reason {
                UnansweredReason::TimedOut => day.timed_out += 1,
                UnansweredReason::Full => day.full += 1,
            }
            day.longest_wait_ms = day.longest_wait_ms.max(millis(wait));
        });
    }

    /// A caller who waited `wait` left: forget the waiting entry that joined closest to
    /// `wait` ago (calls report their own wait, not a ticket).
    fn left(&self, company: &str, queue: &str, wait: Duration) {
        let mut counts = self.counts();
        let key = id(company, queue);
        let Some(waiting) = counts.waiting.get_mut(&key) else { return };
        let now = Instant::now();
        let distance = |(joined, _): &(Instant, DateTime<Utc>)| now.duration_since(*joined).abs_diff(wait);
        if let Some(at) = (0..waiting.len()).min_by_key(|i| distance(&waiting[*i])) {
            waiting.remove(at);
        }
        if waiting.is_empty() {
            counts.waiting.remove(&key);
        }
    }

    /// Callers waiting in `queue` now, on this host and the others.
    pub fn waiting(&self, company: &str, queue: &str) -> usize {
        self.live(company, queue).waiting
    }

    /// What is happening in `queue` now, on this host and the others.
    pub fn live(&self, company: &str, queue: &str) -> LiveFigures {
        let key = id(company, queue);
        let counts = self.counts();
        let here = counts.waiting.get(&key).map_or(&[][..], Vec::as_slice);
        let elsewhere = counts.elsewhere.get(&key).map_or(&[][..], Vec::as_slice);
        let longest_here = here.iter().map(|(joined, _)| joined.elapsed()).max();
        let now = Utc::now();
        let longest_elsewhere = elsewhere.iter().filter_map(|joined| (now - *joined).to_std().ok()).max();
        LiveFigures {
            waiting: here.len() + elsewhere.len(),
            longest_waiting_ms: longest_here.max(longest_elsewhere).map_or(0, millis),
        }
    }

    /// When each caller waiting on this host joined, per queue (`company NUL queue`), for
    /// the other hosts.
    pub fn waiting_report(&self) -> BTreeMap<String, Vec<DateTime<Utc>>> {
        self.counts()
            .waiting
            .iter()
            .map(|((company, queue), joined)| {
                (company_key(company, queue), joined.iter().map(|(_, wall)| *wall).collect())
            })
            .collect()
    }

    /// The callers waiting on the other hosts now (replacing what they reported before),
    /// per queue as [`QueueStats::waiting_report`] gives them.
    pub fn heard_elsewhere(&self, waiting: HashMap<String, Vec<DateTime<Utc>>>) {
        let elsewhere = waiting
            .into_iter()
            .filter_map(|(key, joined)| {
                let (company, queue) = key.split_once('\0')?;
                Some((id(company, queue), joined))
            })
            .collect();
        self.counts().elsewhere = elsewhere;
    }

    /// `queue`'s figures from day `from` to day `to` (UTC, both included; none = no bound).
    pub fn historical(
        &self,
        company: &str,
        queue: &str,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<HistoricalFigures, StoreError> {
        let in_range = |day: NaiveDate| from.is_none_or(|from| day >= from) && to.is_none_or(|to| day <= to);
        // Pending figures are taken before the store is read: a flush between the two
        // could otherwise count them twice, so flushes wait (see `flush`).
        let _no_flush = crate::sync::lock(&self.inner.flushing);
        let mut total = QueueDay::default();
        {
            let key = id(company, queue);
            let counts = self.counts();
            for ((queue_id, day), figures) in &counts.pending {
                if *queue_id == key && in_range(*day) {
                    total.merge(figures);
                }
            }
        }
        let stored = self.inner.store.read(|r| r.scan(&QUEUE_DAYS, &queue_days_prefix(company, queue)))?;
        for figures in stored.iter().filter(|figures| in_range(figures.day)) {
            total.merge(figures);
        }
        Ok(HistoricalFigures::from(&total))
    }

    /// `agent`'s answers in `queue` today (UTC).
    pub fn agent(&self, company: &str, queue: &str, agent: &str) -> AgentFigures {
        let day = Utc::now().date_naive();
        let mut figures = QueueDay::default();
        if let Some(pending) = self.counts().pending.get(&(id(company, queue), day)) {
            figures.merge(pending);
        }
        let stored = self.inner.store.read(|r| r.get(&QUEUE_DAYS, &queue_day_key(company, queue, day)));
        match stored {
            Ok(Some(stored)) => figures.merge(&stored),
            Ok(None) => {}
            Err(error) => tracing::warn!(company, queue, %error, "cannot read the queue's statistics"),
        }
        AgentFigures {
            last_answered_at: figures.last_answered.get(agent).copied(),
            answered_today: u32::try_from(figures.answered_by.get(agent).copied().unwrap_or(0))
                .unwrap_or(u32::MAX),
        }
    }

    /// Forget `queue`'s live figures and unwritten counts (the queue was deleted; its
    /// stored days are deleted with it).
    pub fn forget(&self, company: &str, queue: &str) {
        let key = id(company, queue);
        let mut counts = self.counts();
        counts.waiting.remove(&key);
        counts.pending.retain(|(queue_id, _), _| *queue_id != key);
    }

    /// Write every counted figure to the store now.
    pub fn flush(&self) -> Result<(), StoreError> {
        let _flushing = crate::sync::lock(&self.inner.flushing);
        let pending = std::mem::take(&mut self.counts().pending);
        if pending.is_empty() {
            return Ok(());
        }
        let written = self.inner.store.write(|tx| {
            for (((company, queue), day), figures) in &pending {
                let key = queue_day_key(company, queue, *day);
                let mut stored = tx.get(&QUEUE_DAYS, &key)?.unwrap_or_default();
                stored.day = *day;
                stored.merge(figures);
                tx.put(&QUEUE_DAYS, &key, &stored)?;
            }
            Ok::<_, StoreError>(())
        });
        if written.is_err() {
            // Keep the figures for the next attempt.
            let mut counts = self.counts();
            for (key, figures) in pending {
                counts.pending.entry(key).or_default().merge(&figures);
            }
        }
        written
    }
}

fn flush_loop(stats: Weak<Inner>) {
    loop {
        std::thread::sleep(FLUSH_INTERVAL);
        let Some(inner) = stats.upgrade() else { return };
        if let Err(error) = (QueueStats { inner }).flush() {
            tracing::error!(%error, "cannot write queue statistics; retrying");
        }
    }
}

#[cfg(test)]
mod tests;
