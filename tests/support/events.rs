//! A CTI client of the call-event stream (`/api/v1/companies/{company}/events`) over a real
//! WebSocket (tungstenite): reads the host's JSON messages with a time bound.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use super::Server;

/// How long a test waits for an event before failing (a bound, not a speed claim).
pub const EVENT_PATIENCE: Duration = Duration::from_secs(20);

/// Who the client authenticates as, and how.
pub enum Token<'a> {
    /// `Authorization: Bearer` on the upgrade request.
    Header(&'a str),
    /// `?access_token=` (what a browser does).
    Query(&'a str),
}

pub struct EventClient {
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
    /// The snapshot the host sent first.
    pub first_snapshot: Value,
}

impl EventClient {
    /// Connect to `company`'s stream; panics unless the host upgrades and sends a snapshot.
    pub fn connect(server: &Server, company: &str, token: Token<'_>) -> EventClient {
        match EventClient::try_connect(server, company, token) {
            Ok(client) => client,
            Err(error) => panic!("event stream of {company}: {error}"),
        }
    }

    /// Connect, or the HTTP status the host refused the upgrade with.
    pub fn try_connect(server: &Server, company: &str, token: Token<'_>) -> Result<EventClient, String> {
        let base = server.url(&format!("/api/v1/companies/{company}/events")).replacen("http://", "ws://", 1);
        let request = match token {
            Token::Header(key) => {
                let mut request = tungstenite::client::IntoClientRequest::into_client_request(base.as_str())
                    .map_err(|e| e.to_string())?;
                request.headers_mut().insert("authorization", format!("Bearer {key}").parse().unwrap());
                request
            }
            Token::Query(key) => tungstenite::client::IntoClientRequest::into_client_request(format!(
                "{base}?access_token={key}"
            ))
            .map_err(|e| e.to_string())?,
        };
        let (socket, _) = tungstenite::connect(request).map_err(|error| match error {
            tungstenite::Error::Http(response) => format!("HTTP {}", response.status().as_u16()),
            other => other.to_string(),
        })?;
        if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
            stream.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        }
        let mut client = EventClient { socket, first_snapshot: Value::Null };
        client.first_snapshot = client.next_of_type("snapshot", EVENT_PATIENCE);
        Ok(client)
    }

    /// The next message, or `None` after `patience`.
    pub fn next(&mut self, patience: Duration) -> Option<Value> {
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            match self.socket.read() {
                Ok(Message::Text(text)) => return Some(serde_json::from_str(&text).expect("JSON message")),
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(error) => panic!("event stream: {error}"),
            }
        }
        None
    }

    /// The next message of type `kind`, skipping others; panics after `patience`.
    pub fn next_of_type(&mut self, kind: &str, patience: Duration) -> Value {
        let deadline = Instant::now() + patience;
        while let Some(message) = self.next(deadline.saturating_duration_since(Instant::now())) {
            if message["type"] == kind {
                return message;
            }
        }
        panic!("no {kind} message within {patience:?}");
    }

    /// Events until one matches `done` (included); panics after [`EVENT_PATIENCE`].
    pub fn events_until(&mut self, done: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + EVENT_PATIENCE;
        let mut events = Vec::new();
        while Instant::now() < deadline {
            let Some(message) = self.next(deadline.saturating_duration_since(Instant::now())) else { break };
            if message["type"] != "event" {
                continue;
            }
            let finished = done(&message);
            events.push(message);
            if finished {
                return events;
            }
        }
        panic!("the awaited event did not come; events so far: {events:#?}");
    }

    /// Ask for the current calls again.
    pub fn snapshot(&mut self) -> Value {
        self.socket.send(Message::Text(json!({"type": "snapshot"}).to_string().into())).unwrap();
        self.next_of_type("snapshot", EVENT_PATIENCE)
    }

    /// Events received within `quiet`, for checking nothing else came.
    pub fn drain(&mut self, quiet: Duration) -> Vec<Value> {
        let mut events = Vec::new();
        while let Some(message) = self.next(quiet) {
            events.push(message);
        }
        events
    }
}

/// `(event, user)` of each event, for comparing sequences.
pub fn kinds(events: &[Value]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| {
            (e["event"].as_str().unwrap_or("?").to_string(), e["user"].as_str().unwrap_or("?").to_string())
        })
        .collect()
}
