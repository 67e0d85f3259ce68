//! The Goertzel filter: how much of one frequency a piece of telephony audio holds (one bin
//! of a DFT, at any frequency). Used to detect tones — the voicemail beep, test signals in
//! recordings and prompts.

use std::f64::consts::PI;

use super::SAMPLE_RATE;

/// The power of `frequency_hz` in `samples` (8 kHz), normalised so that a full-scale sine
/// of that frequency gives about 1.0 and one at amplitude `a` about `(a / 32768)²`;
/// silence gives 0. Accurate within a bin (`8000 / samples.len()` Hz) of the frequency.
pub fn power(samples: &[i16], frequency_hz: f32) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let omega = 2.0 * PI * f64::from(frequency_hz) / f64::from(SAMPLE_RATE);
    let coefficient = 2.0 * omega.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &sample in samples {
        let s0 = f64::from(sample) / 32768.0 + coefficient * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    // |X(f)|² of the block; a sine of amplitude a gives a·N/2.
    let magnitude_squared = s1 * s1 + s2 * s2 - coefficient * s1 * s2;
    let half = samples.len() as f64 / 2.0;
    magnitude_squared.max(0.0) / (half * half)
}

/// The share of the signal's energy that is at `frequency_hz`: about 1.0 for a pure tone of
/// that frequency whatever its loudness, near 0 for other tones, noise or silence.
pub fn share(samples: &[i16], frequency_hz: f32) -> f64 {
    let mean_square =
        samples.iter().map(|&s| (f64::from(s) / 32768.0).powi(2)).sum::<f64>() / samples.len().max(1) as f64;
    if mean_square == 0.0 {
        return 0.0;
    }
    // A sine's mean square is half its squared amplitude.
    power(samples, frequency_hz) / (2.0 * mean_square)
}

/// Whether `samples` hold `frequency_hz` with at least `threshold` of [`power`] (e.g. 0.01
/// for a tone at a tenth of full scale).
pub fn detect(samples: &[i16], frequency_hz: f32, threshold: f64) -> bool {
    power(samples, frequency_hz) >= threshold
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::media::audio::tone::{silence, sine};

    const BLOCK: Duration = Duration::from_millis(100);

    #[test]
    fn full_scale_sine_has_power_near_one() {
        let tone = sine(440.0, BLOCK, i16::MAX);
        let p = power(tone.samples(), 440.0);
        assert!((0.95..1.05).contains(&p), "{p}");
    }

    #[test]
    fn power_follows_the_square_of_the_amplitude() {
        let tone = sine(440.0, BLOCK, 3277);
        let p = power(tone.samples(), 440.0);
        assert!((0.0095..0.0105).contains(&p), "{p}");
    }

    #[test]
    fn a_440_hz_tone_is_found_at_440() {
        let tone = sine(440.0, BLOCK, 8000);
        assert!(detect(tone.samples(), 440.0, 0.01));
        assert!(share(tone.samples(), 440.0) > 0.9);
    }

    #[test]
    fn a_1_khz_tone_is_not_found_at_440() {
        let tone = sine(1000.0, BLOCK, 8000);
        assert!(!detect(tone.samples(), 440.0, 0.001));
        assert!(share(tone.samples(), 440.0) < 0.01);
        assert!(detect(tone.samples(), 1000.0, 0.01));
    }

    #[test]
    fn silence_finds_nothing() {
        let quiet = silence(BLOCK);
        assert_eq!(power(quiet.samples(), 440.0), 0.0);
        assert_eq!(share(quiet.samples(), 440.0), 0.0);
        assert!(!detect(quiet.samples(), 440.0, 1e-9));
        assert_eq!(power(&[], 440.0), 0.0);
    }
}
