//! Black-box tests of the ban list and whitelist API (SPEC.md §10): operator only,
//! validation naming the field, whitelist changes kept across a restart and audited.
//! Bans made by real failed SIP authentications are tested with the SIP endpoint.

mod support;

use serde_json::{Value, json};
use support::Server;

const BANS: &str = "/api/v1/security/bans";
const WHITELIST: &str = "/api/v1/security/whitelist";

fn cidrs(entries: &Value) -> Vec<String> {
    entries
        .as_array()
        .unwrap_or_else(|| panic!("expected a JSON array, got {entries}"))
        .iter()
        .map(|e| e["cidr"].as_str().unwrap_or_else(|| panic!("cidr missing in {e}")).to_string())
        .collect()
}

#[test]
fn the_ban_list_starts_empty() {
    let server = Server::start();
    let bans = server.operator().get(BANS).expect(200, "list bans");
    assert_eq!(bans, json!([]));
}

#[test]
fn unbanning_an_address_that_is_not_banned_is_not_found() {
    let server = Server::start();
    let op = server.operator();
    op.delete(&format!("{BANS}/127.0.0.66")).expect(404, "unban an unknown IPv4 address");
    op.delete(&format!("{BANS}/2001:db8::66")).expect(404, "unban an unknown IPv6 address");
    let reply = op.delete(&format!("{BANS}/not-an-address"));
    assert_eq!(reply.status, 422, "an unparsable address: {}", reply.text);
    assert_eq!(reply.expect_client_error("unban junk").1.as_deref(), Some("ip"));
}

#[test]
fn the_whitelist_is_added_listed_and_deleted_by_encoded_range() {
    let server = Server::start();
    let op = server.operator();
    assert_eq!(op.get(WHITELIST).expect(200, "empty whitelist"), json!([]));

    let office = op
        .post(WHITELIST, &json!({"cidr": "10.0.0.0/8", "description": "office"}))
        .expect(201, "whitelist a range");
    assert_eq!(office["cidr"], "10.0.0.0/8");
    assert_eq!(office["description"], "office");
    assert!(office["added_at"].is_string(), "{office}");
    assert_eq!(office["lifted_bans"], json!([]));

    let host = op.post(WHITELIST, &json!({"cidr": "127.0.0.5"})).expect(201, "whitelist one address");
    assert_eq!(host["cidr"], "127.0.0.5/32", "a bare address is a /32");
    let v6 = op
        .post(WHITELIST, &json!({"cidr": "2001:DB8:1::7/32", "description": "hq"}))
        .expect(201, "whitelist an IPv6 range");
    assert_eq!(v6["cidr"], "2001:db8::/32", "stored in canonical form");

    let again = op.post(WHITELIST, &json!({"cidr": "10.1.2.3/8"}));
    assert_eq!(again.status, 409, "the same range twice: {}", again.text);

    let listed = op.get(WHITELIST).expect(200, "list the whitelist");
    assert_eq!(cidrs(&listed), ["10.0.0.0/8", "127.0.0.5/32", "2001:db8::/32"]);

    op.delete(&format!("{WHITELIST}/10.0.0.0%2F8")).expect(204, "delete an encoded range");
    op.delete(&format!("{WHITELIST}/10.0.0.0%2F8")).expect(404, "delete it again");
    op.delete(&format!("{WHITELIST}/127.0.0.5")).expect(204, "delete a single address");
    op.delete(&format!("{WHITELIST}/2001%3Adb8%3A%3A%2F32")).expect(204, "delete an encoded IPv6 range");
    assert_eq!(op.get(WHITELIST).expect(200, "emptied whitelist"), json!([]));

    let actions: Vec<String> = server
        .operator()
        .get("/api/v1/audit?limit=20")
        .expect(200, "audit")
        .as_array()
        .expect("audit array")
        .iter()
        .map(|e| e["action"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(actions.iter().filter(|a| *a == "security.whitelist.add").count(), 3, "{actions:?}");
    assert_eq!(actions.iter().filter(|a| *a == "security.whitelist.remove").count(), 3, "{actions:?}");
}

#[test]
fn a_bad_range_is_refused_naming_the_cidr_field() {
    let server = Server::start();
    let op = server.operator();
    for bad in ["10.0.0.0/33", "10.0.0/8", "example.com", "", "2001:db8::/129", "10.0.0.0/+8"] {
        let reply = op.post(WHITELIST, &json!({"cidr": bad, "description": "x"}));
        assert_eq!(reply.status, 422, "cidr {bad:?}: {}", reply.text);
        let (message, field) = reply.expect_client_error("a bad range");
        assert_eq!(field.as_deref(), Some("cidr"), "{message}");
    }
    let missing = op.post(WHITELIST, &json!({"description": "no range"}));
    assert_eq!(missing.expect_client_error("no cidr").1.as_deref(), Some("cidr"));
    op.delete(&format!("{WHITELIST}/10.0.0.0%2F99")).expect(422, "delete a bad range");
    assert_eq!(op.get(WHITELIST).expect(200, "whitelist"), json!([]), "nothing was added");
}

#[test]
fn company_keys_and_anonymous_callers_are_refused() {
    let server = Server::start();
    server.create_company("acme", json!({}));
    let key = server
        .operator()
        .post("/api/v1/companies/acme/api-keys", &json!({"name": "crm"}))
        .expect(201, "acme key");
    let company = server.with_token(key["key"].as_str().expect("key secret"));
    let range = json!({"cidr": "10.0.0.0/8", "description": "sneaky"});
    let requests: [(&str, String, Option<&Value>); 5] = [
        ("GET", BANS.to_string(), None),
        ("DELETE", format!("{BANS}/127.0.0.66"), None),
        ("GET", WHITELIST.to_string(), None),
        ("POST", WHITELIST.to_string(), Some(&range)),
        ("DELETE", format!("{WHITELIST}/10.0.0.0%2F8"), None),
    ];
    for (method, path, body) in &requests {
        let method: reqwest::Method = method.parse().unwrap();
        let reply = company.send(method.clone(), path, *body);
        assert_eq!(reply.status, 403, "a company key on {}: {}", reply.request, reply.text);
        let reply = server.anonymous().send(method, path, *body);
        assert_eq!(reply.status, 401, "no token on {}: {}", reply.request, reply.text);
    }
    assert_eq!(server.operator().get(WHITELIST).expect(200, "whitelist"), json!([]));
}

#[test]
fn the_whitelist_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_in(dir.path());
    server
        .operator()
        .post(WHITELIST, &json!({"cidr": "192.168.0.0/16", "description": "lan"}))
        .expect(201, "add");
    server.terminate();

    let server = Server::start_in(dir.path());
    let listed = server.operator().get(WHITELIST).expect(200, "whitelist after restart");
    assert_eq!(cidrs(&listed), ["192.168.0.0/16"]);
    assert_eq!(listed[0]["description"], "lan");
}

#[test]
fn the_security_routes_are_in_the_openapi_document() {
    let server = Server::start();
    let doc = server.operator().get("/api/v1/openapi.json").expect(200, "OpenAPI document");
    let paths = &doc["paths"];
    for path in [BANS, "/api/v1/security/bans/{ip}", WHITELIST, "/api/v1/security/whitelist/{cidr}"] {
        assert!(paths.get(path).is_some(), "{path} missing from the OpenAPI paths");
    }
    assert!(paths[WHITELIST].get("post").is_some() && paths[BANS].get("get").is_some());
}
