//! Black-box tests of calls between extensions through the B2BUA, with real SIP peers:
//! `sipp` devices register (digest auth) and then answer, ring or refuse in sipp's server
//! mode on the port they registered from; a `sipp` caller authenticates its INVITE (407)
//! and answers, cancels or gets refused. Each scenario is a template in tests/sipp/.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::Server;
use support::sipp::*;

fn password(user: &Value) -> String {
    user["sip_password"].as_str().unwrap().to_string()
}

fn setup(server: &Server) -> (String, String) {
    server.create_company("acme", json!({"sip_domain": DOMAIN}));
    let caller = password(&server.create_user("acme", "100"));
    let callee = password(&server.create_user("acme", "101"));
    (caller, callee)
}

fn cdrs(server: &Server) -> Vec<Value> {
    let reply = server.operator().get("/api/v1/companies/acme/cdrs").expect(200, "CDRs");
    reply["items"].as_array().unwrap().clone()
}

/// Wait until `count` CDRs are stored (the writer batches them off the call path).
fn wait_for_cdrs(server: &Server, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let records = cdrs(server);
        if records.len() >= count || Instant::now() > deadline {
            return records;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_answered_call_connects_both_extensions_and_either_bye_ends_it() {
    let server = Server::start();
    let (caller, callee) = setup(&server);
    let device = Device::start(&server, "101", &callee, "answer", 1);
    let (ok, log) = call(&server, "100", &caller, "101", "answered", &[("TALK_MS", "500")], 1);
    assert!(ok, "the call failed:\n{log}\n{}", server.log());
    let (ok, log) = device.finish();
    assert!(ok, "the device saw something wrong:\n{log}");

    let records = wait_for_cdrs(&server, 1);
    assert_eq!(records.len(), 1, "{records:?}");
    let cdr = &records[0];
    assert_eq!(cdr["status"], "answered");
    assert_eq!(cdr["direction"], "internal");
    assert_eq!(cdr["caller"], "100");
    assert_eq!(cdr["called"], "101");
    assert_eq!(cdr["hangup_cause"], "caller hung up");
    assert!(cdr["answered_at"].is_string(), "{cdr}");
}

#[test]
fn a_busy_device_makes_the_call_busy() {
    let server = Server::start();
    let (caller, callee) = setup(&server);
    let device = Device::start(&server, "101", &callee, "busy", 1);
    let (ok, log) = call(&server, "100", &caller, "101", "refused", &[("FINAL_STATUS", "486")], 1);
    assert!(ok, "the caller did not get 486:\n{log}\n{}", server.log());
    let (ok, log) = device.finish();
    assert!(ok, "{log}");
    let records = wait_for_cdrs(&server, 1);
    assert_eq!(records[0]["status"], "busy", "{records:?}");
}

#[test]
fn the_caller_cancels_while_the_device_rings() {
    let server = Server::start();
    let (caller, callee) = setup(&server);
    let device = Device::start(&server, "101", &callee, "ring", 1);
    let (ok, log) = call(&server, "100", &caller, "101", "cancel", &[], 1);
    assert!(ok, "the caller's CANCEL did not end the call with 487:\n{log}\n{}", server.log());
    let (ok, log) = device.finish();
    assert!(ok, "the device was not cancelled:\n{log}");
    let records = wait_for_cdrs(&server, 1);
    assert_eq!(records[0]["status"], "cancelled", "{records:?}");
}

#[test]
fn a_device_that_never_answers_times_out_with_480() {
    let server = Server::start_with_args(&["--ring-timeout-s", "2"]);
    let (caller, callee) = setup(&server);
    let device = Device::start(&server, "101", &callee, "ring", 1);
    let (ok, log) = call(&server, "100", &caller, "101", "refused", &[("FINAL_STATUS", "480")], 1);
    assert!(ok, "the caller did not get 480 after the ring timeout:\n{log}\n{}", server.log());
    let (ok, log) = device.finish();
    assert!(ok, "the ringing device was not cancelled:\n{log}");
    let records = wait_for_cdrs(&server, 1);
    assert_eq!(records[0]["status"], "no_answer", "{records:?}");
    assert_eq!(records[0]["hangup_cause"], "ring timeout", "{records:?}");
}

#[test]
fn calls_to_unregistered_or_unknown_numbers_and_bad_credentials_are_refused() {
    let server = Server::start();
    let (caller, _) = setup(&server);
    let (ok, log) = call(&server, "100", &caller, "101", "refused", &[("FINAL_STATUS", "480")], 1);
    assert!(ok, "no device registered should give 480:\n{log}");
    let (ok, log) = call(&server, "100", &caller, "sales", "refused", &[("FINAL_STATUS", "404")], 1);
    assert!(ok, "an unknown name should give 404:\n{log}");
    // An outside number needs the company's trunk; without one the call fails clearly.
    let (ok, log) = call(&server, "100", &caller, "0034911234567", "refused", &[("FINAL_STATUS", "503")], 1);
    assert!(ok, "an outside number without a trunk should give 503:\n{log}");
    let (ok, log) = call(&server, "100", "wrong-password", "101", "refused", &[("FINAL_STATUS", "403")], 1);
    assert!(ok, "a wrong password should give 403:\n{log}");
}

#[test]
fn ten_concurrent_calls_all_connect() {
    let server = Server::start();
    let (caller, callee) = setup(&server);
    let device = Device::start(&server, "101", &callee, "answer", 10);
    let (ok, log) = call(&server, "100", &caller, "101", "answered", &[("TALK_MS", "2000")], 10);
    assert!(ok, "not every concurrent call connected:\n{log}\n{}", server.log());
    let (ok, log) = device.finish();
    assert!(ok, "{log}");
    let records = wait_for_cdrs(&server, 10);
    assert_eq!(records.len(), 10);
    assert!(records.iter().all(|r| r["status"] == "answered"), "{records:?}");
}

#[test]
fn an_extension_of_another_company_cannot_call_in() {
    let server = Server::start();
    let (_, callee) = setup(&server);
    server.create_company("other", json!({"sip_domain": "other.centralita.test"}));
    let outsider = password(&server.create_user("other", "100"));
    let device = Device::start(&server, "101", &callee, "answer", 1);
    // other's extension 100 with its own password, presenting acme's domain: refused.
    let (ok, log) = call(&server, "100", &outsider, "101", "refused", &[("FINAL_STATUS", "403")], 1);
    assert!(ok, "another company's credentials placed a call into acme:\n{log}");
    device.stop();
}

#[test]
fn a_call_from_the_trunk_to_a_did_is_routed_by_the_did_module_to_an_extension() {
    let server = Server::start();
    server.create_company(
        "acme",
        json!({"sip_domain": DOMAIN, "trunk": {"username": "acme", "password": "p", "domain": "127.0.0.1"}}),
    );
    server.create_user("acme", "100");
    let callee = password(&server.create_user("acme", "101"));
    server.create_did(
        "acme",
        &json!({"number": "34910000000", "description": "main", "default_destination": {"extension": "101"},
                "rules": [{"order": 1, "caller_id": "999.*", "destination": "hang_up"}]}),
    );
    let device = Device::start(&server, "101", &callee, "answer", 1);
    let (ok, log) = provider_call(&server, "34910000000", "answered", &[("TALK_MS", "300")], 1);
    assert!(ok, "the DID call did not connect:\n{log}\n{}", server.log());
    let (ok, log) = device.finish();
    assert!(ok, "{log}");
    let records = wait_for_cdrs(&server, 1);
    let cdr = &records[0];
    assert_eq!(cdr["direction"], "inbound", "{cdr}");
    assert_eq!(cdr["caller"], "34600111222", "{cdr}");
    assert_eq!(cdr["called"], "34910000000", "{cdr}");
    assert_eq!(cdr["destination"], "extension 101", "{cdr}");
    assert_eq!(cdr["status"], "answered", "{cdr}");

    // A number that is no DID, from the provider's address, is not a trunk call: it is
    // taken for an extension's call, and no company has the provider's domain.
    let (ok, log) = provider_call(&server, "34910000099", "refused", &[("FINAL_STATUS", "404")], 1);
    assert!(ok, "an unknown DID was not refused:\n{log}");
}

#[test]
fn a_did_call_from_an_address_that_is_not_the_provider_is_not_admitted() {
    let server = Server::start();
    server.create_company(
        "acme",
        json!({"sip_domain": DOMAIN, "trunk": {"username": "acme", "password": "p", "domain": "192.0.2.10"}}),
    );
    server.create_user("acme", "101");
    server.create_did(
        "acme",
        &json!({"number": "34910000000", "description": "", "default_destination": {"extension": "101"}}),
    );
    let (ok, log) = provider_call(&server, "34910000000", "refused", &[("FINAL_STATUS", "404")], 1);
    assert!(ok, "a DID call from a stranger's address was not refused:\n{log}");
}

#[test]
fn hold_and_resume_re_invites_reach_the_other_side_with_their_direction() {
    let server = Server::start();
    let (caller, callee) = setup(&server);
    let device = Device::start(&server, "101", &callee, "hold", 1);
    let (ok, log) = call(&server, "100", &caller, "101", "hold", &[("HOLD_MS", "1")], 1);
    assert!(ok, "hold/resume failed at the caller:\n{log}\n{}", server.log());
    let (ok, log) = device.finish();
    assert!(ok, "the device did not see sendonly then sendrecv:\n{log}");
}

#[test]
fn an_alias_rings_its_real_extension() {
    let server = Server::start();
    let (caller, callee) = setup(&server);
    server
        .operator()
        .post(
            "/api/v1/companies/acme/aliases",
            &json!({"number": "9", "target": "101", "display_name": "Reception", "description": ""}),
        )
        .expect(201, "alias");
    let device = Device::start(&server, "101", &callee, "answer", 1);
    let (ok, log) = call(&server, "100", &caller, "9", "answered", &[("TALK_MS", "200")], 1);
    assert!(ok, "dialling the alias did not reach 101:\n{log}\n{}", server.log());
    let (ok, log) = device.finish();
    assert!(ok, "{log}");
    let records = wait_for_cdrs(&server, 1);
    assert_eq!(records[0]["destination"], "extension 101", "{records:?}");
}

#[test]
fn the_permissions_module_is_asked_before_every_call() {
    let server = Server::start();
    server.create_company(
        "acme",
        json!({"sip_domain": DOMAIN, "permissions_config": {"blocked-prefixes": ["0034806"]}}),
    );
    let free = password(&server.create_user("acme", "100"));
    let body = support::merge(support::user_body("102"), json!({"internal_only": true}));
    let internal_only = server.operator().post("/api/v1/companies/acme/users", &body).expect(201, "user 102");
    let internal_only = password(&internal_only);
    let callee = password(&server.create_user("acme", "101"));

    // A blocked prefix is refused before any trunk is tried (403, CDR "refused").
    let (ok, log) = call(&server, "100", &free, "0034806123456", "refused", &[("FINAL_STATUS", "403")], 1);
    assert!(ok, "a blocked prefix was not refused:\n{log}");
    // An allowed outside number passes the policy (and fails later: no trunk yet).
    let (ok, log) = call(&server, "100", &free, "0034911234567", "refused", &[("FINAL_STATUS", "503")], 1);
    assert!(ok, "an allowed outside number was refused by the policy:\n{log}");
    // An internal-only user cannot call outside but can call a colleague.
    let (ok, log) =
        call(&server, "102", &internal_only, "0034911234567", "refused", &[("FINAL_STATUS", "403")], 1);
    assert!(ok, "an internal-only user called outside:\n{log}");
    let device = Device::start(&server, "101", &callee, "answer", 1);
    let (ok, log) = call(&server, "102", &internal_only, "101", "answered", &[("TALK_MS", "200")], 1);
    assert!(ok, "an internal-only user could not call a colleague:\n{log}\n{}", server.log());
    let (ok, log) = device.finish();
    assert!(ok, "{log}");

    let records = wait_for_cdrs(&server, 4);
    let refused: Vec<&Value> = records.iter().filter(|r| r["status"] == "refused").collect();
    assert_eq!(refused.len(), 2, "{records:?}");
    assert!(refused.iter().any(|r| r["hangup_cause"] == "blocked prefix 0034806"), "{refused:?}");
    assert!(refused.iter().any(|r| r["hangup_cause"] == "internal calls only"), "{refused:?}");
}

#[test]
fn an_outside_call_goes_through_the_trunk_with_the_users_caller_id_and_answers_the_providers_challenge() {
    let server = Server::start();
    let provider_port = support::free_port_tcp_udp();
    // The provider knows the PBX by its address: a REGISTER would be a call its sipp
    // does not expect.
    server.create_company(
        "acme",
        json!({"sip_domain": DOMAIN, "trunk": {"username": TRUNK_USER, "password": TRUNK_PASSWORD,
               "domain": "provider.test", "outbound_proxy": format!("127.0.0.1:{provider_port}"), "register": false}}),
    );
    server.create_did(
        "acme",
        &json!({"number": "34910000000", "description": "", "default_destination": "hang_up"}),
    );
    let body = support::merge(support::user_body("100"), json!({"outgoing_caller_id": "34910000000"}));
    let user = server.operator().post("/api/v1/companies/acme/users", &body).expect(201, "user 100");
    let caller = password(&user);

    let provider = Device::provider(provider_port, "34910000000");

    let (ok, log) = call(&server, "100", &caller, "0034911234567", "answered", &[("TALK_MS", "300")], 1);
    if !ok {
        let (_, provider_log) = provider.finish();
        panic!("the outside call did not connect:\n{log}\n{}\nprovider:\n{provider_log}", server.log());
    }
    let (ok, log) = provider.finish();
    assert!(ok, "the provider saw a wrong caller id or credentials:\n{log}");
    let records = wait_for_cdrs(&server, 1);
    let cdr = &records[0];
    assert_eq!(cdr["direction"], "outbound", "{cdr}");
    assert_eq!(cdr["destination"], "0034911234567", "{cdr}");
    assert_eq!(cdr["status"], "answered", "{cdr}");
}

#[test]
fn a_caller_on_tcp_reaches_a_device_on_udp_and_both_hang_up_cleanly() {
    let server = Server::start();
    let (caller, callee) = setup(&server);
    let device = Device::start(&server, "101", &callee, "answer", 1);
    let (ok, log) =
        call_with(&server, "100", &caller, "101", "answered", &[("TALK_MS", "300")], 1, &["-t", "t1"]);
    assert!(ok, "the call over TCP failed:\n{log}\n{}", server.log());
    let (ok, log) = device.finish();
    assert!(ok, "{log}");
    assert_eq!(wait_for_cdrs(&server, 1)[0]["status"], "answered");
}

#[test]
fn devices_ring_in_order_and_the_next_group_rings_when_the_first_is_busy() {
    let server = Server::start();
    let (caller, callee) = setup(&server);
    let devices = "/api/v1/companies/acme/users/101/devices";
    for (id, order) in [("desk", 1), ("mobile", 2), ("old", 0)] {
        let body = json!({"id": id, "name": id, "kind": "softphone", "order": order});
        server.operator().post(devices, &body).expect(201, "device");
    }
    // desk (order 1) is busy, so mobile (order 2) rings and answers. old (order 0) must
    // never ring: had it rung it would have answered at once (and then been hung up as the
    // loser), completing its one call; stopped with no call, its sipp reports failure.
    let desk = Device::start_as(&server, "101", &callee, "101-desk", "busy", 1);
    let mobile = Device::start_as(&server, "101", &callee, "101-mobile", "answer", 1);
    let old = Device::start_as(&server, "101", &callee, "101-old", "answer", 1);
    let (ok, log) = call(&server, "100", &caller, "101", "answered", &[("TALK_MS", "300")], 1);
    assert!(ok, "the second group did not take the call:\n{log}\n{}", server.log());
    let (ok, log) = desk.finish();
    assert!(ok, "the first group (desk) was not rung first:\n{log}");
    let (ok, log) = mobile.finish();
    assert!(ok, "{log}");
    let (ok, log) = old.finish_quickly();
    assert!(!ok, "a device with order 0 was rung:\n{log}");

    wait_for_cdrs(&server, 1);
    let csv = server.operator().get("/api/v1/companies/acme/cdrs.csv");
    assert_eq!(csv.status, 200);
    assert!(csv.text.lines().count() == 2 && csv.text.contains("answered"), "{}", csv.text);
}

#[test]
fn a_did_rule_can_hang_up_and_a_did_can_forward_to_an_external_number_through_the_trunk() {
    let server = Server::start();
    let provider_port = support::free_port_tcp_udp();
    // The provider knows the PBX by its address: a REGISTER would be a call its sipp
    // does not expect.
    server.create_company(
        "acme",
        json!({"sip_domain": DOMAIN, "trunk": {"username": TRUNK_USER, "password": TRUNK_PASSWORD,
               "domain": "127.0.0.1", "outbound_proxy": format!("127.0.0.1:{provider_port}"), "register": false}}),
    );
    server
        .operator()
        .post(
            "/api/v1/companies/acme/external-numbers",
            &json!({"name": "support", "number": "0034911111111", "description": ""}),
        )
        .expect(201, "external number");
    server.create_did(
        "acme",
        &json!({"number": "34910000000", "description": "", "default_destination": {"external_number": "support"},
                "rules": [{"order": 1, "caller_id": "34699.*", "destination": "hang_up"}]}),
    );

    // A caller the rule names is hung up on (603), and nothing reaches the provider.
    let (ok, log) =
        provider_call_from(&server, "34910000000", "34699000000", "refused", &[("FINAL_STATUS", "603")], 1);
    assert!(ok, "the hang-up rule did not refuse the call:\n{log}\n{}", server.log());

    // Anyone else is forwarded to the external number through the trunk, showing the
    // outside caller's number.
    let provider = Device::provider(provider_port, "34600111222");
    let (ok, log) = provider_call(&server, "34910000000", "answered", &[("TALK_MS", "300")], 1);
    if !ok {
        let (_, provider_log) = provider.finish();
        panic!("the forwarded call did not connect:\n{log}\n{}\nprovider:\n{provider_log}", server.log());
    }
    let (ok, log) = provider.finish();
    assert!(ok, "the provider did not see the forwarded call as expected:\n{log}");
    let records = wait_for_cdrs(&server, 2);
    assert_eq!(records.len(), 2, "{records:?}");
    // Newest first: the forwarded call, then the refused one.
    assert_eq!(records[0]["destination"], "0034911111111", "{records:?}");
    assert_eq!(records[0]["status"], "answered", "{records:?}");
    assert_eq!(records[1]["status"], "refused", "{records:?}");
    assert_eq!(records[1]["hangup_cause"], "the DID's rule hangs up", "{records:?}");
}
