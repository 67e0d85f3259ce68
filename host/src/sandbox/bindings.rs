//! Host-side bindings of `wit/`, generated for the `router` world (all host imports and
//! all five decision exports). A module exports a subset; each decision's export is
//! looked up per module with that interface's `GuestIndices`.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "router",
});

pub use self::centralita::router::{http, kv, log, mail, types};
pub use self::exports::centralita::router::{did_routing, permissions};
