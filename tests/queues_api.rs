//! Black-box tests of the queues API (SPEC.md §4): CRUD with defaults, validation naming
//! the field, numbers that clash, a DID routing to a queue, isolation between companies,
//! the audit log, and the shape of the statistics endpoints. Callers waiting in real
//! queues are tested with the media engine; here a new queue's figures are all zero.

mod support;

use serde_json::{Value, json};
use support::{Server, merge};

const ACME: &str = "/api/v1/companies/acme";
const QUEUES: &str = "/api/v1/companies/acme/queues";

/// Queue "sales" on 500 with agents 101 and 102 (in that order) and 103 (the next group).
fn sales() -> Value {
    json!({
        "name": "sales",
        "number": "500",
        "strategy": "grouped_linear",
        "members": [{"extension": "101", "order": 1}, {"extension": "102", "order": 1}, {"extension": "103", "order": 2}],
        "unanswered_destination": {"extension": "101"},
    })
}

/// Company acme with extensions 101-103, and company globex with a key (its secret).
fn acme_agents_and_a_globex_key(server: &Server) -> String {
    server.create_company("acme", json!({}));
    for extension in ["101", "102", "103"] {
        server.create_user("acme", extension);
    }
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

#[test]
fn queues_are_created_listed_read_replaced_and_deleted_with_defaults_and_audit() {
    let server = Server::start();
    acme_agents_and_a_globex_key(&server);
    let op = server.operator();

    let created = op.post(QUEUES, &sales()).expect(201, "create queue sales");
    assert_eq!(created["name"], "sales");
    assert_eq!(created["company"], "acme");
    assert_eq!(created["strategy"], "grouped_linear");
    assert_eq!(created["module"], "queue-strategy", "the standard module decides by default");
    assert_eq!(created["max_waiting"], 0, "no limit by default");
    assert_eq!(created["step_timeout_seconds"], 15);
    assert_eq!(created["max_time_seconds"], 300);
    assert_eq!(created["wrap_up_seconds"], 0);
    assert_eq!(created["config"], json!({}));
    assert_eq!(created["members"][2], json!({"extension": "103", "order": 2}));
    for switch in ["autoanswer", "ring_busy_agents", "remember_agent", "show_queue_name"] {
        assert_eq!(created[switch], false, "{switch} defaults to off");
    }
    assert_eq!(op.get(&format!("{QUEUES}/sales")).expect(200, "get sales"), created);
    let list = op.get(QUEUES).expect(200, "list queues");
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    op.post(QUEUES, &sales()).expect(409, "the same name twice");

    let replaced = merge(
        sales(),
        json!({"strategy": "round_robin", "max_waiting": 5, "wrap_up_seconds": 20, "remember_agent": true,
               "ring_busy_agents": true, "music_on_hold": "jazz", "show_queue_name": true, "autoanswer": true,
               "after_destination": "hang_up", "config": {"note": "busy season"}}),
    );
    let updated = op.put(&format!("{QUEUES}/sales"), &replaced).expect(200, "replace sales");
    assert_eq!(updated["strategy"], "round_robin");
    assert_eq!(updated["music_on_hold"], "jazz");
    assert_eq!(updated["after_destination"], "hang_up");
    assert_eq!(updated["created_at"], created["created_at"], "created_at is kept");
    assert_eq!(op.get(&format!("{QUEUES}/sales")).expect(200, "get sales")["max_waiting"], 5);
    op.put(&format!("{QUEUES}/sales"), &merge(sales(), json!({"name": "support"})))
        .expect_error_naming_field("name", "renaming through PUT");
    op.put(&format!("{QUEUES}/support"), &merge(sales(), json!({"name": "support"})))
        .expect(404, "replacing a queue that does not exist");

    op.delete(&format!("{QUEUES}/sales")).expect(204, "delete sales");
    op.get(&format!("{QUEUES}/sales")).expect(404, "sales is gone");
    op.delete(&format!("{QUEUES}/sales")).expect(404, "deleting twice");
    let audit = actions(&server, "acme");
    for action in ["queue.create", "queue.update", "queue.delete"] {
        assert!(audit.iter().any(|a| a == action), "{action} missing from {audit:?}");
    }
}

#[test]
fn bad_queues_get_a_client_error_naming_the_field() {
    let server = Server::start();
    acme_agents_and_a_globex_key(&server);
    let op = server.operator();
    let cases: Vec<(&str, Value)> = vec![
        ("name", json!({"name": "sales team"})),
        ("name", json!({"name": "stats"})),
        ("number", json!({"number": "5a0"})),
        ("number", json!({"number": ""})),
        ("step_timeout_seconds", json!({"step_timeout_seconds": 0})),
        ("step_timeout_seconds", json!({"step_timeout_seconds": 301})),
        ("max_time_seconds", json!({"max_time_seconds": 0})),
        ("wrap_up_seconds", json!({"wrap_up_seconds": 3601})),
        ("members[1].extension", json!({"members": [{"extension": "101"}, {"extension": "199"}]})),
        (
            "members[1].extension",
            json!({"members": [{"extension": "101"}, {"extension": "101", "order": 2}]}),
        ),
        ("unanswered_destination", json!({"unanswered_destination": {"voicemail": "nobody"}})),
        ("unanswered_destination", json!({"unanswered_destination": {"queue": "sales"}})),
        ("after_destination", json!({"after_destination": {"queue": "support"}})),
        ("music_on_hold", json!({"music_on_hold": "../etc/passwd"})),
        ("module", json!({"module": "no-such-module"})),
        ("module", json!({"module": "did-router"})),
        ("config", json!({"config": [1, 2]})),
        ("strategy", json!({"strategy": "random"})),
        ("max_waiting", json!({"max_waiting": -1})),
        ("colour", json!({"colour": "red"})),
    ];
    for (field, change) in cases {
        let reply = op.post(QUEUES, &merge(sales(), change.clone()));
        reply.expect_error_naming_field(field, &format!("queue with {change}"));
    }
    // Numbers already dialled for something else.
    op.post(QUEUES, &merge(sales(), json!({"number": "101"})))
        .expect_error_naming_field("number", "an extension's number");
    op.post(&format!("{ACME}/aliases"), &json!({"number": "77", "target": "600111222"}))
        .expect(201, "alias 77");
    op.post(QUEUES, &merge(sales(), json!({"number": "77"})))
        .expect_error_naming_field("number", "an alias's number");
    op.post(QUEUES, &sales()).expect(201, "sales");
    op.post(QUEUES, &merge(sales(), json!({"name": "support"})))
        .expect_error_naming_field("number", "another queue's number");
    assert!(op.get(&format!("{QUEUES}/support")).status == 404, "nothing was created");
}

#[test]
fn a_did_routes_to_an_existing_queue_which_then_cannot_be_deleted() {
    let server = Server::start();
    acme_agents_and_a_globex_key(&server);
    let op = server.operator();
    let did = json!({"number": "34910000000", "default_destination": {"queue": "sales"}});
    op.post(&format!("{ACME}/dids"), &did)
        .expect_error_naming_field("default_destination", "a queue that does not exist");
    op.post(QUEUES, &sales()).expect(201, "sales");
    server.create_did("acme", &did);
    let route = server.route("acme", "34910000000", "600111222", "2026-11-18T10:00:00+01:00");
    assert_eq!(route["destination"], json!({"queue": "sales"}), "{route}");
    op.delete(&format!("{QUEUES}/sales"))
        .expect_error_mentioning("34910000000", "deleting a queue a DID uses");
    op.delete(&format!("{ACME}/dids/34910000000")).expect(204, "delete the DID");
    op.delete(&format!("{QUEUES}/sales")).expect(204, "now the queue goes");
}

#[test]
fn a_queue_and_a_menu_that_send_calls_to_each_other_are_not_deleted_under_each_other() {
    let server = Server::start();
    acme_agents_and_a_globex_key(&server);
    let op = server.operator();
    op.post(QUEUES, &sales()).expect(201, "sales");
    let menu = json!({"name": "main", "number": "800", "options": [{"key": "1", "destination": {"queue": "sales"}}]});
    op.post(&format!("{ACME}/ivr-menus"), &menu).expect(201, "a menu whose key 1 is the queue");
    op.delete(&format!("{QUEUES}/sales")).expect_error_mentioning("IVR menu \"main\"", "a queue a menu uses");
    // The other way round: the queue's unanswered callers go to the menu.
    let mut overflow = merge(sales(), json!({"unanswered_destination": {"ivr": "main"}}));
    overflow["name"] = json!("overflow");
    overflow["number"] = json!("501");
    op.post(QUEUES, &overflow).expect(201, "a queue overflowing to the menu");
    op.delete(&format!("{ACME}/ivr-menus/main"))
        .expect_error_mentioning("queue \"overflow\"", "a menu a queue uses");
    op.delete(&format!("{QUEUES}/overflow")).expect(204, "the overflow queue goes");
    op.delete(&format!("{ACME}/ivr-menus/main")).expect(204, "then the menu");
    op.delete(&format!("{QUEUES}/sales")).expect(204, "then the queue");
}

#[test]
fn a_company_sees_only_its_own_queues() {
    let server = Server::start();
    let globex_key = acme_agents_and_a_globex_key(&server);
    server.operator().post(QUEUES, &sales()).expect(201, "acme's sales");
    let globex = server.with_token(&globex_key);
    for path in [
        QUEUES.to_string(),
        format!("{QUEUES}/sales"),
        format!("{QUEUES}/sales/stats"),
        format!("{QUEUES}/stats"),
    ] {
        globex.get(&path).expect(403, "globex reading acme's queues");
    }
    globex.post(QUEUES, &sales()).expect(403, "globex creating in acme");
    globex.delete(&format!("{QUEUES}/sales")).expect(403, "globex deleting acme's queue");
    let own = "/api/v1/companies/globex/queues";
    assert_eq!(globex.get(own).expect(200, "globex's own queues"), json!([]));
    globex.get(&format!("{own}/sales")).expect(404, "acme's queue is not globex's");
    // Globex has no extension 101: acme's members are not globex's.
    globex.post(own, &sales()).expect_error_naming_field("members[0].extension", "acme's agents in globex");
    globex
        .post(own, &merge(sales(), json!({"members": [], "unanswered_destination": null})))
        .expect(201, "globex's own sales");
    server.anonymous().get(QUEUES).expect(401, "no token");
}

#[test]
fn statistics_show_live_and_historical_figures_per_queue_and_for_all() {
    let server = Server::start();
    acme_agents_and_a_globex_key(&server);
    let op = server.operator();
    op.post(QUEUES, &sales()).expect(201, "sales");
    op.post(QUEUES, &merge(sales(), json!({"name": "support", "number": "501"}))).expect(201, "support");

    let stats = op.get(&format!("{QUEUES}/sales/stats")).expect(200, "sales stats");
    assert_eq!(stats["queue"], "sales");
    assert_eq!(stats["live"], json!({"waiting": 0, "longest_waiting_ms": 0}));
    assert_eq!(
        stats["historical"],
        json!({"offered": 0, "answered": 0, "abandoned": 0, "unanswered_timed_out": 0, "unanswered_full": 0,
               "average_answer_wait_ms": 0, "average_abandon_wait_ms": 0, "longest_wait_ms": 0, "answered_by": {}})
    );
    let ranged =
        op.get(&format!("{QUEUES}/sales/stats?from=2026-01-01&to=2026-12-31")).expect(200, "a range");
    assert_eq!(ranged["historical"], stats["historical"]);
    op.get(&format!("{QUEUES}/sales/stats?from=2026-12-31&to=2026-01-01"))
        .expect_error_naming_field("from", "a range that ends before it starts");
    op.get(&format!("{QUEUES}/sales/stats?from=yesterday")).expect_client_error("a date that is no date");
    op.get(&format!("{QUEUES}/nobody/stats")).expect(404, "an unknown queue");

    let all = op.get(&format!("{QUEUES}/stats")).expect(200, "every queue's stats");
    let names: Vec<&str> =
        all.as_array().expect("an array").iter().filter_map(|s| s["queue"].as_str()).collect();
    assert_eq!(names, ["sales", "support"]);
    assert_eq!(all[0], stats);
}

#[test]
fn the_openapi_document_lists_the_queue_routes() {
    let server = Server::start();
    let doc = server.anonymous().get("/api/v1/openapi.json").expect(200, "openapi");
    for path in [
        "/api/v1/companies/{company}/queues",
        "/api/v1/companies/{company}/queues/{name}",
        "/api/v1/companies/{company}/queues/{name}/stats",
        "/api/v1/companies/{company}/queues/stats",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing from the OpenAPI document");
    }
    for schema in ["Queue", "QueueBody", "QueueStatsView"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "schema {schema} missing");
    }
}

#[test]
fn deleting_a_user_takes_it_out_of_queues_and_pickup_groups() {
    let server = Server::start();
    acme_agents_and_a_globex_key(&server);
    let op = server.operator();
    op.post(QUEUES, &sales()).expect(201, "create sales");
    let group = json!({"name": "front", "members": ["101", "102"]});
    op.post(&format!("{ACME}/pickup-groups"), &group).expect(201, "create a pickup group");
    op.delete(&format!("{ACME}/users/102")).expect(204, "delete 102");
    let queue = op.get(&format!("{QUEUES}/sales")).expect(200, "sales");
    let agents: Vec<&str> =
        queue["members"].as_array().unwrap().iter().filter_map(|m| m["extension"].as_str()).collect();
    assert_eq!(agents, ["101", "103"], "{queue}");
    let group = op.get(&format!("{ACME}/pickup-groups/front")).expect(200, "front");
    assert_eq!(group["members"], json!(["101"]), "{group}");
    // A new 102 is nobody's agent.
    server.create_user("acme", "102");
    let queue = op.get(&format!("{QUEUES}/sales")).expect(200, "sales again");
    assert_eq!(queue["members"].as_array().map(Vec::len), Some(2));
}
