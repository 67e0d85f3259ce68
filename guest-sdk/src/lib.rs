//! # guest-sdk — write Centralita routing modules in plain Rust
//!
//! A Centralita module is a WebAssembly component that the host asks for one kind of
//! routing decision. With this crate a module is an ordinary Rust library crate:
//!
//! ```ignore
//! use guest_sdk::did_routing::{Did, DidRouting, RouteDecision};
//! use guest_sdk::types::CallContext;
//!
//! struct Router;
//!
//! impl DidRouting for Router {
//!     fn route(call: CallContext, did: Did) -> Result<RouteDecision, String> {
//!         Ok(RouteDecision { destination: did.default_destination, announcement: None,
//!                    caller_id_prefix: None, matched_rule: None })
//!     }
//! }
//!
//! guest_sdk::export_did_router!(Router);
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2` (crate type `cdylib`) and
//! upload the `.wasm`. On the native target the same crate compiles with a fake host
//! ([`testing`]), so `cargo test` exercises the decision without any phone or server.
//!
//! Decisions and their traits: [`did_routing::DidRouting`], [`ivr::Ivr`],
//! [`queue_strategy::QueueStrategy`], [`permissions::Permissions`],
//! [`call_events::CallEvents`]. Host services: [`log`], [`kv`], [`mail`], [`http`].

// The generated code names the runtime as `::guest_sdk::rt`, from this crate too.
extern crate self as guest_sdk;

pub mod bindings;
mod host_calls;
pub mod pattern;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

/// The wit-bindgen runtime the generated export macros refer to; not for direct use.
#[doc(hidden)]
pub use wit_bindgen::rt;

pub use host_calls::{http, kv, log, mail};

// The export macros, one per decision world. On the native target (unit tests) they
// expand to nothing: tests call the trait directly, and a native library cannot carry
// the component's export names.

/// Make a type implementing [`did_routing::DidRouting`] the module's export.
#[macro_export]
macro_rules! export_did_router {
    ($ty:ident) => {
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::did_router::export_did_router!($ty with_types_in $crate::bindings::did_router);
    };
}

/// Make a type implementing [`ivr::Ivr`] the module's export.
#[macro_export]
macro_rules! export_ivr_menu {
    ($ty:ident) => {
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::ivr_menu::export_ivr_menu!($ty with_types_in $crate::bindings::ivr_menu);
    };
}

/// Make a type implementing [`queue_strategy::QueueStrategy`] the module's export.
#[macro_export]
macro_rules! export_queue_router {
    ($ty:ident) => {
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::queue_router::export_queue_router!($ty with_types_in $crate::bindings::queue_router);
    };
}

/// Make a type implementing [`permissions::Permissions`] the module's export.
#[macro_export]
macro_rules! export_call_policy {
    ($ty:ident) => {
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::call_policy::export_call_policy!($ty with_types_in $crate::bindings::call_policy);
    };
}

/// Make a type implementing [`call_events::CallEvents`] the module's export.
#[macro_export]
macro_rules! export_call_observer {
    ($ty:ident) => {
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::call_observer::export_call_observer!($ty with_types_in $crate::bindings::call_observer);
    };
}

/// Types every decision shares: the call context and destinations.
pub mod types {
    pub use crate::bindings::host::centralita::router::types::{
        CallContext, Destination, Direction, LocalTime,
    };
}

/// DID routing (SPEC §2): implement [`DidRouting`](did_routing::DidRouting) and call
/// [`export_did_router!`].
pub mod did_routing {
    pub use crate::bindings::did_router::exports::centralita::router::did_routing::{
        Did, DidRule, Guest as DidRouting, RouteDecision,
    };
}

/// IVR menus (SPEC §3): implement [`Ivr`](ivr::Ivr) and call [`export_ivr_menu!`].
pub mod ivr {
    pub use crate::bindings::ivr_menu::exports::centralita::router::ivr::{
        Collect, Guest as Ivr, IvrInput, IvrMenu, IvrOption, IvrStep,
    };
}

/// Queue strategies (SPEC §4): implement [`QueueStrategy`](queue_strategy::QueueStrategy)
/// and call [`export_queue_router!`].
pub mod queue_strategy {
    pub use crate::bindings::queue_router::exports::centralita::router::queue_strategy::{
        Agent, AgentState, Attempt, Guest as QueueStrategy, QueueInfo, RingPlan,
    };
}

/// Call permissions (SPEC §13): implement [`Permissions`](permissions::Permissions) and
/// call [`export_call_policy!`].
pub mod permissions {
    pub use crate::bindings::call_policy::exports::centralita::router::permissions::{
        Allowance, CallerProfile, DialledKind, Guest as Permissions, Verdict,
    };
}

/// Call events (SPEC §12, §13): implement [`CallEvents`](call_events::CallEvents) and call
/// [`export_call_observer!`].
pub mod call_events {
    pub use crate::bindings::call_observer::exports::centralita::router::call_events::{
        CallEvent, Cdr, Contact, EventKind, Guest as CallEvents,
    };
}
