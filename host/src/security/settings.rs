//! When an address is banned and for how long (SPEC.md §10). `centralita serve` reads
//! these from flags, the environment or its config file (see [`crate::config`]).

use std::time::Duration;

/// Failed authentications from one address, within the window, that ban it.
pub const DEFAULT_BAN_FAILURES: u32 = 5;
/// The window failures are counted in, in seconds.
pub const DEFAULT_BAN_WINDOW_S: u64 = 60;
/// How long a ban lasts, in seconds; 0 means until an operator lifts it.
pub const DEFAULT_BAN_DURATION_S: u64 = 3600;
/// Most failures a ban may wait for: each address remembers that many failure times.
pub const MAX_BAN_FAILURES: u32 = 1000;

/// A setting outside its range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BanSettingsError {
    #[error("ban_failures must be 1..={MAX_BAN_FAILURES}, not {0}")]
    Failures(u32),
    #[error("ban_window_s must be at least 1")]
    Window,
}

/// The ban policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BanSettings {
    failures: u32,
    window: Duration,
    duration: Option<Duration>,
}

impl BanSettings {
    /// `failures` within `window_s` seconds ban an address for `duration_s` seconds (0:
    /// until unbanned).
    pub fn new(failures: u32, window_s: u64, duration_s: u64) -> Result<BanSettings, BanSettingsError> {
        if !(1..=MAX_BAN_FAILURES).contains(&failures) {
            return Err(BanSettingsError::Failures(failures));
        }
        if window_s == 0 {
            return Err(BanSettingsError::Window);
        }
        Ok(BanSettings {
            failures,
            window: Duration::from_secs(window_s),
            duration: (duration_s > 0).then(|| Duration::from_secs(duration_s)),
        })
    }

    /// Failures within the window that ban an address.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The window failures are counted in.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// How long a ban lasts; `None` until an operator lifts it.
    pub fn duration(&self) -> Option<Duration> {
        self.duration
    }
}

impl Default for BanSettings {
    fn default() -> BanSettings {
        BanSettings {
            failures: DEFAULT_BAN_FAILURES,
            window: Duration::from_secs(DEFAULT_BAN_WINDOW_S),
            duration: Some(Duration::from_secs(DEFAULT_BAN_DURATION_S)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_five_failures_in_a_minute_for_an_hour() {
        let defaults = BanSettings::default();
        assert_eq!(
            BanSettings::new(DEFAULT_BAN_FAILURES, DEFAULT_BAN_WINDOW_S, DEFAULT_BAN_DURATION_S),
            Ok(defaults)
        );
        assert_eq!(defaults.failures(), 5);
        assert_eq!(defaults.window(), Duration::from_secs(60));
        assert_eq!(defaults.duration(), Some(Duration::from_secs(3600)));
    }

    #[test]
    fn zero_duration_bans_until_unbanned_and_out_of_range_values_are_refused() {
        assert_eq!(BanSettings::new(3, 10, 0).unwrap().duration(), None);
        assert_eq!(BanSettings::new(0, 60, 60), Err(BanSettingsError::Failures(0)));
        assert_eq!(BanSettings::new(MAX_BAN_FAILURES + 1, 60, 60), Err(BanSettingsError::Failures(1001)));
        assert_eq!(BanSettings::new(5, 0, 60), Err(BanSettingsError::Window));
    }
}
