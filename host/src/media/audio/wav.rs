//! The WAV files the host writes — converted prompts, voicemail messages (mono) and call
//! recordings (two channels) — as 8 kHz 16-bit PCM, and reading its own mono files back
//! without any conversion. Files from elsewhere go through [`super::convert`].

use super::convert::ConvertError;
use super::{Audio, SAMPLE_RATE};

/// Bytes before the samples: the RIFF header, a 16-byte `fmt ` chunk and the `data` header.
const HEADER_LEN: usize = 44;
/// `WAVE_FORMAT_PCM`.
const FORMAT_PCM: u16 = 1;
/// Bits of each sample.
const BITS: u16 = 16;

/// A mono WAV file holding `audio`.
pub fn write_mono(audio: &Audio) -> Vec<u8> {
    let samples = audio.samples();
    let mut out = header(1, samples.len());
    for sample in samples {
        out.extend_from_slice(&sample.to_le_bytes());
    }
    out
}

/// A two-channel WAV file, `left` on the first channel and `right` on the second; the
/// shorter side is padded with silence so both last as long as the longer.
pub fn write_stereo(left: &[i16], right: &[i16]) -> Vec<u8> {
    let frames = left.len().max(right.len());
    let mut out = header(2, frames * 2);
    for i in 0..frames {
        out.extend_from_slice(&left.get(i).copied().unwrap_or(0).to_le_bytes());
        out.extend_from_slice(&right.get(i).copied().unwrap_or(0).to_le_bytes());
    }
    out
}

/// The header of a file of `channels` channels holding `samples` samples in all.
fn header(channels: u16, samples: usize) -> Vec<u8> {
    let block_align = channels * (BITS / 8);
    // A RIFF size field is 32 bits: saturate rather than wrap (4 GiB is days of audio,
    // far beyond any recording limit).
    let data_len = u32::try_from(samples * 2).unwrap_or(u32::MAX - HEADER_LEN as u32);
    let mut out = Vec::with_capacity(HEADER_LEN + samples * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(data_len + HEADER_LEN as u32 - 8).to_le_bytes());
    out.extend_from_slice(b"WAVE");
    out.extend_from_slice(b"fmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&FORMAT_PCM.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
    out.extend_from_slice(&(SAMPLE_RATE * u32::from(block_align)).to_le_bytes());
    out.extend_from_slice(&block_align.to_le_bytes());
    out.extend_from_slice(&BITS.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    out
}

/// The audio of a mono 8 kHz 16-bit PCM WAV file such as [`write_mono`] writes. Any other
/// WAV (another rate, stereo, 8-bit...) is refused: convert those with
/// [`super::convert::to_telephony`]. Chunks other than `fmt ` and `data` are skipped, and a
/// `data` size larger than the file (a writer that never finished) reads what is there.
pub fn read(bytes: &[u8]) -> Result<Audio, ConvertError> {
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(ConvertError::NotAudio("no RIFF/WAVE header".to_string()));
    }
    let mut format = None;
    let mut rest = &bytes[12..];
    while rest.len() >= 8 {
        let (id, size) = (&rest[..4], u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize);
        let body = &rest[8..];
        let chunk = &body[..size.min(body.len())];
        match id {
            b"fmt " => {
                if chunk.len() < 16 {
                    return Err(ConvertError::Corrupt("the WAV fmt chunk is too short".to_string()));
                }
                let field = |at: usize| u16::from_le_bytes([chunk[at], chunk[at + 1]]);
                let rate = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
                format = Some((field(0), field(2), rate, field(14)));
            }
            b"data" => {
                let Some((tag, channels, rate, bits)) = format else {
                    return Err(ConvertError::Corrupt(
                        "the WAV data chunk comes before its format".to_string(),
                    ));
                };
                if (tag, channels, rate, bits) != (FORMAT_PCM, 1, SAMPLE_RATE, BITS) {
                    return Err(ConvertError::Unsupported(format!(
                        "a WAV of format {tag}, {channels} channel(s), {rate} Hz, {bits} bits; \
                         expected 8 kHz mono 16-bit PCM"
                    )));
                }
                let samples =
                    chunk.chunks_exact(2).map(|pair| i16::from_le_bytes([pair[0], pair[1]])).collect();
                return Ok(Audio::from_samples(samples));
            }
            _ => {}
        }
        // Chunks are padded to an even length.
        let advance = 8usize.saturating_add(size).saturating_add(size & 1);
        rest = rest.get(advance..).unwrap_or(&[]);
    }
    Err(ConvertError::Corrupt("the WAV file has no data chunk".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mono_file_reads_back_the_same_samples() {
        let audio = Audio::from_samples(vec![0, 1, -1, i16::MAX, i16::MIN, 1234]);
        let bytes = write_mono(&audio);
        assert_eq!(bytes.len(), HEADER_LEN + 12);
        assert_eq!(read(&bytes).unwrap(), audio);
    }

    #[test]
    fn mono_header_says_8_khz_16_bit_one_channel() {
        let bytes = write_mono(&Audio::from_samples(vec![0; 8]));
        assert_eq!(&bytes[..4], b"RIFF");
        assert_eq!(u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize, bytes.len() - 8);
        assert_eq!(u16::from_le_bytes([bytes[22], bytes[23]]), 1);
        assert_eq!(u32::from_le_bytes(bytes[24..28].try_into().unwrap()), 8000);
        assert_eq!(u32::from_le_bytes(bytes[28..32].try_into().unwrap()), 16000);
        assert_eq!(u16::from_le_bytes([bytes[34], bytes[35]]), 16);
        assert_eq!(u32::from_le_bytes(bytes[40..44].try_into().unwrap()), 16);
    }

    #[test]
    fn stereo_interleaves_and_pads_the_shorter_side_with_silence() {
        let bytes = write_stereo(&[1, 2, 3], &[-1]);
        assert_eq!(u16::from_le_bytes([bytes[22], bytes[23]]), 2);
        assert_eq!(u32::from_le_bytes(bytes[28..32].try_into().unwrap()), 32000);
        let samples: Vec<i16> =
            bytes[HEADER_LEN..].chunks_exact(2).map(|p| i16::from_le_bytes([p[0], p[1]])).collect();
        assert_eq!(samples, [1, -1, 2, 0, 3, 0]);
    }

    #[test]
    fn stereo_file_is_refused_by_the_mono_reader() {
        let error = read(&write_stereo(&[1], &[2])).unwrap_err();
        assert!(error.to_string().contains("2 channel(s)"), "{error}");
    }

    #[test]
    fn unknown_chunks_are_skipped_and_a_truncated_data_chunk_reads_what_is_there() {
        let mut bytes = write_mono(&Audio::from_samples(vec![5, 6, 7]));
        // A LIST chunk (odd size, padded) between fmt and data.
        let list = [b"LIST".as_slice(), &3u32.to_le_bytes(), b"abc\0"].concat();
        bytes.splice(36..36, list);
        bytes.truncate(bytes.len() - 1);
        assert_eq!(read(&bytes).unwrap().samples(), [5, 6]);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in
            [&b""[..], b"RIFF", b"RIFF\0\0\0\0WAVE", b"RIFF\0\0\0\0WAVEfmt \xff\xff\xff\xff", b"hello world"]
        {
            assert!(read(bytes).is_err());
        }
    }
}
