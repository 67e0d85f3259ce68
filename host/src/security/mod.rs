//! SIP security (SPEC.md §10): addresses that fail authentication too often are banned
//! and their packets dropped before parsing; whitelisted ranges are never banned. The
//! operator lists and lifts bans and edits the whitelist through `/api/v1/security`.
//!
//! - [`guard`]: the [`Guard`] the SIP transports and the API share.
//! - [`failures`]: the bounded, sans-IO failure counter behind it.
//! - [`cidr`]: address ranges ("10.0.0.0/8", "2001:db8::/32").
//! - [`settings`]: failures before a ban, the window, the ban duration.
//!
//! The SIP side calls [`Guard::admits`] with each datagram's source address before
//! parsing it and [`Guard::auth_failed`] for each failed digest authentication, e.g.
//! `guard.auth_failed(source.ip(), "REGISTER digest authentication failed for 100@acme", SystemTime::now())`.

pub mod cidr;
pub mod failures;
pub mod guard;
pub mod settings;

pub use cidr::{Cidr, CidrError};
pub use guard::{Guard, GuardError, Whitelisted};
pub use settings::{BanSettings, BanSettingsError};

#[cfg(test)]
mod tests;
