//! Moving a whole store to another backend: `centralita store copy` takes a single
//! host's redb data into the PostgreSQL database a cluster will share.

use super::{ALL_TABLES, Store, StoreError, kv};

/// Every table a store holds, records and module data alike.
pub(super) fn every_table() -> impl Iterator<Item = &'static str> {
    ALL_TABLES.iter().copied().chain([kv::TABLE, kv::BLOBS])
}

/// How many rows each table moved.
#[derive(Debug, Default)]
pub struct CopyReport {
    pub tables: Vec<(&'static str, usize)>,
}

impl CopyReport {
    pub fn rows(&self) -> usize {
        self.tables.iter().map(|(_, rows)| rows).sum()
    }
}

impl Store {
    /// Copy every row of this store into `target`, in one transaction there: all or
    /// nothing. `target` must be empty, so nothing of it is overwritten or mixed in.
    pub fn copy_into(&self, target: &Store) -> Result<CopyReport, StoreError> {
        self.read(|source| {
            target.write(|tx| {
                for table in every_table() {
                    if tx.raw().count(table, "")? > 0 {
                        return Err(StoreError::Database(format!(
                            "the target store is not empty (table {table} has rows): copy into a new database"
                        )));
                    }
                }
                let mut report = CopyReport::default();
                for table in every_table() {
                    let rows = source.raw().scan(table, "")?;
                    for (key, value) in &rows {
                        tx.raw_mut().put(table, key, value)?;
                    }
                    report.tables.push((table, rows.len()));
                }
                Ok(report)
            })
        })
    }
}
