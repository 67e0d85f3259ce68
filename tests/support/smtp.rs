//! A real SMTP server for tests: Debian's aiosmtpd (`python3-aiosmtpd`) storing every
//! message it receives in a Maildir, and a reader for what arrived — headers, the text
//! part and the attachments (base64 and quoted-printable decoded).
//!
//! Stands on std, tempfile and base64 only, so the host's unit tests can include it too
//! (`#[path]`), besides the black-box tests (`support::smtp`).
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;

/// Debian's Python, which sees Debian's `python3-*` packages (the first `python3` on PATH
/// may be another CPython without them).
const PYTHON: &str = "/usr/bin/python3";

/// How long the server may take to listen, and the default wait for mail. Bounds so a
/// broken set-up fails instead of hanging, not assertions on speed.
const START_TIMEOUT: Duration = Duration::from_secs(30);
pub const MAIL_TIMEOUT: Duration = Duration::from_secs(30);

/// A running aiosmtpd, killed when dropped.
pub struct SmtpServer {
    child: Child,
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
    /// The Maildir (messages land in `new/`).
    pub maildir: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmtpServer {
    /// Start on a free port.
    pub fn start() -> SmtpServer {
        let port = TcpListener::bind("127.0.0.1:0").expect("bind a port").local_addr().unwrap().port();
        SmtpServer::start_on(port)
    }

    /// Start on `port` (e.g. one a mailer was already pointed at, to test its retries).
    pub fn start_on(port: u16) -> SmtpServer {
        let dir = tempfile::tempdir().expect("create a temporary Maildir");
        let maildir = dir.path().join("mail");
        let log = std::fs::File::create(dir.path().join("aiosmtpd.log")).expect("create the aiosmtpd log");
        let mut child = Command::new(PYTHON)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("start aiosmtpd with {PYTHON} (apt-get install python3-aiosmtpd): {e}")
            });
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = child.try_wait().expect("poll aiosmtpd") {
                let log = std::fs::read_to_string(dir.path().join("aiosmtpd.log")).unwrap_or_default();
                panic!("aiosmtpd exited with {status} before listening on {port}:\n{log}");
            }
            assert!(started.elapsed() < START_TIMEOUT, "aiosmtpd did not listen on {port}");
            thread::sleep(Duration::from_millis(50));
        }
        SmtpServer { child, port, maildir, _dir: dir }
    }

    /// The URL a mailer reaches it at.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        read_maildir(&self.maildir)
    }

    /// Wait until `count` messages have arrived; all of them. Panics after `timeout`.
    pub fn wait_for(&self, count: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let started = Instant::now();
        loop {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            assert!(
                started.elapsed() < timeout,
                "{} of {count} messages arrived in {timeout:?}: {messages:#?}",
                messages.len()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Wait for a message matching `wanted`. Panics after `timeout`, listing what came.
    pub fn wait_for_match(&self, timeout: Duration, wanted: impl Fn(&ReceivedMail) -> bool) -> ReceivedMail {
        let started = Instant::now();
        loop {
            let messages = self.messages();
            if let Some(found) = messages.iter().find(|m| wanted(m)) {
                return found.clone();
            }
            assert!(
                started.elapsed() < timeout,
                "no matching message in {timeout:?}; received: {messages:#?}"
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One received message.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// Top-level headers in order, names as written, folded lines joined.
    pub headers: Vec<(String, String)>,
    /// The text/plain body (the whole body when the message is not multipart).
    pub text: String,
    /// Parts with a file name.
    pub attachments: Vec<ReceivedAttachment>,
    /// The message as stored.
    pub raw: String,
}

/// An attachment of a received message.
#[derive(Debug, Clone)]
pub struct ReceivedAttachment {
    pub filename: String,
    /// The MIME type without parameters, e.g. "audio/wav".
    pub content_type: String,
    /// The decoded bytes.
    pub bytes: Vec<u8>,
    /// The part's Content-Transfer-Encoding, lower case.
    pub encoding: String,
}

impl ReceivedMail {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The Subject.
    pub fn subject(&self) -> &str {
        self.header("subject").unwrap_or("")
    }

    /// The envelope recipients aiosmtpd saw (its X-RcptTo header).
    pub fn envelope_to(&self) -> &str {
        self.header("x-rcptto").unwrap_or("")
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// Every message file under `maildir/new`, oldest first (by modification time, then name).
pub fn read_maildir(maildir: &Path) -> Vec<ReceivedMail> {
    let Ok(entries) = std::fs::read_dir(maildir.join("new")) else { return Vec::new() };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .map(|e| (e.metadata().and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH), e.path()))
        .collect();
    files.sort();
    files.iter().filter_map(|(_, path)| std::fs::read(path).ok()).map(|bytes| parse(&bytes)).collect()
}

/// Parse one stored message.
pub fn parse(bytes: &[u8]) -> ReceivedMail {
    let raw = String::from_utf8_lossy(bytes).replace("\r\n", "\n");
    let (headers, body) = split_entity(&raw);
    let mut mail = ReceivedMail {
        headers: headers.clone(),
        text: String::new(),
        attachments: Vec::new(),
        raw: raw.clone(),
    };
    collect_parts(&headers, body, &mut mail);
    mail
}

/// Headers and body of a MIME entity (lines end in '\n').
fn split_entity(text: &str) -> (Vec<(String, String)>, &str) {
    let (head, body) = match text.find("\n\n") {
        Some(at) => (&text[..at], &text[at + 2..]),
        None => (text, ""),
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    (headers, body)
}

/// The value of parameter `name` of a header value like `type/sub; name="x"`.
fn parameter(value: &str, name: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (key, val) = p.trim().split_once('=')?;
        key.trim().eq_ignore_ascii_case(name).then(|| val.trim().trim_matches('"').to_string())
    })
}

fn collect_parts(headers: &[(String, String)], body: &str, mail: &mut ReceivedMail) {
    let content_type = header(headers, "content-type").unwrap_or("text/plain");
    let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if mime.starts_with("multipart/") {
        let Some(boundary) = parameter(content_type, "boundary") else { return };
        let delimiter = format!("--{boundary}");
        for part in body.split(&delimiter).skip(1) {
            if part.starts_with("--") {
                break;
            }
            let part = part.strip_prefix('\n').unwrap_or(part);
            let (part_headers, part_body) = split_entity(part);
            collect_parts(&part_headers, part_body.strip_suffix('\n').unwrap_or(part_body), mail);
        }
        return;
    }
    let encoding = header(headers, "content-transfer-encoding").unwrap_or("7bit").trim().to_ascii_lowercase();
    let bytes = decode(body, &encoding);
    let filename = header(headers, "content-disposition").and_then(|d| parameter(d, "filename"));
    match filename {
        Some(filename) => {
            mail.attachments.push(ReceivedAttachment { filename, content_type: mime, bytes, encoding })
        }
        None if mail.text.is_empty() && mime == "text/plain" => {
            mail.text = String::from_utf8_lossy(&bytes).into_owned()
        }
        None => {}
    }
}

fn decode(body: &str, encoding: &str) -> Vec<u8> {
    match encoding {
        "base64" => {
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            base64::engine::general_purpose::STANDARD.decode(compact).expect("a valid base64 part")
        }
        "quoted-printable" => decode_quoted_printable(body),
        _ => body.as_bytes().to_vec(),
    }
}

fn decode_quoted_printable(body: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut continued = true;
    for line in body.split('\n') {
        // A line ending in '=' (a soft break) continues on the next one.
        if !continued {
            out.push(b'\n');
        }
        let (line, soft_break) = match line.strip_suffix('=') {
            Some(rest) => (rest, true),
            None => (line, false),
        };
        continued = soft_break;
        let bytes = line.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
                (b'=', Some(byte)) => {
                    out.push(byte);
                    i += 3;
                }
                (byte, _) => {
                    out.push(byte);
                    i += 1;
                }
            }
        }
    }
    out
}
