//! A fake host for native unit tests of a module: an in-memory kv, captured log lines and
//! mail, and a programmable HTTP responder. Each test thread has its own host.
//!
//! ```ignore
//! guest_sdk::testing::reset();
//! guest_sdk::testing::set_http(|req| Err(HttpError::NotAllowed(req.url.clone())));
//! let route = <Router as DidRouting>::route(call, did)?;
//! assert!(guest_sdk::testing::logs().is_empty());
//! ```

use std::cell::RefCell;
use std::collections::HashMap;

use crate::http::{HttpError, Request, Response};
use crate::kv::{Entry, KvError};
use crate::log::Level;
use crate::mail::Message;
use crate::types::{CallContext, Direction, LocalTime};

type HttpResponder = Box<dyn Fn(&Request) -> Result<Response, HttpError>>;

#[derive(Default)]
struct FakeHost {
    kv: HashMap<String, Entry>,
    next_version: u64,
    logs: Vec<(Level, String)>,
    mails: Vec<Message>,
    http: Option<HttpResponder>,
}

thread_local! {
    static HOST: RefCell<FakeHost> = RefCell::new(FakeHost::default());
}

fn with<R>(f: impl FnOnce(&mut FakeHost) -> R) -> R {
    HOST.with(|host| f(&mut host.borrow_mut()))
}

/// Forget every key, log line, mail and HTTP responder of this thread's fake host.
pub fn reset() {
    with(|host| *host = FakeHost::default());
}

/// Answer the module's HTTP requests with `responder` (by default every request fails
/// with `not-allowed`, as it would with an empty allow-list).
pub fn set_http(responder: impl Fn(&Request) -> Result<Response, HttpError> + 'static) {
    with(|host| host.http = Some(Box::new(responder)));
}

/// The log lines written so far.
pub fn logs() -> Vec<(Level, String)> {
    with(|host| host.logs.clone())
}

/// The messages sent so far.
pub fn mails() -> Vec<Message> {
    with(|host| host.mails.clone())
}

/// An inbound call from `caller` to DID "34910000000" of company "acme", on Wednesday
/// 2026-11-18 at 10:00 local time in Europe/Madrid (UTC+1), random seed 42. Change any
/// field a test needs; [`inbound_call_at`] sets the local time.
pub fn inbound_call(caller: &str) -> CallContext {
    CallContext {
        call_id: "test-call".into(),
        company: "acme".into(),
        caller: caller.into(),
        caller_name: None,
        called: "34910000000".into(),
        direction: Direction::Inbound,
        now_ms: 1_795_000_000_000,
        local_time: LocalTime {
            year: 2026,
            month: 11,
            day: 18,
            weekday: 3,
            hour: 10,
            minute: 0,
            second: 0,
            utc_offset_minutes: 60,
        },
        time_zone: "Europe/Madrid".into(),
        random_seed: 42,
    }
}

/// [`inbound_call`] at local `date` ("YYYY-MM-DD"), ISO `weekday` (1 = Monday) and
/// `time` ("HH:MM"). Panics on malformed text: it is for tests.
pub fn inbound_call_at(caller: &str, date: &str, weekday: u8, time: &str) -> CallContext {
    let number = |text: &str| text.parse::<u16>().unwrap_or_else(|_| panic!("{text:?} is not a number"));
    let parts: Vec<u16> = date.split('-').map(number).collect();
    let (hour, minute) = time.split_once(':').unwrap_or_else(|| panic!("{time:?} is not HH:MM"));
    let mut call = inbound_call(caller);
    call.local_time = LocalTime {
        year: parts[0],
        month: parts[1] as u8,
        day: parts[2] as u8,
        weekday,
        hour: number(hour) as u8,
        minute: number(minute) as u8,
        second: 0,
        utc_offset_minutes: 60,
    };
    call
}

/// An outbound call from extension `extension` of company "acme" to `dialled`, at the
/// same instant as [`inbound_call`]: what a permissions policy is asked about.
pub fn outbound_call(extension: &str, dialled: &str) -> CallContext {
    let mut call = inbound_call(extension);
    call.called = dialled.into();
    call.direction = Direction::Outbound;
    call
}

/// The fake implementations behind [`crate::log`], [`crate::kv`], [`crate::mail`] and
/// [`crate::http`] on the native target.
pub(crate) mod backend {
    pub mod log {
        use super::super::*;
        pub fn write(level: Level, message: &str) {
            with(|host| host.logs.push((level, message.to_string())));
        }
    }

    pub mod kv {
        use super::super::*;

        pub fn get(key: &str) -> Result<Option<Entry>, KvError> {
            Ok(with(|host| host.kv.get(key).cloned()))
        }

        pub fn set(key: &str, value: &[u8]) -> Result<u64, KvError> {
            Ok(with(|host| store(host, key, value)))
        }

        pub fn compare_and_swap(key: &str, expected: Option<u64>, value: &[u8]) -> Result<u64, KvError> {
            with(|host| {
                let current = host.kv.get(key).map(|entry| entry.version);
                if current != expected {
                    return Err(KvError::Conflict(current));
                }
                Ok(store(host, key, value))
            })
        }

        pub fn delete(key: &str) -> Result<bool, KvError> {
            Ok(with(|host| host.kv.remove(key).is_some()))
        }

        fn store(host: &mut FakeHost, key: &str, value: &[u8]) -> u64 {
            host.next_version += 1;
            let version = host.next_version;
            host.kv.insert(key.to_string(), Entry { value: value.to_vec(), version });
            version
        }
    }

    pub mod mail {
        use super::super::*;
        pub fn send(message: &Message) -> Result<(), String> {
            with(|host| host.mails.push(message.clone()));
            Ok(())
        }
    }

    pub mod http {
        use super::super::*;
        pub fn fetch(request: &Request) -> Result<Response, HttpError> {
            // Take the responder out so it may itself use the fake host.
            let responder = with(|host| host.http.take());
            let answer = match &responder {
                Some(respond) => respond(request),
                None => Err(HttpError::NotAllowed(request.url.clone())),
            };
            with(|host| host.http = responder);
            answer
        }
    }
}
