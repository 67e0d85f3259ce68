//! The web panel (issue 7): pages under `/panel`, served by the host with no front-end
//! build — one HTML page and plain ES modules that call the same `/api/v1` routes as any
//! client, authenticated by a session cookie instead of a bearer token.
//!
//! - [`sessions`]: who is logged in, and each session's CSRF token;
//! - this file: the login and logout routes, and the page and its scripts.
//!
//! One login form serves the three roles: the operator (user `operator`, the operator
//! token as password), a company's admin and a company's user (the company id, the
//! extension and its portal password). Logins and failed logins go to the audit log, and
//! failed ones count towards the address's ban like failed SIP authentications.

pub mod sessions;

use std::net::SocketAddr;
use std::time::SystemTime;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};

use crate::api::ApiState;
use crate::api::error::{ApiError, ApiResult};
use crate::api::https::SecureTransport;
use crate::audit::Actor;
use crate::store::records::{Role, User};
use crate::store::{Read, USERS, company_key};
use sessions::{COOKIE, CSRF_HEADER, IDLE_LIMIT, Login, cookie_session};

const PAGE: &str = include_str!("page/panel.html");
const SCRIPT: &str = include_str!("page/panel.js");
const STYLE: &str = include_str!("page/panel.css");
/// The icon every page of the host names (panel, web phone, rooms); without it browsers
/// ask for /favicon.ico and log the 404 as an error.
const ICON: &str = include_str!("page/icon.svg");

/// `/` (to the panel), `/panel` and its assets, and the session routes.
pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/panel") }))
        .route("/panel", get(|| async { Html(PAGE) }))
        .route(
            "/panel/panel.js",
            get(|| async { ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], SCRIPT) }),
        )
        .route(
            "/panel/panel.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE) }),
        )
        .route("/favicon.svg", get(|| async { ([(header::CONTENT_TYPE, "image/svg+xml")], ICON) }))
        .route("/panel/login", post(login))
        .route("/panel/logout", post(logout))
        .route("/panel/me", get(me))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    /// The company's id; empty for the operator.
    #[serde(default)]
    company: String,
    /// `operator`, or an extension of the company.
    user: String,
    password: String,
}

/// What a page knows of its session.
#[derive(Serialize)]
struct Me {
    /// "operator", "admin", "user", or none when not logged in.
    role: Option<&'static str>,
    company: Option<String>,
    extension: Option<String>,
    /// Sent back in the `x-csrf-token` header with every change.
    csrf: String,
}

impl Me {
    fn of(login: &Login, csrf: String) -> Me {
        let (company, extension) = match login {
            Login::Operator => (None, None),
            Login::Admin { company, extension } | Login::User { company, extension } => {
                (Some(company.clone()), Some(extension.clone()))
            }
        };
        Me { role: Some(login.role()), company, extension, csrf }
    }
}

/// `POST /panel/login`: a session for the right credentials (a cookie, and the CSRF
/// token in the body), 401 for wrong ones — the same answer for an unknown user.
async fn login(
    State(s): State<ApiState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    secure: Option<Extension<SecureTransport>>,
    Json(body): Json<LoginBody>,
) -> ApiResult<Response> {
    if !s.app.security.admits(peer.ip()) {
        return Err(ApiError::forbidden("this address is banned"));
    }
    let client_ip = Some(peer.ip().to_string());
    let company = (!body.company.is_empty()).then_some(body.company.as_str());
    let Some(login) = check(&s, &body).await? else {
        let actor = Actor { who: "anonymous".into(), client_ip };
        let entity = format!("{}/users/{}", body.company, body.user);
        s.app.store.write(|tx| tx.audit(actor.entry(company, "login.failed", entity, None)))?;
        let reason = format!("wrong panel password for {:?} of {:?}", body.user, body.company);
        s.app.security.auth_failed(peer.ip(), &reason, SystemTime::now());
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "wrong user or password"));
    };
    let actor = Actor { who: login.actor(), client_ip };
    let entity = match &login {
        Login::Operator => "operator".to_string(),
        Login::Admin { company, extension } | Login::User { company, extension } => {
            format!("{company}/users/{extension}")
        }
    };
    s.app.store.write(|tx| tx.audit(actor.entry(company, "login", entity, None)))?;
    let (id, session) = s.sessions.start(login);
    let secure = if secure.is_some() { "; Secure" } else { "" };
    let cookie =
        format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}", IDLE_LIMIT.as_secs());
    Ok(([(header::SET_COOKIE, cookie)], Json(Me::of(&session.login, session.csrf))).into_response())
}

/// Who `body` logs in as, if its password is right.
async fn check(s: &ApiState, body: &LoginBody) -> ApiResult<Option<Login>> {
    if body.company.is_empty() {
        let operator = body.user == "operator" && s.auth.is_operator(&body.password);
        return Ok(operator.then_some(Login::Operator));
    }
    let user: Option<User> = s.app.store.read(|r| r.get(&USERS, &company_key(&body.company, &body.user)))?;
    let Some(user) = user else { return Ok(None) };
    let Some(hash) = user.portal_password_hash.clone() else { return Ok(None) };
    let password = body.password.clone();
    // Argon2 is slow on purpose: off the async workers.
    let verified = tokio::task::spawn_blocking(move || {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        PasswordHash::new(&hash)
            .is_ok_and(|hash| argon2::Argon2::default().verify_password(password.as_bytes(), &hash).is_ok())
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    if !verified {
        return Ok(None);
    }
    let (company, extension) = (user.company, user.extension);
    Ok(Some(match user.role {
        Role::Admin => Login::Admin { company, extension },
        Role::User => Login::User { company, extension },
    }))
}

/// The session id of a request's cookies.
fn session_id(headers: &HeaderMap) -> Option<String> {
    cookie_session(headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).map(str::to_string))
}

/// `GET /panel/me`: the session's role, company, extension and CSRF token; a null role
/// without one (not an error: a page asks this before anyone logged in).
async fn me(State(s): State<ApiState>, headers: HeaderMap) -> Json<Me> {
    match session_id(&headers).and_then(|id| s.sessions.get(&id)) {
        Some(session) => Json(Me::of(&session.login, session.csrf)),
        None => Json(Me { role: None, company: None, extension: None, csrf: String::new() }),
    }
}

/// `POST /panel/logout` (with the CSRF token): the session ends and its cookie is cleared.
async fn logout(State(s): State<ApiState>, headers: HeaderMap) -> ApiResult<Response> {
    if let Some(id) = session_id(&headers)
        && let Some(session) = s.sessions.get(&id)
    {
        let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !crate::constant_time::eq(sent.as_bytes(), session.csrf.as_bytes()) {
            return Err(ApiError::forbidden("logging out needs the session's CSRF token"));
        }
        s.sessions.end(&id);
    }
    let cleared = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    Ok(([(header::SET_COOKIE, cleared)], StatusCode::NO_CONTENT).into_response())
}
