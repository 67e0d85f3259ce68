//! Recording what one side of a call sends: G.711 packets decoded into 8 kHz samples, in
//! arrival order, kept aligned with the wall clock so the two sides of a call recorded
//! separately stay in step (a gap in a stream — hold, loss, silence suppression — is filled
//! with silence rather than shifting everything after it).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::audio::{FRAME_SAMPLES, SAMPLE_RATE, g711};
use super::sdp::{PCMA, PCMU};

/// A gap longer than this many frames is filled with silence; shorter ones are jitter.
const GAP_FRAMES: usize = 3;

/// The samples one side sent since the track started; written by the relay task of that
/// side, read once by the call when recording stops.
#[derive(Debug)]
pub struct Track {
    started: Instant,
    /// Samples kept at most (the message or recording length limit).
    limit: usize,
    samples: Mutex<Vec<i16>>,
}

impl Track {
    pub fn new(started: Instant, limit: Duration) -> Track {
        let limit = (limit.as_millis() as usize).saturating_mul(SAMPLE_RATE as usize) / 1000;
        Track { started, limit, samples: Mutex::new(Vec::new()) }
    }

    /// A packet of `payload_type` arrived at `at`; other codecs are ignored.
    pub fn push(&self, payload_type: u8, payload: &[u8], at: Instant) {
        let decode: fn(u8) -> i16 = match payload_type {
            PCMU => g711::ulaw_decode,
            PCMA => g711::alaw_decode,
            _ => return,
        };
        self.append(payload.len(), payload.iter().map(|&byte| decode(byte)), at);
    }

    /// 8 kHz samples the host made (a conference's mix), ending at `at`.
    pub fn push_samples(&self, samples: &[i16], at: Instant) {
        self.append(samples.len(), samples.iter().copied(), at);
    }

    /// `count` samples ending at `at`, after silence for any gap before them.
    fn append(&self, count: usize, new: impl Iterator<Item = i16>, at: Instant) {
        // A panic elsewhere cannot leave the vector half-written.
        let mut samples = crate::sync::lock(&self.samples);
        let due = (at.saturating_duration_since(self.started).as_micros() as usize)
            .saturating_mul(SAMPLE_RATE as usize)
            / 1_000_000;
        let expected_start = due.saturating_sub(count);
        if expected_start > samples.len() + GAP_FRAMES * FRAME_SAMPLES {
            let silence = expected_start.min(self.limit);
            samples.resize(silence, 0);
        }
        let room = self.limit.saturating_sub(samples.len());
        samples.extend(new.take(room));
    }

    /// Samples recorded so far.
    pub fn len(&self) -> usize {
        crate::sync::lock(&self.samples).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Everything recorded, leaving the track empty.
    pub fn take(&self) -> Vec<i16> {
        std::mem::take(&mut *crate::sync::lock(&self.samples))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: Duration = Duration::from_millis(20);

    #[test]
    fn packets_in_time_are_appended_back_to_back() {
        let start = Instant::now();
        let track = Track::new(start, Duration::from_secs(10));
        for n in 1..=5u32 {
            track.push(PCMU, &[0xFF; FRAME_SAMPLES], start + FRAME * n);
        }
        assert_eq!(track.len(), 5 * FRAME_SAMPLES);
    }

    #[test]
    fn a_long_gap_becomes_silence_and_keeps_the_clock() {
        let start = Instant::now();
        let track = Track::new(start, Duration::from_secs(10));
        track.push(PCMA, &[0xD5 ^ 0x7F; FRAME_SAMPLES], start + FRAME);
        track.push(PCMA, &[0xD5 ^ 0x7F; FRAME_SAMPLES], start + Duration::from_secs(1));
        let samples = track.take();
        assert_eq!(samples.len(), 8000);
        assert!(samples[FRAME_SAMPLES..8000 - FRAME_SAMPLES].iter().all(|&s| s == 0));
        assert!(track.is_empty());
    }

    #[test]
    fn the_limit_caps_the_track_and_other_codecs_are_ignored() {
        let start = Instant::now();
        let track = Track::new(start, Duration::from_millis(30));
        track.push(101, &[1, 2, 3, 4], start);
        for n in 0..4u32 {
            track.push(PCMU, &[0x80; FRAME_SAMPLES], start + FRAME * n);
        }
        assert_eq!(track.len(), 240);
    }
}
