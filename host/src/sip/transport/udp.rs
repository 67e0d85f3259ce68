//! The UDP transport: one socket, one task feeding the [`Endpoint`] datagrams, the calls'
//! commands and the timers, and sending what it returns.

use std::time::{Duration, Instant, SystemTime};

use tokio::net::UdpSocket;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::sip::endpoint::tu::Command;
use crate::sip::endpoint::{Endpoint, Packet};
use crate::sip::wire::MAX_MESSAGE;

/// The longest the task sleeps without looking at timers (registrations are purged then).
const IDLE_WAKE: Duration = Duration::from_secs(1);

/// Serve SIP over UDP on `socket` until `shutdown` resolves. `admits` is asked about each
/// datagram's source before it is parsed (the ban list drops banned addresses cheaply).
pub async fn serve(
    socket: UdpSocket,
    mut endpoint: Endpoint,
    mut commands: UnboundedReceiver<Command>,
    admits: impl Fn(std::net::IpAddr) -> bool,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut buffer = vec![0u8; MAX_MESSAGE + 1];
    tokio::pin!(shutdown);
    loop {
        let wake = endpoint.next_deadline().unwrap_or_else(|| Instant::now() + IDLE_WAKE);
        let packets = tokio::select! {
            () = &mut shutdown => break,
            () = tokio::time::sleep_until(wake.into()) => endpoint.on_tick(Instant::now()),
            command = commands.recv() => match command {
                Some(command) => {
                    let mut out = endpoint.on_command(command, Instant::now());
                    // Drain what else is queued, so a burst of calls costs one wake-up.
                    while let Ok(command) = commands.try_recv() {
                        out.extend(endpoint.on_command(command, Instant::now()));
                    }
                    out
                }
                None => Vec::new(),
            },
            received = socket.recv_from(&mut buffer) => match received {
                Ok((length, source)) if admits(source.ip()) => {
                    endpoint.on_datagram(&buffer[..length], source, Instant::now(), SystemTime::now())
                }
                Ok(_) => Vec::new(),
                Err(error) => {
                    // ICMP errors surface here on some systems; the socket stays usable.
                    tracing::debug!(%error, "UDP receive error");
                    Vec::new()
                }
            },
        };
        send_all(&socket, packets).await;
    }
}

async fn send_all(socket: &UdpSocket, packets: Vec<Packet>) {
    for (bytes, peer) in packets {
        if let Err(error) = socket.send_to(&bytes, peer).await {
            tracing::warn!(%peer, %error, "UDP send failed");
        }
    }
}
