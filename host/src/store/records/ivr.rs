//! IVR menus (SPEC.md §3): a greeting, keys bound to destinations, and what happens on
//! invalid or no input. The host plays and listens; the menu's module (by default the
//! standard `ivr`) decides each step (see `crate::routing::ivr`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Destination;

/// Name of the standard IVR module, every menu's default.
pub const DEFAULT_IVR_MODULE: &str = "ivr";
/// Seconds a menu waits for input when it does not say.
pub const DEFAULT_IVR_TIMEOUT_SECONDS: u32 = 5;
/// Times the greeting is repeated when a menu does not say.
pub const DEFAULT_IVR_REPEATS: u32 = 2;

/// A key of a menu and where it leads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IvrOption {
    /// One of "0".."9", "*", "#"; unique in the menu.
    pub key: String,
    /// Where the caller goes after pressing it.
    pub destination: Destination,
}

/// An IVR menu of a company.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IvrMenu {
    /// The company.
    pub company: String,
    /// The name destinations refer to, unique in the company.
    pub name: String,
    /// Dialling or transferring to this number reaches the menu (digits).
    pub number: String,
    /// The prompt played at the start and on each repeat; none = the system
    /// "ivr-default-greeting".
    pub greeting: Option<String>,
    /// The caller may dial an extension number during the greeting.
    pub allow_dialing: bool,
    /// The keys and their destinations.
    pub options: Vec<IvrOption>,
    /// Where the caller goes when nothing is entered after the repeats; none = hang up.
    pub no_input: Option<Destination>,
    /// Where the caller goes after too many invalid entries; none = hang up.
    pub invalid: Option<Destination>,
    /// Seconds to wait for input after the greeting (1-60).
    pub timeout_seconds: u32,
    /// Times the greeting is repeated on invalid or no input (0-10).
    pub repeats: u32,
    /// The module that decides each step (default "ivr").
    pub module: String,
    /// More settings for the module, a JSON object.
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    /// When the menu was created.
    pub created_at: DateTime<Utc>,
}

impl IvrMenu {
    /// Whether the menu sends callers to `destination` (a key, no input, invalid input).
    pub fn sends_to(&self, destination: &Destination) -> bool {
        self.no_input.as_ref() == Some(destination)
            || self.invalid.as_ref() == Some(destination)
            || self.options.iter().any(|option| option.destination == *destination)
    }
}
