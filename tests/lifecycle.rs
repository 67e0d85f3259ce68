//! Black-box tests of the host's life cycle: module versions switching under a decision in
//! flight, the operator's versions of the standard modules, compiled artifacts surviving a restart, the generated operator token, the
//! sandbox's fall-back when the pooling allocator cannot reserve its address space, and a
//! second signal cutting a drain short.

mod support;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::*;

const AT: &str = "2026-11-18T10:00:00Z";

#[test]
fn a_decision_in_flight_finishes_on_the_version_it_started_with() {
    let server = Server::start();
    server.create_company("acme", json!({"decision_deadline_ms": 4000}));
    server.create_user("acme", "100");
    server
        .upload_module("acme", "router", guest_bytes("mischief"), "grant_mail=true&http_allow=127.0.0.1")
        .expect(201, "upload v1");
    server
        .upload_module("acme", "router", guest_bytes("vip_router"), "activate=false")
        .expect(201, "upload v2 inactive");
    server.create_did("acme", &vip_did_body("router"));

    thread::scope(|scope| {
        let in_flight = scope.spawn(|| server.route("acme", "34910000000", "spin:1500", AT));
        // Wait until version 1 has started the slow decision (it marks itself in kv).
        let waited = Instant::now();
        while server.route("acme", "34910000000", "kv-read:spinning", AT)["caller_id_prefix"] != "kv:yes" {
            assert!(waited.elapsed() < Duration::from_secs(60), "the slow decision never started");
            thread::sleep(Duration::from_millis(20));
        }
        server
            .operator()
            .post("/api/v1/companies/acme/modules/router/activate", &json!({"version": 2}))
            .expect(200, "activate v2");

        let slow = in_flight.join().expect("the in-flight route");
        assert_eq!(slow["decided_by"], "module", "{slow}");
        assert_eq!(slow["module_version"], 1, "{slow}");
        assert_eq!(slow["caller_id_prefix"], "spun:1500", "{slow}");
    });

    let after = server.route("acme", "34910000000", "spin:1500", AT);
    assert_eq!(after["module_version"], 2, "new calls use the activated version: {after}");
    assert_eq!(after["caller_id_prefix"], Value::Null, "vip-router sets no prefix: {after}");
}

fn artifacts(data_dir: &std::path::Path) -> Vec<(std::path::PathBuf, std::time::SystemTime)> {
    let Ok(entries) = std::fs::read_dir(data_dir.join("compiled")) else { return Vec::new() };
    let mut files: Vec<_> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
        .map(|p| {
            let modified = std::fs::metadata(&p).unwrap().modified().unwrap();
            (p, modified)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn compiled_artifacts_are_reused_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let sha;
    {
        let server = Server::start_in(&data);
        // What is measured is the artifact on disk, not speed: a generous deadline keeps a
        // loaded CI machine (which once made the first decision miss 10 ms) out of it.
        server.create_company("acme", json!({"decision_deadline_ms": 2000}));
        server.create_user("acme", "100");
        let version =
            server.upload_module("acme", "vip-router", guest_bytes("vip_router"), "").expect(201, "upload");
        sha = version["sha256"].as_str().unwrap().to_string();
        server.create_did("acme", &vip_did_body("vip-router"));
        assert_eq!(server.route("acme", "34910000000", "34600111222", AT)["decided_by"], "module");
    }
    let before = artifacts(&data);
    assert!(
        before.iter().any(|(path, _)| path.file_name().unwrap().to_str().unwrap().starts_with(&sha)),
        "the upload's compiled artifact is cached under its sha256: {before:?}"
    );

    let server = Server::start_in(&data);
    let route = server.route("acme", "34910000000", "34600111222", AT);
    assert_eq!(route["decided_by"], "module", "{route}");
    assert_eq!(route["module_version"], 1, "{route}");
    assert_eq!(artifacts(&data), before, "the artifact was loaded, not compiled and written again");
}

#[test]
fn the_operator_token_is_generated_once_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let start = || {
        let port = free_port();
        let child = Command::new(binary())
            .args(["serve", "--data-dir"])
            .arg(dir.path())
            .args(["--http-listen", &format!("127.0.0.1:{port}"), "--sip-listen", "127.0.0.1:0"])
            .env_remove("CENTRALITA_ADMIN_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        (child, port)
    };
    let token_path = dir.path().join("admin-token");
    let (mut child, port) = start();
    let waited = Instant::now();
    while client().get(format!("http://127.0.0.1:{port}/api/v1/health")).send().is_err() {
        assert!(waited.elapsed() < Duration::from_secs(60), "server never answered");
        thread::sleep(Duration::from_millis(25));
    }
    let token = std::fs::read_to_string(&token_path).expect("the token file exists");
    let mode = std::fs::metadata(&token_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "token file mode");
    let companies = client()
        .get(format!("http://127.0.0.1:{port}/api/v1/companies"))
        .bearer_auth(token.trim())
        .send()
        .unwrap();
    assert_eq!(companies.status().as_u16(), 200, "the generated token is the operator's");
    child.kill().unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    child.wait().unwrap();
    assert!(stderr.contains(&token_path.display().to_string()), "the token's path is printed: {stderr}");

    let (mut again, _) = start();
    thread::sleep(Duration::from_millis(300));
    again.kill().unwrap();
    again.wait().unwrap();
    assert_eq!(std::fs::read_to_string(&token_path).unwrap(), token, "a restart keeps the token");
}

#[test]
fn the_sandbox_falls_back_to_on_demand_memory_when_the_pool_cannot_be_reserved() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("case.json");
    std::fs::write(
        &case,
        json!({
            "call": {"caller": "600", "at": "2026-11-18T08:30:00Z", "time_zone": "Europe/Madrid"},
            "did": {"number": "34910000000", "default_destination": "hang_up",
                    "rules": [{"order": 1, "weekday": "[1-5]", "start_time": "09:00", "end_time": "14:00",
                               "destination": {"extension": "100"}}]}
        })
        .to_string(),
    )
    .unwrap();
    // 4 GiB of address space: far less than the pool's slots, enough for one decision.
    let script = format!(
        "ulimit -v 4194304 && exec '{}' module run '{}' --decision did-routing --input '{}'",
        binary().display(),
        guest_wasm("did_router").display(),
        case.display()
    );
    let output = Command::new("sh").args(["-c", &script]).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "module run failed under a small address space:\n{stderr}");
    assert!(stderr.contains("falling back to on-demand"), "the fall-back is logged: {stderr}");
    let decision: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(decision["destination"], json!({"extension": "100"}));
}

#[test]
fn the_operators_version_of_a_standard_module_decides_for_every_company_without_its_own() {
    let server = Server::start();
    let op = server.operator();
    // A time rule that always matches sends calls to 101; the built-in did-router follows
    // it, vip-router ignores the rules and gives the default, 100.
    let numbers = [("acme", "34910000000"), ("globex", "34910000001")];
    for (company, number) in numbers {
        server.create_company(company, json!({}));
        server.create_user(company, "100");
        server.create_user(company, "101");
        let did = json!({"number": number, "default_destination": {"extension": "100"},
                         "rules": [{"order": 1, "destination": {"extension": "101"}}]});
        server.create_did(company, &did);
    }
    let decided = |company: &str| {
        let number = numbers.iter().find(|(c, _)| *c == company).map(|(_, n)| *n).expect("a DID");
        server.route(company, number, "600000000", AT)["destination"].clone()
    };
    let (built_in, vip) = (json!({"extension": "101"}), json!({"extension": "100"}));
    assert_eq!((decided("acme"), decided("globex")), (built_in.clone(), built_in.clone()));

    let acme_key = op.post("/api/v1/companies/acme/api-keys", &json!({"name": "admin"})).expect(201, "a key");
    let acme = server.with_token(acme_key["key"].as_str().expect("the key"));
    let standard = "/api/v1/standard-modules/did-router";
    acme.put_bytes(standard, "application/wasm", guest_bytes("vip-router")).expect(403, "a company's key");
    op.put_bytes("/api/v1/standard-modules/vip", "application/wasm", guest_bytes("vip-router"))
        .expect(404, "no standard module of that name");
    op.put_bytes(standard, "application/wasm", guest_bytes("vip-router")).expect(201, "the operator's v1");
    assert_eq!((decided("acme"), decided("globex")), (vip.clone(), vip.clone()), "every company");

    // acme's own version beats the operator's; the operator going back to the built-in
    // module reaches only the companies without one.
    server.upload_module("acme", "did-router", guest_bytes("vip-router"), "").expect(201, "acme's own");
    op.post_empty(&format!("{standard}/deactivate")).expect(200, "back to the built-in");
    assert_eq!((decided("acme"), decided("globex")), (vip.clone(), built_in.clone()));
    let listed = op.get("/api/v1/standard-modules").expect(200, "the standard modules");
    let router = listed.as_array().into_iter().flatten().find(|m| m["name"] == "did-router").expect("listed");
    assert_eq!(
        (router["active"].clone(), router["replaced_in"].clone()),
        (Value::Null, json!(["acme"])),
        "{router}"
    );
    op.post_empty(&format!("{standard}/rollback")).expect(200, "the operator's v1 again");
    assert_eq!(decided("globex"), vip, "rolled back");
    // acme gives up its own version: the operator's decides there too, then neither.
    acme.post_empty("/api/v1/companies/acme/modules/did-router/deactivate").expect(200, "acme's own off");
    acme.post_empty("/api/v1/companies/acme/modules/vip/deactivate").expect(409, "only a standard module");
    op.post_empty(&format!("{standard}/deactivate")).expect(200, "the built-in again");
    assert_eq!((decided("acme"), decided("globex")), (built_in.clone(), built_in));

    let audit = op.get("/api/v1/audit?limit=1000").expect(200, "the audit log");
    let actions: Vec<(String, String)> = audit
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (e["action"].as_str().unwrap_or("").to_string(), e["entity"].as_str().unwrap_or("").to_string())
        })
        .collect();
    assert!(actions.contains(&("module.upload".into(), "standard-modules/did-router".into())), "{actions:?}");
    assert!(actions.contains(&("module.deactivate".into(), "acme/modules/did-router".into())), "{actions:?}");
}

/// Whether process `pid` has exited (gone, or a zombie waiting to be reaped).
fn exited(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_or(true, |stat| stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')))
}

/// Poll `done` until it holds; fail with `what` and the server's log after `patience`.
fn wait_until(server: &Server, what: &str, patience: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < patience, "never: {what}:\n{}", server.log());
        thread::sleep(Duration::from_millis(50));
    }
}

/// How long the call that a second signal cuts would talk (the test lasts about as long:
/// the caller, sipp, sees the host gone only at the end of its pause, then retransmits its
/// BYE for 32 s).
const CUT_CALL_TALK: Duration = Duration::from_secs(12);

#[test]
fn a_second_signal_stops_a_draining_host_without_waiting_for_its_call() {
    use support::sipp::{DOMAIN, Device, call};
    let mut server = Server::start_with_args(&["--drain-timeout-s", "600"]);
    server.create_company("acme", json!({"sip_domain": DOMAIN}));
    let [caller, callee] = ["100", "101"]
        .map(|ext| server.create_user("acme", ext)["sip_password"].as_str().unwrap().to_string());
    let device = Device::start(&server, "101", &callee, "answer", 1);
    let pid = server.pid();
    let signal = |name: &str| {
        let sent = Command::new("kill").args([name, &pid.to_string()]).status().expect("run kill(1)");
        assert!(sent.success(), "kill {name}");
    };
    let talk_ms = CUT_CALL_TALK.as_millis().to_string();
    thread::scope(|scope| {
        // Longer than the test waits for the host to exit after the second signal.
        let in_progress =
            scope.spawn(|| call(&server, "100", &caller, "101", "answered", &[("TALK_MS", &talk_ms)], 1));
        wait_until(&server, "the call connects", Duration::from_secs(20), || {
            server.operator().get("/api/v1/companies/acme/calls").expect(200, "calls")[0]["state"]
                == "connected"
        });
        signal("-TERM");
        wait_until(&server, "the host drains", Duration::from_secs(20), || {
            server.log().contains("draining: waiting for the calls in progress")
        });
        signal("-INT");
        wait_until(&server, "a second signal stops it", CUT_CALL_TALK / 2, || exited(pid));
        let (ok, _) = in_progress.join().expect("the call");
        assert!(!ok, "the call was cut with the host");
    });
    let log = server.log();
    assert!(log.contains("stopping with calls in progress: they are cut"), "{log}");
    let _ = server.terminate();
    drop(device);
}
