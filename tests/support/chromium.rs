//! Headless Chromium (Debian's `chromium`) driven through the DevTools protocol over a
//! WebSocket: open a page, evaluate JavaScript in it, take a screenshot. Fake camera and
//! microphone, and media permission granted, for WebRTC pages (see ../shared/TESTING.md).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use tempfile::TempDir;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use super::browser::Script;

/// How long the browser may take to start and to answer a command (a bound, not a claim).
const PATIENCE: Duration = Duration::from_secs(30);

pub struct Browser {
    child: Child,
    port: u16,
    _profile: TempDir,
}

pub struct Page {
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// Events that arrived while waiting for answers, oldest first.
    events: Vec<Value>,
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

impl Browser {
    /// Start a headless Chromium; panics with the reason if it cannot.
    pub fn start() -> Browser {
        Browser::start_with(&[])
    }

    /// Start one whose fake microphone plays the WAV file `wav`, over and over.
    pub fn start_with_microphone(wav: &Path) -> Browser {
        Browser::start_with(&[format!("--use-file-for-fake-audio-capture={}", wav.display())])
    }

    /// Start one with `extra` command-line flags.
    pub fn start_with(extra: &[String]) -> Browser {
        let profile = tempfile::tempdir().expect("a profile directory");
        let port = free_port();
        let child = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                // The host's media sockets are on loopback, which WebRTC skips by default.
                "--allow-loopback-in-peer-connection",
                "--disable-features=WebRtcHideLocalIpsWithMdns",
                "--autoplay-policy=no-user-gesture-required",
                "--window-size=1024,768",
            ])
            .args(extra)
            .arg(format!("--remote-debugging-port={port}"))
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium starts (Debian package chromium; scripts/test.sh installs it)");
        let browser = Browser { child, port, _profile: profile };
        let deadline = Instant::now() + PATIENCE;
        while browser.devtools("GET", "/json/version").is_err() {
            assert!(Instant::now() < deadline, "chromium's DevTools did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
        browser
    }

    /// A DevTools HTTP endpoint's JSON answer.
    fn devtools(&self, method: &str, path: &str) -> Result<Value, String> {
        let client = reqwest::blocking::Client::new();
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        let request = match method {
            "PUT" => client.put(&url),
            _ => client.get(&url),
        };
        let response = request.send().map_err(|e| e.to_string())?;
        response.json().map_err(|e| e.to_string())
    }

    /// Open `url` in a new tab.
    pub fn open(&self, url: &str) -> Page {
        let target = self.devtools("PUT", &format!("/json/new?{url}")).expect("a new tab");
        let debugger = target["webSocketDebuggerUrl"].as_str().expect("the tab's DevTools socket");
        let (socket, _) = tungstenite::connect(debugger).expect("connect to the tab");
        if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
            stream.set_read_timeout(Some(PATIENCE)).expect("a read timeout");
        }
        Page { socket, next_id: 1, events: Vec::new() }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Page {
    /// Call a DevTools method and return its result (events in between are kept for
    /// [`Page::take_events`]).
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let request = json!({"id": id, "method": method, "params": params});
        self.socket.send(Message::text(request.to_string())).expect("send a DevTools command");
        loop {
            let message = self.socket.read().unwrap_or_else(|e| panic!("{method}: no answer: {e}"));
            let Message::Text(text) = message else { continue };
            let value: Value = serde_json::from_str(&text).expect("DevTools speaks JSON");
            if value["id"] == id {
                assert!(value["error"].is_null(), "{method}: {}", value["error"]);
                return value["result"].clone();
            }
            if value["method"].is_string() {
                self.events.push(value);
            }
        }
    }

    /// The parameters of the `method` events received so far (enable their domain first),
    /// taken out of the page's buffer.
    pub fn take_events(&mut self, method: &str) -> Vec<Value> {
        let (taken, kept) = std::mem::take(&mut self.events).into_iter().partition(|e| e["method"] == method);
        self.events = kept;
        taken.into_iter().map(|e| e["params"].clone()).collect()
    }

    /// The value of a JavaScript expression (a promise is awaited); panics on an exception.
    pub fn eval(&mut self, expression: &str) -> Value {
        let params = json!({"expression": expression, "awaitPromise": true, "returnByValue": true});
        let result = self.call("Runtime.evaluate", params);
        assert!(result["exceptionDetails"].is_null(), "{expression}: {}", result["exceptionDetails"]);
        result["result"]["value"].clone()
    }

    /// Wait until `expression` is true, evaluating it every 200 ms; panics after `patience`.
    pub fn wait_for(&mut self, expression: &str, patience: Duration) {
        Script::wait_for(self, expression, patience);
    }

    /// Put the file `path` in the page's file input `selector`, as a user choosing it would
    /// (scripts cannot set a file input; DevTools can).
    pub fn choose_file(&mut self, selector: &str, path: &Path) {
        let document = self.call("DOM.getDocument", json!({}));
        let input = self
            .call("DOM.querySelector", json!({"nodeId": document["root"]["nodeId"], "selector": selector}));
        self.call("DOM.setFileInputFiles", json!({"nodeId": input["nodeId"], "files": [path]}));
    }

    /// Save a PNG screenshot of the page as `path`.
    pub fn screenshot(&mut self, path: &Path) {
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"}));
        let data = shot["data"].as_str().expect("screenshot data");
        let png = base64::engine::general_purpose::STANDARD.decode(data).expect("base64 PNG");
        std::fs::write(path, png).expect("write the screenshot");
    }
}

impl Script for Page {
    fn eval(&mut self, expression: &str) -> Value {
        Page::eval(self, expression)
    }
}

/// Where tests keep what CI publishes (screenshots): `<target>/test-artifacts`.
pub fn artifacts_dir() -> PathBuf {
    let dir = super::target_dir().join("test-artifacts");
    std::fs::create_dir_all(&dir).expect("the artifacts directory");
    dir
}
