//! Companies (SPEC.md §1): created, changed and deleted by the operator; a company key
//! sees only its own.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use serde::Deserialize;
use utoipa::ToSchema;

use super::ApiState;
use super::auth::Access;
use super::error::{ApiError, ApiResult};
use super::extract::Body;
use super::validate;
use crate::dialling::DiallingPlan;
use crate::routing::call::parse_time_zone;
use crate::sandbox::DecisionKind;
use crate::sandbox::limits::{DEFAULT_DEADLINE_MS, DEFAULT_MEMORY_MIB, MAX_DEADLINE_MS, MAX_MEMORY_MIB};
use crate::sandbox::registry::{RegistryError, check_name};
use crate::store::records::{Company, TrunkProvider, default_permissions_module, empty_object};
use crate::store::*;

/// A trunk account as the API takes it ([`TrunkProvider`]): a field it does not know is
/// refused, not ignored (`"registered": false` for `"register"` would register the
/// account).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrunkBody {
    /// Account user name at the provider.
    pub username: String,
    /// Account SIP password at the provider.
    pub password: String,
    /// The provider's SIP domain.
    pub domain: String,
    /// Outbound proxy, "host[:port]", when the provider needs one.
    #[serde(default)]
    pub outbound_proxy: Option<String>,
    /// Whether Centralita registers the account (default true); `false` for an
    /// IP-authenticated trunk.
    #[serde(default = "crate::store::records::registered_by_default")]
    pub register: bool,
}

impl From<TrunkBody> for TrunkProvider {
    fn from(body: TrunkBody) -> TrunkProvider {
        let TrunkBody { username, password, domain, outbound_proxy, register } = body;
        TrunkProvider { username, password, domain, outbound_proxy, register }
    }
}

/// A company as created or replaced.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompanyBody {
    /// Id (create only): 1-32 lowercase letters, digits, '-'.
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    pub max_extensions: u32,
    /// IANA time zone; default "UTC".
    #[serde(default)]
    pub time_zone: Option<String>,
    /// SIP domain and digest realm; default "<id>.centralita.local".
    #[serde(default)]
    pub sip_domain: Option<String>,
    #[serde(default)]
    pub trunk: Option<TrunkBody>,
    #[serde(default)]
    pub secondary_trunk: Option<TrunkBody>,
    /// Routing decision deadline, 1-5000 ms; default 10.
    #[serde(default)]
    pub decision_deadline_ms: Option<u32>,
    /// Routing decision memory, 1-256 MiB; default 16.
    #[serde(default)]
    pub decision_memory_mib: Option<u32>,
    /// The module that authorises outgoing calls; default "permissions" (the standard one).
    #[serde(default)]
    pub permissions_module: Option<String>,
    /// Its settings (a JSON object); default `{}`. The standard module reads
    /// `{"blocked-prefixes": ["00", "0034806"]}`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub permissions_config: Option<serde_json::Value>,
    /// Delete call recordings older than this many days, 1-60; default: keep them.
    #[serde(default)]
    pub recording_retention_days: Option<u32>,
    /// Most megabytes (1,000,000 bytes) the call recordings may take; default: no limit.
    #[serde(default)]
    pub recording_quota_mb: Option<u64>,
    /// How the company's people write numbers, for normalising them (SPEC §12); default:
    /// national prefix "0", no outside-line prefix, country or area, internal numbers of
    /// up to 6 digits.
    #[serde(default)]
    pub dialling: Option<DiallingPlan>,
}

fn build(id: &str, body: CompanyBody, created_at: chrono::DateTime<Utc>) -> ApiResult<Company> {
    validate::non_empty("name", &body.name)?;
    let time_zone = body.time_zone.unwrap_or_else(|| "UTC".into());
    parse_time_zone(&time_zone).map_err(|e| ApiError::field("time_zone", e.to_string()))?;
    let deadline = body.decision_deadline_ms.unwrap_or(DEFAULT_DEADLINE_MS);
    if !(1..=MAX_DEADLINE_MS).contains(&deadline) {
        return Err(ApiError::field("decision_deadline_ms", format!("must be 1..={MAX_DEADLINE_MS}")));
    }
    let memory = body.decision_memory_mib.unwrap_or(DEFAULT_MEMORY_MIB);
    if !(1..=MAX_MEMORY_MIB).contains(&memory) {
        return Err(ApiError::field("decision_memory_mib", format!("must be 1..={MAX_MEMORY_MIB}")));
    }
    for (field, trunk) in [("trunk", &body.trunk), ("secondary_trunk", &body.secondary_trunk)] {
        if let Some(trunk) = trunk {
            validate::non_empty(&format!("{field}.username"), &trunk.username)?;
            validate::non_empty(&format!("{field}.domain"), &trunk.domain)?;
        }
    }
    let permissions_module = body.permissions_module.unwrap_or_else(default_permissions_module);
    let permissions_config = body.permissions_config.unwrap_or_else(empty_object);
    if !permissions_config.is_object() {
        return Err(ApiError::field("permissions_config", "must be a JSON object"));
    }
    let max_days = crate::recordings::retention::MAX_RETENTION_DAYS;
    if body.recording_retention_days.is_some_and(|days| !(1..=max_days).contains(&days)) {
        return Err(ApiError::field(
            "recording_retention_days",
            format!("must be 1..={max_days} (or left out to keep recordings)"),
        ));
    }
    if body.recording_quota_mb == Some(0) {
        return Err(ApiError::field("recording_quota_mb", "must be at least 1 (or left out for no limit)"));
    }
    let dialling = body.dialling.unwrap_or_default();
    dialling.check().map_err(|e| ApiError::field("dialling", e.to_string()))?;
    Ok(Company {
        id: id.to_string(),
        name: body.name,
        max_extensions: body.max_extensions,
        sip_domain: match body.sip_domain {
            Some(domain) => validate::domain("sip_domain", &domain)?,
            None => format!("{id}.centralita.local"),
        },
        time_zone,
        trunk: body.trunk.map(TrunkProvider::from),
        secondary_trunk: body.secondary_trunk.map(TrunkProvider::from),
        decision_deadline_ms: deadline,
        decision_memory_mib: memory,
        permissions_module,
        permissions_config,
        recording_retention_days: body.recording_retention_days,
        recording_quota_mb: body.recording_quota_mb,
        dialling,
        created_at,
    })
}

/// `company` has a module `module` (uploaded or standard) and it decides permissions.
/// Checked before the write transaction: loading a module may compile it.
fn check_permissions_module(s: &ApiState, company: &str, module: Option<&str>) -> ApiResult<()> {
    let module = module.unwrap_or(crate::routing::permissions::DEFAULT_MODULE);
    check_name(module).map_err(|e| ApiError::field("permissions_module", e.to_string()))?;
    match s.app.sandbox.resolve(&s.app.store, company, module) {
        Err(RegistryError::UnknownModule(_)) => {
            Err(ApiError::field("permissions_module", format!("{company} has no module {module:?}")))
        }
        Err(error) => Err(error.into()),
        Ok(resolved) if !resolved.loaded.info.decisions.contains(&DecisionKind::Permissions) => Err(
            ApiError::field("permissions_module", format!("module {module:?} does not export permissions")),
        ),
        Ok(_) => Ok(()),
    }
}

/// Record that `company` owns its SIP domain (and, on update, release the domain of
/// `previous`). A domain is its company's digest realm and what the registrar routes by:
/// two companies can never share one.
fn claim_sip_domain(tx: &mut Tx, company: &Company, previous: Option<&Company>) -> ApiResult<()> {
    let key = sip_domain_key(&company.sip_domain);
    if let Some(owner) = tx.get(&SIP_DOMAINS, &key)?
        && owner != company.id
    {
        return Err(ApiError::field(
            "sip_domain",
            format!("{:?} belongs to another company", company.sip_domain),
        ));
    }
    if let Some(previous) = previous
        && sip_domain_key(&previous.sip_domain) != key
    {
        tx.delete(&SIP_DOMAINS, &sip_domain_key(&previous.sip_domain))?;
    }
    tx.put(&SIP_DOMAINS, &key, &company.id)?;
    Ok(())
}

/// Create a company (operator).
#[utoipa::path(post, path = "/api/v1/companies", tag = "companies", request_body = CompanyBody,
    responses((status = 201, body = Company), (status = 409, body = super::error::ErrorBody)))]
pub async fn create(
    State(s): State<ApiState>,
    access: Access,
    Body(body): Body<CompanyBody>,
) -> ApiResult<(StatusCode, Json<Company>)> {
    access.require_operator()?;
    let id = body.id.clone().ok_or_else(|| ApiError::field("id", "missing"))?;
    validate::slug("id", &id)?;
    check_permissions_module(&s, &id, body.permissions_module.as_deref())?;
    let company = build(&id, body, Utc::now())?;
    let actor = access.actor();
    s.app.store.write(|tx| {
        if tx.get(&COMPANIES, &id)?.is_some() {
            return Err(ApiError::conflict(format!("company {id:?} already exists")));
        }
        if tx.get(&RETIRED_COMPANIES, &id)?.is_some() {
            return Err(ApiError::conflict(format!(
                "id {id:?} belonged to a deleted company whose audit history is kept; choose another id"
            )));
        }
        claim_sip_domain(tx, &company, None)?;
        tx.put(&COMPANIES, &id, &company)?;
        tx.audit(actor.entry(Some(&id), "company.create", id.clone(), None))?;
        Ok(())
    })?;
    // Register its trunks now rather than at the next poll.
    s.trunks.changed();
    Ok((StatusCode::CREATED, Json(company)))
}

/// List companies: all for the operator, its own for a company key.
#[utoipa::path(get, path = "/api/v1/companies", tag = "companies", responses((status = 200, body = [Company])))]
pub async fn list(State(s): State<ApiState>, access: Access) -> ApiResult<Json<Vec<Company>>> {
    let mut companies = s.app.store.read(|r| r.scan(&COMPANIES, ""))?;
    if let Some(own) = access.own_company() {
        access.require_company(own)?;
        companies.retain(|c| c.id == own);
    }
    Ok(Json(companies))
}

/// One company.
#[utoipa::path(get, path = "/api/v1/companies/{company}", tag = "companies", responses((status = 200, body = Company)))]
pub async fn get(
    State(s): State<ApiState>,
    access: Access,
    Path(company): Path<String>,
) -> ApiResult<Json<Company>> {
    access.require_company(&company)?;
    Ok(Json(super::company(&s, &company)?))
}

/// Replace a company's settings (operator).
#[utoipa::path(put, path = "/api/v1/companies/{company}", tag = "companies", request_body = CompanyBody, responses((status = 200, body = Company)))]
pub async fn update(
    State(s): State<ApiState>,
    access: Access,
    Path(id): Path<String>,
    Body(body): Body<CompanyBody>,
) -> ApiResult<Json<Company>> {
    access.require_company(&id)?;
    access.require_operator()?;
    if body.id.as_ref().is_some_and(|body_id| body_id != &id) {
        return Err(ApiError::field("id", "cannot be changed"));
    }
    check_permissions_module(&s, &id, body.permissions_module.as_deref())?;
    let actor = access.actor();
    let company = s.app.store.write(|tx| {
        let existing =
            tx.get(&COMPANIES, &id)?.ok_or_else(|| ApiError::not_found(format!("company {id:?}")))?;
        let company = build(&id, body, existing.created_at)?;
        let users = tx.count(&USERS, &company_prefix(&id))?;
        if (company.max_extensions as usize) < users {
            return Err(ApiError::field(
                "max_extensions",
                format!("the company already has {users} extensions"),
            ));
        }
        claim_sip_domain(tx, &company, Some(&existing))?;
        tx.put(&COMPANIES, &id, &company)?;
        tx.audit(actor.entry(Some(&id), "company.update", id.clone(), None))?;
        Ok(company)
    })?;
    s.trunks.changed();
    Ok(Json(company))
}

/// Delete a company and everything it owns (operator).
#[utoipa::path(delete, path = "/api/v1/companies/{company}", tag = "companies", responses((status = 204)))]
pub async fn delete(
    State(s): State<ApiState>,
    access: Access,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    access.require_company(&id)?;
    access.require_operator()?;
    let actor = access.actor();
    let (queues, boxes) = s.app.store.write(|tx| {
        let company =
            tx.get(&COMPANIES, &id)?.ok_or_else(|| ApiError::not_found(format!("company {id:?}")))?;
        tx.delete(&COMPANIES, &id)?;
        tx.delete(&SIP_DOMAINS, &sip_domain_key(&company.sip_domain))?;
        let prefix = company_prefix(&id);
        for did in tx.scan(&DIDS, &prefix)? {
            tx.delete(&DID_OWNERS, &did.number)?;
        }
        tx.delete_prefix(&USERS, &prefix)?;
        tx.delete_prefix(&DEVICES, &prefix)?;
        tx.delete_prefix(&DIDS, &prefix)?;
        tx.delete_prefix(&ALIASES, &prefix)?;
        tx.delete_prefix(&EXTERNAL_NUMBERS, &prefix)?;
        tx.delete_prefix(&MODULE_VERSIONS, &prefix)?;
        tx.delete_prefix(&MODULE_INSTALLS, &prefix)?;
        // Call records are the company's data too; the audit log keeps the deletion.
        tx.delete_prefix(&CDRS, &prefix)?;
        tx.delete(&CALL_EVENTS, &id)?;
        tx.delete_prefix(&RECORDINGS, &prefix)?;
        tx.delete(&RECORDING_USAGE, &id)?;
        tx.delete_company_kv(&id)?;
        // The media services' settings and data (files follow after the commit).
        tx.delete_prefix(&PROMPTS, &prefix)?;
        tx.delete_prefix(&IVR_MENUS, &prefix)?;
        let queues: Vec<String> = tx.scan(&QUEUES, &prefix)?.into_iter().map(|q| q.name).collect();
        tx.delete_prefix(&QUEUES, &prefix)?;
        tx.delete_prefix(&QUEUE_DAYS, &prefix)?;
        let boxes: Vec<String> = tx.scan(&VOICEMAIL_BOXES, &prefix)?.into_iter().map(|b| b.name).collect();
        tx.delete_prefix(&VOICEMAIL_BOXES, &prefix)?;
        tx.delete_prefix(&VOICEMAIL_MESSAGES, &prefix)?;
        tx.delete_prefix(&PICKUP_GROUPS, &prefix)?;
        tx.delete_prefix(&ROOMS, &prefix)?;
        tx.delete(&SERVICE_CODE_OVERRIDES, &id)?;
        tx.put(&RETIRED_COMPANIES, &id, &Utc::now().to_rfc3339())?;
        let keys: Vec<_> = tx.scan(&API_KEYS, "")?;
        for key in keys.iter().filter(|k| k.company == id) {
            tx.delete(&API_KEYS, &key.hash)?;
        }
        tx.audit(actor.entry(Some(&id), "company.delete", id.clone(), None))?;
        Ok::<_, ApiError>((queues, boxes))
    })?;
    for queue in &queues {
        s.app.queue_stats.forget(&id, queue);
    }
    s.app.counters.forget_company(&id);
    s.app.registrar.forget_company(&id);
    s.app.sandbox.forget_company(&id);
    // The rows went with the company; the files of its recordings, prompts and voicemail
    // messages go off the async workers.
    let (app, gone) = (s.app.clone(), id.clone());
    tokio::task::spawn_blocking(move || {
        if let Err(error) = crate::recordings::forget_company(&app, &gone) {
            tracing::warn!(company = %gone, %error, "recording files of a deleted company left behind");
        }
        if let Err(error) = app.prompts.forget_company(&gone) {
            tracing::warn!(company = %gone, %error, "prompt files of a deleted company left behind");
        }
        for mailbox in &boxes {
            crate::voicemail::remove_box_audio(&app, &gone, mailbox);
        }
    });
    s.trunks.changed();
    Ok(StatusCode::NO_CONTENT)
}
