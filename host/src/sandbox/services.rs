//! What the host imports reach outside the sandbox; shared by every decision.

use crate::store::Store;

/// Services behind the host imports.
pub struct HostServices {
    /// The store holding module kv data.
    pub store: Store,
}
