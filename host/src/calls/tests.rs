//! The B2BUA's call semantics without a network: the test plays the SIP endpoint, reading
//! the call's [`Command`]s and feeding it [`CallEvent`]s, so races that real phones hit
//! only by chance (a CANCEL crossing a 200, two devices answering at once, a BYE before
//! the answer) are pinned exactly.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rsip::{Request, SipMessage};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::*;
use crate::media::ports::PortRange;
use crate::sandbox::Sandbox;
use crate::sandbox::counters::Counters;
use crate::security::Guard;
use crate::sip::dialog::param;
use crate::sip::endpoint::tu::{CallEvent, Caller, LegId, NewCall, ServerTx};
use crate::sip::registrar::service::Registrar;
use crate::sip::wire::{Received, parse_datagram};
use crate::store::records::{Company, Device, DeviceKind, Did, Role, User};
use crate::store::{COMPANIES, DEVICES, DID_OWNERS, DIDS, Store, USERS, company_key, device_key};

const DID_NUMBER: &str = "3491000";

fn parse(bytes: &[u8]) -> SipMessage {
    match parse_datagram(bytes) {
        Ok(Received::Message(message)) => *message,
        other => panic!("unparsable message {other:?}: {}", String::from_utf8_lossy(bytes)),
    }
}

fn device(n: u16) -> SocketAddr {
    format!("127.0.0.1:{}", 15000 + n).parse().unwrap()
}

/// An app with company acme, extension 101 registered from `devices` devices, and a DID
/// forwarded to 101 (no module runs), plus a call engine whose commands the test reads.
fn engine(devices: u16) -> (Arc<CallEngine>, UnboundedReceiver<Command>, Store) {
    let store = Store::in_memory().unwrap();
    let app = App {
        sandbox: Arc::new(Sandbox::new(store.clone(), None, false).unwrap()),
        counters: Arc::new(Counters::default()),
        registrar: Arc::new(Registrar::new(store.clone())),
        security: Arc::new(Guard::load(store.clone(), Default::default()).unwrap()),
        mail: crate::mail::Mailer::disabled(),
        prompts: crate::prompts::Prompts::default(),
        data_dir: None,
        queue_stats: crate::routing::queue::stats::QueueStats::new(store.clone()),
        events: Default::default(),
        rooms: Default::default(),
        store: store.clone(),
    };
    let company: Company = serde_json::from_value(serde_json::json!({
        "id": "acme", "name": "Acme", "max_extensions": 10, "time_zone": "UTC", "sip_domain": "acme.test",
        "trunk": {"username": "u", "password": "p", "domain": "127.0.0.1", "outbound_proxy": null},
        "secondary_trunk": null, "decision_deadline_ms": 100, "decision_memory_mib": 16,
        "created_at": "2026-01-01T00:00:00Z"
    }))
    .unwrap();
    let did: Did = serde_json::from_value(serde_json::json!({
        "company": "acme", "number": DID_NUMBER, "description": "", "forward": {"extension": "101"},
        "rules": [], "default_destination": "hang_up", "fallback_destination": null,
        "module": "did-router", "config": {}
    }))
    .unwrap();
    let user = User {
        company: "acme".into(),
        extension: "101".into(),
        role: Role::User,
        email: "bo@acme.test".into(),
        full_name: "Bo".into(),
        portal_password_hash: None,
        internal_only: false,
        mobile: None,
        sip_password: "secret".into(),
        sip_password_expires_at: None,
        outgoing_caller_id: None,
        recording: Default::default(),
        web_phone_mode: Default::default(),
        created_at: Utc::now(),
    };
    store
        .write(|tx| {
            tx.put(&COMPANIES, "acme", &company)?;
            tx.put(&DIDS, &company_key("acme", DID_NUMBER), &did)?;
            tx.put(&DID_OWNERS, DID_NUMBER, &"acme".to_string())?;
            tx.put(&USERS, &company_key("acme", "101"), &user)
        })
        .unwrap();
    for n in 1..=devices {
        app.registrar.bind_for_tests("acme", "101", &format!("<sip:101@{}>", device(n)), device(n));
    }
    let media = crate::media::relay::MediaRelay::new(
        "127.0.0.1".parse().unwrap(),
        "127.0.0.1".parse().unwrap(),
        PortRange::new(42000, 42999).unwrap(),
    );
    let (commands, queue) = unbounded_channel();
    let cdrs = CdrWriter::start(store.clone()).unwrap();
    let mut settings = CallSettings::new("127.0.0.1:5060".parse().unwrap());
    // Short enough that a test sees a second ring group within its 5 s wait.
    settings.group_ring_time = Duration::from_millis(300);
    (CallEngine::new(app, media, commands, cdrs, settings), queue, store)
}

const OFFER: &str = "v=0\r\no=p 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
    m=audio 30000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

fn provider_invite(offer: &str) -> Request {
    let content_type = if offer.is_empty() { "" } else { "Content-Type: application/sdp\r\n" };
    let text = format!(
        "INVITE sip:{DID_NUMBER}@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-in;rport\r\n\
         From: <sip:600@127.0.0.1>;tag=prov\r\nTo: <sip:{DID_NUMBER}@127.0.0.1>\r\nCall-ID: in-1\r\n\
         CSeq: 1 INVITE\r\nContact: <sip:600@127.0.0.1:5099>\r\n{content_type}\
         Content-Length: {}\r\n\r\n{offer}",
        offer.len()
    );
    match parse(text.as_bytes()) {
        SipMessage::Request(request) => request,
        _ => unreachable!("a request"),
    }
}

/// The test's side of one call: the endpoint as the call sees it.
struct Harness {
    engine: Arc<CallEngine>,
    commands: UnboundedReceiver<Command>,
    events: UnboundedSender<CallEvent>,
    store: Store,
}

/// What the call did, one command at a time, in a form tests can match.
#[derive(Debug)]
enum Observed {
    /// Answered the caller's INVITE (or another server transaction) with this status.
    Responded(u16, ServerTx, Vec<u8>),
    /// Sent a request for a leg.
    Sent { method: rsip::Method, leg: LegId, bytes: Vec<u8> },
    /// The call ended: its task dropped its events.
    Finished,
}

impl Harness {
    fn start(devices: u16) -> Harness {
        Harness::start_with(devices, OFFER)
    }

    /// A call whose INVITE carries `offer` (empty: a delayed offer).
    fn start_with(devices: u16, offer: &str) -> Harness {
        let (engine, commands, store) = engine(devices);
        Harness::call(engine, commands, store, offer)
    }

    /// A call to 101, whose desk phone rings first and whose mobile rings after the
    /// group time (ring order 1, then 2).
    fn start_desk_then_mobile() -> Harness {
        let (engine, commands, store) = engine(0);
        for (n, id, order) in [(1, "desk", 1), (2, "mobile", 2)] {
            let sip_username = format!("101-{id}");
            let record = Device {
                company: "acme".into(),
                extension: "101".into(),
                id: id.into(),
                name: id.into(),
                kind: DeviceKind::DeskPhone,
                order,
                enabled: true,
                sip_username: sip_username.clone(),
                created_at: Utc::now(),
            };
            store.write(|tx| tx.put(&DEVICES, &device_key("acme", "101", id), &record)).unwrap();
            let contact = format!("<sip:{sip_username}@{}>", device(n));
            engine.app.registrar.bind_for_tests("acme", "101", &contact, device(n));
        }
        Harness::call(engine, commands, store, OFFER)
    }

    fn call(
        engine: Arc<CallEngine>,
        commands: UnboundedReceiver<Command>,
        store: Store,
        offer: &str,
    ) -> Harness {
        let (events_sender, events) = unbounded_channel();
        let new_call = NewCall {
            request: Box::new(provider_invite(offer)),
            source: "127.0.0.1:5099".parse().unwrap(),
            tx: ServerTx("invite".into()),
            caller: Caller::Trunk { company: "acme".into(), did: DID_NUMBER.into() },
            events,
            events_sender: events_sender.clone(),
        };
        tokio::spawn(b2bua::run(Arc::clone(&engine), new_call));
        Harness { engine, commands, events: events_sender, store }
    }

    async fn next(&mut self) -> Observed {
        let next = async {
            tokio::select! {
                // What the call said before it ended comes first.
                biased;
                command = self.commands.recv() => Some(command.expect("the call's command channel closed")),
                // The endpoint forgets a call once its task drops its events.
                () = self.events.closed() => None,
            }
        };
        let command =
            tokio::time::timeout(Duration::from_secs(5), next).await.expect("the call said nothing for 5 s");
        let Some(command) = command else { return Observed::Finished };
        match command {
            Command::Respond { tx, status, bytes } => Observed::Responded(status, tx, bytes),
            Command::Send { request, leg, .. } => {
                Observed::Sent { method: request.method, leg, bytes: request.bytes }
            }
            Command::Finished { .. } => Observed::Finished,
        }
    }

    /// The next command, which must be a request of `method`; its leg and bytes.
    async fn expect_sent(&mut self, method: rsip::Method) -> (LegId, Vec<u8>) {
        match self.next().await {
            Observed::Sent { method: m, leg, bytes } if m == method => (leg, bytes),
            other => panic!("expected a {method} to be sent, the call did {other:?}"),
        }
    }

    async fn expect_response(&mut self, status: u16) -> ServerTx {
        self.expect_response_bytes(status).await.0
    }

    async fn expect_response_bytes(&mut self, status: u16) -> (ServerTx, Vec<u8>) {
        match self.next().await {
            Observed::Responded(s, tx, bytes) if s == status => (tx, bytes),
            other => panic!("expected a {status} response, the call did {other:?}"),
        }
    }

    /// Feed the call a device's response `status` to the request `sent` on `leg`.
    fn respond(&self, leg: LegId, sent: &[u8], status: u16, to_tag: &str) {
        let SipMessage::Request(request) = parse(sent) else { panic!("not a request") };
        let headers: String = request
            .headers
            .iter()
            .filter(|h| {
                matches!(
                    h,
                    rsip::Header::Via(_)
                        | rsip::Header::From(_)
                        | rsip::Header::CallId(_)
                        | rsip::Header::CSeq(_)
                )
            })
            .map(|h| format!("{h}\r\n"))
            .collect();
        let to = request.headers.iter().find_map(|h| match h {
            rsip::Header::To(to) => Some(to.to_string()),
            _ => None,
        });
        let body = if (200..300).contains(&status) {
            "v=0\r\no=d 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 31000 RTP/AVP 0\r\n"
        } else {
            ""
        };
        let contact = format!("Contact: <sip:101@127.0.0.1:{}>\r\n", 15000 + leg);
        let text = format!(
            "SIP/2.0 {status} {}\r\n{headers}{};tag={to_tag}\r\n{contact}Content-Length: {}\r\n\r\n{body}",
            crate::sip::message::reason_phrase(status),
            to.unwrap(),
            body.len()
        );
        let SipMessage::Response(response) = parse(text.as_bytes()) else { panic!("not a response") };
        self.events.send(CallEvent::Response { leg, response: Box::new(response) }).unwrap();
    }

    fn event(&self, event: CallEvent) {
        self.events.send(event).unwrap();
    }

    async fn cdr_status(&self) -> String {
        for _ in 0..100 {
            let cdrs = crate::cdr::find(&self.store, "acme", &Default::default()).unwrap();
            if let Some(cdr) = cdrs.first() {
                return serde_json::to_value(cdr.status).unwrap().as_str().unwrap().to_string();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no CDR was written");
    }
}

fn caller_request(method: &str, branch: &str) -> Box<Request> {
    let text = format!(
        "{method} sip:{DID_NUMBER}@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5099;branch={branch}\r\n\
         From: <sip:600@127.0.0.1>;tag=prov\r\nTo: <sip:{DID_NUMBER}@127.0.0.1>;tag=ours\r\nCall-ID: in-1\r\n\
         CSeq: 2 {method}\r\nContent-Length: 0\r\n\r\n"
    );
    match parse(text.as_bytes()) {
        SipMessage::Request(request) => Box::new(request),
        _ => unreachable!("a request"),
    }
}

#[tokio::test]
async fn forked_2xx_the_first_answer_wins_and_a_late_second_answer_is_acked_and_hung_up() {
    let mut call = Harness::start(2);
    let (leg_a, invite_a) = call.expect_sent(rsip::Method::Invite).await;
    let (leg_b, invite_b) = call.expect_sent(rsip::Method::Invite).await;
    assert_ne!(leg_a, leg_b);
    call.respond(leg_a, &invite_a, 180, "a");
    call.expect_response(180).await;
    call.respond(leg_b, &invite_b, 180, "b");
    // Device A answers first: ACKed, B cancelled (it has rung, so CANCEL is allowed now).
    call.respond(leg_a, &invite_a, 200, "a");
    assert_eq!(call.expect_sent(rsip::Method::Ack).await.0, leg_a);
    let (cancel_leg, cancel) = call.expect_sent(rsip::Method::Cancel).await;
    assert_eq!(cancel_leg, leg_b);
    let cancel = String::from_utf8(cancel).unwrap();
    let branch_of = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes).to_string();
        let via = text.lines().find(|l| l.starts_with("Via:")).unwrap_or_default().to_string();
        param(&format!("<>{via}"), "branch").map(str::to_string)
    };
    assert_eq!(branch_of(cancel.as_bytes()), branch_of(&invite_b), "a CANCEL reuses its INVITE's branch");
    call.expect_response(200).await;
    // The CANCEL crossed B's 200 on the wire: B answered anyway. It gets ACK and BYE.
    call.respond(leg_b, &invite_b, 200, "b");
    assert_eq!(call.expect_sent(rsip::Method::Ack).await.0, leg_b);
    assert_eq!(call.expect_sent(rsip::Method::Bye).await.0, leg_b);
    // The caller ACKs and hangs up; the winner gets the BYE.
    call.event(CallEvent::Request {
        tx: None,
        request: caller_request("ACK", "z9hG4bK-ack"),
        source: "127.0.0.1:5099".parse().unwrap(),
    });
    call.event(CallEvent::Request {
        tx: Some(ServerTx("bye".into())),
        request: caller_request("BYE", "z9hG4bK-bye"),
        source: "127.0.0.1:5099".parse().unwrap(),
    });
    call.expect_response(200).await;
    assert_eq!(call.expect_sent(rsip::Method::Bye).await.0, leg_a);
    assert!(matches!(call.next().await, Observed::Finished));
    assert_eq!(call.cdr_status().await, "answered");
}

#[tokio::test]
async fn cancel_before_any_provisional_waits_for_one_then_cancels() {
    let mut call = Harness::start(1);
    let (leg, invite) = call.expect_sent(rsip::Method::Invite).await;
    call.event(CallEvent::Cancelled);
    call.expect_response(487).await;
    // §9.1: no provisional yet, so no CANCEL yet; the device's 180 releases it.
    call.respond(leg, &invite, 180, "d");
    assert_eq!(call.expect_sent(rsip::Method::Cancel).await.0, leg);
    call.respond(leg, &invite, 487, "d");
    assert!(matches!(call.next().await, Observed::Finished));
    assert_eq!(call.cdr_status().await, "cancelled");
}

#[tokio::test]
async fn a_device_given_up_on_twice_before_its_487_gets_one_cancel() {
    let mut call = Harness::start_desk_then_mobile();
    let (desk, desk_invite) = call.expect_sent(rsip::Method::Invite).await;
    call.respond(desk, &desk_invite, 180, "desk");
    call.expect_response(180).await;
    // The desk's group time ends: its CANCEL goes, and the mobile rings.
    assert_eq!(call.expect_sent(rsip::Method::Cancel).await.0, desk);
    let (mobile, mobile_invite) = call.expect_sent(rsip::Method::Invite).await;
    assert_ne!(mobile, desk);
    // The mobile answers before the desk's 487 came: the desk, still early, is not
    // cancelled a second time (a phone answers a second CANCEL with an error, sipp aborts).
    call.respond(mobile, &mobile_invite, 200, "mobile");
    assert_eq!(call.expect_sent(rsip::Method::Ack).await.0, mobile);
    call.expect_response(200).await;
    call.respond(desk, &desk_invite, 487, "desk");
    call.event(CallEvent::Request {
        tx: Some(ServerTx("bye".into())),
        request: caller_request("BYE", "z9hG4bK-bye"),
        source: "127.0.0.1:5099".parse().unwrap(),
    });
    call.expect_response(200).await;
    assert_eq!(call.expect_sent(rsip::Method::Bye).await.0, mobile);
    assert!(matches!(call.next().await, Observed::Finished));
}

#[tokio::test]
async fn bye_during_the_early_dialog_ends_the_call_like_a_cancel() {
    let mut call = Harness::start(1);
    let (leg, invite) = call.expect_sent(rsip::Method::Invite).await;
    call.respond(leg, &invite, 180, "d");
    call.expect_response(180).await;
    call.event(CallEvent::Request {
        tx: Some(ServerTx("bye".into())),
        request: caller_request("BYE", "z9hG4bK-early-bye"),
        source: "127.0.0.1:5099".parse().unwrap(),
    });
    assert!(matches!(call.expect_response(200).await, ServerTx(tx) if tx == "bye"));
    assert!(matches!(call.expect_response(487).await, ServerTx(tx) if tx == "invite"));
    assert_eq!(call.expect_sent(rsip::Method::Cancel).await.0, leg);
    call.respond(leg, &invite, 487, "d");
    assert!(matches!(call.next().await, Observed::Finished));
    assert_eq!(call.cdr_status().await, "cancelled");
}

#[tokio::test]
async fn every_device_busy_gives_486_and_a_timeout_counts_as_unavailable() {
    let mut call = Harness::start(2);
    let (leg_a, invite_a) = call.expect_sent(rsip::Method::Invite).await;
    let (leg_b, _) = call.expect_sent(rsip::Method::Invite).await;
    call.respond(leg_a, &invite_a, 486, "a");
    call.event(CallEvent::Timeout { leg: leg_b });
    call.expect_response(486).await;
    assert!(matches!(call.next().await, Observed::Finished));
    assert_eq!(call.cdr_status().await, "busy");
}

#[tokio::test]
async fn the_legs_carry_one_hop_less_than_the_caller() {
    let mut call = Harness::start(1);
    let (_, invite) = call.expect_sent(rsip::Method::Invite).await;
    let text = String::from_utf8(invite).unwrap();
    // The provider's INVITE had no Max-Forwards: 70 assumed, 69 passed on.
    assert!(text.contains("Max-Forwards: 69\r\n"), "{text}");
}

fn caller_ack_with(body: &str) -> Box<Request> {
    let text = format!(
        "ACK sip:{DID_NUMBER}@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-dack\r\n\
         From: <sip:600@127.0.0.1>;tag=prov\r\nTo: <sip:{DID_NUMBER}@127.0.0.1>;tag=ours\r\nCall-ID: in-1\r\n\
         CSeq: 1 ACK\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    match parse(text.as_bytes()) {
        SipMessage::Request(request) => Box::new(request),
        _ => unreachable!("a request"),
    }
}

#[tokio::test]
async fn a_delayed_offer_gets_the_devices_offer_and_the_callers_answer_rides_the_ack() {
    let mut call = Harness::start_with(1, "");
    let (leg, invite) = call.expect_sent(rsip::Method::Invite).await;
    let invite = String::from_utf8(invite).unwrap();
    assert!(invite.ends_with("Content-Length: 0\r\n\r\n"), "no offer to the device: {invite}");
    call.respond(leg, invite.as_bytes(), 200, "d");
    // The device's offer reaches the caller through the relay; the device is not ACKed yet.
    let (_, ok) = call.expect_response_bytes(200).await;
    let ok = String::from_utf8(ok).unwrap();
    assert!(ok.contains("m=audio ") && !ok.contains("m=audio 31000"), "relayed offer: {ok}");
    // A retransmitted 2xx still gets no ACK: there is no answer to put in it yet.
    call.respond(leg, invite.as_bytes(), 200, "d");
    assert!(tokio::time::timeout(Duration::from_millis(100), call.commands.recv()).await.is_err());
    let answer = "v=0\r\no=p 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
        m=audio 30002 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    call.event(CallEvent::Request {
        tx: None,
        request: caller_ack_with(answer),
        source: "127.0.0.1:5099".parse().unwrap(),
    });
    let (ack_leg, ack) = call.expect_sent(rsip::Method::Ack).await;
    assert_eq!(ack_leg, leg);
    let ack = String::from_utf8(ack).unwrap();
    assert!(ack.contains("m=audio ") && !ack.contains("m=audio 30002"), "the answer, relayed: {ack}");
}

/// Extension 102's INVITE picking up (`*95101`), offering PCMU.
fn picker_request(method: &str, branch: &str, cseq: u32) -> Box<Request> {
    let body = if method == "INVITE" { OFFER } else { "" };
    let text = format!(
        "{method} sip:*95101@acme.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5102;branch={branch}\r\n\
         From: <sip:102@acme.test>;tag=picker\r\nTo: <sip:*95101@acme.test>\r\nCall-ID: pick-1\r\n\
         CSeq: {cseq} {method}\r\nContact: <sip:102@127.0.0.1:5102>\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    match parse(text.as_bytes()) {
        SipMessage::Request(request) => Box::new(request),
        _ => unreachable!("a request"),
    }
}

#[tokio::test]
async fn a_pickers_200_is_retransmitted_until_its_ack() {
    use crate::calls::pickup::{PickedUp, PickupRequest};
    let mut call = Harness::start(1);
    let (leg, invite) = call.expect_sent(rsip::Method::Invite).await;
    call.respond(leg, &invite, 180, "a");
    call.expect_response(180).await;
    let ringing = call.engine.pickups.oldest("acme", &["101".to_string()]).expect("101 is open to pickup");
    let picker_source: SocketAddr = "127.0.0.1:5102".parse().unwrap();
    let picker_invite = picker_request("INVITE", "z9hG4bK-pick", 1);
    let dialog =
        crate::sip::dialog::Dialog::uas(&picker_invite, picker_source, "127.0.0.1:5060".parse().unwrap())
            .expect("a dialog");
    let (picker_events, events) = unbounded_channel();
    let (reply, handed_over) = tokio::sync::oneshot::channel();
    let picked = PickedUp {
        picker: "102".into(),
        invite: picker_invite,
        tx: ServerTx("picker".into()),
        dialog,
        events,
    };
    assert!(ringing.send(PickupRequest { picked, reply }).is_ok());
    assert_eq!(call.expect_sent(rsip::Method::Cancel).await.0, leg, "101's phone stops ringing");
    let picker_tx = call.expect_response(200).await;
    assert_eq!(picker_tx, ServerTx("picker".into()));
    assert_eq!(call.expect_response(200).await, ServerTx("invite".into()), "the caller is answered too");
    assert!(matches!(handed_over.await, Ok(Ok(()))));
    call.event(CallEvent::Request {
        tx: None,
        request: caller_request("ACK", "z9hG4bK-ack"),
        source: "127.0.0.1:5099".parse().unwrap(),
    });
    // No ACK from the picker yet: its 200 goes again, at T1 then 2·T1 (§13.3.1.4).
    for _ in 0..2 {
        loop {
            match call.next().await {
                Observed::Responded(200, tx, _) if tx == picker_tx => break,
                // The cancelled device's 487 dance is not this test's business.
                Observed::Sent { .. } | Observed::Responded(..) => {}
                Observed::Finished => panic!("the call ended"),
            }
        }
    }
    picker_events
        .send(CallEvent::Request {
            tx: None,
            request: picker_request("ACK", "z9hG4bK-pick-ack", 1),
            source: picker_source,
        })
        .unwrap();
    // Acknowledged: nothing more is sent (waiting past the next retransmission, 4·T1).
    let quiet = tokio::time::timeout(Duration::from_millis(2500), call.commands.recv()).await;
    assert!(quiet.is_err(), "the picker's 200 went on after its ACK: {quiet:?}");
}
