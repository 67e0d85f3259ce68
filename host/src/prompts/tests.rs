//! Uploads replacing defaults per company, the cache following uploads and deletions, and
//! refused uploads leaving nothing behind.

use std::time::Duration;

use chrono::Utc;

use super::*;
use crate::media::audio::{goertzel, tone};
use crate::store::recent_audit;

fn audit(action: &str) -> AuditEntry {
    AuditEntry {
        seq: 0,
        at: Utc::now(),
        actor: "key:k1".to_string(),
        company: Some("acme".to_string()),
        action: action.to_string(),
        entity: "acme/prompts/x".to_string(),
        client_ip: None,
        detail: None,
    }
}

/// A 1-second 440 Hz tone as a 16 kHz mono WAV (so the upload has to be resampled).
fn tone_upload() -> Vec<u8> {
    let samples: Vec<i16> = (0..16000)
        .map(|n| (10000.0 * (2.0 * std::f64::consts::PI * 440.0 * n as f64 / 16000.0).sin()) as i16)
        .collect();
    let mut bytes = wav::write_mono(&Audio::from_samples(samples));
    // Patch the header to 16 kHz (rate and byte rate).
    bytes[24..28].copy_from_slice(&16000u32.to_le_bytes());
    bytes[28..32].copy_from_slice(&32000u32.to_le_bytes());
    bytes
}

fn is_440(audio: &Audio) -> bool {
    goertzel::share(&audio.samples()[800..7200], 440.0) > 0.9
}

#[test]
fn names_are_lowercase_letters_digits_and_dashes_up_to_64() {
    for good in ["beep", "music-on-hold", "a", "x1-2", &"a".repeat(64)] {
        assert!(check_name(good).is_ok(), "{good}");
    }
    for bad in ["", "Beep", "a b", "../etc", "a.wav", "a/b", "á", &"a".repeat(65)] {
        assert!(matches!(check_name(bad), Err(PromptError::InvalidName(_))), "{bad}");
    }
}

#[test]
fn without_an_upload_the_system_default_plays() {
    let prompts = Prompts::default();
    assert_eq!(prompts.get("acme", system::BEEP), system::get(system::BEEP));
    assert!(prompts.get("acme", "no-such-prompt").is_none());
    assert!(prompts.get("acme", "../beep").is_none());
}

#[tokio::test]
async fn an_upload_replaces_the_default_for_its_company_only() {
    let (store, prompts) = (Store::in_memory().unwrap(), Prompts::default());
    let default = prompts.get("acme", system::MUSIC_ON_HOLD).unwrap();
    let info = prompts
        .put(&store, "acme", system::MUSIC_ON_HOLD, tone_upload(), Some("wav".into()), audit("prompt.upload"))
        .await
        .unwrap();
    assert_eq!((info.source, info.duration_ms), (PromptSource::Company, 1000));
    assert_eq!(info.original_format.as_deref(), Some("wav"));
    assert_eq!(info.uploaded_by.as_deref(), Some("key:k1"));
    assert!(is_440(&prompts.get("acme", system::MUSIC_ON_HOLD).unwrap()));
    assert_eq!(prompts.get("other", system::MUSIC_ON_HOLD).unwrap(), default);
}

#[tokio::test]
async fn uploads_are_files_that_a_restarted_host_reads() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::in_memory().unwrap();
    let prompts = Prompts::new(Some(dir.path().to_path_buf()));
    prompts.put(&store, "acme", "welcome", tone_upload(), None, audit("prompt.upload")).await.unwrap();
    let file = dir.path().join("acme").join("welcome.wav");
    let stored = wav::read(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(stored.duration(), Duration::from_secs(1));
    let restarted = Prompts::new(Some(dir.path().to_path_buf()));
    assert_eq!(restarted.get("acme", "welcome").unwrap(), stored);
    // No temporary file is left beside it.
    assert_eq!(std::fs::read_dir(dir.path().join("acme")).unwrap().count(), 1);
}

#[tokio::test]
async fn a_new_upload_of_a_name_replaces_the_cached_one() {
    let dir = tempfile::tempdir().unwrap();
    let (store, prompts) = (Store::in_memory().unwrap(), Prompts::new(Some(dir.path().to_path_buf())));
    prompts.put(&store, "acme", "welcome", tone_upload(), None, audit("prompt.upload")).await.unwrap();
    assert!(is_440(&prompts.get("acme", "welcome").unwrap()));
    let beep = wav::write_mono(&tone::sine(1000.0, Duration::from_millis(500), 8000));
    prompts.put(&store, "acme", "welcome", beep, None, audit("prompt.upload")).await.unwrap();
    assert_eq!(prompts.get("acme", "welcome").unwrap().duration(), Duration::from_millis(500));
}

#[tokio::test]
async fn deleting_an_upload_brings_the_default_back() {
    let dir = tempfile::tempdir().unwrap();
    let (store, prompts) = (Store::in_memory().unwrap(), Prompts::new(Some(dir.path().to_path_buf())));
    prompts.put(&store, "acme", system::BEEP, tone_upload(), None, audit("prompt.upload")).await.unwrap();
    assert!(is_440(&prompts.get("acme", system::BEEP).unwrap()));
    prompts.delete(&store, "acme", system::BEEP, audit("prompt.delete")).await.unwrap();
    assert_eq!(prompts.get("acme", system::BEEP), system::get(system::BEEP));
    assert!(!dir.path().join("acme/beep.wav").exists());
    let again = prompts.delete(&store, "acme", system::BEEP, audit("prompt.delete")).await;
    assert!(matches!(again, Err(PromptError::NotFound { .. })), "{again:?}");
    let actions: Vec<String> =
        store.read(|r| recent_audit(r, Some("acme"), 10)).unwrap().into_iter().map(|e| e.action).collect();
    assert_eq!(actions, ["prompt.delete", "prompt.upload"]);
}

#[tokio::test]
async fn a_file_that_is_not_audio_is_refused_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let (store, prompts) = (Store::in_memory().unwrap(), Prompts::new(Some(dir.path().to_path_buf())));
    let error = prompts
        .put(
            &store,
            "acme",
            "welcome",
            b"just some text".to_vec(),
            Some("text/plain".into()),
            audit("prompt.upload"),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, PromptError::Convert(ConvertError::NotAudio(_))), "{error:?}");
    assert!(prompts.info(&store, "acme", "welcome").unwrap().is_none());
    assert!(!dir.path().join("acme").exists());
    assert!(store.read(|r| recent_audit(r, Some("acme"), 10)).unwrap().is_empty());
}

#[tokio::test]
async fn an_invalid_name_is_refused_before_converting() {
    let (store, prompts) = (Store::in_memory().unwrap(), Prompts::default());
    let error =
        prompts.put(&store, "acme", "../x", tone_upload(), None, audit("prompt.upload")).await.unwrap_err();
    assert!(matches!(error, PromptError::InvalidName(_)));
}

#[tokio::test]
async fn the_list_holds_uploads_and_every_default_marked() {
    let (store, prompts) = (Store::in_memory().unwrap(), Prompts::default());
    for name in ["welcome", system::MUSIC_ON_HOLD] {
        prompts.put(&store, "acme", name, tone_upload(), None, audit("prompt.upload")).await.unwrap();
    }
    let list = prompts.list(&store, "acme").unwrap();
    let uploads: Vec<&str> =
        list.iter().filter(|p| p.source == PromptSource::Company).map(|p| p.name.as_str()).collect();
    assert_eq!(uploads, [system::MUSIC_ON_HOLD, "welcome"]);
    let defaults: Vec<&PromptInfo> = list.iter().filter(|p| p.source == PromptSource::System).collect();
    assert_eq!(defaults.len(), system::SYSTEM_PROMPTS.len());
    for default in defaults {
        assert_eq!(default.overridden, default.name == system::MUSIC_ON_HOLD, "{}", default.name);
        assert!(default.duration_ms > 0);
    }
    // Another company sees only the defaults.
    assert!(prompts.list(&store, "other").unwrap().iter().all(|p| p.source == PromptSource::System));
}

#[tokio::test]
async fn info_is_the_upload_else_the_default() {
    let (store, prompts) = (Store::in_memory().unwrap(), Prompts::default());
    assert_eq!(prompts.info(&store, "acme", system::BEEP).unwrap().unwrap().source, PromptSource::System);
    assert!(prompts.info(&store, "acme", "welcome").unwrap().is_none());
    prompts.put(&store, "acme", system::BEEP, tone_upload(), None, audit("prompt.upload")).await.unwrap();
    let info = prompts.info(&store, "acme", system::BEEP).unwrap().unwrap();
    assert_eq!((info.source, info.original_size), (PromptSource::Company, Some(tone_upload().len() as u64)));
}

#[tokio::test]
async fn forgetting_a_company_removes_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let (store, prompts) = (Store::in_memory().unwrap(), Prompts::new(Some(dir.path().to_path_buf())));
    prompts.put(&store, "acme", "welcome", tone_upload(), None, audit("prompt.upload")).await.unwrap();
    prompts.forget_company("acme").unwrap();
    assert!(!dir.path().join("acme").exists());
    assert!(prompts.get("acme", "welcome").is_none());
}
