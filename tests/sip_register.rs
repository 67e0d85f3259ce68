//! Black-box tests of the registrar with a real SIP client: `sipp` (Debian package
//! `sip-tester`, installed by scripts/test.sh) registers extensions through the digest
//! challenge against the server-generated SIP passwords.

mod support;

use serde_json::json;
use support::{Server, SippRegister};

/// Run sipp's register scenario once per line of `users` (extension;password;domain)
/// against the server's SIP port; true when every registration ended with `expected`.
fn sipp_register(server: &Server, users: &[[&str; 3]], expected: u16) -> (bool, String) {
    SippRegister::new(users, expected).run(server)
}

/// [`sipp_register`] with extra sipp arguments (e.g. `-t t1` for TCP).
fn sipp_register_with(server: &Server, users: &[[&str; 3]], expected: u16, extra: &[&str]) -> (bool, String) {
    SippRegister::new(users, expected).args(extra).run(server)
}

#[test]
fn a_phone_registers_with_digest_auth_and_a_wrong_password_is_forbidden() {
    let server = Server::start();
    server.create_company("acme", json!({"sip_domain": "acme.centralita.test"}));
    let user = server.create_user("acme", "100");
    let password = user["sip_password"].as_str().unwrap();

    let none =
        server.operator().get("/api/v1/companies/acme/users/100/registrations").expect(200, "registrations");
    assert_eq!(none, json!([]), "nothing registered yet");
    let (ok, log) = sipp_register(&server, &[["100", password, "acme.centralita.test"]], 200);
    assert!(ok, "registration with the SIP password failed:\n{log}");
    let registered =
        server.operator().get("/api/v1/companies/acme/users/100/registrations").expect(200, "registrations");
    let registered = registered.as_array().unwrap();
    assert_eq!(registered.len(), 1, "{registered:?}");
    assert_eq!(registered[0]["user_agent"], "sipp");
    assert_eq!(registered[0]["transport"], "udp");
    assert!(registered[0]["contact"].as_str().unwrap().contains("sip:100@127.0.0.1"), "{registered:?}");
    let expires = registered[0]["expires_in_s"].as_u64().unwrap();
    assert!(expires > 0 && expires <= 300, "the Expires: 300 asked for: {expires}");

    // A new SIP password ends the old registrations.
    server
        .operator()
        .post_empty("/api/v1/companies/acme/users/100/rotate-sip-password")
        .expect(200, "rotate");
    let after =
        server.operator().get("/api/v1/companies/acme/users/100/registrations").expect(200, "registrations");
    assert_eq!(after, json!([]), "registrations survived a password rotation");

    // An extension that does not exist is challenged and refused like a wrong password.
    let (ok, log) = sipp_register(&server, &[["999", "whatever", "acme.centralita.test"]], 403);
    assert!(ok, "an unknown extension was not answered like a wrong password:\n{log}");

    let (ok, log) = sipp_register(&server, &[["100", "not-the-password", "acme.centralita.test"]], 403);
    assert!(ok, "a wrong password was not answered 403:\n{log}");
    assert!(server.log().contains("REGISTER authentication failed"), "the failure is logged");
}

#[test]
fn an_extension_cannot_register_in_another_companys_domain() {
    let server = Server::start();
    server.create_company("acme", json!({"sip_domain": "acme.centralita.test"}));
    server.create_company("other", json!({"sip_domain": "other.centralita.test"}));
    let acme_user = server.create_user("acme", "100");
    server.create_user("other", "100");
    let acme_password = acme_user["sip_password"].as_str().unwrap();
    // Same extension number, acme's password, other's domain: forbidden.
    let (ok, log) = sipp_register(&server, &[["100", acme_password, "other.centralita.test"]], 403);
    assert!(ok, "acme's credentials were not refused in other's domain:\n{log}");
    // And the same credentials still work in acme's own domain.
    let (ok, log) = sipp_register(&server, &[["100", acme_password, "acme.centralita.test"]], 200);
    assert!(ok, "{log}");
}

#[test]
fn a_phone_registers_over_tcp_and_the_binding_remembers_it() {
    let server = Server::start();
    server.create_company("acme", json!({"sip_domain": "acme.centralita.test"}));
    let user = server.create_user("acme", "100");
    let password = user["sip_password"].as_str().unwrap();
    let (ok, log) =
        sipp_register_with(&server, &[["100", password, "acme.centralita.test"]], 200, &["-t", "t1"]);
    assert!(ok, "registration over TCP failed:\n{log}\n{}", server.log());
    let registered =
        server.operator().get("/api/v1/companies/acme/users/100/registrations").expect(200, "registrations");
    assert_eq!(registered[0]["transport"], "tcp", "{registered}");
    let (ok, log) =
        sipp_register_with(&server, &[["100", "wrong", "acme.centralita.test"]], 403, &["-t", "t1"]);
    assert!(ok, "a wrong password over TCP was not refused:\n{log}");
}
