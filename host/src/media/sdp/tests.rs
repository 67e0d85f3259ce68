//! SDP behaviour pinned by RFC 4566 / RFC 3264 and by what real phones send.

use super::*;
use crate::test_rng::XorShift;

/// The host's relay port as the tests advertise it.
fn via() -> SocketAddr {
    "203.0.113.5:20000".parse().unwrap()
}

/// Join lines with CRLF, as a phone sends them.
fn body(lines: &[&str]) -> Vec<u8> {
    lines.iter().map(|line| format!("{line}\r\n")).collect::<String>().into_bytes()
}

fn lines_of(sdp: &Sdp) -> Vec<String> {
    sdp.to_string().split("\r\n").filter(|line| !line.is_empty()).map(str::to_string).collect()
}

/// What `sipp -sn uac` sends: one PCMU stream.
fn sipp_uac() -> Vec<u8> {
    body(&[
        "v=0",
        "o=user1 53655765 2353687637 IN IP4 192.0.2.10",
        "s=-",
        "c=IN IP4 192.0.2.10",
        "t=0 0",
        "m=audio 6000 RTP/AVP 0",
        "a=rtpmap:0 PCMU/8000",
    ])
}

/// baresip 3.x with its default codec list.
fn baresip() -> Vec<u8> {
    body(&[
        "v=0",
        "o=- 1469352577 1718208939 IN IP4 192.168.1.20",
        "s=-",
        "c=IN IP4 192.168.1.20",
        "t=0 0",
        "a=tool:baresip 3.10.1",
        "m=audio 41396 RTP/AVP 96 9 0 8 101",
        "b=AS:101",
        "a=rtpmap:96 opus/48000/2",
        "a=fmtp:96 stereo=1;sprop-stereo=1",
        "a=rtpmap:9 G722/8000",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-15",
        "a=rtcp-rsize",
        "a=sendrecv",
        "a=label:1",
        "a=ssrc:1234567 cname:baresip@192.168.1.20",
        "a=ptime:20",
    ])
}

/// Linphone-like: opus first, telephone-event at 48 kHz and 8 kHz, ICE, a=rtcp, video.
fn linphone() -> Vec<u8> {
    body(&[
        "v=0",
        "o=alice 2418 1776 IN IP4 10.0.0.30",
        "s=Talk",
        "c=IN IP4 10.0.0.30",
        "t=0 0",
        "a=ice-ufrag:8a9b",
        "a=ice-pwd:1e5f9a0b6b1c3d7e2a4f8c9d",
        "a=group:BUNDLE as vs",
        "a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics",
        "m=audio 7078 RTP/AVP 96 0 8 101 97",
        "a=rtpmap:96 opus/48000/2",
        "a=fmtp:96 useinbandfec=1",
        "a=rtpmap:101 telephone-event/48000",
        "a=rtpmap:97 telephone-event/8000",
        "a=fmtp:97 0-16",
        "a=rtcp:7079",
        "a=rtcp-mux",
        "a=rtcp-fb:* trr-int 1000",
        "a=rtcp-fb:96 nack",
        "a=mid:as",
        "a=candidate:1 1 UDP 2130706431 10.0.0.30 7078 typ host",
        "a=candidate:1 2 UDP 2130706430 10.0.0.30 7079 typ host",
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz",
        "m=video 9078 RTP/AVP 96",
        "c=IN IP4 10.0.0.30",
        "a=rtpmap:96 VP8/90000",
        "a=mid:vs",
    ])
}

/// Polycom-like: G.722 first, G.729, best-effort SRTP offered over RTP/AVP.
fn polycom() -> Vec<u8> {
    body(&[
        "v=0",
        "o=- 1234567890 1234567890 IN IP4 172.16.0.50",
        "s=Polycom IP Phone",
        "c=IN IP4 172.16.0.50",
        "t=0 0",
        "a=sendrecv",
        "m=audio 2222 RTP/AVP 9 102 0 8 18 127",
        "a=rtpmap:9 G722/8000",
        "a=rtpmap:102 G7221/16000",
        "a=fmtp:102 bitrate=32000",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:18 G729/8000",
        "a=fmtp:18 annexb=no",
        "a=rtpmap:127 telephone-event/8000",
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm",
    ])
}

#[test]
fn sipp_offer_is_read() {
    let sdp = parse(&sipp_uac()).unwrap();
    assert_eq!(sdp.audio_address(), "192.0.2.10".parse::<IpAddr>().unwrap());
    assert_eq!(sdp.audio_port(), 6000);
    assert_eq!(sdp.payload_types(), &[0]);
    assert_eq!(sdp.direction(), Direction::SendRecv);
    assert_eq!(sdp.remote_rtp(), Some("192.0.2.10:6000".parse().unwrap()));
    assert_eq!(sdp.remote_rtcp(), Some("192.0.2.10:6001".parse().unwrap()));
    assert_eq!(sdp.telephone_event(), None);
    assert_eq!(sdp.origin(), ("53655765", "2353687637"));
}

#[test]
fn sipp_offer_relayed_points_at_the_host() {
    let relayed = parse(&sipp_uac()).unwrap().relayed(via()).unwrap();
    assert_eq!(
        lines_of(&relayed),
        [
            "v=0",
            "o=- 53655765 2353687637 IN IP4 203.0.113.5",
            "s=-",
            "c=IN IP4 203.0.113.5",
            "t=0 0",
            "m=audio 20000 RTP/AVP 0",
            "a=rtpmap:0 PCMU/8000",
        ]
    );
    assert_eq!(relayed.remote_rtp(), Some(via()));
}

#[test]
fn printing_back_is_faithful_with_crlf_line_ends() {
    for offer in [sipp_uac(), baresip(), linphone(), polycom()] {
        let sdp = parse(&offer).unwrap();
        assert_eq!(sdp.to_bytes(), offer);
    }
}

#[test]
fn bare_lf_and_trailing_blank_lines_are_accepted() {
    let text = String::from_utf8(sipp_uac()).unwrap().replace("\r\n", "\n") + "\n\n";
    let sdp = parse(text.as_bytes()).unwrap();
    assert_eq!(sdp.to_bytes(), sipp_uac());
}

#[test]
fn baresip_offer_keeps_g711_and_events_in_order() {
    let sdp = parse(&baresip()).unwrap();
    assert_eq!(sdp.payload_types(), &[96, 9, 0, 8, 101]);
    assert_eq!(sdp.telephone_event(), Some(101));
    let relayed = sdp.relayed(via()).unwrap();
    assert_eq!(relayed.payload_types(), &[0, 8, 101]);
    let lines = lines_of(&relayed);
    assert!(lines.contains(&"m=audio 20000 RTP/AVP 0 8 101".to_string()));
    for kept in ["a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000", "a=rtpmap:101 telephone-event/8000"] {
        assert!(lines.contains(&kept.to_string()), "{kept} missing in {lines:?}");
    }
    for kept in ["a=fmtp:101 0-15", "a=ptime:20", "a=sendrecv", "a=tool:baresip 3.10.1"] {
        assert!(lines.contains(&kept.to_string()), "{kept} missing in {lines:?}");
    }
    assert!(
        !lines.iter().any(|line| line.contains("opus") || line.contains("G722") || line.contains(":96 "))
    );
}

#[test]
fn linphone_offer_drops_ice_srtp_mux_and_refuses_video() {
    let sdp = parse(&linphone()).unwrap();
    assert_eq!(sdp.telephone_event(), Some(97), "telephone-event/48000 is not usable with G.711");
    assert_eq!(sdp.remote_rtcp(), Some("10.0.0.30:7079".parse().unwrap()));
    let relayed = sdp.relayed(via()).unwrap();
    let lines = lines_of(&relayed);
    assert!(lines.contains(&"m=audio 20000 RTP/AVP 0 8 97".to_string()), "{lines:?}");
    assert!(lines.contains(&"a=rtcp:20001".to_string()));
    assert!(lines.contains(&"a=fmtp:97 0-16".to_string()));
    assert!(lines.contains(&"a=rtcp-fb:* trr-int 1000".to_string()));
    assert!(lines.contains(&"m=video 0 RTP/AVP 96".to_string()), "video stays, refused: {lines:?}");
    for dropped in
        ["candidate", "ice-", "crypto", "rtcp-mux", "group:", "telephone-event/48000", "nack", "VP8"]
    {
        assert!(!lines.iter().any(|line| line.contains(dropped)), "{dropped} kept in {lines:?}");
    }
    assert!(lines.iter().filter(|line| line.starts_with("c=")).all(|line| line == "c=IN IP4 203.0.113.5"));
}

#[test]
fn polycom_offer_is_relayed_without_its_srtp_key() {
    let relayed = parse(&polycom()).unwrap().relayed(via()).unwrap();
    let lines = lines_of(&relayed);
    assert!(lines.contains(&"m=audio 20000 RTP/AVP 0 8 127".to_string()), "{lines:?}");
    assert!(lines.contains(&"a=sendrecv".to_string()), "session-level direction kept");
    assert!(
        !lines
            .iter()
            .any(|line| line.contains("crypto") || line.contains("G729") || line.contains("fmtp:18"))
    );
}

#[test]
fn relaying_twice_changes_nothing_more() {
    let once = parse(&linphone()).unwrap().relayed(via()).unwrap();
    let twice = parse(&once.to_bytes()).unwrap().relayed(via()).unwrap();
    assert_eq!(once, twice);
}

#[test]
fn relayed_over_ipv6_names_ip6() {
    let via: SocketAddr = "[2001:db8::5]:20002".parse().unwrap();
    let relayed = parse(&sipp_uac()).unwrap().relayed(via).unwrap();
    let lines = lines_of(&relayed);
    assert!(lines.contains(&"c=IN IP6 2001:db8::5".to_string()));
    assert!(lines.contains(&"o=- 53655765 2353687637 IN IP6 2001:db8::5".to_string()));
    assert_eq!(relayed.remote_rtp(), Some(via));
}

fn hold_offer(connection: &str, direction: Option<&str>) -> Vec<u8> {
    let mut lines = vec![
        "v=0",
        "o=user1 53655765 2353687638 IN IP4 192.0.2.10",
        "s=-",
        connection,
        "t=0 0",
        "m=audio 6000 RTP/AVP 0 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:101 telephone-event/8000",
    ];
    lines.extend(direction);
    body(&lines)
}

#[test]
fn sendonly_hold_is_kept() {
    let sdp = parse(&hold_offer("c=IN IP4 192.0.2.10", Some("a=sendonly"))).unwrap();
    assert_eq!(sdp.direction(), Direction::SendOnly);
    assert!(sdp.remote_rtp().is_some(), "a sendonly holder still has an address for RTCP");
    let relayed = sdp.relayed(via()).unwrap();
    assert_eq!(relayed.direction(), Direction::SendOnly);
    assert!(lines_of(&relayed).contains(&"a=sendonly".to_string()));
}

#[test]
fn inactive_hold_is_kept() {
    let sdp = parse(&hold_offer("c=IN IP4 192.0.2.10", Some("a=inactive"))).unwrap();
    assert_eq!(sdp.direction(), Direction::Inactive);
    assert_eq!(sdp.relayed(via()).unwrap().direction(), Direction::Inactive);
}

#[test]
fn zero_address_hold_becomes_an_explicit_sendonly() {
    let sdp = parse(&hold_offer("c=IN IP4 0.0.0.0", None)).unwrap();
    assert!(sdp.held_by_address());
    assert_eq!(sdp.direction(), Direction::SendOnly);
    assert_eq!(sdp.remote_rtp(), None);
    assert_eq!(sdp.remote_rtcp(), None);
    let relayed = sdp.relayed(via()).unwrap();
    let lines = lines_of(&relayed);
    assert!(lines.contains(&"c=IN IP4 203.0.113.5".to_string()));
    assert!(lines.contains(&"a=sendonly".to_string()), "{lines:?}");
    assert_eq!(relayed.direction(), Direction::SendOnly);
    assert_eq!(relayed.remote_rtp(), Some(via()));
}

#[test]
fn zero_address_with_recvonly_becomes_inactive() {
    let sdp = parse(&hold_offer("c=IN IP4 0.0.0.0", Some("a=recvonly"))).unwrap();
    assert_eq!(sdp.direction(), Direction::Inactive);
    let relayed = sdp.relayed(via()).unwrap();
    let lines = lines_of(&relayed);
    assert!(lines.contains(&"a=inactive".to_string()));
    assert!(!lines.contains(&"a=recvonly".to_string()), "one direction attribute only: {lines:?}");
}

#[test]
fn media_level_direction_overrides_session_level() {
    let mut lines = String::from_utf8(polycom()).unwrap();
    lines.push_str("a=recvonly\r\n");
    assert_eq!(parse(lines.as_bytes()).unwrap().direction(), Direction::RecvOnly);
}

#[test]
fn answer_directions_mirror_offers() {
    assert_eq!(Direction::SendOnly.answer(), Direction::RecvOnly);
    assert_eq!(Direction::RecvOnly.answer(), Direction::SendOnly);
    assert_eq!(Direction::Inactive.answer(), Direction::Inactive);
    assert_eq!(Direction::SendRecv.answer(), Direction::SendRecv);
    assert!(Direction::SendOnly.sends() && !Direction::SendOnly.receives());
}

#[test]
fn refused_audio_stays_refused() {
    let text = String::from_utf8(sipp_uac()).unwrap().replace("m=audio 6000", "m=audio 0");
    let sdp = parse(text.as_bytes()).unwrap();
    assert_eq!(sdp.remote_rtp(), None);
    let relayed = sdp.relayed(via()).unwrap();
    assert_eq!(relayed.audio_port(), 0);
}

#[test]
fn an_offer_without_g711_is_refused() {
    let offer = body(&[
        "v=0",
        "o=- 1 1 IN IP4 192.0.2.10",
        "s=-",
        "c=IN IP4 192.0.2.10",
        "t=0 0",
        "m=audio 6000 RTP/AVP 96 18 101",
        "a=rtpmap:96 opus/48000/2",
        "a=rtpmap:18 G729/8000",
        "a=rtpmap:101 telephone-event/8000",
    ]);
    assert_eq!(parse(&offer).unwrap().relayed(via()), Err(SdpError::NoG711));
}

#[test]
fn a_dynamic_payload_type_is_g711_by_its_rtpmap() {
    let text =
        String::from_utf8(sipp_uac()).unwrap().replace(" 0\r\n", " 98\r\n").replace("rtpmap:0", "rtpmap:98");
    let relayed = parse(text.as_bytes()).unwrap().relayed(via()).unwrap();
    assert_eq!(relayed.payload_types(), &[98]);
}

#[test]
fn an_srtp_only_offer_is_refused() {
    let text = String::from_utf8(sipp_uac()).unwrap().replace("RTP/AVP", "RTP/SAVP");
    let sdp = parse(text.as_bytes()).unwrap();
    assert_eq!(sdp.relayed(via()), Err(SdpError::UnsupportedTransport("RTP/SAVP".into())));
}

#[test]
fn the_plain_rtp_stream_is_chosen_over_an_srtp_alternative() {
    let offer = body(&[
        "v=0",
        "o=- 1 1 IN IP4 192.0.2.10",
        "s=-",
        "c=IN IP4 192.0.2.10",
        "t=0 0",
        "m=audio 6002 RTP/SAVP 0",
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz",
        "m=audio 6000 RTP/AVP 0",
    ]);
    let sdp = parse(&offer).unwrap();
    assert_eq!(sdp.audio_port(), 6000);
    let lines = lines_of(&sdp.relayed(via()).unwrap());
    assert_eq!(lines[5..], ["m=audio 0 RTP/SAVP 0", "m=audio 20000 RTP/AVP 0"]);
}

#[test]
fn a_media_level_connection_wins() {
    let offer = body(&[
        "v=0",
        "o=- 1 1 IN IP4 192.0.2.10",
        "s=-",
        "c=IN IP4 192.0.2.10",
        "t=0 0",
        "m=audio 6000 RTP/AVP 8",
        "c=IN IP4 198.51.100.7",
    ]);
    assert_eq!(parse(&offer).unwrap().remote_rtp(), Some("198.51.100.7:6000".parse().unwrap()));
}

#[test]
fn set_origin_replaces_session_id_and_version() {
    let mut sdp = parse(&sipp_uac()).unwrap().relayed(via()).unwrap();
    sdp.set_origin("777", 3);
    assert_eq!(sdp.origin(), ("777", "3"));
    assert!(lines_of(&sdp).contains(&"o=- 777 3 IN IP4 203.0.113.5".to_string()));
}

#[test]
fn clear_errors_for_unusable_bodies() {
    let sipp = String::from_utf8(sipp_uac()).unwrap();
    let cases: Vec<(Vec<u8>, SdpError)> = vec![
        (vec![0xff, 0xfe, b'v'], SdpError::NotUtf8),
        (Vec::new(), SdpError::NotSdp),
        (b"INVITE sip:a@b SIP/2.0\r\n".to_vec(), SdpError::NotSdp),
        (b"v=0\r\nnonsense\r\n".to_vec(), SdpError::BadLine { number: 2 }),
        (sipp.replace("m=audio", "m=video").into_bytes(), SdpError::NoAudio),
        (sipp.replace("c=IN IP4 192.0.2.10\r\n", "").into_bytes(), SdpError::MissingConnection),
        (sipp.replace("6000", "70000").into_bytes(), SdpError::BadPort("audio 70000 RTP/AVP 0".into())),
        (
            sipp.replace("c=IN IP4 192.0.2.10", "c=IN IP4 pbx.example").into_bytes(),
            SdpError::BadConnection("IN IP4 pbx.example".into()),
        ),
        (sipp.replace("RTP/AVP 0", "RTP/AVP 0 200").into_bytes(), SdpError::BadPayloadType("200".into())),
        (sipp.replace("m=audio 6000 RTP/AVP 0", "m=audio").into_bytes(), SdpError::BadMedia("audio".into())),
        (
            sipp.replace("o=user1 53655765 2353687637 IN IP4 192.0.2.10\r\n", "").into_bytes(),
            SdpError::MissingOrigin,
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(parse(&input), Err(expected), "for {:?}", String::from_utf8_lossy(&input));
    }
}

#[test]
fn mutated_and_garbage_bodies_never_panic() {
    let mut random = XorShift(0x9e37_79b9_7f4a_7c15);
    let seeds = [sipp_uac(), baresip(), linphone(), polycom(), hold_offer("c=IN IP4 0.0.0.0", None)];
    let alphabet = b"v=om ca:/0123456789\r\n\tIP4IN.RTP/AVP-*";
    for round in 0..20_000 {
        let mut input = seeds[round % seeds.len()].clone();
        for _ in 0..1 + random.below(8) {
            let at = random.below(input.len() + 1);
            match random.below(4) {
                0 if at < input.len() => input[at] = random.next() as u8,
                1 if at < input.len() => input[at] = alphabet[random.below(alphabet.len())],
                2 if at < input.len() => {
                    input.remove(at);
                }
                _ => input.insert(at, alphabet[random.below(alphabet.len())]),
            }
        }
        if let Ok(sdp) = parse(&input) {
            let _ =
                (sdp.remote_rtp(), sdp.remote_rtcp(), sdp.direction(), sdp.telephone_event(), sdp.origin());
            if let Ok(relayed) = sdp.relayed(via()) {
                parse(&relayed.to_bytes()).expect("what the host prints parses back");
            }
        }
    }
    for length in 0..2_000 {
        let garbage: Vec<u8> = (0..length % 300).map(|_| random.next() as u8).collect();
        let _ = parse(&garbage);
    }
}
