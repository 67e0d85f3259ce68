//! bench/media.sh's RTP load, for bench/sipp/media_load.py once its calls are set up:
//! plays every stream at 50 packets/s (172-byte PCMU packets, spread evenly over each
//! 20 ms) for SECONDS, from the caller's or the callee's media socket as the stream says,
//! and receives what the relay sends back on both sockets, per stream, with its latency.
//!
//! ```text
//! rtp-streams CALLER_PORT CALLEE_PORT SECONDS < streams.json
//! ```
//!
//! `streams.json` is `[[side, "ip:port"], ...]` (side 0 sends from the caller's socket, 1
//! from the callee's); stream `i` carries SSRC `i`, and its payload starts with its send
//! time (ns, this process's monotonic clock) and `i`: a relay may renumber the header, so
//! the receiver reads the index from the payload. Prints one JSON line:
//! `{"sent": N, "took_s": F, "received": [per stream], "histogram": [0.1 ms buckets]}`.
//!
//! Sends and receives go in batches (sendmmsg, recvmmsg): at 100,000 packets/s a packet
//! costs the generator well under a microsecond of system time, so on a 2-core machine the
//! relay under test gets the CPU (the Python generator needed about 6 µs per packet).

use std::io::Read;
use std::net::{SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// 20 ms of G.711 at 8 kHz.
const PACKET_INTERVAL: Duration = Duration::from_millis(20);
const PAYLOAD: usize = 160;
const PACKET: usize = 12 + PAYLOAD;
/// The index of the packet that tells the receiver a socket is done.
const STOP_STREAM: u32 = u32::MAX;
/// Packets per sendmmsg or recvmmsg call.
const BATCH: usize = 64;
/// Latency histogram: 0.1 ms buckets up to 2 s.
const BUCKETS: usize = 20_001;

fn main() {
    let arguments: Vec<String> = std::env::args().collect();
    let [_, caller_port, callee_port, seconds] = &arguments[..] else {
        eprintln!("usage: rtp-streams CALLER_PORT CALLEE_PORT SECONDS < streams.json");
        std::process::exit(2);
    };
    let port = |text: &str| text.parse::<u16>().unwrap_or_else(|_| panic!("not a port: {text}"));
    let seconds: u64 = seconds.parse().expect("SECONDS is a whole number");
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).expect("the streams on stdin");
    let table: Vec<(usize, String)> = serde_json::from_str(&input).expect("[[side, \"ip:port\"], ...]");
    let streams: Vec<(usize, SocketAddrV4)> = table
        .into_iter()
        .map(|(side, address)| (side, address.parse().unwrap_or_else(|_| panic!("not ip:port: {address}"))))
        .collect();

    let sockets = [bind(port(caller_port)), bind(port(callee_port))];
    let clock = Instant::now();
    let receiver = {
        let sockets = [sockets[0].try_clone().expect("clone"), sockets[1].try_clone().expect("clone")];
        let count = streams.len();
        std::thread::spawn(move || receive(&sockets, count, clock))
    };
    let (sent, took) = send(&sockets, &streams, seconds, clock);
    // What is still in the relay arrives; then each socket is told to stop.
    std::thread::sleep(Duration::from_secs(1));
    let stopper = UdpSocket::bind("127.0.0.1:0").expect("a socket for the stop packets");
    for socket in &sockets {
        let mut stop = [0u8; PACKET];
        stop[0] = 0x80;
        stop[20..24].copy_from_slice(&STOP_STREAM.to_be_bytes());
        stopper.send_to(&stop, socket.local_addr().expect("its address")).expect("send a stop packet");
    }
    let (received, histogram) = receiver.join().expect("the receiver");
    let report = serde_json::json!({
        "sent": sent, "took_s": took.as_secs_f64(), "received": received, "histogram": histogram,
    });
    println!("{report}");
}

fn bind(port: u16) -> UdpSocket {
    let socket =
        UdpSocket::bind(("127.0.0.1", port)).unwrap_or_else(|e| panic!("bind 127.0.0.1:{port}: {e}"));
    let bytes: libc::c_int = 8 << 20;
    for option in [libc::SO_RCVBUF, libc::SO_SNDBUF] {
        // SAFETY: a valid socket, and the option value lives across the call.
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                option,
                (&bytes as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
    socket
}

fn nanos(clock: Instant) -> u64 {
    clock.elapsed().as_nanos() as u64
}

/// Play every stream for `seconds`; (packets sent, time taken).
fn send(
    sockets: &[UdpSocket; 2],
    streams: &[(usize, SocketAddrV4)],
    seconds: u64,
    clock: Instant,
) -> (u64, Duration) {
    let count = streams.len().max(1) as u32;
    let ticks = seconds * 1000 / PACKET_INTERVAL.as_millis() as u64;
    let start = clock.elapsed() + Duration::from_millis(10);
    let mut batches = [Batch::new(), Batch::new()];
    let mut sent = 0u64;
    let began = Instant::now();
    for tick in 0..ticks {
        let base = start + PACKET_INTERVAL * tick as u32;
        for (index, (side, address)) in streams.iter().enumerate() {
            let due = base + PACKET_INTERVAL * index as u32 / count;
            let now = clock.elapsed();
            if due > now + Duration::from_micros(500) {
                // Everything due before this packet goes out first, then wait for it.
                for (batch, socket) in batches.iter_mut().zip(sockets) {
                    sent += batch.flush(socket);
                }
                std::thread::sleep(due - clock.elapsed().min(due));
            }
            let batch = &mut batches[*side];
            batch.push(*address, |packet| {
                packet[0] = 0x80;
                packet[1] = 0; // PCMU
                packet[2..4].copy_from_slice(&(tick as u16).to_be_bytes());
                packet[4..8].copy_from_slice(&((tick * 160) as u32).to_be_bytes());
                packet[8..12].copy_from_slice(&(index as u32).to_be_bytes());
                packet[12..20].copy_from_slice(&nanos(clock).to_be_bytes());
                packet[20..24].copy_from_slice(&(index as u32).to_be_bytes());
            });
            if batch.full() {
                sent += batch.flush(&sockets[*side]);
            }
        }
    }
    for (batch, socket) in batches.iter_mut().zip(sockets) {
        sent += batch.flush(socket);
    }
    (sent, began.elapsed())
}

/// Packets waiting to go out of one socket in a single sendmmsg.
struct Batch {
    packets: Vec<[u8; PACKET]>,
    addresses: Vec<libc::sockaddr_in>,
    length: usize,
}

impl Batch {
    fn new() -> Batch {
        let mut silence = [0xffu8; PACKET]; // PCMU silence after the mark
        silence[..24].fill(0);
        // SAFETY: sockaddr_in is plain data; all zeroes is a valid value.
        let empty: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        Batch { packets: vec![silence; BATCH], addresses: vec![empty; BATCH], length: 0 }
    }

    fn full(&self) -> bool {
        self.length == BATCH
    }

    fn push(&mut self, to: SocketAddrV4, fill: impl FnOnce(&mut [u8; PACKET])) {
        fill(&mut self.packets[self.length]);
        let address = &mut self.addresses[self.length];
        address.sin_family = libc::AF_INET as libc::sa_family_t;
        address.sin_port = to.port().to_be();
        address.sin_addr.s_addr = u32::from(*to.ip()).to_be();
        self.length += 1;
    }

    /// Send what is waiting; the packets the kernel took.
    fn flush(&mut self, socket: &UdpSocket) -> u64 {
        let mut sent = 0;
        let mut iovecs: Vec<libc::iovec> = self.packets[..self.length]
            .iter_mut()
            .map(|packet| libc::iovec { iov_base: packet.as_mut_ptr().cast(), iov_len: PACKET })
            .collect();
        // SAFETY: mmsghdr is plain data; every pointer set below outlives the sendmmsg call.
        let mut headers: Vec<libc::mmsghdr> =
            (0..self.length).map(|_| unsafe { std::mem::zeroed() }).collect();
        for (i, header) in headers.iter_mut().enumerate() {
            header.msg_hdr.msg_name = (&mut self.addresses[i] as *mut libc::sockaddr_in).cast();
            header.msg_hdr.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            header.msg_hdr.msg_iov = &mut iovecs[i];
            header.msg_hdr.msg_iovlen = 1;
        }
        let mut from = 0;
        while from < headers.len() {
            // SAFETY: `headers[from..]` are valid messages (see above).
            let result = unsafe {
                libc::sendmmsg(
                    socket.as_raw_fd(),
                    headers[from..].as_mut_ptr(),
                    (headers.len() - from) as u32,
                    0,
                )
            };
            if result <= 0 {
                break; // Our own send buffer is full: not sent, not counted.
            }
            from += result as usize;
            sent += result as u64;
        }
        self.length = 0;
        sent
    }
}

/// Count each stream's packets and their latency until a stop packet came on every socket.
fn receive(sockets: &[UdpSocket; 2], streams: usize, clock: Instant) -> (Vec<u64>, Vec<u64>) {
    let mut received = vec![0u64; streams];
    let mut histogram = vec![0u64; BUCKETS];
    let mut buffers = vec![[0u8; 2048]; BATCH];
    let mut stopped = [false, false];
    for socket in sockets {
        socket.set_nonblocking(true).expect("non-blocking");
    }
    let mut polled: Vec<libc::pollfd> = sockets
        .iter()
        .map(|s| libc::pollfd { fd: s.as_raw_fd(), events: libc::POLLIN, revents: 0 })
        .collect();
    while !(stopped[0] && stopped[1]) {
        // SAFETY: `polled` is a valid array of two pollfds.
        unsafe { libc::poll(polled.as_mut_ptr(), 2, 1000) };
        for (which, socket) in sockets.iter().enumerate() {
            loop {
                let lengths = receive_batch(socket, &mut buffers);
                if lengths.is_empty() {
                    break;
                }
                let now = nanos(clock);
                for (buffer, length) in buffers.iter().zip(lengths) {
                    if length < 24 {
                        continue;
                    }
                    let index = u32::from_be_bytes(buffer[20..24].try_into().expect("4 bytes"));
                    if index == STOP_STREAM {
                        stopped[which] = true;
                        continue;
                    }
                    let sent_at = u64::from_be_bytes(buffer[12..20].try_into().expect("8 bytes"));
                    if let Some(count) = received.get_mut(index as usize) {
                        *count += 1;
                        let bucket = (now.saturating_sub(sent_at) / 100_000) as usize;
                        histogram[bucket.min(BUCKETS - 1)] += 1;
                    }
                }
            }
        }
        for entry in &mut polled {
            entry.revents = 0;
        }
    }
    (received, histogram)
}

/// One recvmmsg without waiting: the lengths of the packets now in `buffers`.
fn receive_batch(socket: &UdpSocket, buffers: &mut [[u8; 2048]]) -> Vec<usize> {
    let mut iovecs: Vec<libc::iovec> = buffers
        .iter_mut()
        .map(|b| libc::iovec { iov_base: b.as_mut_ptr().cast(), iov_len: b.len() })
        .collect();
    // SAFETY: mmsghdr is plain data; every pointer set below outlives the recvmmsg call.
    let mut headers: Vec<libc::mmsghdr> = (0..buffers.len()).map(|_| unsafe { std::mem::zeroed() }).collect();
    for (header, iovec) in headers.iter_mut().zip(iovecs.iter_mut()) {
        header.msg_hdr.msg_iov = iovec;
        header.msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: `headers` are valid messages whose buffers are `buffers`.
    let result = unsafe {
        libc::recvmmsg(
            socket.as_raw_fd(),
            headers.as_mut_ptr(),
            headers.len() as u32,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        )
    };
    if result <= 0 {
        return Vec::new();
    }
    headers[..result as usize].iter().map(|h| h.msg_len as usize).collect()
}
