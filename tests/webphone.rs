//! Black-box tests of the web phone (issue #5): headless Chromium opens `/phone`, logs in
//! with an extension's SIP credentials (SIP over WebSocket, digest) and calls — or is
//! called by — a `baresip` phone. The host bridges the browser's WebRTC audio (ICE,
//! DTLS-SRTP) to baresip's plain RTP; each side must hear the other's tone.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::Server;
use support::baresip::{DOMAIN, Phone, wait_until_registered};
use support::chromium::{Browser, Page, artifacts_dir};

/// How long registration, ringing and media may take to happen: a bound, not a claim.
const PATIENCE: Duration = Duration::from_secs(30);
/// The tone the browser's (fake) microphone plays, and the one baresip plays.
const BROWSER_HZ: u32 = 1000;
const BARESIP_HZ: u32 = 600;

/// Goertzel power at `hz` and at a rival frequency of the audio the page receives,
/// over 1.5 s, from a WebAudio analyser on the call's remote stream.
fn heard_in_browser(page: &mut Page, hz: u32, rival: u32) -> (f64, f64) {
    let script = format!(
        "(async () => {{
          const stream = window.phone.call.remoteStream;
          const context = new AudioContext();
          await context.resume();
          const analyser = context.createAnalyser();
          analyser.fftSize = 32768;
          context.createMediaStreamSource(stream).connect(analyser);
          await new Promise((resolve) => setTimeout(resolve, 1500));
          const samples = new Float32Array(analyser.fftSize);
          analyser.getFloatTimeDomainData(samples);
          const power = (hz) => {{
            const c = 2 * Math.cos(2 * Math.PI * hz / context.sampleRate);
            let [s1, s2] = [0, 0];
            for (const x of samples) {{ const s = x + c * s1 - s2; s2 = s1; s1 = s; }}
            return s1 * s1 + s2 * s2 - c * s1 * s2;
          }};
          const result = [power({hz}), power({rival})];
          context.close();
          return result;
        }})()"
    );
    let value = page.eval(&script);
    (value[0].as_f64().expect("a power"), value[1].as_f64().expect("a power"))
}

/// The call's WebRTC state and descriptions, for a failure's message.
const CONNECTION_STATE: &str = "JSON.stringify({ice: window.phone.call.pc.iceConnectionState,
    remote: window.phone.call.pc.remoteDescription?.sdp, local: window.phone.call.pc.localDescription?.sdp})";

/// The page's bytes of inbound audio so far (WebRTC getStats).
fn inbound_bytes(page: &mut Page) -> f64 {
    let script = "window.phone.call.pc.getStats().then((report) => [...report.values()]
        .filter((s) => s.type === 'inbound-rtp' && s.kind === 'audio')
        .reduce((sum, s) => sum + s.bytesReceived, 0))";
    page.eval(script).as_f64().expect("a byte count")
}

fn password(user: &Value) -> String {
    user["sip_password"].as_str().expect("a SIP password").to_string()
}

/// A browser whose microphone plays [`BROWSER_HZ`], on the web phone page, logged in as
/// `extension`.
fn logged_in_web_phone(
    server: &Server,
    extension: &str,
    password: &str,
) -> (Browser, Page, tempfile::NamedTempFile) {
    let microphone = tempfile::NamedTempFile::with_suffix(".wav").expect("a WAV file");
    std::fs::write(microphone.path(), support::audio::tone_wav(48000, 1, 5.0, f64::from(BROWSER_HZ)))
        .expect("write the microphone's tone");
    let browser = Browser::start_with_microphone(microphone.path());
    // One query parameter only: DevTools' /json/new would take a second as its own.
    let mut page = browser.open(&server.url(&format!("/phone?domain={DOMAIN}")));
    page.wait_for("!!document.getElementById('password')", PATIENCE);
    page.eval(&format!(
        "document.getElementById('user').value = {};
         document.getElementById('password').value = {};
         document.getElementById('login-button').click(); true",
        json!(extension),
        json!(password)
    ));
    let deadline = Instant::now() + PATIENCE;
    while page.eval("window.phone.registered === true || window.phone.lastError !== ''") != json!(true) {
        assert!(Instant::now() < deadline, "the web phone never logged in\n{}", server.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    let error = page.eval("window.phone.lastError");
    assert_eq!(error, json!(""), "the web phone logged in");
    (browser, page, microphone)
}

fn wait_for_cdr(server: &Server) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let reply = server.operator().get("/api/v1/companies/acme/cdrs").expect(200, "CDRs");
        if let Some(first) = reply["items"].as_array().and_then(|items| items.first()) {
            return first.clone();
        }
        assert!(Instant::now() < deadline, "no CDR was written for the call");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_web_phone_calls_a_baresip_extension_and_each_hears_the_other() {
    let server = Server::start();
    server.create_company("acme", json!({"sip_domain": DOMAIN}));
    let web_password = password(&server.create_user("acme", "100"));
    let baresip_password = password(&server.create_user("acme", "101"));
    let mut baresip = Phone::start(&server, "101", &baresip_password, BARESIP_HZ);
    wait_until_registered(&server, &mut baresip);
    let (_browser, mut page, _microphone) = logged_in_web_phone(&server, "100", &web_password);
    let registrations =
        server.operator().get("/api/v1/companies/acme/users/100/registrations").expect(200, "registrations");
    assert_eq!(registrations[0]["transport"], "ws", "the web phone is a device of 100: {registrations}");

    page.eval(
        "document.getElementById('number').value = '101'; document.getElementById('call').click(); true",
    );
    baresip
        .control
        .wait_event("CALL_ESTABLISHED")
        .unwrap_or_else(|why| panic!("baresip did not answer: {why}"));
    page.wait_for("window.phone.call?.state === 'connected'", PATIENCE);
    baresip.control.wait_event("CALL_RTPESTAB").unwrap_or_else(|why| panic!("no RTP reached baresip: {why}"));
    page.wait_for("window.phone.call.remoteStream !== undefined", PATIENCE);
    let deadline = Instant::now() + PATIENCE;
    while inbound_bytes(&mut page) < 8000.0 {
        let state = page.eval(CONNECTION_STATE);
        assert!(
            Instant::now() < deadline,
            "baresip's audio never reached the browser: {state}\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (tone, rival) = heard_in_browser(&mut page, BARESIP_HZ, BROWSER_HZ + 200);
    assert!(
        tone > 10.0 * rival && tone > 1.0,
        "the browser hears baresip's {BARESIP_HZ} Hz: {tone} against {rival}"
    );
    assert_eq!(page.eval("document.getElementById('call-state').textContent"), json!("Connected"));
    assert_eq!(page.eval("document.getElementById('peer').textContent"), json!("101"));
    page.screenshot(&artifacts_dir().join("webphone.png"));

    page.eval("document.getElementById('hangup').click(); true");
    baresip
        .control
        .wait_event("CALL_CLOSED")
        .unwrap_or_else(|why| panic!("the BYE did not reach baresip: {why}"));
    page.wait_for("window.phone.call === null", PATIENCE);
    baresip.quit();
    let (rate, heard) = support::audio::read_wav(&baresip.received_audio());
    let report = support::audio::tone_blocks(rate, &heard, BROWSER_HZ, &[BARESIP_HZ]);
    assert!(report.loud >= 5, "baresip heard the browser's {BROWSER_HZ} Hz tone: {report:?}");

    let cdr = wait_for_cdr(&server);
    assert_eq!(
        (cdr["status"].as_str(), cdr["caller"].as_str(), cdr["called"].as_str()),
        (Some("answered"), Some("100"), Some("101")),
        "{cdr}"
    );
}
