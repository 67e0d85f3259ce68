//! What the browser drivers share (Chromium's DevTools in `chromium`, Firefox's WebDriver
//! BiDi in `firefox`), so a journey through a page is written once for both.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A page that runs JavaScript.
pub trait Script {
    /// The value of a JavaScript expression (a promise is awaited); panics on an exception.
    fn eval(&mut self, expression: &str) -> Value;

    /// Wait until `expression` is true, evaluating it every 200 ms; panics after `patience`.
    fn wait_for(&mut self, expression: &str, patience: Duration) {
        let deadline = Instant::now() + patience;
        while self.eval(expression) != json!(true) {
            assert!(Instant::now() < deadline, "never true: {expression}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The path of `url` without its query: `http://host:1/a/b?c` is `/a/b`.
pub fn path_of(url: &str) -> &str {
    let after_host = url.split_once("//").map_or(url, |(_, rest)| rest.find('/').map_or("/", |i| &rest[i..]));
    after_host.split('?').next().unwrap_or(after_host)
}
