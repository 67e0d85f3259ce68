//! Small helpers over rsip messages: header values, URI users, and building a response
//! to a request (RFC 3261 §8.2.6).

use std::net::{IpAddr, SocketAddr};

use rsip::prelude::*;
use rsip::{Header, Headers, Request, Response};

/// The values of the headers `pick` selects, in order.
pub fn header_values(request: &Request, pick: impl Fn(&Header) -> Option<String>) -> Vec<String> {
    request.headers.iter().filter_map(pick).collect()
}

/// The user part of the SIP URI in a name-addr or addr-spec header value, e.g. "101" in
/// `"Ann" <sip:101@acme.example>;tag=x`.
pub fn uri_user(value: &str) -> Option<String> {
    let start = value.find("sip:").map(|i| i + 4).or_else(|| value.find("sips:").map(|i| i + 5))?;
    let rest = &value[start..];
    let at = rest.find('@')?;
    let user = &rest[..at];
    (!user.is_empty() && !user.contains(['>', ';', ' '])).then(|| user.to_string())
}

/// The RFC 3261 §21 reason phrase of `status` (rsip prints its enum names, e.g.
/// "ServiceUnavailable", which phones show to users).
pub fn reason_phrase(status: u16) -> &'static str {
    known_reason(status).unwrap_or(match status / 100 {
        1 => "Session Progress",
        2 => "OK",
        3 => "Redirection",
        4 => "Request Failure",
        5 => "Server Failure",
        _ => "Global Failure",
    })
}

/// The phrase RFC 3261 §21 gives `status`, for the codes it names that we send or see.
fn known_reason(status: u16) -> Option<&'static str> {
    Some(match status {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        420 => "Bad Extension",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => return None,
    })
}

/// `status` with its RFC reason phrase, as rsip prints it.
pub fn status_code(status: u16) -> rsip::StatusCode {
    rsip::StatusCode::Other(status, reason_phrase(status).to_string())
}

/// The top Via of a response to a request from `source`: `received` and a filled-in
/// `rport` (RFC 3261 §18.2.1, RFC 3581 §4), so the answer finds a phone behind NAT.
pub(crate) fn stamped_via(via: &str, source: SocketAddr) -> String {
    let mut params: Vec<String> = Vec::new();
    let mut parts = via.split(';');
    let sent_by = parts.next().unwrap_or_default().trim().to_string();
    let mut had_rport = false;
    for param in parts.map(str::trim).filter(|p| !p.is_empty()) {
        let name = param.split('=').next().unwrap_or_default().to_ascii_lowercase();
        match name.as_str() {
            "rport" => had_rport = true,
            "received" => {}
            _ => params.push(param.to_string()),
        }
    }
    params.push(format!("received={}", source.ip()));
    if had_rport {
        params.push(format!("rport={}", source.port()));
    }
    format!("{sent_by};{}", params.join(";"))
}

/// The header in which the cluster's front (deploy/kamailio) says where a request it
/// relays came from; it removes any copy the sender wrote.
pub const FRONT_SOURCE_HEADER: &str = "X-Centralita-Source";

/// Where the cluster's front says `request` came from ([`FRONT_SOURCE_HEADER`]): `None`
/// without exactly one such header naming an IP address. Trust it only from the front.
pub(crate) fn front_says_from(request: &Request) -> Option<IpAddr> {
    let values = header_values(request, |h| match h {
        Header::Other(name, value) if name.eq_ignore_ascii_case(FRONT_SOURCE_HEADER) => Some(value.clone()),
        _ => None,
    });
    match values.as_slice() {
        [value] => value.trim().trim_matches(['[', ']']).parse().ok(),
        _ => None,
    }
}

/// A response with `status` to `request` from `source`: its Vias (the top one stamped),
/// From, To (with a tag added for final responses), Call-ID and CSeq, then `extra`.
pub fn reply(request: &Request, source: SocketAddr, status: u16, extra: Vec<Header>) -> Response {
    let mut headers = Headers::default();
    let mut first_via = true;
    for header in request.headers.iter() {
        match header {
            Header::Via(via) if first_via => {
                first_via = false;
                headers.push(Header::Via(stamped_via(via.value(), source).into()));
            }
            Header::Via(_) | Header::From(_) | Header::CallId(_) | Header::CSeq(_) => {
                headers.push(header.clone())
            }
            Header::To(to) => {
                let value = to.value();
                if status >= 200 && !value.contains(";tag=") {
                    // The tag only has to be unique for this response's dialog-to-be.
                    headers.push(Header::To(format!("{value};tag={:08x}", rand::random::<u32>()).into()));
                } else {
                    headers.push(header.clone());
                }
            }
            _ => {}
        }
    }
    for header in extra {
        headers.push(header);
    }
    headers.push(Header::Server("Centralita".to_string().into()));
    headers.push(Header::ContentLength("0".to_string().into()));
    Response { status_code: status_code(status), version: rsip::Version::V2, headers, body: Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_users_are_found_in_name_addr_and_addr_spec() {
        assert_eq!(uri_user("\"Ann\" <sip:101@acme.example>;tag=x").as_deref(), Some("101"));
        assert_eq!(uri_user("sip:100@acme.example").as_deref(), Some("100"));
        assert_eq!(uri_user("<sips:200@acme.example:5061>").as_deref(), Some("200"));
        assert_eq!(uri_user("<sip:acme.example>"), None);
    }

    #[test]
    fn the_top_via_gets_received_and_rport() {
        let source: SocketAddr = "198.51.100.7:40123".parse().unwrap();
        assert_eq!(
            stamped_via("SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK-1;rport", source),
            "SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK-1;received=198.51.100.7;rport=40123"
        );
        assert_eq!(
            stamped_via("SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK-1", source),
            "SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK-1;received=198.51.100.7"
        );
    }

    fn invite(extra: &str) -> Request {
        let text = format!(
            "INVITE sip:3491000@10.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK-1\r\n{extra}\
             From: <sip:600@x>;tag=1\r\nTo: <sip:3491000@x>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\
             Content-Length: 0\r\n\r\n"
        );
        Request::try_from(text.as_bytes()).unwrap()
    }

    #[test]
    fn the_front_says_where_a_request_came_from_in_exactly_one_header() {
        let said = |extra: &str| front_says_from(&invite(extra));
        assert_eq!(said("X-Centralita-Source: 203.0.113.4\r\n"), "203.0.113.4".parse().ok());
        assert_eq!(said("x-centralita-source: [2001:db8::4]\r\n"), "2001:db8::4".parse().ok());
        assert_eq!(said(""), None, "not relayed by the front");
        let twice = "X-Centralita-Source: 203.0.113.4\r\nX-Centralita-Source: 198.51.100.1\r\n";
        assert_eq!(said(twice), None, "two claims: neither is the front's alone");
        assert_eq!(said("X-Centralita-Source: provider.example\r\n"), None, "a name is not an address");
    }
}
