//! The media proof with real phones: two `baresip` instances (Debian package, 1.0.0)
//! register as extensions 100 and 101 and call each other through Centralita, whose relay
//! anchors the RTP. Each phone's microphone is a sine tone of its own (100 plays 1 kHz,
//! 101 plays 600 Hz) and each phone dumps what it receives to a WAV file; the test finds
//! the other side's tone in each recording with a Goertzel filter, and reads the call's CDR.
//!
//! The phones are driven through baresip's ctrl_tcp module (netstring-framed JSON commands
//! and events); their configuration templates are tests/baresip/config and accounts.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::Server;
use tempfile::TempDir;

const DOMAIN: &str = "acme.centralita.test";
const CALLER_TONE_HZ: u32 = 1000;
const CALLEE_TONE_HZ: u32 = 600;
/// How long the call stays up once audio flows both ways.
const TALK: Duration = Duration::from_secs(3);
/// The bound of every wait: generous for a loaded 2-core machine, not an assertion on speed.
const PATIENCE: Duration = Duration::from_secs(30);
/// The analysis block: 100 ms gives the Goertzel filter a 10 Hz resolution.
const BLOCK_MS: usize = 100;
/// A block quieter than this RMS (about -36 dBFS) is silence; ausine plays at about -9 dBFS.
const SILENCE_RMS: f64 = 500.0;

fn template(name: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/baresip/");
    std::fs::read_to_string(format!("{path}{name}")).expect("read a baresip template in tests/baresip/")
}

fn fill(mut text: String, values: &[(&str, String)]) -> String {
    for (name, value) in values {
        text = text.replace(&format!("%{name}%"), value);
    }
    text
}

/// A SIP port for baresip, free a moment ago for UDP and TCP, and with the next port free
/// for TCP too: baresip 1.0.0 always listens for TLS on the port after `sip_listen`.
fn free_sip_port() -> u16 {
    for _ in 0..100 {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
        // unwrap: a bound socket has a local address.
        let port = tcp.local_addr().unwrap().port();
        if port < u16::MAX
            && UdpSocket::bind(("127.0.0.1", port)).is_ok()
            && TcpListener::bind(("127.0.0.1", port + 1)).is_ok()
        {
            return port;
        }
    }
    panic!("found no SIP port for baresip");
}

/// Twenty consecutive UDP ports free a moment ago, for one phone's RTP and RTCP. They lie in
/// the ephemeral range, away from the server's relay ports (20000-29999).
fn free_rtp_ports() -> (u16, u16) {
    for _ in 0..100 {
        let probe = UdpSocket::bind("127.0.0.1:0").expect("bind an ephemeral UDP port");
        // unwrap: a bound socket has a local address.
        let first = probe.local_addr().unwrap().port();
        drop(probe);
        let Some(last) = first.checked_add(19) else { continue };
        let held: Vec<_> =
            (first..=last).map_while(|port| UdpSocket::bind(("127.0.0.1", port)).ok()).collect();
        if held.len() == 20 {
            return (first, last);
        }
    }
    panic!("found no free RTP port range for baresip");
}

/// A baresip ctrl_tcp connection: commands out, responses and events in, each one
/// netstring-framed JSON (`LEN:{...},`).
struct Control {
    stream: TcpStream,
    unread: Vec<u8>,
    /// Events received and not yet waited for, oldest first.
    events: Vec<Value>,
    commands_sent: u32,
}

impl Control {
    fn new(stream: TcpStream) -> Control {
        // unwrap: a non-zero read timeout is always accepted.
        stream.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        Control { stream, unread: Vec::new(), events: Vec::new(), commands_sent: 0 }
    }

    /// Run `command` (with `params`) and wait for baresip's answer to it.
    fn command(&mut self, command: &str, params: &str) -> Result<(), String> {
        self.commands_sent += 1;
        let token = format!("{command}-{}", self.commands_sent);
        let body = json!({"command": command, "params": params, "token": token}).to_string();
        self.stream
            .write_all(format!("{}:{body},", body.len()).as_bytes())
            .map_err(|e| format!("send {command:?} to baresip: {e}"))?;
        let deadline = Instant::now() + PATIENCE;
        loop {
            match self.next_message(deadline)? {
                Some(message) if message["response"] == true && message["token"] == token.as_str() => {
                    return if message["ok"] == true {
                        Ok(())
                    } else {
                        Err(format!("baresip refused {command:?}: {message}"))
                    };
                }
                Some(_) => {}
                None => return Err(format!("baresip did not answer {command:?}")),
            }
        }
    }

    /// Wait for the event of type `kind` (e.g. "CALL_ESTABLISHED") and take it.
    fn wait_event(&mut self, kind: &str) -> Result<Value, String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(at) = self.events.iter().position(|event| event["type"] == kind) {
                return Ok(self.events.remove(at));
            }
            if self.next_message(deadline)?.is_none() {
                let seen: Vec<&Value> = self.events.iter().map(|event| &event["type"]).collect();
                return Err(format!("no {kind} event from baresip; events not waited for: {seen:?}"));
            }
        }
    }

    /// The next message (events are also kept in `events`); `None` at the deadline.
    fn next_message(&mut self, deadline: Instant) -> Result<Option<Value>, String> {
        loop {
            if let Some(message) = self.take_framed()? {
                if message["event"] == true {
                    self.events.push(message.clone());
                }
                return Ok(Some(message));
            }
            if Instant::now() > deadline {
                return Ok(None);
            }
            let mut buffer = [0u8; 8192];
            match self.stream.read(&mut buffer) {
                Ok(0) => return Err("baresip closed its control connection".to_string()),
                Ok(read) => self.unread.extend_from_slice(&buffer[..read]),
                Err(e)
                    if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(e) => return Err(format!("read from baresip's control connection: {e}")),
            }
        }
    }

    /// One whole netstring from `unread`, parsed, if it has arrived.
    fn take_framed(&mut self) -> Result<Option<Value>, String> {
        let Some(colon) = self.unread.iter().position(|&byte| byte == b':') else { return Ok(None) };
        let length: usize = std::str::from_utf8(&self.unread[..colon])
            .ok()
            .and_then(|digits| digits.parse().ok())
            .ok_or_else(|| {
                format!("bad netstring from baresip: {:?}", String::from_utf8_lossy(&self.unread))
            })?;
        let end = colon + 1 + length;
        if self.unread.len() <= end {
            return Ok(None);
        }
        let message = serde_json::from_slice(&self.unread[colon + 1..end])
            .map_err(|e| format!("baresip sent JSON we cannot read ({e})"))?;
        self.unread.drain(..=end);
        Ok(Some(message))
    }
}

/// One baresip phone registered as an extension, with its own configuration directory,
/// killed when dropped (its log printed if the test is failing).
struct Phone {
    extension: String,
    child: Option<Child>,
    dir: TempDir,
    control: Control,
}

impl Phone {
    /// Start a phone for `extension` whose microphone plays a `tone_hz` sine. Retries on
    /// fresh ports when baresip exits before it listens (a port was taken meanwhile).
    fn start(server: &Server, extension: &str, password: &str, tone_hz: u32) -> Phone {
        let mut last_log = String::new();
        for attempt in 0..4 {
            let dir = tempfile::tempdir().expect("create the phone's configuration directory");
            let control_port = support::free_port();
            let (rtp_min, rtp_max) = free_rtp_ports();
            let values = [
                ("EXTENSION", extension.to_string()),
                ("DOMAIN", DOMAIN.to_string()),
                ("PASSWORD", password.to_string()),
                ("SERVER", server.sip_addr.to_string()),
                ("SIP_PORT", free_sip_port().to_string()),
                ("CONTROL_PORT", control_port.to_string()),
                ("RTP_MIN", rtp_min.to_string()),
                ("RTP_MAX", rtp_max.to_string()),
                ("TONE_HZ", tone_hz.to_string()),
                ("DIR", dir.path().display().to_string()),
            ];
            std::fs::write(dir.path().join("config"), fill(template("config"), &values))
                .expect("write config");
            std::fs::write(dir.path().join("accounts"), fill(template("accounts"), &values))
                .expect("write accounts");
            let log = std::fs::File::create(dir.path().join("baresip.log")).expect("create the phone's log");
            let mut child = Command::new("baresip")
                .arg("-f")
                .arg(dir.path())
                // -s: the SIP trace, in the log printed when the test fails.
                .arg("-s")
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("clone the log file handle"))
                .stderr(log)
                .spawn()
                .expect("run baresip (Debian package baresip; scripts/test.sh installs it)");
            match connect_control(&mut child, control_port) {
                Ok(control) => {
                    return Phone { extension: extension.to_string(), child: Some(child), dir, control };
                }
                Err(why) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_log = clean_log(dir.path());
                    eprintln!(
                        "baresip {extension} start attempt {attempt} failed: {why}; retrying on new ports"
                    );
                }
            }
        }
        panic!("baresip {extension} never started; its last log:\n{last_log}");
    }

    fn log(&self) -> String {
        clean_log(self.dir.path())
    }

    /// The lines where baresip's registration client reports a failure ("reg: ...").
    fn registration_failures(&self) -> Vec<String> {
        self.log().lines().filter(|line| line.starts_with("reg: ")).map(str::to_string).collect()
    }

    fn has_exited(&mut self) -> bool {
        self.child.as_mut().is_none_or(|child| child.try_wait().ok().flatten().is_some())
    }

    /// Ask baresip to quit (it unregisters and closes its recordings) and wait, bounded.
    fn quit(&mut self) {
        if let Err(why) = self.control.command("quit", "") {
            eprintln!("baresip {} did not take quit: {why}", self.extension);
        }
        let deadline = Instant::now() + PATIENCE;
        while !self.has_exited() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(50));
        }
        self.kill();
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The WAV file the sndfile module wrote with what this phone received in its call.
    fn received_audio(&self) -> PathBuf {
        let dumps: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .expect("list the phone's directory")
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with("-dec.wav")))
            .collect();
        assert_eq!(
            dumps.len(),
            1,
            "baresip {} should have dumped one received stream: {dumps:?}",
            self.extension
        );
        dumps[0].clone()
    }
}

impl Drop for Phone {
    fn drop(&mut self) {
        self.kill();
        if thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().filter(|line| !line.trim().is_empty()).collect();
            let tail = &lines[lines.len().saturating_sub(300)..];
            eprintln!("---- baresip {} log (last {} lines) ----", self.extension, tail.len());
            for line in tail {
                eprintln!("{}", line.chars().take(300).collect::<String>());
            }
            eprintln!("---- end of baresip {} log ----", self.extension);
        }
    }
}

/// Connect to a starting baresip's control port; fails if baresip exits first.
fn connect_control(child: &mut Child, port: u16) -> Result<Control, String> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| format!("poll baresip: {e}"))? {
            return Err(format!("baresip exited with {status}"));
        }
        if let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) {
            return Ok(Control::new(stream));
        }
        if Instant::now() > deadline {
            return Err("its control port never opened".to_string());
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Everything the baresip of `dir` printed, without its colour codes; its status line,
/// rewritten in place with carriage returns, stays one (long) line.
fn clean_log(dir: &Path) -> String {
    let raw = std::fs::read(dir.join("baresip.log")).unwrap_or_default();
    let text = String::from_utf8_lossy(&raw);
    let mut clean = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            // An ANSI colour sequence: ESC '[' ... 'm'.
            '\u{1b}' => {
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            }
            '\r' => {}
            c => clean.push(c),
        }
    }
    clean
}

/// Wait until the server lists a registration of `phone`'s extension; fails at once when
/// baresip reports that its registration failed.
fn wait_until_registered(server: &Server, phone: &mut Phone) {
    let path = format!("/api/v1/companies/acme/users/{}/registrations", phone.extension);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let registrations = server.operator().get(&path).expect(200, "registrations");
        if registrations.as_array().is_some_and(|list| !list.is_empty()) {
            return;
        }
        // Seen here: "Register: Function not implemented" (ENOSYS) is baresip 1.0.0's libre
        // 1.1 refusing a 401/407 in which any challenge names an algorithm other than MD5
        // (e.g. SHA-256), even when an MD5 challenge comes with it.
        let failures = phone.registration_failures();
        assert!(
            failures.is_empty(),
            "baresip {} could not register: {failures:?} (ENOSYS means a digest challenge other than MD5 was offered)",
            phone.extension
        );
        assert!(!phone.has_exited(), "baresip {} exited before it registered", phone.extension);
        assert!(Instant::now() < deadline, "baresip {} never registered", phone.extension);
        thread::sleep(Duration::from_millis(100));
    }
}

/// The sample rate and samples of a 16-bit mono PCM WAV file. A data chunk whose size was
/// never written (a writer stopped early) runs to the end of the file.
fn read_wav(path: &Path) -> (u32, Vec<i16>) {
    let bytes = std::fs::read(path).expect("read the recording");
    assert!(bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WAVE", "not a WAV file");
    let le16 = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]);
    let le32 = |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let mut rate = None;
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let size = le32(at + 4) as usize;
        let body = at + 8;
        match &bytes[at..at + 4] {
            b"fmt " => {
                let (format, channels, bits) = (le16(body), le16(body + 2), le16(body + 14));
                assert_eq!((format, channels, bits), (1, 1, 16), "expected 16-bit mono PCM");
                rate = Some(le32(body + 4));
            }
            b"data" => {
                let end = if size == 0 || body + size > bytes.len() { bytes.len() } else { body + size };
                let samples = bytes[body..end]
                    .chunks_exact(2)
                    .map(|pair| i16::from_le_bytes([pair[0], pair[1]]))
                    .collect();
                return (rate.expect("the fmt chunk comes before the data chunk"), samples);
            }
            _ => {}
        }
        at = body + size + size % 2;
    }
    panic!("no data chunk in {}", path.display());
}

/// The power of `frequency` in `samples` (the Goertzel algorithm: one DFT bin).
fn goertzel_power(samples: &[i16], frequency: f64, sample_rate: f64) -> f64 {
    let coefficient = 2.0 * (2.0 * std::f64::consts::PI * frequency / sample_rate).cos();
    let (mut previous, mut before_previous) = (0.0, 0.0);
    for &sample in samples {
        let current = f64::from(sample) + coefficient * previous - before_previous;
        before_previous = previous;
        previous = current;
    }
    previous * previous + before_previous * before_previous - coefficient * previous * before_previous
}

/// How a recording's blocks look for one tone.
#[derive(Debug)]
struct ToneReport {
    blocks: usize,
    /// Blocks louder than silence.
    loud: usize,
    /// Loud blocks where the tone has over 10 times the power of every `rivals` frequency.
    tone: usize,
}

fn analyse(path: &Path, tone_hz: u32, rivals: &[u32]) -> ToneReport {
    let (rate, samples) = read_wav(path);
    let block = rate as usize * BLOCK_MS / 1000;
    let mut report = ToneReport { blocks: 0, loud: 0, tone: 0 };
    for chunk in samples.chunks_exact(block) {
        report.blocks += 1;
        let rms = (chunk.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / block as f64).sqrt();
        if rms < SILENCE_RMS {
            continue;
        }
        report.loud += 1;
        let power = goertzel_power(chunk, f64::from(tone_hz), f64::from(rate));
        let strongest_rival = rivals
            .iter()
            .map(|&hz| goertzel_power(chunk, f64::from(hz), f64::from(rate)))
            .fold(0.0, f64::max);
        if power > 10.0 * strongest_rival {
            report.tone += 1;
        }
    }
    report
}

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

fn wait_for_cdr(server: &Server) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let reply = server.operator().get("/api/v1/companies/acme/cdrs").expect(200, "CDRs");
        if let Some(first) = reply["items"].as_array().and_then(|items| items.first()) {
            return first.clone();
        }
        assert!(Instant::now() < deadline, "no CDR was written for the call");
        thread::sleep(Duration::from_millis(100));
    }
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

    let cdr = wait_for_cdr(&server);
    assert_eq!(cdr["status"], "answered", "{cdr}");
    assert_eq!(cdr["caller"], "100", "{cdr}");
    assert_eq!(cdr["called"], "101", "{cdr}");
}
