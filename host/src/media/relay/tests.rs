//! The relay with real UDP sockets on loopback playing the two phones.

use std::net::Ipv4Addr;
use std::time::Duration;

use super::*;
use crate::media::audio::Audio;
use crate::media::ports::free_test_range;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// How long a test waits for a packet before it fails (it never asserts a duration).
const PATIENCE: Duration = Duration::from_secs(5);

fn relay(pairs: u16) -> MediaRelay {
    MediaRelay::new(LOCALHOST, LOCALHOST, free_test_range(pairs))
}

async fn phone() -> UdpSocket {
    UdpSocket::bind((LOCALHOST, 0)).await.unwrap()
}

fn address(socket: &UdpSocket) -> SocketAddr {
    socket.local_addr().unwrap()
}

/// An RTP packet: version 2, `payload_type`, sequence `sequence`, then `payload`.
fn rtp(payload_type: u8, sequence: u16, payload: &[u8]) -> Vec<u8> {
    let mut packet = vec![0x80, payload_type, 0, 0, 0, 0, 0x03, 0x20, 0x12, 0x34, 0x56, 0x78];
    packet[2..4].copy_from_slice(&sequence.to_be_bytes());
    packet.extend_from_slice(payload);
    packet
}

async fn receive(socket: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buffer = vec![0u8; 4096];
    let (length, source) =
        tokio::time::timeout(PATIENCE, socket.recv_from(&mut buffer)).await.expect("a packet").unwrap();
    buffer.truncate(length);
    (buffer, source)
}

/// Wait until `condition` holds on the session's counters.
async fn until(session: &RelaySession, condition: impl Fn(&RelayStats) -> bool) {
    tokio::time::timeout(PATIENCE, async {
        while !condition(&session.stats()) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .expect("the counters to move");
}

/// Whether `received` carries `sent`'s media: its payload type and payload. The header's
/// numbers are the side's own stream (see `continuity`), not the sender's.
fn same_media(received: &[u8], sent: &[u8]) -> bool {
    received.len() == sent.len() && received[1] & 0x7f == sent[1] & 0x7f && received[12..] == sent[12..]
}

#[track_caller]
fn assert_same_media(received: &[u8], sent: &[u8]) {
    assert!(same_media(received, sent), "received {received:?}, sent {sent:?}");
}

fn nothing_waiting(socket: &UdpSocket) -> bool {
    let mut buffer = [0u8; 64];
    socket.try_recv_from(&mut buffer).is_err()
}

#[tokio::test]
async fn packets_flow_both_ways_with_their_media_untouched() {
    let relay = relay(2);
    let session = relay.open().await.unwrap();
    let (caller, callee) = (phone().await, phone().await);
    session.set_remote(Side::A, Some(address(&caller)));
    session.set_remote(Side::B, Some(address(&callee)));

    let voice = rtp(0, 1, &[0xff; 160]);
    caller.send_to(&voice, session.local(Side::A)).await.unwrap();
    let (received, source) = receive(&callee).await;
    assert_same_media(&received, &voice);
    assert_eq!(source, session.local(Side::B), "the callee hears the host's side B");

    // RFC 4733: digit 5, end bit, volume 10, duration 800, payload type 101.
    let event = rtp(101, 2, &[0x05, 0x8a, 0x03, 0x20]);
    caller.send_to(&event, session.local(Side::A)).await.unwrap();
    let relayed_event = receive(&callee).await.0;
    assert_same_media(&relayed_event, &event);
    let sequence = |p: &[u8]| u16::from_be_bytes([p[2], p[3]]);
    assert_eq!(
        sequence(&relayed_event),
        sequence(&received).wrapping_add(1),
        "one stream towards the callee"
    );
    assert_eq!(relayed_event[8..12], received[8..12], "one SSRC towards the callee");

    let reply = rtp(8, 7, &[0xd5; 160]);
    callee.send_to(&reply, session.local(Side::B)).await.unwrap();
    let (received, source) = receive(&caller).await;
    assert_same_media(&received, &reply);
    assert_eq!(source, session.local(Side::A));

    let stats = session.stats();
    assert_eq!(
        stats.a_to_b.rtp,
        FlowStats { packets: 2, bytes: (voice.len() + event.len()) as u64, dropped: 0, played: 0 }
    );
    assert_eq!(stats.b_to_a.rtp, FlowStats { packets: 1, bytes: reply.len() as u64, dropped: 0, played: 0 });
}

#[tokio::test]
async fn rtcp_goes_between_the_rtcp_ports() {
    let relay = relay(2);
    let session = relay.open().await.unwrap();
    let (caller_rtcp, callee_rtcp) = (phone().await, phone().await);
    session.set_remote(Side::A, Some("127.0.0.1:9".parse().unwrap()));
    session.set_remote(Side::B, Some("127.0.0.1:9".parse().unwrap()));
    assert_eq!(session.remote_rtcp(Side::A), Some("127.0.0.1:10".parse().unwrap()), "RTP + 1 by default");
    session.set_remote_rtcp(Side::A, Some(address(&caller_rtcp)));
    session.set_remote_rtcp(Side::B, Some(address(&callee_rtcp)));

    let rtcp_port = |side| SocketAddr::new(LOCALHOST, session.local(side).port() + 1);
    let report = [0x81, 0xc9, 0x00, 0x07, 1, 2, 3, 4];
    caller_rtcp.send_to(&report, rtcp_port(Side::A)).await.unwrap();
    let (received, source) = receive(&callee_rtcp).await;
    assert_eq!((received.as_slice(), source), (&report[..], rtcp_port(Side::B)));
    callee_rtcp.send_to(&report, rtcp_port(Side::B)).await.unwrap();
    assert_eq!(receive(&caller_rtcp).await.0, report);
    assert_eq!(session.stats().a_to_b.rtcp.packets, 1);
    assert_eq!(session.stats().a_to_b.rtp.packets, 0);
}

#[tokio::test]
async fn a_phone_behind_nat_is_latched_to_its_real_source() {
    let relay = relay(2);
    let session = relay.open().await.unwrap();
    let (caller, callee) = (phone().await, phone().await);
    // The caller's SDP names its private address; its packets come from elsewhere.
    session.set_remote(Side::A, Some("127.0.0.1:9".parse().unwrap()));
    session.set_remote(Side::B, Some(address(&callee)));

    caller.send_to(&rtp(0, 1, b"hello"), session.local(Side::A)).await.unwrap();
    receive(&callee).await;
    assert_eq!(session.remote(Side::A), Some(address(&caller)));

    callee.send_to(&rtp(0, 1, b"back"), session.local(Side::B)).await.unwrap();
    assert_same_media(&receive(&caller).await.0, &rtp(0, 1, b"back"));

    // Latched for good: another source does not take the call over.
    let intruder = phone().await;
    intruder.send_to(&rtp(0, 9, b"spoof"), session.local(Side::A)).await.unwrap();
    receive(&callee).await;
    assert_eq!(session.remote(Side::A), Some(address(&caller)));
}

#[tokio::test]
async fn a_reinvite_opens_latching_again() {
    let relay = relay(2);
    let session = relay.open().await.unwrap();
    let (caller, callee, caller_moved) = (phone().await, phone().await, phone().await);
    session.set_remote(Side::B, Some(address(&callee)));
    caller.send_to(&rtp(0, 1, b"1"), session.local(Side::A)).await.unwrap();
    receive(&callee).await;
    assert_eq!(session.remote(Side::A), Some(address(&caller)), "latched without any SDP address");

    session.set_remote(Side::A, Some("127.0.0.1:9".parse().unwrap()));
    assert_eq!(session.remote(Side::A), Some("127.0.0.1:9".parse().unwrap()));
    caller_moved.send_to(&rtp(0, 2, b"2"), session.local(Side::A)).await.unwrap();
    receive(&callee).await;
    assert_eq!(session.remote(Side::A), Some(address(&caller_moved)));
}

#[tokio::test]
async fn hold_stops_forwarding_towards_the_held_side_only() {
    let relay = relay(2);
    let session = relay.open().await.unwrap();
    let (caller, callee) = (phone().await, phone().await);
    session.set_remote(Side::A, Some(address(&caller)));
    session.set_remote(Side::B, Some(address(&callee)));
    // The callee holds with c=0.0.0.0: it receives nothing, but may still send.
    session.set_remote(Side::B, None);

    caller.send_to(&rtp(0, 1, b"to held"), session.local(Side::A)).await.unwrap();
    until(&session, |stats| stats.a_to_b.rtp.dropped == 1).await;
    callee.send_to(&rtp(0, 1, b"music"), session.local(Side::B)).await.unwrap();
    assert_same_media(&receive(&caller).await.0, &rtp(0, 1, b"music"));
    assert!(nothing_waiting(&callee));
    assert_eq!(session.remote(Side::B), None, "a held side's packets do not latch it back");

    // Resumed by a re-INVITE with an address.
    session.set_remote(Side::B, Some(address(&callee)));
    caller.send_to(&rtp(0, 2, b"resumed"), session.local(Side::A)).await.unwrap();
    assert_same_media(&receive(&callee).await.0, &rtp(0, 2, b"resumed"));
}

#[tokio::test]
async fn packets_before_the_other_side_is_known_are_dropped_and_counted() {
    let relay = relay(2);
    let session = relay.open().await.unwrap();
    let caller = phone().await;
    for sequence in 0..3 {
        caller.send_to(&rtp(0, sequence, b"early"), session.local(Side::A)).await.unwrap();
    }
    until(&session, |stats| stats.a_to_b.rtp.dropped == 3).await;
    assert_eq!(session.stats().a_to_b.rtp.packets, 0);
}

#[tokio::test]
async fn dropping_a_session_gives_its_ports_back() {
    let relay = relay(2);
    let session = relay.open().await.unwrap();
    assert_eq!(relay.pairs_in_use(), 2);
    let local = session.local(Side::A);
    drop(session);
    tokio::time::timeout(PATIENCE, async {
        while relay.pairs_in_use() != 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .expect("the ports to come back");
    // The sockets are closed too: the port binds again.
    std::net::UdpSocket::bind(local).expect("the port is free");
}

#[tokio::test]
async fn closing_a_session_returns_its_ports_at_once() {
    let relay = relay(2);
    let session = relay.open().await.unwrap();
    let (a, b) = (session.local(Side::A), session.local(Side::B));
    session.close().await;
    assert_eq!(relay.pairs_in_use(), 0);
    std::net::UdpSocket::bind(a).expect("side A's port is free");
    std::net::UdpSocket::bind(b).expect("side B's port is free");
    relay.open().await.expect("a new session fits again");
}

#[tokio::test]
async fn a_tiny_range_runs_out_with_a_clear_error() {
    let relay = relay(3);
    let _first = relay.open().await.unwrap();
    let error = relay.open().await.unwrap_err();
    assert!(matches!(error, MediaError::Exhausted { .. }), "{error}");
    assert!(error.to_string().starts_with("no free RTP/RTCP port pair left in "), "{error}");
    assert_eq!(relay.pairs_in_use(), 2, "the half-open session gave its pair back");
}

#[tokio::test]
async fn sessions_are_independent() {
    let relay = relay(4);
    let (one, two) = (relay.open().await.unwrap(), relay.open().await.unwrap());
    let (caller, callee_one, callee_two) = (phone().await, phone().await, phone().await);
    one.set_remote(Side::B, Some(address(&callee_one)));
    two.set_remote(Side::B, Some(address(&callee_two)));
    caller.send_to(&rtp(0, 1, b"one"), one.local(Side::A)).await.unwrap();
    caller.send_to(&rtp(0, 1, b"two"), two.local(Side::A)).await.unwrap();
    assert_same_media(&receive(&callee_one).await.0, &rtp(0, 1, b"one"));
    assert_same_media(&receive(&callee_two).await.0, &rtp(0, 1, b"two"));
}

#[tokio::test]
async fn a_telephone_event_on_a_listened_side_becomes_one_digit() {
    let relay = relay(2);
    let mut session = relay.open().await.unwrap();
    let mut events = session.take_events().unwrap();
    let caller = phone().await;
    session.listen(Side::A, Listening { telephone_event: Some(101), track: None, tap: None });
    // Digit 7 as phones send it: start packets, then the end packet three times.
    for (sequence, flags) in [(1, 0x0a), (2, 0x0a), (3, 0x8a), (4, 0x8a), (5, 0x8a)] {
        caller.send_to(&rtp(101, sequence, &[7, flags, 0, 160]), session.local(Side::A)).await.unwrap();
    }
    let event = tokio::time::timeout(PATIENCE, events.recv()).await.unwrap();
    assert_eq!(event, Some(MediaEvent::Digit { side: Side::A, digit: '7' }));
    until(&session, |s| s.a_to_b.rtp.dropped + s.a_to_b.rtp.packets == 5).await;
    assert!(events.try_recv().is_err(), "one digit per event");
}

#[tokio::test]
async fn a_listened_side_is_recorded_as_samples() {
    let relay = relay(2);
    let session = relay.open().await.unwrap();
    let caller = phone().await;
    let track = Arc::new(Track::new(std::time::Instant::now(), Duration::from_secs(5)));
    session.listen(Side::A, Listening { telephone_event: None, track: Some(track.clone()), tap: None });
    for sequence in 0..3 {
        caller.send_to(&rtp(0, sequence, &[0x80; 160]), session.local(Side::A)).await.unwrap();
    }
    until(&session, |s| s.a_to_b.rtp.dropped == 3).await;
    let samples = track.take();
    assert!(samples.len() >= 480, "{} samples", samples.len());
    assert!(samples.iter().rev().take(480).all(|&s| s == crate::media::audio::g711::ulaw_decode(0x80)));
}

#[tokio::test]
async fn the_host_plays_paced_frames_and_mutes_the_other_side_meanwhile() {
    let relay = relay(2);
    let mut session = relay.open().await.unwrap();
    let mut events = session.take_events().unwrap();
    let (caller, callee) = (phone().await, phone().await);
    session.set_remote(Side::A, Some(address(&caller)));
    session.set_remote(Side::B, Some(address(&callee)));
    // Three frames of a constant level, then the clock reports the end.
    let prompt = Audio::from_samples(vec![1000; 480]);
    session.play(Side::A, crate::media::sdp::PCMU, vec![prompt], false, 9);
    callee.send_to(&rtp(0, 1, &[0x11; 160]), session.local(Side::B)).await.unwrap();

    let mut sequences = Vec::new();
    let mut last_played = None;
    for _ in 0..3 {
        let (packet, source) = receive(&caller).await;
        last_played = Some((
            u16::from_be_bytes([packet[2], packet[3]]),
            [packet[8], packet[9], packet[10], packet[11]],
        ));
        assert_eq!(source, session.local(Side::A));
        let parsed = crate::media::rtp::parse(&packet).unwrap();
        assert_eq!(
            parsed.payload,
            &[crate::media::audio::g711::ulaw_encode(1000); 160][..],
            "not the callee's audio"
        );
        sequences.push(parsed.sequence);
    }
    assert_eq!(sequences[1], sequences[0].wrapping_add(1));
    assert_eq!(sequences[2], sequences[0].wrapping_add(2));
    let done = tokio::time::timeout(PATIENCE, events.recv()).await.unwrap();
    assert_eq!(done, Some(MediaEvent::PlaybackDone { side: Side::A, token: 9 }));
    assert_eq!(session.stats().b_to_a.rtp.dropped, 1, "the callee was muted towards the caller");

    session.stop_playing(Side::A);
    // Frames already in flight may still arrive; after them the callee is heard again.
    let reply = rtp(0, 2, &[0x22; 160]);
    callee.send_to(&reply, session.local(Side::B)).await.unwrap();
    loop {
        let (packet, _) = receive(&caller).await;
        if same_media(&packet, &reply) {
            // One stream: the callee's packet continues the prompt's numbers (and SSRC).
            let (played_sequence, played_ssrc) = last_played.expect("frames before the reply");
            assert_eq!(u16::from_be_bytes([packet[2], packet[3]]), u16::wrapping_add(played_sequence, 1));
            assert_eq!(packet[8..12], played_ssrc);
            assert!(packet[1] & 0x80 != 0, "a new talkspurt");
            break;
        }
        last_played = Some((
            u16::from_be_bytes([packet[2], packet[3]]),
            [packet[8], packet[9], packet[10], packet[11]],
        ));
    }
}

#[tokio::test]
async fn a_consult_talks_to_the_consulting_side_then_takes_its_place_on_completion() {
    let relay = relay(3);
    let mut session = relay.open().await.unwrap();
    let (caller, agent, colleague) = (phone().await, phone().await, phone().await);
    session.set_remote(Side::A, Some(address(&caller)));
    session.set_remote(Side::B, Some(address(&agent)));
    let consult = session.open_consult().unwrap();
    assert_eq!(relay.pairs_in_use(), 3, "the consult binds the spare end");
    session.set_consult_remote(Some(address(&colleague)));
    session.consult_with(Side::B);

    let question = rtp(0, 1, b"can you take a call?");
    agent.send_to(&question, session.local(Side::B)).await.unwrap();
    let (received, source) = receive(&colleague).await;
    assert_same_media(&received, &question);
    assert_eq!(source, consult, "the colleague hears the consult end");
    let answer = rtp(0, 1, b"yes");
    colleague.send_to(&answer, consult).await.unwrap();
    assert_same_media(&receive(&agent).await.0, &answer);
    caller.send_to(&rtp(0, 1, b"hello?"), session.local(Side::A)).await.unwrap();
    until(&session, |s| s.a_to_b.rtp.dropped == 1).await;
    assert!(nothing_waiting(&agent) && nothing_waiting(&colleague), "the held caller reaches nobody");

    session.complete_consult(Side::B);
    assert_eq!(session.local(Side::B), consult, "the colleague is side B now");
    let greeting = rtp(0, 2, b"hello, how can I help");
    colleague.send_to(&greeting, consult).await.unwrap();
    let (received, source) = receive(&caller).await;
    assert_same_media(&received, &greeting);
    assert_eq!(source, session.local(Side::A));
    let reply = rtp(0, 2, b"thanks");
    caller.send_to(&reply, session.local(Side::A)).await.unwrap();
    assert_same_media(&receive(&colleague).await.0, &reply);
    assert!(nothing_waiting(&agent), "the agent left the call");
}

#[tokio::test]
async fn a_cancelled_consult_gives_the_call_back_and_the_spare_end_serves_the_next() {
    let relay = relay(3);
    let mut session = relay.open().await.unwrap();
    let (caller, agent, colleague) = (phone().await, phone().await, phone().await);
    session.set_remote(Side::A, Some(address(&caller)));
    session.set_remote(Side::B, Some(address(&agent)));
    let consult = session.open_consult().unwrap();
    session.set_consult_remote(Some(address(&colleague)));
    session.consult_with(Side::B);
    session.end_consult();

    let back = rtp(0, 3, b"sorry for the wait");
    agent.send_to(&back, session.local(Side::B)).await.unwrap();
    assert_same_media(&receive(&caller).await.0, &back);
    colleague.send_to(&rtp(0, 3, b"hello?"), consult).await.unwrap();
    until(&session, |_| true).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(nothing_waiting(&agent) && nothing_waiting(&caller), "the colleague reaches nobody");

    assert_eq!(session.open_consult().unwrap(), consult, "the next consult reuses the spare end");
    assert_eq!(relay.pairs_in_use(), 3);
}
