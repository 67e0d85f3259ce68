//! # vip-router — your first Centralita routing module
//!
//! A DID router that sends a few important callers straight to their own destination
//! and everyone else to the DID's default destination. It shows the whole shape of a
//! module: a type implementing [`DidRouting`], the export macro, settings read from the
//! DID's `config` JSON, and native unit tests against the SDK's fake host.
//!
//! The DID's `config` names the VIP callers and where they go:
//!
//! ```json
//! {"vip_callers": ["34600111222"], "vip_destination": {"extension": "100"}}
//! ```
//!
//! A destination is written `{"extension": "100"}`, `{"queue": "sales"}`,
//! `{"ivr": "main"}`, `{"voicemail": "box"}`, `{"external_number": "name"}`,
//! `{"conference": "room"}`, `{"module": "name"}` or `"hang_up"`. The DID's own time and
//! caller rules are not used by this module.
//!
//! Try it and build it:
//!
//! ```sh
//! cargo test
//! cargo build --release --target wasm32-wasip2
//! ```
//!
//! then upload `target/wasm32-wasip2/release/vip_router.wasm` with
//! `PUT /api/v1/companies/{company}/modules/vip-router` and set `"module": "vip-router"`
//! on the DID (the README's "Write your first routing module" walks through it). If the
//! module returns an error (e.g. a bad `config`), the call goes to the DID's fallback
//! destination and the error is logged and audited.

use guest_sdk::did_routing::{Did, DidRouting, RouteDecision};
use guest_sdk::types::{CallContext, Destination};
use serde::Deserialize;

/// The module's decision type.
pub struct VipRouter;

impl DidRouting for VipRouter {
    fn route(call: CallContext, did: Did) -> Result<RouteDecision, String> {
        let config: Config = serde_json::from_str(&did.config).map_err(|e| format!("config: {e}"))?;
        let destination = if config.vip_callers.contains(&call.caller) {
            let vip = config.vip_destination.ok_or("vip_destination: missing")?;
            let vip: DestinationJson =
                serde_json::from_value(vip).map_err(|e| format!("vip_destination: {e}"))?;
            vip.into()
        } else {
            did.default_destination
        };
        Ok(RouteDecision { destination, announcement: None, caller_id_prefix: None, matched_rule: None })
    }
}

guest_sdk::export_did_router!(VipRouter);

/// The DID's `config`.
#[derive(Deserialize)]
struct Config {
    #[serde(default)]
    vip_callers: Vec<String>,
    /// Parsed only when a VIP calls, so a bad value names its field in the error.
    vip_destination: Option<serde_json::Value>,
}

/// A [`Destination`] as written in JSON.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum DestinationJson {
    Extension(String),
    Queue(String),
    Ivr(String),
    Voicemail(String),
    ExternalNumber(String),
    Conference(String),
    Module(String),
    HangUp,
}

impl From<DestinationJson> for Destination {
    fn from(json: DestinationJson) -> Self {
        match json {
            DestinationJson::Extension(name) => Destination::Extension(name),
            DestinationJson::Queue(name) => Destination::Queue(name),
            DestinationJson::Ivr(name) => Destination::Ivr(name),
            DestinationJson::Voicemail(name) => Destination::Voicemail(name),
            DestinationJson::ExternalNumber(name) => Destination::ExternalNumber(name),
            DestinationJson::Conference(name) => Destination::Conference(name),
            DestinationJson::Module(name) => Destination::Module(name),
            DestinationJson::HangUp => Destination::HangUp,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call_from(caller: &str) -> CallContext {
        guest_sdk::testing::inbound_call(caller)
    }

    fn did_with(config: &str) -> Did {
        Did {
            number: "34910000000".into(),
            description: "main line".into(),
            rules: Vec::new(),
            default_destination: Destination::Queue("sales".into()),
            config: config.into(),
        }
    }

    fn route(caller: &str, config: &str) -> Result<Destination, String> {
        VipRouter::route(call_from(caller), did_with(config)).map(|route| route.destination)
    }

    const CONFIG: &str = r#"{"vip_callers": ["34600111222"], "vip_destination": {"extension": "100"}}"#;

    #[test]
    fn vip_callers_go_to_the_vip_destination() {
        assert_eq!(route("34600111222", CONFIG), Ok(Destination::Extension("100".into())));
    }

    #[test]
    fn everyone_else_gets_the_default_destination() {
        assert_eq!(route("34600999999", CONFIG), Ok(Destination::Queue("sales".into())));
        assert_eq!(route("34600111222", "{}"), Ok(Destination::Queue("sales".into())));
    }

    #[test]
    fn every_destination_kind_parses() {
        let cases = [
            (r#"{"queue": "support"}"#, Destination::Queue("support".into())),
            (r#"{"ivr": "main"}"#, Destination::Ivr("main".into())),
            (r#"{"voicemail": "boss"}"#, Destination::Voicemail("boss".into())),
            (r#"{"external_number": "mobile"}"#, Destination::ExternalNumber("mobile".into())),
            (r#"{"conference": "board"}"#, Destination::Conference("board".into())),
            (r#"{"module": "crm-router"}"#, Destination::Module("crm-router".into())),
            (r#""hang_up""#, Destination::HangUp),
        ];
        for (json, expected) in cases {
            let config = format!(r#"{{"vip_callers": ["1"], "vip_destination": {json}}}"#);
            assert_eq!(route("1", &config), Ok(expected), "{json}");
        }
    }

    #[test]
    fn a_bad_vip_destination_is_an_error_naming_the_field() {
        let config = r#"{"vip_callers": ["1"], "vip_destination": {"desk": "100"}}"#;
        assert!(route("1", config).unwrap_err().starts_with("vip_destination: unknown variant `desk`"));
        let config = r#"{"vip_callers": ["1"]}"#;
        assert_eq!(route("1", config).unwrap_err(), "vip_destination: missing");
    }

    #[test]
    fn a_config_that_is_not_json_is_an_error() {
        assert!(route("1", "not json").unwrap_err().starts_with("config: "));
    }
}
