//! The tricks that terminate, run natively against the SDK's fake host.

use super::*;
use guest_sdk::http::Response;
use guest_sdk::log::Level;
use guest_sdk::testing;

fn call(caller: &str) -> CallContext {
    testing::inbound_call(caller)
}

fn did() -> Did {
    Did {
        number: "34910000000".into(),
        description: "main line".into(),
        rules: Vec::new(),
        default_destination: Destination::Queue("sales".into()),
        config: "{}".into(),
    }
}

/// Routes a call from `caller` and returns the caller-id prefix, checking that the call
/// went to the default destination.
fn prefix(caller: &str) -> Option<String> {
    let route = Mischief::route(call(caller), did()).expect("route");
    assert_eq!(route.destination, Destination::Queue("sales".into()), "caller {caller}");
    assert_eq!(route.matched_rule, None);
    route.caller_id_prefix
}

#[test]
fn unknown_callers_get_the_default_destination() {
    testing::reset();
    assert_eq!(prefix("34600111222"), None);
    assert!(testing::logs().is_empty());
}

#[test]
fn kv_write_then_read() {
    testing::reset();
    assert_eq!(prefix("kv-read:colour").as_deref(), Some("kv:none"));
    assert_eq!(prefix("kv-write:colour=blue").as_deref(), Some("kv-wrote:1"));
    assert_eq!(prefix("kv-read:colour").as_deref(), Some("kv:blue"));
    assert_eq!(prefix("kv-write:colour=a=b").as_deref(), Some("kv-wrote:2"));
    assert_eq!(prefix("kv-read:colour").as_deref(), Some("kv:a=b"));
}

#[test]
fn kv_cas_creates_once() {
    testing::reset();
    assert_eq!(prefix("kv-cas:lock=me").as_deref(), Some("cas:ok:1"));
    assert_eq!(prefix("kv-cas:lock=you").as_deref(), Some("cas:conflict:1"));
    assert_eq!(prefix("kv-read:lock").as_deref(), Some("kv:me"));
}

#[test]
fn kv_write_without_a_value_is_an_error() {
    testing::reset();
    assert!(Mischief::route(call("kv-write:colour"), did()).is_err());
    assert_eq!(prefix("kv-read:colour").as_deref(), Some("kv:none"));
}

#[test]
fn log_writes_one_info_line() {
    testing::reset();
    assert_eq!(prefix("log"), None);
    assert_eq!(testing::logs(), vec![(Level::Info, "mischief says hello".to_string())]);
}

#[test]
fn error_refuses() {
    testing::reset();
    assert_eq!(Mischief::route(call("error"), did()).err().as_deref(), Some("mischief refuses"));
}

#[test]
fn ghost_routes_to_a_missing_extension() {
    testing::reset();
    let route = Mischief::route(call("ghost"), did()).expect("route");
    assert_eq!(route.destination, Destination::Extension("999999".into()));
    assert_eq!(route.caller_id_prefix, None);
}

#[test]
fn random_reports_the_seed() {
    testing::reset();
    assert_eq!(prefix("random").as_deref(), Some("seed:42"));
}

#[test]
fn http_reports_status_and_errors() {
    testing::reset();
    assert_eq!(
        prefix("http:https://crm.example/x").as_deref(),
        Some("http:not-allowed:https://crm.example/x")
    );
    testing::set_http(|request| match request.url.as_str() {
        "https://crm.example/ok" => Ok(Response { status: 204, headers: Vec::new(), body: Vec::new() }),
        "https://crm.example/slow" => Err(HttpError::Timeout),
        other => Err(HttpError::InvalidUrl(other.to_string())),
    });
    assert_eq!(prefix("http:https://crm.example/ok").as_deref(), Some("http:ok:204"));
    assert_eq!(prefix("http:https://crm.example/slow").as_deref(), Some("http:timeout"));
    assert_eq!(prefix("http:nonsense").as_deref(), Some("http:invalid-url:nonsense"));
}

#[test]
fn mail_sends_one_message() {
    testing::reset();
    assert_eq!(prefix("mail:ops@example.com").as_deref(), Some("mail:ok"));
    let mails = testing::mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, vec!["ops@example.com".to_string()]);
}

/// Asks the policy about `dialled` and renders the verdict as (allowed, dial or reason).
fn authorize(dialled: &str) -> Result<(bool, String), String> {
    let caller = CallerProfile {
        extension: "101".into(),
        role: "user".into(),
        internal_only: false,
        outgoing_caller_id: None,
    };
    let call = testing::outbound_call("101", dialled);
    Mischief::authorize(call, caller, dialled.into(), DialledKind::External, "{}".into()).map(|verdict| {
        match verdict {
            Verdict::Allow(allowance) => (true, allowance.dial),
            Verdict::Deny(reason) => (false, reason),
        }
    })
}

#[test]
fn the_policy_allows_ordinary_numbers_and_misbehaves_on_request() {
    testing::reset();
    assert_eq!(authorize("34911234567"), Ok((true, "34911234567".to_string())));
    assert_eq!(authorize("nonsense"), Ok((true, String::new())));
    assert_eq!(authorize("deny"), Ok((false, "mischief says no".to_string())));
    assert_eq!(authorize("error"), Err("mischief refuses".to_string()));
}
