//! The dialog layer (RFC 3261 §12): the state both ends of a call keep — Call-ID, tags,
//! CSeq numbers, the remote target and the route set — and the messages built from it.
//! Sans-IO: a [`Dialog`] builds bytes and learns from parsed messages; the caller sends.
//!
//! The B2BUA keeps one dialog per leg: a UAS dialog towards the caller ([`Dialog::uas`])
//! and a UAC dialog towards each device it rings ([`Dialog::uac`]).

use std::net::SocketAddr;

use rsip::prelude::*;
use rsip::{Header, Request, Response};

use crate::sip::message::stamped_via;
use crate::sip::transport::Transport;

/// A request to send in a new client transaction (or, for an ACK of a 2xx, outside any).
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub method: rsip::Method,
    /// The branch of our Via: the client transaction's key (RFC 3261 §17.1.3).
    pub branch: String,
    /// The CSeq number of the request.
    pub cseq: u32,
    pub bytes: Vec<u8>,
    pub dest: SocketAddr,
    pub transport: Transport,
}

impl Outgoing {
    /// Where it goes, and how.
    pub fn peer(&self) -> crate::sip::endpoint::Peer {
        crate::sip::endpoint::Peer { addr: self.dest, transport: self.transport }
    }
}

/// One side of a dialog, as this host sees it.
#[derive(Debug, Clone)]
pub struct Dialog {
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: Option<String>,
    /// Our URI (name-addr, without tag): From of our requests.
    local_uri: String,
    /// The peer's URI (name-addr, without tag): To of our requests.
    remote_uri: String,
    /// The last CSeq number we used.
    local_cseq: u32,
    /// Request-URI of in-dialog requests: the peer's Contact.
    pub remote_target: String,
    /// Route headers of in-dialog requests (§12.1.1, §12.1.2), in the order to send them.
    route_set: Vec<String>,
    /// Where the peer's messages go (the registered source or the request's source: NAT).
    pub peer: SocketAddr,
    /// Our SIP address: Via and Contact.
    local: SocketAddr,
    /// How the peer is reached.
    transport: Transport,
    /// Max-Forwards of our requests (RFC 3261 §8.1.1.6): a B2BUA passes on what is left
    /// of the caller's, so a loop through hosts ends.
    max_forwards: u8,
}

/// Max-Forwards of requests that start here.
pub const DEFAULT_MAX_FORWARDS: u8 = 70;

/// The Max-Forwards of a request, when it has a readable one.
pub fn max_forwards(request: &Request) -> Option<u8> {
    request.headers.iter().find_map(|h| match h {
        Header::MaxForwards(m) => m.value().trim().parse().ok(),
        _ => None,
    })
}

/// A fresh random token for tags, branches and Call-IDs.
pub fn token() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// A fresh Via branch with the RFC 3261 magic cookie.
pub fn new_branch() -> String {
    format!("z9hG4bK{}", token())
}

/// The value of parameter `name` in a header value such as `<sip:a@b>;tag=x`.
pub fn param<'a>(value: &'a str, name: &str) -> Option<&'a str> {
    // Parameters follow the closing '>' of a name-addr (or the URI itself).
    let params = value.rfind('>').map_or(value, |i| &value[i + 1..]);
    params.split(';').skip(1).find_map(|p| {
        let (key, val) = p.split_once('=').unwrap_or((p, ""));
        key.trim().eq_ignore_ascii_case(name).then_some(val.trim())
    })
}

/// A header value without its parameters after the name-addr: `"A" <sip:a@b>;tag=x` →
/// `"A" <sip:a@b>`.
pub fn without_params(value: &str) -> &str {
    match value.rfind('>') {
        Some(i) => &value[..=i],
        None => value.split(';').next().unwrap_or(value),
    }
}

/// The URI inside a name-addr (`<sip:a@b;transport=udp>` → `sip:a@b;transport=udp`), or
/// the addr-spec itself without header parameters.
pub fn uri_in(value: &str) -> &str {
    match (value.find('<'), value.find('>')) {
        (Some(open), Some(close)) if open < close => &value[open + 1..close],
        _ => value.split(';').next().unwrap_or(value).trim(),
    }
}

/// The CSeq number of a message.
pub fn cseq_number(headers: &rsip::Headers) -> Option<u32> {
    headers.iter().find_map(|h| match h {
        Header::CSeq(cseq) => cseq.value().split_whitespace().next()?.parse().ok(),
        _ => None,
    })
}

fn values(headers: &rsip::Headers, pick: impl Fn(&Header) -> Option<&str>) -> Vec<String> {
    headers.iter().filter_map(pick).flat_map(split_commas).collect()
}

/// Split a comma-joined header value (`<a>, <b>`) outside quotes and angle brackets.
fn split_commas(value: &str) -> Vec<String> {
    let (mut parts, mut current, mut quoted, mut angled) = (Vec::new(), String::new(), false, false);
    for c in value.chars() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => angled = true,
            '>' if !quoted => angled = false,
            ',' if !quoted && !angled => {
                parts.push(std::mem::take(&mut current).trim().to_string());
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push(current.trim().to_string());
    parts.into_iter().filter(|p| !p.is_empty()).collect()
}

fn record_routes(headers: &rsip::Headers) -> Vec<String> {
    values(headers, |h| match h {
        Header::RecordRoute(r) => Some(r.value()),
        _ => None,
    })
}

/// The first Contact URI of a message.
pub fn contact_uri(headers: &rsip::Headers) -> Option<String> {
    values(headers, |h| match h {
        Header::Contact(c) => Some(c.value()),
        _ => None,
    })
    .first()
    .map(|c| uri_in(c).to_string())
}

impl Dialog {
    /// The dialog a UAC starts with an INVITE from `local_uri` to `remote_uri`, sent to
    /// `peer` at Request-URI `target`.
    pub fn uac(
        local: SocketAddr,
        peer: SocketAddr,
        local_uri: String,
        remote_uri: String,
        target: String,
    ) -> Dialog {
        Dialog {
            call_id: token(),
            local_tag: token(),
            remote_tag: None,
            local_uri,
            remote_uri,
            local_cseq: 0,
            remote_target: target,
            route_set: Vec::new(),
            peer,
            local,
            transport: Transport::Udp,
            max_forwards: DEFAULT_MAX_FORWARDS,
        }
    }

    /// The same dialog, its requests carrying `hops` as Max-Forwards.
    pub fn with_max_forwards(mut self, hops: u8) -> Dialog {
        self.max_forwards = hops;
        self
    }

    /// The same dialog, reaching its peer over `transport`.
    pub fn over(mut self, transport: Transport) -> Dialog {
        self.transport = transport;
        self
    }

    /// The dialog a UAS keeps for the INVITE `request` received from `source`, or `None`
    /// when the request lacks From, To or Call-ID.
    pub fn uas(request: &Request, source: SocketAddr, local: SocketAddr) -> Option<Dialog> {
        let from = request.from_header().ok()?.value().to_string();
        let to = request.to_header().ok()?.value().to_string();
        let call_id = request.call_id_header().ok()?.value().to_string();
        Some(Dialog {
            call_id,
            local_tag: token(),
            remote_tag: param(&from, "tag").map(str::to_string),
            local_uri: without_params(&to).to_string(),
            remote_uri: without_params(&from).to_string(),
            local_cseq: 0,
            remote_target: contact_uri(&request.headers).unwrap_or_else(|| request.uri.to_string()),
            // §12.1.1: the UAS's route set is the Record-Route of the request, in order.
            route_set: record_routes(&request.headers),
            peer: source,
            local,
            transport: request.via_header().map(|v| Transport::of_via(v.value())).unwrap_or_default(),
            max_forwards: DEFAULT_MAX_FORWARDS,
        })
    }

    /// Learn from a response to our INVITE (§12.1.2): the remote tag, the remote target
    /// and the route set (Record-Route in reverse order).
    pub fn on_response(&mut self, response: &Response) {
        if let Ok(to) = response.to_header()
            && let Some(tag) = param(to.value(), "tag")
        {
            self.remote_tag = Some(tag.to_string());
        }
        if let Some(contact) = contact_uri(&response.headers) {
            self.remote_target = contact;
        }
        let mut routes = record_routes(&response.headers);
        if !routes.is_empty() {
            routes.reverse();
            self.route_set = routes;
        }
    }

    /// A remote target refresh by a re-INVITE from the peer (§12.2.2).
    pub fn on_request(&mut self, request: &Request) {
        if let Some(contact) = contact_uri(&request.headers) {
            self.remote_target = contact;
        }
    }

    fn contact(&self) -> String {
        format!("<sip:centralita@{}>", self.local)
    }

    /// A request in this dialog (or the dialog's initial INVITE) with a new CSeq number.
    pub fn request(
        &mut self,
        method: rsip::Method,
        extra: &[(&str, String)],
        body: Option<&[u8]>,
    ) -> Outgoing {
        self.local_cseq += 1;
        let cseq = self.local_cseq;
        self.build(method, cseq, &new_branch(), extra, body)
    }

    /// The ACK of a 2xx to our INVITE with CSeq `cseq` (§13.2.2.4): its own branch.
    pub fn ack(&self, cseq: u32, body: Option<&[u8]>) -> Outgoing {
        self.build(rsip::Method::Ack, cseq, &new_branch(), &[], body)
    }

    /// The CANCEL of our INVITE `invite` (§9.1): same branch, Request-URI, Call-ID, From,
    /// To (without the remote tag) and CSeq number.
    pub fn cancel(&self, invite: &Outgoing) -> Outgoing {
        let to = self.remote_uri.clone();
        let mut text = format!("CANCEL {} SIP/2.0\r\n", self.remote_target);
        text.push_str(&format!(
            "Via: SIP/2.0/{} {};branch={};rport\r\n",
            self.transport.via_name(),
            self.local,
            invite.branch
        ));
        text.push_str("Max-Forwards: 70\r\n");
        text.push_str(&format!("From: {};tag={}\r\n", self.local_uri, self.local_tag));
        text.push_str(&format!("To: {to}\r\n"));
        text.push_str(&format!(
            "Call-ID: {}\r\nCSeq: {} CANCEL\r\nContent-Length: 0\r\n\r\n",
            self.call_id, invite.cseq
        ));
        Outgoing {
            method: rsip::Method::Cancel,
            branch: invite.branch.clone(),
            cseq: invite.cseq,
            bytes: text.into_bytes(),
            dest: invite.dest,
            transport: invite.transport,
        }
    }

    fn build(
        &self,
        method: rsip::Method,
        cseq: u32,
        branch: &str,
        extra: &[(&str, String)],
        body: Option<&[u8]>,
    ) -> Outgoing {
        let mut text = format!("{method} {} SIP/2.0\r\n", self.remote_target);
        text.push_str(&format!(
            "Via: SIP/2.0/{} {};branch={branch};rport\r\n",
            self.transport.via_name(),
            self.local
        ));
        text.push_str(&format!("Max-Forwards: {}\r\n", self.max_forwards));
        for route in &self.route_set {
            text.push_str(&format!("Route: {route}\r\n"));
        }
        text.push_str(&format!("From: {};tag={}\r\n", self.local_uri, self.local_tag));
        match &self.remote_tag {
            Some(tag) => text.push_str(&format!("To: {};tag={tag}\r\n", self.remote_uri)),
            None => text.push_str(&format!("To: {}\r\n", self.remote_uri)),
        }
        text.push_str(&format!("Call-ID: {}\r\nCSeq: {cseq} {method}\r\n", self.call_id));
        if matches!(method, rsip::Method::Invite) {
            text.push_str(&format!("Contact: {}\r\n", self.contact()));
            text.push_str("Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY\r\n");
        }
        for (name, value) in extra {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        let mut bytes = finish(text, body);
        bytes.shrink_to_fit();
        Outgoing {
            method,
            branch: branch.to_string(),
            cseq,
            bytes,
            dest: self.peer,
            transport: self.transport,
        }
    }

    /// Our response with `status` to `request` of the peer (received from `source`): the
    /// request's Vias (top one stamped, RFC 3581), From, Call-ID, CSeq and Record-Route, To
    /// with our tag (not on a 100), our Contact on 1xx/2xx to an INVITE, and `body`.
    pub fn response(&self, request: &Request, status: u16, body: Option<&[u8]>) -> Vec<u8> {
        let mut text = format!("SIP/2.0 {status} {}\r\n", crate::sip::message::reason_phrase(status));
        let mut first_via = true;
        for header in request.headers.iter() {
            match header {
                Header::Via(via) if first_via => {
                    first_via = false;
                    text.push_str(&format!("Via: {}\r\n", stamped_via(via.value(), self.peer)));
                }
                Header::Via(via) => text.push_str(&format!("Via: {}\r\n", via.value())),
                Header::RecordRoute(route) if status > 100 && status < 300 => {
                    text.push_str(&format!("Record-Route: {}\r\n", route.value()))
                }
                Header::From(from) => text.push_str(&format!("From: {}\r\n", from.value())),
                Header::To(to) => {
                    let value = to.value();
                    if status > 100 && param(value, "tag").is_none() {
                        text.push_str(&format!("To: {value};tag={}\r\n", self.local_tag));
                    } else {
                        text.push_str(&format!("To: {value}\r\n"));
                    }
                }
                Header::CallId(id) => text.push_str(&format!("Call-ID: {}\r\n", id.value())),
                Header::CSeq(cseq) => text.push_str(&format!("CSeq: {}\r\n", cseq.value())),
                _ => {}
            }
        }
        if request.method == rsip::Method::Invite && (101..300).contains(&status) {
            text.push_str(&format!("Contact: {}\r\n", self.contact()));
        }
        text.push_str("Server: Centralita\r\n");
        finish(text, body)
    }
}

/// Close a message's headers: Content-Type for a body (SDP unless the headers name
/// another), Content-Length, the body.
fn finish(mut text: String, body: Option<&[u8]>) -> Vec<u8> {
    let body = body.unwrap_or_default();
    let typed = text.lines().any(|line| line.to_ascii_lowercase().starts_with("content-type:"));
    if !body.is_empty() && !typed {
        text.push_str("Content-Type: application/sdp\r\n");
    }
    text.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::wire::{Received, parse_datagram};

    fn parse_request(bytes: &[u8]) -> Request {
        match parse_datagram(bytes) {
            Ok(Received::Message(message)) => match *message {
                rsip::SipMessage::Request(request) => request,
                other => panic!("not a request: {other}"),
            },
            other => panic!("unparsable: {other:?}"),
        }
    }

    fn parse_response(bytes: &[u8]) -> Response {
        match parse_datagram(bytes) {
            Ok(Received::Message(message)) => match *message {
                rsip::SipMessage::Response(response) => response,
                other => panic!("not a response: {other}"),
            },
            other => panic!("unparsable: {other:?}"),
        }
    }

    const INVITE: &str = "INVITE sip:101@acme.test SIP/2.0\r\n\
        Via: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bK-a1;rport\r\n\
        Record-Route: <sip:proxy.test;lr>\r\n\
        From: \"Ann\" <sip:100@acme.test>;tag=ann1\r\n\
        To: <sip:101@acme.test>\r\n\
        Call-ID: abc@10.0.0.5\r\n\
        CSeq: 7 INVITE\r\n\
        Contact: <sip:100@10.0.0.5:5062>\r\n\
        Content-Length: 0\r\n\r\n";

    fn local() -> SocketAddr {
        "192.0.2.1:5060".parse().unwrap()
    }

    #[test]
    fn a_uas_dialog_answers_with_its_tag_and_contact_and_stamps_the_via() {
        let invite = parse_request(INVITE.as_bytes());
        let source: SocketAddr = "198.51.100.9:40000".parse().unwrap();
        let dialog = Dialog::uas(&invite, source, local()).unwrap();
        assert_eq!(dialog.remote_tag.as_deref(), Some("ann1"));
        assert_eq!(dialog.remote_target, "sip:100@10.0.0.5:5062");
        let ok = parse_response(&dialog.response(&invite, 200, Some(b"v=0\r\n")));
        let to = ok.to_header().unwrap().value().to_string();
        assert_eq!(param(&to, "tag"), Some(dialog.local_tag.as_str()));
        let text = ok.to_string();
        assert!(text.contains("received=198.51.100.9;rport=40000"), "{text}");
        assert!(text.contains("Record-Route: <sip:proxy.test;lr>"), "{text}");
        assert!(text.contains("Contact: <sip:centralita@192.0.2.1:5060>"), "{text}");
        assert!(text.contains("Content-Type: application/sdp"), "{text}");
        // 100 Trying carries no To tag (§8.2.6.2).
        let trying = parse_response(&dialog.response(&invite, 100, None));
        assert_eq!(param(trying.to_header().unwrap().value(), "tag"), None);
    }

    #[test]
    fn in_dialog_requests_follow_the_uas_route_set_and_count_cseq() {
        let invite = parse_request(INVITE.as_bytes());
        let mut dialog = Dialog::uas(&invite, local(), local()).unwrap();
        let bye = parse_request(&dialog.request(rsip::Method::Bye, &[], None).bytes);
        assert_eq!(bye.uri.to_string(), "sip:100@10.0.0.5:5062");
        let text = bye.to_string();
        assert!(text.contains("Route: <sip:proxy.test;lr>"), "{text}");
        assert!(text.contains("To: \"Ann\" <sip:100@acme.test>;tag=ann1"), "{text}");
        assert!(text.contains("CSeq: 1 BYE"), "{text}");
        let again = parse_request(&dialog.request(rsip::Method::Bye, &[], None).bytes);
        assert_eq!(cseq_number(&again.headers), Some(2));
    }

    #[test]
    fn a_uac_dialog_learns_tag_target_and_reversed_record_route_from_the_answer() {
        let peer: SocketAddr = "10.0.0.7:5060".parse().unwrap();
        let mut dialog = Dialog::uac(
            local(),
            peer,
            "<sip:100@acme.test>".into(),
            "<sip:101@acme.test>".into(),
            "sip:101@10.0.0.7:5060".into(),
        );
        let invite = dialog.request(rsip::Method::Invite, &[], None);
        let ok = parse_response(
            format!(
                "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch={}\r\n\
                 Record-Route: <sip:p1;lr>, <sip:p2;lr>\r\n\
                 From: <sip:100@acme.test>;tag={}\r\nTo: <sip:101@acme.test>;tag=bob\r\n\
                 Call-ID: {}\r\nCSeq: 1 INVITE\r\nContact: <sip:101@10.0.0.7:5099>\r\n\
                 Content-Length: 0\r\n\r\n",
                invite.branch, dialog.local_tag, dialog.call_id
            )
            .as_bytes(),
        );
        dialog.on_response(&ok);
        let ack = dialog.ack(invite.cseq, None);
        assert_ne!(ack.branch, invite.branch, "the ACK of a 2xx is a new transaction");
        let ack = parse_request(&ack.bytes);
        assert_eq!(ack.uri.to_string(), "sip:101@10.0.0.7:5099");
        let text = ack.to_string();
        assert!(text.find("Route: <sip:p2;lr>").unwrap() < text.find("Route: <sip:p1;lr>").unwrap());
        assert!(text.contains("tag=bob") && text.contains("CSeq: 1 ACK"), "{text}");
    }

    #[test]
    fn a_cancel_copies_the_invite_branch_and_cseq() {
        let mut dialog = Dialog::uac(
            local(),
            local(),
            "<sip:100@acme.test>".into(),
            "<sip:101@acme.test>".into(),
            "sip:101@10.0.0.7".into(),
        );
        let invite = dialog.request(rsip::Method::Invite, &[], None);
        let cancel = dialog.cancel(&invite);
        let parsed = parse_request(&cancel.bytes);
        assert_eq!(cancel.branch, invite.branch);
        assert!(parsed.to_string().contains(&format!("CSeq: {} CANCEL", invite.cseq)));
    }

    #[test]
    fn header_helpers_read_params_and_uris() {
        assert_eq!(param("\"A;b\" <sip:a@b;x=1>;tag=t1", "tag"), Some("t1"));
        assert_eq!(param("<sip:a@b;tag=no>", "tag"), None);
        assert_eq!(uri_in("\"A\" <sip:a@b;transport=udp>;expires=3"), "sip:a@b;transport=udp");
        assert_eq!(uri_in("sip:a@b;expires=3"), "sip:a@b");
        assert_eq!(without_params("<sip:a@b>;tag=x"), "<sip:a@b>");
        assert_eq!(split_commas("\"x, y\" <sip:a>, <sip:b,c>"), ["\"x, y\" <sip:a>", "<sip:b,c>"]);
    }
}
