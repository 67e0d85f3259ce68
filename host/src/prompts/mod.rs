//! Prompts ("locuciones", SPEC.md §5): the audio a company plays to callers — greetings,
//! announcements, music on hold — uploaded in any common format and converted once to
//! telephony audio, plus the system defaults that ship with the product ([`system`]).
//!
//! A company's upload of a name replaces the system prompt of that name for its calls (that
//! is how a company sets its own music on hold). Calls read prompts through [`Prompts::get`],
//! which keeps every prompt it has decoded in memory until it is replaced or deleted.
//!
//! - [`system`]: the default prompts and their names.

mod files;
pub mod system;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::Utc;
use serde::Serialize;
use utoipa::ToSchema;

use crate::media::audio::convert::{ConvertError, format_name, to_telephony};
use crate::media::audio::{Audio, wav};
use crate::store::records::{AuditEntry, Prompt};
use crate::store::{PROMPTS, Read, Store, StoreError, company_key, company_prefix};

/// Longest prompt name.
pub const MAX_NAME_LEN: usize = 64;

/// Why a prompt operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("invalid prompt name {0:?}: use 1-{MAX_NAME_LEN} lowercase letters, digits and '-'")]
    InvalidName(String),
    /// The upload is not audio the host can convert.
    #[error(transparent)]
    Convert(#[from] ConvertError),
    #[error("{company} has no uploaded prompt {name:?}")]
    NotFound { company: String, name: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A converted prompt's file could not be written, read or removed.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// The conversion thread died (a bug, not bad input).
    #[error("the conversion task failed: {0}")]
    Task(String),
}

/// Checks a prompt name: 1-64 lowercase ASCII letters, digits and '-'. It becomes part of a
/// file name, so nothing else is let through.
pub fn check_name(name: &str) -> Result<(), PromptError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if valid { Ok(()) } else { Err(PromptError::InvalidName(name.to_string())) }
}

/// Whether a company id can be a folder name (ids are validated at creation; this guards
/// the file system against any that were not).
fn safe_company(company: &str) -> bool {
    !company.is_empty()
        && !company.starts_with('.')
        && company.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// Where a prompt a company can play comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PromptSource {
    /// Uploaded by the company.
    Company,
    /// Ships with the host.
    System,
}

/// A prompt as the API shows it: a company upload or a system default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PromptInfo {
    pub name: String,
    pub source: PromptSource,
    /// How long the converted audio lasts, in milliseconds.
    pub duration_ms: u64,
    /// A system prompt that the company's upload of the same name replaces.
    pub overridden: bool,
    /// Uploads: the uploaded file's format ("wav", "mp3", "ogg", "flac", "unknown").
    pub original_format: Option<String>,
    /// Uploads: the uploaded file's size in bytes.
    pub original_size: Option<u64>,
    /// Uploads: when.
    pub uploaded_at: Option<chrono::DateTime<Utc>>,
    /// Uploads: who ("operator" or "key:<id>").
    pub uploaded_by: Option<String>,
}

impl PromptInfo {
    fn uploaded(prompt: Prompt) -> PromptInfo {
        PromptInfo {
            name: prompt.name,
            source: PromptSource::Company,
            duration_ms: prompt.duration_ms,
            overridden: false,
            original_format: Some(prompt.original_format),
            original_size: Some(prompt.original_size),
            uploaded_at: Some(prompt.uploaded_at),
            uploaded_by: Some(prompt.uploaded_by),
        }
    }

    /// The system prompt `name`, if one ships.
    fn system(name: &str, overridden: bool) -> Option<PromptInfo> {
        let audio = system::get(name)?;
        Some(PromptInfo {
            name: name.to_string(),
            source: PromptSource::System,
            duration_ms: audio.duration().as_millis() as u64,
            overridden,
            original_format: None,
            original_size: None,
            uploaded_at: None,
            uploaded_by: None,
        })
    }
}

/// The prompts of every company; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Prompts {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Where converted uploads live; `None` keeps them in memory (tests).
    dir: Option<PathBuf>,
    /// Decoded prompts and in-memory uploads. The lock is held only for map operations
    /// and renames, never while a file is read or converted.
    cache: Mutex<Cache>,
}

#[derive(Debug, Default)]
struct Cache {
    /// What each company plays by name: its upload, else the system default, else none.
    decoded: HashMap<(String, String), Option<Audio>>,
    /// Bumped by every upload and deletion, so that a file read that raced one is not
    /// cached.
    generation: u64,
    /// Uploads of a host without a directory.
    in_memory: HashMap<(String, String), Audio>,
}

impl Prompts {
    pub fn new(dir: Option<PathBuf>) -> Prompts {
        Prompts { inner: Arc::new(Inner { dir, cache: Mutex::default() }) }
    }

    fn cache(&self) -> MutexGuard<'_, Cache> {
        // Every change under the lock is a single insert or remove: a panic elsewhere while
        // it was held cannot have left it half-updated.
        crate::sync::lock(&self.inner.cache)
    }

    /// The prompt `name` of `company`: its upload, else the system default of that name.
    /// The first use of a company's prompt reads its file (a few kB to a few MB), outside
    /// any lock; later uses are a map lookup.
    pub fn get(&self, company: &str, name: &str) -> Option<Audio> {
        if check_name(name).is_err() || !safe_company(company) {
            return None;
        }
        let key = (company.to_string(), name.to_string());
        let generation = {
            let cache = self.cache();
            if let Some(hit) = cache.decoded.get(&key) {
                return hit.clone();
            }
            if self.inner.dir.is_none() {
                return cache.in_memory.get(&key).cloned().or_else(|| system::get(name));
            }
            cache.generation
        };
        let audio = self.read_upload(company, name).or_else(|| system::get(name));
        let mut cache = self.cache();
        // An upload or deletion while the file was read may have made it stale: keep
        // the answer out of the cache then (the next call reads again).
        if cache.generation == generation {
            cache.decoded.insert(key, audio.clone());
        }
        audio
    }

    /// The company's converted upload `name` from its file.
    fn read_upload(&self, company: &str, name: &str) -> Option<Audio> {
        let path = files::path(self.inner.dir.as_ref()?, company, name);
        let bytes = match files::read(&path) {
            Ok(bytes) => bytes?,
            Err(error) => {
                tracing::warn!(%error, company, prompt = name, "cannot read an uploaded prompt; using the default");
                return None;
            }
        };
        wav::read(&bytes)
            .inspect_err(|error| {
                tracing::warn!(%error, path = %path.display(), "an uploaded prompt's file is unreadable; using the default");
            })
            .ok()
    }

    /// The converted WAV (8 kHz mono 16-bit) of what `company` plays as `name`.
    pub fn wav(&self, company: &str, name: &str) -> Option<Vec<u8>> {
        self.get(company, name).map(|audio| wav::write_mono(&audio))
    }

    /// Converts `bytes` (any format [`to_telephony`] reads; `hint` an extension or MIME
    /// type) and stores it as the company's prompt `name`, replacing any previous upload
    /// of that name; calls starting after this returns play the new audio. The record is
    /// written with `audit` in one transaction; `audit.actor` is recorded as the uploader.
    /// The conversion runs on a blocking thread, once.
    pub async fn put(
        &self,
        store: &Store,
        company: &str,
        name: &str,
        bytes: Vec<u8>,
        hint: Option<String>,
        audit: AuditEntry,
    ) -> Result<PromptInfo, PromptError> {
        check_name(name)?;
        if !safe_company(company) {
            return Err(PromptError::InvalidName(format!("{company}/{name}")));
        }
        let (original_format, original_size) = (format_name(&bytes).to_string(), bytes.len() as u64);
        let audio = tokio::task::spawn_blocking(move || to_telephony(&bytes, hint.as_deref()))
            .await
            .map_err(|e| PromptError::Task(e.to_string()))??;
        let prompt = Prompt {
            company: company.to_string(),
            name: name.to_string(),
            duration_ms: audio.duration().as_millis() as u64,
            original_format,
            original_size,
            uploaded_at: Utc::now(),
            uploaded_by: audit.actor.clone(),
        };
        // The audio first: a crash before the record leaves an unlisted file that the
        // next upload of the name replaces, never a listed prompt without audio.
        self.store_audio(company, name, audio).await?;
        let recorded = store.write(|tx| {
            tx.put(&PROMPTS, &company_key(company, name), &prompt)?;
            tx.audit(audit)?;
            Ok::<_, StoreError>(())
        });
        if let Err(error) = recorded {
            // Undo, so the company does not play audio that it cannot see or delete.
            if let Err(undo) = self.remove_audio(company, name).await {
                tracing::error!(error = %undo, company, prompt = name, "cannot remove a prompt whose record failed");
            }
            return Err(error.into());
        }
        Ok(PromptInfo::uploaded(prompt))
    }

    /// Writes the converted audio (file or memory) and puts it in the cache.
    async fn store_audio(&self, company: &str, name: &str, audio: Audio) -> Result<(), PromptError> {
        let key = (company.to_string(), name.to_string());
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let staged = match &this.inner.dir {
                Some(dir) => {
                    let path = files::path(dir, &key.0, &key.1);
                    Some((files::stage(&path, &wav::write_mono(&audio))?, path))
                }
                None => None,
            };
            let mut cache = this.cache();
            match staged {
                Some((staged, path)) => files::commit(&staged, &path)?,
                None => _ = cache.in_memory.insert(key.clone(), audio.clone()),
            }
            cache.generation += 1;
            cache.decoded.insert(key, Some(audio));
            Ok(())
        })
        .await
        .map_err(|e| PromptError::Task(e.to_string()))?
    }

    /// Removes the company's audio of `name` (file or memory) and forgets its decoding.
    async fn remove_audio(&self, company: &str, name: &str) -> Result<(), PromptError> {
        let key = (company.to_string(), name.to_string());
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut cache = this.cache();
            match &this.inner.dir {
                Some(dir) => files::remove(&files::path(dir, &key.0, &key.1))?,
                None => _ = cache.in_memory.remove(&key),
            }
            cache.generation += 1;
            cache.decoded.remove(&key);
            Ok(())
        })
        .await
        .map_err(|e| PromptError::Task(e.to_string()))?
    }

    /// Deletes the company's upload `name` (the system default of that name, if any, plays
    /// again), writing `audit` with the record's removal.
    pub async fn delete(
        &self,
        store: &Store,
        company: &str,
        name: &str,
        audit: AuditEntry,
    ) -> Result<(), PromptError> {
        check_name(name)?;
        let key = company_key(company, name);
        let not_found = || PromptError::NotFound { company: company.to_string(), name: name.to_string() };
        if store.read(|r| r.get(&PROMPTS, &key))?.is_none() {
            return Err(not_found());
        }
        // The audio first: if the record's removal then fails, the listed prompt plays the
        // default and deleting it again finishes the job.
        self.remove_audio(company, name).await?;
        store.write(|tx| {
            if !tx.delete(&PROMPTS, &key)? {
                return Err(not_found());
            }
            tx.audit(audit)?;
            Ok(())
        })
    }

    /// The company's upload `name`, else the system prompt of that name.
    pub fn info(&self, store: &Store, company: &str, name: &str) -> Result<Option<PromptInfo>, PromptError> {
        check_name(name)?;
        match store.read(|r| r.get(&PROMPTS, &company_key(company, name)))? {
            Some(prompt) => Ok(Some(PromptInfo::uploaded(prompt))),
            None => Ok(PromptInfo::system(name, false)),
        }
    }

    /// The company's uploads, then every system prompt (marked `overridden` where an
    /// upload replaces it), each by name.
    pub fn list(&self, store: &Store, company: &str) -> Result<Vec<PromptInfo>, PromptError> {
        let uploads = store.read(|r| r.scan(&PROMPTS, &company_prefix(company)))?;
        let overridden = |name: &str| uploads.iter().any(|p| p.name == name);
        let mut defaults: Vec<PromptInfo> =
            system::names().filter_map(|name| PromptInfo::system(name, overridden(name))).collect();
        defaults.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(uploads.into_iter().map(PromptInfo::uploaded).chain(defaults).collect())
    }

    /// Forgets a deleted company's uploads: its files (or memory) and cached decodings. Its
    /// records go with the company's other rows.
    pub fn forget_company(&self, company: &str) -> Result<(), PromptError> {
        let mut cache = self.cache();
        cache.generation += 1;
        cache.decoded.retain(|(c, _), _| c != company);
        cache.in_memory.retain(|(c, _), _| c != company);
        match &self.inner.dir {
            Some(dir) if safe_company(company) => files::remove_folder(&dir.join(company)),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
