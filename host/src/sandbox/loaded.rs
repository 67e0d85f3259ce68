//! A module version ready to run: its `InstancePre` (imports resolved once) and the
//! export indices of each decision it offers.

use super::bindings::{did_routing, permissions};
use super::component::ComponentInfo;
use super::state::DecisionState;

/// A compiled, linked module version, shared by every decision that uses it.
pub struct LoadedModule {
    /// SHA-256 of the component bytes.
    pub sha256: String,
    /// What it exports and imports.
    pub info: ComponentInfo,
    pub(super) pre: wasmtime::component::InstancePre<DecisionState>,
    pub(super) did_routing: Option<did_routing::GuestIndices>,
    pub(super) permissions: Option<permissions::GuestIndices>,
}
