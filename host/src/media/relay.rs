//! The RTP relay: each call gets two sides, A facing the caller and B facing the callee,
//! each an RTP and an RTCP socket on a pair of the port range. What arrives on one side is
//! sent, byte for byte, from the other side to that side's remote: no decoding, so RFC 4733
//! telephone events, comfort noise and any payload pass through as they are.
//!
//! One task per socket does `recv_from` → `send_to` with a buffer it reuses. The per-packet
//! path takes no lock: a side's remote address is read from a task-local copy that is
//! refreshed only when an atomic generation number says it changed (by `set_remote` or by
//! latching), and the counters are atomics each written by one task.
//!
//! Symmetric RTP (RFC 4961) for phones behind NAT: until a side's first packet arrives,
//! its remote is "latching"; the first packet's source becomes the remote and stays, so
//! replies reach the NAT binding the phone actually uses. `set_remote` with an address (a
//! re-INVITE) opens latching again; `set_remote(side, None)` (hold, or an address not yet
//! known) stops sending to that side until it is given an address again.
//!
//! The host takes part in a call through the same sides:
//! - it *listens* to a side ([`RelaySession::listen`]): RFC 4733 digits become
//!   [`MediaEvent::Digit`]s, and a [`Track`] records the side's G.711 audio;
//! - it *plays* to a side ([`RelaySession::play`]): prompts and music are sent from the
//!   side's own socket, paced by one media clock thread for every call ([`playback`]);
//!   while it plays, what the other side sends is not relayed to that side.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tokio::net::UdpSocket;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;

use super::MediaError;
use super::audio::Audio;
use super::dtmf::EventDetector;
use super::ports::{BoundPair, PortLease, PortPool, PortRange};
use super::track::Track;

mod consult;
mod continuity;
mod playback;

use continuity::{OutStream, Renumbering};

/// Largest datagram relayed whole. RTP and RTCP packets stay under the path MTU; a larger
/// datagram is cut to this size by the kernel, and 2 KiB per task keeps thousands of
/// calls' buffers small.
const MAX_PACKET: usize = 2048;

/// One side of a relayed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Faces the caller.
    A,
    /// Faces the callee.
    B,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }

    fn index(self) -> usize {
        match self {
            Side::A => 0,
            Side::B => 1,
        }
    }
}

/// RTP or RTCP: each has its own socket, remote and counters on a side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Rtp,
    Rtcp,
}

impl Stream {
    fn index(self) -> usize {
        match self {
            Stream::Rtp => 0,
            Stream::Rtcp => 1,
        }
    }
}

/// Where one socket of a side sends, and whether it still latches onto the next source.
#[derive(Debug)]
struct Remote {
    /// `generation << 1 | latching`: bumped on every change, read on every packet.
    state: AtomicU64,
    /// Written only with `state` bumped; read only when `state` moved.
    address: Mutex<Option<SocketAddr>>,
}

const LATCHING: u64 = 1;

impl Remote {
    /// Not known yet, and latching: the first packet from the phone tells where it is.
    fn new() -> Remote {
        Remote { state: AtomicU64::new(LATCHING), address: Mutex::new(None) }
    }

    fn address(&self) -> std::sync::MutexGuard<'_, Option<SocketAddr>> {
        // An address is always whole: a panic elsewhere cannot leave it half-written.
        crate::sync::lock(&self.address)
    }

    /// Send to `address` from now on, latching onto the next source if there is one.
    fn set(&self, address: Option<SocketAddr>) {
        let mut current = self.address();
        *current = address;
        let generation = (self.state.load(Ordering::Relaxed) >> 1) + 1;
        let latching = if address.is_some() { LATCHING } else { 0 };
        self.state.store(generation << 1 | latching, Ordering::Release);
    }

    /// A packet came from `source`: if latching, it becomes the remote for good.
    fn latch(&self, source: SocketAddr) {
        if self.state.load(Ordering::Acquire) & LATCHING == 0 {
            return;
        }
        let mut current = self.address();
        // Checked again under the lock: `set` may have closed latching meanwhile.
        let state = self.state.load(Ordering::Relaxed);
        if state & LATCHING != 0 {
            *current = Some(source);
            self.state.store(((state >> 1) + 1) << 1, Ordering::Release);
        }
    }

    fn get(&self) -> Option<SocketAddr> {
        *self.address()
    }
}

/// A forwarding task's copy of the other side's [`Remote`], refreshed when it changes.
struct CachedRemote {
    state: u64,
    address: Option<SocketAddr>,
}

impl CachedRemote {
    fn new() -> CachedRemote {
        // No real state is u64::MAX (generations never get there): the first read refreshes.
        CachedRemote { state: u64::MAX, address: None }
    }

    fn current(&mut self, remote: &Remote) -> Option<SocketAddr> {
        if remote.state.load(Ordering::Acquire) != self.state {
            let address = remote.address();
            self.address = *address;
            self.state = remote.state.load(Ordering::Acquire);
        }
        self.address
    }
}

/// What the host hears on one side.
#[derive(Debug, Clone, Default)]
pub struct Listening {
    /// The payload type of RFC 4733 telephone events negotiated with that side's phone:
    /// its digits become [`MediaEvent::Digit`].
    pub telephone_event: Option<u8>,
    /// Where that side's audio is recorded.
    pub track: Option<Arc<Track>>,
    /// Where that side's RTP packets are copied, whole (a conference room hears them).
    pub tap: Option<UnboundedSender<Vec<u8>>>,
}

/// Audio made as it plays (a conference's mix): the media clock asks for each frame.
pub trait LiveAudio: Send + Sync {
    /// The next 20 ms of 8 kHz samples.
    fn next_frame(&self, frame: &mut [i16; super::audio::FRAME_SAMPLES]);
}

/// What the host's media tells the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// The phone on `side` pressed `digit` (RFC 4733).
    Digit { side: Side, digit: char },
    /// What [`RelaySession::play`] started with `token` has played to its end.
    PlaybackDone { side: Side, token: u64 },
}

/// A value the call sets rarely and a forwarding task reads on every packet: the task
/// keeps a copy and takes the lock only when the generation says it changed.
#[derive(Debug, Default)]
struct Slot<T> {
    generation: AtomicU64,
    value: Mutex<Option<Arc<T>>>,
}

impl<T> Slot<T> {
    fn set(&self, value: Option<T>) {
        // A value is always whole: a panic elsewhere cannot leave it half-written.
        *crate::sync::lock(&self.value) = value.map(Arc::new);
        self.generation.fetch_add(1, Ordering::Release);
    }
}

/// A task's copy of a [`Slot`].
struct CachedSlot<T> {
    generation: u64,
    value: Option<Arc<T>>,
}

impl<T> CachedSlot<T> {
    fn new() -> CachedSlot<T> {
        CachedSlot { generation: 0, value: None }
    }

    fn current(&mut self, slot: &Slot<T>) -> Option<&T> {
        let generation = slot.generation.load(Ordering::Acquire);
        if generation != self.generation {
            self.value = crate::sync::lock(&slot.value).clone();
            self.generation = generation;
        }
        self.value.as_deref()
    }
}

/// Counters of one stream in one direction; each written by one task only.
#[derive(Debug, Default)]
struct Counters {
    packets: AtomicU64,
    bytes: AtomicU64,
    dropped: AtomicU64,
}

impl Counters {
    fn read(&self) -> FlowStats {
        FlowStats {
            packets: self.packets.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            played: 0,
        }
    }
}

/// Packets of one stream in one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowStats {
    /// Packets relayed.
    pub packets: u64,
    /// Bytes relayed (UDP payload).
    pub bytes: u64,
    /// Packets dropped: no remote known on the way out (not yet answered, or on hold), the
    /// host playing to the other side, or the send failed.
    pub dropped: u64,
    /// RTP packets the host played to the side this flow goes to (prompts, music).
    pub played: u64,
}

/// RTP and RTCP in one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirectionStats {
    pub rtp: FlowStats,
    pub rtcp: FlowStats,
}

/// A session's counters, per direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Arrived on side A (from the caller), sent from side B.
    pub a_to_b: DirectionStats,
    /// Arrived on side B (from the callee), sent from side A.
    pub b_to_a: DirectionStats,
}

impl RelayStats {
    /// What arrived on `side`.
    pub fn from_side(&self, side: Side) -> DirectionStats {
        match side {
            Side::A => self.a_to_b,
            Side::B => self.b_to_a,
        }
    }
}

/// One end's sockets. The sockets are declared before the lease, so they are closed
/// before the lease gives their ports back to the pool.
#[derive(Debug)]
struct EndSockets {
    streams: [UdpSocket; 2],
    /// The RTP socket again (a duplicate descriptor), for the media clock thread, which
    /// sends without an async runtime.
    rtp_sender: std::net::UdpSocket,
    lease: PortLease,
}

/// Ends a session can have: one per side of the call, and a spare for the party a user
/// consults before an attended transfer (bound at the first consult, see [`consult`]).
const ENDS: usize = 3;
/// The route of an end whose packets go nowhere.
const NOWHERE: u8 = u8::MAX;

/// One end of a session: a port pair facing one phone, and what the host does there.
#[derive(Debug)]
struct End {
    sockets: EndSockets,
    /// `[stream]`: where this end's phone receives.
    remotes: [Remote; 2],
    /// `[stream]`: packets that arrived at this end.
    counters: [Counters; 2],
    /// RTP frames the host played to this end, and those whose send failed.
    played: AtomicU64,
    played_dropped: AtomicU64,
    /// What the host listens for here.
    listening: Slot<Listening>,
    /// The host plays to this end, so no other end is relayed to it.
    host_playing: AtomicBool,
    /// Bumped whenever what plays here changes or stops; the media clock drops a playback
    /// whose generation is no longer current.
    playback_generation: AtomicU64,
    /// The one RTP stream this end's phone receives, whoever feeds it.
    outgoing: OutStream,
}

impl End {
    fn new(sockets: EndSockets) -> End {
        End {
            sockets,
            remotes: [Remote::new(), Remote::new()],
            counters: Default::default(),
            played: AtomicU64::new(0),
            played_dropped: AtomicU64::new(0),
            listening: Slot::default(),
            host_playing: AtomicBool::new(false),
            playback_generation: AtomicU64::new(0),
            outgoing: OutStream::new(),
        }
    }

    fn socket(&self, stream: Stream) -> &UdpSocket {
        &self.sockets.streams[stream.index()]
    }

    fn remote(&self, stream: Stream) -> &Remote {
        &self.remotes[stream.index()]
    }

    /// Nothing plays here any more; relaying to it resumes.
    fn stop_playing(&self) {
        self.playback_generation.fetch_add(1, Ordering::AcqRel);
        self.host_playing.store(false, Ordering::Relaxed);
    }
}

/// What a session's tasks (and the media clock, while it plays to the session) share;
/// dropped (ports returned) when the last of them lets go.
#[derive(Debug)]
struct Shared {
    /// Ends 0 and 1 are bound when the session opens; the spare on demand.
    ends: [OnceLock<End>; ENDS],
    /// `[end]`: the end what arrives at this end is relayed to, or [`NOWHERE`].
    routes: [AtomicU8; ENDS],
    /// `[side]`: the end that is this side of the call (a consulted party takes the place
    /// of the side that transferred it the call).
    sides: [AtomicU8; 2],
    events: UnboundedSender<MediaEvent>,
    /// The session's clock for [`OutStream`]'s gaps.
    born: std::time::Instant,
}

impl Shared {
    fn end(&self, index: usize) -> Option<&End> {
        self.ends.get(index).and_then(OnceLock::get)
    }

    fn end_index(&self, side: Side) -> usize {
        usize::from(self.sides[side.index()].load(Ordering::Acquire))
    }

    /// The end that is `side` now.
    fn side(&self, side: Side) -> &End {
        // Sides are only ever pointed at bound ends (at the open, or by a consult that
        // bound its end first).
        self.end(self.end_index(side)).expect("a side's end is bound")
    }

    /// The side of the call `end` is now; none for a consult's end.
    fn side_of(&self, end: usize) -> Option<Side> {
        [Side::A, Side::B].into_iter().find(|&side| self.end_index(side) == end)
    }

    /// Relay `a` and `b` to each other.
    fn connect(&self, a: usize, b: usize) {
        // Ends are fewer than NOWHERE, so their indexes fit in a u8.
        self.routes[a].store(b as u8, Ordering::Release);
        self.routes[b].store(a as u8, Ordering::Release);
    }

    /// Microseconds since the session opened.
    fn now_us(&self) -> u64 {
        u64::try_from(self.born.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// What arrived on `side` and went to the other side.
    fn stats(&self, side: Side) -> DirectionStats {
        let (from, to) = (self.side(side), self.side(side.other()));
        let flow = |stream: Stream| FlowStats {
            dropped: from.counters[stream.index()].dropped.load(Ordering::Relaxed)
                + if stream == Stream::Rtp { to.played_dropped.load(Ordering::Relaxed) } else { 0 },
            played: if stream == Stream::Rtp { to.played.load(Ordering::Relaxed) } else { 0 },
            ..from.counters[stream.index()].read()
        };
        DirectionStats { rtp: flow(Stream::Rtp), rtcp: flow(Stream::Rtcp) }
    }
}

/// Relays every call's media through ports of one range. Cheap to clone.
#[derive(Debug, Clone)]
pub struct MediaRelay {
    inner: Arc<RelayConfig>,
}

#[derive(Debug)]
struct RelayConfig {
    bind_ip: IpAddr,
    advertise_ip: IpAddr,
    pool: Arc<PortPool>,
    /// Started with the first playback.
    clock: OnceLock<playback::Clock>,
}

impl MediaRelay {
    /// Bind media sockets on `bind_ip` with ports from `range`; `advertise_ip` is the
    /// address SDP gives to phones (the same as `bind_ip` unless behind a 1:1 NAT, or when
    /// binding the wildcard address).
    pub fn new(bind_ip: IpAddr, advertise_ip: IpAddr, range: PortRange) -> MediaRelay {
        MediaRelay {
            inner: Arc::new(RelayConfig {
                bind_ip,
                advertise_ip,
                pool: PortPool::new(range),
                clock: OnceLock::new(),
            }),
        }
    }

    pub fn range(&self) -> PortRange {
        self.inner.pool.range()
    }

    /// Port pairs in use (two per open session), for metrics and tests.
    pub fn pairs_in_use(&self) -> usize {
        self.inner.pool.in_use()
    }

    /// Open a session: bind sides A and B and start relaying between them. Nothing is
    /// sent until a side's remote is known (given by [`RelaySession::set_remote`] or
    /// latched from its first packet).
    pub async fn open(&self) -> Result<RelaySession, MediaError> {
        let a = self.bind_end()?;
        let b = self.bind_end()?;
        let (events, events_receiver) = unbounded_channel();
        let shared = Arc::new(Shared {
            ends: [OnceLock::from(a), OnceLock::from(b), OnceLock::new()],
            routes: [AtomicU8::new(1), AtomicU8::new(0), AtomicU8::new(NOWHERE)],
            sides: [AtomicU8::new(0), AtomicU8::new(1)],
            events,
            born: std::time::Instant::now(),
        });
        let mut session = RelaySession {
            shared,
            tasks: Vec::new(),
            advertise_ip: self.inner.advertise_ip,
            relay: self.clone(),
            events: Some(events_receiver),
        };
        session.start_relaying(0);
        session.start_relaying(1);
        Ok(session)
    }

    /// Bind a port pair for one end of a session.
    fn bind_end(&self) -> Result<End, MediaError> {
        let BoundPair { rtp, rtcp, lease } = self.inner.pool.bind_pair(self.inner.bind_ip)?;
        let nonblocking = |socket: std::net::UdpSocket| {
            socket
                .set_nonblocking(true)
                .and_then(|()| UdpSocket::from_std(socket))
                .map_err(MediaError::Socket)
        };
        // Cloned after set_nonblocking: the flag belongs to the shared open socket, so the
        // clock's sends never block either.
        let rtp_sender = rtp.try_clone().map_err(MediaError::Socket);
        let streams = [nonblocking(rtp)?, nonblocking(rtcp)?];
        Ok(End::new(EndSockets { streams, rtp_sender: rtp_sender?, lease }))
    }
}

/// Relay what arrives on end `from`'s `stream` socket to the remote of the end its route
/// names, forever (the task is aborted when its session ends).
async fn forward(shared: Arc<Shared>, from: usize, stream: Stream) {
    // Tasks are started for bound ends only.
    let this = shared.end(from).expect("a relaying end is bound");
    let receiver = this.socket(stream);
    let source_remote = this.remote(stream);
    let counters = &this.counters[stream.index()];
    let mut listening = CachedSlot::new();
    let mut digits = EventDetector::default();
    let mut buffer = vec![0u8; MAX_PACKET];
    // Where the last packet went, with that end's remote and stream numbering.
    let mut routed = NOWHERE;
    let mut destination_cache = CachedRemote::new();
    let mut renumbering = Renumbering::default();
    loop {
        let (length, source) = match receiver.recv_from(&mut buffer).await {
            Ok(received) => received,
            Err(error) => {
                // Transient (an ICMP error reported on some systems): the socket stays usable.
                tracing::debug!(%error, from, ?stream, "media receive error");
                tokio::task::yield_now().await;
                continue;
            }
        };
        source_remote.latch(source);
        if stream == Stream::Rtp
            && let Some(listening) = listening.current(&this.listening)
        {
            listen(&shared, from, listening, &mut digits, &buffer[..length]);
        }
        let route = shared.routes[from].load(Ordering::Acquire);
        let Some(to) = shared.end(usize::from(route)) else {
            counters.dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        if route != routed {
            routed = route;
            destination_cache = CachedRemote::new();
            renumbering = Renumbering::default();
        }
        if to.host_playing.load(Ordering::Relaxed) {
            counters.dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let Some(address) = destination_cache.current(to.remote(stream)) else {
            counters.dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        if stream == Stream::Rtp {
            renumbering.rewrite(&to.outgoing, &mut buffer[..length], shared.now_us());
        }
        match to.socket(stream).send_to(&buffer[..length], address).await {
            Ok(_) => {
                counters.packets.fetch_add(1, Ordering::Relaxed);
                counters.bytes.fetch_add(length as u64, Ordering::Relaxed);
            }
            Err(error) => {
                tracing::debug!(%error, %address, "media send failed");
                counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Hand an RTP packet that arrived at end `from` to what the host listens with there.
fn listen(shared: &Shared, from: usize, listening: &Listening, digits: &mut EventDetector, bytes: &[u8]) {
    let Some(packet) = super::rtp::parse(bytes) else { return };
    if let Some(tap) = &listening.tap
        && Some(packet.payload_type) != listening.telephone_event
    {
        // Fails only when what listened is gone.
        let _ = tap.send(bytes.to_vec());
    }
    if Some(packet.payload_type) == listening.telephone_event {
        if let Some(digit) = digits.on_event(packet.timestamp, packet.payload)
            && let Some(side) = shared.side_of(from)
        {
            // Fails only when the call no longer listens to its events.
            let _ = shared.events.send(MediaEvent::Digit { side, digit });
        }
    } else if let Some(track) = &listening.track {
        track.push(packet.payload_type, packet.payload, std::time::Instant::now());
    }
}

/// One call's relay. Dropping it (or [`RelaySession::close`]) stops its tasks and gives
/// its ports back to the pool once the sockets are closed.
#[derive(Debug)]
pub struct RelaySession {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
    advertise_ip: IpAddr,
    relay: MediaRelay,
    events: Option<UnboundedReceiver<MediaEvent>>,
}

impl RelaySession {
    /// Relay what arrives at `end` (bound) from now on.
    fn start_relaying(&mut self, end: usize) {
        for stream in [Stream::Rtp, Stream::Rtcp] {
            self.tasks.push(tokio::spawn(forward(Arc::clone(&self.shared), end, stream)));
        }
    }

    /// Where phones send to this side's RTP: the advertised address and the RTP port
    /// (RTCP is the next port). What [`super::Sdp::relayed`] takes as `via`.
    pub fn local(&self, side: Side) -> SocketAddr {
        SocketAddr::new(self.advertise_ip, self.shared.side(side).sockets.lease.rtp_port())
    }

    /// Where this side's phone receives RTP, from its SDP: `None` when on hold or not known
    /// yet (nothing is sent to it then). RTCP goes to the next port; an address re-opens
    /// latching on both.
    pub fn set_remote(&self, side: Side, rtp: Option<SocketAddr>) {
        set_remotes(self.shared.side(side), rtp);
    }

    /// Where this side's phone receives RTCP when its SDP says otherwise (`a=rtcp:`,
    /// RFC 3605); call after [`RelaySession::set_remote`], which resets it to RTP + 1.
    pub fn set_remote_rtcp(&self, side: Side, rtcp: Option<SocketAddr>) {
        self.shared.side(side).remote(Stream::Rtcp).set(rtcp);
    }

    /// Where this side's RTP goes now (given, or latched).
    pub fn remote(&self, side: Side) -> Option<SocketAddr> {
        self.shared.side(side).remote(Stream::Rtp).get()
    }

    /// Where this side's RTCP goes now (given, or latched).
    pub fn remote_rtcp(&self, side: Side) -> Option<SocketAddr> {
        self.shared.side(side).remote(Stream::Rtcp).get()
    }

    /// The session's [`MediaEvent`]s (digits, playbacks done); there is one receiver, taken
    /// once.
    pub fn take_events(&mut self) -> Option<UnboundedReceiver<MediaEvent>> {
        self.events.take()
    }

    /// Listen to `side` with `listening` from now on (replacing what listened before).
    pub fn listen(&self, side: Side, listening: Listening) {
        self.shared.side(side).listening.set(Some(listening));
    }

    /// Stop listening to `side`.
    pub fn stop_listening(&self, side: Side) {
        self.shared.side(side).listening.set(None);
    }

    /// Play `items` one after the other to `side`, encoded as `payload_type` (PCMU or
    /// PCMA), again from the first when `repeat`; replaces what played before (the stream
    /// continues: same SSRC, sequence and timestamps). When the last item ends (never, with
    /// `repeat`) a [`MediaEvent::PlaybackDone`] with `token` is sent and silence follows
    /// until [`RelaySession::stop_playing`]. Relaying to `side` is paused meanwhile.
    pub fn play(&self, side: Side, payload_type: u8, items: Vec<Audio>, repeat: bool, token: u64) {
        self.start_playback(side, payload_type, items, None, repeat, token);
    }

    /// Play what `live` makes, a frame at a time, to `side`, encoded as `payload_type`,
    /// until [`RelaySession::stop_playing`] (or another playback). Relaying to `side` is
    /// paused meanwhile.
    pub fn play_live(&self, side: Side, payload_type: u8, live: Arc<dyn LiveAudio>) {
        self.start_playback(side, payload_type, Vec::new(), Some(live), false, 0);
    }

    fn start_playback(
        &self,
        side: Side,
        payload_type: u8,
        items: Vec<Audio>,
        live: Option<Arc<dyn LiveAudio>>,
        repeat: bool,
        token: u64,
    ) {
        let end = self.shared.end_index(side);
        let playing = self.shared.side(side);
        let generation = playing.playback_generation.fetch_add(1, Ordering::AcqRel) + 1;
        playing.host_playing.store(true, Ordering::Relaxed);
        let clock = self.relay.inner.clock.get_or_init(playback::Clock::start);
        let shared = Arc::clone(&self.shared);
        clock.start_playing(playback::Start {
            shared,
            end,
            side,
            generation,
            payload_type,
            items,
            live,
            repeat,
            token,
        });
    }

    /// Stop playing to `side` and relay the other side to it again.
    pub fn stop_playing(&self, side: Side) {
        self.shared.side(side).stop_playing();
    }

    /// Whether the host is playing to `side`.
    pub fn is_playing(&self, side: Side) -> bool {
        self.shared.side(side).host_playing.load(Ordering::Relaxed)
    }

    pub fn stats(&self) -> RelayStats {
        RelayStats { a_to_b: self.shared.stats(Side::A), b_to_a: self.shared.stats(Side::B) }
    }

    /// Stop playing anywhere and relaying (the clock lets go at its next tick).
    fn stop(&mut self) {
        for end in self.shared.ends.iter().filter_map(OnceLock::get) {
            end.stop_playing();
        }
        for task in &self.tasks {
            task.abort();
        }
    }

    /// Stop relaying and wait until the ports are back in the pool.
    pub async fn close(mut self) {
        self.stop();
        for task in std::mem::take(&mut self.tasks) {
            // An aborted task ends with a cancellation error; its future, and its share of
            // the sockets, is dropped by then.
            let _ = task.await;
        }
        // The media clock lets go at its next tick.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
        while Arc::strong_count(&self.shared) > 1 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
}

/// `end`'s phone receives RTP at `rtp` (none: send it nothing) and RTCP at the next port.
fn set_remotes(end: &End, rtp: Option<SocketAddr>) {
    end.remote(Stream::Rtp).set(rtp);
    let rtcp = rtp.and_then(|rtp| Some(SocketAddr::new(rtp.ip(), rtp.port().checked_add(1)?)));
    end.remote(Stream::Rtcp).set(rtcp);
}

impl Drop for RelaySession {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests;
