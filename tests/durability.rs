//! Durability: every write the API acknowledged survives the process being killed
//! (SIGKILL, no chance to flush) at an arbitrary moment, and a graceful SIGTERM stop.

mod support;

use std::collections::BTreeSet;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};
use support::{OPERATOR_TOKEN, Server, client, user_body};

/// Writes per burst.
const BURST: usize = 200;

/// A random-ish number in `low..high`, different on every run.
fn random_between(low: usize, high: usize) -> usize {
    let noise = RandomState::new().hash_one(std::time::SystemTime::now());
    low + (noise as usize) % (high - low)
}

/// What one burst got acknowledged.
#[derive(Default)]
struct Acked {
    users: Vec<String>,
    numbers: Vec<String>,
    /// A reply that was neither 201 nor a broken connection (a bug, reported at the end).
    unexpected: Vec<String>,
}

/// Sends `BURST` sequential creations (users and external numbers, alternating) to
/// `base` from a thread; each 201 is recorded before the next request is sent. Stops at
/// the first request that gets no response (the server was killed).
fn burst(
    base: String,
    round: usize,
    acked: Arc<Mutex<Acked>>,
    count: Arc<AtomicUsize>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let http = client();
        for i in 0..BURST {
            let (path, body, name, is_user) = if i % 2 == 0 {
                let extension = format!("{}{:04}", round + 1, i);
                (format!("{base}/api/v1/companies/acme/users"), user_body(&extension), extension, true)
            } else {
                let name = format!("n{round}-{i}");
                let body =
                    json!({"name": name, "number": format!("3490{round}{i:05}"), "description": "burst"});
                (format!("{base}/api/v1/companies/acme/external-numbers"), body, name, false)
            };
            let Ok(response) = http.post(&path).bearer_auth(OPERATOR_TOKEN).json(&body).send() else {
                return; // killed mid-request: this one is not acknowledged
            };
            let status = response.status().as_u16();
            // Reading the body can fail too if the kill lands in between; the status
            // line already acknowledged the write.
            let text = response.text().unwrap_or_default();
            let mut acked = acked.lock().unwrap();
            match status {
                201 if is_user => acked.users.push(name),
                201 => acked.numbers.push(name),
                _ => acked.unexpected.push(format!("POST {path} {body} -> {status} {text}")),
            }
            drop(acked);
            count.fetch_add(1, Ordering::SeqCst);
        }
    })
}

fn names(server: &Server, path: &str, member: &str) -> BTreeSet<String> {
    let listed = server.operator().get(path).expect(200, "list after restart");
    listed
        .as_array()
        .unwrap_or_else(|| panic!("{path} is not an array: {listed}"))
        .iter()
        .map(|v| v[member].as_str().expect("name").to_string())
        .collect()
}

#[test]
fn acknowledged_writes_survive_sigkill_mid_burst() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let data = dir.path().join("data");
    let mut server = Server::start_in(&data);
    server.create_company("acme", json!({"max_extensions": 10_000}));

    let mut all_users = BTreeSet::new();
    let mut all_numbers = BTreeSet::new();
    for round in 0..3 {
        let acked = Arc::new(Mutex::new(Acked::default()));
        let count = Arc::new(AtomicUsize::new(0));
        let target = random_between(10, BURST - 20);
        eprintln!("round {round}: killing the server after {target} acknowledged writes");
        let writer = burst(server.base.clone(), round, acked.clone(), count.clone());
        while count.load(Ordering::SeqCst) < target && !writer.is_finished() {
            thread::sleep(Duration::from_micros(200));
        }
        // The writer keeps going: the kill lands at whatever point its next request is at.
        server.kill();
        writer.join().expect("the writer thread");

        let acked = acked.lock().unwrap();
        assert!(acked.unexpected.is_empty(), "unexpected replies during the burst: {:#?}", acked.unexpected);
        assert!(
            acked.users.len() + acked.numbers.len() >= target,
            "fewer writes than the target were acknowledged"
        );
        all_users.extend(acked.users.iter().cloned());
        all_numbers.extend(acked.numbers.iter().cloned());
        eprintln!(
            "round {round}: {} users and {} numbers acknowledged",
            acked.users.len(),
            acked.numbers.len()
        );

        server = Server::start_in(&data);
        let users = names(&server, "/api/v1/companies/acme/users", "extension");
        let lost: Vec<_> = all_users.difference(&users).collect();
        assert!(lost.is_empty(), "round {round}: acknowledged users lost after SIGKILL: {lost:?}");
        let numbers = names(&server, "/api/v1/companies/acme/external-numbers", "name");
        let lost: Vec<_> = all_numbers.difference(&numbers).collect();
        assert!(lost.is_empty(), "round {round}: acknowledged external numbers lost after SIGKILL: {lost:?}");
        // Every stored user is whole (the record did not half-survive).
        let listed = server.operator().get("/api/v1/companies/acme/users").expect(200, "users");
        for user in listed.as_array().unwrap() {
            assert!(user["sip_password"].as_str().is_some_and(|p| !p.is_empty()), "a damaged user: {user}");
            assert_eq!(
                user["email"],
                format!("user{}@example.com", user["extension"].as_str().unwrap()).as_str()
            );
        }
    }

    // The restarted store still takes writes.
    server.create_user("acme", "9999999");
    server
        .operator()
        .get("/api/v1/companies/acme/users/9999999")
        .expect(200, "a user created after the crashes");
    let entries = server.audit("acme");
    let created = entries.iter().filter(|e| e["action"] == "user.create").count();
    assert!(
        created > all_users.len(),
        "{created} user.create audit entries for {} users",
        all_users.len() + 1
    );
}

#[test]
fn sigterm_stops_gracefully_and_keeps_the_data() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let data = dir.path().join("data");
    let mut server = Server::start_in(&data);
    server.create_company("acme", json!({}));
    server.create_user("acme", "100");
    let status = server.terminate();
    assert!(status.success(), "exit status after SIGTERM: {status}; log:\n{}", server.log());

    let server = Server::start_in(&data);
    let company: Value =
        server.operator().get("/api/v1/companies/acme").expect(200, "the company after restart");
    assert_eq!(company["id"], "acme");
    server.operator().get("/api/v1/companies/acme/users/100").expect(200, "the user after restart");
}
