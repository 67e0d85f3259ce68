//! Recordings as stored data: files and records, the quota's one audit entry per
//! crossing, retention, deletion and listing.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use super::*;
use crate::sandbox::Sandbox;
use crate::sandbox::counters::Counters;
use crate::security::Guard;
use crate::sip::registrar::service::Registrar;
use crate::store::records::{AuditEntry, Company, User};
use crate::store::{COMPANIES, Store, recent_audit};

/// Samples of one second of audio.
const SECOND: usize = SAMPLE_RATE as usize;

fn app(data_dir: Option<&Path>) -> App {
    let store = Store::in_memory().unwrap();
    App {
        sandbox: Arc::new(Sandbox::new(store.clone(), None, false).unwrap()),
        counters: Arc::new(Counters::default()),
        registrar: Arc::new(Registrar::new(store.clone())),
        security: Arc::new(Guard::load(store.clone(), Default::default()).unwrap()),
        mail: crate::mail::Mailer::disabled(),
        prompts: crate::prompts::Prompts::default(),
        data_dir: data_dir.map(Path::to_path_buf),
        queue_stats: crate::routing::queue::stats::QueueStats::new(store.clone()),
        events: Default::default(),
        rooms: Default::default(),
        store,
    }
}

/// Store company `id` with recording retention `days` and quota `quota_mb`.
fn company(app: &App, id: &str, days: Option<u32>, quota_mb: Option<u64>) {
    let company: Company = serde_json::from_value(serde_json::json!({
        "id": id,
        "name": id,
        "max_extensions": 10,
        "time_zone": "UTC",
        "sip_domain": format!("{id}.example.com"),
        "trunk": null,
        "secondary_trunk": null,
        "decision_deadline_ms": 10,
        "decision_memory_mib": 16,
        "recording_retention_days": days,
        "recording_quota_mb": quota_mb,
        "created_at": "2026-01-01T00:00:00Z",
    }))
    .unwrap();
    app.store.write(|tx| tx.put(&COMPANIES, id, &company)).unwrap();
}

fn meta(company: &str, started_at: DateTime<Utc>) -> NewRecording {
    NewRecording {
        company: company.into(),
        call_id: "call-1".into(),
        direction: Direction::Inbound,
        from: "+34600111222".into(),
        to: "+34910000000".into(),
        extension: "101".into(),
        started_at,
    }
}

/// Save `seconds` of two-channel audio for `company`, started at `started_at`.
fn save_seconds(app: &App, company: &str, seconds: usize, started_at: DateTime<Utc>) -> Recording {
    let left = vec![1000i16; seconds * SECOND];
    let right = vec![-1000i16; seconds * SECOND];
    save(app, meta(company, started_at), &left, &right).unwrap()
}

fn audits(app: &App, company: &str, action: &str) -> Vec<AuditEntry> {
    let entries = app.store.read(|r| recent_audit(r, Some(company), 1000)).unwrap();
    entries.into_iter().filter(|e| e.action == action).collect()
}

#[test]
fn saving_writes_a_two_channel_wav_file_and_its_record() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(Some(dir.path()));
    company(&app, "acme", None, None);
    let left = vec![500i16; SECOND];
    let right = vec![-500i16; SECOND / 2];
    let started = Utc::now();
    let recording = save(&app, meta("acme", started), &left, &right).unwrap();

    assert_eq!(recording.duration_ms, 1000, "the longer side sets the length");
    assert_eq!(recording.channels, 2);
    assert_eq!((recording.company.as_str(), recording.extension.as_str()), ("acme", "101"));
    assert_eq!(recording.started_at, started);
    let path = dir.path().join("recordings/acme").join(format!("{}.wav", recording.id));
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(recording.size, bytes.len() as u64);
    assert_eq!(&bytes[..4], b"RIFF");
    assert_eq!(u16::from_le_bytes([bytes[22], bytes[23]]), 2, "two channels");
    assert_eq!(u32::from_le_bytes([bytes[24], bytes[25], bytes[26], bytes[27]]), SAMPLE_RATE);
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left behind");

    assert_eq!(get(&app, "acme", &recording.id).unwrap(), recording);
    assert_eq!(audio(&app, "acme", &recording.id).unwrap().1, bytes);
    assert_eq!(used_bytes(&app, "acme").unwrap(), recording.size);
    assert!(matches!(get(&app, "other", &recording.id), Err(RecordingError::NotFound(_))));
}

#[test]
fn without_a_data_directory_the_audio_is_kept_in_memory() {
    let app = app(None);
    let recording = save_seconds(&app, "acme", 1, Utc::now());
    let (_, bytes) = audio(&app, "acme", &recording.id).unwrap();
    assert_eq!(bytes.len() as u64, recording.size);
    delete(&app, "acme", std::slice::from_ref(&recording.id), &Actor::system()).unwrap();
    assert!(matches!(audio(&app, "acme", &recording.id), Err(RecordingError::NotFound(_))));
}

#[test]
fn ids_sort_in_start_time_order_and_are_safe_file_names() {
    let early = new_id("2026-03-01T09:30:00.120Z".parse().unwrap());
    let late = new_id("2026-03-01T09:30:00.121Z".parse().unwrap());
    assert!(early.starts_with("20260301T093000120Z-"), "{early}");
    assert!(early < late);
    assert!(valid_id(&early));
    for bad in ["", "../etc", "a/b", "a.wav", &"x".repeat(65)] {
        assert!(!valid_id(bad), "{bad:?}");
    }
}

#[test]
fn a_company_id_that_would_name_another_folder_is_refused() {
    let app = app(None);
    let error = save(&app, meta("../acme", Utc::now()), &[0; 8], &[0; 8]).unwrap_err();
    assert!(matches!(error, RecordingError::InvalidCompany(_)), "{error}");
}

#[test]
fn reaching_the_quota_stops_recording_with_one_audit_entry_per_crossing() {
    let app = app(None);
    // 1 MB; 32 s of two 16-bit channels at 8 kHz is 1,024,000 bytes of samples.
    company(&app, "acme", None, Some(1));
    assert!(may_record(&app, "acme"));
    let first = save_seconds(&app, "acme", 20, Utc::now());
    assert!(may_record(&app, "acme"), "640 kB of 1 MB");
    let second = save_seconds(&app, "acme", 12, Utc::now());
    for _ in 0..3 {
        assert!(!may_record(&app, "acme"), "over 1 MB");
    }
    let reached = audits(&app, "acme", quota::QUOTA_REACHED_ACTION);
    assert_eq!(reached.len(), 1, "one entry for the crossing, not one per call");
    assert!(reached[0].detail.as_deref().unwrap_or_default().contains("recording quota reached"));

    delete(&app, "acme", std::slice::from_ref(&second.id), &Actor::system()).unwrap();
    assert!(may_record(&app, "acme"), "space was freed");
    assert_eq!(used_bytes(&app, "acme").unwrap(), first.size);

    save_seconds(&app, "acme", 12, Utc::now());
    assert!(!may_record(&app, "acme"));
    assert_eq!(
        audits(&app, "acme", quota::QUOTA_REACHED_ACTION).len(),
        2,
        "a later crossing is audited again"
    );
}

#[test]
fn lowering_the_quota_below_the_usage_is_a_crossing_seen_at_the_next_call() {
    let app = app(None);
    company(&app, "acme", None, None);
    save_seconds(&app, "acme", 40, Utc::now());
    assert!(may_record(&app, "acme"), "no quota, no limit");
    company(&app, "acme", None, Some(1));
    assert!(!may_record(&app, "acme"));
    assert!(!may_record(&app, "acme"));
    assert_eq!(audits(&app, "acme", quota::QUOTA_REACHED_ACTION).len(), 1);
    company(&app, "acme", None, Some(2));
    assert!(may_record(&app, "acme"), "a raised quota lets recording start again");
    assert!(may_record(&app, "other-company"), "a company without recordings or quota");
}

#[test]
fn retention_deletes_only_recordings_older_than_the_company_s_days() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(Some(dir.path()));
    company(&app, "acme", Some(30), None);
    company(&app, "globex", None, None);
    let now: DateTime<Utc> = "2026-03-31T12:00:00Z".parse().unwrap();
    let old = save_seconds(&app, "acme", 1, now - TimeDelta::days(30) - TimeDelta::seconds(1));
    let recent = save_seconds(&app, "acme", 1, now - TimeDelta::days(29));
    let kept_forever = save_seconds(&app, "globex", 1, now - TimeDelta::days(365));

    assert_eq!(purge_expired(&app, now).unwrap(), 1);
    let left: Vec<String> =
        find(&app, "acme", &RecordingFilter::default()).unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(left, std::slice::from_ref(&recent.id));
    assert!(!dir.path().join(format!("recordings/acme/{}.wav", old.id)).exists(), "its file went too");
    assert!(dir.path().join(format!("recordings/acme/{}.wav", recent.id)).exists());
    assert_eq!(get(&app, "globex", &kept_forever.id).unwrap(), kept_forever, "globex keeps recordings");
    assert_eq!(used_bytes(&app, "acme").unwrap(), recent.size);

    let entries = audits(&app, "acme", retention::RETENTION_ACTION);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].detail.as_deref(), Some("deleted 1 recordings older than 30 days"));
    assert_eq!(purge_expired(&app, now).unwrap(), 0, "nothing more to delete");
    assert_eq!(audits(&app, "acme", retention::RETENTION_ACTION).len(), 1, "no entry for an empty pass");
}

#[test]
fn deleting_reports_unknown_ids_counts_repeats_once_and_audits_each_deletion() {
    let app = app(None);
    let kept = save_seconds(&app, "acme", 1, Utc::now());
    let gone = save_seconds(&app, "acme", 1, Utc::now());
    let elsewhere = save_seconds(&app, "globex", 1, Utc::now());
    let ids =
        [gone.id.clone(), gone.id.clone(), "nope".to_string(), "../x".to_string(), elsewhere.id.clone()];
    let result = delete(&app, "acme", &ids, &Actor::system()).unwrap();
    assert_eq!(result.deleted, std::slice::from_ref(&gone.id));
    assert_eq!(result.not_found, ["nope".to_string(), "../x".to_string(), elsewhere.id.clone()]);
    assert!(get(&app, "acme", &kept.id).is_ok());
    assert!(get(&app, "globex", &elsewhere.id).is_ok(), "another company's recording is untouched");
    let entries = audits(&app, "acme", DELETE_ACTION);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].entity, format!("acme/recordings/{}", gone.id));
}

#[test]
fn listing_filters_and_shows_the_newest_first() {
    let app = app(None);
    let start: DateTime<Utc> = "2026-03-01T10:00:00Z".parse().unwrap();
    let mut made = Vec::new();
    for (minute, direction, extension) in
        [(0, Direction::Inbound, "101"), (1, Direction::Outbound, "102"), (2, Direction::Inbound, "102")]
    {
        let mut meta = meta("acme", start + TimeDelta::minutes(minute));
        meta.direction = direction;
        meta.extension = extension.into();
        if direction == Direction::Outbound {
            (meta.from, meta.to) = ("102".into(), "+34911222333".into());
        }
        made.push(save(&app, meta, &[0; 80], &[0; 80]).unwrap().id);
    }
    let ids = |filter: RecordingFilter| -> Vec<String> {
        find(&app, "acme", &filter).unwrap().into_iter().map(|r| r.id).collect()
    };
    assert_eq!(ids(RecordingFilter::default()), [made[2].clone(), made[1].clone(), made[0].clone()]);
    let inbound = RecordingFilter { direction: Some(Direction::Inbound), ..Default::default() };
    assert_eq!(ids(inbound), [made[2].clone(), made[0].clone()]);
    let to = RecordingFilter { to_digits: Some("911222".into()), ..Default::default() };
    assert_eq!(ids(to), [made[1].clone()]);
    let from = RecordingFilter { from_digits: Some("600111".into()), ..Default::default() };
    assert_eq!(ids(from), [made[2].clone(), made[0].clone()]);
    let extension = RecordingFilter { extension: Some("102".into()), ..Default::default() };
    assert_eq!(ids(extension), [made[2].clone(), made[1].clone()]);
    let range = RecordingFilter {
        since: Some(start + TimeDelta::minutes(1)),
        until: Some(start + TimeDelta::minutes(2)),
        ..Default::default()
    };
    assert_eq!(ids(range), [made[1].clone()]);
    assert!(find(&app, "globex", &RecordingFilter::default()).unwrap().is_empty());
}

#[test]
fn users_and_companies_stored_before_recording_settings_still_load() {
    let user: User = serde_json::from_value(serde_json::json!({
        "company": "acme", "extension": "101", "role": "user", "email": "a@acme.example",
        "full_name": "Ana", "portal_password_hash": null, "internal_only": false, "mobile": null,
        "sip_password": "x", "sip_password_expires_at": null, "outgoing_caller_id": null,
        "created_at": "2026-01-01T00:00:00Z",
    }))
    .unwrap();
    assert_eq!(user.recording.mode, crate::store::records::RecordingMode::Never);
    assert!(!user.recording.announce);
    let app = app(None);
    company(&app, "acme", None, None);
    let company = app.store.read(|r| r.get(&COMPANIES, "acme")).unwrap().unwrap();
    assert_eq!((company.recording_retention_days, company.recording_quota_mb), (None, None));
}
