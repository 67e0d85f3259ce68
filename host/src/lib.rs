//! Centralita: a multi-tenant hosted PBX whose routing decisions are WebAssembly
//! components. This crate is the host; see DESIGN.md for the map.
//!
//! - [`store`]: the embedded database and every record.
//! - [`sandbox`]: the wasmtime engine, module versions, running decisions.
//! - [`routing`]: decisions as the host uses them (DID routing with fallbacks).

pub mod app;
pub mod audit;
pub mod routing;
pub mod sandbox;
pub mod store;
