//! Who does things, for the audit log (SPEC.md §9).

use chrono::Utc;

use crate::store::records::AuditEntry;

/// The author of a change: an API caller or the host itself.
#[derive(Debug, Clone)]
pub struct Actor {
    /// "operator", "key:<id>", "module:<name>", "system".
    pub who: String,
    /// The client's address, for API callers.
    pub client_ip: Option<String>,
}

impl Actor {
    /// The host acting on its own (start-up, demo data).
    pub fn system() -> Actor {
        Actor { who: "system".into(), client_ip: None }
    }

    /// An audit entry for `action` on `entity` by this actor.
    pub fn entry(
        &self,
        company: Option<&str>,
        action: &str,
        entity: String,
        detail: Option<String>,
    ) -> AuditEntry {
        AuditEntry {
            seq: 0,
            at: Utc::now(),
            actor: self.who.clone(),
            company: company.map(str::to_string),
            action: action.to_string(),
            entity,
            client_ip: self.client_ip.clone(),
            detail,
        }
    }
}
