//! Aliases (short numbers, SPEC.md §1) and named external numbers: two small per-company
//! directories with the same create/list/get/replace/delete shape.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::Access;
use super::error::{ApiError, ApiResult};
use super::extract::Body;
use super::{ApiState, validate};
use crate::store::records::{Alias, ExternalNumber};
use crate::store::*;

/// A directory entry type: its table, key and checks.
trait Entry: Serialize + DeserializeOwned + Send + 'static {
    type Body: DeserializeOwned + Send;
    /// "alias", "external_number": audit action prefix and error text.
    const KIND: &'static str;
    /// URL segment, e.g. "aliases".
    const SEGMENT: &'static str;
    fn collection() -> &'static Collection<Self>;
    fn build(company: &str, body: Self::Body) -> ApiResult<Self>;
    fn key(&self) -> &str;
    /// Whether the key is dialled (an alias): then it must be free in the company's
    /// number space.
    const DIALLED: bool;
}

/// An alias as created or replaced.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AliasBody {
    /// The short number dialled (1-10 digits).
    pub number: String,
    /// The real number it dials.
    pub target: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub description: String,
}

impl Entry for Alias {
    type Body = AliasBody;
    const KIND: &'static str = "alias";
    const SEGMENT: &'static str = "aliases";
    const DIALLED: bool = true;
    fn collection() -> &'static Collection<Self> {
        &ALIASES
    }
    fn build(company: &str, body: AliasBody) -> ApiResult<Alias> {
        validate::number("number", &body.number, 1, 10)?;
        validate::number("target", &body.target, 1, 20)?;
        Ok(Alias {
            company: company.into(),
            number: body.number,
            target: body.target,
            display_name: body.display_name,
            description: body.description,
        })
    }
    fn key(&self) -> &str {
        &self.number
    }
}

/// An external number as created or replaced.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExternalNumberBody {
    /// The name destinations use.
    pub name: String,
    /// The number dialled.
    pub number: String,
    #[serde(default)]
    pub description: String,
}

impl Entry for ExternalNumber {
    type Body = ExternalNumberBody;
    const KIND: &'static str = "external_number";
    const SEGMENT: &'static str = "external-numbers";
    const DIALLED: bool = false;
    fn collection() -> &'static Collection<Self> {
        &EXTERNAL_NUMBERS
    }
    fn build(company: &str, body: ExternalNumberBody) -> ApiResult<ExternalNumber> {
        validate::name("name", &body.name)?;
        validate::number("number", &body.number, 3, 20)?;
        Ok(ExternalNumber {
            company: company.into(),
            name: body.name,
            number: body.number,
            description: body.description,
        })
    }
    fn key(&self) -> &str {
        &self.name
    }
}

fn entity<E: Entry>(company: &str, key: &str) -> String {
    format!("{company}/{}/{key}", E::SEGMENT)
}

fn create<E: Entry>(s: &ApiState, access: &Access, company: &str, body: E::Body) -> ApiResult<E> {
    access.require_company(company)?;
    super::company(s, company)?;
    let record = E::build(company, body)?;
    let actor = access.actor();
    s.app.store.write(|tx| {
        let key = company_key(company, record.key());
        if tx.get(E::collection(), &key)?.is_some() {
            return Err(ApiError::conflict(format!("{} {:?} already exists", E::KIND, record.key())));
        }
        if E::DIALLED {
            super::numbers::check_free(tx, company, record.key(), super::numbers::Own::Alias, "number")?;
        }
        tx.put(E::collection(), &key, &record)?;
        tx.audit(actor.entry(
            Some(company),
            &format!("{}.create", E::KIND),
            entity::<E>(company, record.key()),
            None,
        ))?;
        Ok(())
    })?;
    Ok(record)
}

fn list<E: Entry>(s: &ApiState, access: &Access, company: &str) -> ApiResult<Vec<E>> {
    access.require_company(company)?;
    super::company(s, company)?;
    Ok(s.app.store.read(|r| r.scan(E::collection(), &company_prefix(company)))?)
}

fn get<E: Entry>(s: &ApiState, access: &Access, company: &str, key: &str) -> ApiResult<E> {
    access.require_company(company)?;
    s.app
        .store
        .read(|r| r.get(E::collection(), &company_key(company, key)))?
        .ok_or_else(|| ApiError::not_found(format!("{} {key:?}", E::KIND)))
}

fn update<E: Entry>(s: &ApiState, access: &Access, company: &str, key: &str, body: E::Body) -> ApiResult<E> {
    access.require_company(company)?;
    let record = E::build(company, body)?;
    if record.key() != key {
        return Err(ApiError::field(
            if E::KIND == "alias" { "number" } else { "name" },
            "cannot be changed; delete and create instead",
        ));
    }
    let actor = access.actor();
    s.app.store.write(|tx| {
        let full_key = company_key(company, key);
        if tx.get(E::collection(), &full_key)?.is_none() {
            return Err(ApiError::not_found(format!("{} {key:?}", E::KIND)));
        }
        tx.put(E::collection(), &full_key, &record)?;
        tx.audit(actor.entry(
            Some(company),
            &format!("{}.update", E::KIND),
            entity::<E>(company, key),
            None,
        ))?;
        Ok(())
    })?;
    Ok(record)
}

fn delete<E: Entry>(s: &ApiState, access: &Access, company: &str, key: &str) -> ApiResult<StatusCode> {
    access.require_company(company)?;
    let actor = access.actor();
    s.app.store.write(|tx| {
        if !tx.delete(E::collection(), &company_key(company, key))? {
            return Err(ApiError::not_found(format!("{} {key:?}", E::KIND)));
        }
        tx.audit(actor.entry(
            Some(company),
            &format!("{}.delete", E::KIND),
            entity::<E>(company, key),
            None,
        ))?;
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT)
}

/// Create an alias.
#[utoipa::path(post, path = "/api/v1/companies/{company}/aliases", tag = "directory", request_body = AliasBody, responses((status = 201, body = Alias)))]
pub async fn create_alias(
    State(s): State<ApiState>,
    a: Access,
    Path(c): Path<String>,
    Body(b): Body<AliasBody>,
) -> ApiResult<(StatusCode, Json<Alias>)> {
    Ok((StatusCode::CREATED, Json(create(&s, &a, &c, b)?)))
}
/// List aliases.
#[utoipa::path(get, path = "/api/v1/companies/{company}/aliases", tag = "directory", responses((status = 200, body = [Alias])))]
pub async fn list_aliases(
    State(s): State<ApiState>,
    a: Access,
    Path(c): Path<String>,
) -> ApiResult<Json<Vec<Alias>>> {
    Ok(Json(list(&s, &a, &c)?))
}
/// One alias.
#[utoipa::path(get, path = "/api/v1/companies/{company}/aliases/{number}", tag = "directory", responses((status = 200, body = Alias)))]
pub async fn get_alias(
    State(s): State<ApiState>,
    a: Access,
    Path((c, k)): Path<(String, String)>,
) -> ApiResult<Json<Alias>> {
    Ok(Json(get(&s, &a, &c, &k)?))
}
/// Replace an alias.
#[utoipa::path(put, path = "/api/v1/companies/{company}/aliases/{number}", tag = "directory", request_body = AliasBody, responses((status = 200, body = Alias)))]
pub async fn update_alias(
    State(s): State<ApiState>,
    a: Access,
    Path((c, k)): Path<(String, String)>,
    Body(b): Body<AliasBody>,
) -> ApiResult<Json<Alias>> {
    Ok(Json(update(&s, &a, &c, &k, b)?))
}
/// Delete an alias.
#[utoipa::path(delete, path = "/api/v1/companies/{company}/aliases/{number}", tag = "directory", responses((status = 204)))]
pub async fn delete_alias(
    State(s): State<ApiState>,
    a: Access,
    Path((c, k)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    delete::<Alias>(&s, &a, &c, &k)
}
/// Create an external number.
#[utoipa::path(post, path = "/api/v1/companies/{company}/external-numbers", tag = "directory", request_body = ExternalNumberBody, responses((status = 201, body = ExternalNumber)))]
pub async fn create_external(
    State(s): State<ApiState>,
    a: Access,
    Path(c): Path<String>,
    Body(b): Body<ExternalNumberBody>,
) -> ApiResult<(StatusCode, Json<ExternalNumber>)> {
    Ok((StatusCode::CREATED, Json(create(&s, &a, &c, b)?)))
}
/// List external numbers.
#[utoipa::path(get, path = "/api/v1/companies/{company}/external-numbers", tag = "directory", responses((status = 200, body = [ExternalNumber])))]
pub async fn list_external(
    State(s): State<ApiState>,
    a: Access,
    Path(c): Path<String>,
) -> ApiResult<Json<Vec<ExternalNumber>>> {
    Ok(Json(list(&s, &a, &c)?))
}
/// One external number.
#[utoipa::path(get, path = "/api/v1/companies/{company}/external-numbers/{name}", tag = "directory", responses((status = 200, body = ExternalNumber)))]
pub async fn get_external(
    State(s): State<ApiState>,
    a: Access,
    Path((c, k)): Path<(String, String)>,
) -> ApiResult<Json<ExternalNumber>> {
    Ok(Json(get(&s, &a, &c, &k)?))
}
/// Replace an external number.
#[utoipa::path(put, path = "/api/v1/companies/{company}/external-numbers/{name}", tag = "directory", request_body = ExternalNumberBody, responses((status = 200, body = ExternalNumber)))]
pub async fn update_external(
    State(s): State<ApiState>,
    a: Access,
    Path((c, k)): Path<(String, String)>,
    Body(b): Body<ExternalNumberBody>,
) -> ApiResult<Json<ExternalNumber>> {
    Ok(Json(update(&s, &a, &c, &k, b)?))
}
/// Delete an external number.
#[utoipa::path(delete, path = "/api/v1/companies/{company}/external-numbers/{name}", tag = "directory", responses((status = 204)))]
pub async fn delete_external(
    State(s): State<ApiState>,
    a: Access,
    Path((c, k)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    delete::<ExternalNumber>(&s, &a, &c, &k)
}
