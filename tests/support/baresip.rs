//! Real `baresip` phones (Debian package, 1.0.0) for black-box tests: each runs with its own
//! configuration directory (templates in tests/baresip/), registers as an extension, plays a
//! sine tone as its microphone and dumps what it receives to a WAV file; the test drives it
//! through the ctrl_tcp module (netstring-framed JSON commands and events). The checks on
//! those files are in `support::audio`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;

use super::Server;

/// The SIP domain of the company the phones register in.
pub const DOMAIN: &str = "acme.centralita.test";
/// The bound of every wait: generous for a loaded 2-core machine, not an assertion on speed.
pub const PATIENCE: Duration = Duration::from_secs(30);

pub fn template(name: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/baresip/");
    std::fs::read_to_string(format!("{path}{name}")).expect("read a baresip template in tests/baresip/")
}

pub fn fill(mut text: String, values: &[(&str, String)]) -> String {
    for (name, value) in values {
        text = text.replace(&format!("%{name}%"), value);
    }
    text
}

/// A SIP port for baresip, free a moment ago for UDP and TCP, and with the next port free
/// for TCP too: baresip 1.0.0 always listens for TLS on the port after `sip_listen`.
pub fn free_sip_port() -> u16 {
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
pub fn free_rtp_ports() -> (u16, u16) {
    let first = super::free_udp_ports(20);
    (first, first + 19)
}

/// A baresip ctrl_tcp connection: commands out, responses and events in, each one
/// netstring-framed JSON (`LEN:{...},`).
pub struct Control {
    stream: TcpStream,
    unread: Vec<u8>,
    /// Events received and not yet waited for, oldest first.
    events: Vec<Value>,
    commands_sent: u32,
}

impl Control {
    pub fn new(stream: TcpStream) -> Control {
        // unwrap: a non-zero read timeout is always accepted.
        stream.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        Control { stream, unread: Vec::new(), events: Vec::new(), commands_sent: 0 }
    }

    /// Run `command` (with `params`) and wait for baresip's answer to it.
    pub fn command(&mut self, command: &str, params: &str) -> Result<(), String> {
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
    pub fn wait_event(&mut self, kind: &str) -> Result<Value, String> {
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
pub struct Phone {
    pub extension: String,
    child: Option<Child>,
    dir: TempDir,
    pub control: Control,
}

impl Phone {
    /// Start a phone for `extension` whose microphone plays a `tone_hz` sine. Retries on
    /// fresh ports when baresip exits before it listens (a port was taken meanwhile).
    pub fn start(server: &Server, extension: &str, password: &str, tone_hz: u32) -> Phone {
        let mut last_log = String::new();
        for attempt in 0..4 {
            let dir = tempfile::tempdir().expect("create the phone's configuration directory");
            let control_port = super::free_port();
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

    pub fn log(&self) -> String {
        clean_log(self.dir.path())
    }

    /// The lines where baresip's registration client reports a failure ("reg: ...").
    pub fn registration_failures(&self) -> Vec<String> {
        self.log().lines().filter(|line| line.starts_with("reg: ")).map(str::to_string).collect()
    }

    pub fn has_exited(&mut self) -> bool {
        self.child.as_mut().is_none_or(|child| child.try_wait().ok().flatten().is_some())
    }

    /// Ask baresip to quit (it unregisters and closes its recordings) and wait, bounded.
    pub fn quit(&mut self) {
        if let Err(why) = self.control.command("quit", "") {
            eprintln!("baresip {} did not take quit: {why}", self.extension);
        }
        let deadline = Instant::now() + PATIENCE;
        while !self.has_exited() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(50));
        }
        self.kill();
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The WAV file the sndfile module wrote with what this phone received in its call.
    pub fn received_audio(&self) -> PathBuf {
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
pub fn connect_control(child: &mut Child, port: u16) -> Result<Control, String> {
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
pub fn clean_log(dir: &Path) -> String {
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
pub fn wait_until_registered(server: &Server, phone: &mut Phone) {
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
