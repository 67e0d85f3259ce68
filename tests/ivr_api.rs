//! Black-box tests of the IVR menus API (SPEC.md §3): CRUD with audit entries, validation
//! naming the field, isolation between companies, and the dry run that walks a caller
//! through a menu with the standard `ivr` module, memo by memo.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Server, merge, with_action};

const MENUS: &str = "/api/v1/companies/acme/ivr-menus";

/// Menu "main" on 800: 1 → menu "sales", 2 → extension 100, no input → menu "sales".
fn main_menu() -> Value {
    json!({
        "name": "main",
        "number": "800",
        "options": [
            {"key": "1", "destination": {"ivr": "sales"}},
            {"key": "2", "destination": {"extension": "100"}},
        ],
        "no_input": {"ivr": "sales"},
    })
}

/// Company acme (a deadline generous enough for a loaded machine) with extension 100 and
/// the menus "sales" (801) and "main".
fn acme_with_menus(server: &Server) {
    server.create_company("acme", json!({"decision_deadline_ms": 1000}));
    server.create_user("acme", "100");
    let op = server.operator();
    op.post(MENUS, &json!({"name": "sales", "number": "801"})).expect(201, "create menu sales");
    op.post(MENUS, &main_menu()).expect(201, "create menu main");
}

/// One dry-run step of menu `name` of acme.
fn step(server: &Server, name: &str, input: Value, memo: &str) -> Value {
    server
        .operator()
        .post(&format!("{MENUS}/{name}/step"), &json!({"input": input, "memo": memo}))
        .expect(200, "a dry-run step")
}

/// The memo of a collect step; panics on anything else.
#[track_caller]
fn collect_memo(answer: &Value) -> String {
    assert_eq!(answer["step"]["kind"], "collect", "expected a collect: {answer}");
    answer["step"]["memo"].as_str().expect("memo").to_string()
}

#[test]
fn menus_are_created_listed_replaced_and_deleted_with_audit_entries() {
    let server = Server::start();
    acme_with_menus(&server);
    let op = server.operator();

    let main = op.get(&format!("{MENUS}/main")).expect(200, "get menu main");
    assert_eq!(main["number"], "800");
    assert_eq!(main["module"], "ivr", "the default module: {main}");
    assert_eq!(main["timeout_seconds"], 5, "the default timeout: {main}");
    assert_eq!(main["repeats"], 2, "the default repeats: {main}");
    assert_eq!(main["allow_dialing"], false);
    assert_eq!(main["greeting"], Value::Null);
    assert_eq!(main["options"][1]["destination"], json!({"extension": "100"}));

    let listed = op.get(MENUS).expect(200, "list menus");
    let names: Vec<&str> = listed.as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["main", "sales"]);

    let replaced = merge(
        main_menu(),
        json!({
            "timeout_seconds": 8,
            "repeats": 0,
            "allow_dialing": true,
            "config": {"extension_digits": 4},
            // A system prompt is a greeting every company has.
            "greeting": "invalid-option",
        }),
    );
    let updated = op.put(&format!("{MENUS}/main"), &replaced).expect(200, "replace menu main");
    assert_eq!((updated["timeout_seconds"].clone(), updated["repeats"].clone()), (json!(8), json!(0)));
    assert_eq!(updated["created_at"], main["created_at"], "a replace keeps the creation time");
    assert_eq!(updated["greeting"], "invalid-option");
    assert_eq!(op.get(&format!("{MENUS}/main")).expect(200, "get it again")["config"]["extension_digits"], 4);

    // A menu other menus send callers to cannot go.
    op.delete(&format!("{MENUS}/sales")).expect_error_mentioning("main", "delete a menu still in use");
    op.delete(&format!("{MENUS}/main")).expect(204, "delete menu main");
    op.delete(&format!("{MENUS}/sales")).expect(204, "delete menu sales once unused");
    op.get(&format!("{MENUS}/main")).expect(404, "a deleted menu");
    op.delete(&format!("{MENUS}/main")).expect(404, "delete it again");

    let audit = server.audit("acme");
    assert_eq!(with_action(&audit, "ivr_menu.create").len(), 2);
    assert_eq!(with_action(&audit, "ivr_menu.update").len(), 1);
    let deleted = with_action(&audit, "ivr_menu.delete");
    assert_eq!(deleted.len(), 2);
    assert!(deleted.iter().any(|e| e["entity"] == "acme/ivr-menus/main"), "{deleted:?}");
}

#[test]
fn a_did_can_send_calls_to_a_menu_that_exists() {
    let server = Server::start();
    acme_with_menus(&server);
    let did = |menu: &str| json!({"number": "34910000000", "default_destination": {"ivr": menu}});
    let op = server.operator();
    op.post("/api/v1/companies/acme/dids", &did("nope"))
        .expect_error_naming_field("default_destination", "a DID to a missing menu");
    op.post("/api/v1/companies/acme/dids", &did("main")).expect(201, "a DID to menu main");
    op.delete(&format!("{MENUS}/main"))
        .expect_error_mentioning("DID 34910000000", "delete a menu a DID uses");
}

#[test]
fn invalid_menus_are_refused_naming_the_field() {
    let server = Server::start();
    acme_with_menus(&server);
    let op = server.operator();
    let option = |key: &str, destination: Value| json!({"key": key, "destination": destination});
    let cases: Vec<(&str, Value)> = vec![
        ("name", json!({"name": "bad name"})),
        ("name", json!({"name": ".hidden"})),
        ("number", json!({"number": "8a0"})),
        ("number", json!({"number": "+800"})),
        ("number", json!({"number": "12345678901"})),
        ("options[0].key", json!({"options": [option("a", json!("hang_up"))]})),
        ("options[0].key", json!({"options": [option("12", json!("hang_up"))]})),
        (
            "options[1].key",
            json!({"options": [option("1", json!("hang_up")), option("1", json!("hang_up"))]}),
        ),
        ("options[0].destination", json!({"options": [option("1", json!({"queue": "nope"}))]})),
        ("options[0].destination", json!({"options": [option("1", json!({"extension": "999"}))]})),
        ("no_input", json!({"no_input": {"voicemail": "nope"}})),
        ("invalid", json!({"invalid": {"ivr": "nope"}})),
        ("timeout_seconds", json!({"timeout_seconds": 0})),
        ("timeout_seconds", json!({"timeout_seconds": 61})),
        ("repeats", json!({"repeats": 11})),
        ("module", json!({"module": "no-such-module"})),
        ("module", json!({"module": "did-router"})),
        ("config", json!({"config": [1]})),
        ("greeting", json!({"greeting": "no-such-prompt"})),
    ];
    for (field, change) in cases {
        let body = merge(json!({"name": "support", "number": "805"}), change.clone());
        op.post(MENUS, &body).expect_error_naming_field(field, &format!("create with {change}"));
    }
    op.post(MENUS, &json!({"name": "support", "number": "805", "colour": "red"}))
        .expect_error_mentioning("colour", "an unknown member");

    // The number must be free: not an extension, not another menu's.
    op.post(MENUS, &json!({"name": "support", "number": "100"}))
        .expect_error_naming_field("number", "the number of extension 100");
    op.post(MENUS, &json!({"name": "support", "number": "801"}))
        .expect_error_naming_field("number", "the number of menu sales");
    op.post(MENUS, &json!({"name": "sales", "number": "809"})).expect(409, "a second menu called sales");

    // A menu may send callers back to itself, even as it is created.
    let looping = json!({"name": "loop", "number": "806", "options": [option("9", json!({"ivr": "loop"}))]});
    op.post(MENUS, &looping).expect(201, "a key that restarts the menu");

    let renamed = merge(main_menu(), json!({"name": "other"}));
    op.put(&format!("{MENUS}/main"), &renamed).expect_error_naming_field("name", "rename through a replace");
    op.put(&format!("{MENUS}/ghost"), &merge(main_menu(), json!({"name": "ghost"})))
        .expect(404, "replace a missing menu");
}

#[test]
fn another_companys_key_cannot_see_or_change_the_menus() {
    let server = Server::start();
    acme_with_menus(&server);
    server.create_company("globex", json!({}));
    let key = server
        .operator()
        .post("/api/v1/companies/globex/api-keys", &json!({"name": "crm"}))
        .expect(201, "globex key");
    let globex = server.with_token(key["key"].as_str().unwrap());
    let step = json!({"input": "start"});
    let requests: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, MENUS.to_string(), None),
        (Method::POST, MENUS.to_string(), Some(json!({"name": "x", "number": "870"}))),
        (Method::GET, format!("{MENUS}/main"), None),
        (Method::PUT, format!("{MENUS}/main"), Some(main_menu())),
        (Method::DELETE, format!("{MENUS}/main"), None),
        (Method::POST, format!("{MENUS}/main/step"), Some(step)),
    ];
    for (method, path, body) in requests {
        let reply = globex.send(method.clone(), &path, body.as_ref());
        assert_eq!(reply.status, 403, "globex's key on {method} {path}: {} {}", reply.status, reply.text);
    }
    // Its own company's menus are its own.
    let own = globex.get("/api/v1/companies/globex/ivr-menus").expect(200, "globex lists its menus");
    assert_eq!(own, json!([]));
    server.operator().get(&format!("{MENUS}/main")).expect(200, "acme's menu is still there");
}

#[test]
fn a_dry_run_walks_a_caller_through_the_menu() {
    let server = Server::start();
    acme_with_menus(&server);

    let start = step(&server, "main", json!("start"), "");
    let collect = &start["step"];
    assert_eq!(collect["kind"], "collect", "{start}");
    assert_eq!(collect["prompt"], "ivr-default-greeting");
    assert_eq!(collect["max_digits"], 1);
    assert_eq!(collect["timeout_ms"], 5000);
    assert_eq!((start["decided_by"].clone(), start["module"].clone()), (json!("module"), json!("ivr")));
    let memo = collect_memo(&start);

    let pressed = step(&server, "main", json!({"digits": "1"}), &memo);
    assert_eq!(pressed["step"], json!({"kind": "transfer", "destination": {"ivr": "sales"}}));

    // Three invalid keys: two replays, then the invalid destination (none set: hang up).
    let mut memo = memo;
    for key in ["7", "8"] {
        let replay = step(&server, "main", json!({"digits": key}), &memo);
        assert_eq!(replay["step"]["prompt"], "ivr-default-greeting", "{replay}");
        memo = collect_memo(&replay);
    }
    let gone = step(&server, "main", json!({"digits": "9"}), &memo);
    assert_eq!(gone["step"], json!({"kind": "transfer", "destination": "hang_up"}));

    // Three timeouts: the no-input destination.
    let mut memo = String::new();
    for _ in 0..2 {
        memo = collect_memo(&step(&server, "main", json!("no_input"), &memo));
    }
    let timed_out = step(&server, "main", json!("no_input"), &memo);
    assert_eq!(timed_out["step"], json!({"kind": "transfer", "destination": {"ivr": "sales"}}));
    assert!(with_action(&server.audit("acme"), "decision.failed").is_empty());
}

#[test]
fn a_dry_run_with_a_broken_module_config_falls_back_and_is_audited() {
    let server = Server::start();
    acme_with_menus(&server);
    let broken = merge(main_menu(), json!({"config": {"extension_digits": "three"}}));
    server.operator().put(&format!("{MENUS}/main"), &broken).expect(200, "a config the module refuses");

    let answer = step(&server, "main", json!("start"), "");
    assert_eq!(answer["decided_by"], "fallback", "{answer}");
    assert_eq!(answer["step"], json!({"kind": "transfer", "destination": {"ivr": "sales"}}));
    assert!(answer["failure"].as_str().unwrap().contains("extension_digits"), "{answer}");
    let audit = server.audit("acme");
    let failed = with_action(&audit, "decision.failed");
    assert_eq!(failed.len(), 1, "{audit:?}");
    assert_eq!(failed[0]["entity"], "acme/ivr-menus/main");
}

#[test]
fn a_dry_run_refuses_bad_input_naming_the_field() {
    let server = Server::start();
    acme_with_menus(&server);
    let op = server.operator();
    let path = format!("{MENUS}/main/step");
    op.post(&path, &json!({"input": {"digits": "1x"}}))
        .expect_error_naming_field("input", "a letter as a digit");
    op.post(&path, &json!({"input": {"digits": ""}})).expect_error_naming_field("input", "no digits");
    op.post(&path, &json!({"input": "start", "memo": "x".repeat(4097)}))
        .expect_error_naming_field("memo", "a huge memo");
    op.post(&path, &json!({"input": "dance"})).expect_client_error("an unknown input");
    op.post(&format!("{MENUS}/ghost/step"), &json!({"input": "start"})).expect(404, "a missing menu");
}
