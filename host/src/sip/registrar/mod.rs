//! The registrar (RFC 3261 §10): where each extension's devices can be reached.

pub mod location;
pub mod ring;
pub mod service;
pub mod shared;
