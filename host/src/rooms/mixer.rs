//! The audio a phone in a room hears: every other participant's audio, mixed.
//!
//! Rooms speak G.711 (see `peer`), so a participant's audio is decoded with a table
//! lookup. Each participant's frames wait in a short queue of their own; the media clock
//! takes one frame from each queue every 20 ms and adds them up (saturating), so a late or
//! silent participant leaves a gap in its own voice only.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::media::LiveAudio;
use crate::media::audio::{FRAME_SAMPLES, g711};
use crate::media::sdp::{PCMA, PCMU};

/// Frames kept per participant: more means its network sent a burst, and the oldest go
/// (a phone's ear prefers fresh audio to a growing delay).
const QUEUED_FRAMES: usize = 5;

#[derive(Default)]
pub struct Mixer {
    /// By participant: its decoded audio, in 20 ms frames, oldest first.
    sources: Mutex<HashMap<u64, VecDeque<[i16; FRAME_SAMPLES]>>>,
}

impl Mixer {
    /// Participant `from` sent a G.711 `payload` of `payload_type`; other payloads (a
    /// codec the room does not speak) are not heard.
    pub fn push(&self, from: u64, payload_type: u8, payload: &[u8]) {
        let decode = match payload_type {
            PCMU => g711::ulaw_decode,
            PCMA => g711::alaw_decode,
            _ => return,
        };
        let mut sources = crate::sync::lock(&self.sources);
        let queue = sources.entry(from).or_default();
        for chunk in payload.chunks(FRAME_SAMPLES) {
            let mut frame = [0i16; FRAME_SAMPLES];
            for (sample, &byte) in frame.iter_mut().zip(chunk) {
                *sample = decode(byte);
            }
            if queue.len() == QUEUED_FRAMES {
                queue.pop_front();
            }
            queue.push_back(frame);
        }
    }

    /// Participant `from` left.
    pub fn forget(&self, from: u64) {
        crate::sync::lock(&self.sources).remove(&from);
    }
}

impl LiveAudio for Mixer {
    fn next_frame(&self, frame: &mut [i16; FRAME_SAMPLES]) {
        frame.fill(0);
        let mut sources = crate::sync::lock(&self.sources);
        for queue in sources.values_mut() {
            if let Some(next) = queue.pop_front() {
                for (mixed, &sample) in frame.iter_mut().zip(next.iter()) {
                    *mixed = mixed.saturating_add(sample);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_voices_are_added_and_a_silent_participant_adds_nothing() {
        let mixer = Mixer::default();
        mixer.push(1, PCMU, &[g711::ulaw_encode(1000); FRAME_SAMPLES]);
        mixer.push(2, PCMU, &[g711::ulaw_encode(2000); FRAME_SAMPLES]);
        let mut frame = [0i16; FRAME_SAMPLES];
        mixer.next_frame(&mut frame);
        let expected =
            g711::ulaw_decode(g711::ulaw_encode(1000)) + g711::ulaw_decode(g711::ulaw_encode(2000));
        assert!(frame.iter().all(|&s| s == expected), "{:?}", &frame[..4]);
        mixer.next_frame(&mut frame);
        assert!(frame.iter().all(|&s| s == 0), "nothing queued: silence");
    }

    #[test]
    fn a_burst_keeps_the_newest_frames_only() {
        let mixer = Mixer::default();
        for value in 0..(QUEUED_FRAMES as i16 + 3) {
            mixer.push(1, PCMA, &[g711::alaw_encode(value * 1000); FRAME_SAMPLES]);
        }
        let mut frame = [0i16; FRAME_SAMPLES];
        mixer.next_frame(&mut frame);
        assert_eq!(frame[0], g711::alaw_decode(g711::alaw_encode(3000)), "the three oldest were dropped");
    }
}
