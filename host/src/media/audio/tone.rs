//! Generated audio: sine tones (the voicemail beep, test signals) and silence.

use std::f32::consts::TAU;
use std::time::Duration;

use super::{Audio, SAMPLE_RATE};

/// Samples in `duration` of telephony audio (rounded down).
fn sample_count(duration: Duration) -> usize {
    (duration.as_micros() * u128::from(SAMPLE_RATE) / 1_000_000) as usize
}

/// A sine of `frequency_hz` lasting `duration`, peaking at `amplitude`.
pub fn sine(frequency_hz: f32, duration: Duration, amplitude: i16) -> Audio {
    let step = TAU * frequency_hz / SAMPLE_RATE as f32;
    let amplitude = f32::from(amplitude);
    let samples = (0..sample_count(duration))
        // The phase is reduced with f64 so that long tones keep their frequency exactly.
        .map(|n| {
            let phase = (n as f64 * f64::from(step)) % std::f64::consts::TAU;
            (amplitude * (phase as f32).sin()).round() as i16
        })
        .collect();
    Audio::from_samples(samples)
}

/// `duration` of silence.
pub fn silence(duration: Duration) -> Audio {
    Audio::from_samples(vec![0; sample_count(duration)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sine_lasts_its_duration_and_peaks_at_its_amplitude() {
        let tone = sine(1000.0, Duration::from_millis(400), 10_000);
        assert_eq!(tone.samples().len(), 3200);
        assert_eq!(tone.duration(), Duration::from_millis(400));
        let peak = tone.samples().iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!((9_990..=10_000).contains(&peak), "{peak}");
    }

    #[test]
    fn sine_of_1_khz_repeats_every_8_samples() {
        let tone = sine(1000.0, Duration::from_millis(10), 8000);
        let s = tone.samples();
        assert_eq!(s[0], 0);
        assert_eq!(s[2], 8000);
        for n in 0..s.len() - 8 {
            assert!((i32::from(s[n]) - i32::from(s[n + 8])).abs() <= 1);
        }
    }

    #[test]
    fn silence_is_zeros_of_the_right_length() {
        let quiet = silence(Duration::from_millis(20));
        assert_eq!(quiet.samples(), [0; 160]);
    }
}
