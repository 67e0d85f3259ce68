//! Black-box tests of the call-recording API (SPEC.md §6): recording settings on users and
//! companies, the recordings listing, usage, download and deletion routes, their
//! validation and company isolation. Recordings made by real calls are tested with the
//! call engine.

mod support;

use serde_json::{Value, json};
use support::{Server, user_body, with_action};

const ACME: &str = "/api/v1/companies/acme";

/// A key of `company`, created by the operator.
fn key_of(server: &Server, company: &str) -> String {
    let created = server
        .operator()
        .post(&format!("/api/v1/companies/{company}/api-keys"), &json!({"name": "recordings"}))
        .expect(201, "create a company key");
    created["key"].as_str().expect("the key secret").to_string()
}

fn company_with(id: &str, extra: Value) -> Value {
    support::merge(support::company_body(id), extra)
}

#[test]
fn recording_settings_of_users_and_companies_round_trip_and_are_validated() {
    let server = Server::start();
    let op = server.operator();
    let created =
        server.create_company("acme", json!({"recording_retention_days": 30, "recording_quota_mb": 500}));
    assert_eq!(
        (created["recording_retention_days"].clone(), created["recording_quota_mb"].clone()),
        (json!(30), json!(500))
    );
    let read = op.get(ACME).expect(200, "read the company");
    assert_eq!(read["recording_retention_days"], 30);
    assert_eq!(read["recording_quota_mb"], 500);
    let updated =
        op.put(ACME, &company_with("acme", json!({"recording_retention_days": 60}))).expect(200, "update");
    assert_eq!(updated["recording_retention_days"], 60);
    assert_eq!(updated["recording_quota_mb"], Value::Null, "left out = no limit");

    for (field, value) in [
        ("recording_retention_days", json!(61)),
        ("recording_retention_days", json!(0)),
        ("recording_quota_mb", json!(0)),
    ] {
        let body = company_with("acme", json!({ field: value }));
        let reply = op.put(ACME, &body);
        assert_eq!(reply.status, 422, "{field} = {value}: {}", reply.text);
        reply.expect_error_naming_field(field, &format!("{field} = {value}"));
        let new = company_with("acme-2", json!({ field: value }));
        op.post("/api/v1/companies", &new)
            .expect_error_naming_field(field, &format!("create with {field} = {value}"));
    }
    assert_eq!(op.get(ACME).expect(200, "unchanged")["recording_retention_days"], 60);

    let plain = server.create_user("acme", "100");
    assert_eq!(plain["recording"], json!({"mode": "never", "announce": false}), "the default");
    let body = support::merge(user_body("101"), json!({"recording": {"mode": "always", "announce": true}}));
    let user = op.post(&format!("{ACME}/users"), &body).expect(201, "create a recorded user");
    assert_eq!(user["recording"], json!({"mode": "always", "announce": true}));
    for mode in ["never", "conferences", "on_demand", "always"] {
        let body = support::merge(user_body("101"), json!({"recording": {"mode": mode}}));
        let user = op.put(&format!("{ACME}/users/101"), &body).expect(200, &format!("mode {mode}"));
        assert_eq!(user["recording"], json!({"mode": mode, "announce": false}));
    }
    let read = op.get(&format!("{ACME}/users/101")).expect(200, "read the user");
    assert_eq!(read["recording"]["mode"], "always");
    let bad = support::merge(user_body("101"), json!({"recording": {"mode": "sometimes"}}));
    op.put(&format!("{ACME}/users/101"), &bad).expect_error_naming_field("recording", "an unknown mode");
}

#[test]
fn a_new_company_has_no_recordings_and_answers_unknown_ones_with_404() {
    let server = Server::start();
    server.create_company("acme", json!({"recording_quota_mb": 2}));
    let op = server.operator();
    assert_eq!(op.get(&format!("{ACME}/recordings")).expect(200, "list"), json!({"total": 0, "items": []}));
    let usage = op.get(&format!("{ACME}/recordings/usage")).expect(200, "usage");
    assert_eq!(
        usage,
        json!({"recordings": 0, "used_bytes": 0, "quota_mb": 2, "quota_bytes": 2_000_000, "quota_reached": false})
    );
    let unknown = "20260301T100000000Z-0a0b0c0d";
    op.get(&format!("{ACME}/recordings/{unknown}")).expect(404, "metadata of an unknown recording");
    op.get(&format!("{ACME}/recordings/{unknown}/audio")).expect(404, "audio of an unknown recording");
    op.delete(&format!("{ACME}/recordings/{unknown}")).expect(404, "delete an unknown recording");
    op.get(&format!("{ACME}/recordings/..%2F..%2Fcentralita.redb/audio")).expect(404, "a path as an id");
    op.get("/api/v1/companies/nobody/recordings").expect(404, "an unknown company");

    for (query, field) in [
        ("direction=up", "direction"),
        ("from=john", "from"),
        ("since=yesterday", "since"),
        ("since=2026-03-02&until=2026-03-01", "until"),
        ("limit=0", "limit"),
        ("offset=x", "offset"),
    ] {
        let reply = op.get(&format!("{ACME}/recordings?{query}"));
        assert_eq!(reply.status, 422, "{query}: {}", reply.text);
        reply.expect_error_naming_field(field, query);
    }
    let filtered = op
        .get(&format!(
            "{ACME}/recordings?direction=inbound&from=600&since=2026-03-01&until=2026-03-31&limit=5"
        ))
        .expect(200, "every filter at once");
    assert_eq!(filtered["total"], 0);
    assert!(
        server.audit("acme").iter().all(|e| !e["action"].as_str().unwrap_or("").starts_with("recording."))
    );
}

#[test]
fn another_company_s_key_is_refused_and_its_own_key_is_served() {
    let server = Server::start();
    server.create_company("acme", json!({}));
    server.create_company("globex", json!({}));
    let globex = key_of(&server, "globex");
    let acme = key_of(&server, "acme");
    let intruder = server.with_token(&globex);
    let id = "20260301T100000000Z-0a0b0c0d";
    for reply in [
        intruder.get(&format!("{ACME}/recordings")),
        intruder.get(&format!("{ACME}/recordings/usage")),
        intruder.get(&format!("{ACME}/recordings/{id}")),
        intruder.get(&format!("{ACME}/recordings/{id}/audio")),
        intruder.delete(&format!("{ACME}/recordings/{id}")),
        intruder.post(&format!("{ACME}/recordings/delete"), &json!({"ids": [id]})),
    ] {
        assert_eq!(reply.status, 403, "{}: {}", reply.request, reply.text);
    }
    let own = server.with_token(&acme);
    own.get(&format!("{ACME}/recordings")).expect(200, "acme's key lists acme's recordings");
    own.get(&format!("{ACME}/recordings/usage")).expect(200, "acme's key reads acme's usage");
    assert_eq!(server.with_token(&acme).get("/api/v1/companies/globex/recordings").status, 403);
}

#[test]
fn a_bulk_delete_reports_unknown_ids_and_names_a_bad_body() {
    let server = Server::start();
    server.create_company("acme", json!({}));
    let op = server.operator();
    let path = format!("{ACME}/recordings/delete");
    let ids = json!(["20260301T100000000Z-0a0b0c0d", "no-such-recording", "../../etc/passwd"]);
    let result = op.post(&path, &json!({"ids": ids})).expect(200, "delete unknown ids");
    assert_eq!(result, json!({"deleted": [], "not_found": ids}));

    op.post(&path, &json!({"ids": []})).expect_error_naming_field("ids", "no ids");
    op.post(&path, &json!({})).expect_error_naming_field("ids", "a body without ids");
    op.post(&path, &json!({"ids": "x"})).expect_error_naming_field("ids", "ids not a list");
    let too_many: Vec<String> = (0..1001).map(|n| format!("id-{n}")).collect();
    op.post(&path, &json!({"ids": too_many})).expect_error_naming_field("ids", "more than 1000 ids");
    assert!(
        with_action(&server.audit("acme"), "recording.delete").is_empty(),
        "nothing deleted, nothing audited"
    );
}
