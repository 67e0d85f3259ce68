//! The endpoint's matching rules, each pinned by the RFC 3261 behaviour it implements.

use std::time::Duration;

use super::*;
use crate::store::Store;

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
    packets.iter().map(|(bytes, _)| String::from_utf8_lossy(bytes).lines().next().unwrap_or_default().to_string()).collect()
}

#[test]
fn a_retransmitted_request_is_absorbed_and_gets_the_same_response() {
    let mut endpoint = endpoint();
    let t0 = Instant::now();
    let first = endpoint.on_datagram(&register("z9hG4bK-1"), source(), t0, SystemTime::now());
    let again = endpoint.on_datagram(&register("z9hG4bK-1"), source(), t0, SystemTime::now());
    assert_eq!(first.len(), 1);
    assert_eq!(first, again, "the retransmission is answered from the transaction");
    assert!(String::from_utf8_lossy(&first[0].0).starts_with("SIP/2.0 404"), "unknown domain");
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
    let out = endpoint.on_datagram(&request("CANCEL", "z9hG4bK-c", None, "x"), source(), Instant::now(), SystemTime::now());
    assert_eq!(status_of(&out), ["SIP/2.0 481 Call/Transaction Does Not Exist"]);
}

#[test]
fn a_bye_outside_any_dialog_gets_481() {
    let mut endpoint = endpoint();
    let out = endpoint.on_datagram(&request("BYE", "z9hG4bK-b", Some("t"), "none"), source(), Instant::now(), SystemTime::now());
    assert_eq!(status_of(&out), ["SIP/2.0 481 Call/Transaction Does Not Exist"]);
}

#[test]
fn an_invite_without_a_call_engine_gets_503_and_its_ack_ends_the_transaction() {
    let mut endpoint = endpoint();
    let t0 = Instant::now();
    let out = endpoint.on_datagram(&request("INVITE", "z9hG4bK-i", None, "c1"), source(), t0, SystemTime::now());
    assert_eq!(status_of(&out), ["SIP/2.0 503 Service Unavailable"]);
    // Retransmitted INVITE absorbed: the 503 again, no second transaction.
    let again = endpoint.on_datagram(&request("INVITE", "z9hG4bK-i", None, "c1"), source(), t0, SystemTime::now());
    assert_eq!(status_of(&again), ["SIP/2.0 503 Service Unavailable"]);
    assert_eq!(endpoint.transactions(), 1);
    // Timer G retransmits the 503 until the ACK for a non-2xx arrives (same branch).
    assert_eq!(status_of(&endpoint.on_tick(t0 + Duration::from_millis(600))), ["SIP/2.0 503 Service Unavailable"]);
    assert!(endpoint.on_datagram(&request("ACK", "z9hG4bK-i", Some("x"), "c1"), source(), t0, SystemTime::now()).is_empty());
    endpoint.on_tick(t0 + Duration::from_secs(10));
    assert_eq!(endpoint.transactions(), 0, "timer I ended it");
}

#[test]
fn the_same_branch_from_another_sent_by_is_another_transaction() {
    let mut endpoint = endpoint();
    let t0 = Instant::now();
    endpoint.on_datagram(&register("z9hG4bK-1"), source(), t0, SystemTime::now());
    let other = String::from_utf8(register("z9hG4bK-1")).unwrap().replace("127.0.0.1:5071;", "127.0.0.9:5071;");
    endpoint.on_datagram(other.as_bytes(), source(), t0, SystemTime::now());
    assert_eq!(endpoint.transactions(), 2);
}
