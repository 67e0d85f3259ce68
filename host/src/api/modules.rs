//! Module lifecycle: upload a component as a new immutable version, list versions with
//! their decision counters, activate one, roll back.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ApiState;
use super::auth::{Access, Caller};
use super::error::{ApiError, ApiResult};
use super::extract::{Body, Params};
use crate::sandbox::counters::DecisionCounters;
use crate::sandbox::registry::{OPERATOR, check_name, is_standard, standard_modules};
use crate::store::records::{Grants, ModuleInstall, ModuleVersion};
use crate::store::*;

/// What an upload grants the module beyond `log` and `kv`.
#[derive(Debug, Deserialize, ToSchema, IntoParams)]
pub struct UploadQuery {
    /// Allow the `mail` import.
    #[serde(default)]
    pub grant_mail: bool,
    /// Hosts ("host" or "host:port", comma-separated) the `http` import may reach.
    #[serde(default)]
    pub http_allow: Option<String>,
    /// Make the new version active right away (default true).
    #[serde(default)]
    pub activate: Option<bool>,
}

/// A version to activate.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivateBody {
    pub version: u32,
}

/// A module of the company and how it is doing.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModuleView {
    pub name: String,
    /// Whether a standard module of this name ships with the host.
    pub standard: bool,
    /// The active uploaded version; none = the standard module decides.
    pub active: Option<u32>,
    /// Versions active before, oldest first.
    pub history: Vec<u32>,
    /// Every uploaded version.
    pub versions: Vec<ModuleVersion>,
    /// Decisions since the host started.
    pub counters: DecisionCounters,
}

fn view(s: &ApiState, company: &str, name: &str) -> ApiResult<ModuleView> {
    let (install, versions) = s.app.store.read(|r| -> Result<_, StoreError> {
        Ok((
            r.get(&MODULE_INSTALLS, &company_key(company, name))?,
            r.scan(&MODULE_VERSIONS, &module_versions_prefix(company, name))?,
        ))
    })?;
    let standard = is_standard(name);
    if install.is_none() && versions.is_empty() && !standard {
        return Err(ApiError::not_found(format!("module {name:?}")));
    }
    let install = install.unwrap_or_default();
    Ok(ModuleView {
        name: name.to_string(),
        standard,
        active: (install.active != 0).then_some(install.active),
        history: install.history,
        versions,
        counters: s.app.counters.get(company, name),
    })
}

/// Upload a component (the raw bytes as body) as the next version of a module.
#[utoipa::path(put, path = "/api/v1/companies/{company}/modules/{name}", tag = "modules", params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/wasm"),
    responses((status = 201, body = ModuleVersion), (status = 422, body = super::error::ErrorBody)))]
pub async fn upload(
    State(s): State<ApiState>,
    access: Access,
    Path((company, name)): Path<(String, String)>,
    Params(query): Params<UploadQuery>,
    bytes: Bytes,
) -> ApiResult<(StatusCode, Json<ModuleVersion>)> {
    access.require_company(&company)?;
    super::company(&s, &company)?;
    upload_version(&s, &access, company, name, &query, bytes).await
}

/// Store `bytes` as the next version of `owner`'s module `name` (owner [`OPERATOR`]: the
/// operator's version of a standard module).
async fn upload_version(
    s: &ApiState,
    access: &Access,
    owner: String,
    name: String,
    query: &UploadQuery,
    bytes: Bytes,
) -> ApiResult<(StatusCode, Json<ModuleVersion>)> {
    check_name(&name)?;
    let operator = access.caller == Caller::Operator;
    let http_allow = match &query.http_allow {
        None => Vec::new(),
        Some(list) => parse_http_allow(list, operator)?,
    };
    let grants = Grants { mail: query.grant_mail, http_allow };
    let actor = access.actor();
    let app = s.app.clone();
    let activate = query.activate.unwrap_or(true);
    // Compiling a component takes milliseconds to seconds: off the async workers.
    let version = tokio::task::spawn_blocking(move || {
        app.sandbox.upload(&app.store, &actor, &owner, &name, &bytes, grants, activate)
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("upload task failed: {e}")))??;
    Ok((StatusCode::CREATED, Json(version)))
}

/// The company's modules: the standard ones and every uploaded one.
#[utoipa::path(get, path = "/api/v1/companies/{company}/modules", tag = "modules", responses((status = 200, body = [ModuleView])))]
pub async fn list(
    State(s): State<ApiState>,
    access: Access,
    Path(company): Path<String>,
) -> ApiResult<Json<Vec<ModuleView>>> {
    access.require_company(&company)?;
    super::company(&s, &company)?;
    let versions = s.app.store.read(|r| r.scan(&MODULE_VERSIONS, &company_prefix(&company)))?;
    let mut names: Vec<String> = standard_modules().iter().map(|(n, _)| n.to_string()).collect();
    names.extend(versions.into_iter().map(|v| v.name));
    names.sort();
    names.dedup();
    Ok(Json(names.iter().map(|name| view(&s, &company, name)).collect::<ApiResult<_>>()?))
}

/// A standard module as the operator sees it: what ships with the host and who uses it.
#[derive(Debug, Serialize, ToSchema)]
pub struct StandardModuleView {
    pub name: String,
    /// SHA-256 of the component, hex.
    pub sha256: String,
    /// Size of the component in bytes.
    pub size: u64,
    /// Decision interfaces it exports, e.g. "did-routing".
    pub decisions: Vec<String>,
    /// Interfaces it imports.
    pub imports: Vec<String>,
    /// The operator's version deciding for every company that has none of its own; none =
    /// the built-in one decides.
    pub active: Option<u32>,
    /// The operator's versions active before, oldest first.
    pub history: Vec<u32>,
    /// Every version the operator uploaded.
    pub versions: Vec<ModuleVersion>,
    /// Companies where their own uploaded version decides instead.
    pub replaced_in: Vec<String>,
    /// Decisions since the host started, summed over the companies it decides for now.
    pub counters: DecisionCounters,
}

/// The standard modules built into the host and the operator's versions of them
/// (operator only).
#[utoipa::path(get, path = "/api/v1/standard-modules", tag = "modules", responses((status = 200, body = [StandardModuleView])))]
pub async fn standard(State(s): State<ApiState>, access: Access) -> ApiResult<Json<Vec<StandardModuleView>>> {
    access.require_operator()?;
    let companies = s.app.store.read(|r| r.scan(&COMPANIES, ""))?;
    let mut views = Vec::new();
    for (name, bytes) in standard_modules() {
        let loaded = s
            .app
            .sandbox
            .load_standard(name)
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        let mut replaced_in = Vec::new();
        let mut counters = DecisionCounters::default();
        for company in &companies {
            let install = s.app.store.read(|r| r.get(&MODULE_INSTALLS, &company_key(&company.id, name)))?;
            if install.is_some_and(|install| install.active != 0) {
                replaced_in.push(company.id.clone());
                continue;
            }
            let of_company = s.app.counters.get(&company.id, name);
            counters.decisions += of_company.decisions;
            counters.failures += of_company.failures;
            if of_company.last_failure_at > counters.last_failure_at {
                counters.last_failure = of_company.last_failure.map(|why| format!("{}: {why}", company.id));
                counters.last_failure_at = of_company.last_failure_at;
            }
        }
        let (install, versions) = s.app.store.read(|r| -> Result<_, StoreError> {
            Ok((
                r.get(&MODULE_INSTALLS, &company_key(OPERATOR, name))?.unwrap_or_default(),
                r.scan(&MODULE_VERSIONS, &module_versions_prefix(OPERATOR, name))?,
            ))
        })?;
        views.push(StandardModuleView {
            name: name.to_string(),
            active: (install.active != 0).then_some(install.active),
            history: install.history,
            versions,
            sha256: loaded.sha256.clone(),
            size: bytes.len() as u64,
            decisions: loaded.info.decisions.iter().map(|d| d.interface().to_string()).collect(),
            imports: loaded.info.imports.clone(),
            replaced_in,
            counters,
        });
    }
    Ok(Json(views))
}

/// One module with its versions and counters.
#[utoipa::path(get, path = "/api/v1/companies/{company}/modules/{name}", tag = "modules", responses((status = 200, body = ModuleView)))]
pub async fn get(
    State(s): State<ApiState>,
    access: Access,
    Path((company, name)): Path<(String, String)>,
) -> ApiResult<Json<ModuleView>> {
    access.require_company(&company)?;
    super::company(&s, &company)?;
    Ok(Json(view(&s, &company, &name)?))
}

/// Make a version active; calls already deciding finish on the version they started with.
#[utoipa::path(post, path = "/api/v1/companies/{company}/modules/{name}/activate", tag = "modules", request_body = ActivateBody, responses((status = 200, body = ModuleInstall)))]
pub async fn activate(
    State(s): State<ApiState>,
    access: Access,
    Path((company, name)): Path<(String, String)>,
    Body(body): Body<ActivateBody>,
) -> ApiResult<Json<ModuleInstall>> {
    access.require_company(&company)?;
    Ok(Json(s.app.sandbox.activate(&s.app.store, &access.actor(), &company, &name, body.version)?))
}

/// Return to the version active before the current one.
#[utoipa::path(post, path = "/api/v1/companies/{company}/modules/{name}/rollback", tag = "modules", responses((status = 200, body = ModuleInstall)))]
pub async fn rollback(
    State(s): State<ApiState>,
    access: Access,
    Path((company, name)): Path<(String, String)>,
) -> ApiResult<Json<ModuleInstall>> {
    access.require_company(&company)?;
    Ok(Json(s.app.sandbox.rollback(&s.app.store, &access.actor(), &company, &name)?))
}

/// Use the standard module again: the operator's version if there is one, else the
/// built-in one. A rollback returns to the version active before.
#[utoipa::path(post, path = "/api/v1/companies/{company}/modules/{name}/deactivate", tag = "modules", responses((status = 200, body = ModuleInstall), (status = 409, body = super::error::ErrorBody)))]
pub async fn deactivate(
    State(s): State<ApiState>,
    access: Access,
    Path((company, name)): Path<(String, String)>,
) -> ApiResult<Json<ModuleInstall>> {
    access.require_company(&company)?;
    super::company(&s, &company)?;
    Ok(Json(s.app.sandbox.deactivate(&s.app.store, &access.actor(), &company, &name)?))
}

/// Refuse anyone but the operator, and names that are no standard module.
fn operator_standard(access: &Access, name: &str) -> ApiResult<()> {
    access.require_operator()?;
    if !is_standard(name) {
        return Err(ApiError::not_found(format!("standard module {name:?}")));
    }
    Ok(())
}

/// Upload the operator's next version of a standard module: it decides for every company
/// that has no version of its own (operator only).
#[utoipa::path(put, path = "/api/v1/standard-modules/{name}", tag = "modules", params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/wasm"),
    responses((status = 201, body = ModuleVersion), (status = 422, body = super::error::ErrorBody)))]
pub async fn upload_standard(
    State(s): State<ApiState>,
    access: Access,
    Path(name): Path<String>,
    Params(query): Params<UploadQuery>,
    bytes: Bytes,
) -> ApiResult<(StatusCode, Json<ModuleVersion>)> {
    operator_standard(&access, &name)?;
    upload_version(&s, &access, OPERATOR.to_string(), name, &query, bytes).await
}

/// Make one of the operator's versions of a standard module active (operator only).
#[utoipa::path(post, path = "/api/v1/standard-modules/{name}/activate", tag = "modules", request_body = ActivateBody, responses((status = 200, body = ModuleInstall)))]
pub async fn activate_standard(
    State(s): State<ApiState>,
    access: Access,
    Path(name): Path<String>,
    Body(body): Body<ActivateBody>,
) -> ApiResult<Json<ModuleInstall>> {
    operator_standard(&access, &name)?;
    Ok(Json(s.app.sandbox.activate(&s.app.store, &access.actor(), OPERATOR, &name, body.version)?))
}

/// Return to the operator's version active before (operator only).
#[utoipa::path(post, path = "/api/v1/standard-modules/{name}/rollback", tag = "modules", responses((status = 200, body = ModuleInstall)))]
pub async fn rollback_standard(
    State(s): State<ApiState>,
    access: Access,
    Path(name): Path<String>,
) -> ApiResult<Json<ModuleInstall>> {
    operator_standard(&access, &name)?;
    Ok(Json(s.app.sandbox.rollback(&s.app.store, &access.actor(), OPERATOR, &name)?))
}

/// Give every company without a version of its own the built-in module again (operator
/// only); a rollback returns to the operator's version.
#[utoipa::path(post, path = "/api/v1/standard-modules/{name}/deactivate", tag = "modules", responses((status = 200, body = ModuleInstall)))]
pub async fn deactivate_standard(
    State(s): State<ApiState>,
    access: Access,
    Path(name): Path<String>,
) -> ApiResult<Json<ModuleInstall>> {
    operator_standard(&access, &name)?;
    Ok(Json(s.app.sandbox.deactivate(&s.app.store, &access.actor(), OPERATOR, &name)?))
}

/// Parse an `http_allow` list: "host" or "host:port" entries (IPv6 in brackets),
/// lower-cased, a trailing dot dropped. Loopback, private, link-local and unspecified
/// addresses (and "localhost") reach the operator's own network: only the operator may
/// allow them.
pub(super) fn parse_http_allow(list: &str, operator: bool) -> ApiResult<Vec<String>> {
    let bad = |entry: &str, why: &str| ApiError::field("http_allow", format!("{entry:?}: {why}"));
    let mut hosts = Vec::new();
    for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let lower = entry.to_ascii_lowercase();
        let (host, port) = match lower.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(':') && (!host.contains(':') || host.starts_with('[')) => {
                let port: u16 = port.parse().map_err(|_| bad(entry, "the port is not a number 1-65535"))?;
                if port == 0 {
                    return Err(bad(entry, "the port is not a number 1-65535"));
                }
                (host.to_string(), Some(port))
            }
            _ => (lower.clone(), None),
        };
        let host = host.strip_suffix('.').unwrap_or(&host).to_string();
        let address = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(v6) => Some(v6.parse::<std::net::IpAddr>().map_err(|_| bad(entry, "not an IPv6 address"))?),
            None if host.contains(':') => {
                return Err(bad(entry, "write IPv6 addresses in brackets, e.g. [2001:db8::1]:8080"));
            }
            None => host.parse::<std::net::IpAddr>().ok(),
        };
        let name_ok = !host.is_empty()
            && host.len() <= 253
            && host.bytes().all(|b| {
                b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'[' || b == b']' || b == b':'
            });
        if !name_ok {
            return Err(bad(entry, "not a host name, IP address or host:port"));
        }
        let internal = host == "localhost"
            || host.ends_with(".localhost")
            || address.is_some_and(|ip| match ip {
                std::net::IpAddr::V4(v4) => {
                    v4.is_loopback()
                        || v4.is_private()
                        || v4.is_link_local()
                        || v4.is_unspecified()
                        || v4.is_broadcast()
                }
                std::net::IpAddr::V6(v6) => {
                    v6.is_loopback()
                        || v6.is_unspecified()
                        || v6.is_unique_local()
                        || v6.is_unicast_link_local()
                }
            });
        if internal && !operator {
            return Err(ApiError::forbidden(format!(
                "http_allow: {entry:?} is an internal address; only the operator may allow it"
            )));
        }
        hosts.push(match port {
            Some(port) => format!("{host}:{port}"),
            None => host,
        });
    }
    Ok(hosts)
}

#[cfg(test)]
mod tests {
    use super::parse_http_allow;

    #[test]
    fn http_allow_entries_are_normalised_and_checked() {
        assert_eq!(
            parse_http_allow("CRM.Example.com., api.example.com:8443, [2001:db8::1]:80", false).unwrap(),
            ["crm.example.com", "api.example.com:8443", "[2001:db8::1]:80"]
        );
        for bad in ["https://crm.example.com", "crm.example.com/path", "::1", "crm:port", "host:0"] {
            assert!(parse_http_allow(bad, true).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_the_operator_may_allow_internal_addresses() {
        for internal in
            ["127.0.0.1:9000", "localhost", "10.1.2.3", "192.168.0.1", "169.254.169.254", "[::1]", "0.0.0.0"]
        {
            let error = parse_http_allow(internal, false).unwrap_err();
            assert_eq!(error.status, axum::http::StatusCode::FORBIDDEN, "{internal}");
            assert!(parse_http_allow(internal, true).is_ok(), "{internal}");
        }
    }
}
