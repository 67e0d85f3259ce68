//! The media clock: one thread that sends, every 20 ms, the next frame of everything the
//! host plays to every call (prompts, music on hold, ringback, silence).
//!
//! One thread for all calls, not a timer per call: a thousand callers in IVRs and queues
//! cost one wake-up per millisecond instead of a thousand timers. The frame time is cut
//! into [`SLOTS`] slots of 1 ms and every stream has its slot (the least busy one when it
//! starts, kept while it plays): each wake-up sends only that slot's streams, so a tick's
//! work is a twentieth of the calls and a stream's packets leave 20 ms apart however many
//! calls there are (sending all of them at once would delay the last ones of a tick by
//! milliseconds, and by more or less from one tick to the next). The thread sleeps until
//! absolute deadlines (no drift) and, if it ever falls more than a few frames behind (the
//! machine stalled), starts again from now instead of bursting the backlog.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::time::{Duration, Instant};

use super::{CachedRemote, MediaEvent, Shared, Side, Stream};
use crate::media::audio::{Audio, FRAME_SAMPLES, FRAME_TIME, g711};
use crate::media::rtp::{HEADER_LEN, write_header};
use crate::media::sdp::PCMA;

/// Slots per frame time: one wake-up per millisecond.
const SLOTS: usize = 20;
/// The time between wake-ups: the frame time over the slots.
const SLOT_TIME: Duration = Duration::from_nanos(FRAME_TIME.as_nanos() as u64 / SLOTS as u64);
/// How far behind its deadline the clock may fall before it gives up catching up.
const MAX_LAG: Duration = Duration::from_millis(100);
/// The media clock's real-time priority (SCHED_FIFO, low among real-time threads: the
/// kernel's own stay ahead): late frames are audible, and on a busy machine a waking
/// ordinary thread waits for a time slice.
const CLOCK_REALTIME_PRIORITY: i32 = 10;
/// Its nice value where real-time scheduling is not allowed, as the SIP thread's.
const CLOCK_THREAD_NICE: i32 = -5;

/// Start playing to one side of a session.
pub(super) struct Start {
    pub(super) shared: std::sync::Arc<Shared>,
    /// The end played to.
    pub(super) end: usize,
    /// The side of the call that end was when it started (named in `PlaybackDone`).
    pub(super) side: Side,
    /// The end's playback generation this belongs to.
    pub(super) generation: u64,
    pub(super) payload_type: u8,
    pub(super) items: Vec<Audio>,
    /// Made as it plays, instead of `items`.
    pub(super) live: Option<std::sync::Arc<dyn super::LiveAudio>>,
    pub(super) repeat: bool,
    pub(super) token: u64,
}

/// The handle of the clock thread.
#[derive(Debug)]
pub(super) struct Clock {
    starts: Sender<Start>,
}

impl Clock {
    pub(super) fn start() -> Clock {
        let (starts, receiver) = channel();
        let spawned = std::thread::Builder::new().name("media-clock".into()).spawn(move || run(receiver));
        if let Err(error) = spawned {
            // Without the thread nothing plays; calls still relay. Logged loudly once.
            tracing::error!(%error, "cannot start the media clock thread: prompts and music will be silent");
        }
        Clock { starts }
    }

    pub(super) fn start_playing(&self, start: Start) {
        // Fails only if the thread could not start (logged then).
        let _ = self.starts.send(start);
    }
}

/// What the clock plays to one side of one session.
struct Playing {
    start: Start,
    item: usize,
    position: usize,
    done_sent: bool,
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
    marker: bool,
    remote: CachedRemote,
}

impl Playing {
    fn new(start: Start) -> Playing {
        let out = &start.end().outgoing;
        // The end's stream goes on from whatever it carried before (see `continuity`).
        let (sequence, timestamp) = out.next_after_gap(start.shared.now_us());
        let ssrc = out.ssrc();
        Playing {
            start,
            item: 0,
            position: 0,
            done_sent: false,
            ssrc,
            sequence,
            timestamp,
            marker: true,
            remote: CachedRemote::new(),
        }
    }

    /// Take over what `start` plays, keeping the RTP stream going.
    fn replace(&mut self, start: Start) {
        self.start = start;
        self.item = 0;
        self.position = 0;
        self.done_sent = false;
    }

    fn is_current(&self) -> bool {
        self.start.end().playback_generation.load(std::sync::atomic::Ordering::Acquire)
            == self.start.generation
    }

    /// The next 20 ms of samples, silence once everything played.
    fn next_frame(&mut self, frame: &mut [i16; FRAME_SAMPLES]) {
        if let Some(live) = &self.start.live {
            live.next_frame(frame);
            return;
        }
        let mut filled = 0;
        while filled < FRAME_SAMPLES {
            let Some(item) = self.start.items.get(self.item) else {
                if self.start.repeat && self.start.items.iter().any(|a| !a.samples().is_empty()) {
                    self.item = 0;
                    continue;
                }
                if !self.done_sent {
                    self.done_sent = true;
                    let done = MediaEvent::PlaybackDone { side: self.start.side, token: self.start.token };
                    // Fails only when the call no longer listens to its events.
                    let _ = self.start.shared.events.send(done);
                }
                frame[filled..].fill(0);
                return;
            };
            let samples = &item.samples()[self.position.min(item.samples().len())..];
            let take = samples.len().min(FRAME_SAMPLES - filled);
            frame[filled..filled + take].copy_from_slice(&samples[..take]);
            filled += take;
            self.position += take;
            if self.position >= item.samples().len() {
                self.item += 1;
                self.position = 0;
            }
        }
    }

    fn send(&mut self, frame: &[i16; FRAME_SAMPLES], packet: &mut [u8; HEADER_LEN + FRAME_SAMPLES]) {
        let (shared, end) = (&self.start.shared, self.start.end());
        let Some(address) = self.remote.current(end.remote(Stream::Rtp)) else {
            return;
        };
        let out = &end.outgoing;
        let now_us = shared.now_us();
        if out.last_seq() != self.sequence.wrapping_sub(1) {
            // Relayed packets went out since this playback's last: go on after them.
            (self.sequence, self.timestamp) = out.next_after_gap(now_us);
            self.marker = true;
        }
        let encode = if self.start.payload_type == PCMA { g711::alaw_encode } else { g711::ulaw_encode };
        let (header, payload) = packet.split_at_mut(HEADER_LEN);
        // The split is at HEADER_LEN, so the header part is exactly that long.
        let header: &mut [u8; HEADER_LEN] = header.try_into().expect("header length");
        write_header(header, self.start.payload_type, self.marker, self.sequence, self.timestamp, self.ssrc);
        for (byte, &sample) in payload.iter_mut().zip(frame.iter()) {
            *byte = encode(sample);
        }
        let counter = match end.sockets.rtp_sender.send_to(packet, address) {
            Ok(_) => &end.played,
            Err(_) => &end.played_dropped,
        };
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        out.sent(self.sequence, self.timestamp, now_us);
        self.marker = false;
        self.sequence = self.sequence.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(FRAME_SAMPLES as u32);
    }
}

/// A stream's key: the session (by its shared state's address) and the end.
fn key(start: &Start) -> (usize, usize) {
    (std::sync::Arc::as_ptr(&start.shared) as usize, start.end)
}

impl Start {
    fn end(&self) -> &super::End {
        // Playback starts only on a side's end, which is bound.
        self.shared.end(self.end).expect("a played end is bound")
    }
}

fn run(starts: Receiver<Start>) {
    crate::thread_priority::raise_realtime(CLOCK_REALTIME_PRIORITY, CLOCK_THREAD_NICE, "media-clock");
    let mut slots: Vec<HashMap<(usize, usize), Playing>> = (0..SLOTS).map(|_| HashMap::new()).collect();
    let mut slot = 0;
    let mut frame = [0i16; FRAME_SAMPLES];
    let mut packet = [0u8; HEADER_LEN + FRAME_SAMPLES];
    let mut deadline = Instant::now();
    loop {
        if slots.iter().all(HashMap::is_empty) {
            // Nothing to play: sleep until something is.
            let Ok(start) = starts.recv() else { return };
            add(&mut slots, start);
            deadline = Instant::now();
        }
        loop {
            match starts.try_recv() {
                Ok(start) => add(&mut slots, start),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return,
            }
        }
        let due = &mut slots[slot];
        due.retain(|_, stream| stream.is_current());
        for stream in due.values_mut() {
            stream.next_frame(&mut frame);
            stream.send(&frame, &mut packet);
        }
        slot = (slot + 1) % SLOTS;
        deadline += SLOT_TIME;
        let now = Instant::now();
        if now > deadline + MAX_LAG {
            tracing::warn!(behind = ?now - deadline, "media clock fell behind; skipping ahead");
            deadline = now;
        }
        if let Some(wait) = deadline.checked_duration_since(now) {
            std::thread::sleep(wait);
        }
    }
}

/// Play `start`: in place of what its stream plays now (keeping the stream's slot, so its
/// packets stay 20 ms apart), or as a new stream in the least busy slot.
fn add(slots: &mut [HashMap<(usize, usize), Playing>], start: Start) {
    let key = key(&start);
    if let Some(stream) = slots.iter_mut().find_map(|slot| slot.get_mut(&key)) {
        stream.replace(start);
        return;
    }
    // `SLOTS` is not zero, so there is a least busy slot.
    let least_busy = slots.iter_mut().min_by_key(|slot| slot.len()).expect("slots");
    least_busy.insert(key, Playing::new(start));
}
