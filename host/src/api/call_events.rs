//! A company's call events (SPEC.md §12, §13): which module hears of its ended calls, and
//! with what settings — e.g. the standard module mailing missed calls to the office. A
//! company key may set its own; without settings no module runs when calls end.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::ToSchema;

use super::ApiState;
use super::auth::{Access, Caller};
use super::error::{ApiError, ApiResult};
use super::extract::Body;
use crate::sandbox::DecisionKind;
use crate::sandbox::registry::{RegistryError, check_name};
use crate::store::records::{CallEventsSettings, default_call_events_module, empty_object};
use crate::store::*;

/// The routes of this file.
pub fn routes() -> Router<ApiState> {
    Router::new().route(
        "/api/v1/companies/{company}/call-events",
        get(get_settings).put(put_settings).delete(delete_settings),
    )
}

/// Call-events settings as given.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallEventsBody {
    /// The module; default "call-events" (the standard one, missed-call mail).
    #[serde(default)]
    pub module: Option<String>,
    /// Its settings (a JSON object); default `{}`. The standard module reads
    /// `{"missed_call_mail": "office@acme.example"}` or
    /// `{"missed_call_mail": {"101": "ana@acme.example", "*": "office@acme.example"}}`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub config: Option<serde_json::Value>,
}

/// `company` has a module `module` (uploaded or standard) and it exports call-events.
/// Checked before the write transaction: loading a module may compile it.
fn check_module(s: &ApiState, company: &str, module: &str) -> ApiResult<()> {
    check_name(module).map_err(|e| ApiError::field("module", e.to_string()))?;
    match s.app.sandbox.resolve(&s.app.store, company, module) {
        Err(RegistryError::UnknownModule(_)) => {
            Err(ApiError::field("module", format!("{company} has no module {module:?}")))
        }
        Err(error) => Err(error.into()),
        Ok(resolved) if !resolved.loaded.info.decisions.contains(&DecisionKind::CallEvents) => {
            Err(ApiError::field("module", format!("module {module:?} does not export call-events")))
        }
        Ok(_) => Ok(()),
    }
}

/// The `webhooks` of a config are http(s) URLs whose hosts a company may reach: the
/// standard module is granted exactly those hosts, so the rule of uploads' `http_allow`
/// applies — the host's own network (loopback, private addresses) only by the operator.
fn check_webhooks(config: &serde_json::Value, operator: bool) -> ApiResult<()> {
    let Some(webhooks) = config.get("webhooks") else { return Ok(()) };
    let bad = |why: String| ApiError::field("config", format!("webhooks: {why}"));
    let urls = webhooks.as_array().ok_or_else(|| bad("must be a list of URLs".into()))?;
    for url in urls {
        let text = url.as_str().ok_or_else(|| bad(format!("{url} is not a URL")))?;
        let uri: ureq::http::Uri = text.parse().map_err(|e| bad(format!("{text:?}: {e}")))?;
        let host = uri.host().filter(|_| matches!(uri.scheme_str(), Some("http" | "https")));
        let host = host.ok_or_else(|| bad(format!("{text:?} is not an absolute http(s) URL")))?;
        let entry = match uri.port_u16() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        super::modules::parse_http_allow(&entry, operator)
            .map_err(|e| bad(format!("{text:?}: {}", e.message)))?;
    }
    Ok(())
}

/// The company's call-events settings; 404 when none are set.
#[utoipa::path(get, path = "/api/v1/companies/{company}/call-events", tag = "call-events",
    responses((status = 200, body = CallEventsSettings), (status = 404, body = super::error::ErrorBody)))]
pub async fn get_settings(
    State(s): State<ApiState>,
    access: Access,
    Path(company): Path<String>,
) -> ApiResult<Json<CallEventsSettings>> {
    access.require_company(&company)?;
    super::company(&s, &company)?;
    let settings = s.app.store.read(|r| r.get(&CALL_EVENTS, &company))?;
    settings.map(Json).ok_or_else(|| ApiError::not_found(format!("call-events settings of {company:?}")))
}

/// Set which module hears of the company's ended calls, and its settings.
#[utoipa::path(put, path = "/api/v1/companies/{company}/call-events", tag = "call-events",
    request_body = CallEventsBody, responses((status = 200, body = CallEventsSettings)))]
pub async fn put_settings(
    State(s): State<ApiState>,
    access: Access,
    Path(company): Path<String>,
    Body(body): Body<CallEventsBody>,
) -> ApiResult<Json<CallEventsSettings>> {
    access.require_company(&company)?;
    super::company(&s, &company)?;
    let module = body.module.unwrap_or_else(default_call_events_module);
    check_module(&s, &company, &module)?;
    let config = body.config.unwrap_or_else(empty_object);
    if !config.is_object() {
        return Err(ApiError::field("config", "must be a JSON object"));
    }
    check_webhooks(&config, matches!(access.caller, Caller::Operator))?;
    let settings = CallEventsSettings { module, config };
    let actor = access.actor();
    s.app.store.write(|tx| {
        tx.get(&COMPANIES, &company)?.ok_or_else(|| ApiError::not_found(format!("company {company:?}")))?;
        tx.put(&CALL_EVENTS, &company, &settings)?;
        tx.audit(actor.entry(
            Some(&company),
            "call_events.update",
            format!("{company}/call-events"),
            Some(format!("module {}", settings.module)),
        ))?;
        Ok::<_, ApiError>(())
    })?;
    Ok(Json(settings))
}

/// Stop telling any module of the company's ended calls.
#[utoipa::path(delete, path = "/api/v1/companies/{company}/call-events", tag = "call-events",
    responses((status = 204)))]
pub async fn delete_settings(
    State(s): State<ApiState>,
    access: Access,
    Path(company): Path<String>,
) -> ApiResult<StatusCode> {
    access.require_company(&company)?;
    super::company(&s, &company)?;
    let actor = access.actor();
    s.app.store.write(|tx| {
        if tx.get(&CALL_EVENTS, &company)?.is_none() {
            return Err(ApiError::not_found(format!("call-events settings of {company:?}")));
        }
        tx.delete(&CALL_EVENTS, &company)?;
        tx.audit(actor.entry(Some(&company), "call_events.delete", format!("{company}/call-events"), None))?;
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT)
}
