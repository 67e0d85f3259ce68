//! The UDP transport: one socket, one task feeding the [`Endpoint`].

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use tokio::net::UdpSocket;

use super::endpoint::Endpoint;
use crate::sip::wire::MAX_MESSAGE;

/// How often transaction timers are checked (timer granularity).
const TICK: Duration = Duration::from_millis(100);

/// Serve SIP over UDP on `socket` until `shutdown` resolves.
pub async fn serve(
    socket: UdpSocket,
    mut endpoint: Endpoint,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut buffer = vec![0u8; MAX_MESSAGE + 1];
    let mut tick = tokio::time::interval(TICK);
    tokio::pin!(shutdown);
    loop {
        let packets = tokio::select! {
            () = &mut shutdown => break,
            _ = tick.tick() => endpoint.on_tick(Instant::now()),
            received = socket.recv_from(&mut buffer) => match received {
                Ok((length, source)) => endpoint.on_datagram(&buffer[..length], source, Instant::now(), SystemTime::now()),
                Err(error) => {
                    // ICMP errors surface here on some systems; the socket stays usable.
                    tracing::debug!(%error, "UDP receive error");
                    Vec::new()
                }
            },
        };
        for (bytes, peer) in packets {
            send(&socket, &bytes, peer).await;
        }
    }
}

async fn send(socket: &UdpSocket, bytes: &[u8], peer: SocketAddr) {
    if let Err(error) = socket.send_to(bytes, peer).await {
        tracing::warn!(%peer, %error, "UDP send failed");
    }
}
