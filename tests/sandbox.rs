//! Black-box tests of the module sandbox through the HTTP API: upload validation, the
//! limits of a decision (deadline, memory, traps), fallback on failure, the isolation of
//! the kv store, the http allow-list, replayable time, and module versions.
//!
//! The `mischief` test module misbehaves according to the caller number of the call it
//! routes and reports what happened in the caller-id prefix (tests/modules/mischief).

mod support;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::{Server, TinyHttp, guest_bytes, with_action};

/// A weekday morning; any instant works for mischief.
const AT: &str = "2026-11-18T10:00:00Z";
/// `AT` in milliseconds since the Unix epoch.
const AT_MS: i64 = 1_794_996_000_000;
/// Grants that let mischief (which imports `mail` and `http`) be uploaded, with an
/// allow-list entry nobody listens on.
const MISCHIEF_GRANTS: &str = "grant_mail=true&http_allow=127.0.0.1:9";

/// A company with users 100 (the DID's default) and 101 (its fallback), `mischief`
/// uploaded with `grants`, and DID `did` routed by it.
fn mischief_company(server: &Server, company: &str, did: &str, company_extra: Value, grants: &str) {
    server.create_company(company, company_extra);
    server.create_user(company, "100");
    server.create_user(company, "101");
    server.upload_module(company, "mischief", guest_bytes("mischief"), grants).expect(201, "upload mischief");
    server.create_did(
        company,
        &json!({
            "number": did,
            "description": "mischief",
            "default_destination": {"extension": "100"},
            "fallback_destination": {"extension": "101"},
            "rules": [],
            "module": "mischief",
        }),
    );
}

/// Check the call went to the fallback with a failure mentioning one of `words`; returns
/// the failure text.
#[track_caller]
fn assert_fell_back(outcome: &Value, words: &[&str], why: &str) -> String {
    assert_eq!(outcome["decided_by"], "fallback", "{why}: {outcome}");
    assert_eq!(
        outcome["destination"],
        json!({"extension": "101"}),
        "{why}: the fallback destination: {outcome}"
    );
    let failure = outcome["failure"].as_str().unwrap_or_else(|| panic!("{why}: no failure text: {outcome}"));
    let lower = failure.to_lowercase();
    assert!(words.iter().any(|w| lower.contains(w)), "{why}: failure {failure:?} mentions none of {words:?}");
    failure.to_string()
}

/// Check the module decided normally: the default destination, no failure.
#[track_caller]
fn assert_decided(outcome: &Value, why: &str) {
    assert_eq!(outcome["decided_by"], "module", "{why}: {outcome}");
    assert_eq!(outcome["destination"], json!({"extension": "100"}), "{why}: {outcome}");
    assert!(outcome["failure"].is_null(), "{why}: {outcome}");
}

/// The caller-id prefix mischief reported.
#[track_caller]
fn prefix(outcome: &Value) -> String {
    assert_eq!(outcome["decided_by"], "module", "the module failed: {outcome}");
    outcome["caller_id_prefix"]
        .as_str()
        .unwrap_or_else(|| panic!("no caller_id_prefix: {outcome}"))
        .to_string()
}

#[test]
fn upload_refuses_garbage_strangers_snoops_and_ungranted_imports() {
    let server = Server::start();
    server.create_company("acme", json!({}));
    let upload = |name: &str, bytes: Vec<u8>, query: &str| server.upload_module("acme", name, bytes, query);

    upload("junk", b"this is not WebAssembly".to_vec(), "")
        .expect_error_mentioning("component", "garbage bytes");
    let core_module = b"\0asm\x01\0\0\0".to_vec();
    upload("core", core_module, "").expect_error_mentioning("component", "a core module, not a component");
    upload("empty", Vec::new(), "").expect_client_error("an empty upload");
    upload("stranger", guest_bytes("stranger"), "")
        .expect_error_mentioning("exports none", "a non-router component");
    upload("snoop", guest_bytes("snoop"), "grant_mail=true&http_allow=example.com")
        .expect_error_mentioning("wasi:filesystem", "a component importing the filesystem");
    upload("mischief", guest_bytes("mischief"), "grant_mail=true")
        .expect_error_mentioning("centralita:router/http", "http imported without an allow-list");
    upload("mischief", guest_bytes("mischief"), "http_allow=example.com")
        .expect_error_mentioning("centralita:router/mail", "mail imported without the grant");
    upload("Bad_Name", guest_bytes("vip_router"), "").expect_client_error("an invalid module name");

    let modules = server.operator().get("/api/v1/companies/acme/modules").expect(200, "list modules");
    let names: Vec<&str> =
        modules.as_array().expect("array").iter().filter_map(|m| m["name"].as_str()).collect();
    for refused in ["junk", "core", "empty", "stranger", "snoop", "mischief"] {
        assert!(!names.contains(&refused), "refused upload {refused} is listed: {modules}");
        server
            .operator()
            .get(&format!("/api/v1/companies/acme/modules/{refused}"))
            .expect(404, "a refused module");
    }
    assert!(with_action(&server.audit("acme"), "module.upload").is_empty(), "a refused upload was audited");

    let bytes = guest_bytes("mischief");
    let query = "grant_mail=true&http_allow=127.0.0.1:9,api.example.com";
    let version = upload("mischief", bytes.clone(), query).expect(201, "mischief with its grants");
    assert_eq!(version["company"], "acme");
    assert_eq!(version["name"], "mischief");
    assert_eq!(version["version"], 1);
    assert_eq!(version["size"], bytes.len() as u64);
    assert_eq!(version["sha256"], hex::encode(Sha256::digest(&bytes)).as_str());
    assert_eq!(version["uploaded_by"], "operator");
    assert!(version["uploaded_at"].is_string(), "{version}");
    assert_eq!(version["decisions"], json!(["did-routing", "permissions"]));
    let imports: Vec<&str> =
        version["imports"].as_array().expect("imports").iter().filter_map(Value::as_str).collect();
    assert!(imports.iter().any(|i| i.contains("centralita:router/http")), "imports: {imports:?}");
    assert!(imports.iter().any(|i| i.contains("centralita:router/kv")), "imports: {imports:?}");
    assert_eq!(version["grants"], json!({"mail": true, "http_allow": ["127.0.0.1:9", "api.example.com"]}));

    let module = server.operator().get("/api/v1/companies/acme/modules/mischief").expect(200, "get mischief");
    assert_eq!(module["name"], "mischief");
    assert_eq!(module["active"], 1);
    assert_eq!(module["versions"].as_array().map(Vec::len), Some(1), "{module}");
    assert_eq!(with_action(&server.audit("acme"), "module.upload").len(), 1);
}

#[test]
fn endless_loop_is_stopped_at_the_deadline_and_the_next_decision_works() {
    let server = Server::start();
    // A short deadline, yet long enough that the ordinary decisions in between never
    // reach it on a loaded machine (the default of 10 ms can be passed by a cold start).
    mischief_company(&server, "acme", "34910000000", json!({"decision_deadline_ms": 200}), MISCHIEF_GRANTS);

    let outcome = server.route("acme", "34910000000", "loop", AT);
    assert_fell_back(&outcome, &["deadline"], "an endless loop");
    assert_eq!(outcome["module"], "mischief");
    assert_eq!(outcome["module_version"], 1);
    assert_decided(&server.route("acme", "34910000000", "600123456", AT), "the decision after the loop");
    let outcome = server.route("acme", "34910000000", "loop", AT);
    assert_fell_back(&outcome, &["deadline"], "a second endless loop");
    assert_decided(
        &server.route("acme", "34910000000", "600123456", AT),
        "the decision after the second loop",
    );

    let module = server.operator().get("/api/v1/companies/acme/modules/mischief").expect(200, "get mischief");
    let counters = &module["counters"];
    assert_eq!(counters["failures"], 2, "counters: {module}");
    assert!(counters["decisions"].as_u64().is_some_and(|n| n >= 2), "counters: {module}");
    let last = counters["last_failure"].as_str().unwrap_or_else(|| panic!("no last_failure: {module}"));
    assert!(last.contains("deadline"), "last_failure: {last:?}");
    assert_eq!(with_action(&server.audit("acme"), "decision.failed").len(), 2);
}

#[test]
fn a_sleeping_module_is_stopped_at_the_deadline_not_when_it_wakes() {
    let server = Server::start();
    mischief_company(&server, "acme", "34910000000", json!({"decision_deadline_ms": 200}), MISCHIEF_GRANTS);
    // Ten minutes of sleep: an uncapped sleep would outlast the HTTP client's timeout.
    let outcome = server.route("acme", "34910000000", "sleep:600000", AT);
    assert_fell_back(&outcome, &["deadline"], "a ten-minute sleep");
    assert_decided(&server.route("acme", "34910000000", "600123456", AT), "the decision after the sleep");
    // A short sleep within the deadline still works.
    let outcome = server.route("acme", "34910000000", "sleep:1", AT);
    assert_decided(&outcome, "a 1 ms sleep");
    assert_eq!(prefix(&outcome), "slept:1");
}

#[test]
fn a_module_flooding_stderr_is_not_trapped() {
    let server = Server::start();
    mischief_company(&server, "acme", "34910000000", json!({"decision_deadline_ms": 2000}), MISCHIEF_GRANTS);
    assert_decided(&server.route("acme", "34910000000", "chatter", AT), "2,000 lines of stderr");
}

#[test]
fn memory_bomb_is_stopped_by_the_memory_cap() {
    let server = Server::start();
    mischief_company(&server, "acme", "34910000000", json!({"decision_deadline_ms": 2000}), MISCHIEF_GRANTS);
    let outcome = server.route("acme", "34910000000", "bomb", AT);
    assert_fell_back(&outcome, &["memory"], "a memory bomb");
    assert_decided(&server.route("acme", "34910000000", "600123456", AT), "the decision after the bomb");
    // A company with a larger cap still stops it.
    mischief_company(
        &server,
        "roomy",
        "34920000000",
        json!({"decision_deadline_ms": 2000, "decision_memory_mib": 64}),
        MISCHIEF_GRANTS,
    );
    assert_fell_back(&server.route("roomy", "34920000000", "bomb", AT), &["memory"], "a bomb under 64 MiB");
    assert_decided(&server.route("roomy", "34920000000", "600123456", AT), "after the 64 MiB bomb");
}

#[test]
fn panics_and_refusals_fall_back_and_are_audited() {
    let server = Server::start();
    mischief_company(&server, "acme", "34910000000", json!({"decision_deadline_ms": 2000}), MISCHIEF_GRANTS);
    let outcome = server.route("acme", "34910000000", "panic", AT);
    assert_fell_back(&outcome, &["panicked", "trap"], "a panic");
    assert_decided(&server.route("acme", "34910000000", "600123456", AT), "the decision after the panic");
    let outcome = server.route("acme", "34910000000", "error", AT);
    assert_fell_back(&outcome, &["mischief refuses"], "a refusal");
    assert_decided(&server.route("acme", "34910000000", "600123456", AT), "the decision after the refusal");

    let failed = server.audit("acme");
    let failed = with_action(&failed, "decision.failed");
    assert_eq!(failed.len(), 2, "decision.failed entries: {failed:?}");
    for entry in &failed {
        assert!(entry["entity"].as_str().unwrap_or("").contains("34910000000"), "entity: {entry}");
        assert!(entry["actor"].as_str().unwrap_or("").contains("mischief"), "actor: {entry}");
    }
}

#[test]
fn nonexistent_destination_falls_back_and_is_audited() {
    let server = Server::start();
    mischief_company(&server, "acme", "34910000000", json!({"decision_deadline_ms": 2000}), MISCHIEF_GRANTS);
    let outcome = server.route("acme", "34910000000", "ghost", AT);
    let failure = assert_fell_back(&outcome, &["999999"], "a route to a nonexistent extension");
    assert!(!failure.is_empty());
    assert_decided(&server.route("acme", "34910000000", "600123456", AT), "the decision after the ghost");

    let entries = server.audit("acme");
    let failed = with_action(&entries, "decision.failed");
    assert_eq!(failed.len(), 1, "decision.failed entries: {entries:#?}");
    let detail = failed[0]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("999999"), "the audit detail does not say why: {}", failed[0]);
    assert_eq!(failed[0]["company"], "acme");

    // Without a fallback destination the default destination takes the call.
    server.create_did(
        "acme",
        &json!({"number": "34910000001", "description": "", "default_destination": {"extension": "100"},
                "rules": [], "module": "mischief"}),
    );
    let outcome = server.route("acme", "34910000001", "ghost", AT);
    assert_eq!(outcome["decided_by"], "fallback", "{outcome}");
    assert_eq!(outcome["destination"], json!({"extension": "100"}), "{outcome}");
}

#[test]
fn kv_is_private_to_each_company_and_module() {
    let server = Server::start();
    let slow_ok = json!({"decision_deadline_ms": 2000});
    mischief_company(&server, "alpha", "34910000000", slow_ok.clone(), MISCHIEF_GRANTS);
    mischief_company(&server, "beta", "34920000000", slow_ok, MISCHIEF_GRANTS);

    let wrote = prefix(&server.route("alpha", "34910000000", "kv-write:secret=42", AT));
    assert!(wrote.starts_with("kv-wrote:"), "alpha's write: {wrote:?}");
    assert_eq!(prefix(&server.route("alpha", "34910000000", "kv-read:secret", AT)), "kv:42");
    assert_eq!(
        prefix(&server.route("beta", "34920000000", "kv-read:secret", AT)),
        "kv:none",
        "beta sees alpha's key"
    );

    // Beta's own value does not touch alpha's.
    let wrote = prefix(&server.route("beta", "34920000000", "kv-write:secret=7", AT));
    assert!(wrote.starts_with("kv-wrote:"), "beta's write: {wrote:?}");
    assert_eq!(prefix(&server.route("beta", "34920000000", "kv-read:secret", AT)), "kv:7");
    assert_eq!(prefix(&server.route("alpha", "34910000000", "kv-read:secret", AT)), "kv:42");

    // Another module of the same company has its own store too.
    server
        .upload_module("alpha", "mischief-two", guest_bytes("mischief"), MISCHIEF_GRANTS)
        .expect(201, "upload");
    server.create_did(
        "alpha",
        &json!({"number": "34910000002", "description": "", "default_destination": {"extension": "100"},
                "rules": [], "module": "mischief-two"}),
    );
    assert_eq!(prefix(&server.route("alpha", "34910000002", "kv-read:secret", AT)), "kv:none");

    // Create-only compare-and-swap sees the existing key.
    let cas = prefix(&server.route("alpha", "34910000000", "kv-cas:secret=99", AT));
    assert!(cas.starts_with("cas:conflict:"), "CAS on an existing key: {cas:?}");
    let cas = prefix(&server.route("alpha", "34910000000", "kv-cas:fresh=1", AT));
    assert!(cas.starts_with("cas:ok:"), "CAS on a new key: {cas:?}");
    assert_eq!(prefix(&server.route("alpha", "34910000000", "kv-read:secret", AT)), "kv:42");
}

#[test]
fn http_reaches_only_allow_listed_hosts() {
    let server = Server::start();
    let web = TinyHttp::start();
    let other = TinyHttp::start();
    let grants = format!("grant_mail=true&http_allow=127.0.0.1:{}", web.port);
    // A generous deadline: the host bounds the request by the time left.
    mischief_company(&server, "acme", "34910000000", json!({"decision_deadline_ms": 3000}), &grants);
    let call = |url: &str| prefix(&server.route("acme", "34910000000", &format!("http:{url}"), AT));

    assert_eq!(call(&format!("http://127.0.0.1:{}/lookup?n=600", web.port)), "http:ok:200");
    assert_eq!(web.hits(), 1);

    let refused = call("http://example.invalid/steal");
    assert!(refused.starts_with("http:not-allowed"), "a host off the list: {refused:?}");
    let refused = call(&format!("http://127.0.0.1:{}/", other.port));
    assert!(refused.starts_with("http:not-allowed"), "another port of an allowed host: {refused:?}");
    let refused = call(&format!("http://localhost:{}/", web.port));
    assert!(refused.starts_with("http:not-allowed"), "another name for an allowed host: {refused:?}");
    assert_eq!(web.hits(), 1, "a refused request reached the allowed server");
    assert_eq!(other.hits(), 0, "a refused request reached a server off the list");
}

#[test]
fn clock_and_environment_come_from_the_host() {
    let server = Server::start();
    mischief_company(&server, "acme", "34910000000", json!({"decision_deadline_ms": 2000}), MISCHIEF_GRANTS);
    // The WASI wall clock is the decision's instant, so a decision can be replayed.
    assert_eq!(prefix(&server.route("acme", "34910000000", "clock", AT)), format!("clock:{AT_MS}"));
    let later = "2026-11-18T10:00:01.250Z";
    assert_eq!(
        prefix(&server.route("acme", "34910000000", "clock", later)),
        format!("clock:{}", AT_MS + 1250)
    );
    assert_eq!(
        prefix(&server.route("acme", "34910000000", "env", AT)),
        "env:0",
        "the module sees an environment"
    );
    let outcome = server.route("acme", "34910000000", "log", AT);
    let logs = outcome["logs"].as_array().expect("logs");
    assert!(
        logs.iter().any(|l| l.as_str().unwrap_or("").contains("mischief says hello")),
        "the module's log line is missing: {outcome}"
    );
}

#[test]
fn module_versions_activate_and_roll_back() {
    let server = Server::start();
    let op = server.operator();
    server.create_company("acme", json!({"decision_deadline_ms": 2000}));
    for extension in ["100", "101", "102"] {
        server.create_user("acme", extension);
    }
    let path = "/api/v1/companies/acme/modules/vip";
    // v1: vip-router sends VIP 777 to 101; v2: the standard DID router's rules send 777 to 102.
    let vip = guest_bytes("vip_router");
    let v1 = server.upload_module("acme", "vip", vip.clone(), "").expect(201, "upload v1");
    assert_eq!(v1["version"], 1);
    server.create_did(
        "acme",
        &json!({
            "number": "34910000000", "description": "", "module": "vip",
            "default_destination": {"extension": "100"},
            "rules": [{"order": 1, "caller_id": "777", "destination": {"extension": "102"}}],
            "config": {"vip_callers": ["777"], "vip_destination": {"extension": "101"}},
        }),
    );
    let routed = |why: &str| {
        let outcome = server.route("acme", "34910000000", "777", AT);
        assert_eq!(outcome["decided_by"], "module", "{why}: {outcome}");
        (
            outcome["destination"]["extension"].as_str().unwrap_or("?").to_string(),
            outcome["module_version"].clone(),
        )
    };
    assert_eq!(routed("v1 active"), ("101".to_string(), json!(1)));

    let v2 = server.upload_module("acme", "vip", guest_bytes("did_router"), "").expect(201, "upload v2");
    assert_eq!(v2["version"], 2);
    assert_ne!(v1["sha256"], v2["sha256"]);
    assert_eq!(routed("v2 active after upload"), ("102".to_string(), json!(2)));

    op.post(&format!("{path}/activate"), &json!({"version": 1})).expect(200, "activate v1");
    assert_eq!(routed("v1 activated"), ("101".to_string(), json!(1)));
    assert_eq!(op.get(path).expect(200, "get vip")["active"], 1);

    op.post_empty(&format!("{path}/rollback")).expect(200, "roll back");
    assert_eq!(routed("rolled back to v2"), ("102".to_string(), json!(2)));

    // An upload that is not activated changes nothing.
    let v3 = server.upload_module("acme", "vip", vip, "activate=false").expect(201, "upload v3 inactive");
    assert_eq!(v3["version"], 3);
    assert_eq!(routed("v3 uploaded inactive"), ("102".to_string(), json!(2)));

    let module = op.get(path).expect(200, "get vip");
    assert_eq!(module["name"], "vip");
    assert_eq!(module["active"], 2, "{module}");
    assert!(module["history"].is_array(), "history: {module}");
    let versions: Vec<u64> = module["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .filter_map(|v| v["version"].as_u64())
        .collect();
    assert_eq!(versions.len(), 3, "versions: {module}");
    for v in [1, 2, 3] {
        assert!(versions.contains(&v), "version {v} missing: {module}");
    }
    let listed = op.get("/api/v1/companies/acme/modules").expect(200, "list modules");
    assert!(
        listed.as_array().expect("array").iter().any(|m| m["name"] == "vip"),
        "vip missing from the module list: {listed}"
    );

    op.post(&format!("{path}/activate"), &json!({"version": 9}))
        .expect_client_error("activating a missing version");
    op.post(&format!("{path}/activate"), &json!({"version": "one"}))
        .expect_error_naming_field("version", "a version that is not a number");
    op.post_empty(&format!("{path}/rollback")).expect(200, "roll back to v1");
    assert_eq!(routed("rolled back to v1"), ("101".to_string(), json!(1)));
    op.post_empty(&format!("{path}/rollback")).expect_client_error("rolling back past the first version");
    op.post_empty("/api/v1/companies/acme/modules/nothing/rollback")
        .expect(404, "rolling back an unknown module");

    let entries = server.audit("acme");
    assert_eq!(with_action(&entries, "module.upload").len(), 3);
    assert!(!with_action(&entries, "module.rollback").is_empty(), "no module.rollback entry");
}

#[test]
fn refused_uploads_leave_no_compiled_artifact() {
    let server = Server::start();
    server.create_company("acme", json!({}));
    let compiled = server.data_dir.join("compiled");
    let artifacts = || -> Vec<_> {
        let mut files: Vec<_> =
            std::fs::read_dir(&compiled).map(|d| d.map(|e| e.unwrap().path()).collect()).unwrap_or_default();
        files.sort();
        files
    };
    // The standard modules' artifacts are written at start.
    let before = artifacts();
    server.upload_module("acme", "stranger", guest_bytes("stranger"), "").expect_client_error("stranger");
    server.upload_module("acme", "snoop", guest_bytes("snoop"), "").expect_client_error("snoop");
    assert_eq!(artifacts(), before, "refused uploads were cached");
}

#[test]
fn a_deleted_company_takes_its_kv_with_it_and_its_id_is_not_reused() {
    let server = Server::start();
    mischief_company(&server, "acme", "34910000000", json!({"decision_deadline_ms": 2000}), MISCHIEF_GRANTS);
    assert_eq!(prefix(&server.route("acme", "34910000000", "kv-write:secret=42", AT)), "kv-wrote:1");
    server.operator().delete("/api/v1/companies/acme").expect(204, "delete acme");

    let reply = server.operator().post("/api/v1/companies", &support::company_body("acme"));
    assert_eq!(reply.status, 409, "a deleted company's id is not given out again: {}", reply.text);

    // A new company running the same module starts with an empty kv.
    mischief_company(
        &server,
        "acme-2",
        "34910000001",
        json!({"decision_deadline_ms": 2000}),
        MISCHIEF_GRANTS,
    );
    assert_eq!(prefix(&server.route("acme-2", "34910000001", "kv-read:secret", AT)), "kv:none");
}

#[test]
fn only_the_operator_may_allow_http_to_internal_addresses() {
    let server = Server::start();
    server.create_company("acme", json!({}));
    let key =
        server.operator().post("/api/v1/companies/acme/api-keys", &json!({"name": "ci"})).expect(201, "key");
    let company = server.with_token(key["key"].as_str().unwrap());
    for internal in ["127.0.0.1:9000", "localhost", "169.254.169.254", "10.0.0.7"] {
        let reply = company.put_bytes(
            &format!("/api/v1/companies/acme/modules/mischief?grant_mail=true&http_allow={internal}"),
            "application/wasm",
            guest_bytes("mischief"),
        );
        assert_eq!(reply.status, 403, "{internal}: {}", reply.text);
        assert!(reply.text.contains("http_allow"), "{}", reply.text);
    }
    let reply = company.put_bytes(
        "/api/v1/companies/acme/modules/mischief?grant_mail=true&http_allow=https://crm.example.com",
        "application/wasm",
        guest_bytes("mischief"),
    );
    reply.expect_error_naming_field("http_allow", "a URL instead of a host");
    company
        .put_bytes(
            "/api/v1/companies/acme/modules/mischief?grant_mail=true&http_allow=crm.example.com",
            "application/wasm",
            guest_bytes("mischief"),
        )
        .expect(201, "a public host name is the company's to allow");
}
