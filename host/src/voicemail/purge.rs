//! The retention purge: messages older than their box's `retention_days` are deleted,
//! record and file, with one audit entry per box saying how many went.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{mailbox_prefix, message_key, remove_audio};
use crate::app::App;
use crate::audit::Actor;
use crate::store::records::VoicemailMessage;
use crate::store::{Read, StoreError, VOICEMAIL_BOXES, VOICEMAIL_MESSAGES};

/// How often the purge runs. Retention is counted in days, so an hour late is nothing.
pub const PURGE_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// Run the purge now and then every [`PURGE_INTERVAL`], for as long as the host runs.
pub async fn purge_loop(app: App) {
    let mut every = tokio::time::interval(PURGE_INTERVAL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let app = app.clone();
        match tokio::task::spawn_blocking(move || purge_expired(&app, Utc::now())).await {
            Ok(Ok(0)) => {}
            Ok(Ok(purged)) => tracing::info!(purged, "expired voicemail messages deleted"),
            Ok(Err(error)) => tracing::error!(%error, "voicemail purge failed; retrying at the next run"),
            Err(error) => tracing::error!(%error, "voicemail purge panicked; retrying at the next run"),
        }
    }
}

/// Delete every message received more than its box's retention before `now`; returns how
/// many were deleted.
pub fn purge_expired(app: &App, now: DateTime<Utc>) -> Result<usize, StoreError> {
    let boxes = app.store.read(|r| r.scan(&VOICEMAIL_BOXES, ""))?;
    let mut purged = 0;
    for mailbox in boxes {
        let cutoff = now - chrono::Duration::days(i64::from(mailbox.retention_days));
        let prefix = mailbox_prefix(&mailbox.company, &mailbox.name);
        let expired: Vec<VoicemailMessage> = app
            .store
            .read(|r| r.scan(&VOICEMAIL_MESSAGES, &prefix))?
            .into_iter()
            .filter(|m| m.received_at < cutoff)
            .collect();
        if expired.is_empty() {
            continue;
        }
        // One transaction per box: the deletions and their audit entry commit together,
        // and no box waits for another's.
        let deleted = app.store.write(|tx| {
            let mut deleted = Vec::new();
            for message in expired {
                if tx.delete(&VOICEMAIL_MESSAGES, &message_key(&message))? {
                    deleted.push(message);
                }
            }
            if !deleted.is_empty() {
                tx.audit(Actor::system().entry(
                    Some(&mailbox.company),
                    "voicemail.purge",
                    format!("{}/voicemail-boxes/{}", mailbox.company, mailbox.name),
                    Some(format!(
                        "{} messages older than {} days deleted",
                        deleted.len(),
                        mailbox.retention_days
                    )),
                ))?;
            }
            Ok::<_, StoreError>(deleted)
        })?;
        for message in &deleted {
            remove_audio(app, message);
        }
        purged += deleted.len();
    }
    Ok(purged)
}
