//! Shared helpers of the black-box tests: start the real `centralita` binary on free
//! ports with its own data directory, talk to it over HTTP, and find the guest test
//! components the host's build script compiled.
//!
//! Every test binary includes this module with `mod support;` and uses only part of it.
#![allow(dead_code)]

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::blocking::{Client, RequestBuilder};
use serde_json::{Value, json};
use tempfile::TempDir;

pub mod audio;
pub mod baresip;
pub mod browser;
pub mod chromium;
pub mod events;
pub mod firefox;
pub mod kamailio;
pub mod sipp;
pub mod smtp;

/// The operator token every test server is started with.
pub const OPERATOR_TOKEN: &str = "test-operator-token";

/// How long a server may take to answer its health check after start. Not an assertion
/// on speed: only a bound so a broken start fails instead of hanging.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// The `centralita` binary under test.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_centralita"))
}

/// The cargo target directory the binary was built in (`<target>/debug/centralita`).
pub fn target_dir() -> PathBuf {
    binary().parent().and_then(Path::parent).expect("the binary lies in <target>/<profile>/").to_path_buf()
}

/// A guest component built by the host's build script, by crate name ("vip-router" or
/// "vip_router").
pub fn guest_wasm(crate_name: &str) -> PathBuf {
    let path = target_dir()
        .join("guests/wasm32-wasip2/release")
        .join(format!("{}.wasm", crate_name.replace('-', "_")));
    assert!(
        path.exists(),
        "guest component {} was not built (the host's build.rs builds it)",
        path.display()
    );
    path
}

/// The bytes of a guest component.
pub fn guest_bytes(crate_name: &str) -> Vec<u8> {
    std::fs::read(guest_wasm(crate_name)).expect("read the guest component")
}

/// A blocking HTTP client with a generous overall timeout (a bound, not an assertion).
pub fn client() -> Client {
    Client::builder().timeout(Duration::from_secs(60)).build().expect("build the HTTP client")
}

/// A TCP port that was free a moment ago (bound on 127.0.0.1:0, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port").local_addr().unwrap().port()
}

/// A port free for both TCP and UDP a moment ago (for SIP, which listens on both).
pub fn free_port_tcp_udp() -> u16 {
    for _ in 0..50 {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("found no port free for both TCP and UDP");
}

/// The first of `count` UDP ports in a row that were all free a moment ago (media
/// programs bind a range: one port taken fails their whole run).
pub fn free_udp_ports(count: u16) -> u16 {
    for _ in 0..100 {
        let probe = UdpSocket::bind("127.0.0.1:0").expect("bind an ephemeral UDP port");
        // unwrap: a bound socket has a local address.
        let first = probe.local_addr().unwrap().port();
        drop(probe);
        let Some(last) = first.checked_add(count - 1) else { continue };
        let held: Vec<_> =
            (first..=last).map_while(|port| UdpSocket::bind(("127.0.0.1", port)).ok()).collect();
        if held.len() == usize::from(count) {
            return first;
        }
    }
    panic!("found no {count} free UDP ports in a row");
}

/// sipp's `-mp`: it binds audio RTP and RTCP there and video RTP and RTCP on the next two.
pub fn free_media_ports() -> u16 {
    free_udp_ports(4)
}

/// The variable that runs every test server on PostgreSQL (`postgres`) instead of redb;
/// the test command sets it for a second run of the API groups.
pub const BACKEND_VARIABLE: &str = "CENTRALITA_TEST_BACKEND";

/// `--store URL` when the tests run on PostgreSQL: one fresh database per data directory,
/// remembered in it, so a server restarted on the same directory finds its data again.
fn store_args(data_dir: &Path) -> Vec<String> {
    match std::env::var(BACKEND_VARIABLE).as_deref() {
        Err(_) | Ok("" | "redb") => Vec::new(),
        Ok("postgres") => {
            let remembered = data_dir.join("test-store-url");
            let url = std::fs::read_to_string(&remembered).unwrap_or_else(|_| {
                std::fs::create_dir_all(data_dir).expect("create the data directory");
                let url = centralita::store::testing::fresh_database_url();
                std::fs::write(&remembered, &url).expect("remember the test database");
                url
            });
            vec!["--store".into(), url]
        }
        Ok(other) => panic!("{BACKEND_VARIABLE}={other}: expected redb or postgres"),
    }
}

/// DID 34910000000 decided by `module` (the vip_router guest): callers 34600111222 and
/// the default both go to extension 100.
pub fn vip_did_body(module: &str) -> Value {
    json!({
        "number": "34910000000",
        "description": "main",
        "default_destination": {"extension": "100"},
        "module": module,
        "config": {"vip_callers": ["34600111222"], "vip_destination": {"extension": "100"}},
    })
}

/// A running `centralita serve`, killed when dropped.
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The HTTP listen address.
    pub addr: SocketAddr,
    /// The SIP (UDP) listen address.
    pub sip_addr: SocketAddr,
    /// The data directory.
    pub data_dir: PathBuf,
    log_path: PathBuf,
    client: Client,
    _own_dir: Option<TempDir>,
}

impl Server {
    /// Start a server with a fresh data directory of its own.
    pub fn start() -> Server {
        let dir = tempfile::tempdir().expect("create a temporary data directory");
        let mut server = Server::start_in(dir.path());
        server._own_dir = Some(dir);
        server
    }

    /// Start a server with a fresh data directory of its own and extra arguments.
    pub fn start_with_args(extra_args: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("create a temporary data directory");
        let mut server = Server::start_with(dir.path(), extra_args);
        server._own_dir = Some(dir);
        server
    }

    /// Start a server on `data_dir` (which the caller keeps alive, e.g. across restarts).
    pub fn start_in(data_dir: &Path) -> Server {
        Server::start_with(data_dir, &[])
    }

    /// Start a server on `data_dir` with extra command-line arguments. Retries on fresh
    /// ports when the process dies before it is healthy (e.g. a port was taken between
    /// picking and binding it).
    pub fn start_with(data_dir: &Path, extra_args: &[&str]) -> Server {
        let mut last_log = String::new();
        for attempt in 0..4 {
            let http_port = free_port();
            let sip_port = free_port_tcp_udp();
            let addr: SocketAddr = format!("127.0.0.1:{http_port}").parse().unwrap();
            static STARTS: AtomicUsize = AtomicUsize::new(0);
            let log_path = data_dir.with_file_name(format!(
                "{}.server-{}-{}.log",
                data_dir.file_name().and_then(|n| n.to_str()).unwrap_or("data"),
                std::process::id(),
                STARTS.fetch_add(1, Ordering::SeqCst)
            ));
            let log = File::create(&log_path).expect("create the server log file");
            let child = Command::new(binary())
                .arg("serve")
                .arg("--data-dir")
                .arg(data_dir)
                // A test that names its own store keeps it.
                .args(if extra_args.contains(&"--store") { Vec::new() } else { store_args(data_dir) })
                .arg("--http-listen")
                .arg(addr.to_string())
                .arg("--sip-listen")
                .arg(format!("127.0.0.1:{sip_port}"))
                .args(extra_args)
                .env("CENTRALITA_ADMIN_TOKEN", OPERATOR_TOKEN)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("clone the log file handle"))
                .stderr(log)
                .spawn()
                .expect("start the centralita binary");
            let mut server = Server {
                child: Some(child),
                base: format!("http://{addr}"),
                addr,
                sip_addr: SocketAddr::from(([127, 0, 0, 1], sip_port)),
                data_dir: data_dir.to_path_buf(),
                log_path,
                client: client(),
                _own_dir: None,
            };
            match server.wait_healthy() {
                Ok(()) => return server,
                Err(why) => {
                    last_log = server.log();
                    server.kill();
                    eprintln!("server start attempt {attempt} failed: {why}; retrying on new ports");
                }
            }
        }
        panic!("the server never became healthy; its last log:\n{last_log}");
    }

    fn wait_healthy(&mut self) -> Result<(), String> {
        let started = Instant::now();
        let health = format!("{}/api/v1/health", self.base);
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().expect("poll the server process") {
                return Err(format!("the server exited with {status} before it was healthy"));
            }
            if let Ok(response) = self.client.get(&health).timeout(Duration::from_secs(5)).send()
                && response.status().as_u16() == 200
            {
                let body: Value = response.json().unwrap_or(Value::Null);
                assert_eq!(body["status"], "ok", "GET /api/v1/health answered 200 with {body}");
                // Another test's server on a port ours could not bind answers too.
                let own = self.child.as_ref().map(Child::id);
                if body["pid"].as_u64() != own.map(u64::from) {
                    return Err(format!("another server ({body}) answers on {}", self.base));
                }
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                return Err("no healthy answer in time".to_string());
            }
            thread::sleep(Duration::from_millis(25));
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the server is running").id()
    }

    /// Kill the server with SIGKILL and reap it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Send SIGTERM and wait (bounded) for the process to exit; returns its status.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the server is running");
        let sent =
            Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().expect("run kill(1)");
        assert!(sent.success(), "kill -TERM failed");
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("poll the server process") {
                return status;
            }
            if started.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the server did not exit after SIGTERM; log:\n{}", self.log());
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything the server wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// A URL on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Requests as the operator.
    pub fn operator(&self) -> Api<'_> {
        self.with_token(OPERATOR_TOKEN)
    }

    /// Requests with `token` as bearer token.
    pub fn with_token(&self, token: &str) -> Api<'_> {
        Api { server: self, token: Some(token.to_string()) }
    }

    /// Requests without an Authorization header.
    pub fn anonymous(&self) -> Api<'_> {
        Api { server: self, token: None }
    }

    // ---- set-up shortcuts, all as the operator ----

    /// Create company `id` with the default test body merged with `extra`.
    pub fn create_company(&self, id: &str, extra: Value) -> Value {
        let body = merge(company_body(id), extra);
        self.operator().post("/api/v1/companies", &body).expect(201, &format!("create company {id}"))
    }

    /// Create user `extension` of `company`.
    pub fn create_user(&self, company: &str, extension: &str) -> Value {
        self.operator()
            .post(&format!("/api/v1/companies/{company}/users"), &user_body(extension))
            .expect(201, &format!("create user {extension} of {company}"))
    }

    /// Create a DID of `company` from a full body.
    pub fn create_did(&self, company: &str, body: &Value) -> Value {
        self.operator().post(&format!("/api/v1/companies/{company}/dids"), body).expect(201, "create a DID")
    }

    /// Upload `bytes` as module `name` of `company`; `query` without the leading '?'.
    pub fn upload_module(&self, company: &str, name: &str, bytes: Vec<u8>, query: &str) -> Reply {
        let mut path = format!("/api/v1/companies/{company}/modules/{name}");
        if !query.is_empty() {
            path.push('?');
            path.push_str(query);
        }
        self.operator().put_bytes(&path, "application/wasm", bytes)
    }

    /// The newest CDR of `company`, once there is one (CDRs are written after the call
    /// ends, off its path); panics after a bound.
    pub fn first_cdr(&self, company: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let reply = self.operator().get(&format!("/api/v1/companies/{company}/cdrs")).expect(200, "CDRs");
            if let Some(first) = reply["items"].as_array().and_then(|items| items.first()) {
                return first.clone();
            }
            assert!(Instant::now() < deadline, "no CDR was written for the call");
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Dry-run a call from `caller` at `at` to DID `number` of `company`; expects 200.
    pub fn route(&self, company: &str, number: &str, caller: &str, at: &str) -> Value {
        self.operator()
            .post(
                &format!("/api/v1/companies/{company}/dids/{number}/route"),
                &json!({"caller": caller, "at": at}),
            )
            .expect(200, &format!("route a call from {caller:?} at {at} to {number}"))
    }

    /// The operator's view of `company`'s audit log, newest first.
    pub fn audit(&self, company: &str) -> Vec<Value> {
        let entries = self
            .operator()
            .get(&format!("/api/v1/audit?company={company}&limit=1000"))
            .expect(200, "read the audit log");
        entries.as_array().unwrap_or_else(|| panic!("the audit log is not an array: {entries}")).clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        if thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(150)..];
            eprintln!("---- server log ({}, last {} lines) ----", self.base, tail.len());
            for line in tail {
                eprintln!("{line}");
            }
            eprintln!("---- end of server log ----");
        }
        let _ = std::fs::remove_file(&self.log_path);
    }
}

/// Requests to a server with one identity.
pub struct Api<'a> {
    server: &'a Server,
    token: Option<String>,
}

impl Api<'_> {
    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let builder = self.server.client.request(method, self.server.url(path));
        match &self.token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    /// Send a request with a JSON body (or none).
    pub fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        let mut builder = self.request(method.clone(), path);
        if let Some(body) = body {
            builder = builder.json(body);
        }
        Reply::from(builder.send(), &format!("{method} {path}"))
    }

    pub fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None)
    }

    pub fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::POST, path, Some(body))
    }

    /// POST without a body.
    pub fn post_empty(&self, path: &str) -> Reply {
        self.send(Method::POST, path, None)
    }

    pub fn put(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::PUT, path, Some(body))
    }

    pub fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None)
    }

    /// Send raw bytes with a content type.
    pub fn send_bytes(&self, method: Method, path: &str, content_type: &str, bytes: Vec<u8>) -> Reply {
        let builder = self.request(method.clone(), path).header("content-type", content_type).body(bytes);
        Reply::from(builder.send(), &format!("{method} {path}"))
    }

    pub fn put_bytes(&self, path: &str, content_type: &str, bytes: Vec<u8>) -> Reply {
        self.send_bytes(Method::PUT, path, content_type, bytes)
    }

    /// POST a raw text body labelled as JSON (for malformed JSON).
    pub fn post_raw_json(&self, path: &str, text: &str) -> Reply {
        self.send_bytes(Method::POST, path, "application/json", text.as_bytes().to_vec())
    }
}

/// An HTTP response, read whole.
#[derive(Debug, Clone)]
pub struct Reply {
    /// What was asked, for messages.
    pub request: String,
    pub status: u16,
    /// The body as JSON, or `Value::Null` when it is not JSON.
    pub json: Value,
    pub text: String,
}

impl Reply {
    fn from(result: reqwest::Result<reqwest::blocking::Response>, request: &str) -> Reply {
        let response = result.unwrap_or_else(|e| panic!("{request}: no HTTP response: {e}"));
        let status = response.status().as_u16();
        let text = response.text().unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { request: request.to_string(), status, json, text }
    }

    /// The JSON body, after checking the status is `status`.
    #[track_caller]
    pub fn expect(self, status: u16, what: &str) -> Value {
        assert_eq!(
            self.status, status,
            "{what}: {} answered {} (expected {status}) with body {}",
            self.request, self.status, self.text
        );
        self.json
    }

    /// The JSON body, after checking the status is 2xx.
    #[track_caller]
    pub fn expect_success(self, what: &str) -> Value {
        assert!(
            (200..300).contains(&self.status),
            "{what}: {} answered {} (expected 2xx) with body {}",
            self.request,
            self.status,
            self.text
        );
        self.json
    }

    /// Check the status is a 4xx client error with a JSON `error` message; returns the
    /// message and the `field`, if any.
    #[track_caller]
    pub fn expect_client_error(&self, what: &str) -> (String, Option<String>) {
        assert!(
            (400..500).contains(&self.status),
            "{what}: {} answered {} (expected 4xx) with body {}",
            self.request,
            self.status,
            self.text
        );
        let message = self.json["error"].as_str().unwrap_or_else(|| {
            panic!(
                "{what}: {} answered {} without a JSON \"error\": {}",
                self.request, self.status, self.text
            )
        });
        assert!(!message.trim().is_empty(), "{what}: the error message is empty");
        (message.to_string(), self.json["field"].as_str().map(str::to_string))
    }

    /// Check a 4xx error whose message contains `needle` (case-insensitive).
    #[track_caller]
    pub fn expect_error_mentioning(&self, needle: &str, what: &str) -> String {
        let (message, _) = self.expect_client_error(what);
        assert!(
            message.to_lowercase().contains(&needle.to_lowercase()),
            "{what}: {} answered {} with an error that does not mention {needle:?}: {}",
            self.request,
            self.status,
            self.text
        );
        message
    }

    /// Check a 4xx error that names `field` in its message or in its `field` member.
    #[track_caller]
    pub fn expect_error_naming_field(&self, field: &str, what: &str) {
        let (message, named) = self.expect_client_error(what);
        assert!(
            named.as_deref() == Some(field) || message.contains(field),
            "{what}: {} answered {} with an error that names neither in `field` nor in its message the field {field:?}: {}",
            self.request,
            self.status,
            self.text
        );
    }
}

// ---- request bodies ----

/// A valid company body.
pub fn company_body(id: &str) -> Value {
    json!({
        "id": id,
        "name": format!("Company {id}"),
        "max_extensions": 50,
        "time_zone": "Europe/Madrid",
    })
}

/// A valid user body.
pub fn user_body(extension: &str) -> Value {
    json!({
        "extension": extension,
        "email": format!("user{extension}@example.com"),
        "full_name": format!("User {extension}"),
        "role": "user",
    })
}

/// `base` with the members of `extra` (an object, or null) added or replaced.
pub fn merge(mut base: Value, extra: Value) -> Value {
    if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), extra) {
        for (key, value) in extra {
            base.insert(key, value);
        }
    }
    base
}

/// The audit entries of `entries` whose action is `action`.
pub fn with_action<'a>(entries: &'a [Value], action: &str) -> Vec<&'a Value> {
    entries.iter().filter(|e| e["action"] == action).collect()
}

// ---- a tiny HTTP server for the modules' `http` import ----

/// A local HTTP server that answers every request `200 OK` with body "ok" and counts
/// the requests it served. Its thread lives until the test process ends.
pub struct TinyHttp {
    pub port: u16,
    pub hits: Arc<AtomicUsize>,
}

impl TinyHttp {
    pub fn start() -> TinyHttp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the tiny HTTP server");
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let counter = counter.clone();
                thread::spawn(move || serve_one(stream, &counter));
            }
        });
        TinyHttp { port, hits }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn serve_one(stream: TcpStream, hits: &AtomicUsize) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut content_length = 0usize;
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if line == "\r\n" || line == "\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            content_length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; content_length];
    let _ = reader.read_exact(&mut body);
    hits.fetch_add(1, Ordering::SeqCst);
    let mut stream = stream;
    let _ = stream.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    );
    let _ = stream.flush();
}

/// One run of sipp's register scenario (tests/sipp/register.xml: REGISTER, the 401
/// digest challenge answered, the expected final status) against a server, once per user
/// line `extension;password;domain`.
pub struct SippRegister<'a> {
    users: Vec<String>,
    expected: u16,
    ip: &'a str,
    port: Option<u16>,
    contact_user: Option<&'a str>,
    timeout_s: u32,
    extra: &'a [&'a str],
}

impl<'a> SippRegister<'a> {
    /// Register `users` (each `[extension, password, domain]`), each expecting `expected`.
    pub fn new(users: &[[&str; 3]], expected: u16) -> SippRegister<'a> {
        SippRegister {
            users: users.iter().map(|u| u.join(";")).collect(),
            expected,
            ip: "127.0.0.1",
            port: None,
            contact_user: None,
            timeout_s: 20,
            extra: &[],
        }
    }

    /// Send from `ip` (a loopback address) instead of 127.0.0.1.
    pub fn source_ip(mut self, ip: &'a str) -> Self {
        self.ip = ip;
        self
    }

    /// Send from `port` (a device then answers calls on it) instead of a free one.
    pub fn source_port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Put `user` in the Contact instead of the extension (a device's `sip_username`).
    pub fn contact_user(mut self, user: &'a str) -> Self {
        self.contact_user = Some(user);
        self
    }

    /// Give up after `seconds` in all.
    pub fn timeout_s(mut self, seconds: u32) -> Self {
        self.timeout_s = seconds;
        self
    }

    /// More sipp arguments (e.g. `-t t1` for TCP).
    pub fn args(mut self, extra: &'a [&'a str]) -> Self {
        self.extra = extra;
        self
    }

    /// Run it: whether every registration ended as expected, and sipp's output and errors.
    pub fn run(&self, server: &Server) -> (bool, String) {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("users.csv");
        std::fs::write(&csv, format!("SEQUENTIAL\n{}\n", self.users.join("\n"))).unwrap();
        let template =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/sipp/register.xml"))
                .unwrap();
        let mut text = template.replace("EXPECTED_STATUS", &self.expected.to_string());
        if let Some(user) = self.contact_user {
            text = text.replace("Contact: <sip:[field0]@", &format!("Contact: <sip:{user}@"));
        }
        let scenario = dir.path().join("register.xml");
        std::fs::write(&scenario, text).unwrap();
        let port = self.port.unwrap_or_else(free_port_tcp_udp);
        let output = Command::new("sipp")
            .arg(server.sip_addr.to_string())
            .arg("-sf")
            .arg(&scenario)
            .arg("-inf")
            .arg(&csv)
            .args(["-i", self.ip, "-p", &port.to_string(), "-m", &self.users.len().to_string(), "-r", "10"])
            .args(["-timeout", &self.timeout_s.to_string(), "-timeout_error", "-nostdin"])
            .args(self.extra)
            .args(["-trace_err", "-error_file"])
            .arg(dir.path().join("errors.log"))
            .current_dir(dir.path())
            .output()
            .expect("run sipp (package sip-tester; scripts/test.sh installs it)");
        let errors = std::fs::read_to_string(dir.path().join("errors.log")).unwrap_or_default();
        let log = format!(
            "{}\n{}\n{errors}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), log)
    }
}
