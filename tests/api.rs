//! Black-box tests of the HTTP API: tenancy, authorisation, validation, DID dry runs,
//! the audit log and the OpenAPI document. Each test starts its own server.

mod support;

use std::collections::BTreeSet;

use serde_json::{Value, json};
use support::{Server, company_body, merge, user_body, with_action};

const ACME: &str = "/api/v1/companies/acme";

fn did_body(number: &str) -> Value {
    json!({
        "number": number,
        "description": "main",
        "default_destination": {"extension": "100"},
        "rules": [
            {"order": 1, "weekday": "[1-5]", "start_time": "09:00", "end_time": "18:00",
             "destination": "hang_up"}
        ]
    })
}

/// Companies acme and globex, and a new API key of acme's (its secret).
fn acme_and_globex_with_an_acme_key(server: &Server) -> String {
    server.create_company("acme", json!({}));
    server.create_company("globex", json!({}));
    let key =
        server.operator().post(&format!("{ACME}/api-keys"), &json!({"name": "crm"})).expect(201, "acme key");
    key["key"].as_str().expect("key").to_string()
}

fn strings(values: &Value, member: &str) -> BTreeSet<String> {
    values
        .as_array()
        .unwrap_or_else(|| panic!("expected a JSON array, got {values}"))
        .iter()
        .map(|v| v[member].as_str().unwrap_or_else(|| panic!("{member} missing in {v}")).to_string())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn health_is_public_and_ok() {
    let server = Server::start();
    let health = server.anonymous().get("/api/v1/health").expect(200, "health without a token");
    assert_eq!(health["status"], "ok");
}

#[test]
fn operator_creates_company_users_dids_aliases_and_external_numbers() {
    let server = Server::start();
    let op = server.operator();

    let company = server.create_company("acme", json!({"name": "Acme", "max_extensions": 5}));
    assert_eq!(company["id"], "acme");
    assert_eq!(company["name"], "Acme");
    assert_eq!(company["max_extensions"], 5);
    assert_eq!(company["time_zone"], "Europe/Madrid");
    assert_eq!(company["decision_deadline_ms"], 10, "default decision deadline: {company}");
    assert_eq!(company["decision_memory_mib"], 16, "default decision memory: {company}");

    assert_eq!(op.get(ACME).expect(200, "get the company")["name"], "Acme");
    let companies = op.get("/api/v1/companies").expect(200, "list companies");
    assert!(strings(&companies, "id").contains("acme"), "acme missing from {companies}");
    let renamed = merge(company_body("acme"), json!({"name": "Acme Corp", "max_extensions": 5}));
    assert_eq!(op.put(ACME, &renamed).expect(200, "update the company")["name"], "Acme Corp");
    assert_eq!(op.get(ACME).expect(200, "get the company")["name"], "Acme Corp");
    op.get("/api/v1/companies/nobody").expect(404, "an unknown company");

    // Users.
    let ann = op.post(&format!("{ACME}/users"), &user_body("100")).expect(201, "create user 100");
    assert_eq!(ann["extension"], "100");
    assert_eq!(ann["email"], "user100@example.com");
    assert_eq!(ann["role"], "user");
    let boss = json!({
        "extension": "101", "email": "boss@example.com", "full_name": "The Boss", "role": "admin",
        "internal_only": true, "mobile": "600111222", "portal_password": "Portal-Secret-123",
    });
    let created = op.post(&format!("{ACME}/users"), &boss);
    assert!(!created.text.contains("Portal-Secret-123"), "the portal password is echoed: {}", created.text);
    created.expect(201, "create user 101");
    let fetched = op.get(&format!("{ACME}/users/101"));
    assert!(!fetched.text.contains("Portal-Secret-123"), "the portal password is shown: {}", fetched.text);
    assert!(!fetched.text.contains("argon2"), "the portal password's hash is shown: {}", fetched.text);
    let listed = op.get(&format!("{ACME}/users"));
    assert!(!listed.text.contains("argon2"), "the portal password's hash is listed: {}", listed.text);
    let fetched = fetched.expect(200, "get user 101");
    assert_eq!(fetched["has_portal_password"], true);
    assert_eq!(fetched["role"], "admin");
    assert_eq!(fetched["internal_only"], true);
    assert_eq!(fetched["mobile"], "600111222");
    assert_eq!(fetched["full_name"], "The Boss");
    let users = op.get(&format!("{ACME}/users")).expect(200, "list users");
    assert_eq!(strings(&users, "extension"), set(&["100", "101"]));
    let mut changed = user_body("100");
    changed["email"] = json!("ann@example.com");
    op.put(&format!("{ACME}/users/100"), &changed).expect(200, "update user 100");
    assert_eq!(op.get(&format!("{ACME}/users/100")).expect(200, "get user 100")["email"], "ann@example.com");

    // Aliases.
    let alias = json!({"number": "1", "target": "600111222", "display_name": "Boss", "description": ""});
    let created = op.post(&format!("{ACME}/aliases"), &alias).expect(201, "create alias 1");
    assert_eq!(created["target"], "600111222");
    let mut retarget = alias.clone();
    retarget["target"] = json!("600999888");
    op.put(&format!("{ACME}/aliases/1"), &retarget).expect(200, "update alias 1");
    assert_eq!(op.get(&format!("{ACME}/aliases/1")).expect(200, "get alias 1")["target"], "600999888");
    let aliases = op.get(&format!("{ACME}/aliases")).expect(200, "list aliases");
    assert_eq!(strings(&aliases, "number"), set(&["1"]));
    op.delete(&format!("{ACME}/aliases/1")).expect_success("delete alias 1");
    op.get(&format!("{ACME}/aliases/1")).expect(404, "a deleted alias");

    // External numbers.
    let support_number = json!({"name": "support", "number": "34900111222", "description": "help desk"});
    let created = op.post(&format!("{ACME}/external-numbers"), &support_number).expect(201, "create support");
    assert_eq!(created["number"], "34900111222");
    let mut renumbered = support_number.clone();
    renumbered["number"] = json!("34900333444");
    op.put(&format!("{ACME}/external-numbers/support"), &renumbered).expect(200, "update support");
    let fetched = op.get(&format!("{ACME}/external-numbers/support")).expect(200, "get support");
    assert_eq!(fetched["number"], "34900333444");
    let numbers = op.get(&format!("{ACME}/external-numbers")).expect(200, "list external numbers");
    assert_eq!(strings(&numbers, "name"), set(&["support"]));

    // DIDs.
    let did = op.post(&format!("{ACME}/dids"), &did_body("34910000000")).expect(201, "create a DID");
    assert_eq!(did["number"], "34910000000");
    assert_eq!(did["module"], "did-router", "the default module: {did}");
    assert_eq!(did["default_destination"], json!({"extension": "100"}));
    assert_eq!(did["rules"].as_array().map(Vec::len), Some(1), "rules: {did}");
    assert_eq!(did["rules"][0]["destination"], "hang_up");
    let mut redescribed = did_body("34910000000");
    redescribed["description"] = json!("front desk");
    redescribed["fallback_destination"] = json!("hang_up");
    redescribed["config"] = json!({"note": "kept"});
    op.put(&format!("{ACME}/dids/34910000000"), &redescribed).expect(200, "update the DID");
    let fetched = op.get(&format!("{ACME}/dids/34910000000")).expect(200, "get the DID");
    assert_eq!(fetched["description"], "front desk");
    assert_eq!(fetched["fallback_destination"], "hang_up");
    assert_eq!(fetched["config"], json!({"note": "kept"}));
    let dids = op.get(&format!("{ACME}/dids")).expect(200, "list DIDs");
    assert_eq!(strings(&dids, "number"), set(&["34910000000"]));

    // Deleting a company.
    server.create_company("temp", json!({}));
    op.delete("/api/v1/companies/temp").expect_success("delete company temp");
    op.get("/api/v1/companies/temp").expect(404, "a deleted company");
    let companies = op.get("/api/v1/companies").expect(200, "list companies");
    assert_eq!(strings(&companies, "id"), set(&["acme"]));
}

#[test]
fn duplicates_conflict_and_did_numbers_are_unique_across_companies() {
    let server = Server::start();
    let op = server.operator();
    server.create_company("acme", json!({}));
    server.create_company("globex", json!({}));
    op.post("/api/v1/companies", &company_body("acme")).expect(409, "a duplicate company id");

    server.create_user("acme", "100");
    op.post(&format!("{ACME}/users"), &user_body("100")).expect(409, "a duplicate extension");
    // The same extension in another company is fine.
    server.create_user("globex", "100");

    op.post(&format!("{ACME}/dids"), &did_body("34910000000")).expect(201, "create a DID");
    op.post(&format!("{ACME}/dids"), &did_body("34910000000")).expect(409, "the same DID twice");
    op.post("/api/v1/companies/globex/dids", &did_body("34910000000"))
        .expect(409, "a DID number another company owns");
}

#[test]
fn max_extensions_is_enforced_for_single_and_bulk_creation() {
    let server = Server::start();
    let op = server.operator();
    server.create_company("acme", json!({"max_extensions": 2}));
    server.create_user("acme", "100");
    server.create_user("acme", "101");
    let refused = op.post(&format!("{ACME}/users"), &user_body("102"));
    let message = refused.expect_client_error("a third user when the maximum is 2").0;
    assert!(message.contains('2'), "the refusal does not state the maximum: {message}");
    assert_eq!(refused.status, 409, "expected 409 for the extension limit: {}", refused.text);
    let users = op.get(&format!("{ACME}/users")).expect(200, "list users");
    assert_eq!(strings(&users, "extension"), set(&["100", "101"]));

    op.delete(&format!("{ACME}/users/101")).expect_success("delete user 101");
    server.create_user("acme", "102");

    // Bulk import is all-or-nothing.
    server.create_company("bulk", json!({"max_extensions": 3}));
    let import = "/api/v1/companies/bulk/users/import";
    let too_many = json!([user_body("200"), user_body("201"), user_body("202"), user_body("203")]);
    let message = op.post(import, &too_many).expect_client_error("importing 4 users when the maximum is 3").0;
    assert!(message.contains('3'), "the refusal does not state the maximum: {message}");
    let users = op.get("/api/v1/companies/bulk/users").expect(200, "list users");
    assert_eq!(users.as_array().map(Vec::len), Some(0), "a refused import left users behind: {users}");

    let created = op.post(import, &json!([user_body("200"), user_body("201")])).expect(201, "import 2 users");
    assert_eq!(created["created"], 2);
    let duplicate = json!([user_body("202"), user_body("200")]);
    op.post(import, &duplicate).expect_client_error("an import repeating extension 200");
    let users = op.get("/api/v1/companies/bulk/users").expect(200, "list users");
    assert_eq!(strings(&users, "extension"), set(&["200", "201"]), "a refused import created users");
    let created = op.post(import, &json!([user_body("202")])).expect(201, "import 1 user");
    assert_eq!(created["created"], 1);
    for user in op.get("/api/v1/companies/bulk/users").expect(200, "list users").as_array().unwrap() {
        let password = user["sip_password"].as_str().unwrap_or_default();
        assert!(!password.is_empty(), "an imported user has no SIP password: {user}");
    }
}

#[test]
fn sip_password_is_generated_by_the_server_and_rotatable() {
    let server = Server::start();
    let op = server.operator();
    server.create_company("acme", json!({}));
    let first = server.create_user("acme", "100");
    let second = server.create_user("acme", "101");
    let password = first["sip_password"].as_str().expect("a generated sip_password").to_string();
    assert!(password.len() >= 12, "a short generated SIP password: {password:?}");
    assert_ne!(
        Some(password.as_str()),
        second["sip_password"].as_str(),
        "two users got the same SIP password"
    );

    let mut chosen = user_body("102");
    chosen["sip_password"] = json!("chosen-by-admin");
    op.post(&format!("{ACME}/users"), &chosen)
        .expect_error_naming_field("sip_password", "a user body that sets sip_password");
    op.get(&format!("{ACME}/users/102")).expect(404, "the refused user");

    let rotated = op.post_empty(&format!("{ACME}/users/100/rotate-sip-password")).expect(200, "rotate");
    let new_password = rotated["sip_password"].as_str().expect("the rotated sip_password").to_string();
    assert_ne!(new_password, password, "rotation kept the old password");
    let fetched = op.get(&format!("{ACME}/users/100")).expect(200, "get user 100");
    assert_eq!(fetched["sip_password"], new_password.as_str());

    // An update of other fields neither chooses nor changes the password.
    let mut update = user_body("100");
    update["full_name"] = json!("Renamed");
    op.put(&format!("{ACME}/users/100"), &update).expect(200, "update user 100");
    let fetched = op.get(&format!("{ACME}/users/100")).expect(200, "get user 100");
    assert_eq!(fetched["sip_password"], new_password.as_str(), "an update changed the SIP password");
    update["sip_password"] = json!("chosen-by-admin");
    op.put(&format!("{ACME}/users/100"), &update)
        .expect_error_naming_field("sip_password", "an update that sets sip_password");
}

#[test]
fn api_key_is_shown_once_and_works_for_its_company() {
    let server = Server::start();
    let op = server.operator();
    server.create_company("acme", json!({}));
    let created = op.post(&format!("{ACME}/api-keys"), &json!({"name": "crm"})).expect(201, "create a key");
    let id = created["id"].as_str().expect("key id").to_string();
    let secret = created["key"].as_str().expect("the key secret, shown at creation").to_string();
    assert_eq!(created["name"], "crm");
    assert!(created["created_at"].is_string(), "created_at: {created}");
    assert!(secret.len() >= 16, "a short key: {secret:?}");

    let listed = op.get(&format!("{ACME}/api-keys"));
    assert!(!listed.text.contains(&secret), "the key list shows the secret: {}", listed.text);
    let listed = listed.expect(200, "list keys");
    let keys = listed.as_array().expect("an array of keys");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["id"], id.as_str());
    assert!(keys[0].get("key").is_none(), "the listed key has a `key` member: {listed}");

    let crm = server.with_token(&secret);
    crm.get(ACME).expect(200, "the key reads its own company");
    crm.post(&format!("{ACME}/users"), &user_body("100")).expect(201, "the key creates a user");
    let users = crm.get(&format!("{ACME}/users")).expect(200, "the key lists users");
    assert_eq!(strings(&users, "extension"), set(&["100"]));

    let audit = server.audit("acme");
    let by_key = with_action(&audit, "user.create");
    assert_eq!(by_key.len(), 1, "user.create entries: {audit:?}");
    let actor = by_key[0]["actor"].as_str().unwrap_or_default();
    assert!(actor.contains(&id), "the audit actor of a key's change does not name the key {id}: {actor:?}");

    let other = op.post(&format!("{ACME}/api-keys"), &json!({"name": "backup"})).expect(201, "a second key");
    let other_secret = other["key"].as_str().expect("second key").to_string();
    assert_ne!(other_secret, secret);
    op.delete(&format!("{ACME}/api-keys/{id}")).expect_success("revoke the first key");
    crm.get(ACME).expect(401, "a revoked key");
    server.with_token(&other_secret).get(ACME).expect(200, "the remaining key");
}

#[test]
fn requests_without_a_valid_token_get_401() {
    let server = Server::start();
    server.create_company("acme", json!({}));
    let paths =
        ["/api/v1/companies", "/api/v1/companies/acme", "/api/v1/companies/acme/users", "/api/v1/audit"];
    for path in paths {
        server.anonymous().get(path).expect(401, "no Authorization header");
        server.with_token("not-the-token").get(path).expect(401, "a wrong token");
        server.with_token("").get(path).expect(401, "an empty token");
    }
    server
        .anonymous()
        .post("/api/v1/companies", &company_body("intruder"))
        .expect(401, "creating a company without a token");
    let basic = support::client()
        .get(server.url("/api/v1/companies"))
        .header("authorization", format!("Basic {OPERATOR_BASIC}"))
        .send()
        .expect("send");
    assert_eq!(basic.status().as_u16(), 401, "the Basic scheme is not a bearer token");
    let companies = server.operator().get("/api/v1/companies").expect(200, "list companies");
    assert_eq!(strings(&companies, "id"), set(&["acme"]), "an unauthenticated request created a company");
}

/// base64("operator:test-operator-token").
const OPERATOR_BASIC: &str = "b3BlcmF0b3I6dGVzdC1vcGVyYXRvci10b2tlbg==";

#[test]
fn company_key_is_forbidden_on_other_companies_and_operator_paths() {
    let server = Server::start();
    let op = server.operator();
    let acme_key = acme_and_globex_with_an_acme_key(&server);

    // Globex has one of everything, so each path names something that exists.
    let g = "/api/v1/companies/globex";
    server.create_user("globex", "100");
    let did = did_body("34920000000");
    server.create_did("globex", &did);
    let alias = json!({"number": "1", "target": "600111222", "display_name": "Boss", "description": ""});
    op.post(&format!("{g}/aliases"), &alias).expect(201, "globex alias");
    let number = json!({"name": "support", "number": "34900111222", "description": ""});
    op.post(&format!("{g}/external-numbers"), &number).expect(201, "globex external number");
    let vip = support::guest_bytes("vip_router");
    server.upload_module("globex", "vip", vip.clone(), "").expect(201, "globex module v1");
    server.upload_module("globex", "vip", vip.clone(), "").expect(201, "globex module v2");
    let globex_key = op.post(&format!("{g}/api-keys"), &json!({"name": "own"})).expect(201, "globex key");
    let globex_key_id = globex_key["id"].as_str().expect("key id").to_string();
    let globex_secret = globex_key["key"].as_str().expect("key").to_string();

    let intruder = server.with_token(&acme_key);
    let user = user_body("100");
    let route = json!({"caller": "600123456", "at": "2026-11-18T10:00:00Z"});
    let json_requests: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", g.to_string(), None),
        ("PUT", g.to_string(), Some(company_body("globex"))),
        ("DELETE", g.to_string(), None),
        ("GET", format!("{g}/users"), None),
        ("POST", format!("{g}/users"), Some(user_body("101"))),
        ("POST", format!("{g}/users/import"), Some(json!([user_body("102")]))),
        ("GET", format!("{g}/users/100"), None),
        ("PUT", format!("{g}/users/100"), Some(user)),
        ("DELETE", format!("{g}/users/100"), None),
        ("POST", format!("{g}/users/100/rotate-sip-password"), None),
        ("GET", format!("{g}/dids"), None),
        ("POST", format!("{g}/dids"), Some(did_body("34920000001"))),
        ("GET", format!("{g}/dids/34920000000"), None),
        ("PUT", format!("{g}/dids/34920000000"), Some(did)),
        ("DELETE", format!("{g}/dids/34920000000"), None),
        ("POST", format!("{g}/dids/34920000000/route"), Some(route)),
        ("GET", format!("{g}/aliases"), None),
        (
            "POST",
            format!("{g}/aliases"),
            Some(json!({"number": "2", "target": "1", "display_name": "", "description": ""})),
        ),
        ("GET", format!("{g}/aliases/1"), None),
        ("PUT", format!("{g}/aliases/1"), Some(alias)),
        ("DELETE", format!("{g}/aliases/1"), None),
        ("GET", format!("{g}/external-numbers"), None),
        (
            "POST",
            format!("{g}/external-numbers"),
            Some(json!({"name": "x", "number": "1", "description": ""})),
        ),
        ("GET", format!("{g}/external-numbers/support"), None),
        ("PUT", format!("{g}/external-numbers/support"), Some(number)),
        ("DELETE", format!("{g}/external-numbers/support"), None),
        ("GET", format!("{g}/modules"), None),
        ("GET", format!("{g}/modules/vip"), None),
        ("POST", format!("{g}/modules/vip/activate"), Some(json!({"version": 1}))),
        ("POST", format!("{g}/modules/vip/rollback"), None),
        ("GET", format!("{g}/api-keys"), None),
        ("POST", format!("{g}/api-keys"), Some(json!({"name": "stolen"}))),
        ("DELETE", format!("{g}/api-keys/{globex_key_id}"), None),
        ("GET", format!("{g}/audit"), None),
        // Operator-only paths.
        ("POST", "/api/v1/companies".to_string(), Some(company_body("rogue"))),
        ("GET", "/api/v1/audit".to_string(), None),
        ("GET", "/api/v1/audit?company=globex".to_string(), None),
    ];
    for (method, path, body) in &json_requests {
        let method: reqwest::Method = method.parse().unwrap();
        let reply = intruder.send(method, path, body.as_ref());
        assert_eq!(reply.status, 403, "acme's key on {}: got {} {}", reply.request, reply.status, reply.text);
    }
    let upload = intruder.put_bytes(&format!("{g}/modules/vip"), "application/wasm", vip);
    assert_eq!(upload.status, 403, "acme's key uploading a globex module: {} {}", upload.status, upload.text);

    // Listing companies is the operator's: refused, or at most acme's own.
    let listed = intruder.get("/api/v1/companies");
    if listed.status != 403 {
        let listed = listed.expect(200, "a company key listing companies");
        assert_eq!(strings(&listed, "id"), set(&["acme"]), "a company key sees other companies");
    }

    // Nothing of globex changed.
    assert_eq!(op.get(g).expect(200, "globex")["name"], "Company globex");
    let users = op.get(&format!("{g}/users")).expect(200, "globex users");
    assert_eq!(strings(&users, "extension"), set(&["100"]));
    let dids = op.get(&format!("{g}/dids")).expect(200, "globex DIDs");
    assert_eq!(strings(&dids, "number"), set(&["34920000000"]));
    op.get(&format!("{g}/aliases/1")).expect(200, "globex alias");
    op.get(&format!("{g}/external-numbers/support")).expect(200, "globex external number");
    let module = op.get(&format!("{g}/modules/vip")).expect(200, "globex module");
    assert_eq!(module["active"], 2, "globex's active module version changed: {module}");
    let keys = op.get(&format!("{g}/api-keys")).expect(200, "globex keys");
    assert_eq!(strings(&keys, "name"), set(&["own"]));
    let companies = op.get("/api/v1/companies").expect(200, "companies");
    assert_eq!(strings(&companies, "id"), set(&["acme", "globex"]));
    server.with_token(&globex_secret).get(g).expect(200, "globex's own key still works");
}

#[test]
fn bad_bodies_get_a_client_error_naming_the_field() {
    let server = Server::start();
    let op = server.operator();
    server.create_company("acme", json!({}));
    server.create_user("acme", "100");
    server.create_did("acme", &did_body("34910000000"));

    let companies = "/api/v1/companies";
    let mut missing_name = company_body("x1");
    missing_name.as_object_mut().unwrap().remove("name");
    op.post(companies, &missing_name).expect_error_naming_field("name", "a company without a name");
    let wrong_type = merge(company_body("x2"), json!({"max_extensions": "two"}));
    op.post(companies, &wrong_type).expect_error_naming_field("max_extensions", "max_extensions as a string");
    let mars = merge(company_body("x3"), json!({"time_zone": "Mars/Olympus"}));
    op.post(companies, &mars).expect_error_naming_field("time_zone", "an unknown time zone");
    let misspelt =
        json!({"trunk": {"username": "u", "password": "p", "domain": "sip.example", "registered": false}});
    op.post(companies, &merge(company_body("x6"), misspelt))
        .expect_error_naming_field("registered", "a trunk field it does not know (a misspelt `register`)");
    let bad_id = merge(company_body("x4"), json!({"id": "Bad Id!"}));
    op.post(companies, &bad_id).expect_error_naming_field("id", "an id with spaces and capitals");
    let reply = op.post_raw_json(companies, r#"{"id": "x5", "name": "#);
    assert_eq!(reply.status, 400, "malformed JSON: {} {}", reply.status, reply.text);
    reply.expect_client_error("malformed JSON");

    let users = format!("{ACME}/users");
    let mut no_email = user_body("101");
    no_email.as_object_mut().unwrap().remove("email");
    op.post(&users, &no_email).expect_error_naming_field("email", "a user without email");
    let bad_role = merge(user_body("102"), json!({"role": "superuser"}));
    op.post(&users, &bad_role).expect_error_naming_field("role", "an unknown role");
    let numeric = merge(user_body("103"), json!({"extension": 103}));
    op.post(&users, &numeric).expect_error_naming_field("extension", "a numeric extension");

    let dids = format!("{ACME}/dids");
    let mut bad_month = did_body("34910000001");
    bad_month["rules"][0]["month"] = json!("0[3-");
    op.post(&dids, &bad_month).expect_error_naming_field("month", "an unclosed month pattern");
    let mut bad_start = did_body("34910000002");
    bad_start["rules"][0]["start_time"] = json!("9am");
    op.post(&dids, &bad_start).expect_error_naming_field("start_time", "a start time that is not HH:MM");
    let mut bad_destination = did_body("34910000003");
    bad_destination["default_destination"] = json!({"extensio": "100"});
    op.post(&dids, &bad_destination)
        .expect_error_naming_field("default_destination", "a misspelt destination kind");
    let mut bare_voicemail = did_body("34910000004");
    bare_voicemail["rules"][0]["destination"] = json!("voicemail");
    op.post(&dids, &bare_voicemail)
        .expect_error_naming_field("destination", "a destination without its name");
    let mut ghost = did_body("34910000006");
    ghost["rules"][0]["destination"] = json!({"extension": "999"});
    op.post(&dids, &ghost).expect_error_naming_field("destination", "a rule to a nonexistent extension");
    let mut no_default = did_body("34910000005");
    no_default.as_object_mut().unwrap().remove("default_destination");
    op.post(&dids, &no_default).expect_error_naming_field("default_destination", "a DID without default");
    let mut bad_update = did_body("34910000000");
    bad_update["rules"][0]["weekday"] = json!("[1-");
    op.put(&format!("{dids}/34910000000"), &bad_update)
        .expect_error_naming_field("weekday", "an update with a bad weekday pattern");

    let aliases = format!("{ACME}/aliases");
    op.post(&aliases, &json!({"number": "1", "display_name": "Boss", "description": ""}))
        .expect_error_naming_field("target", "an alias without target");
    op.post(
        &format!("{ACME}/external-numbers"),
        &json!({"name": "support", "number": 34900, "description": ""}),
    )
    .expect_error_naming_field("number", "a numeric external number");

    let route = format!("{dids}/34910000000/route");
    op.post(&route, &json!({"at": "2026-11-18T10:00:00Z"})).expect_error_naming_field("caller", "no caller");
    op.post(&route, &json!({"caller": "600", "at": "yesterday"}))
        .expect_error_naming_field("at", "a bad instant");

    // Nothing was created by the refused requests.
    let listed = op.get(companies).expect(200, "companies");
    assert_eq!(strings(&listed, "id"), set(&["acme"]));
    assert_eq!(strings(&op.get(&users).expect(200, "users"), "extension"), set(&["100"]));
    assert_eq!(strings(&op.get(&dids).expect(200, "DIDs"), "number"), set(&["34910000000"]));
    let did = op.get(&format!("{dids}/34910000000")).expect(200, "the DID");
    assert_eq!(did["rules"][0]["weekday"], "[1-5]", "a refused update changed the DID");
    assert_eq!(op.get(&aliases).expect(200, "aliases").as_array().map(Vec::len), Some(0));
}

#[test]
fn did_dry_run_follows_office_hours_in_the_company_time_zone() {
    let server = Server::start();
    let op = server.operator();
    // A generous deadline: this test is about rules, not limits, and a server's first
    // decision can pass the default 10 ms on a loaded machine.
    server.create_company("acme", json!({"time_zone": "Europe/Madrid", "decision_deadline_ms": 2000}));
    for extension in ["100", "101", "102"] {
        server.create_user("acme", extension);
    }
    op.post(
        &format!("{ACME}/external-numbers"),
        &json!({"name": "support", "number": "34900111222", "description": ""}),
    )
    .expect(201, "external number");
    let did = json!({
        "number": "34910000000",
        "description": "main",
        "default_destination": {"extension": "100"},
        "rules": [
            {"order": 1, "weekday": "[1-5]", "start_time": "09:00", "end_time": "18:00",
             "destination": {"extension": "101"}, "announcement": "welcome"},
            {"order": 2, "weekday": "[6-7]", "destination": {"extension": "102"}, "prefix": "WE:"},
            {"order": 3, "caller_id": "600999.*", "destination": "hang_up"}
        ]
    });
    server.create_did("acme", &did);

    let check = |at: &str, caller: &str, destination: Value, rule: Value, why: &str| {
        let outcome = server.route("acme", "34910000000", caller, at);
        assert_eq!(outcome["destination"], destination, "{why} ({at}): {outcome}");
        assert_eq!(outcome["matched_rule"], rule, "{why} ({at}): {outcome}");
        assert_eq!(outcome["decided_by"], "module", "{why}: {outcome}");
        assert!(outcome["failure"].is_null(), "{why}: {outcome}");
        outcome
    };
    let office = json!({"extension": "101"});
    let night = json!({"extension": "100"});
    let weekend = json!({"extension": "102"});

    // Wednesday 18 November 2026; Madrid is UTC+1 in winter.
    let outcome =
        check("2026-11-18T10:00:00Z", "600123456", office.clone(), json!(1), "weekday office hours");
    assert_eq!(outcome["announcement"], "welcome");
    assert_eq!(outcome["module"], "did-router");
    assert!(outcome["module_version"].is_null(), "the standard module has no version: {outcome}");
    assert!(outcome["logs"].is_array() && outcome["elapsed_us"].is_u64(), "{outcome}");
    check("2026-11-18T08:30:00Z", "600123456", office.clone(), json!(1), "09:30 in Madrid, 08:30 UTC");
    check("2026-11-18T17:30:00Z", "600123456", night.clone(), Value::Null, "18:30 in Madrid, 17:30 UTC");
    check("2026-11-18T16:59:00Z", "600123456", office.clone(), json!(1), "17:59 in Madrid");
    check(
        "2026-11-18T17:00:00Z",
        "600123456",
        night.clone(),
        Value::Null,
        "18:00 in Madrid (end is exclusive)",
    );
    // Wednesday 15 July 2026; Madrid is UTC+2 in summer.
    check("2026-07-15T07:30:00Z", "600123456", office.clone(), json!(1), "09:30 in summer Madrid");
    check("2026-07-15T16:30:00Z", "600123456", night.clone(), Value::Null, "18:30 in summer Madrid");
    // Weekends: Saturday 21 November, and Friday 23:30 UTC = Saturday 00:30 in Madrid.
    let outcome = check("2026-11-21T10:00:00Z", "600123456", weekend.clone(), json!(2), "Saturday");
    assert_eq!(outcome["caller_id_prefix"], "WE:");
    check("2026-11-20T23:30:00Z", "600123456", weekend.clone(), json!(2), "Saturday 00:30 in Madrid");
    // Night: Sunday 23:30 UTC = Monday 00:30 in Madrid, and a weekday night.
    check("2026-11-22T23:30:00Z", "600123456", night.clone(), Value::Null, "Monday 00:30 in Madrid");
    let outcome = check("2026-11-18T22:00:00Z", "600123456", night.clone(), Value::Null, "Wednesday 23:00");
    assert!(outcome["caller_id_prefix"].is_null() && outcome["announcement"].is_null(), "{outcome}");
    // A caller rule after the time rules.
    check("2026-11-18T22:00:00Z", "600999111", json!("hang_up"), json!(3), "a blocked caller at night");
    check("2026-11-18T10:00:00Z", "600999111", office, json!(1), "a blocked caller in office hours");

    // An unconditional forward wins without asking the module.
    let mut forwarded = did.clone();
    forwarded["forward"] = json!({"external_number": "support"});
    op.put(&format!("{ACME}/dids/34910000000"), &forwarded).expect(200, "set a forward");
    let outcome = server.route("acme", "34910000000", "600123456", "2026-11-18T10:00:00Z");
    assert_eq!(outcome["destination"], json!({"external_number": "support"}), "{outcome}");
    assert_eq!(outcome["decided_by"], "forward", "{outcome}");

    // A DID without rules always goes to its default destination.
    let plain = json!({"number": "34910000009", "description": "", "default_destination": {"extension": "102"}, "rules": []});
    server.create_did("acme", &plain);
    let outcome = server.route("acme", "34910000009", "600123456", "2026-11-18T10:00:00Z");
    assert_eq!(outcome["destination"], weekend, "{outcome}");
    assert!(outcome["matched_rule"].is_null(), "{outcome}");

    op.post(
        &format!("{ACME}/dids/34999999999/route"),
        &json!({"caller": "600", "at": "2026-11-18T10:00:00Z"}),
    )
    .expect(404, "routing an unknown DID");
}

#[test]
fn audit_log_records_every_change_with_client_ip() {
    let server = Server::start();
    let op = server.operator();
    server.create_company("acme", json!({}));
    server.create_company("globex", json!({}));
    server.create_user("acme", "100");
    server.create_user("globex", "100");
    let mut renamed = user_body("100");
    renamed["full_name"] = json!("Renamed");
    op.put(&format!("{ACME}/users/100"), &renamed).expect(200, "update user 100");
    server.create_user("acme", "101");
    op.delete(&format!("{ACME}/users/101")).expect_success("delete user 101");
    op.post_empty(&format!("{ACME}/users/100/rotate-sip-password")).expect(200, "rotate");
    server.create_did("acme", &did_body("34910000000"));
    let alias = json!({"number": "1", "target": "600111222", "display_name": "Boss", "description": ""});
    op.post(&format!("{ACME}/aliases"), &alias).expect(201, "alias");
    op.delete(&format!("{ACME}/aliases/1")).expect_success("delete alias");
    op.post(
        &format!("{ACME}/external-numbers"),
        &json!({"name": "support", "number": "349", "description": ""}),
    )
    .expect(201, "external number");
    op.post(&format!("{ACME}/api-keys"), &json!({"name": "crm"})).expect(201, "api key");
    server.upload_module("acme", "vip", support::guest_bytes("vip_router"), "").expect(201, "upload");
    let changes = 12; // company, 2 users + update + delete + rotate, DID, alias + delete, number, key, module

    let entries = server.audit("acme");
    assert!(entries.len() >= changes, "{} audit entries for {changes} changes: {entries:#?}", entries.len());
    let seqs: Vec<u64> = entries.iter().map(|e| e["seq"].as_u64().expect("seq")).collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "the audit log is not newest first: {seqs:?}");
    for entry in &entries {
        assert_eq!(entry["company"], "acme", "another company's entry: {entry}");
        assert!(entry["at"].is_string() && entry["entity"].is_string(), "{entry}");
    }
    let by_operator: Vec<&Value> = entries.iter().filter(|e| e["actor"] == "operator").collect();
    assert!(by_operator.len() >= changes, "{} operator entries for {changes} changes", by_operator.len());
    for entry in by_operator {
        assert_eq!(entry["client_ip"], "127.0.0.1", "an API change without the client's address: {entry}");
    }
    for action in ["company.create", "user.create", "did.create", "module.upload"] {
        assert!(!with_action(&entries, action).is_empty(), "no {action} entry in {entries:#?}");
    }
    let user_actions =
        entries.iter().filter(|e| e["action"].as_str().unwrap_or("").starts_with("user.")).count();
    assert_eq!(user_actions, 5, "create, create, update, delete, rotate of users: {entries:#?}");
    let created = with_action(&entries, "user.create");
    assert!(created.iter().any(|e| e["entity"].as_str().unwrap().contains("101")), "{created:?}");
    let alias_actions =
        entries.iter().filter(|e| e["action"].as_str().unwrap_or("").starts_with("alias.")).count();
    assert_eq!(alias_actions, 2, "alias create and delete: {entries:#?}");
    // The company-scoped view shows the same changes.
    let scoped = op.get(&format!("{ACME}/audit")).expect(200, "the company's audit log");
    let scoped_seqs: BTreeSet<u64> =
        scoped.as_array().expect("an array").iter().map(|e| e["seq"].as_u64().expect("seq")).collect();
    assert!(
        seqs.iter().all(|s| scoped_seqs.contains(s)),
        "company view {scoped_seqs:?} lacks some of {seqs:?}"
    );
    let limited = op.get("/api/v1/audit?company=acme&limit=2").expect(200, "a limited audit read");
    assert_eq!(limited.as_array().map(Vec::len), Some(2), "limit=2: {limited}");
    assert_eq!(limited[0]["seq"].as_u64(), Some(seqs[0]), "limit keeps the newest");
}

#[test]
fn openapi_document_is_served() {
    let server = Server::start();
    let doc = server.operator().get("/api/v1/openapi.json").expect(200, "the OpenAPI document");
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with('3')),
        "openapi version: {}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.contains_key("/api/v1/companies"), "no /api/v1/companies in {:?}", paths.keys());
    let one_company = |p: &&String| p.starts_with("/api/v1/companies/{") && p.matches('/').count() == 4;
    assert!(paths.keys().any(|p| one_company(&p)), "no /api/v1/companies/{{id}} in {:?}", paths.keys());
    assert!(paths.keys().any(|p| p.contains("/dids/") && p.ends_with("/route")), "no DID route path");
    assert!(paths.keys().any(|p| p.contains("/modules/")), "no module paths");
}

#[test]
fn a_did_is_one_number_with_or_without_plus_and_cannot_vanish_under_its_users() {
    let server = Server::start();
    server.create_company("acme", json!({}));
    server.create_company("other", json!({}));
    server.create_user("acme", "100");
    server.create_user("other", "100");
    let op = server.operator();
    op.post("/api/v1/companies/acme/dids", &did_body("+34910000000")).expect(201, "create +34910000000");
    let reply = op.post("/api/v1/companies/other/dids", &did_body("34910000000"));
    assert_eq!(reply.status, 409, "the same number without '+' belongs to acme: {}", reply.text);
    op.get("/api/v1/companies/acme/dids/34910000000").expect(200, "found without '+'");

    let mut user = user_body("100");
    user["outgoing_caller_id"] = json!("+34910000000");
    op.put("/api/v1/companies/acme/users/100", &user).expect(200, "present the DID");
    let reply = op.delete("/api/v1/companies/acme/dids/34910000000");
    assert_eq!(reply.status, 409, "deleting a DID users present is refused: {}", reply.text);
    assert!(reply.text.contains("100"), "the refusal names the extension: {}", reply.text);

    user["outgoing_caller_id"] = Value::Null;
    op.put("/api/v1/companies/acme/users/100", &user).expect(200, "stop presenting it");
    op.delete("/api/v1/companies/acme/dids/34910000000").expect(204, "delete the DID");
}

fn device_body(id: &str, kind: &str, order: u8) -> Value {
    json!({"id": id, "name": format!("Device {id}"), "kind": kind, "order": order, "enabled": true})
}

#[test]
fn devices_of_an_extension_are_created_listed_replaced_and_deleted() {
    let server = Server::start();
    let op = server.operator();
    server.create_company("acme", json!({}));
    server.create_user("acme", "100");
    let devices = format!("{ACME}/users/100/devices");

    let desk = op.post(&devices, &device_body("desk", "desk_phone", 1)).expect(201, "create the desk phone");
    assert_eq!(desk["company"], "acme");
    assert_eq!(desk["extension"], "100");
    assert_eq!(desk["id"], "desk");
    assert_eq!(desk["kind"], "desk_phone");
    assert_eq!(desk["order"], 1);
    assert_eq!(desk["enabled"], true);
    assert_eq!(desk["sip_username"], "100-desk");
    let mobile = op
        .post(&devices, &json!({"id": "mobile", "name": "My phone", "kind": "mobile_app"}))
        .expect(201, "create the mobile app with default order and switch");
    assert_eq!(mobile["order"], 1, "default order: {mobile}");
    assert_eq!(mobile["enabled"], true, "enabled by default: {mobile}");

    let listed = op.get(&devices).expect(200, "list devices");
    assert_eq!(strings(&listed, "id"), set(&["desk", "mobile"]));
    op.post(&devices, &device_body("desk", "softphone", 2)).expect(409, "a duplicate device id");

    let mut changed = device_body("desk", "desk_phone", 0);
    changed["enabled"] = json!(false);
    changed["name"] = json!("Reception desk");
    let replaced = op.put(&format!("{devices}/desk"), &changed).expect(200, "replace the desk phone");
    assert_eq!(replaced["order"], 0);
    assert_eq!(replaced["enabled"], false);
    assert_eq!(replaced["created_at"], desk["created_at"], "replacing keeps the creation time");
    let got = op.get(&format!("{devices}/desk")).expect(200, "get the desk phone");
    assert_eq!(got["name"], "Reception desk");

    // Validation names the field; unknown users and devices are 404.
    op.put(&format!("{devices}/desk"), &device_body("other", "desk_phone", 1))
        .expect_error_naming_field("id", "changing the id");
    op.post(&devices, &device_body("Bad Id", "desk_phone", 1)).expect_error_naming_field("id", "a bad id");
    op.post(&devices, &merge(device_body("x", "desk_phone", 1), json!({"name": " "})))
        .expect_error_naming_field("name", "an empty name");
    op.post(&devices, &device_body("x", "fax", 1)).expect_error_naming_field("kind", "an unknown kind");
    op.post(&devices, &merge(device_body("x", "desk_phone", 1), json!({"order": 300})))
        .expect_error_naming_field("order", "an order out of range");
    op.post(&format!("{ACME}/users/999/devices"), &device_body("x", "desk_phone", 1))
        .expect(404, "a device of an unknown user");
    op.get(&format!("{ACME}/users/999/devices")).expect(404, "devices of an unknown user");
    op.get(&format!("{devices}/nope")).expect(404, "an unknown device");
    op.put(&format!("{devices}/nope"), &device_body("nope", "web_phone", 1)).expect(404, "replace unknown");

    op.delete(&format!("{devices}/desk")).expect(204, "delete the desk phone");
    op.delete(&format!("{devices}/desk")).expect(404, "delete it again");
    assert_eq!(strings(&op.get(&devices).expect(200, "list devices"), "id"), set(&["mobile"]));

    let audit = server.audit("acme");
    for action in ["device.create", "device.update", "device.delete"] {
        let entries = with_action(&audit, action);
        assert!(!entries.is_empty(), "no {action} audit entry in {audit:?}");
        assert!(
            entries
                .iter()
                .all(|e| e["entity"].as_str().is_some_and(|s| s.starts_with("acme/users/100/devices/"))),
            "{action} entries name the device: {entries:?}"
        );
    }
    assert_eq!(with_action(&audit, "device.create").len(), 2, "one entry per device created");
}

#[test]
fn an_extension_has_at_most_eight_devices() {
    let server = Server::start();
    let op = server.operator();
    server.create_company("acme", json!({}));
    server.create_user("acme", "100");
    server.create_user("acme", "101");
    let devices = format!("{ACME}/users/100/devices");
    for i in 0..8 {
        op.post(&devices, &device_body(&format!("d{i}"), "softphone", 1))
            .expect(201, "a device within the limit");
    }
    let refused = op.post(&devices, &device_body("d8", "softphone", 1));
    assert_eq!(refused.status, 409, "a ninth device: {} {}", refused.status, refused.text);
    refused.expect_error_mentioning("8", "the refusal names the limit");
    assert_eq!(op.get(&devices).expect(200, "list devices").as_array().map(Vec::len), Some(8));
    assert!(with_action(&server.audit("acme"), "device.create").len() == 8, "no audit entry for the refusal");

    // The limit is per extension, and a freed slot can be used again.
    op.post(&format!("{ACME}/users/101/devices"), &device_body("d0", "softphone", 1))
        .expect(201, "another extension's first device");
    op.delete(&format!("{devices}/d0")).expect(204, "free a slot");
    op.post(&devices, &device_body("d8", "softphone", 1)).expect(201, "a device in the freed slot");
}

#[test]
fn company_key_is_forbidden_on_another_company_devices() {
    let server = Server::start();
    let op = server.operator();
    let acme_key = acme_and_globex_with_an_acme_key(&server);
    server.create_user("globex", "100");
    let g = "/api/v1/companies/globex/users/100/devices";
    op.post(g, &device_body("desk", "desk_phone", 1)).expect(201, "globex device");

    let intruder = server.with_token(&acme_key);
    let requests: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", g.to_string(), None),
        ("POST", g.to_string(), Some(device_body("soft", "softphone", 1))),
        ("GET", format!("{g}/desk"), None),
        ("PUT", format!("{g}/desk"), Some(device_body("desk", "desk_phone", 0))),
        ("DELETE", format!("{g}/desk"), None),
    ];
    for (method, path, body) in &requests {
        let reply = intruder.send(method.parse().unwrap(), path, body.as_ref());
        assert_eq!(reply.status, 403, "acme's key on {}: got {} {}", reply.request, reply.status, reply.text);
    }
    let devices = op.get(g).expect(200, "globex devices");
    assert_eq!(strings(&devices, "id"), set(&["desk"]));
    assert_eq!(devices[0]["order"], 1, "globex's device changed: {devices}");

    // Its own company's devices are fine for the key.
    server.create_user("acme", "100");
    intruder
        .post(&format!("{ACME}/users/100/devices"), &device_body("desk", "desk_phone", 1))
        .expect(201, "acme's key on acme's devices");
}

#[test]
fn deleting_a_user_or_company_deletes_their_devices() {
    let server = Server::start();
    let op = server.operator();
    server.create_company("acme", json!({}));
    server.create_user("acme", "100");
    server.create_user("acme", "1000");
    let devices = format!("{ACME}/users/100/devices");
    op.post(&devices, &device_body("desk", "desk_phone", 1)).expect(201, "desk phone");
    op.post(&devices, &device_body("web", "web_phone", 2)).expect(201, "web phone");
    let other = format!("{ACME}/users/1000/devices");
    op.post(&other, &device_body("desk", "desk_phone", 1)).expect(201, "a device of extension 1000");

    op.delete(&format!("{ACME}/users/100")).expect(204, "delete the user");
    op.get(&devices).expect(404, "the devices of a deleted user");
    // Reading one device goes straight to its row: 404 means the row is gone.
    op.get(&format!("{devices}/desk")).expect(404, "a device of a deleted user");
    server.create_user("acme", "100");
    let listed = op.get(&devices).expect(200, "devices of the re-created user");
    assert_eq!(listed, json!([]), "a re-created user inherits no devices");
    op.get(&format!("{devices}/web")).expect(404, "a device of the deleted user, after re-creation");
    assert_eq!(strings(&op.get(&other).expect(200, "extension 1000's devices"), "id"), set(&["desk"]));

    op.delete(ACME).expect(204, "delete the company");
    op.get(&format!("{other}/desk")).expect(404, "a device of a deleted company");
}

#[test]
fn two_companies_cannot_share_a_sip_domain() {
    let server = Server::start();
    server.create_company("acme", json!({"sip_domain": "pbx.acme.test"}));
    let op = server.operator();
    let taken = merge(company_body("other"), json!({"sip_domain": "PBX.Acme.Test"}));
    op.post("/api/v1/companies", &taken)
        .expect_error_naming_field("sip_domain", "a domain another company has");
    server.create_company("other", json!({"sip_domain": "pbx.other.test"}));
    let update = merge(company_body("other"), json!({"sip_domain": "pbx.acme.test"}));
    op.put("/api/v1/companies/other", &update)
        .expect_error_naming_field("sip_domain", "taking acme's domain");

    // Moving acme to a new domain frees the old one; deleting a company frees its domain.
    op.put("/api/v1/companies/acme", &merge(company_body("acme"), json!({"sip_domain": "new.acme.test"})))
        .expect(200, "move acme");
    op.put("/api/v1/companies/other", &update).expect(200, "the freed domain can be taken");
    op.delete("/api/v1/companies/other").expect(204, "delete other");
    server.create_company("third", json!({"sip_domain": "pbx.acme.test"}));
}
