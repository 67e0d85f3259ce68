//! Black-box tests of the services the host itself answers (issue #4): IVR menus reached by
//! their number, with keys sent as RFC 4733 events (sipp plays its DTMF pcaps) or as SIP
//! INFO; voicemail left by a real `baresip` phone and mailed through a real SMTP server
//! (aiosmtpd), then listened to by phone with the PIN; music on hold heard by a held
//! baresip; a call recorded in two channels; callers waiting in a queue, hearing its
//! music while the strategy rings agents step by step, or sent on after its time; a
//! ringing call picked up by another phone (`*95` + extension, `*96` for a pickup group);
//! a DID rule's announcement heard by the outside caller before its destination rings. The tests check the audio itself: a prompt
//! uploaded as a sine tone is found at the caller, and each phone's own tone is found in
//! the voicemail attachment and the recording's channels (Goertzel filter, 100 ms blocks).

mod support;

use std::net::UdpSocket;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::audio::{
    BLOCK_MS, ToneReport, alaw_to_linear, analyse, read_wav_channels, tone_blocks, tone_wav, ulaw_to_linear,
};
use support::baresip::{PATIENCE, Phone, wait_until_registered};
use support::sipp::{DOMAIN, Device, call, provider_call};
use support::smtp::{MAIL_TIMEOUT, SmtpServer};
use support::{Server, client};

const ACME: &str = "/api/v1/companies/acme";
/// The tone each baresip phone plays as its microphone, by role.
const CALLER_TONE_HZ: u32 = 1000;
const CALLEE_TONE_HZ: u32 = 600;
/// The tone of the prompts the tests upload (greetings, music on hold).
const PROMPT_TONE_HZ: u32 = 440;
/// Frequencies that must be weaker than the one looked for.
const RIVALS: [u32; 4] = [PROMPT_TONE_HZ, CALLEE_TONE_HZ, CALLER_TONE_HZ, 2000];

/// sipp's RFC 4733 event captures (payload type 101), one per key.
const DTMF_PCAPS: &str = "/usr/share/sip-tester";
/// Time between keys: each capture lasts about 250 ms.
const KEY_GAP_MS: u32 = 400;

fn password(user: &Value) -> String {
    user["sip_password"].as_str().expect("a user has a SIP password").to_string()
}

/// Company acme on the test domain with extensions 100 and 101; their SIP passwords.
fn acme(server: &Server) -> (String, String) {
    server.create_company("acme", json!({"sip_domain": DOMAIN, "decision_deadline_ms": 1000}));
    (password(&server.create_user("acme", "100")), password(&server.create_user("acme", "101")))
}

/// Upload a `seconds`-long 440 Hz WAV (44.1 kHz stereo: the host converts it) as acme's
/// prompt `name`.
fn upload_tone_prompt(server: &Server, name: &str, seconds: f64) {
    let wav = tone_wav(44_100, 2, seconds, f64::from(PROMPT_TONE_HZ));
    server
        .operator()
        .put_bytes(&format!("{ACME}/prompts/{name}"), "audio/wav", wav)
        .expect(201, "upload prompt");
}

/// sipp actions sending `keys` as RFC 4733 events from its captures.
fn rfc4733_keys(keys: &str) -> String {
    keys.chars()
        .map(|key| {
            let name = match key {
                '*' => "star".to_string(),
                '#' => "pound".to_string(),
                digit => digit.to_string(),
            };
            format!(
                "  <nop><action><exec play_pcap_audio=\"{DTMF_PCAPS}/dtmf_2833_{name}.pcap\"/></action></nop>\n  \
                 <pause milliseconds=\"{KEY_GAP_MS}\"/>\n"
            )
        })
        .collect()
}

/// sipp steps sending `keys` as SIP INFO requests (application/dtmf-relay), CSeq from
/// `first_cseq` on.
fn info_keys(keys: &str, first_cseq: u32) -> String {
    keys.chars()
        .zip(first_cseq..)
        .map(|(key, cseq)| {
            format!(
                r#"  <send retrans="500">
    <![CDATA[

      INFO [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: "Caller [field0]" <sip:[field0]@[field2]>;tag=[pid]SIPpTag[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: {cseq} INFO
      Max-Forwards: 70
      Content-Type: application/dtmf-relay
      Content-Length: [len]

      Signal={key}
      Duration=160

    ]]>
  </send>
  <recv response="200"/>
  <pause milliseconds="{KEY_GAP_MS}"/>
"#
            )
        })
        .collect()
}

/// Create IVR menu `body` for acme.
fn create_menu(server: &Server, body: Value) {
    server.operator().post(&format!("{ACME}/ivr-menus"), &body).expect(201, "create the menu");
}

/// The newest CDR of acme, once there are `count`.
fn newest_cdr(server: &Server, count: usize) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let reply = server.operator().get(&format!("{ACME}/cdrs")).expect(200, "CDRs");
        let items = reply["items"].as_array().cloned().unwrap_or_default();
        if items.len() >= count {
            return items[0].clone();
        }
        assert!(Instant::now() < deadline, "no CDR was written for the call");
        thread::sleep(Duration::from_millis(100));
    }
}

/// Extension 100 (sipp) calls 800 (a menu or a queue) and sends `keys` (already sipp steps) after
/// `keys_after_ms`; the menu must send it to extension 101 (a sipp device that answers).
fn menu_call_reaches_101(server: &Server, caller: &str, callee: &str, keys_after_ms: u32, keys: &str) {
    let device = Device::start(server, "101", callee, "answer", 1);
    let values = [("KEYS_AFTER_MS", keys_after_ms.to_string()), ("KEYS_ACTIONS", keys.to_string())];
    let mut values: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
    values.push(("TALK_MS", "1000"));
    let (ok, log) = call(server, "100", caller, "800", "keys", &values, 1);
    let (device_ok, device_log) = device.finish();
    assert!(ok, "the caller's call through the menu failed:\n{log}\n{}", server.log());
    assert!(device_ok, "extension 101 did not get the call from the menu:\n{device_log}\n{}", server.log());
    let cdr = newest_cdr(server, 1);
    assert_eq!(cdr["status"], "answered", "{cdr}");
    assert_eq!(cdr["destination"], "extension 101", "{cdr}");
}

#[test]
fn a_menu_key_sent_as_rfc4733_events_rings_the_keys_destination() {
    let server = Server::start();
    let (caller, callee) = acme(&server);
    create_menu(
        &server,
        json!({"name": "main", "number": "800", "timeout_seconds": 10,
               "options": [{"key": "2", "destination": {"extension": "101"}}]}),
    );
    menu_call_reaches_101(&server, &caller, &callee, 500, &rfc4733_keys("2"));
}

#[test]
fn a_menu_key_sent_as_sip_info_rings_the_keys_destination() {
    let server = Server::start();
    let (caller, callee) = acme(&server);
    create_menu(
        &server,
        json!({"name": "main", "number": "800", "timeout_seconds": 10,
               "options": [{"key": "#", "destination": {"extension": "101"}}]}),
    );
    menu_call_reaches_101(&server, &caller, &callee, 500, &info_keys("#", 3));
}

#[test]
fn an_extension_number_dialled_during_the_greeting_rings_that_extension() {
    let server = Server::start();
    let (caller, callee) = acme(&server);
    // Key 1 leads elsewhere: the menu must wait for the whole number "101".
    create_menu(
        &server,
        json!({"name": "main", "number": "800", "timeout_seconds": 10, "allow_dialing": true,
               "options": [{"key": "1", "destination": "hang_up"}]}),
    );
    menu_call_reaches_101(&server, &caller, &callee, 500, &rfc4733_keys("101"));
}

#[test]
fn no_input_after_the_repeats_goes_to_the_no_input_destination() {
    let server = Server::start();
    let (caller, callee) = acme(&server);
    upload_tone_prompt(&server, "short-greeting", 0.5);
    create_menu(
        &server,
        json!({"name": "main", "number": "800", "greeting": "short-greeting", "timeout_seconds": 1,
               "repeats": 1, "no_input": {"extension": "101"},
               "options": [{"key": "1", "destination": "hang_up"}]}),
    );
    // The caller stays silent through the greeting, its repeat and both timeouts.
    menu_call_reaches_101(&server, &caller, &callee, 0, "  <pause milliseconds=\"5000\"/>\n");
}

#[test]
fn invalid_keys_replay_the_menu_then_go_to_the_invalid_destination() {
    let server = Server::start();
    let (caller, callee) = acme(&server);
    upload_tone_prompt(&server, "short-greeting", 0.5);
    create_menu(
        &server,
        json!({"name": "main", "number": "800", "greeting": "short-greeting", "timeout_seconds": 5,
               "repeats": 1, "invalid": {"extension": "101"},
               "options": [{"key": "1", "destination": "hang_up"}]}),
    );
    // 9 is no option: the menu says so and replays; 8, the second invalid key, is one too
    // many. (Two different keys: sipp replays a capture with the same RTP timestamp, which
    // RFC 4733 makes the same event.)
    let keys = format!("{}  <pause milliseconds=\"3000\"/>\n{}", rfc4733_keys("9"), rfc4733_keys("8"));
    menu_call_reaches_101(&server, &caller, &callee, 500, &keys);
}

/// The server, mailing through `smtp`.
fn server_mailing_to(smtp: &SmtpServer) -> Server {
    Server::start_with_args(&["--smtp-url", &smtp.url(), "--mail-from", "Centralita <pbx@centralita.test>"])
}

/// `report` shows `tone_hz` in at least `blocks` blocks.
#[track_caller]
fn assert_tone(report: &ToneReport, tone_hz: u32, blocks: usize, what: &str) {
    assert!(
        report.tone >= blocks,
        "{what}: {tone_hz} Hz in only {} of {BLOCK_MS} ms blocks: {report:?}",
        report.tone
    );
}

fn rivals_of(tone_hz: u32) -> Vec<u32> {
    RIVALS.iter().copied().filter(|&hz| hz != tone_hz).collect()
}

/// baresip `phone` dials `number` and waits until the call is up with RTP flowing.
fn dial(phone: &mut Phone, number: &str) {
    phone.control.command("dial", number).unwrap_or_else(|why| panic!("dial {number}: {why}"));
    phone
        .control
        .wait_event("CALL_ESTABLISHED")
        .unwrap_or_else(|why| panic!("{number} did not answer: {why}"));
    phone.control.wait_event("CALL_RTPESTAB").unwrap_or_else(|why| panic!("no RTP from {number}: {why}"));
}

fn hang_up(phone: &mut Phone) {
    phone.control.command("hangup", "").unwrap_or_else(|why| panic!("hangup: {why}"));
    phone.control.wait_event("CALL_CLOSED").unwrap_or_else(|why| panic!("the call did not end: {why}"));
}

/// The voicemail messages of acme's box `name`.
fn messages(server: &Server, name: &str) -> Vec<Value> {
    let reply =
        server.operator().get(&format!("{ACME}/voicemail-boxes/{name}/messages")).expect(200, "messages");
    reply.as_array().expect("a list of messages").clone()
}

#[test]
fn a_voicemail_left_by_a_phone_is_mailed_with_its_audio_and_listened_to_with_the_pin() {
    let smtp = SmtpServer::start();
    let server = server_mailing_to(&smtp);
    let (caller_password, listener_password) = acme(&server);
    upload_tone_prompt(&server, "sales-greeting", 1.5);
    let body = json!({"name": "sales", "number": "800", "email": "sales@acme.example", "pin": "4321",
                      "greeting": "sales-greeting"});
    server.operator().post(&format!("{ACME}/voicemail-boxes"), &body).expect(201, "create the box");

    // A phone whose microphone plays 1 kHz leaves about three seconds after the beep.
    let mut phone = Phone::start(&server, "100", &caller_password, CALLER_TONE_HZ);
    wait_until_registered(&server, &mut phone);
    dial(&mut phone, "800");
    thread::sleep(Duration::from_millis(5000));
    hang_up(&mut phone);
    phone.quit();
    // The caller heard the box's greeting (the uploaded tone).
    let heard = analyse(&phone.received_audio(), PROMPT_TONE_HZ, &rivals_of(PROMPT_TONE_HZ));
    assert_tone(&heard, PROMPT_TONE_HZ, 8, "the greeting at the caller");

    let mail = smtp.wait_for_match(MAIL_TIMEOUT, |m| m.envelope_to() == "sales@acme.example");
    assert_eq!(mail.attachments.len(), 1, "one audio attachment: {}", mail.raw);
    let attachment = &mail.attachments[0];
    assert_eq!(attachment.content_type, "audio/wav");
    let (rate, channels) = read_wav_channels(&attachment.bytes);
    let report = tone_blocks(rate, &channels[0], CALLER_TONE_HZ, &rivals_of(CALLER_TONE_HZ));
    assert_tone(&report, CALLER_TONE_HZ, 15, "the caller's tone in the mailed message");

    let stored = messages(&server, "sales");
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0]["heard"], false, "{stored:?}");

    // Extension 101 dials the voicemail access code and the box, enters the PIN (SIP INFO)
    // and presses 7 while the message plays: deleted; then the host says goodbye.
    let keys = format!("{}  <pause milliseconds=\"2500\"/>\n{}", info_keys("4321#", 3), info_keys("7", 8));
    let values = [("KEYS_AFTER_MS", "1000"), ("KEYS_ACTIONS", keys.as_str())];
    let (ok, log) = call(&server, "101", &listener_password, "*97800", "keys_hung_up", &values, 1);
    assert!(ok, "listening to the box failed:\n{log}\n{}", server.log());
    assert_eq!(messages(&server, "sales"), Vec::<Value>::new(), "key 7 deletes the message");
    let cdr = newest_cdr(&server, 2);
    assert_eq!(cdr["destination"], "voicemail access sales", "{cdr}");
}

/// Receive RTP on `socket` until `quiet` passes without a packet (after the first), and
/// decode its G.711 payloads (PCMU or PCMA).
fn receive_g711(socket: &UdpSocket, quiet: Duration) -> Vec<i16> {
    socket.set_read_timeout(Some(PATIENCE)).expect("set a timeout");
    let mut samples = Vec::new();
    let mut packet = [0u8; 2048];
    while let Ok(length) = socket.recv(&mut packet) {
        // A 12-byte RTP header without CSRCs or extension: the host's own packets.
        let payload = packet.get(12..length).unwrap_or_default();
        match packet[1] & 0x7F {
            0 => samples.extend(payload.iter().map(|&byte| ulaw_to_linear(byte))),
            8 => samples.extend(payload.iter().map(|&byte| alaw_to_linear(byte))),
            _ => {}
        }
        socket.set_read_timeout(Some(quiet)).expect("set a timeout");
    }
    samples
}

#[test]
fn a_held_party_hears_the_companys_music_on_hold() {
    let server = Server::start();
    let (caller, callee) = acme(&server);
    upload_tone_prompt(&server, "music-on-hold", 2.0);
    // Extension 101's device (sipp) gives the test's socket as its media address.
    let media = UdpSocket::bind("127.0.0.1:0").expect("bind the device's media socket");
    let port = media.local_addr().expect("its address").port().to_string();
    let device = Device::start_with(&server, "101", &callee, "101", "hold", 1, &[("[media_port]", &port)]);
    let listener = thread::spawn(move || receive_g711(&media, Duration::from_secs(2)));

    // 100 (sipp, sending no audio) calls 101 and holds it for four seconds.
    let (ok, log) = call(&server, "100", &caller, "101", "hold", &[("HOLD_MS", "4000")], 1);
    assert!(ok, "the hold call failed:\n{log}\n{}", server.log());
    let (device_ok, device_log) = device.finish();
    assert!(device_ok, "the held device saw the call go wrong:\n{device_log}");
    let samples = listener.join().expect("the RTP listener");
    let heard = tone_blocks(8000, &samples, PROMPT_TONE_HZ, &rivals_of(PROMPT_TONE_HZ));
    assert_tone(&heard, PROMPT_TONE_HZ, 25, "music on hold at the held device");
}

/// Company acme with extension 100 recording as `recording` says and 101, each a
/// registered baresip phone (100 plays the caller's tone, 101 the callee's).
fn recording_phones(server: &Server, recording: Value) -> (Phone, Phone) {
    server.create_company("acme", json!({"sip_domain": DOMAIN}));
    let body = support::merge(support::user_body("100"), json!({"recording": recording}));
    let caller = password(&server.operator().post(&format!("{ACME}/users"), &body).expect(201, "user 100"));
    let callee = password(&server.create_user("acme", "101"));
    let mut callee_phone = Phone::start(server, "101", &callee, CALLEE_TONE_HZ);
    let mut caller_phone = Phone::start(server, "100", &caller, CALLER_TONE_HZ);
    wait_until_registered(server, &mut callee_phone);
    wait_until_registered(server, &mut caller_phone);
    (caller_phone, callee_phone)
}

#[test]
fn a_recorded_call_is_announced_and_stored_with_each_party_in_its_own_channel() {
    let server = Server::start();
    let (mut caller_phone, mut callee_phone) =
        recording_phones(&server, json!({"mode": "always", "announce": true}));
    // The company's own "this call may be recorded": a second of 440 Hz.
    upload_tone_prompt(&server, "call-may-be-recorded", 1.0);

    dial(&mut caller_phone, "101");
    thread::sleep(Duration::from_secs(3));
    hang_up(&mut caller_phone);
    callee_phone
        .control
        .wait_event("CALL_CLOSED")
        .unwrap_or_else(|why| panic!("the BYE did not reach 101: {why}"));
    caller_phone.quit();
    callee_phone.quit();
    for phone in [&caller_phone, &callee_phone] {
        let heard = analyse(&phone.received_audio(), PROMPT_TONE_HZ, &rivals_of(PROMPT_TONE_HZ));
        assert_tone(&heard, PROMPT_TONE_HZ, 6, "the recording announcement");
    }
    let recording = wait_for_recording(&server);
    let (rate, channels) = download_recording(&server, &recording);
    assert_eq!(channels.len(), 2, "a two-channel WAV");
    let left = tone_blocks(rate, &channels[0], CALLER_TONE_HZ, &rivals_of(CALLER_TONE_HZ));
    assert_tone(&left, CALLER_TONE_HZ, 10, "the caller on the left channel");
    let right = tone_blocks(rate, &channels[1], CALLEE_TONE_HZ, &rivals_of(CALLEE_TONE_HZ));
    assert_tone(&right, CALLEE_TONE_HZ, 10, "the callee on the right channel");
    let cdr = newest_cdr(&server, 1);
    assert_eq!(cdr["recording"], recording["id"], "the CDR links its recording: {cdr}");
}

/// The first recording of acme, once there is one.
fn wait_for_recording(server: &Server) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let page = server.operator().get(&format!("{ACME}/recordings")).expect(200, "recordings");
        if let Some(first) = page["items"].as_array().and_then(|items| items.first()) {
            return first.clone();
        }
        assert!(Instant::now() < deadline, "no recording was stored:\n{}", server.log());
        thread::sleep(Duration::from_millis(100));
    }
}

/// The sample rate and channels of `recording`'s WAV, downloaded through the API.
fn download_recording(server: &Server, recording: &Value) -> (u32, Vec<Vec<i16>>) {
    let url = server.url(&format!("{ACME}/recordings/{}/audio", recording["id"].as_str().expect("an id")));
    let response = client().get(&url).bearer_auth(support::OPERATOR_TOKEN).send().expect("download");
    assert_eq!(response.status().as_u16(), 200, "download the recording");
    read_wav_channels(&response.bytes().expect("the recording's bytes"))
}

/// acme's statistics of queue `name` (today's).
fn queue_stats(server: &Server, name: &str) -> Value {
    server.operator().get(&format!("{ACME}/queues/{name}/stats")).expect(200, "queue stats")
}

#[test]
fn a_queue_caller_hears_its_music_while_agents_ring_in_order_until_one_answers() {
    let server = Server::start();
    let (caller, first_agent) = acme(&server);
    let second_agent = password(&server.create_user("acme", "102"));
    upload_tone_prompt(&server, "queue-music", 2.0);
    let body = json!({"name": "support", "number": "700", "strategy": "linear", "step_timeout_seconds": 3,
                      "max_time_seconds": 60, "music_on_hold": "queue-music", "show_queue_name": true,
                      "members": [{"extension": "101", "order": 1}, {"extension": "102", "order": 2}]});
    server.operator().post(&format!("{ACME}/queues"), &body).expect(201, "create the queue");
    // 101 rings and never answers (the queue cancels it after its step); 102 answers, and
    // checks that its INVITE shows the queue's name before the caller's.
    let ringing = Device::start(&server, "101", &first_agent, "ring", 1);
    let from_shows_queue = r#"<recv request="INVITE" crlf="true"><action><ereg regexp="From: &quot;support: User 100&quot;" search_in="msg" check_it="true" assign_to="shown"/></action></recv><Reference variables="shown"/>"#;
    let answering = Device::start_with(
        &server,
        "102",
        &second_agent,
        "102",
        "answer",
        1,
        &[(r#"<recv request="INVITE" crlf="true"/>"#, from_shows_queue)],
    );
    let mut phone = Phone::start(&server, "100", &caller, CALLER_TONE_HZ);
    wait_until_registered(&server, &mut phone);

    phone.control.command("dial", "700").unwrap_or_else(|why| panic!("dial 700: {why}"));
    phone
        .control
        .wait_event("CALL_ESTABLISHED")
        .unwrap_or_else(|why| panic!("the queue did not answer: {why}"));
    // 101's step lasts three seconds, then 102 answers at once; the caller hangs up later.
    thread::sleep(Duration::from_secs(6));
    hang_up(&mut phone);
    phone.quit();
    let (ok, log) = answering.finish();
    assert!(ok, "agent 102 did not get the call after 101's step:\n{log}\n{}", server.log());
    let (ok, log) = ringing.finish();
    assert!(ok, "agent 101 rang first and was cancelled:\n{log}");

    // The caller heard the queue's music while 101 rang (about three seconds).
    let heard = analyse(&phone.received_audio(), PROMPT_TONE_HZ, &rivals_of(PROMPT_TONE_HZ));
    assert_tone(&heard, PROMPT_TONE_HZ, 15, "the queue's music at the caller");
    let stats = queue_stats(&server, "support");
    assert_eq!(stats["historical"]["answered"], 1, "{stats}");
    assert_eq!(stats["historical"]["answered_by"]["102"], 1, "{stats}");
    assert_eq!(stats["live"]["waiting"], 0, "{stats}");
    let cdr = newest_cdr(&server, 1);
    assert_eq!(cdr["status"], "answered", "{cdr}");
}

#[test]
fn a_queue_caller_nobody_answers_goes_to_the_unanswered_destination_after_the_queues_time() {
    let server = Server::start();
    let (caller, callee) = acme(&server);
    server.create_user("acme", "103");
    // 103 never registers: the strategy finds nobody to ring.
    let body = json!({"name": "support", "number": "800", "max_time_seconds": 2,
                      "members": [{"extension": "103", "order": 1}],
                      "unanswered_destination": {"extension": "101"}});
    server.operator().post(&format!("{ACME}/queues"), &body).expect(201, "create the queue");
    menu_call_reaches_101(&server, &caller, &callee, 0, "  <pause milliseconds=\"6000\"/>\n");
    let stats = queue_stats(&server, "support");
    assert_eq!(stats["historical"]["unanswered_timed_out"], 1, "{stats}");
    assert_eq!(stats["historical"]["answered"], 0, "{stats}");
}

#[test]
fn a_call_ringing_at_an_extension_is_picked_up_with_star_95_and_both_phones_hear_each_other() {
    let server = Server::start();
    let (caller_password, rung_password) = acme(&server);
    let picker_password = password(&server.create_user("acme", "102"));
    // 101 rings and never answers: the pickup cancels it.
    let rung = Device::start(&server, "101", &rung_password, "ring", 1);
    let mut caller = Phone::start(&server, "100", &caller_password, CALLER_TONE_HZ);
    let mut picker = Phone::start(&server, "102", &picker_password, CALLEE_TONE_HZ);
    wait_until_registered(&server, &mut caller);
    wait_until_registered(&server, &mut picker);

    caller.control.command("dial", "101").unwrap_or_else(|why| panic!("dial 101: {why}"));
    thread::sleep(Duration::from_millis(1500));
    dial(&mut picker, "*95101");
    caller
        .control
        .wait_event("CALL_ESTABLISHED")
        .unwrap_or_else(|why| panic!("the caller was not connected: {why}"));
    thread::sleep(Duration::from_secs(3));
    hang_up(&mut picker);
    caller
        .control
        .wait_event("CALL_CLOSED")
        .unwrap_or_else(|why| panic!("the picker's BYE did not end it: {why}"));
    caller.quit();
    picker.quit();
    let (ok, log) = rung.finish();
    assert!(ok, "101 should have been cancelled by the pickup:\n{log}");

    let heard = analyse(&caller.received_audio(), CALLEE_TONE_HZ, &rivals_of(CALLEE_TONE_HZ));
    assert_tone(&heard, CALLEE_TONE_HZ, 15, "the picker's tone at the caller");
    let heard = analyse(&picker.received_audio(), CALLER_TONE_HZ, &rivals_of(CALLER_TONE_HZ));
    assert_tone(&heard, CALLER_TONE_HZ, 15, "the caller's tone at the picker");
    let cdr = newest_cdr(&server, 1);
    assert_eq!(cdr["status"], "answered", "{cdr}");
    assert_eq!(cdr["destination"], "extension 101 (picked up by 102)", "{cdr}");
    thread::sleep(Duration::from_millis(500));
    let all = server.operator().get(&format!("{ACME}/cdrs")).expect(200, "CDRs");
    assert_eq!(all["items"].as_array().map(Vec::len), Some(1), "one call, one CDR: {all}");
}

#[test]
fn a_queue_call_ringing_at_an_agent_is_picked_up_with_star_95_and_both_phones_hear_each_other() {
    let server = Server::start();
    let (caller_password, agent_password) = acme(&server);
    let picker_password = password(&server.create_user("acme", "102"));
    let body = json!({"name": "support", "number": "700", "strategy": "ring_all", "step_timeout_seconds": 30,
                      "max_time_seconds": 60, "members": [{"extension": "101", "order": 1}]});
    server.operator().post(&format!("{ACME}/queues"), &body).expect(201, "create the queue");
    // The agent's phone rings and never answers: the pickup cancels it.
    let agent = Device::start(&server, "101", &agent_password, "ring", 1);
    let mut caller = Phone::start(&server, "100", &caller_password, CALLER_TONE_HZ);
    let mut picker = Phone::start(&server, "102", &picker_password, CALLEE_TONE_HZ);
    wait_until_registered(&server, &mut caller);
    wait_until_registered(&server, &mut picker);

    caller.control.command("dial", "700").unwrap_or_else(|why| panic!("dial 700: {why}"));
    caller
        .control
        .wait_event("CALL_ESTABLISHED")
        .unwrap_or_else(|why| panic!("the queue did not answer: {why}"));
    thread::sleep(Duration::from_millis(1500));
    dial(&mut picker, "*95101");
    thread::sleep(Duration::from_secs(3));
    hang_up(&mut picker);
    caller
        .control
        .wait_event("CALL_CLOSED")
        .unwrap_or_else(|why| panic!("the picker's BYE did not end the call: {why}"));
    caller.quit();
    picker.quit();
    let (ok, log) = agent.finish();
    assert!(ok, "101 should have been cancelled by the pickup:\n{log}");

    let heard = analyse(&caller.received_audio(), CALLEE_TONE_HZ, &rivals_of(CALLEE_TONE_HZ));
    assert_tone(&heard, CALLEE_TONE_HZ, 15, "the picker's tone at the queue caller");
    let heard = analyse(&picker.received_audio(), CALLER_TONE_HZ, &rivals_of(CALLER_TONE_HZ));
    assert_tone(&heard, CALLER_TONE_HZ, 15, "the queue caller's tone at the picker");
    let cdr = newest_cdr(&server, 1);
    assert_eq!(cdr["status"], "answered", "{cdr}");
    assert!(cdr["destination"].as_str().is_some_and(|d| d.ends_with("(picked up by 102)")), "{cdr}");
}

#[test]
fn a_group_member_picks_up_with_the_companys_group_code_and_a_stranger_to_the_group_cannot() {
    let server = Server::start();
    let (caller, rung_password) = acme(&server);
    let member = password(&server.create_user("acme", "102"));
    let stranger = password(&server.create_user("acme", "103"));
    let group = json!({"name": "front-desk", "members": ["101", "102"]});
    server.operator().post(&format!("{ACME}/pickup-groups"), &group).expect(201, "create the group");
    // The operator's code is the default *96; acme overrides it with *88.
    server
        .operator()
        .put(&format!("{ACME}/service-codes"), &json!({"pickup_group": "*88"}))
        .expect(200, "acme codes");
    let rung = Device::start(&server, "101", &rung_password, "ring", 1);

    // 100 calls 101 and waits for the BYE of whoever answers.
    thread::scope(|scope| {
        let caller_call = scope.spawn(|| {
            let values = [("KEYS_AFTER_MS", "0"), ("KEYS_ACTIONS", "")];
            call(&server, "100", &caller, "101", "keys_hung_up", &values, 1)
        });
        thread::sleep(Duration::from_millis(1500));
        // 103 is in no group with 101: nothing to pick up.
        let (ok, log) = call(&server, "103", &stranger, "*88", "refused", &[("FINAL_STATUS", "480")], 1);
        assert!(ok, "a stranger's *88 should get 480:\n{log}");
        let (ok, log) = call(&server, "102", &member, "*88", "answered", &[("TALK_MS", "1000")], 1);
        assert!(ok, "the group member's pickup failed:\n{log}\n{}", server.log());
        let (ok, log) = caller_call.join().expect("the caller");
        assert!(ok, "the caller was not connected to the picker and hung up by it:\n{log}\n{}", server.log());
    });
    let (ok, log) = rung.finish();
    assert!(ok, "101 should have been cancelled by the pickup:\n{log}");
}

#[test]
fn a_did_rules_announcement_plays_to_the_outside_caller_before_the_destination_rings() {
    let server = Server::start();
    server.create_company(
        "acme",
        json!({"sip_domain": DOMAIN, "trunk": {"username": "acme", "password": "p", "domain": "127.0.0.1"}}),
    );
    let callee = password(&server.create_user("acme", "101"));
    upload_tone_prompt(&server, "welcome", 1.5);
    server.create_did(
        "acme",
        &json!({"number": "34910000000", "description": "main", "default_destination": {"extension": "101"},
                "rules": [{"order": 1, "destination": {"extension": "101"}, "announcement": "welcome"}]}),
    );
    let device = Device::start(&server, "101", &callee, "answer", 1);
    // The provider's offer names the test's socket: what the host plays arrives there.
    let media = UdpSocket::bind("127.0.0.1:0").expect("bind the caller's media socket");
    let port = media.local_addr().expect("its address").port().to_string();
    let listener = thread::spawn(move || receive_g711(&media, Duration::from_secs(2)));
    // The host answers to play the 1.5 s announcement; the caller stays on past it.
    let values = [("TALK_MS", "3500"), ("[media_port]", port.as_str())];
    let (ok, log) = provider_call(&server, "34910000000", "answered", &values, 1);
    assert!(ok, "the DID call did not connect after the announcement:\n{log}\n{}", server.log());
    let (ok, log) = device.finish();
    assert!(ok, "101 did not get the call after the announcement:\n{log}");
    let samples = listener.join().expect("the RTP listener");
    let heard = tone_blocks(8000, &samples, PROMPT_TONE_HZ, &rivals_of(PROMPT_TONE_HZ));
    assert_tone(&heard, PROMPT_TONE_HZ, 10, "the announcement at the outside caller");
    let cdr = newest_cdr(&server, 1);
    assert_eq!(
        (cdr["status"].as_str(), cdr["destination"].as_str()),
        (Some("answered"), Some("extension 101"))
    );
}

/// acme's recordings now.
fn recording_count(server: &Server) -> usize {
    let page = server.operator().get(&format!("{ACME}/recordings")).expect(200, "recordings");
    page["items"].as_array().map_or(0, Vec::len)
}

#[test]
fn an_on_demand_call_is_recorded_only_after_star_1() {
    let server = Server::start();
    let (mut caller_phone, mut callee_phone) = recording_phones(&server, json!({"mode": "on_demand"}));

    // A call without the code is not recorded.
    dial(&mut caller_phone, "101");
    thread::sleep(Duration::from_secs(1));
    hang_up(&mut caller_phone);
    callee_phone
        .control
        .wait_event("CALL_CLOSED")
        .unwrap_or_else(|why| panic!("the first call did not end: {why}"));
    newest_cdr(&server, 1);
    assert_eq!(recording_count(&server), 0, "recorded without *1");

    // The caller presses *1 (RFC 4733 from baresip): recorded from then on.
    dial(&mut caller_phone, "101");
    thread::sleep(Duration::from_millis(500));
    for key in ["*", "1"] {
        caller_phone.control.command("sndcode", key).unwrap_or_else(|why| panic!("send {key}: {why}"));
        thread::sleep(Duration::from_millis(300));
    }
    thread::sleep(Duration::from_secs(3));
    hang_up(&mut caller_phone);
    callee_phone
        .control
        .wait_event("CALL_CLOSED")
        .unwrap_or_else(|why| panic!("the second call did not end: {why}"));
    caller_phone.quit();
    callee_phone.quit();
    let recording = wait_for_recording(&server);
    let (rate, channels) = download_recording(&server, &recording);
    let right = tone_blocks(rate, &channels[1], CALLEE_TONE_HZ, &rivals_of(CALLEE_TONE_HZ));
    assert_tone(&right, CALLEE_TONE_HZ, 15, "the callee after *1");
    // Recorded from the code on: well under the four seconds of the call.
    let seconds = channels[1].len() as f64 / f64::from(rate);
    assert!(seconds < 3.8, "the recording starts at *1, not at the answer: {seconds:.1} s");
}

#[test]
fn an_agent_in_wrap_up_is_not_rung_and_the_next_caller_goes_to_the_unanswered_destination() {
    let server = Server::start();
    let (caller, agent) = acme(&server);
    let overflow = password(&server.create_user("acme", "102"));
    let body = json!({"name": "support", "number": "800", "wrap_up_seconds": 60, "max_time_seconds": 2,
                      "members": [{"extension": "101", "order": 1}],
                      "unanswered_destination": {"extension": "102"}});
    server.operator().post(&format!("{ACME}/queues"), &body).expect(201, "create the queue");
    // 101 answers the first queue call and would answer no other.
    let first = Device::start(&server, "101", &agent, "answer", 1);
    let values = [("KEYS_AFTER_MS", "0"), ("KEYS_ACTIONS", ""), ("TALK_MS", "1000")];
    let (ok, log) = call(&server, "100", &caller, "800", "keys", &values, 1);
    assert!(ok, "the first queue call failed:\n{log}\n{}", server.log());
    let (ok, log) = first.finish();
    assert!(ok, "101 did not answer the first caller:\n{log}");
    assert_eq!(newest_cdr(&server, 1)["destination"], "queue support");

    // 101 rests for a minute: the next caller waits the queue's two seconds, then 102.
    let overflow_device = Device::start(&server, "102", &overflow, "answer", 1);
    let values =
        [("KEYS_AFTER_MS", "0"), ("KEYS_ACTIONS", "  <pause milliseconds=\"6000\"/>\n"), ("TALK_MS", "500")];
    let (ok, log) = call(&server, "100", &caller, "800", "keys", &values, 1);
    assert!(ok, "the second queue call failed:\n{log}\n{}", server.log());
    let (ok, log) = overflow_device.finish();
    assert!(ok, "102 did not get the caller nobody answered:\n{log}\n{}", server.log());
    let stats = queue_stats(&server, "support");
    assert_eq!(stats["historical"]["answered"], 1, "{stats}");
    assert_eq!(stats["historical"]["unanswered_timed_out"], 1, "{stats}");
    assert_eq!(stats["historical"]["answered_by"]["101"], 1, "{stats}");
}

#[test]
fn a_caller_finding_the_queue_full_hears_so_and_goes_to_the_unanswered_destination() {
    let server = Server::start();
    let (caller, overflow) = acme(&server);
    let second_caller = password(&server.create_user("acme", "102"));
    server.create_user("acme", "103");
    // Nobody can answer (103 never registers), and one caller may wait.
    let body = json!({"name": "support", "number": "800", "max_waiting": 1, "max_time_seconds": 30,
                      "members": [{"extension": "103", "order": 1}],
                      "unanswered_destination": {"extension": "101"}});
    server.operator().post(&format!("{ACME}/queues"), &body).expect(201, "create the queue");
    let overflow_device = Device::start(&server, "101", &overflow, "answer", 1);
    thread::scope(|scope| {
        // The first caller waits three seconds and hangs up (abandoned).
        let waiting = scope.spawn(|| {
            let values = [("KEYS_AFTER_MS", "3000"), ("KEYS_ACTIONS", ""), ("TALK_MS", "0")];
            call(&server, "100", &caller, "800", "keys", &values, 1)
        });
        thread::sleep(Duration::from_millis(1000));
        // The second finds the queue full: the queue-full prompt, then 101.
        let values = [
            ("KEYS_AFTER_MS", "0"),
            ("KEYS_ACTIONS", "  <pause milliseconds=\"8000\"/>\n"),
            ("TALK_MS", "500"),
        ];
        let (ok, log) = call(&server, "102", &second_caller, "800", "keys", &values, 1);
        assert!(ok, "the second caller's call failed:\n{log}\n{}", server.log());
        let (ok, log) = waiting.join().expect("the waiting caller");
        assert!(ok, "the waiting caller's call failed:\n{log}");
    });
    let (ok, log) = overflow_device.finish();
    assert!(ok, "101 did not get the caller who found the queue full:\n{log}\n{}", server.log());
    let stats = queue_stats(&server, "support");
    assert_eq!(stats["historical"]["unanswered_full"], 1, "{stats}");
    assert_eq!(stats["historical"]["abandoned"], 1, "{stats}");
    assert_eq!(stats["live"]["waiting"], 0, "{stats}");
}

#[test]
fn deleting_a_company_deletes_its_media_services_rows_and_files() {
    use centralita::store::{
        IVR_MENUS, PICKUP_GROUPS, PROMPTS, QUEUE_DAYS, QUEUES, Read, SERVICE_CODE_OVERRIDES, Store,
        VOICEMAIL_BOXES, VOICEMAIL_MESSAGES,
    };
    let mut server = Server::start();
    acme(&server);
    let op = server.operator();
    upload_tone_prompt(&server, "welcome", 0.5);
    create_menu(&server, json!({"name": "main", "number": "800", "greeting": "welcome"}));
    let queue = json!({"name": "support", "number": "700", "members": [{"extension": "101", "order": 1}]});
    op.post(&format!("{ACME}/queues"), &queue).expect(201, "a queue");
    let mailbox = json!({"name": "sales", "number": "600", "pin": "4321"});
    op.post(&format!("{ACME}/voicemail-boxes"), &mailbox).expect(201, "a box");
    op.post(&format!("{ACME}/pickup-groups"), &json!({"name": "desk", "members": ["100", "101"]}))
        .expect(201, "a group");
    op.put(&format!("{ACME}/service-codes"), &json!({"pickup_group": "*88"})).expect(200, "codes");
    let prompt_files = server.data_dir.join("prompts").join("acme");
    assert!(prompt_files.exists(), "the upload is a file under {}", prompt_files.display());

    op.delete(ACME).expect(204, "delete the company");
    let deadline = Instant::now() + PATIENCE;
    while prompt_files.exists() {
        assert!(Instant::now() < deadline, "the prompt files stayed: {}", prompt_files.display());
        thread::sleep(Duration::from_millis(50));
    }
    server.terminate();
    let store = Store::open(&server.data_dir).expect("open the server's store");
    let prefix = "acme\0";
    let left = store
        .read(|r| {
            Ok::<_, centralita::store::StoreError>([
                ("prompts", r.scan(&PROMPTS, prefix)?.len()),
                ("ivr menus", r.scan(&IVR_MENUS, prefix)?.len()),
                ("queues", r.scan(&QUEUES, prefix)?.len()),
                ("queue days", r.scan(&QUEUE_DAYS, prefix)?.len()),
                ("voicemail boxes", r.scan(&VOICEMAIL_BOXES, prefix)?.len()),
                ("voicemail messages", r.scan(&VOICEMAIL_MESSAGES, prefix)?.len()),
                ("pickup groups", r.scan(&PICKUP_GROUPS, prefix)?.len()),
                ("service codes", usize::from(r.get(&SERVICE_CODE_OVERRIDES, "acme")?.is_some())),
            ])
        })
        .expect("read the store");
    let kept: Vec<_> = left.iter().filter(|(_, rows)| *rows > 0).collect();
    assert!(kept.is_empty(), "rows of the deleted company left behind: {kept:?}");
}

#[test]
fn extensions_aliases_menus_queues_and_boxes_share_one_number_space() {
    let server = Server::start();
    acme(&server);
    let op = server.operator();
    create_menu(&server, json!({"name": "main", "number": "800"}));
    op.post(&format!("{ACME}/queues"), &json!({"name": "support", "number": "700"})).expect(201, "a queue");
    op.post(&format!("{ACME}/voicemail-boxes"), &json!({"name": "sales", "number": "600", "pin": "4321"}))
        .expect(201, "a box");
    op.post(&format!("{ACME}/aliases"), &json!({"number": "55", "target": "101"})).expect(201, "an alias");
    let taken = [
        ("queues", json!({"name": "other", "number": "800"}), "IVR menu \"main\""),
        ("queues", json!({"name": "other", "number": "101"}), "extension 101"),
        ("ivr-menus", json!({"name": "other", "number": "700"}), "queue \"support\""),
        ("ivr-menus", json!({"name": "other", "number": "55"}), "alias 55"),
        ("voicemail-boxes", json!({"name": "other", "number": "800", "pin": "1111"}), "IVR menu \"main\""),
        ("aliases", json!({"number": "600", "target": "101"}), "voicemail box \"sales\""),
        ("users", support::user_body("700"), "queue \"support\""),
    ];
    for (collection, body, owner) in taken {
        let reply = op.post(&format!("{ACME}/{collection}"), &body);
        assert_eq!(reply.status, 409, "{collection} {body}: {}", reply.text);
        let message = reply.expect_error_mentioning(owner, "a taken number");
        assert!(message.contains("is already"), "{message}");
    }
    // Saving a menu again keeps its own number.
    op.put(&format!("{ACME}/ivr-menus/main"), &json!({"name": "main", "number": "800"}))
        .expect(200, "same number");
}

#[test]
fn after_the_agent_hangs_up_the_caller_goes_to_the_queues_destination_after_the_agent() {
    let server = Server::start();
    let (caller, agent) = acme(&server);
    let survey = password(&server.create_user("acme", "102"));
    let body = json!({"name": "support", "number": "800", "autoanswer": true,
                      "members": [{"extension": "101", "order": 1}],
                      "after_destination": {"extension": "102"}});
    server.operator().post(&format!("{ACME}/queues"), &body).expect(201, "create the queue");
    // 101 answers (its INVITE asks for auto-answer) and hangs up a second later.
    let asks_autoanswer = r#"<recv request="INVITE" crlf="true"><action><ereg regexp="Call-Info: [^\r\n]*;answer-after=0" search_in="msg" check_it="true" assign_to="auto"/></action></recv><Reference variables="auto"/>"#;
    let agent_device = Device::start_with(
        &server,
        "101",
        &agent,
        "101",
        "hangup",
        1,
        &[(r#"<recv request="INVITE" crlf="true"/>"#, asks_autoanswer)],
    );
    let after_device = Device::start(&server, "102", &survey, "answer", 1);
    let values =
        [("KEYS_AFTER_MS", "0"), ("KEYS_ACTIONS", "  <pause milliseconds=\"5000\"/>\n"), ("TALK_MS", "0")];
    let (ok, log) = call(&server, "100", &caller, "800", "keys", &values, 1);
    assert!(ok, "the caller's call failed:\n{log}\n{}", server.log());
    let (ok, log) = agent_device.finish();
    assert!(ok, "101 did not answer (with auto-answer asked) and hang up:\n{log}\n{}", server.log());
    let (ok, log) = after_device.finish();
    assert!(ok, "the caller did not reach 102 after the agent:\n{log}\n{}", server.log());
    let cdr = newest_cdr(&server, 1);
    assert_eq!(cdr["destination"], "extension 102", "{cdr}");
}

#[test]
fn an_agent_already_in_a_call_is_not_rung_unless_the_queue_rings_busy_agents() {
    let server = Server::start();
    let (caller, agent) = acme(&server);
    let overflow = password(&server.create_user("acme", "102"));
    let colleague = password(&server.create_user("acme", "104"));
    let body = json!({"name": "support", "number": "800", "max_time_seconds": 2, "ring_busy_agents": false,
                      "members": [{"extension": "101", "order": 1}],
                      "unanswered_destination": {"extension": "102"}});
    server.operator().post(&format!("{ACME}/queues"), &body).expect(201, "create the queue");
    // 101 would answer a second call too: only the queue's rule keeps it from ringing.
    let agent_device = Device::start(&server, "101", &agent, "answer", 2);
    let overflow_device = Device::start(&server, "102", &overflow, "answer", 1);
    thread::scope(|scope| {
        // 104 talks with 101 for five seconds.
        let busy = scope.spawn(|| {
            let values = [("KEYS_AFTER_MS", "0"), ("KEYS_ACTIONS", ""), ("TALK_MS", "5000")];
            call(&server, "104", &colleague, "101", "keys", &values, 1)
        });
        thread::sleep(Duration::from_millis(1000));
        let values = [
            ("KEYS_AFTER_MS", "0"),
            ("KEYS_ACTIONS", "  <pause milliseconds=\"6000\"/>\n"),
            ("TALK_MS", "0"),
        ];
        let (ok, log) = call(&server, "100", &caller, "800", "keys", &values, 1);
        assert!(ok, "the queue caller's call failed:\n{log}\n{}", server.log());
        let (ok, log) = busy.join().expect("the colleague's call");
        assert!(ok, "104's call with 101 failed:\n{log}");
    });
    let (ok, log) = overflow_device.finish();
    assert!(ok, "the queue caller should have gone to 102, 101 being busy:\n{log}\n{}", server.log());
    agent_device.stop();
    let stats = queue_stats(&server, "support");
    assert_eq!(stats["historical"]["answered"], 0, "{stats}");
    assert_eq!(stats["historical"]["unanswered_timed_out"], 1, "{stats}");
}

#[test]
fn a_queue_callers_info_while_agents_ring_is_answered() {
    let server = Server::start();
    let (caller, callee) = acme(&server);
    let agent = password(&server.create_user("acme", "103"));
    let body = json!({"name": "support", "number": "800", "max_time_seconds": 3,
                      "members": [{"extension": "103", "order": 1}],
                      "unanswered_destination": {"extension": "101"}});
    server.operator().post(&format!("{ACME}/queues"), &body).expect(201, "create the queue");
    // 103 rings (and is cancelled); meanwhile the caller presses 5 by SIP INFO, which must
    // get its 200 (an early-dialog 481 would make phones drop the call).
    let ringing = Device::start(&server, "103", &agent, "ring", 1);
    let keys = format!("{}  <pause milliseconds=\"6000\"/>\n", info_keys("5", 3));
    menu_call_reaches_101(&server, &caller, &callee, 1000, &keys);
    let (ok, log) = ringing.finish();
    assert!(ok, "103 rang and was cancelled:\n{log}");
}
