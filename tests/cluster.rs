//! Black-box tests of Centralita on a shared PostgreSQL store (`--store postgres://…`):
//! a single host's redb data moved there with `centralita store copy`; hosts on one
//! database seeing each other's writes, registrations, module versions, call events and
//! queue state; three hosts behind the Kamailio front, one killed under load; a phone slow
//! to answer through the front; trunks registered with the front as Contact, the
//! provider's calls reaching any live host through it; a host that stops (SIGTERM)
//! letting its call end while new ones go to another, and the front giving what a
//! stopping host refuses to the next. The test command starts the
//! PostgreSQL server (`scripts/postgres.sh`, URL in `CENTRALITA_TEST_POSTGRES`).

mod support;

use std::process::Command;

use centralita::store::testing::fresh_database_url;
use serde_json::json;
use support::events::{EventClient, Token};
use support::sipp::{DOMAIN, Device, OpenRegistrar, call};
use support::*;

const AT: &str = "2026-11-18T10:00:00Z";
/// Long enough that a change still unheard after it will never be heard.
const NEVER: std::time::Duration = std::time::Duration::from_secs(15);

/// Poll `check` until it passes, and how long that took; fails the test with `what` and
/// the last observation after [`NEVER`].
fn eventually(what: &str, mut check: impl FnMut() -> Result<(), String>) -> std::time::Duration {
    let started = std::time::Instant::now();
    loop {
        match check() {
            Ok(()) => return started.elapsed(),
            Err(seen) => assert!(started.elapsed() < NEVER, "never: {what}: {seen}"),
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A host on the shared store at `url`, with a data directory of its own.
fn on_store(url: &str) -> Server {
    Server::start_with_args(&["--store", url])
}

/// acme's extensions 100 and 101 (made through `host`); their SIP passwords.
fn phones(host: &Server) -> [String; 2] {
    ["100", "101"]
        .map(|extension| host.create_user("acme", extension)["sip_password"].as_str().unwrap().to_string())
}

fn store_copy(data_dir: &std::path::Path, to: &str) -> (bool, String) {
    let output = Command::new(binary())
        .args(["store", "copy", "--data-dir"])
        .arg(data_dir)
        .args(["--to", to])
        .output()
        .expect("run centralita store copy");
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

#[test]
fn a_single_hosts_store_copied_into_postgres_serves_the_same_data() {
    let single = tempfile::tempdir().unwrap();
    let mut server = Server::start_with(single.path(), &[]);
    server.create_company("acme", json!({}));
    server.create_user("acme", "100");
    server.upload_module("acme", "router", guest_bytes("vip_router"), "").expect(201, "upload the router");
    server.create_did("acme", &vip_did_body("router"));
    let audit_before = server.audit("acme").len();
    assert!(server.terminate().success());

    let url = fresh_database_url();
    let (ok, text) = store_copy(single.path(), &url);
    assert!(ok, "the copy failed:\n{text}");
    assert!(text.contains("companies: 1 rows"), "{text}");

    let host = tempfile::tempdir().unwrap();
    let server = Server::start_with(host.path(), &["--store", &url]);
    assert!(server.log().contains("backend=\"postgres\"") || server.log().contains("backend=postgres"));
    let users = server.operator().get("/api/v1/companies/acme/users").expect(200, "users");
    assert_eq!(users.as_array().map(Vec::len), Some(1), "{users}");
    let route = server.route("acme", "34910000000", "34600111222", AT);
    assert_eq!(route["decided_by"], "module", "{route}");
    assert_eq!(route["module_version"], 1, "{route}");
    assert_eq!(server.audit("acme").len(), audit_before, "the audit log came along");

    // A second copy into the same database is refused: nothing is overwritten or mixed.
    let (ok, text) = store_copy(single.path(), &url);
    assert!(!ok && text.contains("not empty"), "a copy into a used database must fail:\n{text}");
    let users = server.operator().get("/api/v1/companies/acme/users").expect(200, "users");
    assert_eq!(users.as_array().map(Vec::len), Some(1), "{users}");
}

#[test]
fn two_hosts_on_one_database_see_each_others_writes() {
    let url = fresh_database_url();
    let (a, b) = (on_store(&url), on_store(&url));
    a.create_company("acme", json!({}));
    a.create_user("acme", "100");
    let companies = b.operator().get("/api/v1/companies").expect(200, "companies on b");
    assert!(companies.to_string().contains("\"acme\""), "{companies}");
    // A company id is unique across hosts: b cannot create acme again.
    b.operator().post("/api/v1/companies", &company_body("acme")).expect(409, "acme again on b");
    // A module uploaded through a's API decides b's calls.
    a.upload_module("acme", "router", guest_bytes("vip_router"), "").expect(201, "upload on a");
    a.create_did("acme", &vip_did_body("router"));
    let route = b.route("acme", "34910000000", "34600111222", AT);
    assert_eq!(route["decided_by"], "module", "{route}");
    assert_eq!(route["module_version"], 1, "{route}");
    // b has version 1 cached now (and keeps it until told otherwise); version 2 activated
    // on a decides b's next calls once the store tells b of the change. The time it took
    // is printed; the bound only catches a change that never arrives (the machine is
    // shared: no test asserts a wall-clock time).
    a.upload_module("acme", "router", guest_bytes("vip_router"), "").expect(201, "upload v2 on a");
    let took = eventually("b decides with version 2", || {
        let route = b.route("acme", "34910000000", "34600111222", AT);
        if route["module_version"] == 2 { Ok(()) } else { Err(format!("b still decides with {route}")) }
    });
    eprintln!("version 2 reached host b after {took:?}");
    // And back: a rollback on b reaches a.
    b.operator()
        .post("/api/v1/companies/acme/modules/router/rollback", &json!({}))
        .expect(200, "roll back on b");
    eventually("a hears of the rollback", || {
        let route = a.route("acme", "34910000000", "34600111222", AT);
        if route["module_version"] == 1 { Ok(()) } else { Err(format!("a decides with {route}")) }
    });
}

#[test]
fn a_phone_registered_through_one_host_is_called_through_another() {
    let url = fresh_database_url();
    let (a, b) = (on_store(&url), on_store(&url));
    a.create_company("acme", json!({"sip_domain": DOMAIN}));
    let [caller, callee] = phones(&a);
    let registrations_on_b =
        || b.operator().get("/api/v1/companies/acme/users/101/registrations").expect(200, "on b");
    // b reads 101's registrations before there are any (and may keep that answer)...
    assert_eq!(registrations_on_b().as_array().map(Vec::len), Some(0));
    // ...then 101 registers with a; b lists the registration and rings it.
    let device = Device::start(&a, "101", &callee, "answer", 1);
    eventually("b hears of the registration through a", || {
        let registrations = registrations_on_b();
        if registrations.as_array().map(Vec::len) == Some(1) {
            Ok(())
        } else {
            Err(registrations.to_string())
        }
    });
    let (ok, log) = call(&b, "100", &caller, "101", "answered", &[("TALK_MS", "300")], 1);
    assert!(ok, "the call through b failed:\n{log}\n{}", b.log());
    let (ok, log) = device.finish();
    assert!(ok, "the phone registered through a saw something wrong:\n{log}");
    let cdr = b.first_cdr("acme");
    assert_eq!(cdr["status"], "answered", "{cdr}");
    // a lists the CDR b wrote.
    assert_eq!(a.first_cdr("acme")["id"], cdr["id"]);
}

#[test]
fn behind_the_kamailio_front_phones_register_and_call_and_a_killed_host_is_failed_over() {
    let url = fresh_database_url();
    let mut hosts: Vec<Server> = (0..3).map(|_| on_store(&url)).collect();
    let front = support::kamailio::Front::start(&hosts.iter().collect::<Vec<_>>());
    hosts[0].create_company("acme", json!({"sip_domain": DOMAIN}));
    let [caller, callee] = phones(&hosts[0]);
    // The sipp helpers dial a server's `sip_addr`: pointed at the front (the front has
    // the hosts' real addresses already), phones reach the cluster only through it.
    hosts[0].sip_addr = front.addr;

    let calls = 4;
    let device = Device::start(&hosts[0], "101", &callee, "answer", calls);
    let (ok, log) = call(&hosts[0], "100", &caller, "101", "answered", &[("TALK_MS", "300")], calls);
    assert!(ok, "calls through the front failed:\n{log}\n{}", front.log());
    let (ok, log) = device.finish();
    assert!(ok, "the phone saw something wrong:\n{log}");
    let anchored: Vec<usize> = hosts.iter().map(|h| h.log().matches("call ended").count()).collect();
    eprintln!("calls anchored per host: {anchored:?}");
    assert_eq!(anchored.iter().sum::<usize>(), calls, "{anchored:?}");

    // One host dies without a word in the middle of a burst of API writes to it: every
    // write it acknowledged is in the store the others read.
    let base = hosts[2].base.clone();
    let writer = std::thread::spawn(move || {
        let http = client();
        let mut acknowledged = Vec::new();
        for i in 0..100_000 {
            let name = format!("burst-{i}");
            let body = json!({"name": name, "number": format!("3490{i:06}"), "description": "burst"});
            let url = format!("{base}/api/v1/companies/acme/external-numbers");
            match http.post(&url).bearer_auth(OPERATOR_TOKEN).json(&body).send() {
                Ok(response) if response.status().as_u16() == 201 => acknowledged.push(name),
                Ok(response) => panic!("POST {body} -> {}", response.status()),
                Err(_) => break, // the host is gone
            }
        }
        acknowledged
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    hosts[2].kill();
    let acknowledged = writer.join().expect("the writer");
    assert!(!acknowledged.is_empty(), "no write was acknowledged before the kill");
    let listed = hosts[0]
        .operator()
        .get("/api/v1/companies/acme/external-numbers")
        .expect(200, "numbers on a live host");
    let stored: std::collections::BTreeSet<&str> =
        listed.as_array().unwrap().iter().filter_map(|n| n["name"].as_str()).collect();
    let lost: Vec<&String> = acknowledged.iter().filter(|name| !stored.contains(name.as_str())).collect();
    assert!(lost.is_empty(), "acknowledged writes lost with the killed host: {lost:?}");
    eprintln!("{} writes acknowledged by the killed host, all in the store", acknowledged.len());

    // Its phones register again through the front and calls keep connecting.
    let device = Device::start(&hosts[0], "101", &callee, "answer", calls);
    let (ok, log) = call(&hosts[0], "100", &caller, "101", "answered", &[("TALK_MS", "300")], calls);
    assert!(ok, "calls after a host died failed:\n{log}\n{}", front.log());
    let (ok, log) = device.finish();
    assert!(ok, "the phone saw something wrong after the failover:\n{log}");
    let anchored: Vec<usize> = hosts[..2].iter().map(|h| h.log().matches("call ended").count()).collect();
    eprintln!("calls anchored per live host after the failover: {anchored:?}");
}

/// How long the slow phone says nothing to an INVITE: longer than the front's 2 s
/// failover timer for hosts, well inside the host's own (RFC 3261 Timer B, 32 s).
const SLOW_PHONE_SILENCE_MS: u32 = 3500;

#[test]
fn a_phone_slow_to_answer_an_invite_through_the_front_still_rings_and_answers() {
    let url = fresh_database_url();
    let mut host = on_store(&url);
    let front = support::kamailio::Front::start(&[&host]);
    host.create_company("acme", json!({"sip_domain": DOMAIN}));
    let [caller, callee] = phones(&host);
    host.sip_addr = front.addr;

    // A phone woken by a push notification, or on a slow link, says nothing for seconds.
    let port = free_port_tcp_udp();
    support::sipp::register(&host, "101", &callee, "101", port);
    let dir = tempfile::tempdir().unwrap();
    let path = support::sipp::scenario(dir.path(), "callee.xml", "BEHAVIOUR_STEPS", "callee_answer", &[]);
    let invite = r#"<recv request="INVITE" crlf="true"/>"#;
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(invite), "callee.xml no longer starts with {invite}");
    let silent = format!(r#"{invite}<pause milliseconds="{SLOW_PHONE_SILENCE_MS}"/>"#);
    std::fs::write(&path, text.replace(invite, &silent)).unwrap();
    let device = Device::spawn(dir, &path, port, 1);

    let (ok, log) = call(&host, "100", &caller, "101", "answered", &[("TALK_MS", "300")], 1);
    assert!(ok, "the call to the slow phone failed:\n{log}\n{}", front.log());
    let (ok, log) = device.finish();
    assert!(ok, "the slow phone saw something wrong:\n{log}");
}

#[test]
fn a_cti_client_of_one_host_follows_a_call_on_another() {
    let url = fresh_database_url();
    let (a, b) = (on_store(&url), on_store(&url));
    a.create_company("acme", json!({"sip_domain": DOMAIN}));
    let [caller, callee] = phones(&a);
    let reply = a.operator().post("/api/v1/companies/acme/api-keys", &json!({"name": "crm"}));
    let key = reply.expect(201, "a company key")["key"].as_str().unwrap().to_string();
    // The CRM is connected to b; the call runs on a.
    let mut crm = EventClient::connect(&b, "acme", Token::Header(&key));
    let device = Device::start(&a, "101", &callee, "answer", 1);
    let (ok, log) = call(&a, "100", &caller, "101", "answered", &[("TALK_MS", "300")], 1);
    assert!(ok, "the call on a failed:\n{log}");
    let (ok, log) = device.finish();
    assert!(ok, "{log}");
    let events = crm.events_until(|e| e["event"] == "hung_up" && e["user"] == "101");
    let seen: Vec<String> = events
        .iter()
        .map(|e| format!("{} {}", e["user"].as_str().unwrap_or("?"), e["event"].as_str().unwrap_or("?")))
        .collect();
    for expected in ["100 dialing", "101 ringing", "101 connected", "100 connected"] {
        assert!(seen.iter().any(|s| s == expected), "b's client missed {expected:?}: {seen:?}");
    }
    // Each event once: b does not echo a's events back to a's own clients.
    let mut direct = EventClient::connect(&a, "acme", Token::Header(&key));
    let device = Device::start(&a, "101", &callee, "answer", 1);
    let (ok, log) = call(&a, "100", &caller, "101", "answered", &[("TALK_MS", "300")], 1);
    assert!(ok, "the second call on a failed:\n{log}");
    assert!(device.finish().0);
    let events = direct.events_until(|e| e["event"] == "hung_up" && e["user"] == "101");
    let ringing = events.iter().filter(|e| e["event"] == "ringing").count();
    assert_eq!(ringing, 1, "a's own client got an event twice: {events:?}");
}

#[test]
fn a_queue_on_one_host_skips_an_agent_busy_on_another_and_counts_the_callers_waiting_there() {
    let url = fresh_database_url();
    let (a, b) = (on_store(&url), on_store(&url));
    a.create_company("acme", json!({"sip_domain": DOMAIN}));
    let [caller, agent] = phones(&a);
    let password = |extension| a.create_user("acme", extension)["sip_password"].as_str().unwrap().to_string();
    let (overflow, colleague) = (password("102"), password("104"));
    let body = json!({"name": "support", "number": "800", "max_time_seconds": 3, "ring_busy_agents": false,
                      "members": [{"extension": "101", "order": 1}],
                      "unanswered_destination": {"extension": "102"}});
    a.operator().post("/api/v1/companies/acme/queues", &body).expect(201, "create the queue");
    // 101 would answer a second call too: only knowing it is busy on a keeps b from ringing it.
    let agent_device = Device::start(&a, "101", &agent, "answer", 2);
    let overflow_device = Device::start(&b, "102", &overflow, "answer", 1);
    std::thread::scope(|scope| {
        // 104 talks with 101 on a for six seconds.
        let busy = scope.spawn(|| {
            let values = [("KEYS_AFTER_MS", "0"), ("KEYS_ACTIONS", ""), ("TALK_MS", "6000")];
            call(&a, "104", &colleague, "101", "keys", &values, 1)
        });
        std::thread::sleep(std::time::Duration::from_millis(1000));
        // 100 waits in the queue on b, then goes on to 102.
        let queued = scope.spawn(|| {
            let values = [
                ("KEYS_AFTER_MS", "0"),
                ("KEYS_ACTIONS", "  <pause milliseconds=\"6000\"/>\n"),
                ("TALK_MS", "0"),
            ];
            call(&b, "100", &caller, "800", "keys", &values, 1)
        });
        // a counts b's waiting caller in the queue's live figures.
        eventually("a counts the caller waiting on b", || {
            let stats = a.operator().get("/api/v1/companies/acme/queues/support/stats").expect(200, "on a");
            if stats["live"]["waiting"] == 1 { Ok(()) } else { Err(stats.to_string()) }
        });
        let (ok, log) = queued.join().expect("the queue caller");
        assert!(ok, "the queue caller's call through b failed:\n{log}\n{}", b.log());
        let (ok, log) = busy.join().expect("the colleague's call");
        assert!(ok, "104's call with 101 through a failed:\n{log}");
    });
    let (ok, log) = overflow_device.finish();
    assert!(ok, "the queue caller should have gone to 102, 101 being busy on a:\n{log}\n{}", b.log());
    agent_device.stop();
    let stats = b.operator().get("/api/v1/companies/acme/queues/support/stats").expect(200, "on b");
    assert_eq!(stats["historical"]["answered"], 0, "{stats}");
    assert_eq!(stats["historical"]["unanswered_timed_out"], 1, "{stats}");
}

#[test]
fn a_caller_answered_through_one_host_is_remembered_by_the_queue_on_another() {
    let url = fresh_database_url();
    let (a, b) = (on_store(&url), on_store(&url));
    a.create_company("acme", json!({"sip_domain": DOMAIN}));
    let [caller, first] = phones(&a);
    let second = a.create_user("acme", "102")["sip_password"].as_str().unwrap().to_string();
    let body = json!({"name": "support", "number": "800", "strategy": "linear", "step_timeout_seconds": 5,
                      "remember_agent": true,
                      "members": [{"extension": "101", "order": 1}, {"extension": "102", "order": 2}]});
    a.operator().post("/api/v1/companies/acme/queues", &body).expect(201, "create the queue");
    // 101 is not registered yet: 102 answers 100's first call, on a.
    let second_device = Device::start(&a, "102", &second, "answer", 2);
    let (ok, log) = call(&a, "100", &caller, "800", "answered", &[("TALK_MS", "300")], 1);
    assert!(ok, "the first queue call through a failed:\n{log}\n{}", a.log());
    // Now 101, first in the queue's order, is there too; b still rings 102 first for 100.
    let first_device = Device::start(&b, "101", &first, "answer", 1);
    let (ok, log) = call(&b, "100", &caller, "800", "answered", &[("TALK_MS", "300")], 1);
    assert!(ok, "the second queue call through b failed:\n{log}\n{}", b.log());
    let (ok, log) = second_device.finish();
    assert!(ok, "102 should have answered both calls:\n{log}\n{}", b.log());
    first_device.stop();
    // a's answer reaches the store with a's next statistics flush (every second).
    eventually("b counts both answers by 102", || {
        let stats = b.operator().get("/api/v1/companies/acme/queues/support/stats").expect(200, "on b");
        if stats["historical"]["answered_by"] == json!({"102": 2}) { Ok(()) } else { Err(stats.to_string()) }
    });
}

/// acme's primary trunk status as `host` shows it.
fn primary_trunk(host: &Server) -> serde_json::Value {
    let statuses =
        host.operator().get("/api/v1/companies/acme/trunk-status").expect(200, "read the trunk status");
    statuses.as_array().and_then(|s| s.iter().find(|s| s["trunk"] == "primary").cloned()).unwrap_or_default()
}

#[test]
fn a_trunk_is_registered_by_one_host_of_the_cluster_and_by_another_once_that_one_is_killed() {
    let url = fresh_database_url();
    let mut hosts: Vec<Server> = (0..2).map(|_| on_store(&url)).collect();
    let provider = OpenRegistrar::start();
    // Each host writes its activity row within a second of starting: let both be seen
    // alive before the trunk exists, so that neither starts out alone.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let domain = format!("127.0.0.1:{}", provider.port);
    hosts[0].create_company(
        "acme",
        json!({"trunk": {"username": "acme-trunk", "password": "p", "domain": domain}}),
    );

    // One host registers the trunk; the other names it.
    let mut owner = 0;
    eventually("one host registers the trunk and the other names it", || {
        let statuses = [primary_trunk(&hosts[0]), primary_trunk(&hosts[1])];
        let registering =
            statuses.iter().position(|s| s["state"] == "registered").ok_or(format!("{statuses:?}"))?;
        let other = &statuses[1 - registering];
        let named = other["state"] == "on_another_host" && other["host"] == statuses[registering]["host"];
        owner = registering;
        named.then_some(()).ok_or(format!("{statuses:?}"))
    });
    let other = 1 - owner;
    assert_eq!(
        provider.registered(),
        [format!("127.0.0.1:{}", hosts[owner].sip_addr.port())],
        "only the owner's contact is bound at the provider"
    );

    // The owner stops dead: the other host takes the trunk over and registers it.
    hosts[owner].kill();
    eventually("the other host registers the trunk", || {
        let status = primary_trunk(&hosts[other]);
        (status["state"] == "registered").then_some(()).ok_or(status.to_string())
    });
    assert!(
        provider.registered().contains(&format!("127.0.0.1:{}", hosts[other].sip_addr.port())),
        "the survivor's contact is bound: {:?}",
        provider.registered()
    );
}

#[test]
fn behind_the_front_a_trunk_names_it_and_the_providers_calls_reach_any_live_host() {
    let url = fresh_database_url();
    // The front on 127.0.0.2: what it relays comes from there, the provider is 127.0.0.1.
    let front_addr: std::net::SocketAddr = format!("127.0.0.2:{}", free_port_tcp_udp()).parse().unwrap();
    let front_arg = front_addr.to_string();
    let mut hosts: Vec<Server> =
        (0..2).map(|_| Server::start_with_args(&["--store", &url, "--sip-front", &front_arg])).collect();
    let front = support::kamailio::Front::start_on(front_addr, &hosts.iter().collect::<Vec<_>>());
    let provider = OpenRegistrar::start();
    // Both hosts seen alive before the trunk exists (as in the test above).
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let trunk =
        json!({"username": "acme-trunk", "password": "p", "domain": format!("127.0.0.1:{}", provider.port)});
    hosts[0].create_company("acme", json!({"sip_domain": DOMAIN, "trunk": trunk}));
    let [_, callee] = phones(&hosts[0]);
    hosts[0].create_did(
        "acme",
        &json!({"number": "34910000000", "description": "main", "default_destination": {"extension": "101"}, "rules": []}),
    );

    let mut owner = 0;
    eventually("one host registers the trunk with the front as its Contact", || {
        let statuses = [primary_trunk(&hosts[0]), primary_trunk(&hosts[1])];
        owner = statuses.iter().position(|s| s["state"] == "registered").ok_or(format!("{statuses:?}"))?;
        let registered = provider.registered();
        (registered == [front_arg.clone()])
            .then_some(())
            .ok_or(format!("bound at the provider: {registered:?}"))
    });
    let other = 1 - owner;
    // The provider calls the Contact, the front: any live host takes the call.
    hosts[other].sip_addr = front.addr;
    let provider_calls = |host: &Server, what: &str| {
        let device = Device::start(host, "101", &callee, "answer", 1);
        let (ok, log) =
            support::sipp::provider_call(host, "34910000000", "answered", &[("TALK_MS", "300")], 1);
        assert!(ok, "{what}: the provider's call through the front failed:\n{log}\n{}", front.log());
        let (ok, log) = device.finish();
        assert!(ok, "{what}: the phone saw something wrong:\n{log}");
    };
    provider_calls(&hosts[other], "both hosts up");

    // Another sender claiming to be the provider, through the front: the front writes
    // where the INVITE really came from, and the host asks it to authenticate.
    let forger = std::net::UdpSocket::bind("127.0.0.3:0").unwrap();
    forger.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
    let at = forger.local_addr().unwrap();
    let invite = format!(
        "INVITE sip:34910000000@{front} SIP/2.0\r\nVia: SIP/2.0/UDP {at};branch=z9hG4bK-forged;rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:34600111222@127.0.0.1>;tag=forged\r\nTo: <sip:34910000000@{front}>\r\n\
         Call-ID: forged@{at}\r\nCSeq: 1 INVITE\r\nContact: <sip:forger@{at}>\r\n\
         X-Centralita-Source: 127.0.0.1\r\nContent-Length: 0\r\n\r\n",
        front = front.addr
    );
    forger.send_to(invite.as_bytes(), front.addr).unwrap();
    let mut buffer = [0u8; 4096];
    let status = loop {
        let (n, _) = forger.recv_from(&mut buffer).expect("an answer to the forged INVITE");
        let status: u16 = String::from_utf8_lossy(&buffer[8..n.min(11)]).parse().unwrap_or(0);
        if status >= 180 {
            break status;
        }
    };
    assert!(status >= 400, "a forged provider call was taken ({status}):\n{}", front.log());

    // The owner dies: the provider's next call reaches the survivor through the front at
    // once, and the survivor registers the same Contact.
    hosts[owner].kill();
    provider_calls(&hosts[other], "the owner killed");
    eventually("the survivor registers the trunk", || {
        let status = primary_trunk(&hosts[other]);
        (status["state"] == "registered").then_some(()).ok_or(format!("{status}"))
    });
    assert_eq!(provider.registered(), [front_arg], "still the front alone at the provider");
}

/// How long the call in progress on the stopping host talks: longer than a host without
/// a drain takes to stop (the trunks' 2 s, then SIP stops), so it only ends well if the
/// host waits for it.
const CALL_IN_PROGRESS_TALK_MS: &str = "6000";

#[test]
fn a_stopping_host_lets_its_call_end_while_new_calls_through_the_front_go_to_another() {
    let url = fresh_database_url();
    let args = ["--store", url.as_str(), "--drain-timeout-s", "30"];
    let mut stopping = Server::start_with_args(&args);
    let mut other = Server::start_with_args(&args);
    let front = support::kamailio::Front::start(&[&stopping, &other]);
    other.create_company("acme", json!({"sip_domain": DOMAIN}));
    let [caller, callee] = phones(&other);
    // New calls go through the front; the call in progress is dialled to `stopping` itself
    // (it reaches the phone, registered through the front, through the front).
    other.sip_addr = front.addr;
    let new_calls = 6;
    let device = Device::start(&other, "101", &callee, "answer", new_calls + 1);

    std::thread::scope(|scope| {
        let in_progress = scope.spawn(|| {
            call(&stopping, "100", &caller, "101", "answered", &[("TALK_MS", CALL_IN_PROGRESS_TALK_MS)], 1)
        });
        eventually("the call on the stopping host is connected", || {
            let calls =
                stopping.operator().get("/api/v1/companies/acme/calls").expect(200, "calls in progress");
            match calls.as_array().map(Vec::as_slice) {
                Some([call]) if call["state"] == "connected" => Ok(()),
                _ => Err(calls.to_string()),
            }
        });
        let sent = Command::new("kill").args(["-TERM", &stopping.pid().to_string()]).status().unwrap();
        assert!(sent.success(), "kill -TERM");
        eventually("the host drains", || {
            let log = stopping.log();
            if log.contains("draining: waiting for the calls in progress") { Ok(()) } else { Err(log) }
        });

        // Whatever it is asked to start now, it refuses in a way the front fails over on.
        let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        probe.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
        let options = format!(
            "OPTIONS sip:{0} SIP/2.0\r\nVia: SIP/2.0/UDP {1};branch=z9hG4bK-drain\r\nFrom: <sip:probe@{1}>;tag=p\r\n\
             To: <sip:{0}>\r\nCall-ID: drain-probe\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            stopping.sip_addr,
            probe.local_addr().unwrap()
        );
        probe.send_to(options.as_bytes(), stopping.sip_addr).unwrap();
        let mut answer = [0u8; 2048];
        let (length, _) = probe.recv_from(&mut answer).expect("the stopping host answers");
        let answer = String::from_utf8_lossy(&answer[..length]);
        assert!(answer.starts_with("SIP/2.0 503 Shutting Down"), "{answer}");

        // New calls through the front connect, on the other host.
        let (ok, log) = call(&other, "100", &caller, "101", "answered", &[("TALK_MS", "300")], new_calls);
        assert!(ok, "new calls while a host drains failed:\n{log}\n{}", front.log());
        // Those the front sent there before its next OPTIONS ping took the host out.
        eprintln!(
            "requests failed over from the stopping host: {}",
            front.log().matches("is stopping").count()
        );

        let (ok, log) = in_progress.join().expect("the call in progress");
        assert!(ok, "the call in progress on the stopping host was cut:\n{log}\n{}", stopping.log());
    });
    let status = stopping.terminate();
    assert!(status.success(), "the host did not stop cleanly ({status}):\n{}", stopping.log());
    assert!(!stopping.log().contains("they are cut"), "{}", stopping.log());
    let (ok, log) = device.finish();
    assert!(ok, "the phone saw something wrong:\n{log}");
    assert_eq!(other.log().matches("call ended").count(), new_calls, "{}", front.log());
}

/// Calls placed through a front whose other host refuses every INVITE: each goes to either
/// host by its Call-ID, so the refusing one gets some of them but for a chance of 2^-12.
const CALLS_PAST_A_STOPPING_HOST: usize = 12;

#[test]
fn the_front_gives_a_new_call_a_stopping_host_refuses_to_the_next_host() {
    let url = fresh_database_url();
    let mut host = on_store(&url);
    // sipp playing a host that drains: pings answered, INVITEs refused 503 Shutting Down.
    let port = free_port_tcp_udp();
    let dir = tempfile::tempdir().unwrap();
    let scenario = support::sipp::sipp_dir().join("host_shutting_down.xml");
    let stopping = Device::serve(dir, &scenario, port, &["-trace_logs"]);
    let stopping_addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let front_addr = format!("127.0.0.1:{}", free_port_tcp_udp()).parse().unwrap();
    let front = support::kamailio::Front::start_over(front_addr, &[stopping_addr, host.sip_addr]);
    host.create_company("acme", json!({"sip_domain": DOMAIN}));
    let [caller, callee] = phones(&host);
    host.sip_addr = front.addr;

    // What the sipp host logged (-trace_logs): its answered pings, its refused INVITEs.
    let logged = |what: &str| -> usize {
        std::fs::read_dir(stopping.dir())
            .unwrap()
            .flatten()
            .filter(|entry| entry.file_name().to_string_lossy().ends_with("_logs.log"))
            .map(|entry| std::fs::read_to_string(entry.path()).unwrap_or_default().matches(what).count())
            .sum()
    };
    let calls = CALLS_PAST_A_STOPPING_HOST;
    // The phone's REGISTER may go to the sipp host first: refused, it fails over, and the
    // front takes the sipp host out until it answers a ping again.
    let device = Device::start(&host, "101", &callee, "answer", calls);
    let pinged = logged("ping answered");
    eventually("the front pings the sipp host again (in the set)", || match logged("ping answered") {
        n if n >= pinged + 2 => Ok(()),
        n => Err(format!("{} pings answered since the phone registered", n - pinged)),
    });
    let (ok, log) = call(&host, "100", &caller, "101", "answered", &[("TALK_MS", "100")], calls);
    assert!(ok, "calls through the front past a stopping host failed:\n{log}\n{}", front.log());
    let (ok, log) = device.finish();
    assert!(ok, "the phone saw something wrong:\n{log}");
    let refused = logged("INVITE refused");
    assert!(refused > 0, "the stopping host was never tried:\n{}", front.log());
    assert_eq!(front.log().matches("is stopping; INVITE").count(), refused, "each refusal failed over");
    stopping.stop();
}
