//! Black-box tests of CTI (issue #6): the call-event stream over a real WebSocket, call
//! control through the API, user-scoped keys and number normalisation. Phones are sipp
//! (a caller and an answering device); the tests read the exact event sequences a CRM
//! would see, and check that a call held through the API plays music to the held party.

mod support;

use std::net::UdpSocket;
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};
use support::audio::tone_blocks;
use support::audio::{tone_wav, ulaw_to_linear};
use support::events::{EventClient, Token, kinds};
use support::sipp::{DOMAIN, Device, call};
use support::{Server, client};

const ACME: &str = "/api/v1/companies/acme";
const MUSIC_HZ: u32 = 440;

fn password(user: &Value) -> String {
    user["sip_password"].as_str().expect("a user has a SIP password").to_string()
}

/// Company acme with extensions 100, 101 and 102; their SIP passwords.
fn acme(server: &Server) -> [String; 3] {
    server.create_company("acme", json!({"sip_domain": DOMAIN, "decision_deadline_ms": 1000}));
    ["100", "101", "102"].map(|extension| password(&server.create_user("acme", extension)))
}

/// A new key of acme, for `user` (none: the company's).
fn key(server: &Server, company: &str, user: Option<&str>) -> String {
    let mut body = json!({"name": format!("cti {user:?}")});
    if let Some(user) = user {
        body["user"] = json!(user);
    }
    let reply = server.operator().post(&format!("/api/v1/companies/{company}/api-keys"), &body);
    reply.expect(201, "create a key")["key"].as_str().expect("the secret").to_string()
}

/// acme's newest CDR matching `query` ("" or "?status=..."), once it is written (just
/// after the call's end).
fn newest_cdr(server: &Server, query: &str) -> Value {
    let deadline = std::time::Instant::now() + support::events::EVENT_PATIENCE;
    loop {
        let cdrs = server.operator().get(&format!("{ACME}/cdrs{query}")).expect(200, "CDRs");
        if let Some(cdr) = cdrs["items"].as_array().and_then(|items| items.first().cloned()) {
            return cdr;
        }
        assert!(std::time::Instant::now() < deadline, "no CDR was written");
        thread::sleep(Duration::from_millis(100));
    }
}

/// Let two connected baresip phones talk for 3 s, then `hanging_up` hangs up and the
/// BYE must reach `other`; both phones quit (closing their audio dumps).
fn talk_then_hang_up(hanging_up: &mut support::baresip::Phone, other: &mut support::baresip::Phone) {
    thread::sleep(Duration::from_secs(3));
    hanging_up.control.command("hangup", "").unwrap_or_else(|why| panic!("hangup: {why}"));
    other
        .control
        .wait_event("CALL_CLOSED")
        .unwrap_or_else(|why| panic!("the BYE did not reach the other phone: {why}"));
    hanging_up.quit();
    other.quit();
}

/// Each baresip phone, playing its own tone, heard the other's (Goertzel over what it
/// received, 100 ms blocks: at least 1.5 s of it).
fn assert_hear_each_other(a: (&support::baresip::Phone, u32), b: (&support::baresip::Phone, u32)) {
    let rivals = [440, 2000, a.1, b.1];
    for ((listener, own), (_, heard_hz)) in [(a, b), (b, a)] {
        let others: Vec<u32> = rivals.iter().copied().filter(|&r| r != heard_hz).collect();
        let heard = support::audio::analyse(&listener.received_audio(), heard_hz, &others);
        assert!(heard.tone >= 15, "{heard_hz} Hz at the phone playing {own} Hz: {heard:?}");
    }
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected.iter().map(|(e, u)| (e.to_string(), u.to_string())).collect()
}

fn is_hung_up_for(user: &'static str) -> impl Fn(&Value) -> bool {
    move |e| e["event"] == "hung_up" && e["user"] == user
}

#[test]
fn the_event_stream_follows_a_call_and_each_user_sees_only_its_own_events() {
    let server = Server::start();
    let [caller, callee, _] = acme(&server);
    let company_key = key(&server, "acme", None);
    let key_101 = key(&server, "acme", Some("101"));
    let mut company = EventClient::connect(&server, "acme", Token::Header(&company_key));
    // A browser passes its key in the URL.
    let mut user_101 = EventClient::connect(&server, "acme", Token::Query(&key_101));
    assert_eq!(company.first_snapshot["calls"], json!([]), "no call yet");

    let device = Device::start(&server, "101", &callee, "answer", 1);
    let (ok, log) = call(&server, "100", &caller, "101", "answered", &[("TALK_MS", "1000")], 1);
    assert!(ok, "the call failed:\n{log}\n{}", server.log());
    assert!(device.finish().0, "the device saw the call go wrong");

    let seen = company.events_until(is_hung_up_for("101"));
    assert_eq!(
        kinds(&seen),
        pairs(&[
            ("dialing", "100"),
            ("ringing", "101"),
            ("connected", "100"),
            ("connected", "101"),
            ("hung_up", "100"),
            ("hung_up", "101"),
        ]),
        "{seen:#?}"
    );
    let call_id = &seen[0]["call_id"];
    for event in &seen {
        assert_eq!(&event["call_id"], call_id);
        assert_eq!(event["caller"], "100");
        assert_eq!(event["called"], "101");
        assert_eq!(event["direction"], "internal");
        assert!(event["at_ms"].as_i64().is_some_and(|t| t > 0), "{event}");
    }
    assert_eq!(seen[1]["caller_name"], "User 100", "Ringing carries the caller id");
    assert_eq!(seen[5]["cause"], "normal");

    let own = user_101.events_until(is_hung_up_for("101"));
    assert_eq!(kinds(&own), pairs(&[("ringing", "101"), ("connected", "101"), ("hung_up", "101")]));
    assert!(user_101.drain(Duration::from_millis(300)).is_empty(), "101 sees nothing of 100's events");
}

/// Receive RTP on `socket` for `seconds` and decode its PCMU payloads.
fn receive_pcmu(socket: &UdpSocket, seconds: u64) -> Vec<i16> {
    socket.set_read_timeout(Some(Duration::from_millis(200))).expect("set a timeout");
    let deadline = std::time::Instant::now() + Duration::from_secs(seconds);
    let mut samples = Vec::new();
    let mut packet = [0u8; 2048];
    while std::time::Instant::now() < deadline {
        if let Ok(length) = socket.recv(&mut packet)
            && packet[1] & 0x7F == 0
        {
            samples.extend(packet[12..length].iter().map(|&b| ulaw_to_linear(b)));
        }
    }
    samples
}

#[test]
fn a_call_is_held_resumed_and_hung_up_through_the_api_and_a_reconnecting_client_gets_its_state() {
    let server = Server::start();
    let [caller, callee, _] = acme(&server);
    let wav = tone_wav(8000, 1, 2.0, f64::from(MUSIC_HZ));
    server
        .operator()
        .put_bytes(&format!("{ACME}/prompts/music-on-hold"), "audio/wav", wav)
        .expect(201, "music");
    let company_key = key(&server, "acme", None);
    let key_100 = key(&server, "acme", Some("100"));
    let key_102 = key(&server, "acme", Some("102"));
    let mut company = EventClient::connect(&server, "acme", Token::Header(&company_key));

    // 101's device gives the test's socket as its media address: what it hears lands here.
    let media = UdpSocket::bind("127.0.0.1:0").expect("bind the device's media socket");
    let port = media.local_addr().expect("its address").port().to_string();
    let device = Device::start_with(&server, "101", &callee, "101", "answer", 1, &[("[media_port]", &port)]);
    let (server_ref, caller_password) = (&server, caller.clone());
    thread::scope(|scope| {
        // 100 calls 101 and stays until the host hangs up.
        let phone = scope.spawn(move || {
            let values = [("KEYS_AFTER_MS", "0"), ("KEYS_ACTIONS", "")];
            call(server_ref, "100", &caller_password, "101", "keys_hung_up", &values, 1)
        });
        let connected = company.events_until(|e| e["event"] == "connected" && e["user"] == "101");
        let call_id = connected[0]["call_id"].as_str().expect("a call id").to_string();
        let path = format!("{ACME}/calls/{}", urlencode(&call_id));

        // A client connecting now (a reconnect) is told of the call in its first message.
        let mut user_100 = EventClient::connect(&server, "acme", Token::Header(&key_100));
        let calls = user_100.first_snapshot["calls"].clone();
        assert_eq!(calls.as_array().map(Vec::len), Some(1), "{calls}");
        assert_eq!(calls[0]["state"], "connected");
        assert_eq!(calls[0]["users"], json!(["100", "101"]));
        assert_eq!(user_100.snapshot()["calls"], calls, "asked again, the same");

        // Who may see and touch it.
        let mine = server.with_token(&key_100).get(&format!("{ACME}/calls")).expect(200, "100's calls");
        assert_eq!(mine.as_array().map(Vec::len), Some(1));
        let theirs = server.with_token(&key_102).get(&format!("{ACME}/calls")).expect(200, "102's calls");
        assert_eq!(theirs, json!([]), "102 is not in the call");
        server
            .with_token(&key_102)
            .post_empty(&format!("{path}/hold"))
            .expect(403, "102 holds another's call");
        server.with_token(&key_102).get(&format!("{ACME}/users")).expect(403, "a user key lists users");
        server.with_token(&key_100).get(&format!("{ACME}/calls/no-such-call")).expect(404, "unknown call");
        server
            .with_token(&key_100)
            .post_empty(&format!("{path}/resume"))
            .expect(409, "resume a call not held");

        // 100 holds: 101 hears the company's music.
        let held = server.with_token(&key_100).post_empty(&format!("{path}/hold")).expect(200, "hold");
        assert_eq!((held["state"].as_str(), held["held_by"].as_str()), (Some("held"), Some("100")));
        server.with_token(&key_100).post_empty(&format!("{path}/hold")).expect(409, "hold twice");
        let heard = receive_pcmu(&media, 3);
        let report = tone_blocks(8000, &heard, MUSIC_HZ, &[600, 1000, 2000]);
        assert!(report.tone >= 15, "101 hears the music on hold while held: {report:?}");

        let resumed = server.with_token(&key_100).post_empty(&format!("{path}/resume")).expect(200, "resume");
        assert_eq!(resumed["state"], "connected");
        let ended =
            server.with_token(&company_key).post_empty(&format!("{path}/hangup")).expect(200, "hang up");
        assert_eq!(ended["call_id"], call_id.as_str());

        let (ok, log) = phone.join().expect("the caller");
        assert!(ok, "the caller did not see the host hang up:\n{log}\n{}", server.log());
        let seen = company.events_until(is_hung_up_for("101"));
        assert_eq!(
            kinds(&seen),
            pairs(&[
                ("held", "100"),
                ("held", "101"),
                ("resumed", "100"),
                ("resumed", "101"),
                ("hung_up", "100"),
                ("hung_up", "101"),
            ]),
            "{seen:#?}"
        );
        assert_eq!(seen[0]["call_id"], call_id.as_str());
        assert!(
            user_100.events_until(is_hung_up_for("100")).iter().all(|e| e["user"] == "100"),
            "100's stream has 100's events only"
        );
    });
    assert!(device.finish().0, "101's device saw the call go wrong");
    let calls = server.operator().get(&format!("{ACME}/calls")).expect(200, "calls after");
    assert_eq!(calls, json!([]), "no call left behind");
}

/// `text` with everything but unreserved URL characters percent-encoded.
fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn keys_of_one_company_or_user_reach_no_other_stream() {
    let server = Server::start();
    acme(&server);
    server.create_company("globex", json!({}));
    let acme_key = key(&server, "acme", None);
    let user_key = key(&server, "acme", Some("100"));
    assert_eq!(
        EventClient::try_connect(&server, "globex", Token::Header(&acme_key)).err().as_deref(),
        Some("HTTP 403")
    );
    assert_eq!(
        EventClient::try_connect(&server, "globex", Token::Query(&user_key)).err().as_deref(),
        Some("HTTP 403")
    );
    assert_eq!(
        EventClient::try_connect(&server, "acme", Token::Query("nonsense")).err().as_deref(),
        Some("HTTP 401")
    );
    server.with_token(&user_key).get("/api/v1/companies").expect(403, "a user key lists companies");
    server.with_token(&user_key).get(ACME).expect(403, "a user key reads the company");
    // A key for a user that does not exist is refused, naming the field.
    server
        .operator()
        .post(&format!("{ACME}/api-keys"), &json!({"name": "x", "user": "999"}))
        .expect_error_naming_field("user", "a key for no user");
    // Deleting the user revokes its keys.
    server.operator().delete(&format!("{ACME}/users/100")).expect(204, "delete 100");
    server.with_token(&user_key).get(&format!("{ACME}/calls")).expect(401, "a deleted user's key");
}

#[test]
fn written_numbers_normalise_by_the_companys_dialling_plan() {
    let server = Server::start();
    acme(&server);
    let plan = json!({
        "outside_line_prefix": "9",
        "country_code": "44",
        "area_code": "161",
        "national_prefix": "0",
        "internal_length": 3
    });
    server.operator().put(&format!("{ACME}/dialling"), &plan).expect(200, "set the plan");
    let normalise = |number: &str| {
        let http = client();
        let response = http
            .get(server.url(&format!("{ACME}/normalise")))
            .query(&[("number", number)])
            .bearer_auth(support::OPERATOR_TOKEN)
            .send()
            .expect("normalise");
        assert_eq!(response.status().as_u16(), 200, "{number}");
        response.json::<Value>().expect("JSON")
    };
    for written in ["+44 (161) 5527789", "44 161 5527789", "0161 5527789", "9 5527789", "5527789"] {
        assert_eq!(normalise(written), json!({"kind": "e164", "number": "+441615527789"}), "{written}");
    }
    assert_eq!(normalise("101"), json!({"kind": "internal", "number": "101"}));
    let bad = json!({"country_code": "+44"});
    server
        .operator()
        .put(&format!("{ACME}/dialling"), &bad)
        .expect_error_naming_field("dialling", "a bad plan");
    assert_eq!(server.operator().get(&format!("{ACME}/dialling")).expect(200, "plan"), plan, "kept");
}

/// The stand-in CRM and webhook receiver (tests/fixtures/crm/crm_server.py, Python's
/// http.server), stopped when dropped.
struct Crm {
    child: std::process::Child,
    port: u16,
    record: tempfile::NamedTempFile,
}

impl Crm {
    fn start() -> Crm {
        use std::io::BufRead;
        let port = support::free_port();
        let record = tempfile::NamedTempFile::new().expect("a record file");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/crm/crm_server.py");
        let mut child = std::process::Command::new("python3")
            .arg(script)
            .arg(port.to_string())
            .arg(record.path())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("run python3");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("its output");
        std::io::BufReader::new(stdout).read_line(&mut line).expect("the CRM starts");
        assert_eq!(line.trim(), "listening");
        Crm { child, port, record }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The bodies POSTed so far (after the first, which was refused).
    fn posted(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.record.path()).unwrap_or_default();
        text.lines().map(|line| serde_json::from_str(line).expect("JSON body")).collect()
    }
}

impl Drop for Crm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// acme with a trunk and DID 34910000000 ringing 101; 101's SIP password.
fn acme_with_did(server: &Server) -> String {
    server.create_company(
        "acme",
        json!({"sip_domain": DOMAIN, "decision_deadline_ms": 1000,
               "trunk": {"username": "acme", "password": "p", "domain": "127.0.0.1"}}),
    );
    let callee = password(&server.create_user("acme", "101"));
    server.create_did(
        "acme",
        &json!({"number": "34910000000", "description": "main", "default_destination": {"extension": "101"}, "rules": []}),
    );
    callee
}

/// An outside call from 34600111222 to the DID, answered by 101: the Ringing event 101's
/// stream received.
fn outside_call_ringing(server: &Server, callee: &str, stream: &mut EventClient) -> Value {
    let device = Device::start(server, "101", callee, "answer", 1);
    let (ok, log) = support::sipp::provider_call(server, "34910000000", "answered", &[("TALK_MS", "300")], 1);
    assert!(ok, "the outside call failed:\n{log}\n{}", server.log());
    assert!(device.finish().0, "101's device saw the call go wrong");
    let events = stream.events_until(is_hung_up_for("101"));
    events.into_iter().find(|e| e["event"] == "ringing").expect("a Ringing event")
}

#[test]
fn an_outside_caller_found_in_the_crm_rings_with_the_contact_and_a_slow_or_forbidden_crm_does_not_stop_the_call()
 {
    let crm = Crm::start();
    let server = Server::start();
    let callee = acme_with_did(&server);
    let allow = format!("http_allow=127.0.0.1:{}", crm.port);
    server.upload_module("acme", "crm", support::guest_bytes("crm_connector"), &allow).expect(201, "upload");
    let use_crm = |crm_url: String| {
        let body = json!({"module": "crm", "config": {"crm_url": crm_url, "timeout_ms": 5000}});
        server.operator().put(&format!("{ACME}/call-events"), &body).expect(200, "call-events settings");
    };
    let user_key = key(&server, "acme", Some("101"));
    let mut stream = EventClient::connect(&server, "acme", Token::Header(&user_key));

    use_crm(crm.url(""));
    let ringing = outside_call_ringing(&server, &callee, &mut stream);
    assert_eq!(ringing["caller"], "34600111222");
    assert_eq!(
        ringing["contact"],
        json!({"id": "c-17", "name": "Ada Lovelace", "organisation": "Analytical Engines", "url": "https://crm.example/c-17"})
    );

    // A CRM slower than the company's 1 s deadline: the call rings without a contact.
    use_crm(crm.url("/slow"));
    let ringing = outside_call_ringing(&server, &callee, &mut stream);
    assert_eq!(ringing["contact"], Value::Null, "{ringing}");

    // A CRM on a host the upload was not allowed: refused, and the call rings anyway.
    use_crm(format!("http://127.0.0.1:{}", support::free_port()));
    let ringing = outside_call_ringing(&server, &callee, &mut stream);
    assert_eq!(ringing["contact"], Value::Null, "{ringing}");

    let failures: Vec<String> = support::with_action(&server.audit("acme"), "decision.failed")
        .iter()
        .map(|e| e["detail"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(failures.iter().any(|f| f.contains("looking up the caller")), "{failures:?}");
    assert!(failures.iter().any(|f| f.to_lowercase().contains("notallowed")), "{failures:?}");
}

#[test]
fn every_event_is_posted_to_the_companys_webhook_and_a_refused_post_is_tried_again() {
    let crm = Crm::start();
    let server = Server::start();
    let [caller, callee, _] = acme(&server);
    // Only the operator may point a webhook at the host's own network.
    let settings = json!({"config": {"webhooks": [crm.url("/events")]}});
    let company_key = key(&server, "acme", None);
    server
        .with_token(&company_key)
        .put(&format!("{ACME}/call-events"), &settings)
        .expect_error_naming_field("config", "a company key's loopback webhook");
    server.operator().put(&format!("{ACME}/call-events"), &settings).expect(200, "webhook settings");

    let device = Device::start(&server, "101", &callee, "answer", 1);
    let (ok, log) = call(&server, "100", &caller, "101", "answered", &[("TALK_MS", "300")], 1);
    assert!(ok, "the call failed:\n{log}\n{}", server.log());
    assert!(device.finish().0);

    // The first POST (the Dialing event) was refused and is posted again a second later,
    // so the events arrive in order: the retry holds the ones after it back.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut posted = crm.posted();
    while posted.len() < 6 && std::time::Instant::now() < deadline {
        thread::sleep(Duration::from_millis(200));
        posted = crm.posted();
    }
    assert_eq!(
        kinds(&posted),
        pairs(&[
            ("dialing", "100"),
            ("ringing", "101"),
            ("connected", "100"),
            ("connected", "101"),
            ("hung_up", "100"),
            ("hung_up", "101"),
        ]),
        "{posted:#?}"
    );
    assert_eq!(posted[5]["cause"], "normal");
}

#[test]
fn a_call_transferred_by_the_answering_user_connects_the_caller_and_the_new_party_who_hear_each_other() {
    use support::baresip::{Phone, wait_until_registered};
    const CALLER_HZ: u32 = 1000;
    const NEW_PARTY_HZ: u32 = 600;
    let server = Server::start();
    let [caller_password, callee, new_party_password] = acme(&server);
    let company_key = key(&server, "acme", None);
    let key_101 = key(&server, "acme", Some("101"));
    let mut company = EventClient::connect(&server, "acme", Token::Header(&company_key));
    // 101 (sipp) answers and is hung up by the host when it transfers; 100 and 102 are
    // baresip phones, each playing its own tone and keeping what it hears.
    let device = Device::start(&server, "101", &callee, "answer", 1);
    let mut caller = Phone::start(&server, "100", &caller_password, CALLER_HZ);
    let mut new_party = Phone::start(&server, "102", &new_party_password, NEW_PARTY_HZ);
    wait_until_registered(&server, &mut caller);
    wait_until_registered(&server, &mut new_party);

    let (call_id, path) = dial_101(&mut caller, &mut company);

    let to_self = json!({"to": "101"});
    server.with_token(&key_101).post(&format!("{path}/transfer"), &to_self).expect(409, "to oneself");
    let outside = json!({"to": "0034910000000"});
    server.with_token(&key_101).post(&format!("{path}/transfer"), &outside).expect(409, "outside");
    server
        .with_token(&key_101)
        .post(&format!("{path}/transfer"), &json!({"to": "102"}))
        .expect(200, "transfer");
    new_party
        .control
        .wait_event("CALL_ESTABLISHED")
        .unwrap_or_else(|why| panic!("102 did not answer: {why}"));
    assert!(device.finish().0, "101 was hung up when it transferred");
    talk_then_hang_up(&mut caller, &mut new_party);

    let seen = company.events_until(is_hung_up_for("102"));
    assert_eq!(
        kinds(&seen),
        pairs(&[
            ("transfer_pending", "100"),
            ("transfer_pending", "101"),
            ("transferred", "101"),
            ("ringing", "102"),
            ("connected", "100"),
            ("connected", "102"),
            ("hung_up", "100"),
            ("hung_up", "102"),
        ]),
        "{seen:#?}"
    );
    assert!(seen.iter().all(|e| e["call_id"] == call_id.as_str()), "one call throughout");
    assert_hear_each_other((&caller, CALLER_HZ), (&new_party, NEW_PARTY_HZ));
    let cdr = newest_cdr(&server, "");
    assert_eq!(
        (cdr["status"].as_str(), cdr["destination"].as_str()),
        (Some("answered"), Some("extension 102")),
        "{cdr}"
    );
}

#[test]
fn click_to_dial_rings_the_user_then_calls_the_number_and_both_hear_each_other() {
    use support::baresip::{Phone, wait_until_registered};
    const USER_HZ: u32 = 1000;
    const CALLED_HZ: u32 = 600;
    let server = Server::start();
    let [_, user_password, called_password] = acme(&server);
    let plan = json!({"internal_length": 3});
    server.operator().put(&format!("{ACME}/dialling"), &plan).expect(200, "three-digit extensions");
    let company_key = key(&server, "acme", None);
    let key_101 = key(&server, "acme", Some("101"));
    let mut company = EventClient::connect(&server, "acme", Token::Header(&company_key));

    // 100 has no phone: its click-to-dial is refused at once.
    let body = json!({"user": "100", "number": "102"});
    server.with_token(&company_key).post(&format!("{ACME}/calls"), &body).expect(409, "no device");
    server
        .with_token(&key_101)
        .post(&format!("{ACME}/calls"), &json!({"user": "100", "number": "102"}))
        .expect(403, "101's key dialling for 100");

    // 101 and 102 are baresip phones that answer by themselves.
    let mut user = Phone::start(&server, "101", &user_password, USER_HZ);
    let mut called = Phone::start(&server, "102", &called_password, CALLED_HZ);
    wait_until_registered(&server, &mut user);
    wait_until_registered(&server, &mut called);
    // The number as a CRM might have it: the plan makes it extension 102.
    let placed = server.with_token(&key_101).post(&format!("{ACME}/calls"), &json!({"number": "10-2"}));
    let placed = placed.expect(201, "click-to-dial");
    assert_eq!(
        (placed["state"].as_str(), placed["caller"].as_str()),
        (Some("dialing"), Some("101")),
        "{placed}"
    );
    assert_eq!(placed["called"], "102", "normalised");
    let call_id = placed["call_id"].as_str().expect("a call id").to_string();
    user.control.wait_event("CALL_ESTABLISHED").unwrap_or_else(|why| panic!("101 did not answer: {why}"));
    called.control.wait_event("CALL_ESTABLISHED").unwrap_or_else(|why| panic!("102 did not answer: {why}"));
    thread::sleep(Duration::from_secs(3));
    let path = format!("{ACME}/calls/{}/hangup", urlencode(&call_id));
    server.with_token(&company_key).post_empty(&path).expect(200, "hang up");
    user.control.wait_event("CALL_CLOSED").unwrap_or_else(|why| panic!("101 was not hung up: {why}"));
    called.control.wait_event("CALL_CLOSED").unwrap_or_else(|why| panic!("102 was not hung up: {why}"));
    user.quit();
    called.quit();

    let seen = company.events_until(is_hung_up_for("102"));
    assert_eq!(
        kinds(&seen),
        pairs(&[
            ("dialing", "101"),
            ("ringing", "102"),
            ("connected", "101"),
            ("connected", "102"),
            ("hung_up", "101"),
            ("hung_up", "102"),
        ]),
        "{seen:#?}"
    );
    assert!(seen.iter().all(|e| e["call_id"] == call_id.as_str()), "one call throughout");
    assert_hear_each_other((&user, USER_HZ), (&called, CALLED_HZ));
    let cdr = newest_cdr(&server, "?status=answered");
    assert_eq!((cdr["caller"].as_str(), cdr["called"].as_str()), (Some("101"), Some("102")), "{cdr}");
    assert_eq!(cdr["status"], "answered", "{cdr}");
}

#[test]
fn a_call_in_a_menu_is_listed_and_hung_up_by_the_company_but_not_held() {
    let server = Server::start();
    let [caller, _, _] = acme(&server);
    let menu = json!({"name": "main", "number": "800", "timeout_seconds": 30, "repeats": 0,
                      "options": [{"key": "2", "destination": {"extension": "101"}}]});
    server.operator().post(&format!("{ACME}/ivr-menus"), &menu).expect(201, "create the menu");
    let company_key = key(&server, "acme", None);
    let mut company = EventClient::connect(&server, "acme", Token::Header(&company_key));
    let (server_ref, caller_password) = (&server, caller.clone());
    thread::scope(|scope| {
        // 100 calls the menu and waits there until the host hangs up.
        let phone = scope.spawn(move || {
            let values = [("KEYS_AFTER_MS", "0"), ("KEYS_ACTIONS", "")];
            call(server_ref, "100", &caller_password, "800", "keys_hung_up", &values, 1)
        });
        let dialing = company.events_until(|e| e["event"] == "dialing");
        let call_id = dialing[0]["call_id"].as_str().expect("a call id").to_string();
        let path = format!("{ACME}/calls/{}", urlencode(&call_id));
        // The menu has the call: it is listed, cannot be held, and is hung up on request.
        let deadline = std::time::Instant::now() + support::events::EVENT_PATIENCE;
        loop {
            let reply = server.with_token(&company_key).post_empty(&format!("{path}/hold"));
            if reply.status == 409 && reply.text.contains("serving the call") {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "hold in the menu: {} {}",
                reply.status,
                reply.text
            );
            thread::sleep(Duration::from_millis(100));
        }
        let listed = server.with_token(&company_key).get(&format!("{ACME}/calls")).expect(200, "calls");
        assert_eq!(listed[0]["call_id"], call_id.as_str());
        server.with_token(&company_key).post_empty(&format!("{path}/hangup")).expect(200, "hang up");
        let (ok, log) = phone.join().expect("the caller");
        assert!(ok, "the caller did not get the host's BYE:\n{log}\n{}", server.log());
        let ended = company.events_until(is_hung_up_for("100"));
        assert_eq!(ended.last().map(|e| e["call_id"].clone()), Some(json!(call_id)));
    });
}

#[test]
fn a_ringing_call_is_picked_up_through_the_api_by_a_member_of_the_pickup_group() {
    let server = Server::start();
    let [caller, rung_password, picker_password] = acme(&server);
    let group = json!({"name": "front", "members": ["101", "102"]});
    server.operator().post(&format!("{ACME}/pickup-groups"), &group).expect(201, "a pickup group");
    let company_key = key(&server, "acme", None);
    let key_100 = key(&server, "acme", Some("100"));
    let key_102 = key(&server, "acme", Some("102"));
    let mut company = EventClient::connect(&server, "acme", Token::Header(&company_key));
    // 101 rings until cancelled; 102 answers.
    let rung = Device::start(&server, "101", &rung_password, "ring", 1);
    let picker = Device::start(&server, "102", &picker_password, "answer", 1);
    let (server_ref, caller_password) = (&server, caller.clone());
    thread::scope(|scope| {
        let phone = scope.spawn(move || {
            call(server_ref, "100", &caller_password, "101", "answered", &[("TALK_MS", "1000")], 1)
        });
        let ringing = company.events_until(|e| e["event"] == "ringing" && e["user"] == "101");
        let call_id = ringing[0]["call_id"].as_str().expect("a call id").to_string();
        let path = format!("{ACME}/calls/{}/pickup", urlencode(&call_id));
        server.with_token(&key_100).post(&path, &json!({})).expect(403, "100 is in no group with 101");
        let taken = server.with_token(&key_102).post(&path, &json!({})).expect(200, "102 picks up");
        assert_eq!(taken["state"], "ringing", "{taken}");
        let (ok, log) = phone.join().expect("the caller");
        assert!(ok, "the caller's call failed:\n{log}\n{}", server.log());
    });
    assert!(rung.finish().0, "101 was cancelled when 102 answered");
    assert!(picker.finish().0, "102 answered and was hung up by the caller");
    let seen = company.events_until(is_hung_up_for("102"));
    assert_eq!(
        kinds(&seen),
        pairs(&[
            ("ringing", "102"),
            ("hung_up", "101"),
            ("connected", "100"),
            ("connected", "102"),
            ("hung_up", "100"),
            ("hung_up", "102"),
        ]),
        "{seen:#?}"
    );
    assert_eq!(seen[1]["cause"], "answered-elsewhere");
    let cdr = newest_cdr(&server, "");
    assert_eq!(cdr["destination"], "extension 101 (picked up by 102)", "{cdr}");
}

#[test]
fn the_calling_user_transfers_its_callee_to_an_extension_and_they_hear_each_other() {
    use support::baresip::{Phone, wait_until_registered};
    const CALLEE_HZ: u32 = 600;
    const NEW_PARTY_HZ: u32 = 1000;
    let server = Server::start();
    let [caller_password, callee_password, new_party_password] = acme(&server);
    let company_key = key(&server, "acme", None);
    let key_100 = key(&server, "acme", Some("100"));
    let mut company = EventClient::connect(&server, "acme", Token::Header(&company_key));
    // 100 (sipp) calls and is hung up when it transfers; 101 and 102 are baresip phones.
    let mut callee = Phone::start(&server, "101", &callee_password, CALLEE_HZ);
    let mut new_party = Phone::start(&server, "102", &new_party_password, NEW_PARTY_HZ);
    wait_until_registered(&server, &mut callee);
    wait_until_registered(&server, &mut new_party);
    let (server_ref, caller_password) = (&server, caller_password.clone());
    thread::scope(|scope| {
        let phone = scope.spawn(move || {
            let values = [("KEYS_AFTER_MS", "0"), ("KEYS_ACTIONS", "")];
            call(server_ref, "100", &caller_password, "101", "keys_hung_up", &values, 1)
        });
        let connected = company.events_until(|e| e["event"] == "connected" && e["user"] == "101");
        let call_id = connected[0]["call_id"].as_str().expect("a call id").to_string();
        let path = format!("{ACME}/calls/{}/transfer", urlencode(&call_id));
        // sipp must have reached its "wait for BYE" step (a BYE during its ACK aborts it).
        thread::sleep(Duration::from_millis(500));
        let to_menu = json!({"to": "999"});
        server.with_token(&key_100).post(&path, &to_menu).expect(409, "not an extension");
        server
            .with_token(&key_100)
            .post(&path, &json!({"to": "102"}))
            .expect(200, "100 transfers 101 to 102");
        let (ok, log) = phone.join().expect("the caller");
        assert!(ok, "100 was not hung up when it transferred:\n{log}\n{}", server.log());
    });
    new_party
        .control
        .wait_event("CALL_ESTABLISHED")
        .unwrap_or_else(|why| panic!("102 did not answer: {why}"));
    talk_then_hang_up(&mut callee, &mut new_party);

    let seen = company.events_until(is_hung_up_for("102"));
    assert_eq!(
        kinds(&seen),
        pairs(&[
            ("transfer_pending", "100"),
            ("transfer_pending", "101"),
            ("transferred", "100"),
            ("ringing", "102"),
            ("connected", "102"),
            ("connected", "101"),
            ("hung_up", "101"),
            ("hung_up", "102"),
        ]),
        "{seen:#?}"
    );
    assert_hear_each_other((&callee, CALLEE_HZ), (&new_party, NEW_PARTY_HZ));
    let cdr = newest_cdr(&server, "");
    assert_eq!(cdr["destination"], "extension 102 (transferred)", "{cdr}");
}

#[test]
fn the_openapi_document_describes_the_cti_routes_and_the_event_schema() {
    let server = Server::start();
    let doc = server.anonymous().get("/api/v1/openapi.json").expect(200, "openapi");
    for path in [
        "/api/v1/companies/{company}/events",
        "/api/v1/companies/{company}/calls",
        "/api/v1/companies/{company}/calls/{call_id}",
        "/api/v1/companies/{company}/calls/{call_id}/hangup",
        "/api/v1/companies/{company}/calls/{call_id}/hold",
        "/api/v1/companies/{company}/calls/{call_id}/resume",
        "/api/v1/companies/{company}/calls/{call_id}/transfer",
        "/api/v1/companies/{company}/calls/{call_id}/pickup",
        "/api/v1/companies/{company}/calls/{call_id}/consult",
        "/api/v1/companies/{company}/calls/{call_id}/consult/complete",
        "/api/v1/companies/{company}/calls/{call_id}/consult/cancel",
        "/api/v1/companies/{company}/dialling",
        "/api/v1/companies/{company}/normalise",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing from the OpenAPI document");
    }
    for schema in ["CallStateEvent", "EventKind", "ActiveCall", "CallState", "Contact", "DiallingPlan"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "schema {schema} missing");
    }
    let kinds = &doc["components"]["schemas"]["EventKind"]["enum"];
    for kind in [
        "dialing",
        "ringing",
        "connected",
        "held",
        "resumed",
        "transfer_pending",
        "consulting",
        "transferred",
        "hung_up",
    ] {
        assert!(kinds.as_array().is_some_and(|k| k.contains(&json!(kind))), "{kind} not in {kinds}");
    }
}

#[test]
fn a_call_picked_up_by_phone_with_star_95_is_connected_to_the_picker_in_the_events() {
    let server = Server::start();
    let [caller, rung_password, picker_password] = acme(&server);
    let company_key = key(&server, "acme", None);
    let mut company = EventClient::connect(&server, "acme", Token::Header(&company_key));
    let rung = Device::start(&server, "101", &rung_password, "ring", 1);
    let (server_ref, caller_password) = (&server, caller.clone());
    let call_id = thread::scope(|scope| {
        // 100 calls 101 and stays until the host hangs up; 102 dials *95101 and talks.
        let phone = scope.spawn(move || {
            let values = [("KEYS_AFTER_MS", "0"), ("KEYS_ACTIONS", "")];
            call(server_ref, "100", &caller_password, "101", "keys_hung_up", &values, 1)
        });
        let ringing = company.events_until(|e| e["event"] == "ringing" && e["user"] == "101");
        let call_id = ringing[0]["call_id"].as_str().expect("a call id").to_string();
        let (ok, log) =
            call(&server, "102", &picker_password, "*95101", "answered", &[("TALK_MS", "1000")], 1);
        assert!(ok, "102's pickup failed:\n{log}\n{}", server.log());
        let (ok, log) = phone.join().expect("the caller");
        assert!(ok, "the caller was not hung up after the picker left:\n{log}");
        call_id
    });
    assert!(rung.finish().0, "101 was cancelled by the pickup");
    let seen = company
        .events_until(|e| e["event"] == "hung_up" && e["user"] == "102" && e["call_id"] == call_id.as_str());
    let picked: Vec<Value> = seen.into_iter().filter(|e| e["call_id"] == call_id.as_str()).collect();
    assert_eq!(
        kinds(&picked),
        pairs(&[
            ("hung_up", "101"),
            ("connected", "100"),
            ("connected", "102"),
            ("hung_up", "100"),
            ("hung_up", "102"),
        ]),
        "{picked:#?}"
    );
}

/// The baresip phone `caller` dials 101; once 101 answered (its Connected event on the
/// company's stream): the call's id and its path in the API.
fn dial_101(caller: &mut support::baresip::Phone, company: &mut EventClient) -> (String, String) {
    caller.control.command("dial", "101").unwrap_or_else(|why| panic!("dial 101: {why}"));
    caller.control.wait_event("CALL_ESTABLISHED").unwrap_or_else(|why| panic!("101 did not answer: {why}"));
    let connected = company.events_until(|e| e["event"] == "connected" && e["user"] == "101");
    let call_id = connected[0]["call_id"].as_str().expect("a call id").to_string();
    let path = format!("{ACME}/calls/{}", urlencode(&call_id));
    (call_id, path)
}

/// The last `seconds` of what `listener` received hold `heard_hz` in most 100 ms blocks.
fn assert_heard_at_the_end(listener: &support::baresip::Phone, heard_hz: u32, seconds: usize) {
    let (rate, samples) = support::audio::read_wav(&listener.received_audio());
    let tail = &samples[samples.len().saturating_sub(rate as usize * seconds)..];
    let rivals: Vec<u32> = [440, 600, 1000, 2000].into_iter().filter(|&r| r != heard_hz).collect();
    let heard = tone_blocks(rate, tail, heard_hz, &rivals);
    assert!(heard.tone >= seconds * 5, "{heard_hz} Hz in the last {seconds} s: {heard:?}");
}

#[test]
fn an_attended_transfer_consults_while_the_caller_hears_music_then_hands_the_caller_over() {
    use support::baresip::{Phone, wait_until_registered};
    const CALLER_HZ: u32 = 1000;
    const CONSULTED_HZ: u32 = 600;
    let server = Server::start();
    let [caller_password, agent_password, consulted_password] = acme(&server);
    let company_key = key(&server, "acme", None);
    let key_101 = key(&server, "acme", Some("101"));
    let music = tone_wav(8000, 1, 2.0, f64::from(MUSIC_HZ));
    let operator = server.operator();
    operator.put_bytes(&format!("{ACME}/prompts/music-on-hold"), "audio/wav", music).expect(201, "music");
    let mut company = EventClient::connect(&server, "acme", Token::Header(&company_key));
    // 101 (sipp) answers, consults 102 and is hung up when the transfer completes; 100
    // and 102 are baresip phones, each playing its own tone and keeping what it hears.
    let agent = Device::start(&server, "101", &agent_password, "answer", 1);
    let mut caller = Phone::start(&server, "100", &caller_password, CALLER_HZ);
    let mut consulted = Phone::start(&server, "102", &consulted_password, CONSULTED_HZ);
    wait_until_registered(&server, &mut caller);
    wait_until_registered(&server, &mut consulted);

    let (call_id, path) = dial_101(&mut caller, &mut company);
    let as_101 = server.with_token(&key_101);
    as_101.post(&format!("{path}/consult/complete"), &json!({})).expect(409, "no consult to complete");
    as_101.post(&format!("{path}/consult"), &json!({"to": "100"})).expect(409, "100 is in the call");

    let consulting = as_101.post(&format!("{path}/consult"), &json!({"to": "102"})).expect(200, "consult");
    assert_eq!(
        (consulting["state"].as_str(), consulting["consulting"].as_str()),
        (Some("consulting"), Some("102"))
    );
    consulted
        .control
        .wait_event("CALL_ESTABLISHED")
        .unwrap_or_else(|why| panic!("102 did not answer: {why}"));
    let mut seen = company.events_until(|e| e["event"] == "connected" && e["user"] == "102");
    // The caller waits on hold meanwhile: music, not the consult.
    thread::sleep(Duration::from_secs(2));
    let done = as_101.post(&format!("{path}/consult/complete"), &json!({})).expect(200, "complete");
    assert_eq!((done["state"].as_str(), done["users"].clone()), (Some("connected"), json!(["100", "102"])));
    assert!(agent.finish().0, "101 was hung up when the transfer completed");
    talk_then_hang_up(&mut caller, &mut consulted);

    seen.extend(company.events_until(is_hung_up_for("102")));
    assert_eq!(
        kinds(&seen),
        pairs(&[
            ("consulting", "100"),
            ("consulting", "101"),
            ("ringing", "102"),
            ("connected", "102"),
            ("transfer_pending", "100"),
            ("transfer_pending", "101"),
            ("transfer_pending", "102"),
            ("transferred", "101"),
            ("connected", "100"),
            ("connected", "102"),
            ("hung_up", "100"),
            ("hung_up", "102"),
        ]),
        "{seen:#?}"
    );
    assert!(seen.iter().all(|e| e["call_id"] == call_id.as_str()), "one call throughout");
    let (rate, heard_by_caller) = support::audio::read_wav(&caller.received_audio());
    let music = tone_blocks(rate, &heard_by_caller, MUSIC_HZ, &[CONSULTED_HZ, CALLER_HZ]);
    assert!(music.tone >= 10, "the caller heard music on hold during the consult: {music:?}");
    assert_heard_at_the_end(&caller, CONSULTED_HZ, 2);
    assert_heard_at_the_end(&consulted, CALLER_HZ, 2);
    let cdr = newest_cdr(&server, "");
    assert_eq!(cdr["destination"], "extension 102 (transferred)", "{cdr}");
}

#[test]
fn a_cancelled_consult_hangs_up_the_consulted_party_and_gives_the_call_back() {
    use support::baresip::{Phone, wait_until_registered};
    const CALLER_HZ: u32 = 1000;
    const AGENT_HZ: u32 = 600;
    let server = Server::start();
    let [caller_password, agent_password, consulted_password] = acme(&server);
    let company_key = key(&server, "acme", None);
    let mut company = EventClient::connect(&server, "acme", Token::Header(&company_key));
    // 102 (sipp) answers the consult and is hung up when it is cancelled.
    let consulted = Device::start(&server, "102", &consulted_password, "answer", 1);
    let mut caller = Phone::start(&server, "100", &caller_password, CALLER_HZ);
    let mut agent = Phone::start(&server, "101", &agent_password, AGENT_HZ);
    wait_until_registered(&server, &mut caller);
    wait_until_registered(&server, &mut agent);

    let (_, path) = dial_101(&mut caller, &mut company);
    let as_company = server.with_token(&company_key);
    // No user named: the answering user consults.
    as_company.post(&format!("{path}/consult"), &json!({"to": "102"})).expect(200, "consult");
    let mut seen = company.events_until(|e| e["event"] == "connected" && e["user"] == "102");
    // sipp must have reached its "wait for BYE" step (a BYE during its ACK aborts it).
    thread::sleep(Duration::from_millis(500));
    as_company.post(&format!("{path}/transfer"), &json!({"to": "102"})).expect(409, "blind during a consult");
    let back = as_company.post(&format!("{path}/consult/cancel"), &json!({})).expect(200, "cancel");
    assert_eq!((back["state"].as_str(), back["users"].clone()), (Some("connected"), json!(["100", "101"])));
    assert!(consulted.finish().0, "102 was hung up when the consult was cancelled");
    as_company.post(&format!("{path}/consult/cancel"), &json!({})).expect(409, "nothing left to cancel");
    talk_then_hang_up(&mut caller, &mut agent);

    seen.extend(company.events_until(is_hung_up_for("101")));
    assert_eq!(
        kinds(&seen),
        pairs(&[
            ("consulting", "100"),
            ("consulting", "101"),
            ("ringing", "102"),
            ("connected", "102"),
            ("hung_up", "102"),
            ("resumed", "100"),
            ("resumed", "101"),
            ("hung_up", "100"),
            ("hung_up", "101"),
        ]),
        "{seen:#?}"
    );
    assert_eq!(seen[4]["cause"], "consult-cancelled");
    assert_heard_at_the_end(&caller, AGENT_HZ, 2);
    assert_heard_at_the_end(&agent, CALLER_HZ, 2);
}

#[test]
fn the_calling_user_hanging_up_during_a_consult_hands_its_callee_to_the_consulted_party() {
    use support::baresip::{Phone, wait_until_registered};
    const CALLER_HZ: u32 = 1000;
    const CALLEE_HZ: u32 = 600;
    const CONSULTED_HZ: u32 = 2000;
    let server = Server::start();
    let [caller_password, callee_password, consulted_password] = acme(&server);
    let company_key = key(&server, "acme", None);
    let key_100 = key(&server, "acme", Some("100"));
    let mut company = EventClient::connect(&server, "acme", Token::Header(&company_key));
    let mut caller = Phone::start(&server, "100", &caller_password, CALLER_HZ);
    let mut callee = Phone::start(&server, "101", &callee_password, CALLEE_HZ);
    let mut consulted = Phone::start(&server, "102", &consulted_password, CONSULTED_HZ);
    for phone in [&mut caller, &mut callee, &mut consulted] {
        wait_until_registered(&server, phone);
    }

    let (_, path) = dial_101(&mut caller, &mut company);
    server
        .with_token(&key_100)
        .post(&format!("{path}/consult"), &json!({"to": "102"}))
        .expect(200, "consult");
    consulted
        .control
        .wait_event("CALL_ESTABLISHED")
        .unwrap_or_else(|why| panic!("102 did not answer: {why}"));
    let mut seen = company.events_until(|e| e["event"] == "connected" && e["user"] == "102");
    thread::sleep(Duration::from_secs(1));
    // 100 hangs up its phone with 102 on the line: the transfer completes.
    caller.control.command("hangup", "").unwrap_or_else(|why| panic!("hangup: {why}"));
    seen.extend(company.events_until(|e| e["event"] == "transferred"));
    caller.quit();
    // 102's phone now holds the call's caller side: its hang-up ends the call for 101.
    talk_then_hang_up(&mut consulted, &mut callee);

    seen.extend(company.events_until(is_hung_up_for("102")));
    assert_eq!(
        kinds(&seen),
        pairs(&[
            ("consulting", "100"),
            ("consulting", "101"),
            ("ringing", "102"),
            ("connected", "102"),
            ("transfer_pending", "100"),
            ("transfer_pending", "101"),
            ("transfer_pending", "102"),
            ("transferred", "100"),
            ("connected", "101"),
            ("connected", "102"),
            ("hung_up", "101"),
            ("hung_up", "102"),
        ]),
        "{seen:#?}"
    );
    assert_heard_at_the_end(&callee, CONSULTED_HZ, 2);
    assert_heard_at_the_end(&consulted, CALLEE_HZ, 2);
    let cdr = newest_cdr(&server, "");
    assert_eq!(cdr["destination"], "extension 102 (transferred)", "{cdr}");
}
