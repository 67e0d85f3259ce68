//! A DID router (and call policy) that misbehaves on request, for the host's sandbox tests.
//!
//! The caller number picks the trick; the route's caller-id prefix reports what happened,
//! so a black-box test reads the outcome off the call:
//!
//! | caller               | what the module does                                      |
//! |----------------------|-----------------------------------------------------------|
//! | `loop`               | spins forever (the epoch deadline must stop it)           |
//! | `bomb`               | allocates 1 MiB chunks until it traps (memory cap)        |
//! | `panic`              | panics                                                    |
//! | `ghost`              | routes to extension 999999, which does not exist          |
//! | `error`              | returns an error                                          |
//! | `log`                | logs "mischief says hello"                                |
//! | `kv-write:KEY=VALUE` | `kv::set`; prefix `kv-wrote:VERSION`                      |
//! | `kv-read:KEY`        | `kv::get`; prefix `kv:VALUE` or `kv:none`                 |
//! | `kv-cas:KEY=VALUE`   | create-only CAS; `cas:ok:VERSION` or `cas:conflict:N`     |
//! | `http:URL`           | GET; `http:ok:STATUS`, `http:not-allowed:HOST`, ...       |
//! | `mail:ADDRESS`       | sends a short message; `mail:ok` or `mail:err:TEXT`       |
//! | `env`                | `env:N`, the number of environment variables it sees      |
//! | `clock`              | `clock:MS`, the WASI wall clock in ms since the epoch     |
//! | `random`             | `seed:N`, the call's random seed                          |
//! | `sleep:MS`           | `thread::sleep` for MS ms, then `slept:MS`                |
//! | `chatter`            | writes 2,000 lines to stderr, then routes normally        |
//! | `spin:MS`            | sets kv `spinning`, busy-waits MS ms, prefix `spun:MS`    |
//! | anything else        | the DID's default destination, no prefix                  |
//!
//! A kv error other than a CAS conflict gives the prefix `kv-err:REASON`.
//!
//! As a call policy (`permissions`), the dialled number picks the trick:
//!
//! | dialled     | what the module does                                           |
//! |-------------|----------------------------------------------------------------|
//! | `loop`      | spins forever                                                  |
//! | `bomb`      | allocates until it traps                                       |
//! | `panic`     | panics                                                         |
//! | `error`     | returns an error                                               |
//! | `nonsense`  | allows dialling an empty number, which no host can carry out   |
//! | `deny`      | denies with the reason "mischief says no"                      |
//! | anything else | allows the number as dialled, caller id "mischief"           |

use std::hint::black_box;
use std::time::{SystemTime, UNIX_EPOCH};

use guest_sdk::did_routing::{Did, DidRouting, RouteDecision};
use guest_sdk::http::HttpError;
use guest_sdk::kv::KvError;
use guest_sdk::mail::Message;
use guest_sdk::permissions::{Allowance, CallerProfile, DialledKind, Permissions, Verdict};
use guest_sdk::types::{CallContext, Destination};
use guest_sdk::{http, kv, log, mail};

/// The module's decision type.
pub struct Mischief;

impl DidRouting for Mischief {
    fn route(call: CallContext, did: Did) -> Result<RouteDecision, String> {
        let prefix = match call.caller.as_str() {
            "loop" => spin(),
            "bomb" => hoard(),
            "panic" => panic!("mischief panicked on purpose"),
            "ghost" => return Ok(route(Destination::Extension("999999".into()), None)),
            "error" => return Err("mischief refuses".to_string()),
            "log" => {
                log::info("mischief says hello");
                None
            }
            "env" => Some(format!("env:{}", std::env::vars().count())),
            "clock" => Some(format!("clock:{}", wall_clock_ms())),
            "random" => Some(format!("seed:{}", call.random_seed)),
            "chatter" => {
                for line in 0..2000 {
                    eprintln!("mischief chatters, line {line}");
                }
                None
            }
            caller => match caller.split_once(':') {
                Some(("kv-write", arg)) => Some(kv_write(arg)?),
                Some(("kv-read", key)) => Some(kv_read(key)),
                Some(("kv-cas", arg)) => Some(kv_cas(arg)?),
                Some(("http", url)) => Some(http_get(url)),
                Some(("mail", address)) => Some(send_mail(address)),
                Some(("spin", ms)) => Some(spin_for(ms)?),
                Some(("sleep", ms)) => Some(sleep_for(ms)?),
                _ => None,
            },
        };
        Ok(route(did.default_destination, prefix))
    }
}

guest_sdk::export_did_router!(Mischief);

impl Permissions for Mischief {
    fn authorize(
        _call: CallContext,
        _caller: CallerProfile,
        dialled: String,
        _kind: DialledKind,
        _config: String,
    ) -> Result<Verdict, String> {
        let allow = |dial: &str| {
            Verdict::Allow(Allowance { dial: dial.to_string(), caller_id: Some("mischief".into()) })
        };
        Ok(match dialled.as_str() {
            "loop" => spin(),
            "bomb" => hoard(),
            "panic" => panic!("mischief panicked on purpose"),
            "error" => return Err("mischief refuses".to_string()),
            "nonsense" => allow(""),
            "deny" => Verdict::Deny("mischief says no".to_string()),
            other => allow(other),
        })
    }
}

guest_sdk::export_call_policy!(Mischief);

fn route(destination: Destination, caller_id_prefix: Option<String>) -> RouteDecision {
    RouteDecision { destination, announcement: None, caller_id_prefix, matched_rule: None }
}

/// Loops forever; `black_box` keeps the optimiser from proving the loop pointless.
fn spin() -> ! {
    let mut turns = 0u64;
    loop {
        turns = black_box(turns.wrapping_add(1));
    }
}

/// Allocates non-zero 1 MiB chunks and keeps them all until allocation traps.
fn hoard() -> ! {
    let mut hoard = Vec::new();
    loop {
        hoard.push(vec![0xA5u8; 1 << 20]);
        black_box(&hoard);
    }
}

/// Sleeps `ms` milliseconds (WASI `subscribe-duration` and `poll`).
fn sleep_for(ms: &str) -> Result<String, String> {
    let millis: u64 = ms.parse().map_err(|_| format!("mischief wants sleep:MILLISECONDS, got {ms:?}"))?;
    std::thread::sleep(std::time::Duration::from_millis(millis));
    Ok(format!("slept:{millis}"))
}

/// Marks itself in flight, then busy-waits `ms` milliseconds of real time (the WASI
/// monotonic clock).
fn spin_for(ms: &str) -> Result<String, String> {
    let millis: u64 = ms.parse().map_err(|_| format!("mischief wants spin:MILLISECONDS, got {ms:?}"))?;
    // Tells a test (through `kv-read:spinning`) that this decision is in flight.
    kv::set("spinning", b"yes").map_err(|e| kv_failure(&e))?;
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_millis(millis) {
        black_box(());
    }
    Ok(format!("spun:{millis}"))
}

fn wall_clock_ms() -> i128 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => since.as_millis() as i128,
        Err(before) => -(before.duration().as_millis() as i128),
    }
}

fn key_value(arg: &str) -> Result<(&str, &str), String> {
    arg.split_once('=').ok_or_else(|| format!("mischief wants KEY=VALUE, got {arg:?}"))
}

fn kv_write(arg: &str) -> Result<String, String> {
    let (key, value) = key_value(arg)?;
    Ok(match kv::set(key, value.as_bytes()) {
        Ok(version) => format!("kv-wrote:{version}"),
        Err(e) => kv_failure(&e),
    })
}

fn kv_read(key: &str) -> String {
    match kv::get(key) {
        Ok(Some(entry)) => format!("kv:{}", String::from_utf8_lossy(&entry.value)),
        Ok(None) => "kv:none".to_string(),
        Err(e) => kv_failure(&e),
    }
}

fn kv_cas(arg: &str) -> Result<String, String> {
    let (key, value) = key_value(arg)?;
    Ok(match kv::compare_and_swap(key, None, value.as_bytes()) {
        Ok(version) => format!("cas:ok:{version}"),
        Err(KvError::Conflict(Some(current))) => format!("cas:conflict:{current}"),
        Err(KvError::Conflict(None)) => "cas:conflict:none".to_string(),
        Err(e) => kv_failure(&e),
    })
}

fn kv_failure(error: &KvError) -> String {
    match error {
        KvError::Conflict(Some(current)) => format!("kv-err:conflict:{current}"),
        KvError::Conflict(None) => "kv-err:conflict:none".to_string(),
        KvError::TooLarge => "kv-err:too-large".to_string(),
        KvError::Unavailable(why) => format!("kv-err:unavailable:{why}"),
    }
}

fn http_get(url: &str) -> String {
    match http::get(url, 2000) {
        Ok(response) => format!("http:ok:{}", response.status),
        Err(HttpError::NotAllowed(host)) => format!("http:not-allowed:{host}"),
        Err(HttpError::Timeout) => "http:timeout".to_string(),
        Err(HttpError::InvalidUrl(why)) => format!("http:invalid-url:{why}"),
        Err(HttpError::Failed(why)) => format!("http:failed:{why}"),
    }
}

fn send_mail(address: &str) -> String {
    let message = Message {
        to: vec![address.to_string()],
        subject: "mischief".to_string(),
        body: "A test message from the mischief module.".to_string(),
        attachments: Vec::new(),
    };
    match mail::send(&message) {
        Ok(()) => "mail:ok".to_string(),
        Err(why) => format!("mail:err:{why}"),
    }
}

#[cfg(test)]
mod tests;
