//! The registration state machine, fed the responses a provider sends, without sockets or
//! clocks: every instant is `start` plus a known offset.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rsip::SipMessage;

use super::*;
use crate::sip::digest::{parse_authorization, verify};
use crate::sip::wire::{Received, parse_datagram};

const LOCAL: &str = "198.51.100.7:5060";
const PROVIDER: &str = "192.0.2.10:5060";
const CHALLENGE: &str = "Digest realm=\"voip.example\", nonce=\"n1\", qop=\"auth\", algorithm=MD5";

fn account(password: &str) -> TrunkProvider {
    TrunkProvider {
        username: "acme-trunk".into(),
        password: password.into(),
        domain: "voip.example".into(),
        outbound_proxy: None,
        register: true,
    }
}

fn registration() -> Registration {
    Registration::new(account("s3cret"), TrunkSlot::Primary, LOCAL.parse().unwrap(), 3600, Backoff::default())
}

fn provider() -> SocketAddr {
    PROVIDER.parse().unwrap()
}

/// The text of a request we sent.
fn text(request: &Outgoing) -> String {
    String::from_utf8(request.bytes.clone()).unwrap()
}

/// The value of header `name` in `request`, if present.
fn header(request: &Outgoing, name: &str) -> Option<String> {
    text(request).lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim().to_string())
    })
}

/// The provider's answer `status` to `request`, with `extra` header lines.
fn answer(request: &Outgoing, status: u16, extra: &[&str]) -> Response {
    let mut reply = format!("SIP/2.0 {status} {}\r\n", reason_phrase(status));
    for line in text(request).lines() {
        let name = line.split(':').next().unwrap_or_default();
        if ["Via", "From", "Call-ID", "CSeq"].contains(&name) {
            reply.push_str(&format!("{line}\r\n"));
        } else if name == "To" {
            reply.push_str(&format!("{line};tag=prov\r\n"));
        }
    }
    for line in extra {
        reply.push_str(&format!("{line}\r\n"));
    }
    reply.push_str("Content-Length: 0\r\n\r\n");
    match parse_datagram(reply.as_bytes()) {
        Ok(Received::Message(message)) => match *message {
            SipMessage::Response(response) => response,
            other => panic!("not a response: {other}"),
        },
        _ => panic!("unparsable response:\n{reply}"),
    }
}

fn challenge(request: &Outgoing) -> Response {
    answer(request, 401, &[&format!("WWW-Authenticate: {CHALLENGE}")])
}

fn sent(step: Step) -> Outgoing {
    match step {
        Step::Send(request) => request,
        other => panic!("expected a request to send, got {other:?}"),
    }
}

fn slept(step: Step) -> Instant {
    match step {
        Step::Sleep(at) => at,
        other => panic!("expected a sleep, got {other:?}"),
    }
}

/// Register through one challenge; returns the 200's instant and the refresh instant.
fn registered(registration: &mut Registration, start: Instant, contact_expires: u32) -> Instant {
    let first = registration.register(provider(), start);
    let second = sent(registration.on_response(&challenge(&first), start));
    let contact = format!("Contact: <sip:acme-trunk@{LOCAL}>;expires={contact_expires}");
    slept(registration.on_response(&answer(&second, 200, &[&contact]), start))
}

#[test]
fn the_first_register_asks_for_the_configured_expiry_with_our_contact_and_no_credentials() {
    let mut registration = registration();
    let request = registration.register(provider(), Instant::now());
    assert_eq!(request.dest, provider());
    assert!(text(&request).starts_with("REGISTER sip:voip.example SIP/2.0\r\n"), "{}", text(&request));
    assert!(header(&request, "From").unwrap().starts_with("<sip:acme-trunk@voip.example>;tag="));
    assert_eq!(header(&request, "To").unwrap(), "<sip:acme-trunk@voip.example>");
    assert_eq!(header(&request, "Contact").unwrap(), format!("<sip:acme-trunk@{LOCAL}>"));
    assert_eq!(header(&request, "Expires").unwrap(), "3600");
    assert_eq!(header(&request, "Call-ID").unwrap(), registration.call_id());
    assert_eq!(header(&request, "Authorization"), None);
    assert_eq!(registration.status(Instant::now(), Utc::now()).state, TrunkState::Registering);
}

#[test]
fn a_challenge_is_answered_with_valid_credentials_the_same_call_id_and_the_next_cseq() {
    let mut registration = registration();
    let start = Instant::now();
    let first = registration.register(provider(), start);
    let second = sent(registration.on_response(&challenge(&first), start));
    assert_eq!(header(&second, "Call-ID"), header(&first, "Call-ID"));
    assert_eq!(second.cseq, first.cseq + 1);
    assert_eq!(header(&second, "Expires").unwrap(), "3600");
    let credentials = parse_authorization(&header(&second, "Authorization").unwrap()).unwrap();
    assert_eq!(credentials.username, "acme-trunk");
    assert_eq!(credentials.uri, "sip:voip.example");
    assert_eq!(credentials.nonce, "n1");
    assert!(credentials.qop_auth.is_some());
    assert!(verify(&credentials, "s3cret", "REGISTER"));
}

#[test]
fn a_407_is_answered_with_proxy_authorization() {
    let mut registration = registration();
    let first = registration.register(provider(), Instant::now());
    let proxy_challenge = answer(&first, 407, &[&format!("Proxy-Authenticate: {CHALLENGE}")]);
    let second = sent(registration.on_response(&proxy_challenge, Instant::now()));
    assert_eq!(header(&second, "Authorization"), None);
    let credentials = parse_authorization(&header(&second, "Proxy-Authorization").unwrap()).unwrap();
    assert!(verify(&credentials, "s3cret", "REGISTER"));
}

#[test]
fn a_200_takes_our_contacts_expiry_among_the_bindings_and_refreshes_before_it_lapses() {
    let mut registration = registration();
    let start = Instant::now();
    let first = registration.register(provider(), start);
    let second = sent(registration.on_response(&challenge(&first), start));
    let ok = answer(
        &second,
        200,
        &[
            concat!(
                "Contact: <sip:acme-trunk@203.0.113.9:5060>;expires=3000, ",
                "<sip:ACME-trunk@198.51.100.7;transport=udp>;expires=120"
            ),
            "Expires: 3600",
        ],
    );
    let refresh = slept(registration.on_response(&ok, start));
    // 120 s granted: refreshed after 88 s, leaving a transaction timeout (32 s).
    assert_eq!(refresh, start + Duration::from_secs(88));
    let wall = Utc::now();
    let status = registration.status(start, wall);
    assert_eq!(status.state, TrunkState::Registered);
    assert_eq!(status.last_status, Some(200));
    assert_eq!(status.last_error, None);
    assert_eq!(status.registered_until, Some(wall + chrono::Duration::seconds(120)));
    assert_eq!(status.next_attempt, Some(wall + chrono::Duration::seconds(88)));
}

#[test]
fn the_expires_header_counts_when_the_contact_has_no_expiry_and_long_bindings_refresh_at_80_percent() {
    let mut registration = registration();
    let start = Instant::now();
    let first = registration.register(provider(), start);
    let second = sent(registration.on_response(&challenge(&first), start));
    let ok = answer(&second, 200, &[&format!("Contact: <sip:acme-trunk@{LOCAL}>"), "Expires: 3600"]);
    assert_eq!(slept(registration.on_response(&ok, start)), start + Duration::from_secs(2880));
}

#[test]
fn a_refresh_keeps_the_call_id_raises_the_cseq_and_stays_registered_meanwhile() {
    let mut registration = registration();
    let start = Instant::now();
    let refresh_at = registered(&mut registration, start, 120);
    let refresh = registration.register(provider(), refresh_at);
    assert_eq!(header(&refresh, "Call-ID").unwrap(), registration.call_id());
    assert_eq!(refresh.cseq, 3);
    assert_eq!(header(&refresh, "Authorization"), None);
    assert_eq!(registration.status(refresh_at, Utc::now()).state, TrunkState::Registered);
    // The provider challenges the refresh too: answered, since it is a new request.
    let answered = sent(registration.on_response(&challenge(&refresh), refresh_at));
    assert_eq!(answered.cseq, 4);
    assert!(header(&answered, "Authorization").is_some());
}

#[test]
fn a_second_challenge_in_a_row_means_wrong_credentials_and_stops_trying() {
    let mut registration = Registration::new(
        account("wrong"),
        TrunkSlot::Secondary,
        LOCAL.parse().unwrap(),
        3600,
        Backoff::default(),
    );
    let start = Instant::now();
    let first = registration.register(provider(), start);
    let second = sent(registration.on_response(&challenge(&first), start));
    assert!(matches!(registration.on_response(&challenge(&second), start), Step::Stop));
    let status = registration.status(start, Utc::now());
    assert_eq!(status.trunk, TrunkSlot::Secondary);
    assert_eq!(status.state, TrunkState::Failed);
    assert_eq!(status.last_status, Some(401));
    assert!(status.last_error.unwrap().starts_with("rejected:"));
    assert_eq!(status.next_attempt, None);
}

#[test]
fn a_stale_challenge_with_a_fresh_nonce_is_answered_once_more() {
    let mut registration = registration();
    let start = Instant::now();
    let first = registration.register(provider(), start);
    let second = sent(registration.on_response(&challenge(&first), start));
    let stale = |request: &Outgoing, nonce: &str| {
        answer(
            request,
            401,
            &[&format!("WWW-Authenticate: Digest realm=\"voip.example\", nonce=\"{nonce}\", stale=TRUE")],
        )
    };
    let third = sent(registration.on_response(&stale(&second, "n2"), start));
    assert_eq!(parse_authorization(&header(&third, "Authorization").unwrap()).unwrap().nonce, "n2");
    // A second stale one in the same exchange is not believed.
    assert!(matches!(registration.on_response(&stale(&third, "n3"), start), Step::Stop));
}

#[test]
fn a_403_stops_the_registration_and_says_so() {
    let mut registration = registration();
    let start = Instant::now();
    let first = registration.register(provider(), start);
    let second = sent(registration.on_response(&challenge(&first), start));
    assert!(matches!(registration.on_response(&answer(&second, 403, &[]), start), Step::Stop));
    let status = registration.status(start, Utc::now());
    assert_eq!((status.state, status.last_status), (TrunkState::Failed, Some(403)));
    assert!(status.last_error.unwrap().contains("403 Forbidden"));
}

#[test]
fn a_423_asks_again_with_the_providers_min_expires() {
    let mut registration = registration();
    let start = Instant::now();
    let first = registration.register(provider(), start);
    let again = sent(registration.on_response(&answer(&first, 423, &["Min-Expires: 7200"]), start));
    assert_eq!(header(&again, "Expires").unwrap(), "7200");
    // And keeps asking for it on later attempts.
    let ok = answer(&again, 200, &["Expires: 7200"]);
    let refresh_at = slept(registration.on_response(&ok, start));
    assert_eq!(header(&registration.register(provider(), refresh_at), "Expires").unwrap(), "7200");
    // A 423 that asks for no more than we did is nonsense: a failure, retried later.
    let mut other = self::registration();
    let first = other.register(provider(), start);
    slept(other.on_response(&answer(&first, 423, &["Min-Expires: 60"]), start));
    assert_eq!(other.status(start, Utc::now()).state, TrunkState::Failed);
}

#[test]
fn timeouts_retry_after_a_doubling_delay_up_to_a_cap() {
    let mut registration = registration();
    let mut now = Instant::now();
    let mut delays = Vec::new();
    for _ in 0..7 {
        let request = registration.register(provider(), now);
        let retry = slept(registration.on_timeout(request.cseq, now));
        delays.push((retry - now).as_secs());
        now = retry;
    }
    assert_eq!(delays, [30, 60, 120, 240, 480, 600, 600]);
    let status = registration.status(now, Utc::now());
    assert_eq!(status.state, TrunkState::Failed);
    assert!(status.last_error.unwrap().contains("no answer from the provider at 192.0.2.10:5060"));
    // A success resets the delay.
    registered(&mut registration, now, 120);
    let request = registration.register(provider(), now);
    assert_eq!(slept(registration.on_timeout(request.cseq, now)) - now, Duration::from_secs(30));
}

#[test]
fn a_server_error_with_retry_after_is_retried_when_the_provider_asks() {
    let mut registration = registration();
    let start = Instant::now();
    let first = registration.register(provider(), start);
    let retry =
        slept(registration.on_response(&answer(&first, 503, &["Retry-After: 120 (maintenance)"]), start));
    assert_eq!(retry, start + Duration::from_secs(120));
    let status = registration.status(start, Utc::now());
    assert_eq!((status.state, status.last_status), (TrunkState::Failed, Some(503)));
}

#[test]
fn an_unreachable_provider_is_a_failure_retried_later() {
    let mut registration = registration();
    let start = Instant::now();
    let retry = registration.unreachable("cannot resolve the trunk host voip.example".into(), start);
    assert_eq!(retry, start + Duration::from_secs(30));
    let status = registration.status(start, Utc::now());
    assert_eq!(status.state, TrunkState::Failed);
    assert!(status.last_error.unwrap().contains("voip.example"));
}

#[test]
fn provisional_and_late_responses_change_nothing() {
    let mut registration = registration();
    let start = Instant::now();
    let first = registration.register(provider(), start);
    assert!(matches!(registration.on_response(&answer(&first, 100, &[]), start), Step::Wait));
    let second = sent(registration.on_response(&challenge(&first), start));
    // A retransmitted 401 to the first REGISTER, and a timeout of it, arrive late.
    assert!(matches!(registration.on_response(&challenge(&first), start), Step::Wait));
    assert!(matches!(registration.on_timeout(first.cseq, start), Step::Wait));
    let ok = answer(&second, 200, &["Expires: 600"]);
    slept(registration.on_response(&ok, start));
}

#[test]
fn removing_a_registered_trunk_sends_expires_zero_and_answers_its_challenge() {
    let mut registration = registration();
    let start = Instant::now();
    registered(&mut registration, start, 120);
    let goodbye = registration.unregister(start).expect("a live binding is removed");
    assert_eq!(header(&goodbye, "Expires").unwrap(), "0");
    assert_eq!(header(&goodbye, "Contact").unwrap(), format!("<sip:acme-trunk@{LOCAL}>"));
    assert_eq!(header(&goodbye, "Call-ID").unwrap(), registration.call_id());
    let answered = sent(registration.on_response(&challenge(&goodbye), start));
    assert_eq!(header(&answered, "Expires").unwrap(), "0");
    assert!(header(&answered, "Authorization").is_some());
    assert!(matches!(registration.on_response(&answer(&answered, 200, &[]), start), Step::Stop));
}

#[test]
fn nothing_is_unregistered_when_no_binding_can_exist() {
    let mut registration = registration();
    let start = Instant::now();
    assert!(registration.unregister(start).is_none());
    let request = registration.register(provider(), start);
    slept(registration.on_timeout(request.cseq, start));
    assert!(registration.unregister(start).is_none());
    // A binding that lapsed long ago needs no removal either.
    registered(&mut registration, start, 120);
    assert!(registration.unregister(start + Duration::from_secs(121)).is_none());
}

#[test]
fn a_binding_that_lapses_during_its_refresh_shows_as_registering() {
    let mut registration = registration();
    let start = Instant::now();
    registered(&mut registration, start, 120);
    let late = start + Duration::from_secs(200);
    registration.register(provider(), late);
    assert_eq!(registration.status(late, Utc::now()).state, TrunkState::Registering);
}

#[test]
fn uris_compare_as_bindings() {
    assert_eq!(binding_key("sip:Acme@198.51.100.7;transport=udp"), "acme@198.51.100.7:5060");
    assert_eq!(binding_key("sip:acme@[2001:db8::1]"), "acme@[2001:db8::1]:5060");
    assert_eq!(binding_key("sip:acme@[2001:db8::1]:5070"), "acme@[2001:db8::1]:5070");
    assert_eq!(digest_param("Digest realm=\"a, b\", nonce=\"xyz\", stale=true", "realm").unwrap(), "a, b");
    assert_eq!(digest_param("Digest realm=\"a\", stale=TRUE", "stale").unwrap(), "TRUE");
}
