//! Headless Firefox (Debian's `firefox-esr`) driven through WebDriver BiDi, the W3C
//! protocol Firefox speaks natively over a WebSocket (`--remote-debugging-port`, path
//! `/session`): open a page, evaluate JavaScript in it, set a file input, take a
//! screenshot, and collect console errors, script errors and failed requests.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use tempfile::TempDir;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use super::browser::Script;

/// How long the browser may take to start and to answer a command (a bound, not a claim).
const PATIENCE: Duration = Duration::from_secs(60);

/// A headless Firefox with one BiDi session and its first tab.
pub struct Firefox {
    child: Child,
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// The first tab's browsing context id.
    context: String,
    /// Events that arrived while waiting for answers, oldest first.
    events: Vec<Value>,
    _profile: TempDir,
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

impl Firefox {
    /// Start a headless Firefox and open a BiDi session that records console entries and
    /// finished requests; panics with the reason if it cannot.
    pub fn start() -> Firefox {
        let profile = tempfile::tempdir().expect("a profile directory");
        let port = free_port();
        let child = Command::new("firefox-esr")
            .args(["--headless", "--no-remote", "--window-size=1024,768"])
            .arg("--profile")
            .arg(profile.path())
            .arg("--remote-debugging-port")
            .arg(port.to_string())
            .arg("about:blank")
            .env("MOZ_CRASHREPORTER_DISABLE", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("firefox-esr starts (Debian package firefox-esr; scripts/test.sh installs it)");
        let deadline = Instant::now() + PATIENCE;
        let socket = loop {
            match tungstenite::connect(format!("ws://127.0.0.1:{port}/session")) {
                Ok((socket, _)) => break socket,
                Err(error) => {
                    assert!(Instant::now() < deadline, "Firefox's WebDriver BiDi did not come up: {error}");
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        };
        if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
            stream.set_read_timeout(Some(PATIENCE)).expect("a read timeout");
        }
        let mut firefox = Firefox {
            child,
            socket,
            next_id: 1,
            context: String::new(),
            events: Vec::new(),
            _profile: profile,
        };
        firefox.call("session.new", json!({"capabilities": {"alwaysMatch": {"acceptInsecureCerts": true}}}));
        let tree = firefox.call("browsingContext.getTree", json!({}));
        firefox.context = tree["contexts"][0]["context"].as_str().expect("a first tab").to_string();
        firefox.call("session.subscribe", json!({"events": ["log.entryAdded", "network.responseCompleted"]}));
        firefox
    }

    /// Send a BiDi command and return its result (events in between are kept).
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let request = json!({"id": id, "method": method, "params": params});
        self.socket.send(Message::text(request.to_string())).expect("send a BiDi command");
        loop {
            let message = self.socket.read().unwrap_or_else(|e| panic!("{method}: no answer: {e}"));
            let Message::Text(text) = message else { continue };
            let value: Value = serde_json::from_str(&text).expect("BiDi speaks JSON");
            if value["id"] == id {
                assert_eq!(value["type"], "success", "{method}: {value}");
                return value["result"].clone();
            }
            if value["type"] == "event" {
                self.events.push(value);
            }
        }
    }

    /// Load `url` in the tab and wait until it has loaded.
    pub fn navigate(&mut self, url: &str) {
        let context = self.context.clone();
        self.call("browsingContext.navigate", json!({"context": context, "url": url, "wait": "complete"}));
    }

    /// Put the file `path` in the page's file input `selector`, as a user choosing it would.
    pub fn choose_file(&mut self, selector: &str, path: &Path) {
        let context = self.context.clone();
        let found = self.call(
            "script.evaluate",
            json!({"expression": format!("document.querySelector({})", json!(selector)),
                   "target": {"context": context}, "awaitPromise": false}),
        );
        let element =
            found["result"]["sharedId"].as_str().unwrap_or_else(|| panic!("no {selector}: {found}"));
        self.call(
            "input.setFiles",
            json!({"context": context, "element": {"sharedId": element}, "files": [path]}),
        );
    }

    /// Save a PNG screenshot of the page as `path`.
    pub fn screenshot(&mut self, path: &Path) {
        let context = self.context.clone();
        let shot = self.call("browsingContext.captureScreenshot", json!({"context": context}));
        let data = shot["data"].as_str().expect("screenshot data");
        let png = base64::engine::general_purpose::STANDARD.decode(data).expect("base64 PNG");
        std::fs::write(path, png).expect("write the screenshot");
    }

    /// The errors seen so far, taken out of the buffer: script errors and console.error
    /// calls as "console: TEXT", failed requests (status 400 and up) as "STATUS path".
    pub fn take_errors(&mut self) -> Vec<String> {
        self.eval("true"); // Reads what arrived since the last command.
        let mut errors = Vec::new();
        for event in std::mem::take(&mut self.events) {
            let params = &event["params"];
            match event["method"].as_str() {
                Some("log.entryAdded") if params["level"] == "error" => {
                    errors.push(format!("console: {}", params["text"].as_str().unwrap_or_default()));
                }
                Some("network.responseCompleted") => {
                    let status = params["response"]["status"].as_u64().unwrap_or(0);
                    if status >= 400 {
                        let url = params["request"]["url"].as_str().unwrap_or_default();
                        errors.push(format!("{status} {}", super::browser::path_of(url)));
                    }
                }
                _ => {}
            }
        }
        errors
    }
}

impl Script for Firefox {
    /// The value of a JavaScript expression (a promise is awaited), passed through JSON;
    /// panics on an exception.
    fn eval(&mut self, expression: &str) -> Value {
        let context = self.context.clone();
        // BiDi returns typed remote values; JSON text keeps the answer a plain value. A
        // global eval takes statements as DevTools does ("a = 1; true" is true).
        let wrapped =
            format!("(async () => JSON.stringify(await (0, eval)({})) ?? 'null')()", json!(expression));
        let answer = self.call(
            "script.evaluate",
            json!({"expression": wrapped, "target": {"context": context}, "awaitPromise": true,
                   "resultOwnership": "none"}),
        );
        assert_eq!(answer["type"], "success", "{expression}: {}", answer["exceptionDetails"]);
        let text = answer["result"]["value"].as_str().expect("JSON text");
        serde_json::from_str(text).expect("JSON")
    }
}

impl Drop for Firefox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
