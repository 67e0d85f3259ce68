//! Conversion of every accepted format, and refusal of everything else without a panic.

use std::f64::consts::PI;

use super::*;
use crate::media::audio::goertzel;
use crate::test_rng::XorShift;

const MP3: &[u8] = include_bytes!("../../../../../tests/fixtures/audio/tone-440-44k1-stereo.mp3");
const OGG: &[u8] = include_bytes!("../../../../../tests/fixtures/audio/tone-440-48k-mono.ogg");
const FLAC: &[u8] = include_bytes!("../../../../../tests/fixtures/audio/tone-440-16k-mono-24bit.flac");

/// How a test WAV stores its samples.
#[derive(Clone, Copy)]
enum Encoding {
    Unsigned8,
    Int16,
    Int24,
    Int32,
    Float32,
}

/// A WAV file of `seconds` at `rate` Hz whose channel `c` holds a sine of `tones[c]` Hz at
/// half scale.
fn wav(rate: u32, tones: &[f64], seconds: f64, encoding: Encoding) -> Vec<u8> {
    let (format, bits): (u16, u16) = match encoding {
        Encoding::Unsigned8 => (1, 8),
        Encoding::Int16 => (1, 16),
        Encoding::Int24 => (1, 24),
        Encoding::Int32 => (1, 32),
        Encoding::Float32 => (3, 32),
    };
    let channels = tones.len() as u16;
    let frames = (f64::from(rate) * seconds) as usize;
    let mut data = Vec::new();
    for n in 0..frames {
        for &hz in tones {
            let x = 0.5 * (2.0 * PI * hz * n as f64 / f64::from(rate)).sin();
            match encoding {
                Encoding::Unsigned8 => data.push((128.0 + x * 127.0).round() as u8),
                Encoding::Int16 => data.extend_from_slice(&((x * 32767.0) as i16).to_le_bytes()),
                Encoding::Int24 => data.extend_from_slice(&((x * 8_388_607.0) as i32).to_le_bytes()[..3]),
                Encoding::Int32 => data.extend_from_slice(&((x * 2_147_483_647.0) as i32).to_le_bytes()),
                Encoding::Float32 => data.extend_from_slice(&(x as f32).to_le_bytes()),
            }
        }
    }
    let block_align = channels * bits / 8;
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&format.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * u32::from(block_align)).to_le_bytes());
    out.extend_from_slice(&block_align.to_le_bytes());
    out.extend_from_slice(&bits.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&data);
    out
}

/// The share of the middle of `audio` (past any filter ramp or codec delay) at `hz`.
fn share_at(audio: &Audio, hz: f32) -> f64 {
    let samples = audio.samples();
    let middle = &samples[samples.len() / 4..samples.len() * 3 / 4];
    goertzel::share(middle, hz)
}

fn assert_is_two_seconds_of_440(audio: &Audio, what: &str) {
    let samples = audio.samples().len();
    // Lossy codecs may add or trim a few milliseconds (Vorbis pads its last packet).
    assert!((15_800..=16_200).contains(&samples), "{what}: {samples} samples");
    assert!(share_at(audio, 440.0) > 0.8, "{what}: 440 Hz share {}", share_at(audio, 440.0));
}

#[test]
fn wav_of_every_sample_format_converts_to_the_same_tone() {
    use Encoding::*;
    for (encoding, name) in
        [(Unsigned8, "8-bit"), (Int16, "16-bit"), (Int24, "24-bit"), (Int32, "32-bit"), (Float32, "float")]
    {
        let audio = to_telephony(&wav(22050, &[440.0], 2.0, encoding), Some("wav")).unwrap();
        assert_is_two_seconds_of_440(&audio, name);
        let peak = audio.samples().iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!((15_500..=17_000).contains(&peak), "{name}: peak {peak}");
    }
}

#[test]
fn cd_quality_stereo_is_mixed_down_and_resampled() {
    let audio = to_telephony(&wav(44100, &[440.0, 440.0], 2.0, Encoding::Int16), None).unwrap();
    assert_eq!(audio.samples().len(), 16_000);
    assert_is_two_seconds_of_440(&audio, "44.1 kHz stereo");
}

#[test]
fn both_channels_are_heard_after_the_mixdown() {
    let audio = to_telephony(&wav(48000, &[440.0, 1000.0], 1.0, Encoding::Int16), None).unwrap();
    assert!(share_at(&audio, 440.0) > 0.4);
    assert!(share_at(&audio, 1000.0) > 0.4);
}

#[test]
fn eight_khz_mono_passes_through_unfiltered() {
    let bytes = wav(8000, &[440.0], 1.0, Encoding::Int16);
    let audio = to_telephony(&bytes, None).unwrap();
    assert_eq!(audio, crate::media::audio::wav::read(&bytes).unwrap());
}

#[test]
fn music_above_4_khz_does_not_alias_into_the_telephone_band() {
    // Without a low-pass, 5 kHz at 44.1 kHz would be heard as 3 kHz after decimation.
    let audio = to_telephony(&wav(44100, &[5000.0], 1.0, Encoding::Int16), None).unwrap();
    let peak = audio.samples()[400..7600].iter().map(|s| s.unsigned_abs()).max().unwrap();
    assert!(peak < 50, "peak {peak} of a 16384-amplitude tone");
}

#[test]
fn mp3_ogg_and_flac_convert() {
    assert_is_two_seconds_of_440(&to_telephony(MP3, Some("audio/mpeg")).unwrap(), "MP3");
    assert_is_two_seconds_of_440(&to_telephony(OGG, Some("ogg")).unwrap(), "OGG Vorbis");
    assert_is_two_seconds_of_440(&to_telephony(FLAC, Some(".flac")).unwrap(), "FLAC");
}

#[test]
fn the_hint_does_not_have_to_be_right() {
    assert_is_two_seconds_of_440(&to_telephony(FLAC, Some("mp3")).unwrap(), "FLAC hinted as MP3");
}

#[test]
fn a_text_file_is_not_an_audio_file() {
    let error =
        to_telephony(b"Hello, this is not audio at all.\n".repeat(100).as_slice(), Some("txt")).unwrap_err();
    assert!(matches!(error, ConvertError::NotAudio(_)), "{error:?}");
    assert!(error.to_string().starts_with("not an audio file: "), "{error}");
}

#[test]
fn an_empty_upload_is_not_an_audio_file() {
    assert!(matches!(to_telephony(b"", None), Err(ConvertError::NotAudio(_))));
}

#[test]
fn a_wav_without_samples_is_empty_audio() {
    let error = to_telephony(&wav(44100, &[440.0], 0.0, Encoding::Int16), None).unwrap_err();
    assert!(matches!(error, ConvertError::Empty), "{error:?}");
    assert!(error.to_string().contains("empty audio"));
}

#[test]
fn audio_past_the_duration_limit_is_refused() {
    // 8 kHz 8-bit: eleven minutes in 5 MB, and no resampling to wait for.
    let error = to_telephony(&wav(8000, &[100.0], 11.0 * 60.0, Encoding::Unsigned8), None).unwrap_err();
    assert!(matches!(error, ConvertError::TooLong { minutes: 10 }), "{error:?}");
    assert_eq!(error.to_string(), "longer than the 10-minute limit");
}

#[test]
fn a_file_over_the_size_limit_is_refused_before_decoding() {
    let error = to_telephony(&vec![0; MAX_INPUT_BYTES + 1], None).unwrap_err();
    assert!(matches!(error, ConvertError::TooLarge { .. }), "{error:?}");
}

#[test]
fn an_absurd_sample_rate_is_refused() {
    let error = to_telephony(&wav(10, &[1.0], 1.0, Encoding::Int16), None).unwrap_err();
    assert!(error.to_string().contains("10 Hz"), "{error}");
}

#[test]
fn random_mutated_and_truncated_files_never_panic() {
    let mut rng = XorShift(0x5EED_A0D1);
    let valid =
        [wav(44100, &[440.0, 440.0], 0.2, Encoding::Int16), MP3.to_vec(), OGG.to_vec(), FLAC.to_vec()];
    for round in 0..240 {
        let mut bytes = match round % 3 {
            0 => (0..rng.below(4096)).map(|_| rng.next() as u8).collect(),
            _ => valid[rng.below(valid.len())].clone(),
        };
        if round % 3 != 0 {
            // Flip some bytes (headers included) and cut the file somewhere.
            for _ in 0..1 + rng.below(20) {
                let at = rng.below(bytes.len().clamp(1, 512)) * (rng.below(2) + 1) % bytes.len();
                bytes[at] = rng.next() as u8;
            }
            bytes.truncate(rng.below(bytes.len() + 1));
        }
        // Any outcome but a panic is fine; a successful decode is real audio.
        if let Ok(audio) = to_telephony(&bytes, None) {
            assert!(audio.samples().len() <= MAX_DURATION.as_secs() as usize * 8000);
        }
    }
}

#[test]
fn formats_are_named_by_their_first_bytes() {
    assert_eq!(format_name(&wav(8000, &[440.0], 0.01, Encoding::Int16)), "wav");
    assert_eq!(format_name(MP3), "mp3");
    assert_eq!(format_name(OGG), "ogg");
    assert_eq!(format_name(FLAC), "flac");
    assert_eq!(format_name(b"hello"), "unknown");
    assert_eq!(format_name(b""), "unknown");
}
