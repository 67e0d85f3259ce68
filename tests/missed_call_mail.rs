//! Black-box tests of mail through a real SMTP server (aiosmtpd): a caller who hangs up
//! before anyone answers produces a missed-call mail with the caller's number (SPEC.md
//! §13, the standard call-events module), and a module granted mail sends one through the
//! `mail` import. The server is started with `--smtp-url` pointing at aiosmtpd; calls are
//! placed by sipp (`support::sipp`).

mod support;

use serde_json::json;
use support::sipp::{DOMAIN, Device, call};
use support::smtp::{MAIL_TIMEOUT, SmtpServer};
use support::{Server, guest_bytes};

const FROM: &str = "Centralita <pbx@centralita.test>";
/// Grants that let mischief (which imports `mail` and `http`) be uploaded; nobody listens
/// on the allowed address.
const MISCHIEF_GRANTS: &str = "grant_mail=true&http_allow=127.0.0.1:9";

/// The server, mailing through `smtp`.
fn server_mailing_to(smtp: &SmtpServer) -> Server {
    Server::start_with_args(&["--smtp-url", &smtp.url(), "--mail-from", FROM])
}

#[test]
fn a_caller_who_hangs_up_before_anyone_answers_produces_a_mail_with_the_callers_number() {
    let smtp = SmtpServer::start();
    let server = server_mailing_to(&smtp);
    server.create_company("acme", json!({"sip_domain": DOMAIN, "time_zone": "Europe/Madrid"}));
    let caller = server.create_user("acme", "100")["sip_password"].as_str().unwrap().to_string();
    let callee = server.create_user("acme", "101")["sip_password"].as_str().unwrap().to_string();
    let settings = json!({"config": {"missed_call_mail": {"101": "boss@acme.example"}}});
    let stored =
        server.operator().put("/api/v1/companies/acme/call-events", &settings).expect(200, "call-events");
    assert_eq!(stored["module"], "call-events", "the standard module by default: {stored}");

    let phone = Device::start(&server, "101", &callee, "ring", 1);
    let (ok, log) = call(&server, "100", &caller, "101", "cancel", &[], 1);
    assert!(ok, "the caller's CANCEL did not end the call with 487:\n{log}\n{}", server.log());
    let (ok, log) = phone.finish();
    assert!(ok, "101 rang and was cancelled:\n{log}");

    let mail = smtp.wait_for_match(MAIL_TIMEOUT, |m| m.subject().contains("Missed call"));
    assert_eq!(mail.envelope_to(), "boss@acme.example");
    assert_eq!(mail.subject(), "Missed call from User 100 (100) to 101", "the caller's name and number");
    assert!(mail.text.contains("From: User 100 (100)\n"), "{}", mail.text);
    assert!(mail.text.contains("Europe/Madrid"), "{}", mail.text);
    assert_eq!(mail.header("from"), Some(FROM));
}

#[test]
fn call_events_settings_name_a_module_that_hears_call_ends() {
    let smtp = SmtpServer::start();
    let server = server_mailing_to(&smtp);
    server.create_company("acme", json!({}));
    let path = "/api/v1/companies/acme/call-events";
    server.operator().get(path).expect(404, "no settings yet");
    let refused = server.operator().put(path, &json!({"module": "permissions"}));
    refused.expect_error_naming_field("module", "a module without call-events");
    let refused = server.operator().put(path, &json!({"config": ["office@acme.example"]}));
    refused.expect_error_naming_field("config", "a config that is no object");
    let body = json!({"config": {"missed_call_mail": "office@acme.example"}});
    server.operator().put(path, &body).expect(200, "the standard module");
    let stored = server.operator().get(path).expect(200, "read back");
    assert_eq!(stored["config"]["missed_call_mail"], "office@acme.example");
    server.operator().delete(path).expect(204, "stop");
    server.operator().get(path).expect(404, "gone");
}

#[test]
fn a_module_granted_mail_sends_through_the_smtp_server() {
    let smtp = SmtpServer::start();
    let server = server_mailing_to(&smtp);
    server.create_company("acme", json!({}));
    server.create_user("acme", "100");
    server.upload_module("acme", "mischief", guest_bytes("mischief"), MISCHIEF_GRANTS).expect(201, "upload");
    server.create_did(
        "acme",
        &json!({
            "number": "34910000000", "description": "mischief", "rules": [],
            "default_destination": {"extension": "100"}, "module": "mischief",
        }),
    );
    // mischief sends a mail to the address after "mail:" in the caller number and reports
    // the import's answer as the caller-id prefix.
    let outcome = server.route("acme", "34910000000", "mail:ops@acme.example", "2026-11-18T10:00:00Z");
    assert_eq!(outcome["caller_id_prefix"], "mail:ok", "{outcome}");
    let mail = smtp.wait_for(1, MAIL_TIMEOUT).remove(0);
    assert_eq!(mail.envelope_to(), "ops@acme.example");
    assert_eq!(mail.subject(), "mischief");
    assert!(mail.text.contains("A test message from the mischief module."), "{}", mail.text);
    assert_eq!(mail.header("from"), Some(FROM), "the host's From, whatever the module");
}

#[test]
fn without_smtp_a_modules_mail_is_refused_with_a_reason() {
    let server = Server::start();
    server.create_company("acme", json!({}));
    server.create_user("acme", "100");
    server.upload_module("acme", "mischief", guest_bytes("mischief"), MISCHIEF_GRANTS).expect(201, "upload");
    server.create_did(
        "acme",
        &json!({
            "number": "34910000000", "description": "mischief", "rules": [],
            "default_destination": {"extension": "100"}, "module": "mischief",
        }),
    );
    let outcome = server.route("acme", "34910000000", "mail:ops@acme.example", "2026-11-18T10:00:00Z");
    let prefix = outcome["caller_id_prefix"].as_str().unwrap_or_default();
    assert!(prefix.starts_with("mail:err:") && prefix.contains("not configured"), "{outcome}");
}
