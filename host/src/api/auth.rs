//! Who is calling: the operator (one token for the whole host) or a company (one of its
//! API keys, stored only as SHA-256). A company key reaches only its own company.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use sha2::{Digest, Sha256};

use super::ApiState;
use super::error::{ApiError, ApiResult};
use crate::audit::Actor;
use crate::constant_time;
use crate::store::{API_KEYS, Read};

/// The operator token, kept as a hash and compared in constant time.
#[derive(Clone)]
pub struct Auth {
    operator_sha256: [u8; 32],
}

impl Auth {
    pub fn new(operator_token: String) -> Auth {
        Auth { operator_sha256: Sha256::digest(operator_token.as_bytes()).into() }
    }
}

/// The hex SHA-256 under which a company key is stored.
pub fn key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Operator,
    Company { company: String, key_id: String },
}

/// The caller of a request and where it came from.
pub struct Access {
    pub caller: Caller,
    pub client_ip: Option<String>,
}

impl Access {
    /// The actor recorded in audit entries.
    pub fn actor(&self) -> Actor {
        let who = match &self.caller {
            Caller::Operator => "operator".to_string(),
            Caller::Company { key_id, .. } => format!("key:{key_id}"),
        };
        Actor { who, client_ip: self.client_ip.clone() }
    }

    /// Refuse anyone but the operator.
    pub fn require_operator(&self) -> ApiResult<()> {
        match self.caller {
            Caller::Operator => Ok(()),
            Caller::Company { .. } => Err(ApiError::forbidden("only the operator may do this")),
        }
    }

    /// Refuse anyone but the operator and `company`'s own keys.
    pub fn require_company(&self, company: &str) -> ApiResult<()> {
        match &self.caller {
            Caller::Operator => Ok(()),
            Caller::Company { company: own, .. } if own == company => Ok(()),
            Caller::Company { .. } => Err(ApiError::forbidden("this API key belongs to another company")),
        }
    }
}

impl FromRequestParts<ApiState> for Access {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        let client_ip = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip().to_string());
        let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, m);
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| unauthorized("missing 'Authorization: Bearer <token>' header"))?;
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if constant_time::eq(&digest, &state.auth.operator_sha256) {
            return Ok(Access { caller: Caller::Operator, client_ip });
        }
        let key = state.app.store.read(|r| r.get(&API_KEYS, &hex::encode(digest)))?;
        match key {
            Some(key) => {
                Ok(Access { caller: Caller::Company { company: key.company, key_id: key.id }, client_ip })
            }
            None => Err(unauthorized("unknown token")),
        }
    }
}
