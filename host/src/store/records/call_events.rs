//! A company's call events (SPEC.md §12, §13): which module is told when the company's
//! calls end — missed-call mail, CRM logging — and that module's settings. A company
//! without this record runs no module when its calls end.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::empty_object;

/// Which module hears of a company's ended calls, and with what settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallEventsSettings {
    /// The module (uploaded or standard); default "call-events", the standard module,
    /// which sends missed-call mail.
    #[serde(default = "default_call_events_module")]
    pub module: String,
    /// Its settings, a JSON object. The standard module reads
    /// `{"missed_call_mail": "boss@acme.example"}` or, per called number,
    /// `{"missed_call_mail": {"101": "ana@acme.example", "*": "office@acme.example"}}`.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
}

/// The standard call-events module.
pub fn default_call_events_module() -> String {
    crate::routing::call_events::DEFAULT_MODULE.to_string()
}
