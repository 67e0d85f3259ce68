//! Audio for and from the black-box tests, written here rather than taken from the host so
//! that a bug in the host's audio code cannot hide itself: a sine-tone WAV to upload as a
//! prompt, a WAV reader for any channel count (baresip's dumps, recordings, voicemail
//! attachments), G.711 decoders for RTP the tests receive, and tone detection with a Goertzel filter over 100 ms blocks.

use std::path::Path;

/// The analysis block: 100 ms gives the Goertzel filter a 10 Hz resolution.
pub const BLOCK_MS: usize = 100;
/// A block quieter than this RMS (about -36 dBFS) is silence; ausine plays at about -9 dBFS.
pub const SILENCE_RMS: f64 = 500.0;

/// A 16-bit PCM WAV of `seconds` at `rate` Hz, every channel a `tone_hz` sine at half scale.
pub fn tone_wav(rate: u32, channels: u16, seconds: f64, tone_hz: f64) -> Vec<u8> {
    let frames = (f64::from(rate) * seconds) as usize;
    let mut data = Vec::with_capacity(frames * 2 * usize::from(channels));
    for n in 0..frames {
        let phase = 2.0 * std::f64::consts::PI * tone_hz * n as f64 / f64::from(rate);
        let sample = (16383.0 * phase.sin()) as i16;
        for _ in 0..channels {
            data.extend_from_slice(&sample.to_le_bytes());
        }
    }
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2 * u32::from(channels)).to_le_bytes());
    out.extend_from_slice(&(2 * channels).to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&data);
    out
}

/// The sample rate and samples of a 16-bit mono PCM WAV file.
pub fn read_wav(path: &Path) -> (u32, Vec<i16>) {
    let bytes = std::fs::read(path).expect("read the recording");
    let (rate, mut channels) = read_wav_channels(&bytes);
    assert_eq!(channels.len(), 1, "expected a mono WAV: {}", path.display());
    (rate, channels.remove(0))
}

/// The sample rate and each channel's samples of a 16-bit PCM WAV. A data chunk whose size
/// was never written (a writer stopped early) runs to the end of the file.
pub fn read_wav_channels(bytes: &[u8]) -> (u32, Vec<Vec<i16>>) {
    assert!(bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WAVE", "not a WAV file");
    let le16 = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]);
    let le32 = |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let mut format = None;
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let size = le32(at + 4) as usize;
        let body = at + 8;
        match &bytes[at..at + 4] {
            b"fmt " => {
                let (tag, channels, bits) = (le16(body), le16(body + 2), le16(body + 14));
                assert_eq!((tag, bits), (1, 16), "expected 16-bit PCM");
                assert!(channels > 0, "a WAV without channels");
                format = Some((le32(body + 4), usize::from(channels)));
            }
            b"data" => {
                let (rate, count) = format.expect("the fmt chunk comes before the data chunk");
                let end = if size == 0 || body + size > bytes.len() { bytes.len() } else { body + size };
                let mut channels = vec![Vec::new(); count];
                for (index, pair) in bytes[body..end].chunks_exact(2).enumerate() {
                    channels[index % count].push(i16::from_le_bytes([pair[0], pair[1]]));
                }
                return (rate, channels);
            }
            _ => {}
        }
        at = body + size + size % 2;
    }
    panic!("no data chunk in the WAV");
}

/// The linear sample of a G.711 μ-law byte (ITU-T G.711: inverted bits, sign, 3-bit
/// exponent, 4-bit mantissa, bias 0x84).
pub fn ulaw_to_linear(byte: u8) -> i16 {
    let byte = !byte;
    let exponent = (byte >> 4) & 0x07;
    let magnitude = ((i32::from(byte & 0x0F) << 3) + 0x84) << exponent;
    let value = magnitude - 0x84;
    (if byte & 0x80 != 0 { -value } else { value }) as i16
}

/// The linear sample of a G.711 A-law byte (ITU-T G.711: even bits inverted, sign,
/// 3-bit segment, 4-bit mantissa).
pub fn alaw_to_linear(byte: u8) -> i16 {
    let byte = byte ^ 0x55;
    let segment = (byte >> 4) & 0x07;
    let mantissa = i32::from(byte & 0x0F);
    let magnitude = match segment {
        0 => (mantissa << 4) + 8,
        _ => ((mantissa << 4) + 0x108) << (segment - 1),
    };
    (if byte & 0x80 != 0 { magnitude } else { -magnitude }) as i16
}

/// The power of `frequency` in `samples` (the Goertzel algorithm: one DFT bin).
pub fn goertzel_power(samples: &[i16], frequency: f64, sample_rate: f64) -> f64 {
    let coefficient = 2.0 * (2.0 * std::f64::consts::PI * frequency / sample_rate).cos();
    let (mut previous, mut before_previous) = (0.0, 0.0);
    for &sample in samples {
        let current = f64::from(sample) + coefficient * previous - before_previous;
        before_previous = previous;
        previous = current;
    }
    previous * previous + before_previous * before_previous - coefficient * previous * before_previous
}

/// How a recording's blocks look for one tone.
#[derive(Debug)]
pub struct ToneReport {
    pub blocks: usize,
    /// Blocks louder than silence.
    pub loud: usize,
    /// Loud blocks where the tone has over 10 times the power of every rival frequency.
    pub tone: usize,
}

/// [`tone_blocks`] of a mono WAV file.
pub fn analyse(path: &Path, tone_hz: u32, rivals: &[u32]) -> ToneReport {
    let (rate, samples) = read_wav(path);
    tone_blocks(rate, &samples, tone_hz, rivals)
}

/// Count the 100 ms blocks of `samples` that are loud and hold `tone_hz` well above each
/// of `rivals`.
pub fn tone_blocks(rate: u32, samples: &[i16], tone_hz: u32, rivals: &[u32]) -> ToneReport {
    let block = rate as usize * BLOCK_MS / 1000;
    let mut report = ToneReport { blocks: 0, loud: 0, tone: 0 };
    for chunk in samples.chunks_exact(block) {
        report.blocks += 1;
        let rms = (chunk.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / block as f64).sqrt();
        if rms < SILENCE_RMS {
            continue;
        }
        report.loud += 1;
        let power = goertzel_power(chunk, f64::from(tone_hz), f64::from(rate));
        let strongest_rival = rivals
            .iter()
            .map(|&hz| goertzel_power(chunk, f64::from(hz), f64::from(rate)))
            .fold(0.0, f64::max);
        if power > 10.0 * strongest_rival {
            report.tone += 1;
        }
    }
    report
}
