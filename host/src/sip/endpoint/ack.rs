//! The ACK a client INVITE transaction sends for a non-2xx final response (RFC 3261
//! §17.1.1.3): the INVITE's Request-URI, top Via, From, Call-ID, Route headers and CSeq
//! number, with the To of the response (it carries the tag the UAS chose).

/// Build the ACK of `invite` (our own request, as sent) for the final `response`; `None`
/// when either cannot be read (then no ACK is sent and the peer retransmits until timer H).
pub fn non_2xx_ack(invite: &[u8], response: &[u8]) -> Option<Vec<u8>> {
    let invite = std::str::from_utf8(invite).ok()?;
    let response = std::str::from_utf8(response).ok()?;
    let mut lines = invite.split("\r\n");
    let request_line = lines.next()?;
    let uri = request_line.strip_prefix("INVITE ")?.strip_suffix(" SIP/2.0")?;
    let mut ack = format!("ACK {uri} SIP/2.0\r\n");
    let mut via_done = false;
    let mut cseq = None;
    for line in lines.take_while(|l| !l.is_empty()) {
        let name = line.split(':').next().unwrap_or_default().trim().to_ascii_lowercase();
        match name.as_str() {
            "via" if !via_done => {
                via_done = true;
                ack.push_str(line);
                ack.push_str("\r\n");
            }
            "from" | "call-id" | "route" | "max-forwards" => {
                ack.push_str(line);
                ack.push_str("\r\n");
            }
            "cseq" => cseq = line.split(':').nth(1)?.split_whitespace().next().map(str::to_string),
            _ => {}
        }
    }
    let to = response.split("\r\n").take_while(|l| !l.is_empty()).find(|l| {
        let name = l.split(':').next().unwrap_or_default().trim();
        name.eq_ignore_ascii_case("to") || name == "t"
    })?;
    let to_value = to.split_once(':')?.1.trim();
    ack.push_str(&format!("To: {to_value}\r\nCSeq: {} ACK\r\nContent-Length: 0\r\n\r\n", cseq?));
    Some(ack.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ack_of_a_non_2xx_copies_the_invite_and_takes_the_responses_to() {
        let invite = "INVITE sip:101@10.0.0.7:5060 SIP/2.0\r\n\
            Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc;rport\r\n\
            Max-Forwards: 70\r\nRoute: <sip:p1;lr>\r\n\
            From: <sip:100@acme.test>;tag=me\r\nTo: <sip:101@acme.test>\r\n\
            Call-ID: c1\r\nCSeq: 4 INVITE\r\nContact: <sip:x@192.0.2.1>\r\n\
            Content-Length: 3\r\n\r\nv=0";
        let busy = "SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc\r\n\
            From: <sip:100@acme.test>;tag=me\r\nTo: <sip:101@acme.test>;tag=dev\r\n\
            Call-ID: c1\r\nCSeq: 4 INVITE\r\nContent-Length: 0\r\n\r\n";
        let ack = String::from_utf8(non_2xx_ack(invite.as_bytes(), busy.as_bytes()).unwrap()).unwrap();
        assert!(ack.starts_with("ACK sip:101@10.0.0.7:5060 SIP/2.0\r\n"), "{ack}");
        for expected in [
            "branch=z9hG4bKabc",
            "Route: <sip:p1;lr>",
            "To: <sip:101@acme.test>;tag=dev",
            "CSeq: 4 ACK",
            "Call-ID: c1",
        ] {
            assert!(ack.contains(expected), "{expected} missing in {ack}");
        }
        assert!(!ack.contains("Contact"), "{ack}");
        assert!(non_2xx_ack(b"garbage", busy.as_bytes()).is_none());
    }
}
