//! Call recordings as stored data (SPEC.md §6): the call engine records a call's two sides
//! and hands them to [`save`] (after asking [`may_record`] at the start); the API lists,
//! downloads and deletes them; [`retention_loop`] deletes old ones.
//!
//! A recording is a [`Recording`] row in the store (keyed by company and id) and a
//! two-channel 8 kHz WAV file, the caller on the left and the callee on the right
//! ([`files`]). The file is written before the row and removed after it, so a listed
//! recording always has its audio.
//!
//! - [`quota`]: the company's storage quota and the bytes in use.
//! - [`retention`]: deleting recordings older than the company's retention days.
//! - [`filter`]: which recordings a listing shows.

mod files;
pub mod filter;
pub mod quota;
pub mod retention;

use chrono::{DateTime, Utc};

pub use filter::RecordingFilter;
pub use quota::{may_record, used_bytes};
pub use retention::{RETENTION_INTERVAL, purge_expired, retention_loop};

use crate::app::App;
use crate::audit::Actor;
use crate::media::audio::{SAMPLE_RATE, wav};
use crate::routing::call::Direction;
use crate::store::records::Recording;
use crate::store::{RECORDING_USAGE, RECORDINGS, Read, StoreError, Tx, company_key, company_prefix};
use files::Files;

/// Channels of every recording: the caller's side and the callee's.
pub const CHANNELS: u16 = 2;

/// Audit action of a recording deleted through the API.
pub const DELETE_ACTION: &str = "recording.delete";

/// Why a recording could not be stored, read or deleted.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The WAV file could not be written, read or removed.
    #[error("recording file of {company}/{id}: {source}")]
    File { company: String, id: String, source: std::io::Error },
    /// The company id is not one the host would make (it would name a wrong folder).
    #[error("{0:?} is not a company id")]
    InvalidCompany(String),
    /// No recording with this id in this company.
    #[error("recording {0:?} not found")]
    NotFound(String),
}

/// What the call engine knows about a recording when it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecording {
    pub company: String,
    /// SIP Call-ID of the call's first leg.
    pub call_id: String,
    pub direction: Direction,
    /// The calling number.
    pub from: String,
    /// The called number.
    pub to: String,
    /// The extension whose recording setting made the recording.
    pub extension: String,
    /// When recording started.
    pub started_at: DateTime<Utc>,
}

/// Store a finished two-channel recording (left = caller, right = callee; the shorter side
/// is padded with silence). Blocking I/O: the call engine calls it from `spawn_blocking`.
/// Returns the record.
pub fn save(app: &App, meta: NewRecording, left: &[i16], right: &[i16]) -> Result<Recording, RecordingError> {
    if !valid_company(&meta.company) {
        return Err(RecordingError::InvalidCompany(meta.company));
    }
    let bytes = wav::write_stereo(left, right);
    let samples = left.len().max(right.len()) as u64;
    let recording = Recording {
        id: new_id(meta.started_at),
        company: meta.company,
        call_id: meta.call_id,
        direction: meta.direction,
        from: meta.from,
        to: meta.to,
        extension: meta.extension,
        started_at: meta.started_at,
        duration_ms: samples * 1000 / u64::from(SAMPLE_RATE),
        size: bytes.len() as u64,
        channels: CHANNELS,
    };
    let files = Files::of(app);
    files
        .write(&recording.company, &recording.id, &bytes)
        .map_err(|source| file_error(&recording, source))?;
    let stored = app.store.write(|tx| {
        tx.put(&RECORDINGS, &company_key(&recording.company, &recording.id), &recording)?;
        change_usage(tx, &recording.company, |bytes| bytes.saturating_add(recording.size))
    });
    if let Err(error) = stored {
        // Without its row the file would never be listed nor count against the quota.
        let _ = files.remove(&recording.company, &recording.id);
        return Err(error.into());
    }
    Ok(recording)
}

/// Recording `id` of `company`.
pub fn get(app: &App, company: &str, id: &str) -> Result<Recording, RecordingError> {
    let recording =
        if valid_id(id) { app.store.read(|r| r.get(&RECORDINGS, &company_key(company, id)))? } else { None };
    recording.ok_or_else(|| RecordingError::NotFound(id.to_string()))
}

/// The record and WAV bytes of recording `id` of `company`. Blocking I/O.
pub fn audio(app: &App, company: &str, id: &str) -> Result<(Recording, Vec<u8>), RecordingError> {
    let recording = get(app, company, id)?;
    let bytes = Files::of(app)
        .read(&recording.company, &recording.id)
        .map_err(|source| file_error(&recording, source))?;
    Ok((recording, bytes))
}

/// Every recording of `company` that `filter` matches, newest first.
pub fn find(app: &App, company: &str, filter: &RecordingFilter) -> Result<Vec<Recording>, StoreError> {
    let mut recordings = app.store.read(|r| r.scan(&RECORDINGS, &company_prefix(company)))?;
    recordings.retain(|r| filter.matches(r));
    // Ids start with the start time: key order is oldest first.
    recordings.reverse();
    Ok(recordings)
}

/// Which of the ids given to [`delete`] were deleted and which were not found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deleted {
    pub deleted: Vec<String>,
    pub not_found: Vec<String>,
}

/// Delete the recordings `ids` of `company` (an id given twice counts once), auditing each
/// one by `actor` in the same transaction. Blocking I/O.
pub fn delete(app: &App, company: &str, ids: &[String], actor: &Actor) -> Result<Deleted, RecordingError> {
    remove(app, company, ids, |tx, removed| {
        for recording in removed {
            let entity = format!("{company}/recordings/{}", recording.id);
            let detail = format!("call {}, {} -> {}", recording.call_id, recording.from, recording.to);
            tx.audit(actor.entry(Some(company), DELETE_ACTION, entity, Some(detail)))?;
        }
        Ok(())
    })
}

/// Remove every recording file of `company`, whose rows went with the company. Blocking I/O.
pub fn forget_company(app: &App, company: &str) -> Result<(), RecordingError> {
    if !valid_company(company) {
        return Err(RecordingError::InvalidCompany(company.to_string()));
    }
    Files::of(app).remove_company(company).map_err(|source| RecordingError::File {
        company: company.to_string(),
        id: "*".to_string(),
        source,
    })
}

/// Delete the recordings `ids` of `company` and run `audit` on the removed records inside
/// the same transaction; files go once the rows are gone.
fn remove(
    app: &App,
    company: &str,
    ids: &[String],
    audit: impl FnOnce(&mut Tx, &[Recording]) -> Result<(), StoreError>,
) -> Result<Deleted, RecordingError> {
    let mut unique: Vec<&String> = Vec::with_capacity(ids.len());
    for id in ids {
        if !unique.contains(&id) {
            unique.push(id);
        }
    }
    let (removed, not_found) = app.store.write(|tx| {
        let mut removed = Vec::new();
        let mut not_found = Vec::new();
        for id in unique {
            let key = company_key(company, id);
            match if valid_id(id) { tx.get(&RECORDINGS, &key)? } else { None } {
                Some(recording) => {
                    tx.delete(&RECORDINGS, &key)?;
                    removed.push(recording);
                }
                None => not_found.push(id.clone()),
            }
        }
        if !removed.is_empty() {
            let freed: u64 = removed.iter().map(|r| r.size).sum();
            change_usage(tx, company, |bytes| bytes.saturating_sub(freed))?;
            audit(tx, &removed)?;
        }
        Ok::<_, StoreError>((removed, not_found))
    })?;
    let files = Files::of(app);
    for recording in &removed {
        if let Err(source) = files.remove(company, &recording.id) {
            // The row is gone, so the recording is deleted for every reader; the file is
            // only wasted space.
            tracing::warn!(error = %file_error(recording, source), "recording file left behind");
        }
    }
    Ok(Deleted { deleted: removed.into_iter().map(|r| r.id).collect(), not_found })
}

/// Change `company`'s bytes in use with `change` and settle its quota mark.
fn change_usage(tx: &mut Tx, company: &str, change: impl FnOnce(u64) -> u64) -> Result<(), StoreError> {
    let mut usage = tx.get(&RECORDING_USAGE, company)?.unwrap_or_default();
    usage.bytes = change(usage.bytes);
    quota::settle(tx, company, &mut usage)?;
    tx.put(&RECORDING_USAGE, company, &usage)
}

fn file_error(recording: &Recording, source: std::io::Error) -> RecordingError {
    RecordingError::File { company: recording.company.clone(), id: recording.id.clone(), source }
}

/// A new recording id: the start time to the millisecond (so ids sort in time order) and
/// a random suffix, e.g. `20260301T093000123Z-5f0c2a9e`.
fn new_id(started_at: DateTime<Utc>) -> String {
    format!("{}-{:08x}", started_at.format("%Y%m%dT%H%M%S%3fZ"), rand::random::<u32>())
}

/// Whether `id` could be a recording id: 1-64 ASCII letters, digits and '-' (so it is safe
/// in a file name; anything else is not found without looking).
pub fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A company id as the API accepts them: 1-32 lowercase letters, digits and '-'.
fn valid_company(company: &str) -> bool {
    (1..=32).contains(&company.len())
        && company.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests;
