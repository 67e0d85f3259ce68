//! The embedded backend: redb, one file in the data directory. A single machine needs
//! nothing else.
//!
//! Migrations: redb tables are created when first opened, and record changes are
//! absorbed by serde defaults, so opening the file is the whole migration; the schema
//! version is kept in the `meta` table to refuse a file written by a newer host.

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};

use super::{ALL_TABLES, RawRead, RawWrite, Row, StoreError, kv};

/// The schema this host writes; a file with a higher one came from a newer host.
const SCHEMA_VERSION: u64 = 1;
const META: TableDefinition<'static, &'static str, u64> = TableDefinition::new("meta");

fn db_error(error: impl Into<redb::Error>) -> StoreError {
    StoreError::Database(error.into().to_string())
}

fn table(name: &str) -> TableDefinition<'_, &'static str, &'static [u8]> {
    TableDefinition::new(name)
}

/// An open redb database; cheap to clone.
#[derive(Clone)]
pub(super) struct Db {
    db: Arc<Database>,
}

impl Db {
    pub(super) fn open(data_dir: &Path) -> Result<Db, StoreError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| StoreError::Database(format!("{}: {e}", data_dir.display())))?;
        let db = Database::create(data_dir.join("centralita.redb")).map_err(db_error)?;
        Db { db: Arc::new(db) }.migrate()
    }

    pub(super) fn in_memory() -> Result<Db, StoreError> {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(db_error)?;
        Db { db: Arc::new(db) }.migrate()
    }

    fn migrate(self) -> Result<Db, StoreError> {
        let write = self.begin_write()?;
        {
            let mut meta = write.inner.open_table(META).map_err(db_error)?;
            let found = meta.get("schema_version").map_err(db_error)?.map(|v| v.value());
            if let Some(found) = found.filter(|v| *v > SCHEMA_VERSION) {
                return Err(StoreError::Database(format!(
                    "the store has schema version {found}, newer than this host's {SCHEMA_VERSION}: run a newer centralita"
                )));
            }
            meta.insert("schema_version", SCHEMA_VERSION).map_err(db_error)?;
            for name in ALL_TABLES.iter().chain([&kv::TABLE, &kv::BLOBS]) {
                write.inner.open_table(table(name)).map_err(db_error)?;
            }
        }
        write.commit()?;
        Ok(self)
    }

    pub(super) fn begin_write(&self) -> Result<Write, StoreError> {
        Ok(Write { inner: self.db.begin_write().map_err(db_error)? })
    }

    pub(super) fn begin_read(&self) -> Result<Read, StoreError> {
        Ok(Read { inner: self.db.begin_read().map_err(db_error)? })
    }
}

pub(super) struct Write {
    inner: WriteTransaction,
}

impl Write {
    pub(super) fn commit(self) -> Result<(), StoreError> {
        self.inner.commit().map_err(db_error)
    }
}

pub(super) struct Read {
    inner: ReadTransaction,
}

/// The raw reads, the same on a read and a write transaction.
macro_rules! impl_raw_read {
    ($ty:ty) => {
        impl RawRead for $ty {
            fn get(&self, name: &'static str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
                let table = self.inner.open_table(table(name)).map_err(db_error)?;
                Ok(table.get(key).map_err(db_error)?.map(|v| v.value().to_vec()))
            }

            fn scan(&self, name: &'static str, prefix: &str) -> Result<Vec<Row>, StoreError> {
                let table = self.inner.open_table(table(name)).map_err(db_error)?;
                let mut rows = Vec::new();
                for row in table.range(prefix..).map_err(db_error)? {
                    let (key, value) = row.map_err(db_error)?;
                    if !key.value().starts_with(prefix) {
                        break;
                    }
                    rows.push((key.value().to_string(), value.value().to_vec()));
                }
                Ok(rows)
            }

            fn count(&self, name: &'static str, prefix: &str) -> Result<usize, StoreError> {
                let table = self.inner.open_table(table(name)).map_err(db_error)?;
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

            fn scan_back(
                &self,
                name: &'static str,
                before: Option<&str>,
                limit: usize,
            ) -> Result<Vec<Row>, StoreError> {
                let table = self.inner.open_table(table(name)).map_err(db_error)?;
                let range = match before {
                    Some(before) => table.range(..before),
                    None => table.range::<&str>(..),
                };
                range
                    .map_err(db_error)?
                    .rev()
                    .take(limit)
                    .map(|row| {
                        let (key, value) = row.map_err(db_error)?;
                        Ok((key.value().to_string(), value.value().to_vec()))
                    })
                    .collect()
            }
        }
    };
}

impl_raw_read!(Read);
impl_raw_read!(Write);

impl RawWrite for Write {
    fn put(&mut self, name: &'static str, key: &str, value: &[u8]) -> Result<(), StoreError> {
        let mut table = self.inner.open_table(table(name)).map_err(db_error)?;
        table.insert(key, value).map_err(db_error)?;
        Ok(())
    }

    fn delete(&mut self, name: &'static str, key: &str) -> Result<bool, StoreError> {
        let mut table = self.inner.open_table(table(name)).map_err(db_error)?;
        Ok(table.remove(key).map_err(db_error)?.is_some())
    }

    fn delete_prefix(&mut self, name: &'static str, prefix: &str) -> Result<usize, StoreError> {
        let mut table = self.inner.open_table(table(name)).map_err(db_error)?;
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
}
