//! Opus ⇄ PCMU, for a browser that offers Opus and no G.711: the bridge decodes what it
//! sends into the PCMU the relay and the phones speak, and encodes their PCMU for it.
//!
//! Both codecs run at 8 kHz here (Opus encodes and decodes narrowband natively), so no
//! resampling is needed; only the RTP clocks differ — Opus timestamps always count at
//! 48 kHz (RFC 7587 §4.1), PCMU's at 8 kHz.

use bytes::Bytes;
use opus_rs::{Application, OpusDecoder, OpusEncoder};
use rtc::rtp::Packet;
use rtc::rtp::header::Header;

use crate::media::audio::g711;
use crate::media::sdp::PCMU;

/// The rate both sides are coded at.
const RATE: i32 = 8000;
/// Opus's RTP clock ticks per 8 kHz sample.
const OPUS_TICKS_PER_SAMPLE: u32 = 48000 / RATE as u32;
/// The longest Opus packet, 120 ms, in 8 kHz samples.
const MAX_OPUS_SAMPLES: usize = 960;
/// The largest encoded Opus frame kept.
const MAX_OPUS_BYTES: usize = 400;
/// The bit rate asked of the encoder: plenty for narrowband speech.
const OPUS_BITRATE: i32 = 24000;

#[derive(Debug, thiserror::Error)]
#[error("Opus: {0}")]
pub struct OpusError(&'static str);

/// A new RTP packet of `payload_type` following the stream `(ssrc, sequence, timestamp)`.
fn packet(ssrc: u32, sequence: u16, timestamp: u32, payload_type: u8, payload: Vec<u8>) -> Packet {
    Packet {
        header: Header {
            version: 2,
            payload_type,
            sequence_number: sequence,
            timestamp,
            ssrc,
            ..Default::default()
        },
        payload: Bytes::from(payload),
    }
}

/// The browser's Opus, as PCMU packets for the relay.
pub struct OpusToPcmu {
    decoder: OpusDecoder,
    samples: Vec<f32>,
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
}

impl OpusToPcmu {
    pub fn new() -> Result<OpusToPcmu, OpusError> {
        Ok(OpusToPcmu {
            decoder: OpusDecoder::new(RATE, 1).map_err(OpusError)?,
            samples: vec![0.0; MAX_OPUS_SAMPLES],
            ssrc: rand::random(),
            sequence: rand::random(),
            timestamp: rand::random(),
        })
    }

    /// The PCMU packet carrying the audio of the Opus packet `opus`; none when it does
    /// not decode (it is dropped, as a lost packet would be).
    pub fn transcode(&mut self, opus: &Packet) -> Option<Packet> {
        let decoded = self.decoder.decode(&opus.payload, MAX_OPUS_SAMPLES, &mut self.samples).ok()?;
        let payload: Vec<u8> = self.samples[..decoded]
            .iter()
            .map(|&sample| g711::ulaw_encode((sample * 32768.0).clamp(-32768.0, 32767.0) as i16))
            .collect();
        let out = packet(self.ssrc, self.sequence, self.timestamp, PCMU, payload);
        self.sequence = self.sequence.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(decoded as u32);
        Some(out)
    }
}

/// The relay's PCMU, as Opus packets for the browser.
pub struct PcmuToOpus {
    encoder: OpusEncoder,
    samples: Vec<i16>,
    encoded: Vec<u8>,
    sequence: u16,
    timestamp: u32,
}

impl PcmuToOpus {
    pub fn new() -> Result<PcmuToOpus, OpusError> {
        let mut encoder = OpusEncoder::new(RATE, 1, Application::Voip).map_err(OpusError)?;
        encoder.bitrate_bps = OPUS_BITRATE;
        Ok(PcmuToOpus {
            encoder,
            samples: Vec::with_capacity(MAX_OPUS_SAMPLES),
            encoded: vec![0; MAX_OPUS_BYTES],
            sequence: rand::random(),
            timestamp: rand::random(),
        })
    }

    /// The Opus packet (of `payload_type`, on `ssrc`) carrying the PCMU packet `pcmu`;
    /// none when its length is not an Opus frame size (2.5 to 60 ms).
    pub fn transcode(&mut self, pcmu: &Packet, ssrc: u32, payload_type: u8) -> Option<Packet> {
        self.samples.clear();
        self.samples.extend(pcmu.payload.iter().map(|&byte| g711::ulaw_decode(byte)));
        let frame = self.samples.len();
        let length = self.encoder.encode_i16(&self.samples, frame, &mut self.encoded).ok()?;
        let out = packet(ssrc, self.sequence, self.timestamp, payload_type, self.encoded[..length].to_vec());
        self.sequence = self.sequence.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(frame as u32 * OPUS_TICKS_PER_SAMPLE);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 20 ms PCMU packet of a `hz` tone, starting at sample `start`.
    fn tone_packet(hz: f64, start: usize) -> Packet {
        let payload = (start..start + 160)
            .map(|n| {
                let sample = 8000.0 * (2.0 * std::f64::consts::PI * hz * n as f64 / 8000.0).sin();
                g711::ulaw_encode(sample as i16)
            })
            .collect();
        packet(1, start as u16, start as u32, PCMU, payload)
    }

    fn goertzel(samples: &[i16], hz: f64) -> f64 {
        let c = 2.0 * (2.0 * std::f64::consts::PI * hz / 8000.0).cos();
        let (mut s1, mut s2) = (0.0, 0.0);
        for &x in samples {
            let s = f64::from(x) + c * s1 - s2;
            (s2, s1) = (s1, s);
        }
        s1 * s1 + s2 * s2 - c * s1 * s2
    }

    #[test]
    fn a_tone_survives_pcmu_to_opus_and_back_with_opus_clocks_at_48_khz() {
        let (mut to_opus, mut to_pcmu) = (PcmuToOpus::new().unwrap(), OpusToPcmu::new().unwrap());
        let mut heard = Vec::new();
        let mut stamps = Vec::new();
        for frame in 0..50 {
            let opus = to_opus.transcode(&tone_packet(700.0, frame * 160), 42, 111).expect("an Opus frame");
            assert_eq!((opus.header.ssrc, opus.header.payload_type), (42, 111));
            stamps.push(opus.header.timestamp);
            let pcmu = to_pcmu.transcode(&opus).expect("decodes");
            assert_eq!((pcmu.header.payload_type, pcmu.payload.len()), (PCMU, 160));
            heard.extend(pcmu.payload.iter().map(|&b| g711::ulaw_decode(b)));
        }
        assert!(stamps.windows(2).all(|w| w[1].wrapping_sub(w[0]) == 960), "20 ms = 960 ticks at 48 kHz");
        // Past the codec's start-up, the tone dominates its neighbours.
        let settled = &heard[4000..];
        let (tone, rival) = (goertzel(settled, 700.0), goertzel(settled, 1300.0));
        assert!(tone > 100.0 * rival, "700 Hz {tone} against 1300 Hz {rival}");
    }

    #[test]
    fn a_packet_that_is_not_opus_is_dropped_not_a_panic() {
        let mut to_pcmu = OpusToPcmu::new().unwrap();
        for garbage in [vec![0xffu8; 3], vec![0x00, 0x01], (0..=255).collect()] {
            let mut bogus = tone_packet(500.0, 0);
            bogus.payload = Bytes::from(garbage);
            let _ = to_pcmu.transcode(&bogus);
        }
    }
}
