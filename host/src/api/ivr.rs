//! IVR menus (SPEC.md §3), and the dry run that walks a caller through a menu step by step
//! before any phone exists.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::Access;
use super::error::{ApiError, ApiResult};
use super::extract::Body;
use super::numbers::{self, Own};
use super::{ApiState, validate};
use crate::routing::call::{CallInput, Direction};
use crate::routing::ivr::{self, DecidedBy, IvrInput, IvrStep, MAX_DIGITS, MAX_MEMO_BYTES, StepOutcome};
use crate::sandbox::DecisionKind;
use crate::sandbox::registry::RegistryError;
use crate::store::records::{
    DEFAULT_IVR_MODULE, DEFAULT_IVR_REPEATS, DEFAULT_IVR_TIMEOUT_SECONDS, Destination, IvrMenu, IvrOption,
};
use crate::store::*;

/// Seconds a menu may wait for input.
const TIMEOUT_SECONDS: std::ops::RangeInclusive<u32> = 1..=60;
/// Times a menu may repeat its greeting.
const REPEATS: std::ops::RangeInclusive<u32> = 0..=10;
/// Largest module config accepted, as JSON text: it is handed to the module at every step.
const MAX_CONFIG_BYTES: usize = 16 * 1024;
/// Longest caller id accepted in a dry run.
const MAX_CALLER_LEN: usize = 64;

/// The routes of this file.
pub fn routes() -> Router<ApiState> {
    let menus = "/api/v1/companies/{company}/ivr-menus";
    Router::new()
        .route(menus, get(list).post(create))
        .route(&format!("{menus}/{{name}}"), get(get_menu).put(update).delete(delete))
        .route(&format!("{menus}/{{name}}/step"), post(step))
}

/// An IVR menu as created or replaced.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IvrMenuBody {
    /// The name destinations use: 1-64 letters, digits, '-', '_', '.', not starting with '.'.
    pub name: String,
    /// Dialling or transferring to this number reaches the menu: 1-10 digits, not an
    /// extension, alias or another menu's number.
    pub number: String,
    /// A prompt of the company played at the start and on each repeat; none = the system
    /// "ivr-default-greeting".
    #[serde(default)]
    pub greeting: Option<String>,
    /// The caller may dial an extension number during the greeting (default false).
    #[serde(default)]
    pub allow_dialing: bool,
    /// Keys ("0"-"9", "*", "#", each at most once) and their destinations.
    #[serde(default)]
    pub options: Vec<IvrOption>,
    /// Where the caller goes when nothing is entered after the repeats; none = hang up.
    #[serde(default)]
    pub no_input: Option<Destination>,
    /// Where the caller goes after too many invalid entries; none = hang up.
    #[serde(default)]
    pub invalid: Option<Destination>,
    /// Seconds to wait for input after the greeting, 1-60 (default 5).
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u32,
    /// Times the greeting is repeated on invalid or no input, 0-10 (default 2).
    #[serde(default = "default_repeats")]
    pub repeats: u32,
    /// The deciding module; default "ivr".
    #[serde(default)]
    pub module: Option<String>,
    /// Module settings (a JSON object); the standard module reads `extension_digits` and
    /// `inter_digit_seconds`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub config: Option<serde_json::Value>,
}

fn default_timeout_seconds() -> u32 {
    DEFAULT_IVR_TIMEOUT_SECONDS
}

fn default_repeats() -> u32 {
    DEFAULT_IVR_REPEATS
}

/// One step of a dry run.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepRequest {
    /// What happened: `"start"`, `{"digits": "1"}` or `"no_input"`.
    pub input: IvrInput,
    /// The memo of the previous step's collect ("" or left out at the start).
    #[serde(default)]
    pub memo: String,
    /// The calling number; default "anonymous".
    #[serde(default)]
    pub caller: Option<String>,
    /// When the step happens (RFC 3339); default now.
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
}

/// The step to carry out.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepView {
    /// Play `prompt` (none = silence) and collect up to `max_digits` digits.
    Collect {
        prompt: Option<String>,
        max_digits: u32,
        /// Wait for the first digit after the prompt, in milliseconds.
        timeout_ms: u64,
        /// Wait allowed between two digits, in milliseconds.
        inter_digit_timeout_ms: u64,
        /// Send this back as `memo` with the next input.
        memo: String,
    },
    /// Leave the menu for `destination`.
    Transfer { destination: Destination },
}

/// The answer of a dry-run step.
#[derive(Debug, Serialize, ToSchema)]
pub struct StepAnswer {
    /// What the host does next.
    pub step: StepView,
    /// Who decided: the module, or the host's fallback after the module failed.
    pub decided_by: DecidedBy,
    /// The module asked.
    pub module: String,
    /// Its uploaded version; none for the standard module.
    pub module_version: Option<u32>,
    /// Why the module's answer was not used.
    pub failure: Option<String>,
    /// What the module logged.
    pub logs: Vec<String>,
    /// Time the decision took, in microseconds.
    pub elapsed_us: u64,
}

impl From<StepOutcome> for StepAnswer {
    fn from(outcome: StepOutcome) -> StepAnswer {
        let millis = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        StepAnswer {
            step: match outcome.step {
                IvrStep::Collect(c) => StepView::Collect {
                    prompt: c.prompt,
                    max_digits: c.max_digits,
                    timeout_ms: millis(c.timeout),
                    inter_digit_timeout_ms: millis(c.inter_digit_timeout),
                    memo: c.memo,
                },
                IvrStep::Transfer(destination) => StepView::Transfer { destination },
            },
            decided_by: outcome.decided_by,
            module: outcome.module,
            module_version: outcome.module_version,
            failure: outcome.failure,
            logs: outcome.logs,
            elapsed_us: outcome.elapsed_us,
        }
    }
}

fn menu_entity(company: &str, name: &str) -> String {
    format!("{company}/ivr-menus/{name}")
}

/// A menu key: one of "0".."9", "*", "#".
fn is_key(key: &str) -> bool {
    matches!(key.as_bytes(), [byte] if is_key_byte(*byte))
}

/// Check a destination of menu `name`; the menu itself is a valid destination (a key that
/// starts it over) even before it is created.
fn check_destination(
    s: &ApiState,
    company: &str,
    name: &str,
    field: &str,
    destination: &Destination,
) -> ApiResult<()> {
    match destination {
        Destination::Ivr(target) if target == name => Ok(()),
        _ => validate::destination(&s.app, company, field, destination),
    }
}

/// The menu `body` describes, checked field by field (all but the number being free).
fn build(s: &ApiState, company: &str, body: IvrMenuBody, created_at: DateTime<Utc>) -> ApiResult<IvrMenu> {
    validate::name("name", &body.name)?;
    if body.name.starts_with('.') {
        return Err(ApiError::field("name", "must not start with '.'"));
    }
    if !(1..=10).contains(&body.number.len()) || !body.number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::field("number", "must be 1-10 digits"));
    }
    if let Some(greeting) = &body.greeting {
        validate::name("greeting", greeting)?;
        if s.app.prompts.get(company, greeting).is_none() {
            return Err(ApiError::field("greeting", format!("{company} has no prompt {greeting:?}")));
        }
    }
    for (i, option) in body.options.iter().enumerate() {
        if !is_key(&option.key) {
            return Err(ApiError::field(format!("options[{i}].key"), "must be one of 0-9, * or #"));
        }
        if body.options[..i].iter().any(|earlier| earlier.key == option.key) {
            return Err(ApiError::field(
                format!("options[{i}].key"),
                format!("key {} is bound twice", option.key),
            ));
        }
        check_destination(s, company, &body.name, &format!("options[{i}].destination"), &option.destination)?;
    }
    for (field, destination) in [("no_input", &body.no_input), ("invalid", &body.invalid)] {
        if let Some(destination) = destination {
            check_destination(s, company, &body.name, field, destination)?;
        }
    }
    if !TIMEOUT_SECONDS.contains(&body.timeout_seconds) {
        return Err(ApiError::field("timeout_seconds", "must be 1..=60"));
    }
    if !REPEATS.contains(&body.repeats) {
        return Err(ApiError::field("repeats", "must be 0..=10"));
    }
    let module = body.module.unwrap_or_else(|| DEFAULT_IVR_MODULE.to_string());
    match s.app.sandbox.resolve(&s.app.store, company, &module) {
        Err(RegistryError::UnknownModule(_) | RegistryError::InvalidName(_)) => {
            return Err(ApiError::field("module", format!("{company} has no module {module:?}")));
        }
        Err(error) => return Err(error.into()),
        Ok(resolved) if !resolved.loaded.info.decisions.contains(&DecisionKind::Ivr) => {
            return Err(ApiError::field("module", format!("module {module:?} does not export ivr")));
        }
        Ok(_) => {}
    }
    let config = body.config.unwrap_or_else(|| serde_json::json!({}));
    if !config.is_object() {
        return Err(ApiError::field("config", "must be a JSON object"));
    }
    if config.to_string().len() > MAX_CONFIG_BYTES {
        return Err(ApiError::field("config", format!("must be at most {MAX_CONFIG_BYTES} bytes of JSON")));
    }
    Ok(IvrMenu {
        company: company.to_string(),
        name: body.name,
        number: body.number,
        greeting: body.greeting,
        allow_dialing: body.allow_dialing,
        options: body.options,
        no_input: body.no_input,
        invalid: body.invalid,
        timeout_seconds: body.timeout_seconds,
        repeats: body.repeats,
        module,
        config,
        created_at,
    })
}

/// The menu `name` of `company`, or 404.
fn existing_menu(s: &ApiState, company: &str, name: &str) -> ApiResult<IvrMenu> {
    ivr::find_by_name(&s.app, company, name)?.ok_or_else(|| ApiError::not_found(format!("IVR menu {name:?}")))
}

/// Create an IVR menu.
#[utoipa::path(post, path = "/api/v1/companies/{company}/ivr-menus", tag = "ivr",
    request_body = IvrMenuBody, responses((status = 201, body = IvrMenu)))]
pub async fn create(
    State(s): State<ApiState>,
    access: Access,
    Path(company): Path<String>,
    Body(body): Body<IvrMenuBody>,
) -> ApiResult<(StatusCode, Json<IvrMenu>)> {
    access.require_company(&company)?;
    super::company(&s, &company)?;
    let menu = build(&s, &company, body, Utc::now())?;
    let actor = access.actor();
    s.app.store.write(|tx| {
        let key = company_key(&company, &menu.name);
        if tx.get(&IVR_MENUS, &key)?.is_some() {
            return Err(ApiError::conflict(format!("IVR menu {:?} already exists", menu.name)));
        }
        numbers::check_free(tx, &company, &menu.number, Own::IvrMenu(&menu.name), "number")?;
        tx.put(&IVR_MENUS, &key, &menu)?;
        tx.audit(actor.entry(Some(&company), "ivr_menu.create", menu_entity(&company, &menu.name), None))?;
        Ok(())
    })?;
    Ok((StatusCode::CREATED, Json(menu)))
}

/// List a company's IVR menus.
#[utoipa::path(get, path = "/api/v1/companies/{company}/ivr-menus", tag = "ivr",
    responses((status = 200, body = [IvrMenu])))]
pub async fn list(
    State(s): State<ApiState>,
    access: Access,
    Path(company): Path<String>,
) -> ApiResult<Json<Vec<IvrMenu>>> {
    access.require_company(&company)?;
    super::company(&s, &company)?;
    Ok(Json(s.app.store.read(|r| r.scan(&IVR_MENUS, &company_prefix(&company)))?))
}

/// One IVR menu.
#[utoipa::path(get, path = "/api/v1/companies/{company}/ivr-menus/{name}", tag = "ivr",
    responses((status = 200, body = IvrMenu)))]
pub async fn get_menu(
    State(s): State<ApiState>,
    access: Access,
    Path((company, name)): Path<(String, String)>,
) -> ApiResult<Json<IvrMenu>> {
    access.require_company(&company)?;
    Ok(Json(existing_menu(&s, &company, &name)?))
}

/// Replace an IVR menu.
#[utoipa::path(put, path = "/api/v1/companies/{company}/ivr-menus/{name}", tag = "ivr",
    request_body = IvrMenuBody, responses((status = 200, body = IvrMenu)))]
pub async fn update(
    State(s): State<ApiState>,
    access: Access,
    Path((company, name)): Path<(String, String)>,
    Body(body): Body<IvrMenuBody>,
) -> ApiResult<Json<IvrMenu>> {
    access.require_company(&company)?;
    if body.name != name {
        return Err(ApiError::field("name", "cannot be changed; delete and create instead"));
    }
    let existing = existing_menu(&s, &company, &name)?;
    let menu = build(&s, &company, body, existing.created_at)?;
    let actor = access.actor();
    s.app.store.write(|tx| {
        let key = company_key(&company, &name);
        if tx.get(&IVR_MENUS, &key)?.is_none() {
            return Err(ApiError::not_found(format!("IVR menu {name:?}")));
        }
        numbers::check_free(tx, &company, &menu.number, Own::IvrMenu(&name), "number")?;
        tx.put(&IVR_MENUS, &key, &menu)?;
        tx.audit(actor.entry(Some(&company), "ivr_menu.update", menu_entity(&company, &name), None))?;
        Ok(())
    })?;
    Ok(Json(menu))
}

/// Delete an IVR menu; refused while a DID or another menu sends callers to it.
#[utoipa::path(delete, path = "/api/v1/companies/{company}/ivr-menus/{name}", tag = "ivr",
    responses((status = 204)))]
pub async fn delete(
    State(s): State<ApiState>,
    access: Access,
    Path((company, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    access.require_company(&company)?;
    let actor = access.actor();
    s.app.store.write(|tx| {
        let key = company_key(&company, &name);
        if tx.get(&IVR_MENUS, &key)?.is_none() {
            return Err(ApiError::not_found(format!("IVR menu {name:?}")));
        }
        let users = super::senders::senders_to(tx, &company, &Destination::Ivr(name.clone()))?;
        if !users.is_empty() {
            return Err(ApiError::conflict(format!(
                "IVR menu {name:?} is a destination of {}; change them first",
                users.join(", ")
            )));
        }
        tx.delete(&IVR_MENUS, &key)?;
        tx.audit(actor.entry(Some(&company), "ivr_menu.delete", menu_entity(&company, &name), None))?;
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT)
}

/// Take one step of a caller's walk through the menu, exactly as a real call would: send
/// `"start"`, then each answer's memo back with the next input.
#[utoipa::path(post, path = "/api/v1/companies/{company}/ivr-menus/{name}/step", tag = "ivr",
    request_body = StepRequest, responses((status = 200, body = StepAnswer)))]
pub async fn step(
    State(s): State<ApiState>,
    access: Access,
    Path((company, name)): Path<(String, String)>,
    Body(request): Body<StepRequest>,
) -> ApiResult<Json<StepAnswer>> {
    access.require_company(&company)?;
    let company = super::company(&s, &company)?;
    let menu = existing_menu(&s, &company.id, &name)?;
    if let IvrInput::Digits(digits) = &request.input {
        let valid = (1..=MAX_DIGITS as usize).contains(&digits.len()) && digits.bytes().all(is_key_byte);
        if !valid {
            return Err(ApiError::field("input", format!("digits must be 1-{MAX_DIGITS} of 0-9, * and #")));
        }
    }
    if request.memo.len() > MAX_MEMO_BYTES {
        return Err(ApiError::field("memo", format!("must be at most {MAX_MEMO_BYTES} bytes")));
    }
    let caller = request.caller.unwrap_or_else(|| "anonymous".to_string());
    if caller.is_empty() || caller.len() > MAX_CALLER_LEN {
        return Err(ApiError::field("caller", format!("must be 1-{MAX_CALLER_LEN} characters")));
    }
    let call = CallInput {
        call_id: format!("dry-run-{}", hex::encode(rand::random::<[u8; 6]>())),
        company: company.id.clone(),
        caller,
        caller_name: None,
        called: menu.number.clone(),
        direction: Direction::Inbound,
        at: request.at.unwrap_or_else(Utc::now),
        time_zone: company.time_zone.clone(),
        random_seed: None,
    };
    let app = s.app.clone();
    // Decisions run wasm synchronously: keep them off the async workers.
    let outcome = tokio::task::spawn_blocking(move || {
        ivr::step_outcome(&app, &company, &menu, &call, &request.input, &request.memo)
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("IVR step failed: {e}")))?;
    Ok(Json(outcome.into()))
}

/// A byte of a DTMF entry.
fn is_key_byte(byte: u8) -> bool {
    matches!(byte, b'0'..=b'9' | b'*' | b'#')
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_route_and_its_schemas_are_in_the_openapi_document() {
        let document = crate::api::openapi();
        for path in [
            "/api/v1/companies/{company}/ivr-menus",
            "/api/v1/companies/{company}/ivr-menus/{name}",
            "/api/v1/companies/{company}/ivr-menus/{name}/step",
        ] {
            assert!(document.paths.paths.contains_key(path), "{path}");
        }
        let schemas = document.components.map(|c| c.schemas).unwrap_or_default();
        for schema in
            ["IvrMenu", "IvrMenuBody", "IvrOption", "StepRequest", "StepAnswer", "StepView", "IvrInput"]
        {
            assert!(schemas.contains_key(schema), "{schema} missing");
        }
    }

    #[test]
    fn keys_are_one_of_the_twelve_phone_keys() {
        for key in ["0", "5", "9", "*", "#"] {
            assert!(super::is_key(key), "{key}");
        }
        for key in ["", "10", "a", "A", " ", "١"] {
            assert!(!super::is_key(key), "{key:?}");
        }
    }
}
