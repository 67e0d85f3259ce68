//! Panel sessions: a random id in a secure, HTTP-only, same-site cookie names who logged
//! in, and each session carries a CSRF token that the pages send back in a header with
//! every change (a cookie alone never changes anything). Sessions live in memory: a
//! restart asks everyone to log in again.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The cookie that carries the session id.
pub const COOKIE: &str = "centralita_session";
/// The header a page sends the session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// A session unused this long is over.
pub const IDLE_LIMIT: Duration = Duration::from_secs(8 * 3600);
/// Sessions kept at most; past it the least recently used goes.
const MAX_SESSIONS: usize = 10_000;

/// Who logged in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// The operator of the whole host.
    Operator,
    /// A company's user with the admin role: the company's pages.
    Admin { company: String, extension: String },
    /// A company's user: their own portal.
    User { company: String, extension: String },
}

impl Login {
    /// What the panel shows of this login: "operator", "admin" or "user".
    pub fn role(&self) -> &'static str {
        match self {
            Login::Operator => "operator",
            Login::Admin { .. } => "admin",
            Login::User { .. } => "user",
        }
    }

    /// The audit log's name for this login, e.g. `login:acme/100`.
    pub fn actor(&self) -> String {
        match self {
            Login::Operator => "login:operator".to_string(),
            Login::Admin { company, extension } | Login::User { company, extension } => {
                format!("login:{company}/{extension}")
            }
        }
    }
}

/// One logged-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    pub login: Login,
    pub csrf: String,
    last_used: Instant,
}

#[derive(Default)]
pub struct Sessions {
    live: Mutex<HashMap<String, Session>>,
}

/// 128 random bits as hex: a session id or a CSRF token.
fn token() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

impl Sessions {
    fn live(&self) -> MutexGuard<'_, HashMap<String, Session>> {
        // A map of sessions is whole after any panic elsewhere: keep using it.
        crate::sync::lock(&self.live)
    }

    /// A new session for `login`: its id (the cookie's value) and the session.
    pub fn start(&self, login: Login) -> (String, Session) {
        let now = Instant::now();
        let mut live = self.live();
        live.retain(|_, session| now.duration_since(session.last_used) < IDLE_LIMIT);
        if live.len() >= MAX_SESSIONS
            && let Some(oldest) = live.iter().min_by_key(|(_, s)| s.last_used).map(|(id, _)| id.clone())
        {
            live.remove(&oldest);
        }
        let (id, session) = (token(), Session { login, csrf: token(), last_used: now });
        live.insert(id.clone(), session.clone());
        (id, session)
    }

    /// The live session `id`, marked as used now.
    pub fn get(&self, id: &str) -> Option<Session> {
        let now = Instant::now();
        let mut live = self.live();
        let session = live.get_mut(id)?;
        if now.duration_since(session.last_used) >= IDLE_LIMIT {
            live.remove(id);
            return None;
        }
        session.last_used = now;
        Some(session.clone())
    }

    /// Log session `id` out.
    pub fn end(&self, id: &str) {
        self.live().remove(id);
    }
}

/// The session id in a request's `Cookie` header values, if any.
pub fn cookie_session(cookies: impl Iterator<Item = String>) -> Option<String> {
    cookies
        .flat_map(|header| {
            header
                .split(';')
                .filter_map(|pair| {
                    let (name, value) = pair.trim().split_once('=')?;
                    (name == COOKIE).then(|| value.to_string())
                })
                .collect::<Vec<_>>()
        })
        .next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_found_by_its_id_until_logged_out_and_ids_and_tokens_differ() {
        let sessions = Sessions::default();
        let login = Login::Admin { company: "acme".into(), extension: "100".into() };
        let (id, session) = sessions.start(login.clone());
        assert_ne!(id, session.csrf);
        assert_eq!(sessions.get(&id).map(|s| s.login), Some(login));
        let (other, _) = sessions.start(Login::Operator);
        assert_ne!(id, other);
        sessions.end(&id);
        assert!(sessions.get(&id).is_none());
        assert!(sessions.get("not-a-session").is_none());
    }

    #[test]
    fn the_session_cookie_is_read_among_others() {
        let headers = vec!["theme=dark; centralita_session=abc123; lang=es".to_string()];
        assert_eq!(cookie_session(headers.into_iter()), Some("abc123".into()));
        assert_eq!(cookie_session(vec!["theme=dark".to_string()].into_iter()), None);
    }
}
