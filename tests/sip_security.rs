//! Black-box tests of the ban list against real SIP traffic (SPEC §10): `sipp` fails digest
//! authentication from one loopback address until it is banned, after which its packets
//! get no answer at all, while another address keeps registering; unban and whitelist
//! through the API.

mod support;

use serde_json::json;
use support::{Server, SippRegister};

const DOMAIN: &str = "acme.centralita.test";

/// Register extension 100 from `ip` `times` times with `password`, each expecting
/// `expected`; true when sipp saw what was expected every time (false on a timeout).
fn register_from(server: &Server, ip: &str, password: &str, expected: u16, times: usize) -> (bool, String) {
    let users = vec![["100", password, DOMAIN]; times];
    SippRegister::new(&users, expected)
        .source_ip(ip)
        .timeout_s(4)
        .args(&["-l", "1", "-recv_timeout", "3000"])
        .run(server)
}

#[test]
fn repeated_failed_authentication_bans_the_address_and_only_that_address() {
    let server = Server::start_with_args(&["--ban-failures", "3", "--ban-window-s", "60"]);
    server.create_company("acme", json!({"sip_domain": DOMAIN}));
    let user = server.create_user("acme", "100");
    let password = user["sip_password"].as_str().unwrap();

    let (ok, log) = register_from(&server, "127.0.0.66", "guessed", 403, 3);
    assert!(ok, "three wrong passwords were not each refused:\n{log}");
    let bans = server.operator().get("/api/v1/security/bans").expect(200, "bans");
    let bans = bans.as_array().unwrap();
    assert_eq!(bans.len(), 1, "{bans:?}");
    assert_eq!(bans[0]["ip"], "127.0.0.66");
    assert!(bans[0]["reason"].as_str().unwrap().contains("extension 100"), "{bans:?}");

    // The banned address is not answered, even with the right password.
    let (ok, _) = register_from(&server, "127.0.0.66", password, 200, 1);
    assert!(!ok, "a banned address got an answer");
    // Another address is not affected.
    let (ok, log) = register_from(&server, "127.0.0.2", password, 200, 1);
    assert!(ok, "an innocent address was refused:\n{log}");

    server.operator().delete("/api/v1/security/bans/127.0.0.66").expect(204, "unban");
    let (ok, log) = register_from(&server, "127.0.0.66", password, 200, 1);
    assert!(ok, "the unbanned address still gets no answer:\n{log}");
    assert!(server.log().contains("authentication failed"), "failures are logged");
}

#[test]
fn a_whitelisted_address_is_never_banned() {
    let server = Server::start_with_args(&["--ban-failures", "2"]);
    server.create_company("acme", json!({"sip_domain": DOMAIN}));
    let user = server.create_user("acme", "100");
    let password = user["sip_password"].as_str().unwrap();
    server
        .operator()
        .post("/api/v1/security/whitelist", &json!({"cidr": "127.0.0.64/30", "description": "office"}))
        .expect(201, "whitelist");
    let (ok, log) = register_from(&server, "127.0.0.66", "guessed", 403, 4);
    assert!(ok, "{log}");
    let (ok, log) = register_from(&server, "127.0.0.66", password, 200, 1);
    assert!(ok, "a whitelisted address was banned:\n{log}");
    assert_eq!(server.operator().get("/api/v1/security/bans").expect(200, "bans"), json!([]));
}
