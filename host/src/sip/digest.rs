//! HTTP Digest authentication as SIP uses it (RFC 3261 §22.4, RFC 2617, RFC 7616 for
//! SHA-256, RFC 8760 for SIP): challenges, parsing the `Authorization` header, and
//! checking a response.
//!
//! The header is parsed here rather than by rsip, which reads `nc` as a decimal number
//! (`nc=0000000a` fails). Nonces are stateless: a timestamp and an HMAC of it with a
//! secret of the process, so any host holding the secret checks them and an expired one
//! is answered `stale=true` (the phone retries without asking its user).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use md5::Md5;
use sha2::{Digest, Sha256};

use crate::constant_time;

/// How long a nonce is accepted.
pub const NONCE_LIFETIME: Duration = Duration::from_secs(300);

/// The hash of a digest exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    /// The name in headers.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    fn parse(name: &str) -> Option<Algorithm> {
        match name.to_ascii_uppercase().as_str() {
            "MD5" => Some(Algorithm::Md5),
            "SHA-256" => Some(Algorithm::Sha256),
            _ => None,
        }
    }

    fn hash(self, text: &str) -> String {
        match self {
            Algorithm::Md5 => hex::encode(Md5::digest(text.as_bytes())),
            Algorithm::Sha256 => hex::encode(Sha256::digest(text.as_bytes())),
        }
    }
}

/// Why an `Authorization` header was not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("not a Digest authorization")]
    NotDigest,
    #[error("malformed parameter list near {0:?}")]
    Malformed(String),
    #[error("missing parameter {0}")]
    Missing(&'static str),
    #[error("unsupported algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    #[error("unsupported qop {0:?} (only \"auth\")")]
    UnsupportedQop(String),
    #[error("nc {0:?} is not 8 hex digits")]
    BadNonceCount(String),
}

/// The parameters of a `Digest` `Authorization` (or `Proxy-Authorization`) header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    pub response: String,
    pub algorithm: Algorithm,
    pub opaque: Option<String>,
    /// With `qop=auth`: the client nonce and the nonce count.
    pub qop_auth: Option<(String, u32)>,
}

/// Split `a=b, c="d, e"` into pairs, honouring quotes and backslash escapes.
fn parameters(text: &str) -> Result<Vec<(String, String)>, DigestError> {
    let mut pairs = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let (name, after) =
            rest.split_once('=').ok_or_else(|| DigestError::Malformed(rest.chars().take(20).collect()))?;
        let name = name.trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => value.push(c),
                }
            }
            let end = end.ok_or_else(|| DigestError::Malformed(format!("unclosed quote in {name}")))?;
            (value, &quoted[end..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        pairs.push((name, value));
        rest = remaining.trim_start();
        if let Some(next) = rest.strip_prefix(',') {
            rest = next.trim_start();
        } else if !rest.is_empty() {
            return Err(DigestError::Malformed(rest.chars().take(20).collect()));
        }
    }
    Ok(pairs)
}

/// Parse the value of an `Authorization` header.
pub fn parse_authorization(value: &str) -> Result<Credentials, DigestError> {
    let value = value.trim();
    let scheme_end = value.find(char::is_whitespace).ok_or(DigestError::NotDigest)?;
    if !value[..scheme_end].eq_ignore_ascii_case("digest") {
        return Err(DigestError::NotDigest);
    }
    let pairs = parameters(&value[scheme_end..])?;
    let get = |name: &str| pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let required = |name: &'static str| get(name).ok_or(DigestError::Missing(name));
    let algorithm = match get("algorithm") {
        None => Algorithm::Md5,
        Some(name) => Algorithm::parse(&name).ok_or(DigestError::UnsupportedAlgorithm(name))?,
    };
    let qop_auth = match get("qop") {
        None => None,
        Some(qop) if qop.eq_ignore_ascii_case("auth") => {
            let nc = required("nc")?;
            let count = (nc.len() == 8)
                .then(|| u32::from_str_radix(&nc, 16).ok())
                .flatten()
                .ok_or(DigestError::BadNonceCount(nc))?;
            Some((required("cnonce")?, count))
        }
        Some(other) => return Err(DigestError::UnsupportedQop(other)),
    };
    Ok(Credentials {
        username: required("username")?,
        realm: required("realm")?,
        nonce: required("nonce")?,
        uri: required("uri")?,
        response: required("response")?,
        algorithm,
        opaque: get("opaque"),
        qop_auth,
    })
}

/// The `response` a client computes (RFC 7616 §3.4.1) for `password` and `method`.
pub fn expected_response(credentials: &Credentials, password: &str, method: &str) -> String {
    let alg = credentials.algorithm;
    let ha1 = alg.hash(&format!("{}:{}:{}", credentials.username, credentials.realm, password));
    let ha2 = alg.hash(&format!("{method}:{}", credentials.uri));
    match &credentials.qop_auth {
        Some((cnonce, nc)) => alg.hash(&format!("{ha1}:{}:{nc:08x}:{cnonce}:auth:{ha2}", credentials.nonce)),
        None => alg.hash(&format!("{ha1}:{}:{ha2}", credentials.nonce)),
    }
}

/// Whether the credentials prove knowledge of `password` (compared in constant time).
pub fn verify(credentials: &Credentials, password: &str, method: &str) -> bool {
    let expected = expected_response(credentials, password, method);
    let given = credentials.response.to_ascii_lowercase();
    constant_time::eq(expected.as_bytes(), given.as_bytes())
}

/// What a nonce check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    /// Issued by us and fresh.
    Fresh,
    /// Issued by us but expired: challenge again with `stale=true`.
    Stale,
    /// Not one of ours.
    Invalid,
}

/// Issues and checks stateless nonces:
/// `base64url(timestamp ‖ salt ‖ HMAC-SHA256(secret, timestamp ‖ salt ‖ realm))`. The random
/// salt makes every challenge's nonce unique, so a used (nonce, nc) pair identifies one
/// client's use and a replay can be refused.
pub struct Nonces {
    secret: [u8; 32],
    lifetime: Duration,
}

type HmacSha256 = Hmac<Sha256>;

/// Random bytes in each nonce.
const SALT_LEN: usize = 8;

impl Nonces {
    /// Nonces signed with `secret`, accepted for `lifetime`.
    pub fn new(secret: [u8; 32], lifetime: Duration) -> Nonces {
        Nonces { secret, lifetime }
    }

    fn tag(&self, seconds: u64, salt: &[u8], realm: &str) -> [u8; 32] {
        // HMAC takes keys of any length: 32 bytes cannot be refused.
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("HMAC accepts any key length");
        mac.update(&seconds.to_be_bytes());
        mac.update(salt);
        mac.update(realm.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// A nonce for `realm` issued at `now`.
    pub fn issue(&self, realm: &str, now: SystemTime) -> String {
        let seconds = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let salt: [u8; SALT_LEN] = rand::random();
        let mut raw = seconds.to_be_bytes().to_vec();
        raw.extend_from_slice(&salt);
        raw.extend_from_slice(&self.tag(seconds, &salt, realm));
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Whether `nonce` was issued for `realm` and is still fresh at `now`.
    pub fn check(&self, nonce: &str, realm: &str, now: SystemTime) -> NonceCheck {
        let Ok(raw) = URL_SAFE_NO_PAD.decode(nonce) else { return NonceCheck::Invalid };
        let Some((seconds, rest)) = raw.split_first_chunk::<8>() else { return NonceCheck::Invalid };
        let Some((salt, tag)) = rest.split_first_chunk::<SALT_LEN>() else { return NonceCheck::Invalid };
        let seconds = u64::from_be_bytes(*seconds);
        let expected = self.tag(seconds, salt, realm);
        if !constant_time::eq(tag, &expected) {
            return NonceCheck::Invalid;
        }
        let issued = UNIX_EPOCH + Duration::from_secs(seconds);
        match now.duration_since(issued) {
            Ok(age) if age <= self.lifetime => NonceCheck::Fresh,
            Ok(_) => NonceCheck::Stale,
            // Issued in the future (clock skew between hosts): accept within the lifetime.
            Err(ahead) if ahead.duration() <= self.lifetime => NonceCheck::Fresh,
            Err(_) => NonceCheck::Invalid,
        }
    }
}

/// A `WWW-Authenticate` (or `Proxy-Authenticate`) header value.
pub fn challenge(realm: &str, nonce: &str, algorithm: Algorithm, stale: bool) -> String {
    let stale = if stale { ", stale=true" } else { "" };
    format!(
        "Digest realm=\"{realm}\", nonce=\"{nonce}\", algorithm={}, qop=\"auth\"{stale}",
        algorithm.name()
    )
}

/// The `Authorization` (or `Proxy-Authorization`) value answering `challenge` (a
/// `WWW-Authenticate`/`Proxy-Authenticate` value) for `method` on `uri` — the client side,
/// used when the host registers to or calls through a trunk provider. `cnonce` is the
/// client nonce (random per answer); the nonce count is 1 since each answer uses a fresh
/// challenge.
pub fn answer_challenge(
    challenge: &str,
    username: &str,
    password: &str,
    method: &str,
    uri: &str,
    cnonce: &str,
) -> Result<String, DigestError> {
    let value = challenge.trim();
    let scheme_end = value.find(char::is_whitespace).ok_or(DigestError::NotDigest)?;
    if !value[..scheme_end].eq_ignore_ascii_case("digest") {
        return Err(DigestError::NotDigest);
    }
    let pairs = parameters(&value[scheme_end..])?;
    let get = |name: &str| pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let algorithm = match get("algorithm") {
        None => Algorithm::Md5,
        Some(name) => Algorithm::parse(&name).ok_or(DigestError::UnsupportedAlgorithm(name))?,
    };
    // qop is a list ("auth,auth-int"); we answer "auth" when offered.
    let qop_auth = match get("qop") {
        None => None,
        Some(qop) if qop.split(',').any(|q| q.trim().eq_ignore_ascii_case("auth")) => {
            Some((cnonce.to_string(), 1))
        }
        Some(other) => return Err(DigestError::UnsupportedQop(other)),
    };
    let credentials = Credentials {
        username: username.to_string(),
        realm: get("realm").ok_or(DigestError::Missing("realm"))?,
        nonce: get("nonce").ok_or(DigestError::Missing("nonce"))?,
        uri: uri.to_string(),
        response: String::new(),
        algorithm,
        opaque: get("opaque"),
        qop_auth,
    };
    let response = expected_response(&credentials, password, method);
    let quote = |text: &str| text.replace('\\', "\\\\").replace('"', "\\\"");
    let mut header = format!(
        "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", response=\"{response}\", algorithm={}",
        quote(username),
        quote(&credentials.realm),
        quote(&credentials.nonce),
        quote(uri),
        algorithm.name()
    );
    if let Some(opaque) = &credentials.opaque {
        header.push_str(&format!(", opaque=\"{}\"", quote(opaque)));
    }
    if let Some((cnonce, nc)) = &credentials.qop_auth {
        header.push_str(&format!(", qop=auth, nc={nc:08x}, cnonce=\"{}\"", quote(cnonce)));
    }
    Ok(header)
}

#[cfg(test)]
mod tests;
