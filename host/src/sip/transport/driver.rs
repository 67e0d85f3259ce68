//! The SIP task: one loop owns the [`Endpoint`] and feeds it UDP datagrams, messages framed
//! from TCP connections, the calls' commands and the timers, then sends what it returns
//! over the transport each packet names.

use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc::{self, UnboundedReceiver};

use super::Transport;
use super::tcp::{self, Connections};
use crate::sip::endpoint::tu::Command;
use crate::sip::endpoint::{Endpoint, Packet};
use crate::sip::wire::MAX_MESSAGE;

/// Run [`serve`] on a thread of its own with a single-threaded runtime, so the SIP loop is
/// never queued behind call tasks (routing decisions, store reads) on the shared workers.
/// The sockets come bound (std) and are registered with that thread's runtime.
pub fn spawn_thread(
    udp: std::net::UdpSocket,
    tcp: std::net::TcpListener,
    streams: Streams,
    endpoint: Endpoint,
    commands: UnboundedReceiver<Command>,
    admits: impl Fn(IpAddr) -> bool + Clone + Send + 'static,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    udp.set_nonblocking(true)?;
    tcp.set_nonblocking(true)?;
    grow_buffers(&udp);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    std::thread::Builder::new().name("sip".into()).spawn(move || {
        crate::thread_priority::raise(SIP_THREAD_NICE, "sip");
        runtime.block_on(async move {
            let (udp, tcp) = match (UdpSocket::from_std(udp), TcpListener::from_std(tcp)) {
                (Ok(udp), Ok(tcp)) => (udp, tcp),
                (Err(error), _) | (_, Err(error)) => {
                    tracing::error!(%error, "cannot register the SIP sockets");
                    return;
                }
            };
            serve(udp, tcp, streams, endpoint, commands, admits, shutdown).await;
        });
    })
}

/// The nice value asked for the SIP thread: every message of every call passes through it,
/// so on a busy machine it should not wait behind relay or background work.
pub const SIP_THREAD_NICE: i32 = -5;

/// Socket buffer asked for the SIP UDP socket (the kernel caps it at net.core.rmem_max /
/// wmem_max). The default (~200 KiB, a few hundred messages) overflows in a burst of calls
/// while the loop is busy, and every message lost there costs a 500 ms+ retransmission.
pub const UDP_BUFFER_BYTES: usize = 4 << 20;

/// Ask for [`UDP_BUFFER_BYTES`] of receive and send buffer and log what was granted.
fn grow_buffers(udp: &std::net::UdpSocket) {
    let socket = socket2::SockRef::from(udp);
    let _ = socket.set_recv_buffer_size(UDP_BUFFER_BYTES);
    let _ = socket.set_send_buffer_size(UDP_BUFFER_BYTES);
    tracing::info!(
        receive = socket.recv_buffer_size().unwrap_or_default(),
        send = socket.send_buffer_size().unwrap_or_default(),
        "SIP UDP socket buffers"
    );
}

/// The longest the task sleeps without looking at timers (registrations are purged then).
const IDLE_WAKE: Duration = Duration::from_secs(1);

/// The connection-oriented transports' side of the driver: the live connections (TCP ones
/// it accepts, WebSocket ones the HTTP listener accepts) and the messages they read.
pub struct Streams {
    intake: StreamIntake,
    framed: mpsc::Receiver<tcp::Inbound>,
}

/// What a connection needs to take part: where its messages go and where it is listed for
/// what is sent to its peer. Cheap to clone.
#[derive(Clone)]
pub struct StreamIntake {
    pub connections: Connections,
    pub inbound: mpsc::Sender<tcp::Inbound>,
}

impl Streams {
    pub fn new() -> Streams {
        let (inbound, framed) = mpsc::channel(tcp::INBOUND_QUEUE);
        Streams { intake: StreamIntake { connections: Connections::default(), inbound }, framed }
    }

    /// For connections accepted elsewhere (WebSocket, by the HTTP listener).
    pub fn intake(&self) -> StreamIntake {
        self.intake.clone()
    }
}

impl Default for Streams {
    fn default() -> Streams {
        Streams::new()
    }
}

/// Serve SIP on `udp`, `tcp` and the `streams` until `shutdown` resolves. `admits` is
/// asked about each sender before its message is parsed (the ban list drops banned
/// addresses cheaply).
pub async fn serve(
    udp: UdpSocket,
    tcp: TcpListener,
    streams: Streams,
    mut endpoint: Endpoint,
    mut commands: UnboundedReceiver<Command>,
    admits: impl Fn(IpAddr) -> bool + Clone + Send + 'static,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let Streams { intake: StreamIntake { connections, inbound }, mut framed } = streams;
    let (stop_accepting, accepting_stopped) = tokio::sync::oneshot::channel::<()>();
    let acceptor = tokio::spawn(tcp::accept(tcp, connections.clone(), inbound, admits.clone(), async move {
        let _ = accepting_stopped.await;
    }));
    let mut buffer = vec![0u8; MAX_MESSAGE + 1];
    tokio::pin!(shutdown);
    loop {
        let wake = endpoint.next_deadline().unwrap_or_else(|| Instant::now() + IDLE_WAKE);
        let mut packets = tokio::select! {
            () = &mut shutdown => {
                // What the calls asked to send before the end still goes out (a last BYE).
                let last = carry_out_queued(&mut endpoint, &mut commands, Vec::new());
                send_all(&udp, &connections, last).await;
                break;
            }
            () = tokio::time::sleep_until(wake.into()) => Vec::new(),
            command = commands.recv() => match command {
                Some(command) => {
                    let out = endpoint.on_command(command, Instant::now());
                    // Drain what else is queued, so a burst of calls costs one wake-up.
                    carry_out_queued(&mut endpoint, &mut commands, out)
                }
                None => Vec::new(),
            },
            received = udp.recv_from(&mut buffer) => match received {
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
            Some((message, from)) = framed.recv() => {
                if admits(from.addr.ip()) {
                    endpoint.on_stream_message(message, from, Instant::now(), SystemTime::now())
                } else {
                    Vec::new()
                }
            }
        };
        // Timers due by now fire whatever woke the loop: the lazy ones never wait for a
        // wake-up of their own while messages keep it busy.
        packets.extend(endpoint.on_tick(Instant::now()));
        send_all(&udp, &connections, packets).await;
    }
    let _ = stop_accepting.send(());
    let _ = acceptor.await;
}

/// Carry out every command queued now, adding what they send to `out`.
fn carry_out_queued(
    endpoint: &mut Endpoint,
    commands: &mut UnboundedReceiver<Command>,
    mut out: Vec<Packet>,
) -> Vec<Packet> {
    while let Ok(command) = commands.try_recv() {
        out.extend(endpoint.on_command(command, Instant::now()));
    }
    out
}

async fn send_all(udp: &UdpSocket, connections: &Connections, packets: Vec<Packet>) {
    for Packet { bytes, to } in packets {
        match to.transport {
            Transport::Udp => {
                if let Err(error) = udp.send_to(&bytes, to.addr).await {
                    tracing::warn!(peer = %to.addr, %error, "UDP send failed");
                }
            }
            Transport::Tcp | Transport::Ws => {
                // Requests to a device go over the connection it registered on; there is
                // no outgoing connection yet, so a closed one is a lost message (the
                // transaction then times out).
                if !connections.send(to.addr, bytes) {
                    tracing::warn!(peer = %to.addr, transport = ?to.transport, "no connection to the peer; message dropped");
                }
            }
        }
    }
}
