//! Who is calling: the operator (one token for the whole host) or a company (one of its
//! API keys, stored only as SHA-256). A company key reaches only its own company. A panel
//! session (its cookie) stands for a bearer token: the operator, a company's admin (as a
//! company key) or a user (as a user key); a change made through one must carry the
//! session's CSRF token.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use sha2::{Digest, Sha256};

use super::ApiState;
use super::error::{ApiError, ApiResult};
use crate::audit::Actor;
use crate::constant_time;
use crate::events::Scope;
use crate::panel::sessions::{CSRF_HEADER, Login, cookie_session};
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

    /// Whether `token` is the operator token (compared in constant time).
    pub fn is_operator(&self, token: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        constant_time::eq(&digest, &self.operator_sha256)
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
    Company {
        company: String,
        key_id: String,
    },
    /// A key of one user of a company: that user's calls and call events only.
    User {
        company: String,
        extension: String,
        key_id: String,
    },
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
            // A panel session's id already says who logged in ("login:acme/100").
            Caller::Company { key_id, .. } | Caller::User { key_id, .. } if key_id.starts_with("login:") => {
                key_id.clone()
            }
            Caller::Company { key_id, .. } | Caller::User { key_id, .. } => format!("key:{key_id}"),
        };
        Actor { who, client_ip: self.client_ip.clone() }
    }

    /// Refuse anyone but the operator.
    pub fn require_operator(&self) -> ApiResult<()> {
        match self.caller {
            Caller::Operator => Ok(()),
            Caller::Company { .. } | Caller::User { .. } => {
                Err(ApiError::forbidden("only the operator may do this"))
            }
        }
    }

    /// Refuse anyone but the operator and `company`'s own keys.
    pub fn require_company(&self, company: &str) -> ApiResult<()> {
        match &self.caller {
            Caller::Operator => Ok(()),
            Caller::Company { company: own, .. } if own == company => Ok(()),
            Caller::Company { .. } => Err(ApiError::forbidden("this API key belongs to another company")),
            Caller::User { .. } => Err(ApiError::forbidden(
                "this API key acts for one user: it reaches only that user's calls and call events",
            )),
        }
    }

    /// Refuse anyone but the operator, `company`'s own keys and `extension`'s own user key
    /// or session (a user manages their own devices and web phone mode).
    pub fn require_user(&self, company: &str, extension: &str) -> ApiResult<()> {
        match &self.caller {
            Caller::User { company: own, extension: own_extension, .. }
                if own == company && own_extension == extension =>
            {
                Ok(())
            }
            Caller::User { .. } => Err(ApiError::forbidden("a user reaches only their own extension")),
            _ => self.require_company(company),
        }
    }

    /// Whose recordings and voicemail of `company` the caller reaches: `None` = all of
    /// them (the operator, the company's keys), `Some(extension)` = that user's own only
    /// (a user's key or portal session); another company's caller is refused.
    pub fn personal_reach(&self, company: &str) -> ApiResult<Option<&str>> {
        match &self.caller {
            Caller::User { company: own, extension, .. } if own == company => Ok(Some(extension)),
            Caller::User { .. } => Err(ApiError::forbidden("this API key belongs to another company")),
            _ => self.require_company(company).map(|()| None),
        }
    }

    /// The company a company or user key belongs to; none for the operator.
    pub fn own_company(&self) -> Option<&str> {
        match &self.caller {
            Caller::Operator => None,
            Caller::Company { company, .. } | Caller::User { company, .. } => Some(company),
        }
    }

    /// Which of `company`'s calls the caller may see and control: all for the operator
    /// and the company's keys, its own for a user's key.
    pub fn call_scope(&self, company: &str) -> ApiResult<Scope> {
        match &self.caller {
            Caller::Operator => Ok(Scope::Company),
            Caller::Company { company: own, .. } if own == company => Ok(Scope::Company),
            Caller::User { company: own, extension, .. } if own == company => {
                Ok(Scope::User(extension.clone()))
            }
            Caller::Company { .. } | Caller::User { .. } => {
                Err(ApiError::forbidden("this API key belongs to another company"))
            }
        }
    }
}

impl FromRequestParts<ApiState> for Access {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        let client_ip = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip().to_string());
        let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, m);
        let header_token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .map(str::to_string);
        let Some(token) = header_token.or_else(|| websocket_query_token(parts)) else {
            return session_access(parts, state, client_ip);
        };
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if constant_time::eq(&digest, &state.auth.operator_sha256) {
            return Ok(Access { caller: Caller::Operator, client_ip });
        }
        let key = state.app.store.read(|r| r.get(&API_KEYS, &hex::encode(digest)))?;
        match key {
            Some(key) => {
                let caller = match key.user {
                    Some(extension) => Caller::User { company: key.company, extension, key_id: key.id },
                    None => Caller::Company { company: key.company, key_id: key.id },
                };
                Ok(Access { caller, client_ip })
            }
            None => Err(unauthorized("unknown token")),
        }
    }
}

/// The caller of a request without a token: its panel session, if it has a live one.
fn session_access(parts: &Parts, state: &ApiState, client_ip: Option<String>) -> Result<Access, ApiError> {
    let cookies =
        parts.headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).map(str::to_string);
    let Some(session) = cookie_session(cookies).and_then(|id| state.sessions.get(&id)) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing 'Authorization: Bearer <token>' header (or a panel session)",
        ));
    };
    if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !constant_time::eq(sent.as_bytes(), session.csrf.as_bytes()) {
            return Err(ApiError::forbidden("a change made from a panel session needs its CSRF token"));
        }
    }
    let key_id = session.login.actor();
    let caller = match session.login {
        Login::Operator => Caller::Operator,
        Login::Admin { company, .. } => Caller::Company { company, key_id },
        Login::User { company, extension } => Caller::User { company, extension, key_id },
    };
    Ok(Access { caller, client_ip })
}

/// A browser cannot set headers on a WebSocket: its upgrade request may carry the token as
/// `?access_token=` instead (only there, so tokens stay out of other URLs and their logs).
fn websocket_query_token(parts: &Parts) -> Option<String> {
    let upgrade = parts.headers.get(header::UPGRADE).and_then(|v| v.to_str().ok());
    if !upgrade.is_some_and(|v| v.eq_ignore_ascii_case("websocket")) {
        return None;
    }
    let query = parts.uri.query()?;
    query.split('&').find_map(|pair| {
        let value = pair.strip_prefix("access_token=")?;
        Some(percent_decode(value))
    })
}

/// `%XX` escapes and `+` of a query value decoded (tokens are ASCII; bad escapes stay).
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = (bytes[i] == b'%')
            .then(|| value.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[i], decoded) {
            (_, Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (byte, None) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use axum::http::Request;

    use super::*;

    fn parts(uri: &str, upgrade: Option<&str>) -> Parts {
        let mut request = Request::builder().uri(uri);
        if let Some(upgrade) = upgrade {
            request = request.header(header::UPGRADE, upgrade);
        }
        request.body(()).expect("a request").into_parts().0
    }

    #[test]
    fn a_websocket_upgrade_may_carry_its_token_in_the_query() {
        let upgrade = parts("/api/v1/companies/acme/events?x=1&access_token=ck_ab%2Bc+d", Some("websocket"));
        assert_eq!(websocket_query_token(&upgrade).as_deref(), Some("ck_ab+c d"));
    }

    #[test]
    fn other_requests_never_take_a_token_from_the_url() {
        let plain = parts("/api/v1/companies/acme/calls?access_token=ck_abc", None);
        assert_eq!(websocket_query_token(&plain), None);
        let other_upgrade = parts("/api/v1/companies/acme/calls?access_token=ck_abc", Some("h2c"));
        assert_eq!(websocket_query_token(&other_upgrade), None);
    }

    #[test]
    fn broken_escapes_are_kept_as_written() {
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
        assert_eq!(percent_decode("%E2%82%AC"), "€");
    }
}
