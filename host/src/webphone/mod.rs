//! The web phone (SPEC.md §8, §11): a browser registers as a device of an extension over
//! SIP on a WebSocket (RFC 7118) and places and takes calls like any phone.
//!
//! - [`gateway`]: on the browser's connection, WebRTC session descriptions are exchanged
//!   for plain ones, so the B2BUA and the relay treat the browser as one more phone;
//! - [`bridge`]: per call, the browser's WebRTC media terminated and carried on as the
//!   plain RTP the relay expects;
//! - [`opus`]: Opus ⇄ PCMU, for a browser that offers no G.711.

mod bridge;
pub mod gateway;
mod opus;

use axum::Router;
use axum::http::header;
use axum::response::Html;
use axum::routing::get;

use crate::api::ApiState;

/// The page and its scripts, served as they are: no build step at install.
const PAGE: &str = include_str!("page/phone.html");
const SCRIPTS: [(&str, &str); 3] = [
    ("md5.js", include_str!("page/md5.js")),
    ("sip.js", include_str!("page/sip.js")),
    ("phone.js", include_str!("page/phone.js")),
];

/// `/phone` (the web phone; `?domain=` and `?extension=` fill in the login) and its
/// scripts under `/phone/`.
pub fn routes() -> Router<ApiState> {
    let mut router = Router::new().route("/phone", get(|| async { Html(PAGE) }));
    for (name, script) in SCRIPTS {
        router = router.route(
            &format!("/phone/{name}"),
            get(move || async move { ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], script) }),
        );
    }
    router
}
