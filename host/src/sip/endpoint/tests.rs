//! The endpoint's matching rules, each pinned by the RFC 3261 behaviour it implements.

use std::time::Duration;

use super::*;
use crate::store::Store;
use crate::test_rng::XorShift;

fn register(branch: &str) -> Vec<u8> {
    format!(
        "REGISTER sip:nowhere.test SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5071;branch={branch};rport\r\n\
         From: <sip:100@nowhere.test>;tag=a\r\n\
         To: <sip:100@nowhere.test>\r\n\
         Call-ID: reg-1\r\n\
         CSeq: 1 REGISTER\r\n\
         Contact: <sip:100@127.0.0.1:5071>\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

fn request(method: &str, branch: &str, to_tag: Option<&str>, call_id: &str) -> Vec<u8> {
    let to = to_tag.map_or(String::new(), |t| format!(";tag={t}"));
    format!(
        "{method} sip:101@nowhere.test SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5071;branch={branch};rport\r\n\
         From: <sip:100@nowhere.test>;tag=a\r\n\
         To: <sip:101@nowhere.test>{to}\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 {method}\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

fn endpoint() -> Endpoint {
    Endpoint::new(Arc::new(Registrar::new(Store::in_memory().unwrap())))
}

fn source() -> SocketAddr {
    "127.0.0.1:5071".parse().unwrap()
}

fn status_of(packets: &[Packet]) -> Vec<String> {
    packets
        .iter()
        .map(|packet| String::from_utf8_lossy(&packet.bytes).lines().next().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn a_retransmitted_request_is_absorbed_and_gets_the_same_response() {
    let mut endpoint = endpoint();
    let t0 = Instant::now();
    let first = endpoint.on_datagram(&register("z9hG4bK-1"), source(), t0, SystemTime::now());
    let again = endpoint.on_datagram(&register("z9hG4bK-1"), source(), t0, SystemTime::now());
    assert_eq!(first.len(), 1);
    assert_eq!(first, again, "the retransmission is answered from the transaction");
    assert!(String::from_utf8_lossy(&first[0].bytes).starts_with("SIP/2.0 404"), "unknown domain");
    assert_eq!(endpoint.transactions(), 1);

    // Timer J (64*T1 on UDP) ends the transaction; a new branch is a new transaction.
    assert!(endpoint.on_tick(t0 + Duration::from_secs(31)).is_empty());
    assert_eq!(endpoint.transactions(), 1);
    endpoint.on_tick(t0 + Duration::from_secs(33));
    assert_eq!(endpoint.transactions(), 0);
}

#[test]
fn malformed_datagrams_and_stray_responses_get_no_answer() {
    let mut endpoint = endpoint();
    for bytes in [&b"garbage"[..], b"\r\n\r\n", b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"] {
        assert!(endpoint.on_datagram(bytes, source(), Instant::now(), SystemTime::now()).is_empty());
    }
}

#[test]
fn a_cancel_matching_no_invite_gets_481() {
    let mut endpoint = endpoint();
    let out = endpoint.on_datagram(
        &request("CANCEL", "z9hG4bK-c", None, "x"),
        source(),
        Instant::now(),
        SystemTime::now(),
    );
    assert_eq!(status_of(&out), ["SIP/2.0 481 Call/Transaction Does Not Exist"]);
}

#[test]
fn a_bye_outside_any_dialog_gets_481() {
    let mut endpoint = endpoint();
    let out = endpoint.on_datagram(
        &request("BYE", "z9hG4bK-b", Some("t"), "none"),
        source(),
        Instant::now(),
        SystemTime::now(),
    );
    assert_eq!(status_of(&out), ["SIP/2.0 481 Call/Transaction Does Not Exist"]);
}

#[test]
fn an_invite_without_a_call_engine_gets_503_and_its_ack_ends_the_transaction() {
    let mut endpoint = endpoint();
    let t0 = Instant::now();
    let out =
        endpoint.on_datagram(&request("INVITE", "z9hG4bK-i", None, "c1"), source(), t0, SystemTime::now());
    assert_eq!(status_of(&out), ["SIP/2.0 503 Service Unavailable"]);
    // Retransmitted INVITE absorbed: the 503 again, no second transaction.
    let again =
        endpoint.on_datagram(&request("INVITE", "z9hG4bK-i", None, "c1"), source(), t0, SystemTime::now());
    assert_eq!(status_of(&again), ["SIP/2.0 503 Service Unavailable"]);
    assert_eq!(endpoint.transactions(), 1);
    // Timer G retransmits the 503 until the ACK for a non-2xx arrives (same branch).
    assert_eq!(
        status_of(&endpoint.on_tick(t0 + Duration::from_millis(600))),
        ["SIP/2.0 503 Service Unavailable"]
    );
    assert!(
        endpoint
            .on_datagram(&request("ACK", "z9hG4bK-i", Some("x"), "c1"), source(), t0, SystemTime::now())
            .is_empty()
    );
    endpoint.on_tick(t0 + Duration::from_secs(10));
    assert_eq!(endpoint.transactions(), 0, "timer I ended it");
}

#[test]
fn the_same_branch_from_another_sent_by_is_another_transaction() {
    let mut endpoint = endpoint();
    let t0 = Instant::now();
    endpoint.on_datagram(&register("z9hG4bK-1"), source(), t0, SystemTime::now());
    let other =
        String::from_utf8(register("z9hG4bK-1")).unwrap().replace("127.0.0.1:5071;", "127.0.0.9:5071;");
    endpoint.on_datagram(other.as_bytes(), source(), t0, SystemTime::now());
    assert_eq!(endpoint.transactions(), 2);
}

/// An endpoint whose store has company "acme" with a trunk at 127.0.0.1 and DID 3491000,
/// so INVITEs from 127.0.0.1 to the DID are admitted as calls. The calls are kept, not
/// run: events to them wait unread, and a call dropped from the list has ended.
fn endpoint_with_a_trunk() -> (Endpoint, Arc<std::sync::Mutex<Vec<NewCall>>>) {
    use crate::store::records::{Company, Did};
    use crate::store::{COMPANIES, DID_OWNERS, DIDS, company_key};
    let store = Store::in_memory().unwrap();
    let company: Company = serde_json::from_value(serde_json::json!({
        "id": "acme", "name": "Acme", "max_extensions": 10, "time_zone": "UTC",
        "sip_domain": "acme.test", "trunk": {"username": "u", "password": "p", "domain": "127.0.0.1",
        "outbound_proxy": null}, "secondary_trunk": null, "decision_deadline_ms": 10,
        "decision_memory_mib": 16, "created_at": "2026-01-01T00:00:00Z"
    }))
    .unwrap();
    let did: Did = serde_json::from_value(serde_json::json!({
        "company": "acme", "number": "3491000", "description": "", "forward": null, "rules": [],
        "default_destination": "hang_up", "fallback_destination": null, "module": "did-router", "config": {}
    }))
    .unwrap();
    store
        .write(|tx| {
            tx.put(&COMPANIES, "acme", &company)?;
            tx.put(&DIDS, &company_key("acme", "3491000"), &did)?;
            tx.put(&DID_OWNERS, "3491000", &"acme".to_string())
        })
        .unwrap();
    let spawned = Arc::new(std::sync::Mutex::new(Vec::new()));
    let calls = spawned.clone();
    let endpoint = Endpoint::new(Arc::new(Registrar::new(store))).with_calls(Box::new(move |call| {
        calls.lock().unwrap().push(call);
    }));
    (endpoint, spawned)
}

fn trunk_invite(branch: &str, call_id: &str) -> Vec<u8> {
    format!(
        "INVITE sip:3491000@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5071;branch={branch};rport\r\n\
         From: <sip:600@127.0.0.1>;tag=p\r\n\
         To: <sip:3491000@127.0.0.1>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:600@127.0.0.1:5071>\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

#[test]
fn a_retransmitted_invite_is_absorbed_by_its_transaction_and_starts_one_call() {
    let (mut endpoint, spawned) = endpoint_with_a_trunk();
    let t0 = Instant::now();
    let first = endpoint.on_datagram(&trunk_invite("z9hG4bK-t1", "call-1"), source(), t0, SystemTime::now());
    assert_eq!(status_of(&first), ["SIP/2.0 100 Trying"]);
    let again = endpoint.on_datagram(&trunk_invite("z9hG4bK-t1", "call-1"), source(), t0, SystemTime::now());
    assert_eq!(status_of(&again), ["SIP/2.0 100 Trying"], "the last provisional is sent again");
    assert_eq!(spawned.lock().unwrap().len(), 1);
    // The same Call-ID in a new transaction is a loop or a merged request (§8.2.2.2).
    let merged = endpoint.on_datagram(&trunk_invite("z9hG4bK-t2", "call-1"), source(), t0, SystemTime::now());
    assert_eq!(status_of(&merged), ["SIP/2.0 482 Loop Detected"]);
    // A CANCEL for the INVITE is answered 200 (the call gets told and answers 487).
    let cancel = String::from_utf8(request("CANCEL", "z9hG4bK-t1", None, "call-1")).unwrap();
    let out = endpoint.on_datagram(cancel.as_bytes(), source(), t0, SystemTime::now());
    assert_eq!(status_of(&out), ["SIP/2.0 200 OK"]);
}

#[test]
fn a_call_whose_task_ended_is_forgotten_without_telling_the_endpoint() {
    let (mut endpoint, spawned) = endpoint_with_a_trunk();
    let t0 = Instant::now();
    endpoint.on_datagram(&trunk_invite("z9hG4bK-e1", "call-e"), source(), t0, SystemTime::now());
    let bye = String::from_utf8(request("BYE", "z9hG4bK-e2", Some("x"), "call-e")).unwrap();
    assert!(
        endpoint.on_datagram(bye.as_bytes(), source(), t0, SystemTime::now()).is_empty(),
        "the call answers it"
    );

    // The task ends (here: the call is dropped with its events), sending nothing.
    spawned.lock().unwrap().clear();
    let again = String::from_utf8(request("BYE", "z9hG4bK-e3", Some("x"), "call-e")).unwrap();
    let out = endpoint.on_datagram(again.as_bytes(), source(), t0, SystemTime::now());
    assert_eq!(status_of(&out), ["SIP/2.0 481 Call/Transaction Does Not Exist"]);
    // Its Call-ID is free for a new call (no 482 loop) at once.
    let new = endpoint.on_datagram(&trunk_invite("z9hG4bK-e4", "call-e"), source(), t0, SystemTime::now());
    assert_eq!(status_of(&new), ["SIP/2.0 100 Trying"]);
    assert_eq!(spawned.lock().unwrap().len(), 1);
}

#[test]
fn a_flood_of_mutated_messages_never_panics_and_the_endpoint_keeps_answering() {
    let (mut endpoint, calls) = endpoint_with_a_trunk();
    let corpus: Vec<Vec<u8>> = vec![
        trunk_invite("z9hG4bK-f", "f-1"),
        register("z9hG4bK-r"),
        request("CANCEL", "z9hG4bK-f", None, "f-1"),
        request("BYE", "z9hG4bK-b", Some("x"), "f-1"),
        request("ACK", "z9hG4bK-f", Some("x"), "f-1"),
        request("INVITE", "z9hG4bK-re", Some("x"), "f-1"),
        request("OPTIONS", "z9hG4bK-o", None, "o-1"),
        b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKq\r\nCSeq: 1 INVITE\r\n\
          Call-ID: f-1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nContent-Length: 0\r\n\r\n"
            .to_vec(),
    ];
    let mut random = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut next = move || random.next();
    let start = Instant::now();
    for round in 0..20_000u64 {
        let mut message = corpus[(next() % corpus.len() as u64) as usize].clone();
        for _ in 0..(next() % 6) {
            if message.is_empty() {
                break;
            }
            let at = (next() as usize) % message.len();
            match next() % 5 {
                0 => message[at] = next() as u8,
                1 => {
                    message.remove(at);
                }
                2 => message.insert(at, b"\r\n:;<>@=,\"\0 "[(next() % 12) as usize]),
                3 => message.truncate(at),
                _ => {
                    let copy: Vec<u8> = message[at..].iter().take(40).copied().collect();
                    message.extend_from_slice(&copy);
                }
            }
        }
        let now = start + Duration::from_millis(round * 7);
        endpoint.on_datagram(&message, source(), now, SystemTime::now());
        if round % 100 == 0 {
            endpoint.on_tick(now);
        }
    }
    // Still serving: a fresh OPTIONS is answered.
    // The calls' tasks end without answering: the sweep answers their INVITEs with 500,
    // and the transactions then end by their timers.
    calls.lock().unwrap().clear();
    let later = start + Duration::from_secs(200);
    endpoint.on_tick(later);
    endpoint.on_tick(later + Duration::from_secs(40));
    let later = later + Duration::from_secs(40);
    let out = endpoint.on_datagram(
        &request("OPTIONS", "z9hG4bK-last", None, "o-2"),
        source(),
        later,
        SystemTime::now(),
    );
    assert_eq!(status_of(&out), ["SIP/2.0 200 OK"]);
    assert!(endpoint.transactions() < 100, "transactions linger: {}", endpoint.transactions());
}

#[test]
fn an_invite_with_no_hops_left_gets_483() {
    let (mut endpoint, spawned) = endpoint_with_a_trunk();
    let invite = String::from_utf8(trunk_invite("z9hG4bK-mf", "mf-1"))
        .unwrap()
        .replace("CSeq: 1 INVITE\r\n", "CSeq: 1 INVITE\r\nMax-Forwards: 0\r\n");
    let out = endpoint.on_datagram(invite.as_bytes(), source(), Instant::now(), SystemTime::now());
    assert_eq!(status_of(&out), ["SIP/2.0 483 Too Many Hops"]);
    assert!(spawned.lock().unwrap().is_empty());
}

fn response_to(status: &str, branch: &str, method: &str) -> Vec<u8> {
    format!(
        "SIP/2.0 {status}\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5060;branch={branch}\r\n\
         From: <sip:100@nowhere.test>;tag=a\r\n\
         To: <sip:101@nowhere.test>;tag=b\r\n\
         Call-ID: out-1\r\n\
         CSeq: 1 {method}\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

#[test]
fn a_100_trying_stops_the_invite_retransmissions_without_waking_the_call_or_the_sip_thread() {
    let mut endpoint = endpoint();
    let t0 = Instant::now();
    let (events, mut heard) = tokio::sync::mpsc::unbounded_channel();
    let invite = crate::sip::dialog::Outgoing {
        method: Method::Invite,
        branch: "z9hG4bK-out".into(),
        cseq: 1,
        bytes: request("INVITE", "z9hG4bK-out", None, "out-1"),
        dest: source(),
        transport: crate::sip::transport::Transport::Udp,
    };
    let sent =
        endpoint.on_command(Command::Send { request: invite, call_id: "out-1".into(), leg: 7, events }, t0);
    assert_eq!(sent.len(), 1, "the INVITE goes out");

    let trying = endpoint.on_datagram(
        &response_to("100 Trying", "z9hG4bK-out", "INVITE"),
        source(),
        t0,
        SystemTime::now(),
    );
    assert!(trying.is_empty());
    assert!(heard.try_recv().is_err(), "the call is not woken by a 100");
    // Timers A and B stopped: their entries are stale and the SIP thread sleeps on.
    assert_eq!(endpoint.next_deadline(), None);
    // Timer A (T1 = 500 ms) would have retransmitted the INVITE: the 100 stopped it.
    assert!(endpoint.on_tick(t0 + Duration::from_millis(600)).is_empty());

    endpoint.on_datagram(
        &response_to("180 Ringing", "z9hG4bK-out", "INVITE"),
        source(),
        t0,
        SystemTime::now(),
    );
    match heard.try_recv() {
        Ok(CallEvent::Response { leg: 7, response }) => assert_eq!(u16::from(response.status_code), 180),
        other => panic!("the 180 reaches the call: {other:?}"),
    }
}

#[test]
fn a_stopping_host_answers_what_would_start_something_new_with_503_shutting_down() {
    let draining = Draining::default();
    let mut endpoint = endpoint().with_draining(draining.clone());
    let now = Instant::now();
    let before = endpoint.on_datagram(
        &request("OPTIONS", "z9hG4bK-o1", None, "o-1"),
        source(),
        now,
        SystemTime::now(),
    );
    assert_eq!(status_of(&before), ["SIP/2.0 200 OK"]);

    draining.start();
    for (what, bytes) in [
        ("a new call", request("INVITE", "z9hG4bK-i1", None, "i-1")),
        ("a registration", register("z9hG4bK-r1")),
        ("the front's keep-alive", request("OPTIONS", "z9hG4bK-o2", None, "o-2")),
    ] {
        let packets = endpoint.on_datagram(&bytes, source(), now, SystemTime::now());
        assert_eq!(status_of(&packets), ["SIP/2.0 503 Shutting Down"], "{what}");
        let text = String::from_utf8_lossy(&packets[0].bytes);
        assert!(text.contains(&format!("Retry-After: {RETRY_AFTER_S}")), "{what}: {text}");
    }
}

#[test]
fn a_stopping_host_goes_on_with_requests_inside_a_dialog_and_cancels() {
    let draining = Draining::default();
    let mut endpoint = endpoint().with_draining(draining.clone());
    draining.start();
    let now = Instant::now();
    // No call of this host has these Call-IDs: the answers are the usual 481, not 503.
    let bye = endpoint.on_datagram(
        &request("BYE", "z9hG4bK-b1", Some("x"), "gone"),
        source(),
        now,
        SystemTime::now(),
    );
    assert_eq!(status_of(&bye), ["SIP/2.0 481 Call/Transaction Does Not Exist"]);
    let cancel = endpoint.on_datagram(
        &request("CANCEL", "z9hG4bK-c1", None, "gone"),
        source(),
        now,
        SystemTime::now(),
    );
    assert_eq!(status_of(&cancel), ["SIP/2.0 481 Call/Transaction Does Not Exist"]);
}
