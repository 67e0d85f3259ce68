//! The host services a module may call. On wasm32 each function calls the host import;
//! on the native target it calls the fake host of [`crate::testing`], so module unit tests
//! run with `cargo test`.

use crate::bindings::host::centralita::router as wit;

#[cfg(not(target_arch = "wasm32"))]
use crate::testing::backend;
#[cfg(target_arch = "wasm32")]
use wit as backend;

/// Log lines, kept by the host with the module's decision counters.
pub mod log {
    use super::backend;
    pub use super::wit::log::Level;

    /// Write one log line.
    pub fn write(level: Level, message: &str) {
        backend::log::write(level, message)
    }
    /// Write a debug line.
    pub fn debug(message: &str) {
        write(Level::Debug, message)
    }
    /// Write an info line.
    pub fn info(message: &str) {
        write(Level::Info, message)
    }
    /// Write a warning.
    pub fn warn(message: &str) {
        write(Level::Warn, message)
    }
    /// Write an error line.
    pub fn error(message: &str) {
        write(Level::Error, message)
    }
}

/// Key-value storage private to this company and this module.
pub mod kv {
    use super::backend;
    pub use super::wit::kv::{Entry, KvError};

    /// Read a key.
    pub fn get(key: &str) -> Result<Option<Entry>, KvError> {
        backend::kv::get(key)
    }
    /// Write a key unconditionally; returns the new version.
    pub fn set(key: &str, value: &[u8]) -> Result<u64, KvError> {
        backend::kv::set(key, value)
    }
    /// Write a key only if its version is `expected` (none = must not exist).
    pub fn compare_and_swap(key: &str, expected: Option<u64>, value: &[u8]) -> Result<u64, KvError> {
        backend::kv::compare_and_swap(key, expected, value)
    }
    /// Remove a key; returns whether it existed.
    pub fn delete(key: &str) -> Result<bool, KvError> {
        backend::kv::delete(key)
    }
}

/// Outgoing mail.
pub mod mail {
    use super::backend;
    pub use super::wit::mail::{Attachment, Message};

    /// Send a message through the operator's SMTP relay.
    pub fn send(message: &Message) -> Result<(), String> {
        backend::mail::send(message)
    }
}

/// Outgoing HTTP to allow-listed hosts.
pub mod http {
    use super::backend;
    pub use super::wit::http::{HttpError, Request, Response};

    /// Send a request.
    pub fn fetch(request: &Request) -> Result<Response, HttpError> {
        backend::http::fetch(request)
    }

    /// GET `url`, giving up after `timeout_ms`.
    pub fn get(url: &str, timeout_ms: u32) -> Result<Response, HttpError> {
        fetch(&Request {
            method: "GET".into(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout_ms,
        })
    }
}
