use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;
use crate::mail::MailSettings;
use crate::media::audio::SAMPLE_RATE;
use crate::sandbox::Sandbox;
use crate::sandbox::counters::Counters;
use crate::security::Guard;
use crate::sip::registrar::service::Registrar;
use crate::store::records::Company;
use crate::store::{Store, recent_audit};

// The mail module's tests load the same helper; each test module needs its own copy (the
// helper is shared with the black-box tests, so it cannot live in the crate proper).
#[allow(clippy::duplicate_mod)]
#[path = "../../../tests/support/smtp.rs"]
mod smtp;

use smtp::{MAIL_TIMEOUT, SmtpServer};

/// An app whose audio lives in `data_dir` (`None` = in memory), with company "acme" in
/// Madrid's time zone and its box "sales" (number 800, PIN 4321, 30 days' retention).
fn app_with(data_dir: Option<PathBuf>) -> (App, VoicemailBox) {
    let store = Store::in_memory().unwrap();
    let app = App {
        sandbox: Arc::new(Sandbox::new(store.clone(), None, false).unwrap()),
        counters: Arc::new(Counters::default()),
        registrar: Arc::new(Registrar::new(store.clone())),
        security: Arc::new(Guard::load(store.clone(), Default::default()).unwrap()),
        mail: crate::mail::Mailer::disabled(),
        prompts: crate::prompts::Prompts::default(),
        data_dir,
        queue_stats: crate::routing::queue::stats::QueueStats::new(store.clone()),
        events: Default::default(),
        rooms: Default::default(),
        store,
    };
    let company: Company = serde_json::from_value(serde_json::json!({
        "id": "acme", "name": "Acme", "max_extensions": 10, "time_zone": "Europe/Madrid",
        "sip_domain": "acme.test", "trunk": null, "secondary_trunk": null,
        "decision_deadline_ms": 100, "decision_memory_mib": 16, "created_at": "2026-01-01T00:00:00Z"
    }))
    .unwrap();
    let mailbox = VoicemailBox {
        company: "acme".into(),
        name: "sales".into(),
        number: "800".into(),
        email: "sales@acme.example".into(),
        greeting: None,
        retention_days: 30,
        pin_hash: pin::hash("4321"),
        max_message_seconds: 180,
        created_at: Utc::now(),
        owner: None,
    };
    app.store
        .write(|tx| {
            tx.put(&COMPANIES, "acme", &company)?;
            tx.put(&VOICEMAIL_BOXES, &company_key("acme", "sales"), &mailbox)
        })
        .unwrap();
    (app, mailbox)
}

/// One second of a 440 Hz tone at 8 kHz.
fn tone() -> Audio {
    let samples = (0..SAMPLE_RATE)
        .map(|n| {
            let t = f64::from(n) / f64::from(SAMPLE_RATE);
            (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16
        })
        .collect();
    Audio::from_samples(samples)
}

fn file_of(dir: &std::path::Path, message: &VoicemailMessage) -> PathBuf {
    dir.join("voicemail").join(&message.company).join(&message.mailbox).join(format!("{}.wav", message.id))
}

#[test]
fn a_saved_message_is_a_wav_file_and_a_listed_record() {
    let dir = tempfile::tempdir().unwrap();
    let (app, mailbox) = app_with(Some(dir.path().to_path_buf()));
    let message = save_message(&app, &mailbox, "600123456", "800", &tone()).unwrap();

    assert_eq!((message.company.as_str(), message.mailbox.as_str()), ("acme", "sales"));
    assert_eq!((message.caller.as_str(), message.called.as_str()), ("600123456", "800"));
    assert_eq!(message.duration_ms, 1000);
    assert!(!message.heard);
    let file = file_of(dir.path(), &message);
    let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    assert_eq!(bytes.len() as u64, message.size);
    assert_eq!(&bytes[..4], b"RIFF");
    assert_eq!(messages(&app, "acme", "sales").unwrap(), vec![message.clone()]);
    assert_eq!(find_message(&app, "acme", "sales", &message.id).unwrap(), Some(message.clone()));
    assert_eq!(message_audio(&app, &message).unwrap(), tone(), "the audio reads back unchanged");
    let leftovers: Vec<_> =
        std::fs::read_dir(file.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 1, "no temporary file stays behind: {leftovers:?}");
}

#[test]
fn without_a_data_directory_the_audio_is_kept_in_memory() {
    let (app, mailbox) = app_with(None);
    let message = save_message(&app, &mailbox, "anonymous", "800", &tone()).unwrap();
    assert_eq!(message_audio(&app, &message).unwrap(), tone());
    assert!(delete_message(&app, &message).unwrap());
    assert!(matches!(message_audio(&app, &message), Err(VoicemailError::MissingAudio(_))));
}

#[test]
fn messages_list_oldest_first() {
    let (app, mailbox) = app_with(None);
    let now = Utc::now();
    let newer = save_message_at(&app, &mailbox, "2", "800", &tone(), now).unwrap();
    let older = save_message_at(&app, &mailbox, "1", "800", &tone(), now - Duration::hours(1)).unwrap();
    let ids: Vec<_> = messages(&app, "acme", "sales").unwrap().into_iter().map(|m| m.id).collect();
    assert_eq!(ids, [older.id, newer.id]);
}

#[test]
fn marking_heard_and_deleting_change_the_stored_message() {
    let dir = tempfile::tempdir().unwrap();
    let (app, mailbox) = app_with(Some(dir.path().to_path_buf()));
    let message = save_message(&app, &mailbox, "600", "800", &tone()).unwrap();

    mark_heard(&app, &message).unwrap();
    assert!(find_message(&app, "acme", "sales", &message.id).unwrap().unwrap().heard);
    let unheard = set_heard(&app, &message, false).unwrap().unwrap();
    assert!(!unheard.heard);

    assert!(delete_message(&app, &message).unwrap());
    assert!(!file_of(dir.path(), &message).exists(), "the file goes with the record");
    assert_eq!(messages(&app, "acme", "sales").unwrap(), vec![]);
    assert!(!delete_message(&app, &message).unwrap(), "a second delete finds nothing");
    assert_eq!(set_heard(&app, &message, true).unwrap(), None);
}

#[test]
fn a_message_for_a_deleted_box_is_refused_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let (app, mailbox) = app_with(Some(dir.path().to_path_buf()));
    app.store.write(|tx| tx.delete(&VOICEMAIL_BOXES, &company_key("acme", "sales"))).unwrap();
    let result = save_message(&app, &mailbox, "600", "800", &tone());
    assert!(matches!(result, Err(VoicemailError::NoSuchBox { .. })), "{result:?}");
    let folder = dir.path().join("voicemail/acme/sales");
    assert_eq!(std::fs::read_dir(&folder).map(|d| d.count()).unwrap_or(0), 0);
}

#[test]
fn a_saved_message_reaches_the_boxs_address_with_the_wav_attached() {
    let server = SmtpServer::start();
    let (mut app, mailbox) = app_with(None);
    app.mail = crate::mail::Mailer::smtp(&MailSettings::new(server.url(), "pbx@centralita.test")).unwrap();
    let message = save_message(&app, &mailbox, "600123456", "800", &tone()).unwrap();

    let received = server.wait_for(1, MAIL_TIMEOUT);
    assert_eq!(received.len(), 1);
    let mail = &received[0];
    assert_eq!(mail.envelope_to(), "sales@acme.example");
    assert_eq!(mail.subject(), "Voicemail from 600123456");
    for expected in ["From: 600123456", "Called: 800", "Duration: 0:01"] {
        assert!(mail.text.contains(expected), "{expected:?} missing from:\n{}", mail.text);
    }
    assert_eq!(mail.attachments.len(), 1, "{}", mail.raw);
    let attachment = &mail.attachments[0];
    assert_eq!(attachment.filename, format!("voicemail-{}.wav", message.id));
    assert_eq!(attachment.content_type, "audio/wav");
    assert_eq!(attachment.bytes, message_wav(&app, &message).unwrap(), "the attachment is the stored WAV");
}

#[test]
fn a_box_without_an_email_sends_no_mail() {
    let server = SmtpServer::start();
    let (mut app, mut mailbox) = app_with(None);
    app.mail = crate::mail::Mailer::smtp(&MailSettings::new(server.url(), "pbx@centralita.test")).unwrap();
    mailbox.email = String::new();
    save_message(&app, &mailbox, "600123456", "800", &tone()).unwrap();
    assert_eq!(app.mail.counts().queued, 0);
}

#[test]
fn a_mail_that_cannot_be_sent_does_not_lose_the_message() {
    // The test app's mailer is disabled: every send fails.
    let (app, mailbox) = app_with(None);
    let message = save_message(&app, &mailbox, "600", "800", &tone()).unwrap();
    assert_eq!(messages(&app, "acme", "sales").unwrap(), vec![message]);
}

#[test]
fn the_mail_names_the_caller_box_time_and_duration_and_attaches_the_wav() {
    let (_, mailbox) = app_with(None);
    let message = VoicemailMessage {
        id: "00112233aabbccdd".into(),
        company: "acme".into(),
        mailbox: "sales".into(),
        caller: "600123456\r\nBcc: x@evil.example".into(),
        called: "800".into(),
        received_at: Utc.with_ymd_and_hms(2026, 7, 1, 10, 30, 0).unwrap(),
        duration_ms: 61_200,
        heard: false,
        size: 4,
    };
    let mail = mail::message_mail(&mailbox, &message, chrono_tz::Europe::Madrid, b"RIFF".to_vec());
    assert_eq!(mail.to, "sales@acme.example");
    assert_eq!(
        mail.subject, "Voicemail from 600123456Bcc: x@evil.example",
        "no line break reaches the header"
    );
    for expected in
        ["sales (800)", "From: 600123456", "Called: 800", "2026-07-01 12:30:00 CEST", "Duration: 1:02"]
    {
        assert!(mail.text.contains(expected), "{expected:?} missing from:\n{}", mail.text);
    }
    assert_eq!(mail.attachments.len(), 1);
    let attachment = &mail.attachments[0];
    assert_eq!(attachment.filename, "voicemail-00112233aabbccdd.wav");
    assert_eq!(attachment.content_type, "audio/wav");
    assert_eq!(attachment.bytes, b"RIFF");
}

#[test]
fn the_pin_is_checked_against_its_hash() {
    let (_, mailbox) = app_with(None);
    assert!(verify_pin(&mailbox, "4321"));
    assert!(!verify_pin(&mailbox, "1234"));
    // The salt and digest are random-looking hex, which holds "4321" now and then (CI once
    // saw it); what must never happen is a field that is the PIN itself.
    assert!(
        mailbox.pin_hash.split('$').all(|field| field != "4321"),
        "the PIN is not stored in clear: {}",
        mailbox.pin_hash
    );
}

#[test]
fn boxes_are_found_by_name_and_by_number() {
    let (app, mailbox) = app_with(None);
    assert_eq!(find_by_name(&app, "acme", "sales").unwrap(), Some(mailbox.clone()));
    assert_eq!(find_by_number(&app, "acme", "800").unwrap(), Some(mailbox));
    assert_eq!(find_by_name(&app, "acme", "support").unwrap(), None);
    assert_eq!(find_by_number(&app, "acme", "801").unwrap(), None);
    assert_eq!(find_by_number(&app, "globex", "800").unwrap(), None, "another company's box");
}

#[test]
fn a_box_whose_greeting_prompt_is_missing_plays_the_system_greeting() {
    let (app, mut mailbox) = app_with(None);
    let system =
        app.prompts.get("acme", VOICEMAIL_GREETING).expect("the system greeting ships with the host");
    assert_eq!(greeting(&app, &mailbox), system, "no greeting of its own");
    mailbox.greeting = Some("no-such-prompt".into());
    assert_eq!(greeting(&app, &mailbox), system, "a greeting prompt that was deleted");
}

#[test]
fn the_purge_deletes_only_messages_past_the_retention_and_audits_the_count() {
    let dir = tempfile::tempdir().unwrap();
    let (app, mailbox) = app_with(Some(dir.path().to_path_buf()));
    let now: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap();
    let at = |days: i64| now - Duration::days(days);
    let expired: Vec<_> =
        [31, 45].map(|days| save_message_at(&app, &mailbox, "1", "800", &tone(), at(days)).unwrap()).into();
    let kept = save_message_at(&app, &mailbox, "2", "800", &tone(), at(29)).unwrap();

    assert_eq!(purge_expired(&app, now).unwrap(), 2);
    assert_eq!(messages(&app, "acme", "sales").unwrap(), vec![kept.clone()]);
    for message in &expired {
        assert!(!file_of(dir.path(), message).exists(), "the purged message's file stays");
    }
    assert!(file_of(dir.path(), &kept).exists());
    let audit = app.store.read(|r| recent_audit(r, Some("acme"), 10)).unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].action, "voicemail.purge");
    assert_eq!(audit[0].entity, "acme/voicemail-boxes/sales");
    assert_eq!(audit[0].detail.as_deref(), Some("2 messages older than 30 days deleted"));

    assert_eq!(purge_expired(&app, now).unwrap(), 0, "nothing left to purge");
    assert_eq!(
        app.store.read(|r| recent_audit(r, Some("acme"), 10)).unwrap().len(),
        1,
        "no empty audit entry"
    );
}

#[test]
fn unsafe_names_never_reach_the_file_system() {
    let dir = tempfile::tempdir().unwrap();
    let (app, mut mailbox) = app_with(Some(dir.path().to_path_buf()));
    mailbox.name = "..".into();
    let result = save_message(&app, &mailbox, "600", "800", &tone());
    assert!(matches!(result, Err(VoicemailError::UnsafeName(_))), "{result:?}");
}
