//! Any common audio file to telephony audio: WAV (any rate and channel count; 8/16/24/32-bit
//! integer or float), MP3, OGG Vorbis and FLAC are decoded with symphonia, mixed down to
//! mono and resampled to 8 kHz through a proper low-pass ([`resample`]). Uploads are
//! converted once, off the call path; a call only ever plays the result.
//!
//! The input is untrusted (an upload): sizes and durations are capped, and every malformed
//! file is an error naming the problem, never a panic.

mod resample;

use std::io::Cursor;
use std::time::Duration;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CODEC_TYPE_NULL, DecoderOptions};
use symphonia::core::errors::Error as DecodeError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::{Audio, SAMPLE_RATE};
use resample::Resampler;

/// Largest file accepted (64 MiB: about 6 minutes of CD-quality WAV, hours of MP3).
pub const MAX_INPUT_BYTES: usize = 64 * 1024 * 1024;
/// Longest audio accepted: a prompt or music-on-hold loop, not an album.
pub const MAX_DURATION: Duration = Duration::from_secs(10 * 60);
/// Sample rates accepted; anything outside is a corrupt header, not real audio.
const RATES: std::ops::RangeInclusive<u32> = 1000..=384_000;
/// Undecodable packets tolerated in a file that otherwise decodes (a damaged frame in an MP3).
const MAX_BAD_PACKETS: usize = 100;

/// Why a file could not be converted; the message is meant for whoever uploaded it.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("the file is {size} bytes, more than the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    #[error("not an audio file: {0}")]
    NotAudio(String),
    #[error("no audio track in the file")]
    NoAudioTrack,
    #[error("unsupported audio: {0}")]
    Unsupported(String),
    #[error("the audio is corrupt: {0}")]
    Corrupt(String),
    #[error("empty audio: the file holds no samples")]
    Empty,
    #[error("longer than the {minutes}-minute limit")]
    TooLong { minutes: u64 },
}

/// `bytes` (a WAV, MP3, OGG Vorbis or FLAC file) as telephony audio. `extension_hint` is a
/// file extension ("mp3") or a MIME type ("audio/mpeg") when the caller knows one; the
/// content decides in the end. Blocking and CPU-bound (milliseconds per second of audio):
/// run it off the async workers.
pub fn to_telephony(bytes: &[u8], extension_hint: Option<&str>) -> Result<Audio, ConvertError> {
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(ConvertError::TooLarge { size: bytes.len(), limit: MAX_INPUT_BYTES });
    }
    if bytes.is_empty() {
        return Err(ConvertError::NotAudio("the file is empty".to_string()));
    }
    // symphonia is not hardened against every malformed stream: a panic inside a decoder
    // must become a refused upload, not a dead worker.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decode(bytes, extension_hint)))
        .unwrap_or_else(|_| Err(ConvertError::Corrupt("the decoder failed on malformed data".to_string())))
}

fn decode(bytes: &[u8], extension_hint: Option<&str>) -> Result<Audio, ConvertError> {
    let mut hint = Hint::new();
    match extension_hint.map(str::trim) {
        Some(mime) if mime.contains('/') => _ = hint.mime_type(mime),
        Some(extension) if !extension.is_empty() => {
            _ = hint.with_extension(extension.trim_start_matches('.'))
        }
        _ => {}
    }
    let source = MediaSourceStream::new(Box::new(Cursor::new(bytes.to_vec())), Default::default());
    // Gapless: MP3 encoder delay and padding are trimmed, so durations come out exact.
    let options = FormatOptions { enable_gapless: true, ..Default::default() };
    let probed = symphonia::default::get_probe()
        .format(&hint, source, &options, &MetadataOptions::default())
        .map_err(|e| ConvertError::NotAudio(probe_failure(&e)))?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|track| track.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or(ConvertError::NoAudioTrack)?;
    let track_id = track.id;
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(|e| ConvertError::Unsupported(format!("no decoder for this codec ({e})")))?;

    let mut mixdown = Mixdown::default();
    let mut bad_packets = 0;
    let mut last_error = String::new();
    loop {
        let packet = match format.next_packet() {
            Ok(packet) => packet,
            Err(DecodeError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            // A new chained stream (another OGG logical stream): the first is the audio.
            Err(DecodeError::ResetRequired) => break,
            // A damaged tail after good audio keeps what was decoded.
            Err(e) if mixdown.frames > 0 => {
                tracing::debug!(error = %e, "audio stream ends in unreadable data; keeping what decoded");
                break;
            }
            Err(e) => return Err(ConvertError::Corrupt(e.to_string())),
        };
        if packet.track_id() != track_id {
            continue;
        }
        match decoder.decode(&packet) {
            Ok(decoded) => {
                let spec = *decoded.spec();
                if decoded.frames() == 0 || spec.channels.count() == 0 {
                    continue;
                }
                let mut buffer = SampleBuffer::<f32>::new(decoded.capacity() as u64, spec);
                buffer.copy_interleaved_ref(decoded);
                mixdown.push(spec.rate, spec.channels.count(), buffer.samples())?;
            }
            // A packet that does not decode is skipped, as players do.
            Err(DecodeError::DecodeError(e)) => {
                bad_packets += 1;
                last_error = e.to_string();
                if bad_packets > MAX_BAD_PACKETS {
                    return Err(ConvertError::Corrupt(format!(
                        "too many undecodable packets ({last_error})"
                    )));
                }
            }
            Err(DecodeError::IoError(e)) => {
                bad_packets += 1;
                last_error = e.to_string();
            }
            Err(e) => return Err(ConvertError::Corrupt(e.to_string())),
        }
    }
    if mixdown.frames == 0 && bad_packets > 0 {
        return Err(ConvertError::Corrupt(format!("no packet could be decoded ({last_error})")));
    }
    mixdown.finish()
}

/// The container of `bytes` judged by its first bytes, for the record of an upload:
/// "wav", "mp3", "ogg", "flac" or "unknown".
pub fn format_name(bytes: &[u8]) -> &'static str {
    match bytes {
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'A', b'V', b'E', ..] => "wav",
        [b'O', b'g', b'g', b'S', ..] => "ogg",
        [b'f', b'L', b'a', b'C', ..] => "flac",
        [b'I', b'D', b'3', ..] => "mp3",
        // An MPEG audio frame sync (11 set bits).
        [0xFF, second, ..] if second & 0xE0 == 0xE0 => "mp3",
        _ => "unknown",
    }
}

/// What the probe's failure means to someone uploading a file.
fn probe_failure(error: &DecodeError) -> String {
    match error {
        DecodeError::Unsupported(_) => "no WAV, MP3, OGG Vorbis or FLAC stream found in it".to_string(),
        other => other.to_string(),
    }
}

/// Decoded packets mixed down to mono and resampled to 8 kHz as they arrive, so memory
/// stays proportional to the output, whatever the source rate and channel count.
#[derive(Default)]
struct Mixdown {
    /// The source rate and its converter (none when it already is 8 kHz); set by the
    /// first packet.
    rate: Option<(u32, Option<Resampler>)>,
    /// Source frames so far.
    frames: u64,
    mono: Vec<f32>,
    out: Vec<f32>,
}

impl Mixdown {
    /// Adds `samples`: interleaved frames of `channels` channels at `rate` Hz.
    fn push(&mut self, rate: u32, channels: usize, samples: &[f32]) -> Result<(), ConvertError> {
        let (first_rate, resampler) = match &mut self.rate {
            Some((first, resampler)) => (*first, resampler),
            None => {
                if !RATES.contains(&rate) {
                    return Err(ConvertError::Unsupported(format!("a sample rate of {rate} Hz")));
                }
                let resampler = (rate != SAMPLE_RATE).then(|| Resampler::new(rate, SAMPLE_RATE));
                let (_, resampler) = self.rate.insert((rate, resampler));
                (rate, resampler)
            }
        };
        if rate != first_rate {
            return Err(ConvertError::Unsupported(format!(
                "the sample rate changes from {first_rate} to {rate} Hz"
            )));
        }
        self.frames += (samples.len() / channels) as u64;
        if self.frames > MAX_DURATION.as_secs() * u64::from(rate) {
            return Err(ConvertError::TooLong { minutes: MAX_DURATION.as_secs() / 60 });
        }
        self.mono.clear();
        self.mono
            .extend(samples.chunks_exact(channels).map(|frame| frame.iter().sum::<f32>() / channels as f32));
        match resampler {
            Some(resampler) => resampler.push(&self.mono, &mut self.out),
            None => self.out.extend_from_slice(&self.mono),
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Audio, ConvertError> {
        if let Some((_, Some(resampler))) = self.rate.take() {
            resampler.finish(&mut self.out);
        }
        if self.frames == 0 {
            return Err(ConvertError::Empty);
        }
        Ok(Audio::from_samples(self.out.iter().map(|&s| to_i16(s)).collect()))
    }
}

/// A float sample (full scale ±1.0) as 16-bit, clipped; NaN (garbage in a float WAV) is
/// silence.
fn to_i16(sample: f32) -> i16 {
    if sample.is_nan() { 0 } else { (sample * 32767.0).round().clamp(-32768.0, 32767.0) as i16 }
}

#[cfg(test)]
mod tests;
