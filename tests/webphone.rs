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
    log_in(&mut page, server, extension, password);
    (browser, page, microphone)
}

/// Click the page's keypad buttons for `keys`, as a user would.
fn press_keys(page: &mut Page, keys: &str) {
    for key in keys.chars() {
        page.eval(&format!(
            "[...document.querySelectorAll('#keypad button')].find((b) => b.textContent === '{key}').click(); true"
        ));
    }
}

/// Fill in the login form of `page` and wait until the phone registered.
fn log_in(page: &mut Page, server: &Server, extension: &str, password: &str) {
    // The form is in the HTML; its handler (and `window.phone`) come with the page's
    // module, which a loaded machine can run after the form shows: a click before that
    // would do nothing.
    page.wait_for("!!window.phone", PATIENCE);
    page.eval(&format!(
        "document.getElementById('user').value = {};
         document.getElementById('password').value = {};
         document.getElementById('login-button').click(); true",
        json!(extension),
        json!(password)
    ));
    let deadline = Instant::now() + PATIENCE;
    while page.eval("window.phone.registered === true || window.phone.lastError !== ''") != json!(true) {
        let state =
            page.eval("JSON.stringify({state: window.phone.state, socket: window.phone.socket?.readyState})");
        assert!(Instant::now() < deadline, "the web phone never logged in: {state}\n{}", server.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    let error = page.eval("window.phone.lastError");
    assert_eq!(error, json!(""), "the web phone logged in");
}

/// Only Opus in the browser's offers: the codec preference every transceiver gets.
const OPUS_ONLY: &str = "(() => {
    const addTrack = RTCPeerConnection.prototype.addTrack;
    RTCPeerConnection.prototype.addTrack = function (...args) {
      const sender = addTrack.apply(this, args);
      const opus = RTCRtpReceiver.getCapabilities('audio').codecs.filter((c) => c.mimeType === 'audio/opus');
      this.getTransceivers().find((t) => t.sender === sender).setCodecPreferences(opus);
      return sender;
    };
    return true;
  })()";

#[test]
fn the_web_phone_calls_a_baresip_extension_and_each_hears_the_other() {
    call_baresip_and_hear_each_other(false);
}

#[test]
fn a_browser_offering_only_opus_is_transcoded_and_each_side_hears_the_other() {
    call_baresip_and_hear_each_other(true);
}

/// The web phone (its browser offering Opus alone when `opus_only`) calls a baresip
/// extension; each hears the other's tone, and a CDR is written.
fn call_baresip_and_hear_each_other(opus_only: bool) {
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

    if opus_only {
        page.eval(OPUS_ONLY);
    }
    press_keys(&mut page, "101");
    page.eval("document.getElementById('call').click(); true");
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
    let codec = "window.phone.call.pc.getStats().then((report) => [...report.values()]
        .filter((s) => s.type === 'codec').map((s) => s.mimeType).join(' '))";
    let codecs = page.eval(codec);
    let expected = if opus_only { "audio/opus" } else { "audio/PCMU" };
    assert!(
        codecs.as_str().is_some_and(|c| c.contains(expected) && (!opus_only || !c.contains("PCM"))),
        "{codecs}; offered {}",
        page.eval(
            "window.phone.call.pc.localDescription.sdp.split('\\r\\n').find((l) => l.startsWith('m=audio'))"
        )
    );
    if !opus_only {
        page.screenshot(&artifacts_dir().join("webphone.png"));
    }

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

    let cdr = server.first_cdr("acme");
    assert_eq!(
        (cdr["status"].as_str(), cdr["caller"].as_str(), cdr["called"].as_str()),
        (Some("answered"), Some("100"), Some("101")),
        "{cdr}"
    );
}

/// Wait until the browser hears `hz` louder than `rival` (the stream may take a moment
/// to carry it after a change: an answer, a resume).
fn wait_until_heard(page: &mut Page, hz: u32, rival: u32, what: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (tone, other) = heard_in_browser(page, hz, rival);
        if tone > 10.0 * other && tone > 1.0 {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: {hz} Hz at {tone} against {other}");
    }
}

#[test]
fn the_web_phone_answers_holds_resumes_and_transfers_a_call_with_refer() {
    const THIRD_HZ: u32 = 800;
    let server = Server::start();
    server.create_company("acme", json!({"sip_domain": DOMAIN}));
    let web_password = password(&server.create_user("acme", "100"));
    let caller_password = password(&server.create_user("acme", "101"));
    let third_password = password(&server.create_user("acme", "102"));
    let mut caller = Phone::start(&server, "101", &caller_password, BARESIP_HZ);
    let mut third = Phone::start(&server, "102", &third_password, THIRD_HZ);
    wait_until_registered(&server, &mut caller);
    wait_until_registered(&server, &mut third);
    let (_browser, mut page, _microphone) = logged_in_web_phone(&server, "100", &web_password);

    caller.control.command("dial", "100").unwrap_or_else(|why| panic!("dial 100: {why}"));
    page.wait_for("window.phone.call?.state === 'incoming'", PATIENCE);
    assert_eq!(page.eval("document.getElementById('call-state').textContent"), json!("Incoming call"));
    let shown = page.eval("document.getElementById('peer').textContent");
    assert!(shown.as_str().is_some_and(|s| s.contains("101")), "the caller id is shown: {shown}");
    assert_eq!(page.eval("document.getElementById('answer').hidden"), json!(false), "an Answer button");
    page.eval("document.getElementById('answer').click(); true");
    caller
        .control
        .wait_event("CALL_ESTABLISHED")
        .unwrap_or_else(|why| panic!("the call was not answered: {why}"));
    page.wait_for("window.phone.call?.state === 'connected' && !!window.phone.call.remoteStream", PATIENCE);
    wait_until_heard(&mut page, BARESIP_HZ, BROWSER_HZ, "the browser hears the caller");

    // Hold: a re-INVITE with our audio send-only, relayed to the caller; then resume.
    page.eval("document.getElementById('hold').click(); true");
    page.wait_for("window.phone.call?.state === 'held' || window.phone.lastError !== ''", PATIENCE);
    assert_eq!(page.eval("window.phone.lastError"), json!(""), "the hold was accepted");
    assert_eq!(page.eval("document.getElementById('hold').textContent"), json!("Resume"));
    page.eval("document.getElementById('hold').click(); true");
    page.wait_for("window.phone.call?.state === 'connected' || window.phone.lastError !== ''", PATIENCE);
    assert_eq!(page.eval("window.phone.lastError"), json!(""), "the resume was accepted");
    wait_until_heard(&mut page, BARESIP_HZ, BROWSER_HZ, "the browser hears the caller after resuming");

    // Transfer to 102: REFER; the host takes the caller there and hangs up the web phone.
    page.eval(
        "document.getElementById('number').value = '102'; document.getElementById('transfer').click(); true",
    );
    page.wait_for("window.phone.call === null || window.phone.lastError !== ''", PATIENCE);
    assert_eq!(page.eval("window.phone.lastError"), json!(""), "the transfer was accepted");
    assert_eq!(page.eval("window.phone.lastCall.reason"), json!("transferred"));
    third
        .control
        .wait_event("CALL_ESTABLISHED")
        .unwrap_or_else(|why| panic!("102 did not get the caller: {why}"));
    third.control.wait_event("CALL_RTPESTAB").unwrap_or_else(|why| panic!("no RTP reached 102: {why}"));
    std::thread::sleep(Duration::from_secs(2));
    caller.control.command("hangup", "").unwrap_or_else(|why| panic!("hangup: {why}"));
    third.control.wait_event("CALL_CLOSED").unwrap_or_else(|why| panic!("the BYE did not reach 102: {why}"));
    third.quit();
    let (rate, heard) = support::audio::read_wav(&third.received_audio());
    let report = support::audio::tone_blocks(rate, &heard, BARESIP_HZ, &[THIRD_HZ, BROWSER_HZ]);
    assert!(report.tone >= 5, "102 talks with the transferred caller ({BARESIP_HZ} Hz): {report:?}");
}

/// Call 100 from `caller`; 100's desk phone answers at once if it rings. Then hang up.
fn call_answered_by_the_desk_phone(caller: &mut Phone) {
    caller.control.command("dial", "100").unwrap_or_else(|why| panic!("dial 100: {why}"));
    caller.control.wait_event("CALL_ESTABLISHED").unwrap_or_else(|why| panic!("nobody answered 100: {why}"));
    caller.control.command("hangup", "").unwrap_or_else(|why| panic!("hangup: {why}"));
    caller.control.wait_event("CALL_CLOSED").unwrap_or_else(|why| panic!("the call did not end: {why}"));
}

#[test]
fn in_exclusive_mode_only_the_logged_in_web_phone_rings_and_in_multi_device_mode_both_do() {
    let server = Server::start();
    server.create_company("acme", json!({"sip_domain": DOMAIN}));
    let web_password = password(&server.create_user("acme", "100"));
    let caller_password = password(&server.create_user("acme", "101"));
    // 100's desk phone answers at once (answermode=auto): if it rings, it takes the call.
    let mut desk = Phone::start(&server, "100", &web_password, BARESIP_HZ);
    let mut caller = Phone::start(&server, "101", &caller_password, BARESIP_HZ);
    wait_until_registered(&server, &mut desk);
    wait_until_registered(&server, &mut caller);
    let (_browser, mut page, _microphone) = logged_in_web_phone(&server, "100", &web_password);
    let user = |mode: &str| json!({"extension": "100", "email": "100@acme.test", "full_name": "Web Phone", "web_phone_mode": mode});
    let operator = server.operator();
    assert_eq!(
        operator.get("/api/v1/companies/acme/users/100").expect(200, "user 100")["web_phone_mode"],
        "multi_device",
        "the web phone is one more device by default"
    );

    // Multi-device: the web phone rings with the desk phone, which answers first: the
    // web phone's ringing is cancelled (it never answers by itself).
    call_answered_by_the_desk_phone(&mut caller);
    page.wait_for("window.phone.lastCall?.reason === 'missed'", PATIENCE);

    // Exclusive: only the web phone rings; the test answers it.
    operator.put("/api/v1/companies/acme/users/100", &user("exclusive")).expect(200, "exclusive mode");
    caller.control.command("dial", "100").unwrap_or_else(|why| panic!("dial 100: {why}"));
    page.wait_for("window.phone.call?.state === 'incoming'", PATIENCE);
    page.eval("document.getElementById('answer').click(); true");
    caller
        .control
        .wait_event("CALL_ESTABLISHED")
        .unwrap_or_else(|why| panic!("the web phone's answer: {why}"));
    page.wait_for("window.phone.call?.state === 'connected'", PATIENCE);
    caller.control.command("hangup", "").unwrap_or_else(|why| panic!("hangup: {why}"));
    caller.control.wait_event("CALL_CLOSED").unwrap_or_else(|why| panic!("the call did not end: {why}"));
    page.wait_for("window.phone.call === null", PATIENCE);
    assert!(
        !desk.log().contains("Incoming call"),
        "the desk phone never rang in exclusive mode:\n{}",
        desk.log()
    );

    // Exclusive with the web phone logged out: the desk phone rings again.
    page.eval("document.getElementById('logout').click(); true");
    page.wait_for("window.phone.registered === false && window.phone.state === 'logged out'", PATIENCE);
    call_answered_by_the_desk_phone(&mut caller);
    desk.quit();
}

#[test]
fn over_https_the_web_phone_registers_on_wss_and_calls() {
    let certificate =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).expect("a certificate");
    let dir = tempfile::tempdir().expect("a directory");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, certificate.cert.pem()).expect("write the certificate");
    std::fs::write(&key, certificate.signing_key.serialize_pem()).expect("write the key");
    let https_port = support::free_port();
    let listen = format!("127.0.0.1:{https_port}");
    let server = Server::start_with_args(&[
        "--https-listen",
        &listen,
        "--tls-cert",
        cert.to_str().expect("a UTF-8 path"),
        "--tls-key",
        key.to_str().expect("a UTF-8 path"),
    ]);
    server.create_company("acme", json!({"sip_domain": DOMAIN}));
    let web_password = password(&server.create_user("acme", "100"));
    let baresip_password = password(&server.create_user("acme", "101"));
    let mut baresip = Phone::start(&server, "101", &baresip_password, BARESIP_HZ);
    wait_until_registered(&server, &mut baresip);

    // The test's certificate is self-signed: the browser is told to accept it.
    let browser = Browser::start_with(&["--ignore-certificate-errors".to_string()]);
    let mut page = browser.open(&format!("https://{listen}/phone?domain={DOMAIN}"));
    page.wait_for("!!document.getElementById('password')", PATIENCE);
    assert_eq!(page.eval("window.isSecureContext"), json!(true), "the page is a secure context");
    log_in(&mut page, &server, "100", &web_password);
    assert_eq!(page.eval("window.phone.socket.url.split(':')[0]"), json!("wss"), "SIP goes over wss");

    page.eval(
        "document.getElementById('number').value = '101'; document.getElementById('call').click(); true",
    );
    baresip
        .control
        .wait_event("CALL_ESTABLISHED")
        .unwrap_or_else(|why| panic!("baresip did not answer: {why}"));
    page.wait_for("window.phone.call?.state === 'connected' && !!window.phone.call.remoteStream", PATIENCE);
    wait_until_heard(&mut page, BARESIP_HZ, BROWSER_HZ, "the browser on https hears baresip");
    page.eval("document.getElementById('hangup').click(); true");
    baresip
        .control
        .wait_event("CALL_CLOSED")
        .unwrap_or_else(|why| panic!("the BYE did not reach baresip: {why}"));
}

/// A static file server (Python's http.server) for the SIP.js page, stopped when dropped.
struct StaticFiles {
    child: std::process::Child,
    port: u16,
    _root: tempfile::TempDir,
}

impl StaticFiles {
    /// Serve the SIP.js test page next to the SIP.js package scripts/test.sh fetched.
    fn sipjs_page() -> StaticFiles {
        let package = support::target_dir().join("browser-peers/sip.js-0.21.2");
        assert!(
            package.join("lib/index.js").exists(),
            "SIP.js is missing at {}: scripts/test.sh fetches it from the npm registry",
            package.display()
        );
        let root = tempfile::tempdir().expect("a directory");
        let fixture =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/sipjs/index.html");
        std::fs::copy(&fixture, root.path().join("index.html")).expect("copy the SIP.js page");
        std::os::unix::fs::symlink(&package, root.path().join("sip.js")).expect("link the SIP.js package");
        let port = support::free_port();
        let child = std::process::Command::new("python3")
            .args(["-m", "http.server", &port.to_string(), "--bind", "127.0.0.1", "--directory"])
            .arg(root.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 serves the SIP.js page");
        let deadline = Instant::now() + PATIENCE;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "python3 -m http.server never listened");
            std::thread::sleep(Duration::from_millis(50));
        }
        StaticFiles { child, port, _root: root }
    }
}

impl Drop for StaticFiles {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn sipjs_a_browser_sip_library_we_did_not_write_registers_over_websocket_and_calls_baresip() {
    let server = Server::start();
    server.create_company("acme", json!({"sip_domain": DOMAIN}));
    let browser_password = password(&server.create_user("acme", "100"));
    let baresip_password = password(&server.create_user("acme", "101"));
    let mut baresip = Phone::start(&server, "101", &baresip_password, BARESIP_HZ);
    wait_until_registered(&server, &mut baresip);
    let files = StaticFiles::sipjs_page();
    let microphone = tempfile::NamedTempFile::with_suffix(".wav").expect("a WAV file");
    std::fs::write(microphone.path(), support::audio::tone_wav(48000, 1, 5.0, f64::from(BROWSER_HZ)))
        .expect("write the microphone's tone");
    let browser = Browser::start_with_microphone(microphone.path());
    let mut page = browser.open(&format!("http://127.0.0.1:{}/index.html", files.port));
    page.wait_for("window.ready === true", PATIENCE);

    let sip_url = server.url("/sip").replace("http://", "ws://");
    page.eval(&format!(
        "window.register({})",
        json!({"server": sip_url, "domain": DOMAIN, "user": "100", "password": browser_password})
    ));
    page.wait_for("window.sipjs.registered === true || window.sipjs.error !== ''", PATIENCE);
    assert_eq!(page.eval("window.sipjs.error"), json!(""), "SIP.js registered with the extension's digest");
    let registrations =
        server.operator().get("/api/v1/companies/acme/users/100/registrations").expect(200, "registrations");
    assert_eq!(registrations[0]["transport"], "ws", "{registrations}");

    page.eval("window.call('101')");
    baresip
        .control
        .wait_event("CALL_ESTABLISHED")
        .unwrap_or_else(|why| panic!("baresip did not answer: {why}"));
    page.wait_for("window.sipjs.session === 'Established'", PATIENCE);
    baresip.control.wait_event("CALL_RTPESTAB").unwrap_or_else(|why| panic!("no RTP reached baresip: {why}"));
    let deadline = Instant::now() + PATIENCE;
    while page.eval("window.inboundAudioBytes()").as_f64().unwrap_or(0.0) < 8000.0 {
        assert!(Instant::now() < deadline, "baresip's audio never reached SIP.js");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));
    page.eval("window.sipjs.inviter.bye().then(() => true)");
    baresip
        .control
        .wait_event("CALL_CLOSED")
        .unwrap_or_else(|why| panic!("SIP.js's BYE did not reach baresip: {why}"));
    baresip.quit();
    let (rate, heard) = support::audio::read_wav(&baresip.received_audio());
    let report = support::audio::tone_blocks(rate, &heard, BROWSER_HZ, &[BARESIP_HZ]);
    assert!(report.loud >= 5, "baresip heard the SIP.js browser's {BROWSER_HZ} Hz tone: {report:?}");
}

#[test]
fn the_web_phones_keypad_sends_digits_in_a_call_that_a_menu_acts_on() {
    let server = Server::start();
    server.create_company("acme", json!({"sip_domain": DOMAIN}));
    let web_password = password(&server.create_user("acme", "100"));
    let baresip_password = password(&server.create_user("acme", "101"));
    server
        .operator()
        .post(
            "/api/v1/companies/acme/ivr-menus",
            &json!({"name": "main", "number": "800", "timeout_seconds": 20,
                    "options": [{"key": "2", "destination": {"extension": "101"}}]}),
        )
        .expect(201, "create the menu");
    let mut baresip = Phone::start(&server, "101", &baresip_password, BARESIP_HZ);
    wait_until_registered(&server, &mut baresip);
    let (_browser, mut page, _microphone) = logged_in_web_phone(&server, "100", &web_password);

    press_keys(&mut page, "800");
    assert_eq!(page.eval("document.getElementById('number').value"), json!("800"), "the keypad types");
    page.eval("document.getElementById('call').click(); true");
    page.wait_for("window.phone.call?.state === 'connected'", PATIENCE);
    // In a call the keypad sends the key (SIP INFO): the menu sends the call to 101.
    press_keys(&mut page, "2");
    baresip
        .control
        .wait_event("CALL_ESTABLISHED")
        .unwrap_or_else(|why| panic!("the menu did not ring 101: {why}"));
    wait_until_heard(&mut page, BARESIP_HZ, BROWSER_HZ, "the browser hears 101 after the menu");
    page.eval("document.getElementById('hangup').click(); true");
    baresip
        .control
        .wait_event("CALL_CLOSED")
        .unwrap_or_else(|why| panic!("the BYE did not reach 101: {why}"));
    let cdr = server.first_cdr("acme");
    assert_eq!(cdr["destination"], "extension 101", "{cdr}");
}
