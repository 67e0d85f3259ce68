//! Automatic deletion of old recordings (SPEC.md §6): every hour, each company's
//! recordings older than its `recording_retention_days` are deleted, with one audit entry
//! per company saying how many.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::RecordingError;
use crate::app::App;
use crate::audit::Actor;
use crate::store::{COMPANIES, RECORDINGS, Read, company_prefix};

/// How often old recordings are looked for. Retention is counted in days: an hour late
/// is well within it, and each pass reads every recording's metadata.
pub const RETENTION_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// The longest retention a company may set, in days (SPEC.md §6).
pub const MAX_RETENTION_DAYS: u32 = 60;

/// Audit action of a retention pass that deleted recordings.
pub const RETENTION_ACTION: &str = "recording.retention";

/// Delete expired recordings now and then every [`RETENTION_INTERVAL`], forever.
pub async fn retention_loop(app: App) {
    let mut ticks = tokio::time::interval(RETENTION_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let pass = app.clone();
        match tokio::task::spawn_blocking(move || purge_expired(&pass, Utc::now())).await {
            Ok(Ok(0)) => {}
            Ok(Ok(deleted)) => tracing::info!(deleted, "old recordings deleted"),
            Ok(Err(error)) => tracing::error!(%error, "recording retention pass failed"),
            Err(error) => tracing::error!(%error, "recording retention pass panicked"),
        }
    }
}

/// Delete every recording that, at `now`, is older than its company's retention days;
/// returns how many. A company whose deletion fails is logged and the others still run.
pub fn purge_expired(app: &App, now: DateTime<Utc>) -> Result<usize, RecordingError> {
    let companies = app.store.read(|r| r.scan(&COMPANIES, ""))?;
    let mut deleted = 0;
    for company in companies {
        let Some(days) = company.recording_retention_days else { continue };
        match purge_company(app, &company.id, days, now) {
            Ok(count) => deleted += count,
            Err(error) => tracing::error!(company = %company.id, %error, "deleting old recordings failed"),
        }
    }
    Ok(deleted)
}

fn purge_company(app: &App, company: &str, days: u32, now: DateTime<Utc>) -> Result<usize, RecordingError> {
    let cutoff = now - TimeDelta::days(i64::from(days));
    let recordings = app.store.read(|r| r.scan(&RECORDINGS, &company_prefix(company)))?;
    let expired: Vec<String> =
        recordings.into_iter().filter(|r| r.started_at < cutoff).map(|r| r.id).collect();
    if expired.is_empty() {
        return Ok(0);
    }
    let removed = super::remove(app, company, &expired, |tx, removed| {
        let detail = format!("deleted {} recordings older than {days} days", removed.len());
        tx.audit(Actor::system().entry(
            Some(company),
            RETENTION_ACTION,
            format!("{company}/recordings"),
            Some(detail),
        ))?;
        Ok(())
    })?;
    Ok(removed.deleted.len())
}
