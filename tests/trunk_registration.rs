//! Black-box tests of Centralita registering a company's trunk to its provider (SPEC.md
//! §1): a `sipp` in server mode plays the provider's registrar (tests/sipp/
//! provider_registrar.xml), challenges the REGISTER and checks the digest answer with
//! `verifyauth`; the trunk's status is read through the API.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::Server;
use support::sipp::Device;

const USERNAME: &str = "acme-trunk";
const PASSWORD: &str = "pr0vider-s3cret";

/// How long the registration may take to show in the API. A bound so a broken one fails
/// instead of hanging, not an assertion on speed (the supervisor polls every 2 s).
const SETTLE: Duration = Duration::from_secs(30);

/// The provider's registrar: sipp serving the scenario once on 127.0.0.1:`port`, expecting
/// `USERNAME` / `PASSWORD`.
struct Provider {
    sipp: Device,
    port: u16,
}

impl Provider {
    fn start() -> Provider {
        let dir = tempfile::tempdir().unwrap();
        let template =
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/sipp/provider_registrar.xml"));
        let text = std::fs::read_to_string(template)
            .unwrap()
            .replace("USERNAME", USERNAME)
            .replace("PASSWORD", PASSWORD);
        let scenario = dir.path().join("provider_registrar.xml");
        std::fs::write(&scenario, text).unwrap();
        let port = support::free_port_tcp_udp();
        let sipp = Device::serve(dir, &scenario, port, &["-m", "1", "-timeout", "90", "-timeout_error"]);
        Provider { sipp, port }
    }

    /// The trunk account pointing at this provider, with `password`.
    fn account(&self, password: &str) -> Value {
        json!({"username": USERNAME, "password": password, "domain": format!("127.0.0.1:{}", self.port)})
    }

    /// Wait for sipp's one call to end; its success and log.
    fn finish(self) -> (bool, String) {
        self.sipp.finish()
    }
}

/// The company's trunk statuses.
fn trunk_status(server: &Server, company: &str) -> Vec<Value> {
    let body = server
        .operator()
        .get(&format!("/api/v1/companies/{company}/trunk-status"))
        .expect(200, "read the trunk status");
    body.as_array().unwrap_or_else(|| panic!("the trunk status is not an array: {body}")).clone()
}

/// Poll the primary trunk's status until `done` holds; returns it.
fn wait_for_primary(server: &Server, company: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + SETTLE;
    loop {
        let statuses = trunk_status(server, company);
        if let Some(primary) = statuses.iter().find(|s| s["trunk"] == "primary")
            && done(primary)
        {
            return primary.clone();
        }
        assert!(
            Instant::now() < deadline,
            "the trunk never reached the expected state; last status: {statuses:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_trunk_registers_with_digest_auth_and_its_removal_unregisters_it() {
    let provider = Provider::start();
    let server = Server::start();
    server.create_company("acme", json!({"trunk": provider.account(PASSWORD)}));

    let primary = wait_for_primary(&server, "acme", |s| s["state"] != "registering");
    assert_eq!(primary["state"], "registered", "{primary}");
    assert_eq!(primary["last_status"], 200);
    assert_eq!(primary["last_error"], Value::Null);
    assert_eq!(primary["username"], USERNAME);
    // The provider granted 120 s on our Contact (its Expires header says 3600): the
    // binding lapses about two minutes after now, and is refreshed before that.
    let until = chrono::DateTime::parse_from_rfc3339(primary["registered_until"].as_str().unwrap()).unwrap();
    let next = chrono::DateTime::parse_from_rfc3339(primary["next_attempt"].as_str().unwrap()).unwrap();
    let left = until.signed_duration_since(chrono::Utc::now()).num_seconds();
    assert!((1..=120).contains(&left), "registered for {left} s more, expected at most the 120 s granted");
    assert!(next < until, "the refresh ({next}) comes before the binding lapses ({until})");
    let statuses = trunk_status(&server, "acme");
    assert_eq!(statuses.len(), 1, "only the primary trunk is configured: {statuses:?}");

    // Removing the trunk removes the binding at the provider (Expires: 0, authenticated).
    let mut body = support::company_body("acme");
    body["name"] = json!("Company acme");
    server.operator().put("/api/v1/companies/acme", &body).expect(200, "remove the trunk");
    let (ok, log) = provider.finish();
    assert!(ok, "the provider did not see the trunk's un-REGISTER:\n{log}");
    assert_eq!(trunk_status(&server, "acme"), Vec::<Value>::new());
}

#[test]
fn a_host_stopping_on_sigterm_unregisters_its_trunk_first() {
    let registrar = support::sipp::OpenRegistrar::start();
    let mut server = Server::start();
    let account = json!({"username": USERNAME, "password": PASSWORD, "domain": format!("127.0.0.1:{}", registrar.port)});
    server.create_company("acme", json!({"trunk": account}));
    wait_for_primary(&server, "acme", |s| s["state"] == "registered");
    let contact = format!("127.0.0.1:{}", server.sip_addr.port());
    assert_eq!(registrar.registered(), [contact], "the host's Contact is bound at the provider");

    // Left bound, the provider would ring a stopped host until the binding lapsed.
    let status = server.terminate();
    assert!(status.success(), "the host did not stop cleanly ({status}):\n{}", server.log());
    assert_eq!(
        registrar.registered(),
        Vec::<String>::new(),
        "still bound after the host stopped:\n{}",
        server.log()
    );
}

#[test]
fn an_ip_authenticated_trunk_is_never_registered_and_says_so() {
    let registrar = support::sipp::OpenRegistrar::start();
    let server = Server::start();
    let account = json!({"username": USERNAME, "password": PASSWORD, "register": false,
                         "domain": format!("127.0.0.1:{}", registrar.port)});
    server.create_company("acme", json!({"trunk": account}));
    let status = trunk_status(&server, "acme");
    assert_eq!(status.len(), 1, "{status:?}");
    assert_eq!(status[0]["state"], "not_registered", "{status:?}");
    // Longer than the supervisor takes to follow a company's change (it is woken at once).
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(registrar.registered(), Vec::<String>::new(), "nothing registered at the provider");
    assert_eq!(trunk_status(&server, "acme")[0]["state"], "not_registered");
}

#[test]
fn a_wrong_password_shows_the_trunk_failed_with_the_providers_refusal_and_stops_trying() {
    let provider = Provider::start();
    let server = Server::start();
    server.create_company("acme", json!({"trunk": provider.account("not-the-password")}));

    let primary = wait_for_primary(&server, "acme", |s| s["state"] == "failed");
    assert_eq!(primary["last_status"], 403, "{primary}");
    let error = primary["last_error"].as_str().unwrap();
    assert!(error.contains("rejected") && error.contains("403"), "{error}");
    assert_eq!(primary["next_attempt"], Value::Null, "refused credentials are not retried: {primary}");
    assert_eq!(primary["registered_until"], Value::Null);
    let (ok, log) = provider.finish();
    assert!(ok, "the provider's scenario failed:\n{log}");
}

#[test]
fn the_trunk_status_is_for_the_company_and_the_operator_only() {
    let server = Server::start();
    server.create_company("acme", json!({}));
    server.create_company("other", json!({}));
    assert_eq!(trunk_status(&server, "acme"), Vec::<Value>::new(), "no trunk configured: no status");
    let key = server
        .operator()
        .post("/api/v1/companies/other/api-keys", &json!({"name": "admin"}))
        .expect(201, "create a key of another company");
    let token = key["key"].as_str().unwrap_or_else(|| panic!("no key in {key}"));
    let reply = server.with_token(token).get("/api/v1/companies/acme/trunk-status");
    assert_eq!(reply.status, 403, "{}", reply.text);
    let own = server.with_token(token).get("/api/v1/companies/other/trunk-status");
    assert_eq!(own.status, 200, "{}", own.text);
    assert_eq!(server.operator().get("/api/v1/companies/nobody/trunk-status").status, 404);
}
