//! The HTTP API under `/api/v1` (axum, JSON). Every route checks who is calling
//! ([`auth`]); every change writes an audit entry in the same transaction; every error is
//! `{"error": ..., "field": ...}` ([`error`]). The OpenAPI document is served at
//! `/api/v1/openapi.json`.

pub mod audit;
pub mod auth;
pub mod call_events;
pub mod calls;
pub mod cdrs;
pub mod companies;
pub mod devices;
pub mod dialling;
pub mod dids;
pub mod directory;
pub mod error;
pub mod events;
pub mod extract;
pub mod https;
pub mod ivr;
pub mod keys;
pub mod modules;
mod numbers;
pub mod pickup_groups;
pub mod prompts;
pub mod queues;
pub mod recordings;
pub mod registrations;
pub mod rooms;
pub mod security;
mod senders;
pub mod service_codes;
pub mod trunk_status;
pub mod users;
mod validate;
pub mod voicemail;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

pub use auth::Auth;

use crate::app::App;
use crate::sandbox::limits::MAX_COMPONENT_BYTES;
use crate::store::records::Company;
use crate::store::{COMPANIES, Read};
use crate::trunks::Trunks;
use error::{ApiError, ApiResult};

/// What every handler can reach.
#[derive(Clone)]
pub struct ApiState {
    pub app: App,
    pub auth: Auth,
    /// The trunk registrations' status (kept out of [`App`]: only the API reads it).
    pub trunks: Arc<Trunks>,
    /// Where SIP over WebSocket connections (`/sip`) hand their messages: the SIP driver.
    pub sip_websockets: Option<crate::sip::transport::driver::StreamIntake>,
    /// The web panel's logged-in browsers.
    pub sessions: Arc<crate::panel::sessions::Sessions>,
}

/// The company `id`, or 404.
fn company(s: &ApiState, id: &str) -> ApiResult<Company> {
    s.app.store.read(|r| r.get(&COMPANIES, id))?.ok_or_else(|| ApiError::not_found(format!("company {id:?}")))
}

/// The liveness answer.
#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
    /// The host's process id: a supervisor (or a test) knows which process answered.
    pub pid: u32,
}

/// Whether the host is up (no authentication).
#[utoipa::path(get, path = "/api/v1/health", tag = "health", responses((status = 200, body = Health)))]
async fn health() -> Json<Health> {
    Json(Health { status: "ok", pid: std::process::id() })
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Centralita API", description = "Tenants, routing entities and routing modules of a Centralita host."),
    paths(
        health,
        companies::create, companies::list, companies::get, companies::update, companies::delete, trunk_status::get,
        keys::create, keys::list, keys::delete,
        users::create, users::import, users::list, users::get, users::update, users::set_web_phone_mode, users::delete, users::rotate_sip_password, registrations::list,
        devices::create, devices::list, devices::get, devices::update, devices::delete,
        dids::create, dids::list, dids::get, dids::update, dids::delete, dids::route,
        ivr::create, ivr::list, ivr::get_menu, ivr::update, ivr::delete, ivr::step,
        directory::create_alias, directory::list_aliases, directory::get_alias, directory::update_alias, directory::delete_alias,
        directory::create_external, directory::list_external, directory::get_external, directory::update_external, directory::delete_external,
        modules::upload, modules::list, modules::get, modules::standard, modules::activate, modules::rollback, modules::deactivate,
        modules::upload_standard, modules::activate_standard, modules::rollback_standard, modules::deactivate_standard,
        audit::all, audit::company,
        cdrs::list, cdrs::export_csv,
        call_events::get_settings, call_events::put_settings, call_events::delete_settings,
        recordings::list, recordings::get, recordings::audio, recordings::delete, recordings::delete_many, recordings::usage,
        queues::create, queues::list, queues::get_queue, queues::update, queues::delete, queues::stats, queues::all_stats,
        prompts::upload, prompts::list, prompts::get_prompt, prompts::audio, prompts::delete,
        security::list_bans, security::unban, security::list_whitelist, security::add_whitelist, security::remove_whitelist,
        voicemail::create, voicemail::list, voicemail::get_box, voicemail::update, voicemail::delete,
        voicemail::list_messages, voicemail::get_message, voicemail::message_audio, voicemail::update_message, voicemail::delete_message,
        service_codes::get_operator, service_codes::put_operator, service_codes::get_company, service_codes::put_company,
        calls::list, calls::click_to_dial, calls::get_call, calls::hang_up, calls::hold, calls::resume, calls::transfer, calls::consult, calls::complete_transfer, calls::cancel_consult, calls::pick_up, events::stream, rooms::create, rooms::list, rooms::get_room, rooms::delete,
        dialling::get_plan, dialling::put_plan, dialling::normalise,
        pickup_groups::create, pickup_groups::list, pickup_groups::get_group, pickup_groups::update, pickup_groups::delete,
    ),
    components(schemas(crate::events::CallStateEvent)),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi())
}

/// The API's routes; `trunks` is where the trunk registrations publish their status.
pub fn router(
    app: App,
    auth: Auth,
    trunks: Arc<Trunks>,
    sip_websockets: Option<crate::sip::transport::driver::StreamIntake>,
) -> Router {
    let company = "/api/v1/companies/{company}";
    Router::new()
        .route("/api/v1/health", get(health))
        .route("/api/v1/openapi.json", get(openapi_json))
        .route("/api/v1/companies", post(companies::create).get(companies::list))
        .route(company, get(companies::get).put(companies::update).delete(companies::delete))
        .route(&format!("{company}/trunk-status"), get(trunk_status::get))
        .route(&format!("{company}/api-keys"), post(keys::create).get(keys::list))
        .route(&format!("{company}/api-keys/{{id}}"), axum::routing::delete(keys::delete))
        .route(&format!("{company}/users"), post(users::create).get(users::list))
        .route(&format!("{company}/users/import"), post(users::import))
        .route(
            &format!("{company}/users/{{extension}}"),
            get(users::get).put(users::update).delete(users::delete),
        )
        .route(
            &format!("{company}/users/{{extension}}/rotate-sip-password"),
            post(users::rotate_sip_password),
        )
        .route(&format!("{company}/users/{{extension}}/registrations"), get(registrations::list))
        .route(&format!("{company}/users/{{extension}}/web-phone-mode"), put(users::set_web_phone_mode))
        .route(&format!("{company}/users/{{extension}}/devices"), post(devices::create).get(devices::list))
        .route(
            &format!("{company}/users/{{extension}}/devices/{{id}}"),
            get(devices::get).put(devices::update).delete(devices::delete),
        )
        .route(&format!("{company}/dids"), post(dids::create).get(dids::list))
        .route(&format!("{company}/dids/{{number}}"), get(dids::get).put(dids::update).delete(dids::delete))
        .route(&format!("{company}/dids/{{number}}/route"), post(dids::route))
        .route(&format!("{company}/aliases"), post(directory::create_alias).get(directory::list_aliases))
        .route(
            &format!("{company}/aliases/{{number}}"),
            get(directory::get_alias).put(directory::update_alias).delete(directory::delete_alias),
        )
        .route(
            &format!("{company}/external-numbers"),
            post(directory::create_external).get(directory::list_external),
        )
        .route(
            &format!("{company}/external-numbers/{{name}}"),
            get(directory::get_external).put(directory::update_external).delete(directory::delete_external),
        )
        .route(&format!("{company}/modules"), get(modules::list))
        .route(
            &format!("{company}/modules/{{name}}"),
            put(modules::upload).get(modules::get).layer(DefaultBodyLimit::max(MAX_COMPONENT_BYTES)),
        )
        .route(&format!("{company}/modules/{{name}}/activate"), post(modules::activate))
        .route(&format!("{company}/modules/{{name}}/rollback"), post(modules::rollback))
        .route(&format!("{company}/modules/{{name}}/deactivate"), post(modules::deactivate))
        .route(&format!("{company}/audit"), get(audit::company))
        .route(&format!("{company}/cdrs"), get(cdrs::list))
        .route(&format!("{company}/cdrs.csv"), get(cdrs::export_csv))
        .route(&format!("{company}/recordings"), get(recordings::list))
        .route(&format!("{company}/recordings/usage"), get(recordings::usage))
        .route(&format!("{company}/recordings/delete"), post(recordings::delete_many))
        .route(&format!("{company}/recordings/{{id}}"), get(recordings::get).delete(recordings::delete))
        .route(&format!("{company}/recordings/{{id}}/audio"), get(recordings::audio))
        .route("/api/v1/standard-modules", get(modules::standard))
        .route(
            "/api/v1/standard-modules/{name}",
            put(modules::upload_standard).layer(DefaultBodyLimit::max(MAX_COMPONENT_BYTES)),
        )
        .route("/api/v1/standard-modules/{name}/activate", post(modules::activate_standard))
        .route("/api/v1/standard-modules/{name}/rollback", post(modules::rollback_standard))
        .route("/api/v1/standard-modules/{name}/deactivate", post(modules::deactivate_standard))
        .route("/api/v1/audit", get(audit::all))
        .route("/api/v1/security/bans", get(security::list_bans))
        .route("/api/v1/security/bans/{ip}", axum::routing::delete(security::unban))
        .route("/api/v1/security/whitelist", get(security::list_whitelist).post(security::add_whitelist))
        .route("/api/v1/security/whitelist/{cidr}", axum::routing::delete(security::remove_whitelist))
        .merge(voicemail::routes())
        .merge(service_codes::routes())
        .merge(pickup_groups::routes())
        .merge(queues::routes())
        .merge(ivr::routes())
        .merge(call_events::routes())
        .merge(prompts::routes())
        .merge(dialling::routes())
        .merge(calls::routes())
        .merge(events::routes())
        .merge(rooms::routes())
        .merge(crate::webphone::routes())
        .merge(crate::panel::routes())
        .route("/sip", get(crate::sip::transport::websocket::upgrade))
        .fallback(|| async { ApiError::not_found("route") })
        .with_state(ApiState { app, auth, trunks, sip_websockets, sessions: Arc::default() })
}
