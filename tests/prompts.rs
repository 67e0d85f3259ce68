//! Black-box tests of prompts (SPEC.md §5, issue #4 point 1): uploads in every common
//! format come back as 8 kHz telephony audio holding the same tone (checked with a Goertzel
//! filter), for the right length; non-audio is refused naming the problem; companies see
//! only their own prompts; the system defaults are listed and an upload replaces one for
//! its company only, across a restart.

mod support;

use centralita::media::audio::{Audio, goertzel, wav};
use serde_json::{Value, json};
use support::Server;

/// A 16-bit PCM WAV of `seconds` at `rate` Hz, every channel a 440 Hz sine at half scale.
fn tone_wav(rate: u32, channels: u16, seconds: f64) -> Vec<u8> {
    support::audio::tone_wav(rate, channels, seconds, 440.0)
}

const MP3: &[u8] = include_bytes!("fixtures/audio/tone-440-44k1-stereo.mp3");
const OGG: &[u8] = include_bytes!("fixtures/audio/tone-440-48k-mono.ogg");
const FLAC: &[u8] = include_bytes!("fixtures/audio/tone-440-16k-mono-24bit.flac");

const ACME: &str = "/api/v1/companies/acme";

/// A server with company "acme" (and "globex", whose key must not reach acme's prompts).
fn server_with_companies() -> Server {
    let server = Server::start();
    server.create_company("acme", json!({}));
    server.create_company("globex", json!({}));
    server
}

/// The converted audio `company_path`'s calls play as prompt `name`, downloaded (as the
/// operator) and parsed as the 8 kHz mono WAV it must be.
fn download(server: &Server, company_path: &str, name: &str) -> Audio {
    let url = server.url(&format!("{company_path}/prompts/{name}/audio"));
    let response =
        support::client().get(&url).bearer_auth(support::OPERATOR_TOKEN).send().expect("download the audio");
    assert_eq!(response.status().as_u16(), 200, "download {name}");
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string);
    assert_eq!(content_type.as_deref(), Some("audio/wav"));
    let bytes = response.bytes().expect("read the audio");
    wav::read(&bytes).unwrap_or_else(|e| panic!("{name}: the download is not an 8 kHz mono WAV: {e}"))
}

/// Checks `audio` is `seconds` long (within 25 ms: lossy codecs pad) and mostly 440 Hz.
#[track_caller]
fn assert_tone(audio: &Audio, seconds: f64, what: &str) {
    let expected = (seconds * 8000.0) as i64;
    let samples = audio.samples().len() as i64;
    assert!((samples - expected).abs() <= 200, "{what}: {samples} samples, expected about {expected}");
    // Away from the filter's and codecs' ramps at the ends, in 100 ms blocks.
    for block in audio.samples()[800..audio.samples().len() - 800].chunks_exact(800) {
        let share = goertzel::share(block, 440.0);
        assert!(share > 0.8, "{what}: only {share:.2} of a block's energy is at 440 Hz");
        assert!(goertzel::share(block, 1000.0) < 0.01, "{what}: energy at 1 kHz");
    }
}

#[test]
fn uploads_in_every_format_become_8_khz_audio_of_the_same_tone() {
    let server = server_with_companies();
    let op = server.operator();
    let uploads: [(&str, Vec<u8>, &str, &str, &str); 4] = [
        ("wav-stereo", tone_wav(44100, 2, 2.0), "audio/wav", "", "wav"),
        ("mp3", MP3.to_vec(), "audio/mpeg", "", "mp3"),
        ("ogg", OGG.to_vec(), "application/octet-stream", "?format=ogg", "ogg"),
        ("flac", FLAC.to_vec(), "application/octet-stream", "", "flac"),
    ];
    for (name, bytes, content_type, query, format) in uploads {
        let size = bytes.len();
        let info = op
            .put_bytes(&format!("{ACME}/prompts/{name}{query}"), content_type, bytes)
            .expect(201, &format!("upload the {format} tone"));
        assert_eq!(info["name"], name);
        assert_eq!(info["source"], "company");
        assert_eq!(info["original_format"], format);
        assert_eq!(info["original_size"], size);
        let duration = info["duration_ms"].as_u64().unwrap_or_else(|| panic!("no duration in {info}"));
        assert!(duration.abs_diff(2000) <= 25, "{format}: {duration} ms");
        let audio = download(&server, ACME, name);
        assert_tone(&audio, 2.0, format);
        let again = op.get(&format!("{ACME}/prompts/{name}")).expect(200, "the prompt's metadata");
        assert_eq!(again, info);
    }
    let uploads = server.audit("acme");
    assert_eq!(support::with_action(&uploads, "prompt.upload").len(), 4, "one audit entry per upload");
}

#[test]
fn a_file_that_is_not_audio_is_refused_naming_the_problem() {
    let server = server_with_companies();
    let op = server.operator();
    let text = b"Dear customer, this is a text file, not a recording.\n".repeat(20);
    let reply = op.put_bytes(&format!("{ACME}/prompts/welcome"), "text/plain", text);
    assert_eq!(reply.status, 415, "{}", reply.text);
    reply.expect_error_mentioning("not an audio file", "upload a text file");
    op.get(&format!("{ACME}/prompts/welcome")).expect(404, "nothing was stored");

    let empty = op.put_bytes(&format!("{ACME}/prompts/welcome"), "audio/wav", Vec::new());
    empty.expect_error_mentioning("empty", "upload nothing");

    let bad_name = op.put_bytes(&format!("{ACME}/prompts/Bad.Name"), "audio/wav", tone_wav(8000, 1, 0.5));
    bad_name.expect_error_naming_field("name", "upload under an invalid name");
}

#[test]
fn another_companys_key_gets_403_on_every_prompt_route() {
    let server = server_with_companies();
    let op = server.operator();
    op.put_bytes(&format!("{ACME}/prompts/welcome"), "audio/wav", tone_wav(8000, 1, 1.0))
        .expect(201, "upload as the operator");
    let key = op.post("/api/v1/companies/globex/api-keys", &json!({"name": "own"})).expect(201, "globex key");
    let globex = server.with_token(key["key"].as_str().expect("the key's secret"));
    for (method, path) in [
        ("GET", format!("{ACME}/prompts")),
        ("GET", format!("{ACME}/prompts/welcome")),
        ("GET", format!("{ACME}/prompts/welcome/audio")),
        ("DELETE", format!("{ACME}/prompts/welcome")),
    ] {
        let reply = globex.send(method.parse().unwrap(), &path, None);
        assert_eq!(reply.status, 403, "{method} {path} with globex's key: {}", reply.text);
    }
    let put = globex.put_bytes(&format!("{ACME}/prompts/welcome"), "audio/wav", tone_wav(8000, 1, 1.0));
    assert_eq!(put.status, 403, "upload with globex's key: {}", put.text);
    // Globex's own list shows no acme upload.
    let own = globex.get("/api/v1/companies/globex/prompts").expect(200, "globex lists its prompts");
    assert!(own.as_array().unwrap().iter().all(|p| p["source"] == "system"), "{own}");
    // And its key works on its own prompts.
    globex
        .put_bytes("/api/v1/companies/globex/prompts/welcome", "audio/wav", tone_wav(8000, 1, 1.0))
        .expect(201, "globex uploads its own prompt");
}

#[test]
fn system_defaults_are_listed_and_an_upload_replaces_one_for_its_company_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_in(dir.path());
    server.create_company("acme", json!({}));
    server.create_company("globex", json!({}));
    let op = server.operator();

    let list = op.get(&format!("{ACME}/prompts")).expect(200, "list prompts");
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    for expected in [
        "beep",
        "voicemail-greeting",
        "voicemail-enter-pin",
        "voicemail-no-messages",
        "voicemail-new-messages",
        "voicemail-message-menu",
        "voicemail-goodbye",
        "invalid-option",
        "goodbye",
        "call-may-be-recorded",
        "queue-welcome",
        "queue-full",
        "music-on-hold",
        "ivr-default-greeting",
    ] {
        assert!(names.contains(&expected), "{expected} is not listed: {names:?}");
    }
    assert!(list.as_array().unwrap().iter().all(|p| p["source"] == "system" && p["overridden"] == false));
    let beep = download(&server, ACME, "beep");
    assert_eq!(beep.samples().len(), 3200, "the beep lasts 400 ms");
    assert!(goertzel::share(&beep.samples()[400..2800], 1000.0) > 0.9, "the beep is 1 kHz");
    let music = download(&server, ACME, "music-on-hold");
    assert!((20..=30).contains(&music.duration().as_secs()), "music on hold lasts {:?}", music.duration());

    op.put_bytes(&format!("{ACME}/prompts/music-on-hold"), "audio/wav", tone_wav(22050, 1, 3.0))
        .expect(201, "acme's own music on hold");
    let list = op.get(&format!("{ACME}/prompts")).expect(200, "list prompts");
    let entries: Vec<&Value> =
        list.as_array().unwrap().iter().filter(|p| p["name"] == "music-on-hold").collect();
    assert_eq!(entries.len(), 2, "the upload and the default it replaces: {entries:?}");
    assert!(entries.iter().any(|p| p["source"] == "company"));
    assert!(entries.iter().any(|p| p["source"] == "system" && p["overridden"] == true));
    assert_tone(&download(&server, ACME, "music-on-hold"), 3.0, "acme's music on hold");
    assert_eq!(
        download(&server, "/api/v1/companies/globex", "music-on-hold"),
        music,
        "globex keeps the default"
    );

    // The upload survives a restart.
    server.terminate();
    let server = Server::start_in(dir.path());
    let op = server.operator();
    assert_tone(&download(&server, ACME, "music-on-hold"), 3.0, "acme's music on hold after a restart");

    // Deleting it brings the default back; the default itself cannot be deleted.
    op.delete(&format!("{ACME}/prompts/music-on-hold")).expect(204, "delete acme's music on hold");
    assert_eq!(download(&server, ACME, "music-on-hold"), music, "the default plays again");
    op.delete(&format!("{ACME}/prompts/music-on-hold"))
        .expect_error_mentioning("system prompt", "delete the system default");
    op.delete(&format!("{ACME}/prompts/never-uploaded")).expect(404, "delete an unknown prompt");
    let entries = server.audit("acme");
    assert_eq!(support::with_action(&entries, "prompt.delete").len(), 1, "the deletion is audited");
}

#[test]
fn a_file_over_the_size_limit_gets_413() {
    let server = server_with_companies();
    let too_big = vec![0u8; 64 * 1024 * 1024 + 1];
    let reply = server.operator().put_bytes(&format!("{ACME}/prompts/huge"), "audio/wav", too_big);
    assert_eq!(reply.status, 413, "{}", reply.text);
    reply.expect_error_mentioning("limit", "upload 64 MiB + 1 byte");
}
