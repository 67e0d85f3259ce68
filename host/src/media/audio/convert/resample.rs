//! Sample-rate conversion to 8 kHz: a polyphase windowed-sinc (Blackman) filter that
//! low-passes below the new Nyquist frequency before decimating, so 44.1/48 kHz music
//! does not fold back into the telephone band. Streaming: input arrives in packets and only
//! the filter's span of it is kept.

use std::f64::consts::PI;

/// Zero crossings of the sinc on each side of the centre: the filter's sharpness. 32 gives a
/// transition of about 600 Hz (passband to ~3.3 kHz, stopband from ~3.9 kHz at 8 kHz out).
const ZERO_CROSSINGS: f64 = 32.0;
/// The cutoff as a fraction of the lower Nyquist frequency (3.6 kHz at 8 kHz out).
const CUTOFF: f64 = 0.9;
/// Most precomputed filter phases; rates needing more round to the nearest of these
/// (a timing error under 1/1000 of an input sample, inaudible).
const MAX_PHASES: u64 = 512;
/// Consumed input kept before it is dropped from the buffer in one go.
const DRAIN_AFTER: usize = 1 << 14;

/// Converts a stream of mono samples at one rate to another.
pub struct Resampler {
    /// Output samples per `down` input samples (the rates over their gcd).
    up: u64,
    down: u64,
    /// Taps on each side of an output instant.
    half_width: usize,
    phases: u64,
    /// `phases` filters of `2 * half_width` taps each.
    table: Vec<f32>,
    /// The input, preceded by `half_width - 1` zeros; `input[0]` is padded index `offset`.
    input: Vec<f32>,
    offset: u64,
    /// Real input samples pushed so far.
    pushed: u64,
    /// Index of the next output sample.
    next: u64,
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The normalised sinc, sin(πx)/(πx).
fn sinc(x: f64) -> f64 {
    if x.abs() < 1e-12 { 1.0 } else { (PI * x).sin() / (PI * x) }
}

impl Resampler {
    /// A converter from `from` Hz to `to` Hz (both non-zero).
    pub fn new(from: u32, to: u32) -> Resampler {
        let (from, to) = (u64::from(from.max(1)), u64::from(to.max(1)));
        let g = gcd(from, to);
        let (up, down) = (to / g, from / g);
        // Cutoff in cycles per input sample.
        let cutoff = 0.5 * CUTOFF * (to.min(from) as f64) / from as f64;
        let half_width = (ZERO_CROSSINGS / (2.0 * cutoff)).ceil() as usize;
        let phases = up.min(MAX_PHASES);
        let taps = 2 * half_width;
        let mut table = Vec::with_capacity(phases as usize * taps);
        for p in 0..phases {
            let fraction = p as f64 / phases as f64;
            let start = table.len();
            for j in 0..taps {
                // Distance from the output instant to input tap j, in input samples.
                let d = j as f64 - (half_width as f64 - 1.0) - fraction;
                let x = d / half_width as f64;
                let window = if x.abs() >= 1.0 {
                    0.0
                } else {
                    0.42 + 0.5 * (PI * x).cos() + 0.08 * (2.0 * PI * x).cos()
                };
                table.push((2.0 * cutoff * sinc(2.0 * cutoff * d) * window) as f32);
            }
            // Unity gain at DC for every phase, so steady levels do not ripple.
            let sum: f32 = table[start..].iter().sum();
            if sum.abs() > f32::EPSILON {
                table[start..].iter_mut().for_each(|t| *t /= sum);
            }
        }
        Resampler {
            up,
            down,
            half_width,
            phases,
            table,
            input: vec![0.0; half_width - 1],
            offset: 0,
            pushed: 0,
            next: 0,
        }
    }

    /// Feeds `samples` and appends the output they complete to `out`.
    pub fn push(&mut self, samples: &[f32], out: &mut Vec<f32>) {
        self.input.extend_from_slice(samples);
        self.pushed += samples.len() as u64;
        self.produce(u64::MAX, out);
    }

    /// Ends the stream: appends the remaining output to `out` (its total length is the
    /// input's duration at the new rate, rounded up).
    pub fn finish(mut self, out: &mut Vec<f32>) {
        let total = (self.pushed * self.up).div_ceil(self.down);
        self.input.extend(std::iter::repeat_n(0.0, self.half_width + 1));
        self.produce(total, out);
    }

    /// Appends output samples up to index `limit` (exclusive) while the input covers them.
    fn produce(&mut self, limit: u64, out: &mut Vec<f32>) {
        let taps = 2 * self.half_width;
        while self.next < limit {
            let position = self.next * self.down;
            let (mut base, remainder) = (position / self.up, position % self.up);
            let mut phase = if self.phases == self.up {
                remainder
            } else {
                (remainder * self.phases + self.up / 2) / self.up
            };
            if phase == self.phases {
                base += 1;
                phase = 0;
            }
            // The taps start at padded index `base` (input index base - half_width + 1).
            let Some(start) = base.checked_sub(self.offset).map(|s| s as usize) else { break };
            let Some(window) = self.input.get(start..start + taps) else { break };
            let filter = &self.table[phase as usize * taps..(phase as usize + 1) * taps];
            out.push(window.iter().zip(filter).map(|(x, h)| x * h).sum());
            self.next += 1;
        }
        // Drop input no later output needs, in large steps to keep this linear.
        let needed = (self.next * self.down / self.up).saturating_sub(1);
        let consumed = needed.saturating_sub(self.offset) as usize;
        if consumed >= DRAIN_AFTER {
            self.input.drain(..consumed.min(self.input.len()));
            self.offset += consumed as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, hz: f64, seconds: f64) -> Vec<f32> {
        let n = (f64::from(rate) * seconds) as usize;
        (0..n).map(|i| (0.5 * (2.0 * PI * hz * i as f64 / f64::from(rate)).sin()) as f32).collect()
    }

    fn resample(from: u32, input: &[f32], packet: usize) -> Vec<f32> {
        let mut resampler = Resampler::new(from, 8000);
        let mut out = Vec::new();
        for chunk in input.chunks(packet) {
            resampler.push(chunk, &mut out);
        }
        resampler.finish(&mut out);
        out
    }

    fn rms(samples: &[f32]) -> f64 {
        (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64).sqrt()
    }

    #[test]
    fn output_lasts_as_long_as_the_input() {
        for rate in [8000, 11025, 16000, 22050, 44100, 48000, 96000, 6000, 44056] {
            let out = resample(rate, &vec![0.0; rate as usize * 2], 1152);
            assert_eq!(out.len(), 16000, "{rate} Hz");
        }
    }

    #[test]
    fn a_tone_in_the_passband_keeps_its_level() {
        for rate in [44100, 48000, 11025, 44056, 6000] {
            let out = resample(rate, &sine(rate, 440.0, 1.0), 4096);
            // Ignore the filter's ramp at both ends.
            let level = rms(&out[800..7200]);
            assert!((level - 0.5 / 2f64.sqrt()).abs() < 0.01, "{rate} Hz: {level}");
        }
    }

    #[test]
    fn a_tone_above_4_khz_does_not_alias_into_the_band() {
        for rate in [44100, 48000] {
            // 5 kHz would fold to 3 kHz without the low-pass; 7 kHz to 1 kHz.
            for hz in [5000.0, 7000.0, 12000.0] {
                let out = resample(rate, &sine(rate, hz, 1.0), 1000);
                let level = rms(&out[800..7200]);
                assert!(level < 0.001, "{rate} Hz, tone {hz}: {level}");
            }
        }
    }

    #[test]
    fn packet_size_does_not_change_the_output() {
        let input = sine(44100, 440.0, 0.5);
        let whole = resample(44100, &input, input.len());
        let small = resample(44100, &input, 7);
        assert_eq!(whole.len(), small.len());
        assert!(whole.iter().zip(&small).all(|(a, b)| (a - b).abs() < 1e-6));
    }
}
