//! Telephony audio: what prompts, music on hold, voicemail and recordings are made of
//! inside the host — 8 kHz mono signed 16-bit samples, played and recorded in 20 ms frames.
//!
//! - [`g711`]: PCMU (μ-law) and PCMA (A-law), the two codecs every phone speaks.
//! - [`convert`]: any common audio file (WAV, MP3, OGG Vorbis, FLAC) to telephony audio.
//! - [`wav`]: the WAV files the host writes and reads back (8 kHz 16-bit PCM).
//! - [`tone`]: generated tones and silence.
//! - [`goertzel`]: how much of one frequency a piece of audio holds (tone detection).

pub mod convert;
pub mod g711;
pub mod goertzel;
pub mod tone;
pub mod wav;

use std::sync::Arc;
use std::time::Duration;

/// Samples per second of telephony audio (G.711).
pub const SAMPLE_RATE: u32 = 8000;
/// Samples in one 20 ms RTP frame, the packet size phones expect (`a=ptime:20`).
pub const FRAME_SAMPLES: usize = 160;
/// How long one frame lasts.
pub const FRAME_TIME: Duration = Duration::from_millis(20);

/// A piece of telephony audio: 8 kHz mono signed 16-bit samples. Cheap to clone, so one
/// decoded prompt plays to any number of calls.
#[derive(Clone, PartialEq, Eq)]
pub struct Audio {
    samples: Arc<[i16]>,
}

impl Audio {
    pub fn from_samples(samples: Vec<i16>) -> Audio {
        Audio { samples: samples.into() }
    }

    pub fn samples(&self) -> &[i16] {
        &self.samples
    }

    pub fn duration(&self) -> Duration {
        Duration::from_micros(self.samples.len() as u64 * 1_000_000 / u64::from(SAMPLE_RATE))
    }
}

impl std::fmt::Debug for Audio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Audio({} samples, {:?})", self.samples.len(), self.duration())
    }
}
