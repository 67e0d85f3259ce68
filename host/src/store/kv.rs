//! Storage behind the modules' `kv` import and the component bytes of module versions.
//! Both are raw byte tables: kv rows are `version (u64 LE) ++ value`, keyed by
//! `company NUL module NUL key`, so one company's module can never name another's rows.
//! A compare-and-swap reads and writes in one write transaction; write transactions are
//! serialised on every backend, so the check holds across hosts too.

use super::{RawRead, Snapshot, Store, StoreError, Tx};

pub(super) const TABLE: &str = "module_kv";
pub(super) const BLOBS: &str = "module_blobs";

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

fn current(raw: &dyn RawRead, full_key: &str) -> Result<Option<KvEntry>, StoreError> {
    Ok(raw.get(TABLE, full_key)?.and_then(|bytes| decode_entry(&bytes)))
}

impl Store {
    /// Read a module's key.
    pub fn kv_get(&self, company: &str, module: &str, key: &str) -> Result<Option<KvEntry>, StoreError> {
        self.read(|snapshot| current(snapshot.raw(), &kv_key(company, module, key)))
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
            let full_key = kv_key(company, module, key);
            let current_version = current(tx.raw(), &full_key)?.map(|c| c.version);
            if let Some(expected) = expected
                && expected != current_version
            {
                return Err(KvWriteError::Conflict(current_version));
            }
            let version = current_version.unwrap_or(0) + 1;
            let mut row = version.to_le_bytes().to_vec();
            row.extend_from_slice(value);
            tx.raw_mut().put(TABLE, &full_key, &row)?;
            Ok(version)
        })
    }

    /// Remove a module's key; returns whether it existed.
    pub fn kv_delete(&self, company: &str, module: &str, key: &str) -> Result<bool, StoreError> {
        self.write(|tx| tx.raw_mut().delete(TABLE, &kv_key(company, module, key)))
    }
}

impl Tx {
    /// Remove every kv row of every module of `company`.
    pub fn delete_company_kv(&mut self, company: &str) -> Result<usize, StoreError> {
        self.raw_mut().delete_prefix(TABLE, &super::company_prefix(company))
    }

    /// Store component bytes under their SHA-256 (hex); identical uploads share a row.
    pub fn put_blob(&mut self, sha256: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.raw_mut().put(BLOBS, sha256, bytes)
    }
}

/// Reading component bytes.
pub trait ReadBlob: super::Read {
    /// The component bytes stored under `sha256`.
    fn blob(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError>;
}

impl ReadBlob for Snapshot {
    fn blob(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.raw().get(BLOBS, sha256)
    }
}
