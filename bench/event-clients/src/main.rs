//! The clients of `bench/events.sh`: WebSocket connections to a company's call-event
//! stream, one per line of TOKENS, each stamping (wall clock, µs) every Ringing event it
//! receives.
//!
//! ```sh
//! event-clients URL TOKENS EXPECTED OUT
//! ```
//!
//! TOKENS has one line per client: its key, and `<TAB>watch` for the clients expected to
//! see the calls (a company key, or the key of the user the calls ring); the others (other
//! users' panels) only stay connected. Connects every client (a few at a time), prints
//! `connected N` once all have their first snapshot, then waits until every watching
//! client saw EXPECTED Ringing events (or 10 s pass with nothing new) and writes
//! `call_id<TAB>client<TAB>unix_us` lines to OUT. The stamp is taken when the frame is
//! read, before parsing it.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use tokio::sync::{Mutex, Semaphore};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Connections opened at once while connecting.
const CONNECTING_AT_ONCE: usize = 50;
/// Read buffer of each client (messages are a few hundred bytes).
const READ_BUFFER: usize = 8192;
/// A client stops after this long without a message once all are connected.
const IDLE: Duration = Duration::from_secs(10);

type Stamps = Arc<Mutex<Vec<(String, usize, u128)>>>;

fn now_us() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros())
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, tokens, expected, out] = args.as_slice() else {
        return Err("usage: event-clients URL TOKENS EXPECTED OUT".into());
    };
    let tokens = std::fs::read_to_string(tokens).map_err(|e| format!("{tokens}: {e}"))?;
    let tokens: Vec<(String, bool)> = tokens
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| match line.split_once('\t') {
            Some((token, role)) => (token.to_string(), role == "watch"),
            None => (line.to_string(), false),
        })
        .collect();
    let clients = tokens.len();
    let expected: usize = expected.parse().map_err(|e| format!("EXPECTED: {e}"))?;
    // The others stay connected until every watching client is done.
    let (all_done, done) = tokio::sync::watch::channel(false);
    let stamps: Stamps = Arc::default();
    let connecting = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut watchers = Vec::new();
    let mut bystanders = Vec::new();
    for (client, (token, watching)) in tokens.into_iter().enumerate() {
        let mut request = url.as_str().into_client_request().map_err(|e| e.to_string())?;
        let bearer = format!("Bearer {token}").parse().map_err(|e| format!("token: {e}"))?;
        request.headers_mut().insert("authorization", bearer);
        let (stamps, connecting, ready) = (stamps.clone(), connecting.clone(), ready_tx.clone());
        let mut done = done.clone();
        let task = tokio::spawn(async move {
            let permit = connecting.acquire().await.map_err(|e| e.to_string())?;
            // A small read buffer: tungstenite zeroes all of it on every read.
            let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER);
            let (mut socket, _) = tokio_tungstenite::connect_async_with_config(request, Some(config), true)
                .await
                .map_err(|e| e.to_string())?;
            // The first message is the snapshot.
            socket.next().await.ok_or("closed before the snapshot")?.map_err(|e| e.to_string())?;
            drop(permit);
            let _ = ready.send(());
            if !watching {
                // Another user's panel: connected, reading nothing, until the end.
                let _ = done.wait_for(|done| *done).await;
                return Ok(expected);
            }
            let mut seen = 0;
            while seen < expected {
                let message = match tokio::time::timeout(IDLE, socket.next()).await {
                    Ok(Some(Ok(message))) => message,
                    Ok(Some(Err(e))) => return Err(e.to_string()),
                    Ok(None) | Err(_) => break,
                };
                let at = now_us();
                let Message::Text(text) = message else { continue };
                // Only Ringing events are parsed: the clients share the host's two cores,
                // and their work would delay the host's sending.
                if text.contains(r#""event":"ringing""#) {
                    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
                    let call_id = value["call_id"].as_str().unwrap_or_default().to_string();
                    stamps.lock().await.push((call_id, client, at));
                    seen += 1;
                } else if text.contains(r#""type":"lagged""#) {
                    eprintln!("client {client} lagged: {text}");
                }
            }
            Ok::<usize, String>(seen)
        });
        if watching { watchers.push(task) } else { bystanders.push(task) }
    }
    drop(ready_tx);
    for connected in 1..=clients {
        if ready_rx.recv().await.is_none() {
            return Err(format!("only {} clients connected", connected - 1));
        }
    }
    println!("connected {clients}");
    let mut short = 0;
    let watching = watchers.len();
    for task in watchers {
        match task.await.map_err(|e| e.to_string())? {
            Ok(seen) if seen < expected => short += 1,
            Ok(_) => {}
            Err(error) => return Err(format!("a client failed: {error}")),
        }
    }
    let _ = all_done.send(true);
    for task in bystanders {
        task.await.map_err(|e| e.to_string())??;
    }
    println!("{watching} of {clients} clients watched the calls");
    if short > 0 {
        eprintln!("{short} clients saw fewer than {expected} Ringing events");
    }
    let stamps = stamps.lock().await;
    let lines: String = stamps.iter().map(|(call, client, at)| format!("{call}\t{client}\t{at}\n")).collect();
    std::fs::write(out, lines).map_err(|e| format!("{out}: {e}"))?;
    Ok(())
}
