//! The CDR a call fills in as it goes, and the writer that stores ended calls' records in
//! batches: one durable commit per call would cap the host at the disk's fsync rate, so
//! records that end close together share a transaction.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use crate::routing::call::Direction;
use crate::store::Store;
use crate::store::records::{CallStatus, Cdr};

/// Most records written in one transaction.
const BATCH: usize = 1024;
/// How long the writer waits after the first record of a batch for the others: the most
/// a record waits before it is durable. On the embedded store: at 100 ms the post-dial
/// delay's p99 at 1,650 calls/s was 1–3 ms longer (interleaved runs of bench/pdd.sh).
const GATHER_EMBEDDED: Duration = Duration::from_millis(20);
/// The same on a store shared by several hosts, where each batch is a round trip to the
/// database: a lightly loaded host of a cluster gathers longer for fewer of them.
const GATHER_SHARED: Duration = Duration::from_millis(100);

/// A call's record while the call runs.
pub struct Draft {
    pub company: String,
    pub call_id: String,
    pub direction: Direction,
    pub caller: String,
    pub caller_name: Option<String>,
    pub called: String,
    pub destination: Option<String>,
    started_at: DateTime<Utc>,
    started: Instant,
    answered: Option<(DateTime<Utc>, Instant)>,
}

impl Draft {
    pub fn new(company: &str, call_id: &str, caller: &str, called: &str) -> Draft {
        Draft {
            company: company.to_string(),
            call_id: call_id.to_string(),
            direction: Direction::Internal,
            caller: caller.to_string(),
            caller_name: None,
            called: called.to_string(),
            destination: None,
            started_at: Utc::now(),
            started: Instant::now(),
            answered: None,
        }
    }

    pub fn answered(&mut self) {
        self.answered.get_or_insert((Utc::now(), Instant::now()));
    }

    /// The finished record.
    pub fn finish(&self, status: CallStatus, cause: &str, sip_status: Option<u16>) -> Cdr {
        let now = Instant::now();
        let ring_until = self.answered.map_or(now, |(_, at)| at);
        Cdr {
            id: crate::cdr::new_id(&self.call_id),
            company: self.company.clone(),
            call_id: self.call_id.clone(),
            direction: self.direction,
            caller: self.caller.clone(),
            caller_name: self.caller_name.clone(),
            called: self.called.clone(),
            destination: self.destination.clone(),
            status,
            hangup_cause: cause.to_string(),
            sip_status,
            started_at: self.started_at,
            answered_at: self.answered.map(|(at, _)| at),
            ended_at: Utc::now(),
            ring_ms: ring_until.duration_since(self.started).as_millis() as u64,
            talk_s: self.answered.map_or(0, |(_, at)| now.duration_since(at).as_secs()),
            recording: None,
        }
    }
}

/// Hands ended calls' records to the writer task.
#[derive(Clone)]
pub struct CdrWriter {
    records: mpsc::UnboundedSender<Cdr>,
}

impl CdrWriter {
    /// Start the writer on `store`; it stops when every sender is gone, after writing
    /// what it holds.
    pub fn start(store: Store) -> std::io::Result<CdrWriter> {
        let (records, mut queue) = mpsc::unbounded_channel::<Cdr>();
        let gather = if store.is_shared() { GATHER_SHARED } else { GATHER_EMBEDDED };
        std::thread::Builder::new().name("cdr-writer".into()).spawn(move || {
            let mut batch = Vec::with_capacity(BATCH);
            while let Some(first) = queue.blocking_recv() {
                batch.push(first);
                // Let the records of calls ending together gather: one durable commit for
                // them all instead of one fsync per call.
                std::thread::sleep(gather);
                while batch.len() < BATCH
                    && let Ok(next) = queue.try_recv()
                {
                    batch.push(next);
                }
                if let Err(error) = crate::cdr::write_all(&store, &batch) {
                    tracing::error!(%error, records = batch.len(), "cannot write CDRs");
                }
                batch.clear();
            }
        })?;
        Ok(CdrWriter { records })
    }

    pub fn write(&self, cdr: Cdr) {
        tracing::info!(company = %cdr.company, call_id = %cdr.call_id, status = ?cdr.status, cause = %cdr.hangup_cause, talk_s = cdr.talk_s, "call ended");
        if self.records.send(cdr).is_err() {
            tracing::error!("the CDR writer has stopped; a record is lost");
        }
    }
}
