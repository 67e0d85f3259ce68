//! A company's recording storage quota (SPEC.md §6): once its recordings take the quota,
//! new calls are not recorded and the admin is told by one audit entry, until space is
//! freed. The bytes in use are kept in one row per company ([`RECORDING_USAGE`]), updated
//! in the same transaction as every recording saved or deleted.

use chrono::Utc;

use crate::app::App;
use crate::audit::Actor;
use crate::store::records::RecordingUsage;
use crate::store::{COMPANIES, RECORDING_USAGE, Read, StoreError, Tx};

/// Bytes in one megabyte of `recording_quota_mb`.
pub const BYTES_PER_MB: u64 = 1_000_000;

/// Audit action written when a company's recordings reach its quota.
pub const QUOTA_REACHED_ACTION: &str = "recording.quota_reached";

/// The quota of `company` in bytes; none = no limit.
pub fn quota_bytes(quota_mb: Option<u64>) -> Option<u64> {
    quota_mb.map(|mb| mb.saturating_mul(BYTES_PER_MB))
}

/// Bytes the recordings of `company` take.
pub fn used_bytes(app: &App, company: &str) -> Result<u64, StoreError> {
    Ok(app.store.read(|r| r.get(&RECORDING_USAGE, company))?.unwrap_or_default().bytes)
}

/// Whether a new recording may start for `company` (quota not reached). When it is
/// reached, writes ONE audit entry per crossing ("recording quota reached") — not one per
/// call — and returns false.
///
/// If the store cannot be read the recording is allowed: a quota is a soft limit, and a
/// recording the law may require is not dropped for a passing read failure.
pub fn may_record(app: &App, company: &str) -> bool {
    match check(app, company) {
        Ok(allowed) => allowed,
        Err(error) => {
            tracing::warn!(%company, %error, "recording quota unknown; recording anyway");
            true
        }
    }
}

fn check(app: &App, company: &str) -> Result<bool, StoreError> {
    let (quota_mb, usage) = app.store.read(|r| {
        let quota = r.get(&COMPANIES, company)?.and_then(|c| c.recording_quota_mb);
        Ok::<_, StoreError>((quota, r.get(&RECORDING_USAGE, company)?.unwrap_or_default()))
    })?;
    let reached = is_reached(quota_bytes(quota_mb), &usage);
    if reached == usage.quota_reached_at.is_some() {
        // Nothing changed since the last look: no write, the common case at a call's start.
        return Ok(!reached);
    }
    // The state changed (a crossing, or space freed by a quota raise): settle it in a
    // write transaction, which sees every other writer's result, so that two calls starting
    // at once still audit a crossing once.
    app.store.write(|tx| {
        let mut usage = tx.get(&RECORDING_USAGE, company)?.unwrap_or_default();
        let reached = settle(tx, company, &mut usage)?;
        tx.put(&RECORDING_USAGE, company, &usage)?;
        Ok(!reached)
    })
}

fn is_reached(quota: Option<u64>, usage: &RecordingUsage) -> bool {
    quota.is_some_and(|quota| usage.bytes >= quota)
}

/// Bring `usage`'s "quota reached" mark up to date with its bytes and the company's quota
/// inside `tx`, auditing a new crossing; returns whether the quota is reached. The caller
/// stores `usage`.
pub(super) fn settle(tx: &mut Tx, company: &str, usage: &mut RecordingUsage) -> Result<bool, StoreError> {
    let quota = quota_bytes(tx.get(&COMPANIES, company)?.and_then(|c| c.recording_quota_mb));
    let reached = is_reached(quota, usage);
    match (reached, usage.quota_reached_at) {
        (true, None) => {
            usage.quota_reached_at = Some(Utc::now());
            let detail = format!(
                "recording quota reached: {} of {} bytes used; new calls are not recorded until space is freed",
                usage.bytes,
                quota.unwrap_or_default()
            );
            tx.audit(Actor::system().entry(
                Some(company),
                QUOTA_REACHED_ACTION,
                format!("{company}/recordings"),
                Some(detail),
            ))?;
        }
        (false, Some(_)) => usage.quota_reached_at = None,
        _ => {}
    }
    Ok(reached)
}
