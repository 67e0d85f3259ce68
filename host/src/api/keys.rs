//! Company API keys: the secret is shown once, at creation, and stored only as SHA-256.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{Access, key_hash};
use super::error::{ApiError, ApiResult};
use super::extract::Body;
use super::{ApiState, validate};
use crate::store::records::ApiKey;
use crate::store::{API_KEYS, Read, USERS, company_key};

/// A key to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyBody {
    /// What the key is for, e.g. "crm".
    pub name: String,
    /// An extension: the key then acts for that user only (its calls and call events),
    /// and reaches nothing else of the company.
    #[serde(default)]
    pub user: Option<String>,
}

/// A key as listed: never its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    pub id: String,
    pub company: String,
    pub name: String,
    /// The user the key acts for; none = the company.
    pub user: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A new key, with its secret (shown this once).
#[derive(Debug, Serialize, ToSchema)]
pub struct NewKey {
    #[serde(flatten)]
    pub view: KeyView,
    /// The secret: send it as `Authorization: Bearer <key>`.
    pub key: String,
}

fn view(key: ApiKey) -> KeyView {
    KeyView { id: key.id, company: key.company, name: key.name, user: key.user, created_at: key.created_at }
}

/// Create an API key for the company.
#[utoipa::path(post, path = "/api/v1/companies/{company}/api-keys", tag = "api-keys", request_body = KeyBody, responses((status = 201, body = NewKey)))]
pub async fn create(
    State(s): State<ApiState>,
    access: Access,
    Path(company): Path<String>,
    Body(body): Body<KeyBody>,
) -> ApiResult<(StatusCode, Json<NewKey>)> {
    access.require_company(&company)?;
    super::company(&s, &company)?;
    validate::non_empty("name", &body.name)?;
    if let Some(user) = &body.user
        && s.app.store.read(|r| r.get(&USERS, &company_key(&company, user)))?.is_none()
    {
        return Err(ApiError::field("user", format!("{company} has no extension {user:?}")));
    }
    let secret = format!("ck_{}", hex::encode(rand::random::<[u8; 24]>()));
    let hash = key_hash(&secret);
    let record = ApiKey {
        id: hash[..12].to_string(),
        hash: hash.clone(),
        company: company.clone(),
        name: body.name,
        user: body.user,
        created_at: Utc::now(),
    };
    let actor = access.actor();
    s.app.store.write(|tx| {
        tx.put(&API_KEYS, &hash, &record)?;
        tx.audit(actor.entry(
            Some(&company),
            "api_key.create",
            format!("{company}/api-keys/{}", record.id),
            None,
        ))
    })?;
    Ok((StatusCode::CREATED, Json(NewKey { view: view(record), key: secret })))
}

/// List the company's keys.
#[utoipa::path(get, path = "/api/v1/companies/{company}/api-keys", tag = "api-keys", responses((status = 200, body = [KeyView])))]
pub async fn list(
    State(s): State<ApiState>,
    access: Access,
    Path(company): Path<String>,
) -> ApiResult<Json<Vec<KeyView>>> {
    access.require_company(&company)?;
    super::company(&s, &company)?;
    let keys = s.app.store.read(|r| r.scan(&API_KEYS, ""))?;
    Ok(Json(keys.into_iter().filter(|k| k.company == company).map(view).collect()))
}

/// Revoke a key.
#[utoipa::path(delete, path = "/api/v1/companies/{company}/api-keys/{id}", tag = "api-keys", responses((status = 204)))]
pub async fn delete(
    State(s): State<ApiState>,
    access: Access,
    Path((company, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    access.require_company(&company)?;
    let actor = access.actor();
    s.app.store.write(|tx| {
        let keys = tx.scan(&API_KEYS, "")?;
        let key = keys
            .into_iter()
            .find(|k| k.company == company && k.id == id)
            .ok_or_else(|| ApiError::not_found(format!("API key {id}")))?;
        tx.delete(&API_KEYS, &key.hash)?;
        tx.audit(actor.entry(Some(&company), "api_key.delete", format!("{company}/api-keys/{id}"), None))?;
        Ok::<_, ApiError>(())
    })?;
    Ok(StatusCode::NO_CONTENT)
}
