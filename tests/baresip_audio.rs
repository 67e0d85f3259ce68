//! The media proof with real phones: two `baresip` instances (Debian package, 1.0.0)
//! register as extensions 100 and 101 and call each other through Centralita, whose relay
//! anchors the RTP. Each phone's microphone is a sine tone of its own (100 plays 1 kHz,
//! 101 plays 600 Hz) and each phone dumps what it receives to a WAV file; the test finds
//! the other side's tone in each recording with a Goertzel filter, and reads the call's CDR.
//!
//! The phones (tests/support/baresip.rs) are driven through baresip's ctrl_tcp module.

mod support;

use std::thread;
use std::time::Duration;

use serde_json::{Value, json};
use support::Server;
use support::audio::{BLOCK_MS, analyse};
use support::baresip::{DOMAIN, Phone, wait_until_registered};

const CALLER_TONE_HZ: u32 = 1000;
const CALLEE_TONE_HZ: u32 = 600;
/// How long the call stays up once audio flows both ways.
const TALK: Duration = Duration::from_secs(3);

/// Check that `phone` heard `tone_hz` for a good part of its recording: at least half
/// the blocks and at least half the talk time. The rivals are the neighbouring
/// frequencies and `own_hz`, the phone's own tone (heard if the relay echoed it back).
fn assert_heard(phone: &Phone, tone_hz: u32, own_hz: u32) {
    let path = phone.received_audio();
    let rivals = [tone_hz / 2, tone_hz * 3 / 4, tone_hz * 5 / 4, tone_hz * 3 / 2, own_hz];
    let report = analyse(&path, tone_hz, &rivals);
    let talk_blocks = TALK.as_millis() as usize / BLOCK_MS;
    eprintln!("baresip {} heard {tone_hz} Hz: {report:?}", phone.extension);
    assert!(report.loud > 0, "baresip {} received only silence: {report:?}", phone.extension);
    assert!(
        report.tone * 2 >= report.blocks && report.tone * 2 >= talk_blocks,
        "baresip {} did not hear the {tone_hz} Hz tone for most of the call ({BLOCK_MS} ms blocks): {report:?}",
        phone.extension
    );
}

#[test]
fn a_tone_played_by_one_baresip_phone_is_heard_by_the_other_through_the_relay() {
    let server = Server::start();
    server.create_company("acme", json!({"sip_domain": DOMAIN}));
    let password =
        |user: Value| user["sip_password"].as_str().expect("the user has a SIP password").to_string();
    let caller_password = password(server.create_user("acme", "100"));
    let callee_password = password(server.create_user("acme", "101"));

    let mut callee = Phone::start(&server, "101", &callee_password, CALLEE_TONE_HZ);
    let mut caller = Phone::start(&server, "100", &caller_password, CALLER_TONE_HZ);
    wait_until_registered(&server, &mut callee);
    wait_until_registered(&server, &mut caller);

    let step = |result: Result<Value, String>, what: &str| {
        result.unwrap_or_else(|why| panic!("{what}: {why}"));
    };
    caller.control.command("dial", "101").unwrap_or_else(|why| panic!("dial 101: {why}"));
    step(caller.control.wait_event("CALL_ESTABLISHED"), "the caller's call was not answered");
    step(callee.control.wait_event("CALL_ESTABLISHED"), "the callee did not answer");
    // RTP arrived through the relay on each side: only now does the talk time start.
    step(caller.control.wait_event("CALL_RTPESTAB"), "no RTP reached the caller");
    step(callee.control.wait_event("CALL_RTPESTAB"), "no RTP reached the callee");
    thread::sleep(TALK);
    caller.control.command("hangup", "").unwrap_or_else(|why| panic!("hangup: {why}"));
    step(caller.control.wait_event("CALL_CLOSED"), "the caller's call did not end");
    step(callee.control.wait_event("CALL_CLOSED"), "the BYE did not reach the callee");
    caller.quit();
    callee.quit();

    assert_heard(&callee, CALLER_TONE_HZ, CALLEE_TONE_HZ);
    assert_heard(&caller, CALLEE_TONE_HZ, CALLER_TONE_HZ);

    let cdr = server.first_cdr("acme");
    assert_eq!(cdr["status"], "answered", "{cdr}");
    assert_eq!(cdr["caller"], "100", "{cdr}");
    assert_eq!(cdr["called"], "101", "{cdr}");
}
