//! SIP over TCP (RFC 3261 §18): each accepted connection frames its byte stream into
//! messages (`wire::StreamFramer`) and hands them to the driver; what the endpoint sends to
//! a TCP peer goes back over that peer's connection. RFC 5626 keep-alives ("\r\n\r\n")
//! are answered with "\r\n". A framing error closes the connection (a stream cannot be
//! resynchronised).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rsip::SipMessage;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::sip::endpoint::Peer;
use crate::sip::transport::Transport;
use crate::sip::wire::{Received, StreamFramer};

/// Most TCP connections held at once; more are refused (closed at once).
pub const MAX_CONNECTIONS: usize = 10_000;
/// A connection silent for longer than the longest registration is dead.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(3700);
/// Messages from all connections waiting for the driver; a full queue slows the readers.
pub const INBOUND_QUEUE: usize = 4096;

/// A message read from a connection.
pub type Inbound = (SipMessage, Peer);

/// The live connections by peer address, each with the sender of its writer.
#[derive(Clone, Default)]
pub struct Connections {
    writers: Arc<Mutex<HashMap<SocketAddr, mpsc::UnboundedSender<Vec<u8>>>>>,
}

impl Connections {
    fn writers(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, mpsc::UnboundedSender<Vec<u8>>>> {
        crate::sync::lock(&self.writers)
    }

    /// Queue `bytes` on the connection to `peer`; false when there is none.
    pub fn send(&self, peer: SocketAddr, bytes: Vec<u8>) -> bool {
        self.writers().get(&peer).is_some_and(|writer| writer.send(bytes).is_ok())
    }

    /// A connection to `peer` opens: what is sent to the peer arrives on the receiver
    /// (replacing an older connection from the same address).
    pub fn attach(
        &self,
        peer: SocketAddr,
    ) -> (mpsc::UnboundedSender<Vec<u8>>, mpsc::UnboundedReceiver<Vec<u8>>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        self.writers().insert(peer, sender.clone());
        (sender, receiver)
    }

    /// The connection to `peer` whose writer is `sender` closed (a newer one from the same
    /// address stays).
    pub fn detach(&self, peer: SocketAddr, sender: &mpsc::UnboundedSender<Vec<u8>>) {
        let mut writers = self.writers();
        if writers.get(&peer).is_some_and(|w| w.same_channel(sender)) {
            writers.remove(&peer);
        }
    }

    /// Live connections.
    pub fn len(&self) -> usize {
        self.writers().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Accept connections on `listener` until `shutdown`; messages go to `inbound`.
pub async fn accept(
    listener: TcpListener,
    connections: Connections,
    inbound: mpsc::Sender<Inbound>,
    admits: impl Fn(IpAddr) -> bool,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: pause rather than spin.
                tracing::warn!(%error, "TCP accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if !admits(peer.ip()) {
            continue;
        }
        if connections.len() >= MAX_CONNECTIONS {
            tracing::warn!(%peer, "too many SIP TCP connections; refused");
            continue;
        }
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve_connection(stream, peer, connections.clone(), inbound.clone()));
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    connections: Connections,
    inbound: mpsc::Sender<Inbound>,
) {
    let (mut reader, mut writer) = stream.into_split();
    let (outgoing, mut queue) = mpsc::unbounded_channel::<Vec<u8>>();
    connections.writers().insert(peer, outgoing.clone());
    let writing = tokio::spawn(async move {
        while let Some(bytes) = queue.recv().await {
            if let Err(error) = writer.write_all(&bytes).await {
                tracing::debug!(%peer, %error, "TCP write failed");
                break;
            }
        }
    });
    let from = Peer { addr: peer, transport: Transport::Tcp };
    let mut framer = StreamFramer::new();
    let mut buffer = vec![0u8; 16 * 1024];
    'reading: loop {
        let read = match tokio::time::timeout(IDLE_TIMEOUT, reader.read(&mut buffer)).await {
            Ok(Ok(0)) | Err(_) => break,
            Ok(Ok(read)) => read,
            Ok(Err(error)) => {
                tracing::debug!(%peer, %error, "TCP read failed");
                break;
            }
        };
        framer.push(&buffer[..read]);
        loop {
            match framer.next_message() {
                Ok(Some(Received::Message(message))) => {
                    if inbound.send((*message, from)).await.is_err() {
                        break 'reading;
                    }
                }
                Ok(Some(Received::KeepAlive)) => {
                    let _ = outgoing.send(b"\r\n".to_vec());
                }
                Ok(None) => break,
                Err(error) => {
                    tracing::warn!(%peer, %error, "malformed SIP on TCP; closing the connection");
                    break 'reading;
                }
            }
        }
    }
    // Only this connection's own writer is removed (a reconnect may have replaced it).
    let mut writers = connections.writers();
    if writers.get(&peer).is_some_and(|w| w.same_channel(&outgoing)) {
        writers.remove(&peer);
    }
    drop(writers);
    writing.abort();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn messages_split_across_reads_are_framed_and_keepalives_answered() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let connections = Connections::default();
        let (inbound, mut messages) = mpsc::channel(16);
        tokio::spawn(accept(listener, connections.clone(), inbound, |_| true, std::future::pending()));
        let mut client = TcpStream::connect(address).await.unwrap();
        let options = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bK1\r\n\
            From: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
        let (first, second) = options.split_at(40);
        client.write_all(first.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        client.write_all(second.as_bytes()).await.unwrap();
        let (message, from) = messages.recv().await.unwrap();
        assert!(matches!(message, SipMessage::Request(_)));
        assert_eq!(from.transport, Transport::Tcp);
        assert_eq!(connections.len(), 1);
        // What the endpoint sends to the peer goes over its connection.
        assert!(connections.send(from.addr, b"SIP/2.0 200 OK\r\n\r\n".to_vec()));
        client.write_all(b"\r\n\r\n").await.unwrap();
        let mut received = Vec::new();
        while !received.ends_with(b"\r\n\r\n\r\n") {
            let mut chunk = [0u8; 64];
            let n = client.read(&mut chunk).await.unwrap();
            assert!(n > 0, "connection closed early");
            received.extend_from_slice(&chunk[..n]);
        }
        assert_eq!(received, b"SIP/2.0 200 OK\r\n\r\n\r\n");
    }

    #[tokio::test]
    async fn garbage_closes_the_connection_and_forgets_it() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let connections = Connections::default();
        let (inbound, _messages) = mpsc::channel(16);
        tokio::spawn(accept(listener, connections.clone(), inbound, |_| true, std::future::pending()));
        let mut client = TcpStream::connect(address).await.unwrap();
        client
            .write_all(b"INVITE sip:a@b SIP/2.0\r\nContent-Length: 0\r\nVia: \xff\xfe\r\n\r\n")
            .await
            .unwrap();
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut rest)).await;
        assert!(closed.is_ok(), "the connection stayed open after garbage");
        for _ in 0..50 {
            if connections.is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the closed connection is still listed");
    }
}
