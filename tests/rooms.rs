//! Black-box tests of conference rooms (issue #5): the rooms API, and real browsers —
//! headless Chromium with a fake camera and microphone — joining a room's link and
//! receiving each other's audio and video through the host's forwarding.

mod support;

use std::thread;
use std::time::Duration;

use serde_json::json;
use support::Server;
use support::chromium::{Browser, artifacts_dir};

const ROOMS: &str = "/api/v1/companies/acme/rooms";

/// How long media may take to start flowing (ICE, DTLS, the first key frame): a bound.
const MEDIA_PATIENCE: Duration = Duration::from_secs(30);

fn acme_and_globex(server: &Server) {
    server.create_company("acme", json!({}));
    server.create_company("globex", json!({}));
}

#[test]
fn rooms_are_created_with_a_shareable_link_listed_and_deleted_within_their_company() {
    let server = Server::start();
    acme_and_globex(&server);
    let operator = server.operator();
    operator
        .post(ROOMS, &json!({"name": "Weekly", "pin": "12ab"}))
        .expect_error_naming_field("pin", "a PIN of digits");
    operator.post(ROOMS, &json!({"name": ""})).expect_error_naming_field("name", "a name");
    let room = operator.post(ROOMS, &json!({"name": "Weekly", "pin": "2468"})).expect(201, "create");
    let id = room["id"].as_str().expect("an id").to_string();
    assert!(id.len() >= 32, "the link's id is unguessable: {id}");
    let link = room["link"].as_str().expect("a link");
    assert_eq!(link, server.url(&format!("/rooms/acme/{id}")), "the link is the room page on this host");
    assert_eq!(room["participants"], 0);

    let page = support::client().get(link).send().expect("the room page");
    assert_eq!(page.status(), 200);
    assert!(page.text().expect("HTML").contains("Weekly"), "the page names the room");
    let listed = operator.get(ROOMS).expect(200, "list");
    assert_eq!(listed.as_array().map(Vec::len), Some(1));

    let globex_key =
        operator.post("/api/v1/companies/globex/api-keys", &json!({"name": "g"})).expect(201, "key");
    let globex = server.with_token(globex_key["key"].as_str().expect("a key"));
    globex.get(ROOMS).expect(403, "another company's rooms are not listed");
    globex.delete(&format!("{ROOMS}/{id}")).expect(403, "nor deleted");
    assert_eq!(
        globex.get("/api/v1/companies/globex/rooms").expect(200, "globex's own").as_array().map(Vec::len),
        Some(0)
    );
    let wrong_company =
        support::client().get(server.url(&format!("/rooms/globex/{id}"))).send().expect("page");
    assert_eq!(wrong_company.status(), 404, "a room is found under its own company only");

    operator.delete(&format!("{ROOMS}/{id}")).expect(204, "delete");
    let gone = support::client().get(link).send().expect("the room page");
    assert_eq!(gone.status(), 404, "a deleted room's link leads nowhere");
    let audit = server.audit("acme");
    assert!(
        audit.iter().any(|e| e["action"] == "room.create")
            && audit.iter().any(|e| e["action"] == "room.delete")
    );
}

/// Whether the page receives `kind` bytes now (from `window.roomStats()`, once the page's
/// script has loaded).
fn receiving(kind: &str) -> String {
    format!("(window.roomStats ? window.roomStats() : Promise.resolve({{}})).then(s => s.{kind} > 0)")
}

#[test]
fn two_browsers_in_a_room_receive_each_others_audio_and_video() {
    let server = Server::start();
    acme_and_globex(&server);
    let room = server.operator().post(ROOMS, &json!({"name": "Stand-up"})).expect(201, "create");
    let link = room["link"].as_str().expect("a link").to_string();
    let browser = Browser::start();
    let mut first = browser.open(&link);
    let mut second = browser.open(&link);

    for page in [&mut first, &mut second] {
        for kind in ["audio", "video"] {
            page.wait_for(&receiving(kind), MEDIA_PATIENCE);
        }
    }
    let before = first.eval("window.roomStats()");
    std::thread::sleep(Duration::from_secs(1));
    let after = first.eval("window.roomStats()");
    for kind in ["audio", "video"] {
        assert!(after[kind].as_f64() > before[kind].as_f64(), "{kind} keeps arriving: {before} then {after}");
    }
    assert_eq!(first.eval("document.querySelectorAll('figure').length"), json!(2), "me and the other");
    let listed = server.operator().get(ROOMS).expect(200, "list");
    assert_eq!(listed[0]["participants"], 2, "the API counts who is in the room");
    first.screenshot(&artifacts_dir().join("room.png"));
}

#[test]
fn a_room_with_a_pin_admits_only_who_gives_it_and_offers_media_to_who_does() {
    let server = Server::start();
    acme_and_globex(&server);
    let room = server.operator().post(ROOMS, &json!({"name": "Board", "pin": "2468"})).expect(201, "create");
    let id = room["id"].as_str().expect("an id");
    let signal = server.url(&format!("/rooms/acme/{id}/signal")).replace("http://", "ws://");
    for wrong in ["", "?pin=1357"] {
        match tungstenite::connect(format!("{signal}{wrong}")) {
            Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403, "pin {wrong:?}"),
            other => panic!("a wrong PIN ({wrong:?}) was not refused: {:?}", other.map(|_| ())),
        }
    }
    let (mut socket, _) = tungstenite::connect(format!("{signal}?pin=2468")).expect("the right PIN admits");
    let first = socket.read().expect("a first message");
    let offer: serde_json::Value = serde_json::from_str(first.to_text().expect("text")).expect("JSON");
    assert_eq!(offer["type"], "offer", "{offer}");
    let sdp = offer["sdp"].as_str().expect("an SDP offer");
    for needed in ["m=audio", "m=video", "a=fingerprint:", "a=ice-ufrag:", "a=rtcp-mux", "a=group:BUNDLE"] {
        assert!(sdp.contains(needed), "the offer lacks {needed}:\n{sdp}");
    }
    socket.send(tungstenite::Message::text(r#"{"type": "nonsense"}"#)).expect("send");
    let error: serde_json::Value = loop {
        let message = socket.read().expect("an answer to nonsense");
        let value: serde_json::Value = serde_json::from_str(message.to_text().expect("text")).expect("JSON");
        if value["type"] != "candidate" {
            break value;
        }
    };
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(server.operator().get(&format!("{ROOMS}/{id}")).expect(200, "room")["participants"], 1);

    // Deleting the room sends everyone in it away.
    server.operator().delete(&format!("{ROOMS}/{id}")).expect(204, "delete");
    if let tungstenite::stream::MaybeTlsStream::Plain(stream) = socket.get_ref() {
        stream.set_read_timeout(Some(MEDIA_PATIENCE)).expect("a read timeout");
    }
    loop {
        match socket.read() {
            Ok(tungstenite::Message::Close(_)) => break,
            Ok(_) => {}
            Err(tungstenite::Error::Io(error)) => panic!("the participant was not sent away: {error}"),
            // Closed without a closing handshake: gone too.
            Err(_) => break,
        }
    }
}

#[test]
fn a_third_browser_receives_both_others_and_its_leaving_removes_it_from_their_pages() {
    let server = Server::start();
    acme_and_globex(&server);
    let room = server.operator().post(ROOMS, &json!({"name": "Three"})).expect(201, "create");
    let link = room["link"].as_str().expect("a link").to_string();
    let browser = Browser::start();
    let mut pages: Vec<_> = (0..3).map(|_| browser.open(&link)).collect();
    let tiles = "document.querySelectorAll('figure').length";
    for page in pages.iter_mut() {
        page.wait_for(&format!("{tiles} === 3"), MEDIA_PATIENCE);
        page.wait_for(&receiving("video"), MEDIA_PATIENCE);
    }
    // Each page receives two participants' audio and video: four inbound streams.
    let streams = "window.roomConnection.getStats().then(r => [...r.values()].filter(s => s.type === 'inbound-rtp' && s.bytesReceived > 0).length)";
    for (index, page) in pages.iter_mut().enumerate() {
        let deadline = std::time::Instant::now() + MEDIA_PATIENCE;
        while page.eval(&format!("{streams}.then(n => n === 4)")) != json!(true) {
            let report = "window.roomConnection.getStats().then(r => JSON.stringify([...r.values()].filter(s => s.type === 'inbound-rtp').map(s => [s.kind, s.ssrc, s.bytesReceived, s.mid])) + ' ' + JSON.stringify(window.roomConnection.getTransceivers().map(t => [t.mid, t.direction, t.currentDirection])) + ' ' + window.roomConnection.remoteDescription.sdp.split('\\r\\n').filter(l => l.startsWith('a=mid') || l.startsWith('a=ssrc:') || l.startsWith('m=')).join(' | '))";
            assert!(
                std::time::Instant::now() < deadline,
                "page {index} has not 4 streams (inbound, transceivers, offered SSRCs): {}\n{}",
                page.eval(report),
                server.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let mut leaving = pages.pop().expect("a third page");
    leaving.eval("document.getElementById('leave').click()");
    for page in pages.iter_mut() {
        page.wait_for(&format!("{tiles} === 2"), MEDIA_PATIENCE);
    }
    let id = room["id"].as_str().expect("an id");
    assert_eq!(server.operator().get(&format!("{ROOMS}/{id}")).expect(200, "room")["participants"], 2);
}

#[test]
fn a_phone_dialling_the_rooms_number_is_heard_by_the_browser_and_hears_it_and_its_conference_is_recorded() {
    use support::baresip::{Phone, wait_until_registered};
    const PHONE_HZ: u32 = 600;
    const BROWSER_HZ: u32 = 1000;
    let server = Server::start();
    server.create_company("acme", json!({"sip_domain": support::sipp::DOMAIN}));
    let password =
        server.create_user("acme", "100")["sip_password"].as_str().expect("a password").to_string();
    let operator = server.operator();
    // 100 records its conference calls only (SPEC §6).
    let conferences_only = support::merge(
        support::user_body("100"),
        json!({"recording": {"mode": "conferences", "announce": false}}),
    );
    operator.put("/api/v1/companies/acme/users/100", &conferences_only).expect(200, "recording mode");
    operator.post(ROOMS, &json!({"name": "Taken", "number": "100"})).expect(409, "100 is an extension");
    let room = operator.post(ROOMS, &json!({"name": "Dial-in", "number": "800"})).expect(201, "create");
    // The browser's microphone plays a steady tone the phone must hear.
    let microphone = tempfile::NamedTempFile::with_suffix(".wav").expect("a WAV file");
    std::fs::write(microphone.path(), support::audio::tone_wav(48000, 1, 5.0, f64::from(BROWSER_HZ)))
        .expect("write");
    let browser = Browser::start_with_microphone(microphone.path());
    let mut page = browser.open(room["link"].as_str().expect("a link"));
    page.wait_for("document.getElementById('status')?.textContent === 'connected'", MEDIA_PATIENCE);

    let mut phone = Phone::start(&server, "100", &password, PHONE_HZ);
    wait_until_registered(&server, &mut phone);
    phone.control.command("dial", "800").unwrap_or_else(|why| panic!("dial 800: {why}"));
    phone
        .control
        .wait_event("CALL_ESTABLISHED")
        .unwrap_or_else(|why| panic!("the room did not answer: {why}"));
    page.wait_for(&receiving("audio"), MEDIA_PATIENCE);
    let id = room["id"].as_str().expect("an id");
    assert_eq!(operator.get(&format!("{ROOMS}/{id}")).expect(200, "room")["participants"], 2);
    page.wait_for("document.querySelectorAll('figure').length === 2", MEDIA_PATIENCE);
    let before = page.eval("window.roomStats()")["audio"].as_f64();
    std::thread::sleep(Duration::from_secs(3));
    let after = page.eval("window.roomStats()")["audio"].as_f64();
    assert!(after > before, "the phone's audio keeps reaching the browser: {before:?} then {after:?}");
    phone.control.command("hangup", "").unwrap_or_else(|why| panic!("hangup: {why}"));
    phone.quit();
    let (rate, heard) = support::audio::read_wav(&phone.received_audio());
    let loud = support::audio::tone_blocks(rate, &heard, 1000, &[]).loud;
    assert!(
        loud >= 5,
        "the phone heard the browser's microphone (the fake device's beeps): {loud} loud blocks"
    );
    let deadline = std::time::Instant::now() + MEDIA_PATIENCE;
    while operator.get(&format!("{ROOMS}/{id}")).expect(200, "room")["participants"] != 1 {
        assert!(std::time::Instant::now() < deadline, "the phone never left the room");
        std::thread::sleep(Duration::from_millis(200));
    }

    // The conference was recorded: the phone's voice left, the room it heard right.
    let recordings = "/api/v1/companies/acme/recordings";
    let deadline = std::time::Instant::now() + MEDIA_PATIENCE;
    let recording = loop {
        let page = operator.get(recordings).expect(200, "recordings");
        if let Some(first) = page["items"].as_array().and_then(|items| items.first()) {
            break first.clone();
        }
        assert!(std::time::Instant::now() < deadline, "the conference was not recorded:\n{}", server.log());
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(recording["extension"], "100", "{recording}");
    let url = server.url(&format!("{recordings}/{}/audio", recording["id"].as_str().expect("an id")));
    let response = support::client()
        .get(&url)
        .bearer_auth(support::OPERATOR_TOKEN)
        .send()
        .expect("download the recording");
    let (rate, channels) = support::audio::read_wav_channels(&response.bytes().expect("the WAV"));
    let voice = support::audio::tone_blocks(rate, &channels[0], PHONE_HZ, &[BROWSER_HZ]);
    let room = support::audio::tone_blocks(rate, &channels[1], BROWSER_HZ, &[PHONE_HZ]);
    assert!(voice.tone >= 5, "the phone's {PHONE_HZ} Hz is on the left: {voice:?}");
    assert!(room.loud >= 5, "the browser's {BROWSER_HZ} Hz beeps are on the right: {room:?}");
}

#[test]
fn a_full_room_turns_the_next_participant_away() {
    let server = Server::start();
    acme_and_globex(&server);
    let operator = server.operator();
    let tiny = json!({"name": "Tiny", "max_participants": 1});
    operator.post(ROOMS, &tiny).expect_error_naming_field("max_participants", "a room for one");
    let room = operator.post(ROOMS, &json!({"name": "Pair", "max_participants": 2})).expect(201, "create");
    assert_eq!(room["max_participants"], 2);
    let signal = server
        .url(&format!("/rooms/acme/{}/signal", room["id"].as_str().expect("an id")))
        .replace("http://", "ws://");
    let mut inside = Vec::new();
    for _ in 0..2 {
        let (mut socket, _) = tungstenite::connect(signal.as_str()).expect("room for two");
        // The host's offer comes once the participant is in.
        let offer = socket.read().expect("an offer");
        assert!(offer.to_text().expect("text").contains("\"offer\""), "{offer}");
        inside.push(socket);
    }
    match tungstenite::connect(signal.as_str()) {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 409, "a third is turned away")
        }
        other => panic!("a third participant was let in: {:?}", other.map(|_| ())),
    }
    drop(inside.pop());
    let deadline = std::time::Instant::now() + MEDIA_PATIENCE;
    while tungstenite::connect(signal.as_str()).is_err() {
        assert!(std::time::Instant::now() < deadline, "the place of who left never freed up");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_did_sends_outside_callers_into_a_room_which_then_cannot_be_deleted() {
    let server = Server::start();
    let trunk = json!({"username": "acme", "password": "p", "domain": "127.0.0.1"});
    server.create_company("acme", json!({"sip_domain": support::sipp::DOMAIN, "trunk": trunk}));
    let operator = server.operator();
    let nowhere = json!({"number": "34910000000", "default_destination": {"conference": "nope"}});
    operator
        .post("/api/v1/companies/acme/dids", &nowhere)
        .expect_error_naming_field("default_destination", "no such room");
    let room = operator.post(ROOMS, &json!({"name": "Support bridge"})).expect(201, "create");
    let id = room["id"].as_str().expect("an id").to_string();
    server.create_did("acme", &json!({"number": "34910000000", "default_destination": {"conference": id}}));

    thread::scope(|scope| {
        let caller = scope.spawn(|| {
            support::sipp::provider_call(&server, "34910000000", "answered", &[("TALK_MS", "3000")], 1)
        });
        let deadline = std::time::Instant::now() + MEDIA_PATIENCE;
        while operator.get(&format!("{ROOMS}/{id}")).expect(200, "room")["participants"] != 1 {
            assert!(std::time::Instant::now() < deadline, "the outside caller never joined the room");
            std::thread::sleep(Duration::from_millis(100));
        }
        let (ok, log) = caller.join().expect("the caller");
        assert!(ok, "the DID call into the room failed:\n{log}\n{}", server.log());
    });
    operator
        .delete(&format!("{ROOMS}/{id}"))
        .expect_error_mentioning("34910000000", "deleting a room a DID sends calls to");
    operator.delete("/api/v1/companies/acme/dids/34910000000").expect(204, "delete the DID");
    operator.delete(&format!("{ROOMS}/{id}")).expect(204, "now the room goes");
}
