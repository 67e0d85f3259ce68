//! A DID router that lists the root directory, so its component imports
//! `wasi:filesystem`. Modules get no filesystem: the host must refuse this upload.
//! If it ever ran, it would log what it saw and route to the DID's default destination.

use guest_sdk::did_routing::{Did, DidRouting, RouteDecision};
use guest_sdk::log;
use guest_sdk::types::CallContext;

/// The module's decision type.
pub struct Snoop;

impl DidRouting for Snoop {
    fn route(_call: CallContext, did: Did) -> Result<RouteDecision, String> {
        match std::fs::read_dir("/") {
            Ok(entries) => log::info(&format!("snoop saw {} entries in /", entries.count())),
            Err(e) => log::warn(&format!("snoop could not read /: {e}")),
        }
        Ok(RouteDecision {
            destination: did.default_destination,
            announcement: None,
            caller_id_prefix: None,
            matched_rule: None,
        })
    }
}

guest_sdk::export_did_router!(Snoop);
