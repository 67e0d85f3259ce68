//! # crm-connector — show who is calling, from your CRM
//!
//! A call-events module that looks every outside caller up in a CRM with the `http` import
//! and returns the contact; Centralita puts it in the Ringing event its CTI clients
//! receive (SPEC.md §12, "incoming caller id is matched to CRM contacts").
//!
//! The company's call-events `config` says where the CRM is:
//!
//! ```json
//! {"crm_url": "https://crm.example/api", "timeout_ms": 300}
//! ```
//!
//! and the module asks `GET {crm_url}/contacts?phone={caller}`, expecting `200` with
//! `{"id": "c-17", "name": "Ada Lovelace", "organisation": "Analytical Engines",
//! "url": "https://crm.example/c-17"}` (organisation and url optional) or `404` for an
//! unknown number. Anything else is an error: the host logs and counts it and the call
//! rings without a contact. The host never lets the lookup delay the call past the
//! company's decision deadline (it cuts `timeout_ms` to the time left).
//!
//! Build, upload with the CRM's host allowed, and make it the company's call-events
//! module:
//!
//! ```sh
//! cargo build --release --target wasm32-wasip2
//! curl -X PUT -H "Authorization: Bearer $KEY" --data-binary @target/wasm32-wasip2/release/crm_connector.wasm \
//!   "$HOST/api/v1/companies/acme/modules/crm?http_allow=crm.example"
//! curl -X PUT -H "Authorization: Bearer $KEY" -H 'content-type: application/json' \
//!   -d '{"module": "crm", "config": {"crm_url": "https://crm.example/api"}}' \
//!   "$HOST/api/v1/companies/acme/call-events"
//! ```
//!
//! A request to a host that is not on the upload's `http_allow` list is refused by the
//! host (`not-allowed`), so a wrong `crm_url` cannot reach anywhere else.

use guest_sdk::call_events::{CallEvent, CallEvents, Cdr, Contact};
use guest_sdk::http;
use guest_sdk::types::CallContext;
use serde::Deserialize;

/// The module's settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Base URL of the CRM's API, without a trailing slash.
    pub crm_url: String,
    /// Give the CRM this long (the host cuts it to the decision's time left).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u32,
}

fn default_timeout_ms() -> u32 {
    500
}

/// A contact as the CRM answers it.
#[derive(Debug, Deserialize)]
struct CrmContact {
    id: String,
    name: String,
    #[serde(default)]
    organisation: Option<String>,
    #[serde(default)]
    url: Option<String>,
}

pub struct CrmConnector;

impl CallEvents for CrmConnector {
    fn identify_caller(call: CallContext, config: String) -> Result<Option<Contact>, String> {
        let settings: Settings = serde_json::from_str(&config).map_err(|e| format!("config: {e}"))?;
        let url = format!(
            "{}/contacts?phone={}",
            settings.crm_url.trim_end_matches('/'),
            query_value(&call.caller)
        );
        let response = http::get(&url, settings.timeout_ms).map_err(|e| format!("CRM lookup: {e:?}"))?;
        match response.status {
            200 => {
                let found: CrmContact =
                    serde_json::from_slice(&response.body).map_err(|e| format!("CRM answer: {e}"))?;
                Ok(Some(Contact {
                    id: found.id,
                    name: found.name,
                    organisation: found.organisation,
                    url: found.url,
                }))
            }
            404 => Ok(None),
            status => Err(format!("CRM answered {status}")),
        }
    }

    fn on_event(_event: CallEvent, _config: String) -> Result<(), String> {
        Ok(())
    }

    fn on_ended(_call: CallContext, _cdr: Cdr, _config: String) -> Result<(), String> {
        Ok(())
    }
}

guest_sdk::export_call_observer!(CrmConnector);

/// `text` percent-encoded for a URL query (a caller may be "+44 161 ...").
fn query_value(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use guest_sdk::testing;

    use super::*;

    const CONFIG: &str = r#"{"crm_url": "http://crm.example/api/"}"#;

    fn answer(status: u16, body: &str) -> Result<http::Response, http::HttpError> {
        Ok(http::Response { status, headers: Vec::new(), body: body.as_bytes().to_vec() })
    }

    #[test]
    fn a_known_caller_is_returned_as_the_crms_contact() {
        testing::reset();
        testing::set_http(|request| {
            assert_eq!(request.url, "http://crm.example/api/contacts?phone=%2B34600111222");
            answer(200, r#"{"id": "c-17", "name": "Ada Lovelace", "organisation": "Engines"}"#)
        });
        let contact = CrmConnector::identify_caller(testing::inbound_call("+34600111222"), CONFIG.into())
            .expect("a lookup")
            .expect("a contact");
        assert_eq!((contact.id.as_str(), contact.name.as_str()), ("c-17", "Ada Lovelace"));
        assert_eq!(contact.organisation.as_deref(), Some("Engines"));
    }

    #[test]
    fn an_unknown_caller_is_nobody_and_a_failing_crm_an_error() {
        testing::reset();
        testing::set_http(|_| answer(404, ""));
        assert!(matches!(
            CrmConnector::identify_caller(testing::inbound_call("600"), CONFIG.into()),
            Ok(None)
        ));
        testing::set_http(|_| answer(500, "oops"));
        let error = CrmConnector::identify_caller(testing::inbound_call("600"), CONFIG.into()).unwrap_err();
        assert_eq!(error, "CRM answered 500");
        testing::set_http(|_| Err(http::HttpError::Timeout));
        assert!(CrmConnector::identify_caller(testing::inbound_call("600"), CONFIG.into()).is_err());
    }

    #[test]
    fn a_config_without_the_crm_is_an_error() {
        testing::reset();
        let error = CrmConnector::identify_caller(testing::inbound_call("600"), "{}".into()).unwrap_err();
        assert!(error.starts_with("config"), "{error}");
    }
}
