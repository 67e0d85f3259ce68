//! The store: every table access of the host goes through this module's API, and nothing
//! outside it knows which database holds the rows. Two backends sit behind it:
//!
//! - [`embedded`]: redb, one file (`centralita.redb`) in the data directory, the default
//!   for a single machine;
//! - [`postgres`]: a PostgreSQL database (`--store postgres://…`) that several hosts share.
//!
//! Writes are ACID transactions committed durably, so an acknowledged API write survives a
//! crash; an entity change and its audit entry commit together. Write transactions are
//! serialised (redb has one writer; PostgreSQL takes one advisory lock per transaction),
//! so every host sees each transaction whole or not at all, and compare-and-swap holds
//! across hosts.
//!
//! Records are JSON in string-keyed tables. Keys of per-company tables start with the
//! company id and a NUL, so one company's rows are one contiguous range.

mod collections;
mod copy;
mod embedded;
mod kv;
mod postgres;
pub mod records;
#[doc(hidden)]
pub mod testing;

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use collections::*;
pub use copy::CopyReport;
pub use kv::{KvEntry, KvWriteError, ReadBlob};
use records::AuditEntry;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened, read or written.
    #[error("database: {0}")]
    Database(String),
    /// A stored record could not be decoded (a bug or a damaged file).
    #[error("stored record {key:?} in {table} is unreadable: {reason}")]
    Corrupt { table: &'static str, key: String, reason: String },
}

/// A JSON-encoded table of records of type `T`.
pub struct Collection<T> {
    name: &'static str,
    _record: std::marker::PhantomData<fn() -> T>,
}

impl<T> Collection<T> {
    const fn new(name: &'static str) -> Self {
        Collection { name, _record: std::marker::PhantomData }
    }
}

/// The key of a per-company row: `company NUL rest`.
pub fn company_key(company: &str, rest: &str) -> String {
    format!("{company}\0{rest}")
}

/// The key prefix of every row of `company`.
pub fn company_prefix(company: &str) -> String {
    format!("{company}\0")
}

/// One row as a backend hands it over: key and raw value.
type Row = (String, Vec<u8>);

/// What a backend's snapshot or transaction reads, on raw rows of a named table.
trait RawRead {
    fn get(&self, table: &'static str, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Every row whose key starts with `prefix`, in key order.
    fn scan(&self, table: &'static str, prefix: &str) -> Result<Vec<Row>, StoreError>;
    fn count(&self, table: &'static str, prefix: &str) -> Result<usize, StoreError>;
    /// Up to `limit` rows with keys below `before` (from the end when `None`), last first.
    fn scan_back(
        &self,
        table: &'static str,
        before: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Row>, StoreError>;
}

/// What a backend's write transaction adds.
trait RawWrite: RawRead {
    fn put(&mut self, table: &'static str, key: &str, value: &[u8]) -> Result<(), StoreError>;
    /// Whether the row existed.
    fn delete(&mut self, table: &'static str, key: &str) -> Result<bool, StoreError>;
    /// How many rows were removed.
    fn delete_prefix(&mut self, table: &'static str, prefix: &str) -> Result<usize, StoreError>;
}

/// The handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    /// This host's id among the hosts sharing the store: new for each opened store (a
    /// restarted host is a new host).
    host: Arc<str>,
}

#[derive(Clone)]
enum Backend {
    Embedded(embedded::Db),
    Postgres(postgres::Pool),
}

impl Store {
    /// Open (or create) the embedded store in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        Ok(Store::with(Backend::Embedded(embedded::Db::open(data_dir)?)))
    }

    /// A store that lives in memory only, for `centralita module run` and tests.
    pub fn in_memory() -> Result<Store, StoreError> {
        Ok(Store::with(Backend::Embedded(embedded::Db::in_memory()?)))
    }

    /// Connect to the PostgreSQL database at `url` (`postgres://user@host:port/db`) and
    /// bring its tables up to date.
    pub fn connect(url: &str) -> Result<Store, StoreError> {
        Ok(Store::with(Backend::Postgres(postgres::Pool::connect(url)?)))
    }

    fn with(backend: Backend) -> Store {
        Store { backend, host: format!("{:016x}", rand::random::<u64>()).into() }
    }

    /// This host's id among the hosts sharing the store, for telling its own
    /// announcements and rows from the others'.
    pub fn host_id(&self) -> &str {
        &self.host
    }

    /// Whether other hosts may share this store (PostgreSQL): state they must agree on
    /// (registrations) is kept in it rather than in this process.
    pub fn is_shared(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// Which backend this is, for the start-up log: "redb" or "postgres".
    pub fn kind(&self) -> &'static str {
        match self.backend {
            Backend::Embedded(_) => "redb",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Call `on_heard` (on a thread of the store's) with every change any host announces
    /// from now on. The embedded store has no other host: nothing is ever heard.
    pub fn listen(&self, on_heard: impl Fn(Heard) + Send + 'static) {
        match &self.backend {
            Backend::Embedded(_) => {}
            Backend::Postgres(pool) => pool
                .listen(Box::new(move |heard: &Heard| on_heard(heard.clone())) as Box<dyn Fn(&Heard) + Send>),
        }
    }

    /// Tell every host's listeners of `subject` under `topic` now, outside any
    /// transaction (e.g. a call event). The embedded store has no other host.
    pub fn publish(&self, topic: &str, subject: &str) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Embedded(_) => Ok(()),
            Backend::Postgres(pool) => pool.publish(topic, subject),
        }
    }

    /// Run `f` in a write transaction and commit it durably if `f` returns `Ok`; an
    /// `Err` from `f` aborts every write it made.
    pub fn write<R, E: From<StoreError>>(&self, f: impl FnOnce(&mut Tx) -> Result<R, E>) -> Result<R, E> {
        let mut tx = match &self.backend {
            Backend::Embedded(db) => Tx { inner: TxInner::Embedded(Box::new(db.begin_write()?)) },
            Backend::Postgres(pool) => Tx { inner: TxInner::Postgres(pool.begin(true)?) },
        };
        let result = f(&mut tx)?;
        match tx.inner {
            TxInner::Embedded(write) => write.commit()?,
            TxInner::Postgres(session) => session.commit()?,
        }
        Ok(result)
    }

    /// Run `f` on a consistent snapshot.
    pub fn read<R, E: From<StoreError>>(&self, f: impl FnOnce(&Snapshot) -> Result<R, E>) -> Result<R, E> {
        let snapshot = match &self.backend {
            Backend::Embedded(db) => Snapshot { inner: SnapshotInner::Embedded(db.begin_read()?) },
            Backend::Postgres(pool) => Snapshot { inner: SnapshotInner::Postgres(pool.snapshot()) },
        };
        f(&snapshot)
    }
}

/// What a host hears of a change committed by any host ([`Tx::announce`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// A change of `subject` (e.g. `acme/router`) under `topic` (e.g. `module`).
    Change { topic: String, subject: String },
    /// Changes may have been missed (the feed was (re)connected): assume anything changed.
    Missed,
    /// Nothing for a while (the feed checks its listeners are still there); never passed
    /// to [`Store::listen`]'s callback.
    Nothing,
}

/// A write transaction.
pub struct Tx {
    inner: TxInner,
}

enum TxInner {
    Embedded(Box<embedded::Write>),
    Postgres(postgres::Session),
}

/// A read-only snapshot.
pub struct Snapshot {
    inner: SnapshotInner,
}

enum SnapshotInner {
    Embedded(embedded::Read),
    Postgres(postgres::Snapshot),
}

impl Tx {
    /// Tell every host of a change of `subject` under `topic` once this transaction
    /// commits, so they drop what they cached of it. The embedded store has one host,
    /// which updates its own caches itself: nothing to send.
    pub fn announce(&mut self, topic: &str, subject: &str) -> Result<(), StoreError> {
        match &mut self.inner {
            TxInner::Embedded(_) => Ok(()),
            TxInner::Postgres(session) => session.announce(topic, subject),
        }
    }

    fn raw(&self) -> &dyn RawRead {
        match &self.inner {
            TxInner::Embedded(write) => write.as_ref(),
            TxInner::Postgres(session) => session,
        }
    }

    fn raw_mut(&mut self) -> &mut dyn RawWrite {
        match &mut self.inner {
            TxInner::Embedded(write) => write.as_mut(),
            TxInner::Postgres(session) => session,
        }
    }
}

impl Snapshot {
    fn raw(&self) -> &dyn RawRead {
        match &self.inner {
            SnapshotInner::Embedded(read) => read,
            SnapshotInner::Postgres(snapshot) => snapshot,
        }
    }
}

fn decode<T: DeserializeOwned>(table: &'static str, key: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        table,
        key: key.to_string(),
        reason: e.to_string(),
    })
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Records are plain data (strings, numbers, maps with string keys): encoding them
    // as JSON cannot fail.
    serde_json::to_vec(value).expect("records encode as JSON")
}

/// Reading, shared by snapshots and write transactions.
pub trait Read {
    /// The record under `key`.
    fn get<T: DeserializeOwned>(
        &self,
        collection: &Collection<T>,
        key: &str,
    ) -> Result<Option<T>, StoreError>;
    /// Every record whose key starts with `prefix`, in key order.
    fn scan<T: DeserializeOwned>(
        &self,
        collection: &Collection<T>,
        prefix: &str,
    ) -> Result<Vec<T>, StoreError>;
    /// The number of records whose key starts with `prefix`.
    fn count<T>(&self, collection: &Collection<T>, prefix: &str) -> Result<usize, StoreError>;
}

macro_rules! impl_read {
    ($ty:ty) => {
        impl Read for $ty {
            fn get<T: DeserializeOwned>(
                &self,
                collection: &Collection<T>,
                key: &str,
            ) -> Result<Option<T>, StoreError> {
                let value = self.raw().get(collection.name, key)?;
                value.map(|v| decode(collection.name, key, &v)).transpose()
            }

            fn scan<T: DeserializeOwned>(
                &self,
                collection: &Collection<T>,
                prefix: &str,
            ) -> Result<Vec<T>, StoreError> {
                let rows = self.raw().scan(collection.name, prefix)?;
                rows.iter().map(|(key, value)| decode(collection.name, key, value)).collect()
            }

            fn count<T>(&self, collection: &Collection<T>, prefix: &str) -> Result<usize, StoreError> {
                self.raw().count(collection.name, prefix)
            }
        }
    };
}

impl_read!(Snapshot);
impl_read!(Tx);

impl Tx {
    /// Insert or replace the record under `key`.
    pub fn put<T: Serialize>(
        &mut self,
        collection: &Collection<T>,
        key: &str,
        record: &T,
    ) -> Result<(), StoreError> {
        self.raw_mut().put(collection.name, key, &encode(record))
    }

    /// Remove the record under `key`; returns whether it existed.
    pub fn delete<T>(&mut self, collection: &Collection<T>, key: &str) -> Result<bool, StoreError> {
        self.raw_mut().delete(collection.name, key)
    }

    /// Remove every record whose key starts with `prefix`; returns how many.
    pub fn delete_prefix<T>(
        &mut self,
        collection: &Collection<T>,
        prefix: &str,
    ) -> Result<usize, StoreError> {
        self.raw_mut().delete_prefix(collection.name, prefix)
    }

    /// Append `entry` to the audit log, numbering it after the last entry (writers are
    /// serialised, so two transactions never take the same number).
    pub fn audit(&mut self, mut entry: AuditEntry) -> Result<u64, StoreError> {
        let last = self.raw().scan_back(AUDIT.name, None, 1)?;
        entry.seq = last.first().and_then(|(key, _)| key.parse::<u64>().ok()).map_or(1, |seq| seq + 1);
        self.raw_mut().put(AUDIT.name, &audit_key(entry.seq), &encode(&entry))?;
        Ok(entry.seq)
    }
}

/// Audit keys are zero-padded so that string order is numeric order.
fn audit_key(seq: u64) -> String {
    format!("{seq:020}")
}

/// The most recent audit entries, newest first, optionally only those of `company`.
pub fn recent_audit(
    snapshot: &Snapshot,
    company: Option<&str>,
    limit: usize,
) -> Result<Vec<AuditEntry>, StoreError> {
    // Newest first, a page at a time, stopping as soon as `limit` entries are found.
    const PAGE: usize = 256;
    let mut entries = Vec::new();
    let mut before: Option<String> = None;
    while entries.len() < limit {
        let rows = snapshot.raw().scan_back(AUDIT.name, before.as_deref(), PAGE)?;
        for (key, value) in &rows {
            let entry: AuditEntry = decode(AUDIT.name, key, value)?;
            if company.is_none_or(|c| entry.company.as_deref() == Some(c)) && entries.len() < limit {
                entries.push(entry);
            }
        }
        match rows.last() {
            Some((key, _)) if rows.len() == PAGE => before = Some(key.clone()),
            _ => break,
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests;
