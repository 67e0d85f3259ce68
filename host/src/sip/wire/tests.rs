//! Wire behaviour pinned by RFC 3261 §7 and §18.3, and by what real peers send.

use rsip::prelude::*;

use super::*;

const SDP: &str =
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";

fn invite(headers_extra: &str, content_length: Option<usize>, body: &str) -> String {
    let length = content_length.map(|n| format!("Content-Length: {n}\r\n")).unwrap_or_default();
    format!(
        "INVITE sip:101@acme.centralita.local SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bK-1;rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:100@acme.centralita.local>;tag=a\r\n\
         To: <sip:101@acme.centralita.local>\r\n\
         Call-ID: call-1@127.0.0.1\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:100@127.0.0.1:5071>\r\n\
         Content-Type: application/sdp\r\n\
         {headers_extra}{length}\r\n{body}"
    )
}

fn message(received: Received) -> SipMessage {
    match received {
        Received::Message(message) => *message,
        Received::KeepAlive => panic!("expected a message, got a keep-alive"),
    }
}

#[test]
fn compact_header_names_are_expanded() {
    let text = "INVITE sip:101@acme SIP/2.0\r\n\
                v: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bK-2\r\n\
                f: <sip:100@acme>;tag=a\r\n\
                t: <sip:101@acme>\r\n\
                i: compact@127.0.0.1\r\n\
                CSeq: 1 INVITE\r\n\
                m: <sip:100@127.0.0.1:5071>\r\n\
                l: 0\r\n\r\n";
    let parsed = message(parse_datagram(text.as_bytes()).unwrap());
    assert_eq!(parsed.call_id_header().unwrap().value(), "compact@127.0.0.1");
    assert!(parsed.via_header().is_ok());
    assert!(parsed.from_header().is_ok() && parsed.to_header().is_ok() && parsed.contact_header().is_ok());
}

#[test]
fn folded_header_lines_are_unfolded() {
    let text = invite("Subject: a long\r\n   folded subject\r\n", Some(0), "");
    let parsed = message(parse_datagram(text.as_bytes()).unwrap());
    let subject = parsed.headers().iter().find_map(|h| match h {
        rsip::Header::Subject(s) => Some(s.value().to_string()),
        _ => None,
    });
    assert_eq!(subject.as_deref(), Some("a long folded subject"));
}

#[test]
fn a_fold_before_any_header_is_refused() {
    let text = "INVITE sip:101@acme SIP/2.0\r\n  continued\r\n\r\n";
    assert_eq!(parse_datagram(text.as_bytes()).unwrap_err(), WireError::FoldWithoutHeader);
}

#[test]
fn bare_lf_line_ends_are_accepted() {
    let sdp = SDP.replace("\r\n", "\n");
    let text = invite("", Some(sdp.len()), &sdp).replace("\r\n", "\n");
    let parsed = message(parse_datagram(text.as_bytes()).unwrap());
    assert_eq!(parsed.call_id_header().unwrap().value(), "call-1@127.0.0.1");
    // The body's own line ends are the body's: only the header block is rewritten.
    assert_eq!(parsed.body(), sdp.as_bytes());
}

#[test]
fn datagram_body_longer_than_content_length_is_cut() {
    let text = invite("", Some(SDP.len()), &format!("{SDP}trailing garbage"));
    let parsed = message(parse_datagram(text.as_bytes()).unwrap());
    assert_eq!(parsed.body(), SDP.as_bytes());
}

#[test]
fn datagram_body_shorter_than_content_length_is_refused() {
    let text = invite("", Some(SDP.len() + 10), SDP);
    assert_eq!(
        parse_datagram(text.as_bytes()).unwrap_err(),
        WireError::TruncatedBody { declared: SDP.len() + 10, available: SDP.len() }
    );
}

#[test]
fn datagram_without_content_length_takes_the_rest_as_body() {
    let text = invite("", None, SDP);
    assert_eq!(message(parse_datagram(text.as_bytes()).unwrap()).body(), SDP.as_bytes());
}

#[test]
fn a_content_length_that_is_not_a_number_is_named() {
    let text = invite("", None, "").replace("Content-Type", "Content-Length: ten\r\nContent-Type");
    assert_eq!(parse_datagram(text.as_bytes()).unwrap_err(), WireError::BadContentLength("ten".into()));
}

#[test]
fn oversized_datagrams_and_headerless_bytes_are_refused() {
    assert_eq!(parse_datagram(&vec![b'A'; MAX_MESSAGE + 1]).unwrap_err(), WireError::TooLarge);
    assert_eq!(parse_datagram(b"INVITE sip:101@acme SIP/2.0\r\nVia: x").unwrap_err(), WireError::NoHeaderEnd);
    assert!(matches!(parse_datagram(b"hello\r\n\r\n").unwrap_err(), WireError::Parse(_)));
}

#[test]
fn crlf_keep_alives_are_recognised() {
    assert!(matches!(parse_datagram(b"\r\n\r\n").unwrap(), Received::KeepAlive));
    let mut framer = StreamFramer::new();
    framer.push(b"\r\n\r\n");
    assert!(matches!(framer.next_message().unwrap(), Some(Received::KeepAlive)));
    assert!(framer.next_message().unwrap().is_none());
}

#[test]
fn a_stream_message_needs_content_length() {
    let mut framer = StreamFramer::new();
    framer.push(invite("", None, "").as_bytes());
    assert_eq!(framer.next_message().unwrap_err(), WireError::MissingContentLength);
}

#[test]
fn a_stream_frames_messages_by_content_length_across_reads() {
    let first = invite("", Some(SDP.len()), SDP);
    let second = invite("", Some(0), "").replace("call-1@", "call-2@");
    let stream = format!("{first}{second}");
    let (head, tail) = stream.as_bytes().split_at(first.len() + 17);

    let mut framer = StreamFramer::new();
    framer.push(&head[..40]);
    assert!(framer.next_message().unwrap().is_none(), "half a header block is not a message");
    framer.push(&head[40..]);
    let one = message(framer.next_message().unwrap().unwrap());
    assert_eq!(one.call_id_header().unwrap().value(), "call-1@127.0.0.1");
    assert_eq!(one.body(), SDP.as_bytes());
    assert!(framer.next_message().unwrap().is_none(), "the second message is incomplete");
    framer.push(tail);
    let two = message(framer.next_message().unwrap().unwrap());
    assert_eq!(two.call_id_header().unwrap().value(), "call-2@127.0.0.1");
    assert!(framer.next_message().unwrap().is_none());
}

#[test]
fn a_stream_content_length_near_usize_max_is_refused_not_wrapped() {
    let mut framer = StreamFramer::new();
    framer.push(invite("", Some(usize::MAX), "").as_bytes());
    assert_eq!(framer.next_message().unwrap_err(), WireError::TooLarge);
}

#[test]
fn a_stream_that_never_ends_its_headers_is_cut_off() {
    let mut framer = StreamFramer::new();
    framer.push(b"INVITE sip:101@acme SIP/2.0\r\n");
    for _ in 0..(MAX_MESSAGE / 16) {
        framer.push(b"X-Pad: 12345678\r\n");
    }
    assert_eq!(framer.next_message().unwrap_err(), WireError::TooLarge);
}

/// xorshift64*: deterministic, so a failure is reproducible from the printed seed.
fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

#[test]
fn mutated_messages_never_panic() {
    let original = invite("", Some(SDP.len()), SDP).into_bytes();
    let mut state = 0x5eed_u64;
    for round in 0..20_000 {
        let mut bytes = original.clone();
        for _ in 0..(1 + next(&mut state) % 8) {
            let position = (next(&mut state) as usize) % bytes.len().max(1);
            match next(&mut state) % 4 {
                0 => bytes[position] = next(&mut state) as u8,
                1 => bytes.truncate(position),
                2 => bytes.insert(position, b"\r\n: \t0"[(next(&mut state) % 6) as usize]),
                _ => {
                    bytes.remove(position.min(bytes.len().saturating_sub(1)));
                }
            }
            if bytes.is_empty() {
                break;
            }
        }
        // Each outcome is fine; a panic fails the test and names the round.
        let _ = std::panic::catch_unwind(|| parse_datagram(&bytes))
            .unwrap_or_else(|_| panic!("round {round} panicked on {:?}", String::from_utf8_lossy(&bytes)));
        let mut framer = StreamFramer::new();
        framer.push(&bytes);
        std::panic::catch_unwind(move || while let Ok(Some(_)) = framer.next_message() {})
            .unwrap_or_else(|_| panic!("round {round} panicked framing"));
    }
}
