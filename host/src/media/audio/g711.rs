//! G.711 (ITU-T G.711): PCMU (μ-law, RTP payload type 0) and PCMA (A-law, payload type 8),
//! each sample one byte. Encoding follows the segment tables of the recommendation; the
//! decoders are exact inverses of the encoders' quantisation.

/// μ-law bias added before finding the segment.
const ULAW_BIAS: i32 = 0x84;
/// Largest magnitude μ-law encodes (clipped beyond).
const ULAW_CLIP: i32 = 32635;

/// One sample to μ-law.
pub fn ulaw_encode(sample: i16) -> u8 {
    let sign = if sample < 0 { 0x80 } else { 0 };
    let magnitude = (i32::from(sample).abs()).min(ULAW_CLIP) + ULAW_BIAS;
    // The segment is the position of the highest set bit above bit 7.
    let exponent = (31 - (magnitude as u32).leading_zeros()).saturating_sub(7).min(7) as i32;
    let mantissa = (magnitude >> (exponent + 3)) & 0x0F;
    !((sign | (exponent << 4) | mantissa) as u8)
}

/// One μ-law byte to a sample.
pub fn ulaw_decode(byte: u8) -> i16 {
    let byte = !byte;
    let exponent = i32::from((byte >> 4) & 0x07);
    let mantissa = i32::from(byte & 0x0F);
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
    (if byte & 0x80 != 0 { -magnitude } else { magnitude }) as i16
}

/// One sample to A-law.
pub fn alaw_encode(sample: i16) -> u8 {
    let (sign, magnitude) = if sample >= 0 { (0x80, i32::from(sample)) } else { (0, -i32::from(sample) - 1) };
    let magnitude = magnitude.min(0x7FFF) >> 3;
    let encoded = if magnitude < 32 {
        magnitude >> 1
    } else {
        let exponent = (31 - (magnitude as u32).leading_zeros()) as i32 - 4;
        (exponent << 4) | ((magnitude >> exponent) & 0x0F)
    };
    ((sign | encoded) as u8) ^ 0x55
}

/// One A-law byte to a sample.
pub fn alaw_decode(byte: u8) -> i16 {
    let byte = byte ^ 0x55;
    let exponent = i32::from((byte >> 4) & 0x07);
    let mantissa = i32::from(byte & 0x0F);
    let magnitude =
        if exponent == 0 { (mantissa << 4) + 8 } else { ((mantissa << 4) + 0x108) << (exponent - 1) };
    (if byte & 0x80 != 0 { magnitude } else { -magnitude }) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_encodes_to_the_well_known_idle_bytes() {
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(alaw_encode(0), 0xD5);
    }

    #[test]
    fn every_byte_decodes_and_encodes_back_to_itself() {
        for byte in 0..=255u8 {
            // μ-law has two zeros (0x7F and 0xFF); both decode to 0, which encodes as 0xFF.
            if byte != 0x7F {
                assert_eq!(ulaw_encode(ulaw_decode(byte)), byte, "μ-law {byte:#04x}");
            }
            assert_eq!(alaw_encode(alaw_decode(byte)), byte, "A-law {byte:#04x}");
        }
    }

    #[test]
    fn the_quantisation_error_stays_within_the_segment_step() {
        for sample in (-32768..=32767).step_by(7) {
            let sample = sample as i16;
            let step = (i32::from(sample).abs() / 16).max(16);
            let ulaw = i32::from(ulaw_decode(ulaw_encode(sample)));
            let alaw = i32::from(alaw_decode(alaw_encode(sample)));
            assert!((ulaw - i32::from(sample)).abs() <= step, "μ-law {sample} -> {ulaw}");
            assert!((alaw - i32::from(sample)).abs() <= step, "A-law {sample} -> {alaw}");
        }
    }
}
