//! Black-box tests of the voicemail boxes, service codes and pickup groups API (SPEC.md
//! §1, §5, §7): CRUD, the PIN never shown, validation naming the field, isolation between
//! companies, operator codes with company overrides. Messages left by real calls are tested
//! with the media engine; here a new box's message list is empty.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::Server;

const ACME: &str = "/api/v1/companies/acme";
const BOXES: &str = "/api/v1/companies/acme/voicemail-boxes";
const GROUPS: &str = "/api/v1/companies/acme/pickup-groups";

fn sales_box() -> Value {
    json!({"name": "sales", "number": "800", "email": "sales@acme.example", "pin": "4321"})
}

/// Companies acme and globex, and a key of globex's (its secret).
fn acme_and_a_globex_key(server: &Server) -> String {
    server.create_company("acme", json!({}));
    server.create_company("globex", json!({}));
    let key = server
        .operator()
        .post("/api/v1/companies/globex/api-keys", &json!({"name": "crm"}))
        .expect(201, "globex key");
    key["key"].as_str().expect("key").to_string()
}

fn actions(server: &Server, company: &str) -> Vec<String> {
    server.audit(company).iter().map(|e| e["action"].as_str().unwrap_or_default().to_string()).collect()
}

#[track_caller]
fn assert_no_pin(view: &Value) {
    let object = view.as_object().unwrap_or_else(|| panic!("not an object: {view}"));
    for key in object.keys() {
        assert!(!key.contains("pin"), "the PIN shows as {key:?} in {view}");
    }
    // A value equal to the PIN, not any "4321": created_at's fraction of a second may hold it.
    for value in object.values() {
        assert!(value != "4321" && value != 4321, "the PIN shows in {view}");
    }
}

#[test]
fn voicemail_boxes_are_created_listed_replaced_and_deleted_without_showing_the_pin() {
    let server = Server::start();
    server.create_company("acme", json!({}));
    let op = server.operator();

    let created = op.post(BOXES, &sales_box()).expect(201, "create a box");
    assert_eq!(created["name"], "sales");
    assert_eq!(created["number"], "800");
    assert_eq!(created["email"], "sales@acme.example");
    assert_eq!(created["retention_days"], 30, "the default retention");
    assert_eq!(created["max_message_seconds"], 180, "the default message length");
    assert_eq!(created["greeting"], Value::Null);
    assert_no_pin(&created);

    let listed = op.get(BOXES).expect(200, "list boxes");
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_no_pin(&listed[0]);
    assert_no_pin(&op.get(&format!("{BOXES}/sales")).expect(200, "get the box"));
    op.post(BOXES, &sales_box()).expect(409, "the same name twice");

    // A replace without a PIN keeps the PIN; with one, changes it.
    let replaced = op
        .put(&format!("{BOXES}/sales"), &json!({"name": "sales", "number": "801", "retention_days": 7}))
        .expect(200, "replace the box without a PIN");
    assert_eq!(replaced["number"], "801");
    assert_eq!(replaced["email"], "", "no email = no mail");
    assert_eq!(replaced["retention_days"], 7);
    assert_no_pin(&replaced);
    op.put(&format!("{BOXES}/sales"), &json!({"name": "sales", "number": "801", "pin": "987654"}))
        .expect(200, "change the PIN");
    let renamed = op.put(&format!("{BOXES}/sales"), &json!({"name": "other", "number": "801"}));
    assert_eq!(renamed.expect_client_error("rename a box").1.as_deref(), Some("name"));
    op.put(&format!("{BOXES}/nobody"), &json!({"name": "nobody", "number": "809"}))
        .expect(404, "replace an unknown box");

    op.delete(&format!("{BOXES}/sales")).expect(204, "delete the box");
    op.get(&format!("{BOXES}/sales")).expect(404, "a deleted box");
    op.delete(&format!("{BOXES}/sales")).expect(404, "delete it again");
    assert_eq!(op.get(BOXES).expect(200, "list boxes"), json!([]));

    let actions = actions(&server, "acme");
    for action in ["voicemail_box.create", "voicemail_box.update", "voicemail_box.delete"] {
        assert!(actions.iter().any(|a| a == action), "{action} missing from the audit log: {actions:?}");
    }
}

#[test]
fn invalid_boxes_are_refused_naming_the_field() {
    let server = Server::start();
    server.create_company("acme", json!({}));
    let op = server.operator();
    let with = |field: &str, value: Value| {
        let mut body = sales_box();
        body[field] = value;
        body
    };
    let cases = [
        ("name", with("name", json!(".."))),
        ("name", with("name", json!("a/b"))),
        ("number", with("number", json!("80a"))),
        ("number", with("number", json!("+800"))),
        ("number", with("number", json!("12345678901"))),
        ("email", with("email", json!("not-an-address"))),
        ("pin", with("pin", json!("123"))),
        ("pin", with("pin", json!("12a4"))),
        ("pin", with("pin", Value::Null)),
        ("retention_days", with("retention_days", json!(0))),
        ("retention_days", with("retention_days", json!(366))),
        ("max_message_seconds", with("max_message_seconds", json!(1))),
        ("greeting", with("greeting", json!("no-such-prompt"))),
        ("colour", with("colour", json!("blue"))),
    ];
    for (field, body) in cases {
        let reply = op.post(BOXES, &body);
        let (message, named) = reply.expect_client_error(&format!("a bad {field}: {body}"));
        assert_eq!(named.as_deref(), Some(field), "{body} -> {message}");
    }
    assert_eq!(op.get(BOXES).expect(200, "list boxes"), json!([]), "nothing was created");
}

#[test]
fn a_box_number_must_not_be_an_extension_an_alias_or_another_box() {
    let server = Server::start();
    server.create_company("acme", json!({}));
    server.create_user("acme", "101");
    let op = server.operator();
    op.post(&format!("{ACME}/aliases"), &json!({"number": "55", "target": "600123456"}))
        .expect(201, "an alias");
    op.post(BOXES, &sales_box()).expect(201, "create a box");

    for (number, what) in [("101", "extension"), ("55", "alias"), ("800", "sales")] {
        let body = json!({"name": "support", "number": number, "pin": "1111"});
        let reply = op.post(BOXES, &body);
        assert_eq!(reply.status, 409, "a box on {what}'s number: {}", reply.text);
        let (message, field) = reply.expect_client_error("a taken number");
        assert_eq!(field.as_deref(), Some("number"));
        assert!(message.contains(what), "{message:?} does not say it is the {what}'s number");
    }
    op.put(&format!("{BOXES}/sales"), &json!({"name": "sales", "number": "800"}))
        .expect(200, "a box keeps its own number");
}

#[test]
fn a_new_box_has_no_messages_and_unknown_messages_are_not_found() {
    let server = Server::start();
    server.create_company("acme", json!({}));
    let op = server.operator();
    op.post(BOXES, &sales_box()).expect(201, "create a box");

    assert_eq!(op.get(&format!("{BOXES}/sales/messages")).expect(200, "list messages"), json!([]));
    let message = format!("{BOXES}/sales/messages/0011223344556677");
    op.get(&message).expect(404, "an unknown message");
    op.get(&format!("{message}/audio")).expect(404, "the audio of an unknown message");
    op.send(Method::PATCH, &message, Some(&json!({"heard": true}))).expect(404, "mark an unknown message");
    op.delete(&message).expect(404, "delete an unknown message");
    op.get(&format!("{BOXES}/nobody/messages")).expect(404, "the messages of an unknown box");
}

#[test]
fn a_did_may_send_calls_to_a_box_once_it_exists() {
    let server = Server::start();
    server.create_company("acme", json!({}));
    let op = server.operator();
    let did = json!({"number": "34910000000", "description": "main", "default_destination": {"voicemail": "sales"}, "rules": []});
    let refused = op.post(&format!("{ACME}/dids"), &did);
    assert_eq!(
        refused.expect_client_error("a DID to a missing box").1.as_deref(),
        Some("default_destination")
    );
    op.post(BOXES, &sales_box()).expect(201, "create the box");
    server.create_did("acme", &did);
}

#[test]
fn another_company_cannot_see_or_change_the_boxes_groups_or_codes() {
    let server = Server::start();
    let globex_key = acme_and_a_globex_key(&server);
    server.create_user("acme", "101");
    let op = server.operator();
    op.post(BOXES, &sales_box()).expect(201, "create a box");
    op.post(GROUPS, &json!({"name": "front", "members": ["101"]})).expect(201, "create a group");

    let globex = server.with_token(&globex_key);
    let attempts = [
        globex.get(BOXES),
        globex.get(&format!("{BOXES}/sales")),
        globex.post(BOXES, &json!({"name": "x", "number": "900", "pin": "1234"})),
        globex.put(&format!("{BOXES}/sales"), &json!({"name": "sales", "number": "800"})),
        globex.delete(&format!("{BOXES}/sales")),
        globex.get(&format!("{BOXES}/sales/messages")),
        globex.get(GROUPS),
        globex.delete(&format!("{GROUPS}/front")),
        globex.get(&format!("{ACME}/service-codes")),
        globex.put(&format!("{ACME}/service-codes"), &json!({"pickup_direct": "*80"})),
        globex.get("/api/v1/service-codes"),
        globex.put(
            "/api/v1/service-codes",
            &json!({"pickup_direct": "*5", "pickup_group": "*6", "voicemail_access": "*7", "record_on_demand": "*8"}),
        ),
    ];
    for reply in attempts {
        assert_eq!(reply.status, 403, "{} by globex: {}", reply.request, reply.text);
    }
    assert_eq!(op.get(BOXES).expect(200, "acme's boxes").as_array().map(Vec::len), Some(1));
    assert_eq!(
        server
            .with_token(&globex_key)
            .get("/api/v1/companies/globex/voicemail-boxes")
            .expect(200, "own boxes"),
        json!([])
    );
}

#[test]
fn service_codes_are_the_operators_unless_the_company_overrides_them() {
    let server = Server::start();
    server.create_company("acme", json!({}));
    let op = server.operator();
    let defaults = json!({"pickup_direct": "*95", "pickup_group": "*96", "voicemail_access": "*97", "record_on_demand": "*1"});
    assert_eq!(op.get("/api/v1/service-codes").expect(200, "operator codes"), defaults);
    let acme = op.get(&format!("{ACME}/service-codes")).expect(200, "acme's codes");
    assert_eq!(acme, json!({"effective": defaults, "overrides": {}}));

    let acme = op
        .put(&format!("{ACME}/service-codes"), &json!({"pickup_direct": "*80"}))
        .expect(200, "override one code");
    assert_eq!(acme["overrides"], json!({"pickup_direct": "*80"}));
    assert_eq!(acme["effective"]["pickup_direct"], "*80");
    assert_eq!(acme["effective"]["pickup_group"], "*96", "the others stay the operator's");

    let mut operator = defaults.clone();
    operator["voicemail_access"] = json!("#97");
    op.put("/api/v1/service-codes", &operator).expect(200, "change the operator's codes");
    let acme = op.get(&format!("{ACME}/service-codes")).expect(200, "acme's codes");
    assert_eq!(acme["effective"]["voicemail_access"], "#97", "the operator's change reaches acme");
    assert_eq!(acme["effective"]["pickup_direct"], "*80", "acme's override stays");

    // Validation: the form of a code, prefixes (within the codes in force), unknown and
    // missing fields. A company's PUT replaces all of its overrides.
    let bad_company = [
        (json!({"pickup_group": "96"}), "pickup_group"),
        (json!({"record_on_demand": "*9x"}), "record_on_demand"),
        (json!({"record_on_demand": "*9"}), "record_on_demand"),
        (json!({"pickup_direct": "*80", "voicemail_access": "*80"}), "voicemail_access"),
        (json!({"pickup": "*80"}), "pickup"),
    ];
    for (body, field) in bad_company {
        let reply = op.put(&format!("{ACME}/service-codes"), &body);
        assert_eq!(
            reply.expect_client_error(&format!("override {body}")).1.as_deref(),
            Some(field),
            "{body}"
        );
    }
    let mut clashing = operator.clone();
    clashing["pickup_group"] = json!("*801");
    let reply = op.put("/api/v1/service-codes", &clashing);
    assert_eq!(reply.status, 409, "operator codes clashing with acme's override: {}", reply.text);
    reply.expect_error_mentioning("acme", "the clash names the company");
    let reply = op.put("/api/v1/service-codes", &json!({"pickup_direct": "*95"}));
    assert_eq!(reply.expect_client_error("operator codes missing fields").1.as_deref(), Some("pickup_group"));
    assert_eq!(op.get("/api/v1/service-codes").expect(200, "operator codes"), operator, "nothing changed");

    let acme = op.put(&format!("{ACME}/service-codes"), &json!({})).expect(200, "drop the overrides");
    assert_eq!(acme, json!({"effective": operator, "overrides": {}}));
    assert!(actions(&server, "acme").iter().any(|a| a == "service_codes.update"));
}

#[test]
fn pickup_groups_hold_existing_extensions_and_an_extension_may_be_in_several() {
    let server = Server::start();
    server.create_company("acme", json!({}));
    for extension in ["101", "102", "103"] {
        server.create_user("acme", extension);
    }
    let op = server.operator();

    let front =
        op.post(GROUPS, &json!({"name": "front", "members": ["101", "102"]})).expect(201, "group front");
    assert_eq!(front, json!({"company": "acme", "name": "front", "members": ["101", "102"]}));
    op.post(GROUPS, &json!({"name": "back", "members": ["102", "103"]}))
        .expect(201, "group back (102 in both)");
    op.post(GROUPS, &json!({"name": "front", "members": []})).expect(409, "the same name twice");

    let names: Vec<Value> = op
        .get(GROUPS)
        .expect(200, "list groups")
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].clone())
        .collect();
    assert_eq!(names, [json!("back"), json!("front")]);

    let unknown = op.post(GROUPS, &json!({"name": "x", "members": ["101", "199"]}));
    assert_eq!(unknown.expect_client_error("an unknown member").1.as_deref(), Some("members[1]"));
    let twice = op.post(GROUPS, &json!({"name": "x", "members": ["101", "101"]}));
    assert_eq!(twice.expect_client_error("a member twice").1.as_deref(), Some("members[1]"));
    let bad_name = op.post(GROUPS, &json!({"name": "a b", "members": []}));
    assert_eq!(bad_name.expect_client_error("a bad name").1.as_deref(), Some("name"));

    let replaced = op
        .put(&format!("{GROUPS}/front"), &json!({"name": "front", "members": ["103"]}))
        .expect(200, "replace the members");
    assert_eq!(replaced["members"], json!(["103"]));
    assert_eq!(op.get(&format!("{GROUPS}/front")).expect(200, "get front")["members"], json!(["103"]));
    op.delete(&format!("{GROUPS}/front")).expect(204, "delete front");
    op.get(&format!("{GROUPS}/front")).expect(404, "a deleted group");

    let actions = actions(&server, "acme");
    for action in ["pickup_group.create", "pickup_group.update", "pickup_group.delete"] {
        assert!(actions.iter().any(|a| a == action), "{action} missing from the audit log: {actions:?}");
    }
}

#[test]
fn the_openapi_document_lists_the_new_routes() {
    let server = Server::start();
    let document = server.anonymous().get("/api/v1/openapi.json").expect(200, "the OpenAPI document");
    let paths = document["paths"].as_object().expect("paths");
    for path in [
        "/api/v1/companies/{company}/voicemail-boxes/{name}",
        "/api/v1/companies/{company}/voicemail-boxes/{name}/messages/{id}/audio",
        "/api/v1/service-codes",
        "/api/v1/companies/{company}/service-codes",
        "/api/v1/companies/{company}/pickup-groups/{name}",
    ] {
        assert!(paths.contains_key(path), "{path} missing from the OpenAPI document");
    }
}

#[test]
fn a_box_owner_reaches_their_box_and_no_other_and_loses_it_with_their_extension() {
    let server = Server::start();
    server.create_company("acme", json!({}));
    server.create_user("acme", "101");
    server.create_user("acme", "102");
    let op = server.operator();
    let user_key = |extension: &str| {
        let key = op
            .post(
                &format!("{ACME}/api-keys"),
                &json!({"name": format!("portal {extension}"), "user": extension}),
            )
            .expect(201, "a user's key");
        key["key"].as_str().expect("key").to_string()
    };
    op.post(BOXES, &support::merge(sales_box(), json!({"owner": "999"})))
        .expect_error_naming_field("owner", "an owner who is no user");
    op.post(BOXES, &support::merge(sales_box(), json!({"owner": "101"}))).expect(201, "101's box");
    op.post(BOXES, &json!({"name": "support", "number": "801", "pin": "1234"})).expect(201, "nobody's box");

    let (bea, luis) = (user_key("101"), user_key("102"));
    let listed = server.with_token(&bea).get(BOXES).expect(200, "101's boxes");
    let names: Vec<&str> =
        listed.as_array().into_iter().flatten().filter_map(|b| b["name"].as_str()).collect();
    assert_eq!(names, ["sales"], "only the box 101 owns: {listed}");
    server.with_token(&bea).get(&format!("{BOXES}/sales/messages")).expect(200, "their messages");
    server.with_token(&bea).get(&format!("{BOXES}/support/messages")).expect(404, "not theirs");
    server.with_token(&bea).put(&format!("{BOXES}/sales"), &sales_box()).expect(403, "a user changes no box");
    assert_eq!(server.with_token(&luis).get(BOXES).expect(200, "102's boxes"), json!([]));
    server.with_token(&luis).get(&format!("{BOXES}/sales")).expect(404, "another user's box");

    op.delete(&format!("{ACME}/users/101")).expect(204, "delete 101");
    assert_eq!(op.get(&format!("{BOXES}/sales")).expect(200, "the box stays")["owner"], Value::Null);
    server.create_user("acme", "101");
    let newcomer = user_key("101");
    server.with_token(&newcomer).get(&format!("{BOXES}/sales")).expect(404, "a later 101 inherits nothing");
}
