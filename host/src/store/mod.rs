//! The store: every table access of the host goes through this module's API, and nothing
//! outside it knows the backend is redb (one file, `centralita.redb`, in the data
//! directory). Writes are ACID transactions committed with immediate durability, so an
//! acknowledged API write survives a crash; an entity change and its audit entry commit
//! together.
//!
//! Records are JSON in string-keyed tables. Keys of per-company tables start with the
//! company id and a NUL, so one company's rows are one contiguous range.

mod collections;
mod kv;
pub mod records;

use std::path::Path;

use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use collections::*;
pub use kv::{KvEntry, KvWriteError, ReadBlob};
use records::AuditEntry;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened, read or written.
    #[error("database: {0}")]
    Database(String),
    /// A stored record could not be decoded (a bug or a damaged file).
    #[error("stored record {key:?} in {table} is unreadable: {reason}")]
    Corrupt { table: &'static str, key: String, reason: String },
}

fn db_error(error: impl Into<redb::Error>) -> StoreError {
    StoreError::Database(error.into().to_string())
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

    fn definition(&self) -> TableDefinition<'static, &'static str, &'static [u8]> {
        TableDefinition::new(self.name)
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

/// The handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: std::sync::Arc<Database>,
}

impl Store {
    /// Open (or create) the store in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| StoreError::Database(format!("{}: {e}", data_dir.display())))?;
        let db = Database::create(data_dir.join("centralita.redb")).map_err(db_error)?;
        Store::init(Store { db: std::sync::Arc::new(db) })
    }

    /// A store that lives in memory only, for `centralita module run` and tests.
    pub fn in_memory() -> Result<Store, StoreError> {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(db_error)?;
        Store::init(Store { db: std::sync::Arc::new(db) })
    }

    fn init(store: Store) -> Result<Store, StoreError> {
        store.write(|tx| {
            for name in ALL_TABLES {
                tx.inner.open_table(TableDefinition::<&str, &[u8]>::new(name)).map_err(db_error)?;
            }
            tx.inner.open_table(kv::TABLE).map_err(db_error)?;
            tx.inner.open_table(kv::BLOBS).map_err(db_error)?;
            Ok::<_, StoreError>(())
        })?;
        Ok(store)
    }

    /// Run `f` in a write transaction and commit it durably if `f` returns `Ok`; an
    /// `Err` from `f` aborts every write it made.
    pub fn write<R, E: From<StoreError>>(&self, f: impl FnOnce(&mut Tx) -> Result<R, E>) -> Result<R, E> {
        let inner = self.db.begin_write().map_err(db_error)?;
        let mut tx = Tx { inner };
        let result = f(&mut tx)?;
        tx.inner.commit().map_err(db_error)?;
        Ok(result)
    }

    /// Run `f` on a consistent snapshot.
    pub fn read<R, E: From<StoreError>>(&self, f: impl FnOnce(&Snapshot) -> Result<R, E>) -> Result<R, E> {
        let inner = self.db.begin_read().map_err(db_error)?;
        f(&Snapshot { inner })
    }
}

/// A write transaction.
pub struct Tx {
    inner: WriteTransaction,
}

/// A read-only snapshot.
pub struct Snapshot {
    inner: ReadTransaction,
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
                let table = self.inner.open_table(collection.definition()).map_err(db_error)?;
                let value = table.get(key).map_err(db_error)?;
                value.map(|v| decode(collection.name, key, v.value())).transpose()
            }

            fn scan<T: DeserializeOwned>(
                &self,
                collection: &Collection<T>,
                prefix: &str,
            ) -> Result<Vec<T>, StoreError> {
                let table = self.inner.open_table(collection.definition()).map_err(db_error)?;
                let mut records = Vec::new();
                for row in table.range(prefix..).map_err(db_error)? {
                    let (key, value) = row.map_err(db_error)?;
                    if !key.value().starts_with(prefix) {
                        break;
                    }
                    records.push(decode(collection.name, key.value(), value.value())?);
                }
                Ok(records)
            }

            fn count<T>(&self, collection: &Collection<T>, prefix: &str) -> Result<usize, StoreError> {
                let table = self.inner.open_table(collection.definition()).map_err(db_error)?;
                let mut count = 0;
                for row in table.range(prefix..).map_err(db_error)? {
                    let (key, _) = row.map_err(db_error)?;
                    if !key.value().starts_with(prefix) {
                        break;
                    }
                    count += 1;
                }
                Ok(count)
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
        let mut table = self.inner.open_table(collection.definition()).map_err(db_error)?;
        table.insert(key, encode(record).as_slice()).map_err(db_error)?;
        Ok(())
    }

    /// Remove the record under `key`; returns whether it existed.
    pub fn delete<T>(&mut self, collection: &Collection<T>, key: &str) -> Result<bool, StoreError> {
        let mut table = self.inner.open_table(collection.definition()).map_err(db_error)?;
        let existed = table.remove(key).map_err(db_error)?.is_some();
        Ok(existed)
    }

    /// Remove every record whose key starts with `prefix`; returns how many.
    pub fn delete_prefix<T>(
        &mut self,
        collection: &Collection<T>,
        prefix: &str,
    ) -> Result<usize, StoreError> {
        let mut table = self.inner.open_table(collection.definition()).map_err(db_error)?;
        remove_prefix(&mut table, prefix)
    }

    /// Append `entry` to the audit log, numbering it after the last entry.
    pub fn audit(&mut self, mut entry: AuditEntry) -> Result<u64, StoreError> {
        let mut table = self.inner.open_table(AUDIT.definition()).map_err(db_error)?;
        let last = table.last().map_err(db_error)?.map(|(key, _)| key.value().to_string());
        entry.seq = last.and_then(|k| k.parse::<u64>().ok()).map_or(1, |seq| seq + 1);
        table.insert(audit_key(entry.seq).as_str(), encode(&entry).as_slice()).map_err(db_error)?;
        Ok(entry.seq)
    }
}

/// Remove every row of `table` whose key starts with `prefix`; returns how many.
fn remove_prefix(
    table: &mut redb::Table<&'static str, &'static [u8]>,
    prefix: &str,
) -> Result<usize, StoreError> {
    let keys: Vec<String> = table
        .range(prefix..)
        .map_err(db_error)?
        .map(|row| row.map(|(key, _)| key.value().to_string()))
        .take_while(|key| key.as_ref().map_or(true, |k| k.starts_with(prefix)))
        .collect::<Result<_, _>>()
        .map_err(db_error)?;
    for key in &keys {
        table.remove(key.as_str()).map_err(db_error)?;
    }
    Ok(keys.len())
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
    let table = snapshot.inner.open_table(AUDIT.definition()).map_err(db_error)?;
    let mut entries = Vec::new();
    // Newest first, stopping as soon as `limit` entries are found.
    for row in table.range::<&str>(..).map_err(db_error)?.rev() {
        if entries.len() >= limit {
            break;
        }
        let (key, value) = row.map_err(db_error)?;
        let entry: AuditEntry = decode(AUDIT.name, key.value(), value.value())?;
        if company.is_none_or(|c| entry.company.as_deref() == Some(c)) {
            entries.push(entry);
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests;
