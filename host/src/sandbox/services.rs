//! What the host imports reach outside the sandbox; shared by every decision.

use crate::mail::Mailer;
use crate::store::Store;

/// Services behind the host imports.
pub struct HostServices {
    /// The store holding module kv data.
    pub store: Store,
    /// Delivers what modules send with `mail.send` (disabled until `Sandbox::with_mailer`).
    pub mail: Mailer,
}
