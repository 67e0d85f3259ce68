//! One outgoing RTP stream per side. What a phone receives from the host comes from
//! several sources in turn — the host's prompts and music, the other party, a new party
//! after a transfer or a queue — but it must look like one stream: one SSRC, sequence
//! numbers that go up by one, timestamps that follow the clock. Phones drop packets whose
//! numbers jump back (baresip's jitter buffer answers "Connection timed out" to the new
//! party's packets after a transfer), so every source writes through the side's
//! [`OutStream`], and relayed packets are renumbered ([`Renumbering`]) from the point the
//! last source stopped.
//!
//! G.711 and telephone-events run an 8 kHz clock: a gap of `t` ms advances the timestamp
//! by `8·t` (at least one 20 ms frame), as if the stream had gone on in silence.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// RTP clock ticks per millisecond (8 kHz).
const TICKS_PER_MS: u64 = 8;
/// Timestamp ticks of one 20 ms frame.
const FRAME_TICKS: u32 = 160;

/// The numbers of the last packet sent to one side, whichever source sent it.
#[derive(Debug)]
pub(crate) struct OutStream {
    ssrc: u32,
    last_seq: AtomicU32,
    last_ts: AtomicU32,
    /// When the last packet left, µs on the session's clock.
    last_at_us: AtomicU64,
}

impl OutStream {
    pub(crate) fn new() -> OutStream {
        OutStream {
            ssrc: rand::random(),
            last_seq: AtomicU32::new(u32::from(rand::random::<u16>())),
            last_ts: AtomicU32::new(rand::random()),
            last_at_us: AtomicU64::new(0),
        }
    }

    pub(crate) fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The sequence number of the last packet sent.
    pub(crate) fn last_seq(&self) -> u16 {
        self.last_seq.load(Ordering::Acquire) as u16
    }

    /// Sequence number and timestamp for a source that starts sending at `now_us`.
    pub(crate) fn next_after_gap(&self, now_us: u64) -> (u16, u32) {
        let seq = self.last_seq().wrapping_add(1);
        let elapsed_ms = now_us.saturating_sub(self.last_at_us.load(Ordering::Acquire)) / 1000;
        let ticks = (elapsed_ms * TICKS_PER_MS).clamp(u64::from(FRAME_TICKS), u64::from(u32::MAX / 2)) as u32;
        (seq, self.last_ts.load(Ordering::Acquire).wrapping_add(ticks))
    }

    /// A packet numbered `seq`/`ts` was sent at `now_us`.
    pub(crate) fn sent(&self, seq: u16, ts: u32, now_us: u64) {
        self.last_ts.store(ts, Ordering::Release);
        self.last_at_us.store(now_us, Ordering::Release);
        self.last_seq.store(u32::from(seq), Ordering::Release);
    }
}

/// How one relaying task maps the packets of its current source onto the side's stream.
#[derive(Debug, Default)]
pub(crate) struct Renumbering {
    /// The source's SSRC and the offsets added to its numbers; none before its first packet.
    mapping: Option<(u32, u16, u32)>,
    /// The sequence number this task wrote last: another number in the side's stream means
    /// another source (the host's playback) sent meanwhile.
    last_written: Option<u16>,
}

impl Renumbering {
    /// Rewrite the RTP `packet` (in place) as the next packet of `out`, sent at `now_us`.
    /// Packets too short for an RTP header are left alone.
    pub(crate) fn rewrite(&mut self, out: &OutStream, packet: &mut [u8], now_us: u64) {
        if packet.len() < 12 {
            return;
        }
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let ts = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
        let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
        let interrupted = self.last_written != Some(out.last_seq());
        let (seq_offset, ts_offset) = match self.mapping {
            Some((source, seq_offset, ts_offset)) if source == ssrc && !interrupted => {
                (seq_offset, ts_offset)
            }
            _ => {
                let (next_seq, next_ts) = out.next_after_gap(now_us);
                let offsets = (next_seq.wrapping_sub(seq), next_ts.wrapping_sub(ts));
                self.mapping = Some((ssrc, offsets.0, offsets.1));
                // The marker bit tells the receiver a new talkspurt starts (RFC 3551 §4.1).
                packet[1] |= 0x80;
                offsets
            }
        };
        let (new_seq, new_ts) = (seq.wrapping_add(seq_offset), ts.wrapping_add(ts_offset));
        packet[2..4].copy_from_slice(&new_seq.to_be_bytes());
        packet[4..8].copy_from_slice(&new_ts.to_be_bytes());
        packet[8..12].copy_from_slice(&out.ssrc().to_be_bytes());
        // A reordered or repeated packet does not move the stream back.
        let ahead = new_seq.wrapping_sub(out.last_seq()) < 0x8000;
        if ahead || interrupted {
            out.sent(new_seq, new_ts, now_us);
        }
        self.last_written = Some(out.last_seq());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(seq: u16, ts: u32, ssrc: u32) -> Vec<u8> {
        let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF];
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        p[4..8].copy_from_slice(&ts.to_be_bytes());
        p[8..12].copy_from_slice(&ssrc.to_be_bytes());
        p
    }

    fn numbers(p: &[u8]) -> (u16, u32, u32, bool) {
        (
            u16::from_be_bytes([p[2], p[3]]),
            u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
            u32::from_be_bytes([p[8], p[9], p[10], p[11]]),
            p[1] & 0x80 != 0,
        )
    }

    #[test]
    fn a_new_source_after_a_transfer_continues_the_stream_the_phone_had() {
        let out = OutStream::new();
        let mut relay = Renumbering::default();
        let mut first = packet(1000, 50_000, 0xAAAA);
        relay.rewrite(&out, &mut first, 0);
        let (seq0, ts0, ssrc, marker) = numbers(&first);
        assert_eq!(ssrc, out.ssrc());
        assert!(marker, "the first packet starts a talkspurt");
        let mut second = packet(1001, 50_160, 0xAAAA);
        relay.rewrite(&out, &mut second, 20_000);
        assert_eq!(numbers(&second), (seq0.wrapping_add(1), ts0.wrapping_add(160), out.ssrc(), false));
        // The new party numbers its packets from anywhere; 100 ms later the stream goes on.
        let mut switched = packet(7, 9, 0xBBBB);
        relay.rewrite(&out, &mut switched, 120_000);
        assert_eq!(numbers(&switched), (seq0.wrapping_add(2), ts0.wrapping_add(160 + 800), out.ssrc(), true));
    }

    #[test]
    fn relaying_after_the_hosts_playback_continues_from_the_playbacks_last_packet() {
        let out = OutStream::new();
        let mut relay = Renumbering::default();
        let mut before = packet(10, 100, 0xAAAA);
        relay.rewrite(&out, &mut before, 0);
        // The host's playback sent 50 packets meanwhile.
        let (mut seq, mut ts) = out.next_after_gap(20_000);
        for n in 0..50u64 {
            out.sent(seq, ts, 20_000 + n * 20_000);
            seq = seq.wrapping_add(1);
            ts = ts.wrapping_add(160);
        }
        let mut after = packet(11, 260, 0xAAAA);
        relay.rewrite(&out, &mut after, 1_020_000);
        let (new_seq, _, _, marker) = numbers(&after);
        assert_eq!(new_seq, seq, "one after the playback's last");
        assert!(marker);
    }

    #[test]
    fn a_late_packet_keeps_its_place_and_does_not_move_the_stream_back() {
        let out = OutStream::new();
        let mut relay = Renumbering::default();
        let mut renumbered = Vec::new();
        for (n, seq) in [5u16, 7, 6, 8].into_iter().enumerate() {
            let mut p = packet(seq, u32::from(seq) * 160, 0xAAAA);
            relay.rewrite(&out, &mut p, n as u64 * 20_000);
            renumbered.push(numbers(&p));
        }
        let base = renumbered[0].0;
        let seqs: Vec<u16> = renumbered.iter().map(|n| n.0.wrapping_sub(base)).collect();
        assert_eq!(seqs, [0, 2, 1, 3], "the source's order is kept");
        assert!(renumbered[1..].iter().all(|n| !n.3), "same source, no new talkspurt");
        assert_eq!(out.last_seq(), base.wrapping_add(3));
    }

    #[test]
    fn a_runt_packet_is_left_alone() {
        let out = OutStream::new();
        let mut p = vec![0x80, 0, 1];
        Renumbering::default().rewrite(&out, &mut p, 0);
        assert_eq!(p, vec![0x80, 0, 1]);
    }
}
