//! Centralita: a multi-tenant hosted PBX whose routing decisions are WebAssembly
//! components. This crate is the host; DESIGN.md has the map.
//!
//! - [`store`]: the embedded database and every record.
//! - [`sandbox`]: the wasmtime engine, module versions, running decisions.
//! - [`routing`]: decisions as the host uses them (DID routing with fallbacks).
//! - [`api`]: the HTTP API under `/api/v1`.
//! - [`cdr`]: call detail records: writing, filtering, CSV.
//! - [`sip`]: SIP in RFC 3261's layers (wire, transactions).
//! - [`config`]: `serve` settings from flags, environment and a TOML file.
//! - [`module_cli`]: trying a module offline (`centralita module run`).
//! - [`trunks`]: registering the companies' trunks to their providers.
//! - [`mail`]: outgoing mail (voicemail, missed calls, modules' `mail` import).
//! - [`prompts`]: the audio played to callers, uploaded and default.
//! - [`voicemail`]: voicemail boxes' messages: stored, mailed, listened to, purged.
//! - [`recordings`]: call recordings: stored, listed, quota, retention.
//! - [`dialling`]: number normalisation by a company's dialling plan.
//! - [`events`]: call-state events for CTI clients and webhooks.
//! - [`rooms`]: WebRTC conference rooms; [`webphone`]: the browser as a phone.
//! - [`panel`]: the web panel's pages and sessions.

pub mod api;
pub mod app;
pub mod audit;
pub mod calls;
pub mod cdr;
pub mod config;
pub mod constant_time;
pub mod demo;
pub mod dialling;
pub mod events;
pub mod huge_pages;
pub mod mail;
pub mod media;
pub mod module_cli;
pub mod operator_token;
pub mod panel;
pub mod prompts;
pub mod recordings;
pub mod rooms;
pub mod routing;
pub mod sandbox;
pub mod security;
pub mod shutdown;
pub mod sip;
pub mod store;
pub mod sync;
#[cfg(test)]
mod test_rng;
pub mod thread_priority;
pub mod trunks;
pub mod voicemail;
pub mod webphone;
