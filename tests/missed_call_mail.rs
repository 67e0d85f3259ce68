//! Black-box tests of mail through a real SMTP server (aiosmtpd): a caller who hangs up
//! before anyone answers produces a missed-call mail with the caller's number (SPEC.md
//! §13, the standard call-events module), and a module granted mail sends one through the
//! `mail` import. The server is started with `--smtp-url` pointing at aiosmtpd; calls are
//! placed by sipp (tests/sipp templates, as tests/sip_calls.rs places them).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;
use support::smtp::{MAIL_TIMEOUT, SmtpServer};
use support::{Server, SippRegister, guest_bytes};

const DOMAIN: &str = "acme.centralita.test";
const FROM: &str = "Centralita <pbx@centralita.test>";
/// Grants that let mischief (which imports `mail` and `http`) be uploaded; nobody listens
/// on the allowed address.
const MISCHIEF_GRANTS: &str = "grant_mail=true&http_allow=127.0.0.1:9";

/// The server, mailing through `smtp`.
fn server_mailing_to(smtp: &SmtpServer) -> Server {
    Server::start_with_args(&["--smtp-url", &smtp.url(), "--mail-from", FROM])
}

fn sipp_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/sipp"))
}

/// `template` with `placeholder` replaced by the steps file `steps`, written into `dir`.
fn scenario(dir: &Path, template: &str, placeholder: &str, steps: &str) -> PathBuf {
    let read = |name: &str| std::fs::read_to_string(sipp_dir().join(name)).unwrap();
    let text = read(template).replace(placeholder, &read(&format!("{steps}.steps")));
    let path = dir.join(format!("{steps}.xml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Extension `extension` registered from a sipp that then lets one call ring (never
/// answering) until the caller cancels it.
struct RingingPhone {
    child: Child,
    _dir: tempfile::TempDir,
}

impl RingingPhone {
    fn start(server: &Server, extension: &str, password: &str) -> RingingPhone {
        let port = support::free_port_tcp_udp();
        let (ok, log) = SippRegister::new(&[[extension, password, DOMAIN]], 200)
            .source_port(port)
            .timeout_s(10)
            .run(server);
        assert!(ok, "registering {extension} failed:\n{log}");
        let dir = tempfile::tempdir().unwrap();
        let path = scenario(dir.path(), "callee.xml", "BEHAVIOUR_STEPS", "callee_ring");
        let child = Command::new("sipp")
            .arg("-sf")
            .arg(&path)
            .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-m", "1"])
            .args(["-mp", &support::free_port_tcp_udp().to_string()])
            .args(["-timeout", "60", "-timeout_error", "-nostdin"])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run sipp");
        // sipp needs a moment to bind its port (after the registering sipp released it).
        std::thread::sleep(Duration::from_millis(300));
        RingingPhone { child, _dir: dir }
    }
}

impl Drop for RingingPhone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `extension` calls `dialled` and cancels once it rings; sipp's success and log.
fn call_and_cancel(server: &Server, extension: &str, password: &str, dialled: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("fields.csv");
    std::fs::write(&csv, format!("SEQUENTIAL\n{extension};{password};{DOMAIN};{dialled}\n")).unwrap();
    let path = scenario(dir.path(), "caller.xml", "OUTCOME_STEPS", "caller_cancel");
    let output = Command::new("sipp")
        .arg(server.sip_addr.to_string())
        .arg("-sf")
        .arg(&path)
        .arg("-inf")
        .arg(&csv)
        .args(["-i", "127.0.0.1", "-p", &support::free_port_tcp_udp().to_string()])
        .args(["-mp", &support::free_port_tcp_udp().to_string()])
        .args(["-m", "1", "-timeout", "60", "-timeout_error", "-nostdin"])
        .current_dir(dir.path())
        .output()
        .expect("run sipp");
    let log =
        format!("{}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), log)
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

    let _phone = RingingPhone::start(&server, "101", &callee);
    let (ok, log) = call_and_cancel(&server, "100", &caller, "101");
    assert!(ok, "the caller's CANCEL did not end the call with 487:\n{log}\n{}", server.log());

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
