//! Storage behind the modules' `kv` import and the component bytes of module versions.
//! Both are raw byte tables: kv rows are `version (u64 LE) ++ value`, keyed by
//! `company NUL module NUL key`, so one company's module can never name another's rows.

use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use super::{Read, Snapshot, Store, StoreError, Tx, db_error};

pub(super) const TABLE: TableDefinition<'static, &'static str, &'static [u8]> =
    TableDefinition::new("module_kv");
pub(super) const BLOBS: TableDefinition<'static, &'static str, &'static [u8]> =
    TableDefinition::new("module_blobs");

/// A kv value and its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvEntry {
    pub value: Vec<u8>,
    pub version: u64,
}

/// Why a kv write was refused.
#[derive(Debug, thiserror::Error)]
pub enum KvWriteError {
    /// The version was not the expected one; carries the current one.
    #[error("version conflict")]
    Conflict(Option<u64>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn kv_key(company: &str, module: &str, key: &str) -> String {
    format!("{company}\0{module}\0{key}")
}

fn decode_entry(bytes: &[u8]) -> Option<KvEntry> {
    let (version, value) = bytes.split_first_chunk::<8>()?;
    Some(KvEntry { version: u64::from_le_bytes(*version), value: value.to_vec() })
}

impl Store {
    /// Read a module's key.
    pub fn kv_get(&self, company: &str, module: &str, key: &str) -> Result<Option<KvEntry>, StoreError> {
        let read = self.db.begin_read().map_err(db_error)?;
        let table = read.open_table(TABLE).map_err(db_error)?;
        let value = table.get(kv_key(company, module, key).as_str()).map_err(db_error)?;
        Ok(value.and_then(|v| decode_entry(v.value())))
    }

    /// Write a module's key if its current version is `expected` (`None` in the outer
    /// option = write unconditionally); returns the new version.
    pub fn kv_put(
        &self,
        company: &str,
        module: &str,
        key: &str,
        expected: Option<Option<u64>>,
        value: &[u8],
    ) -> Result<u64, KvWriteError> {
        self.write(|tx| {
            let mut table = tx.inner.open_table(TABLE).map_err(db_error)?;
            let full_key = kv_key(company, module, key);
            let current =
                table.get(full_key.as_str()).map_err(db_error)?.and_then(|v| decode_entry(v.value()));
            let current_version = current.map(|c| c.version);
            if let Some(expected) = expected
                && expected != current_version
            {
                return Err(KvWriteError::Conflict(current_version));
            }
            let version = current_version.unwrap_or(0) + 1;
            let mut row = version.to_le_bytes().to_vec();
            row.extend_from_slice(value);
            table.insert(full_key.as_str(), row.as_slice()).map_err(db_error)?;
            Ok(version)
        })
    }

    /// Remove a module's key; returns whether it existed.
    pub fn kv_delete(&self, company: &str, module: &str, key: &str) -> Result<bool, StoreError> {
        self.write(|tx| {
            let mut table = tx.inner.open_table(TABLE).map_err(db_error)?;
            let existed = table.remove(kv_key(company, module, key).as_str()).map_err(db_error)?.is_some();
            Ok(existed)
        })
    }
}

impl Tx {
    /// Remove every kv row of every module of `company`.
    pub fn delete_company_kv(&mut self, company: &str) -> Result<usize, StoreError> {
        let mut table = self.inner.open_table(TABLE).map_err(db_error)?;
        super::remove_prefix(&mut table, &super::company_prefix(company))
    }

    /// Store component bytes under their SHA-256 (hex); identical uploads share a row.
    pub fn put_blob(&mut self, sha256: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let mut table = self.inner.open_table(BLOBS).map_err(db_error)?;
        table.insert(sha256, bytes).map_err(db_error)?;
        Ok(())
    }
}

/// Reading component bytes.
pub trait ReadBlob: Read {
    /// The component bytes stored under `sha256`.
    fn blob(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError>;
}

impl ReadBlob for Snapshot {
    fn blob(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let table = self.inner.open_table(BLOBS).map_err(db_error)?;
        Ok(table.get(sha256).map_err(db_error)?.map(|v| v.value().to_vec()))
    }
}
