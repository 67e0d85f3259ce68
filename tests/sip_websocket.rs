//! Black-box tests of SIP over WebSocket (RFC 7118, issue #5): a client speaking SIP in
//! WebSocket frames — what a browser's SIP library does — registers with the extension's
//! digest credentials on `/sip` and is called over that connection.

mod support;

use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};
use support::Server;
use support::sipp::{DOMAIN, call};
use tungstenite::client::IntoClientRequest;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// How long the client waits for a SIP message (a bound, not a speed claim).
const PATIENCE: Duration = Duration::from_secs(20);

struct SipSocket {
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
}

impl SipSocket {
    fn connect(server: &Server) -> SipSocket {
        let mut request =
            server.url("/sip").replace("http://", "ws://").into_client_request().expect("a request");
        request.headers_mut().insert("sec-websocket-protocol", "sip".parse().expect("a header"));
        let (socket, response) = tungstenite::connect(request).expect("the host upgrades /sip");
        let protocol = response.headers().get("sec-websocket-protocol").and_then(|v| v.to_str().ok());
        assert_eq!(protocol, Some("sip"), "RFC 7118's subprotocol is agreed");
        if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
            stream.set_read_timeout(Some(PATIENCE)).expect("a read timeout");
        }
        SipSocket { socket }
    }

    fn send(&mut self, message: &str) {
        self.socket.send(Message::text(message.replace('\n', "\r\n"))).expect("send a SIP message");
    }

    /// The next SIP message (one per frame).
    fn receive(&mut self) -> String {
        loop {
            match self.socket.read().expect("a SIP message") {
                Message::Text(text) => return text.to_string(),
                Message::Binary(bytes) => return String::from_utf8_lossy(&bytes).into_owned(),
                _ => {}
            }
        }
    }
}

fn header<'a>(message: &'a str, name: &str) -> &'a str {
    message
        .lines()
        .find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
        .unwrap_or_else(|| panic!("no {name} in:\n{message}"))
}

fn register(cseq: u32, authorization: Option<&str>) -> String {
    let authorization = authorization.map(|a| format!("Authorization: {a}\n")).unwrap_or_default();
    format!(
        "REGISTER sip:{DOMAIN} SIP/2.0
Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKws{cseq}
Max-Forwards: 70
From: <sip:101@{DOMAIN}>;tag=webphone
To: <sip:101@{DOMAIN}>
Call-ID: websocket-register
CSeq: {cseq} REGISTER
Contact: <sip:101@df7jal23ls0d.invalid;transport=ws>;expires=300
{authorization}Content-Length: 0

"
    )
}

#[test]
fn a_websocket_client_registers_with_digest_and_is_called_over_its_connection() {
    let server = Server::start();
    server.create_company("acme", json!({"sip_domain": DOMAIN}));
    let caller_password =
        server.create_user("acme", "100")["sip_password"].as_str().expect("a password").to_string();
    let password =
        server.create_user("acme", "101")["sip_password"].as_str().expect("a password").to_string();
    let mut phone = SipSocket::connect(&server);

    phone.send(&register(1, None));
    let challenge = phone.receive();
    assert!(challenge.starts_with("SIP/2.0 401"), "a challenge first:\n{challenge}");
    let answer = centralita::sip::digest::answer_challenge(
        header(&challenge, "WWW-Authenticate"),
        "101",
        &password,
        "REGISTER",
        &format!("sip:{DOMAIN}"),
        "0a4f113b",
    )
    .expect("a digest answer");
    phone.send(&register(2, Some(&answer)));
    let ok = phone.receive();
    assert!(ok.starts_with("SIP/2.0 200"), "registered:\n{ok}");
    let bindings: Value =
        server.operator().get("/api/v1/companies/acme/users/101/registrations").expect(200, "registrations");
    assert_eq!(bindings[0]["transport"], "ws", "{bindings}");

    // A call to 101 reaches it over its WebSocket; it declines.
    let (server_ref, caller) = (&server, caller_password.clone());
    thread::scope(|scope| {
        let caller = scope
            .spawn(move || call(server_ref, "100", &caller, "101", "refused", &[("FINAL_STATUS", "486")], 1));
        let invite = loop {
            let message = phone.receive();
            if message.starts_with("INVITE ") {
                break message;
            }
        };
        assert!(header(&invite, "Via").starts_with("SIP/2.0/WS"), "the host's Via names WS:\n{invite}");
        let busy = format!(
            "SIP/2.0 486 Busy Here\nVia: {}\nFrom: {}\nTo: {};tag=busy\nCall-ID: {}\nCSeq: {}\nContent-Length: 0\n\n",
            header(&invite, "Via"),
            header(&invite, "From"),
            header(&invite, "To"),
            header(&invite, "Call-ID"),
            header(&invite, "CSeq"),
        );
        phone.send(&busy);
        let ack = phone.receive();
        assert!(ack.starts_with("ACK "), "the host acknowledges the 486:\n{ack}");
        let (ok, log) = caller.join().expect("the caller");
        assert!(ok, "the caller heard 486:\n{log}\n{}", server.log());
    });
}

#[test]
fn a_frame_that_is_not_sip_closes_the_connection_and_the_host_goes_on() {
    let server = Server::start();
    server.create_company("acme", json!({"sip_domain": DOMAIN}));
    server.create_user("acme", "101");
    let mut phone = SipSocket::connect(&server);
    phone.socket.send(Message::text("hello, is this SIP?")).expect("send");
    let closed = loop {
        match phone.socket.read() {
            Ok(Message::Close(_)) => break true,
            Ok(_) => {}
            Err(tungstenite::Error::Io(error)) => panic!("the connection stayed open: {error}"),
            Err(_) => break true,
        }
    };
    assert!(closed);
    let mut again = SipSocket::connect(&server);
    again.send(&register(1, None));
    let reply = again.receive();
    assert!(reply.starts_with("SIP/2.0 401"), "a new connection is served:\n{reply}");
}
