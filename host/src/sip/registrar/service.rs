//! The registrar (RFC 3261 §10.3): answers REGISTER for the companies' SIP domains, with
//! digest authentication against the users' server-generated SIP passwords, and keeps the
//! bindings in the [`Location`] service.
//!
//! Challenges are MD5 by default; SHA-256 (RFC 8760) is offered too, after MD5, when the
//! operator turns it on (`--digest-sha256`). RFC 8760 asks clients to pick the first
//! challenge they support, but some take the first whatever it is (sipp 3.6) and others
//! give up when any names an algorithm they lack (baresip 1.0.0), so it is opt-in.

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use rsip::prelude::*;
use rsip::{Header, Request, Response};

use super::location::{Aor, Binding, ContactRequest, Location, MIN_EXPIRES, RegisterRequest};
use super::shared::{Register, SharedLocation};
use crate::sip::digest::{self, Algorithm, NonceCheck, Nonces};
use crate::sip::endpoint::Peer;
use crate::sip::message::{front_says_from, header_values, reply, uri_user};
use crate::sip::transport::Transport;
use crate::store::records::{Company, Did, TrunkProvider, User};
use crate::store::{
    COMPANIES, DID_OWNERS, DIDS, Read, SIP_DOMAINS, Store, StoreError, USERS, company_key, sip_domain_key,
};

/// Registration interval when the request names none.
pub const DEFAULT_EXPIRES: Duration = Duration::from_secs(3600);

/// The registrar of the host.
pub struct Registrar {
    store: Store,
    nonces: Nonces,
    location: Mutex<Location>,
    replays: Mutex<ReplayGuard>,
    /// The algorithms challenges are offered with, in order.
    challenges: Vec<Algorithm>,
    /// On a shared store, the cluster's location service, used instead of `location`.
    shared: Option<SharedLocation>,
    /// The cluster's SIP front, whose relayed requests say where they came from.
    front: Option<SocketAddr>,
}

/// Which challenge a request gets: a registrar's 401 with WWW-Authenticate, or a proxy's
/// 407 with Proxy-Authenticate (for calls).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Challenge {
    Registrar,
    Proxy,
}

/// Whether a new INVITE may place a call.
#[derive(Debug)]
pub enum Admission {
    /// An extension authenticated.
    Extension { company: Company, user: User },
    /// The company's trunk provider delivers a call to one of its DIDs.
    Trunk { company: Company, did: Did },
    /// Send this response (a challenge or a refusal) and stop.
    Refused(Response, Outcome),
}

/// The IP addresses a trunk's provider sends from: its outbound proxy and domain, when
/// they are IP literals (`host`, `host:port`, `[v6]:port`).
fn trunk_hosts(trunk: &TrunkProvider) -> impl Iterator<Item = IpAddr> + '_ {
    [trunk.outbound_proxy.as_deref(), Some(trunk.domain.as_str())].into_iter().flatten().filter_map(|host| {
        let host = host.trim().trim_start_matches("sip:");
        host.parse::<IpAddr>().ok().or_else(|| host.parse::<SocketAddr>().ok().map(|a| a.ip()))
    })
}

/// The host of a name-addr or addr-spec: `"A" <sip:100@acme.example:5060>;tag=x` → `acme.example`.
fn from_host(value: &str) -> Option<String> {
    let uri = crate::sip::dialog::uri_in(value);
    let rest = uri.split_once('@')?.1;
    let host = rest.split([';', '>', '?']).next()?;
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) && !h.is_empty() => h,
        _ => host,
    };
    (!host.is_empty()).then(|| host.to_string())
}

/// The outcome of one REGISTER or call admission, for logs and the ban list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Registered { company: String, extension: String, bindings: usize },
    Challenged,
    AuthenticationFailed { company: String, extension: String },
    Refused(u16),
}

impl Registrar {
    /// A registrar over `store`; nonces are signed with a random secret of this process.
    pub fn new(store: Store) -> Registrar {
        Registrar {
            nonces: Nonces::new(rand::random(), digest::NONCE_LIFETIME),
            location: Mutex::default(),
            replays: Mutex::default(),
            challenges: vec![Algorithm::Md5],
            shared: store
                .is_shared()
                .then(|| SharedLocation::new(store.clone(), store.host_id().to_string())),
            store,
            front: None,
        }
    }

    /// Trust the cluster's SIP front, sending from `front`, to say where the requests it
    /// relays came from ([`FRONT_SOURCE_HEADER`](crate::sip::message::FRONT_SOURCE_HEADER)):
    /// the trunk providers' calls come through it.
    pub fn behind_front(mut self, front: Option<SocketAddr>) -> Registrar {
        self.front = front;
        self
    }

    /// Also offer SHA-256 challenges (RFC 8760), after the MD5 one. Off by default: some
    /// clients give up on a challenge set that names an algorithm they lack (baresip
    /// 1.0.0's libre answers ENOSYS), others take the first challenge whatever it is.
    pub fn with_sha256(mut self, offer: bool) -> Registrar {
        self.challenges = if offer { vec![Algorithm::Md5, Algorithm::Sha256] } else { vec![Algorithm::Md5] };
        self
    }

    fn location(&self) -> std::sync::MutexGuard<'_, Location> {
        crate::sync::lock(&self.location)
    }

    fn replays(&self) -> std::sync::MutexGuard<'_, ReplayGuard> {
        crate::sync::lock(&self.replays)
    }

    /// Forget the bindings of `company`'s `extension` (deleted, or its password changed:
    /// its phones must register again).
    pub fn forget_extension(&self, company: &str, extension: &str) {
        let aor = Aor { company: company.into(), extension: extension.into() };
        if let Some(shared) = &self.shared
            && let Err(error) = shared.forget(&aor)
        {
            tracing::error!(%error, company, extension, "the extension's shared registrations stay");
        }
        self.location().forget(&aor);
    }

    /// Forget every binding of `company` (deleted).
    pub fn forget_company(&self, company: &str) {
        if let Some(shared) = &self.shared
            && let Err(error) = shared.forget_company(company)
        {
            tracing::error!(%error, company, "the company's shared registrations stay");
        }
        self.location().forget_company(company);
    }

    /// Drop lapsed bindings and remembered nonces; call now and then.
    pub fn purge(&self, now: SystemTime) {
        self.location().purge_expired(now);
        self.replays().purge(now);
    }

    /// The live bindings of `company`'s `extension`.
    pub fn bindings(&self, company: &str, extension: &str, now: SystemTime) -> Vec<Binding> {
        let aor = Aor { company: company.into(), extension: extension.into() };
        match &self.shared {
            Some(shared) => shared.lookup(&aor, now).unwrap_or_else(|error| {
                tracing::error!(%error, company, extension, "cannot read the shared registrations");
                Vec::new()
            }),
            None => self.location().lookup(&aor, now),
        }
    }

    fn company_for_domain(&self, domain: &str) -> Result<Option<Company>, StoreError> {
        self.store.read(|r| match r.get(&SIP_DOMAINS, &sip_domain_key(domain))? {
            Some(id) => r.get(&COMPANIES, &id),
            None => Ok(None),
        })
    }

    fn challenge(
        &self,
        request: &Request,
        source: SocketAddr,
        realm: &str,
        stale: bool,
        now: SystemTime,
        kind: Challenge,
    ) -> Response {
        let nonce = self.nonces.issue(realm, now);
        let headers = self
            .challenges
            .iter()
            .map(|&alg| {
                let value = digest::challenge(realm, &nonce, alg, stale);
                match kind {
                    Challenge::Registrar => Header::WwwAuthenticate(value.into()),
                    Challenge::Proxy => Header::ProxyAuthenticate(value.into()),
                }
            })
            .collect();
        let status = match kind {
            Challenge::Registrar => 401,
            Challenge::Proxy => 407,
        };
        reply(request, source, status, headers)
    }

    /// Answer a REGISTER received from `source` at `now`.
    pub fn handle(&self, request: &Request, source: SocketAddr, now: SystemTime) -> (Response, Outcome) {
        match self.try_handle(request, source, now) {
            Ok(answer) => answer,
            Err(error) => {
                tracing::error!(%error, "registrar store failure");
                (reply(request, source, 500, Vec::new()), Outcome::Refused(500))
            }
        }
    }

    /// Bind `contact` (reached at `source`) to `extension` of `company` for an hour, as a
    /// successful REGISTER would: for tests of what rings.
    #[cfg(test)]
    pub(crate) fn bind_for_tests(&self, company: &str, extension: &str, contact: &str, source: SocketAddr) {
        let aor = Aor { company: company.to_string(), extension: extension.to_string() };
        let request = RegisterRequest::Update(vec![ContactRequest {
            contact: contact.to_string(),
            expires: DEFAULT_EXPIRES,
        }]);
        let call_id = format!("test-{contact}");
        // A fresh Call-ID and a valid interval: the registration cannot be refused.
        let _ =
            self.location().register(&aor, request, Peer::udp(source), &call_id, 1, None, SystemTime::now());
    }

    /// Check the digest credentials of `request` for `extension` of `company`: the user,
    /// or the response to send (a challenge, 400 or 403) with its outcome. Everyone is
    /// challenged before the extension is looked up, and an unknown one gets the same 403
    /// as a wrong password: the answers do not reveal which extensions exist.
    fn authenticate(
        &self,
        request: &Request,
        source: SocketAddr,
        company: &Company,
        extension: &str,
        now: SystemTime,
        kind: Challenge,
    ) -> Result<Result<User, Box<(Response, Outcome)>>, StoreError> {
        let realm = company.sip_domain.as_str();
        let authorization = header_values(request, |h| match (h, kind) {
            (Header::Authorization(a), Challenge::Registrar) => Some(a.value().to_string()),
            (Header::ProxyAuthorization(a), Challenge::Proxy) => Some(a.value().to_string()),
            _ => None,
        });
        let challenge = |stale| {
            Err(Box::new((self.challenge(request, source, realm, stale, now, kind), Outcome::Challenged)))
        };
        let Some(authorization) = authorization.first() else {
            return Ok(challenge(false));
        };
        let failed =
            Outcome::AuthenticationFailed { company: company.id.clone(), extension: extension.to_string() };
        let credentials = match digest::parse_authorization(authorization) {
            Ok(credentials) => credentials,
            Err(_) => return Ok(Err(Box::new((reply(request, source, 400, Vec::new()), failed)))),
        };
        if !credentials.realm.eq_ignore_ascii_case(realm) {
            return Ok(challenge(false));
        }
        // The digest `uri` is not compared with the Request-URI (RFC 2617 §3.2.2.5 allows
        // a server to): sipp and some phones compute it over the registrar's address, not
        // the Request-URI. Replays are stopped by the single-use nonce counts instead.
        match self.nonces.check(&credentials.nonce, realm, now) {
            NonceCheck::Fresh => {}
            NonceCheck::Stale => return Ok(challenge(true)),
            NonceCheck::Invalid => return Ok(challenge(false)),
        }
        if !self.replays().first_use(&credentials, now) {
            // A captured Authorization replayed (same nonce and count): challenge afresh.
            return Ok(challenge(false));
        }
        let user: Option<User> = self.store.read(|r| r.get(&USERS, &company_key(&company.id, extension)))?;
        let Some(user) = user else {
            return Ok(Err(Box::new((reply(request, source, 403, Vec::new()), failed))));
        };
        let expired = user.sip_password_expires_at.is_some_and(|at| SystemTime::from(at) <= now);
        let method = request.method.to_string();
        if credentials.username != extension
            || expired
            || !digest::verify(&credentials, &user.sip_password, &method)
        {
            return Ok(Err(Box::new((reply(request, source, 403, Vec::new()), failed))));
        }
        Ok(Ok(user))
    }

    /// Admit a new INVITE from `source`: the calling extension (From user of the company
    /// whose SIP domain is the From host, else the Request-URI host) must authenticate
    /// (407 challenge, RFC 3261 §22.3).
    pub fn admit_invite(&self, request: &Request, source: SocketAddr, now: SystemTime) -> Admission {
        match self.try_admit_invite(request, source, now) {
            Ok(admission) => admission,
            Err(error) => {
                tracing::error!(%error, "store failure while admitting a call");
                Admission::Refused(reply(request, source, 500, Vec::new()), Outcome::Refused(500))
            }
        }
    }

    /// The company and DID of an INVITE from a trunk provider: the Request-URI user is a
    /// DID (with or without '+') and the source address (or, relayed by the cluster's
    /// front, the address the front received it from) is the owning company's provider
    /// (its outbound proxy or domain, primary or secondary trunk). Providers are recognised
    /// by IP address; a provider configured by DNS name does not match (names are not
    /// resolved on the call path).
    fn trunk_call(
        &self,
        request: &Request,
        source: SocketAddr,
    ) -> Result<Option<(Company, Did)>, StoreError> {
        let Some(user) = request.uri.auth.as_ref().map(|auth| auth.user.clone()) else {
            return Ok(None);
        };
        let number = user.strip_prefix('+').unwrap_or(&user);
        let sender = match self.front {
            Some(front) if front == source => front_says_from(request),
            _ => Some(source.ip()),
        };
        let Some(sender) = sender else { return Ok(None) };
        self.store.read(|r| {
            let Some(owner) = r.get(&DID_OWNERS, number)? else {
                return Ok(None);
            };
            let Some(company) = r.get(&COMPANIES, &owner)? else {
                return Ok(None);
            };
            let from_provider = [&company.trunk, &company.secondary_trunk]
                .into_iter()
                .flatten()
                .any(|trunk| trunk_hosts(trunk).any(|host| host == sender));
            if !from_provider {
                return Ok(None);
            }
            Ok(r.get(&DIDS, &company_key(&owner, number))?.map(|did| (company, did)))
        })
    }

    fn try_admit_invite(
        &self,
        request: &Request,
        source: SocketAddr,
        now: SystemTime,
    ) -> Result<Admission, StoreError> {
        if let Some((company, did)) = self.trunk_call(request, source)? {
            return Ok(Admission::Trunk { company, did });
        }
        let refuse = |status: u16| {
            Admission::Refused(reply(request, source, status, Vec::new()), Outcome::Refused(status))
        };
        let from = request.from_header().map(|f| f.value().to_string()).unwrap_or_default();
        let Some(extension) = uri_user(&from) else {
            return Ok(refuse(400));
        };
        let from_host = from_host(&from);
        let mut company = match from_host {
            Some(host) => self.company_for_domain(&host)?,
            None => None,
        };
        if company.is_none() {
            company = self.company_for_domain(&request.uri.host_with_port.host.to_string())?;
        }
        let Some(company) = company else {
            return Ok(refuse(404));
        };
        Ok(match self.authenticate(request, source, &company, &extension, now, Challenge::Proxy)? {
            Ok(user) => Admission::Extension { company, user },
            Err(refusal) => {
                let (response, outcome) = *refusal;
                Admission::Refused(response, outcome)
            }
        })
    }

    fn try_handle(
        &self,
        request: &Request,
        source: SocketAddr,
        now: SystemTime,
    ) -> Result<(Response, Outcome), StoreError> {
        let refuse = |status: u16| (reply(request, source, status, Vec::new()), Outcome::Refused(status));
        let domain = request.uri.host_with_port.host.to_string();
        let Some(company) = self.company_for_domain(&domain)? else {
            return Ok(refuse(404));
        };
        let Some(extension) = request.to_header().ok().and_then(|to| uri_user(to.value())) else {
            return Ok(refuse(400));
        };
        if let Err(refusal) =
            self.authenticate(request, source, &company, &extension, now, Challenge::Registrar)?
        {
            return Ok(*refusal);
        }

        let register = match contacts(request) {
            Ok(register) => register,
            Err(status) => return Ok(refuse(status)),
        };
        let call_id = request.call_id_header().map(|h| h.value().to_string()).unwrap_or_default();
        let cseq = request
            .cseq_header()
            .ok()
            .and_then(|h| h.value().split_whitespace().next().and_then(|n| n.parse().ok()))
            .unwrap_or(0);
        let user_agent = header_values(request, |h| match h {
            Header::UserAgent(ua) => Some(ua.value().to_string()),
            _ => None,
        });
        let aor = Aor { company: company.id.clone(), extension: extension.clone() };
        // The top Via names the transport the REGISTER came over; calls go back that way.
        let transport = request.via_header().map(|v| Transport::of_via(v.value())).unwrap_or_default();
        let source_peer = Peer { addr: source, transport };
        let user_agent = user_agent.first().map(String::as_str);
        let result = match &self.shared {
            Some(shared) => shared.register(
                &aor,
                Register { request: register, source: source_peer, call_id: &call_id, cseq, user_agent },
                now,
            )?,
            None => self.location().register(&aor, register, source_peer, &call_id, cseq, user_agent, now),
        };
        Ok(match result {
            Ok(bindings) => {
                let headers = bindings
                    .iter()
                    .map(|b| {
                        let left = b.expires_at.duration_since(now).unwrap_or_default().as_secs();
                        Header::Contact(format!("{};expires={left}", angle(&b.contact)).into())
                    })
                    .collect();
                let outcome =
                    Outcome::Registered { company: company.id, extension, bindings: bindings.len() };
                (reply(request, source, 200, headers), outcome)
            }
            Err(error) => {
                let status = error.status();
                let extra = if status == 423 {
                    vec![Header::MinExpires(MIN_EXPIRES.as_secs().to_string().into())]
                } else {
                    Vec::new()
                };
                (reply(request, source, status, extra), Outcome::Refused(status))
            }
        })
    }
}

/// Which nonce counts were already used (RFC 7616 §3.3: a server that keeps this defeats
/// replays): with `qop=auth` each (nonce, nc) once; without qop each nonce once.
#[derive(Default)]
struct ReplayGuard {
    seen: std::collections::HashMap<String, (std::collections::HashSet<u32>, SystemTime)>,
}

impl ReplayGuard {
    /// Record a use of the credentials' nonce; false when it was used already.
    fn first_use(&mut self, credentials: &digest::Credentials, now: SystemTime) -> bool {
        let count = credentials.qop_auth.as_ref().map_or(0, |(_, nc)| *nc);
        let (counts, _) =
            self.seen.entry(credentials.nonce.clone()).or_insert_with(|| (Default::default(), now));
        counts.insert(count)
    }

    /// Forget nonces too old to be accepted anyway.
    fn purge(&mut self, now: SystemTime) {
        let horizon = digest::NONCE_LIFETIME * 2;
        self.seen.retain(|_, (_, first)| now.duration_since(*first).map_or(true, |age| age <= horizon));
    }
}

/// `uri` in angle brackets (a Contact may carry parameters of its own after them).
fn angle(uri: &str) -> String {
    if uri.trim_start().starts_with('<') { uri.trim().to_string() } else { format!("<{}>", uri.trim()) }
}

/// What the REGISTER's Contact and Expires headers ask for; `Err` is the status to answer.
fn contacts(request: &Request) -> Result<RegisterRequest, u16> {
    let expires_header = header_values(request, |h| match h {
        Header::Expires(e) => Some(e.value().to_string()),
        _ => None,
    });
    let default = match expires_header.first() {
        Some(value) => Duration::from_secs(value.trim().parse().map_err(|_| 400u16)?),
        None => DEFAULT_EXPIRES,
    };
    let values = header_values(request, |h| match h {
        Header::Contact(c) => Some(c.value().to_string()),
        _ => None,
    });
    if values.is_empty() {
        return Ok(RegisterRequest::Query);
    }
    if values.iter().any(|v| v.trim() == "*") {
        // RFC 3261 §10.3 step 6: "*" only alone and with Expires: 0.
        return if values.len() == 1 && default.is_zero() {
            Ok(RegisterRequest::RemoveAll)
        } else {
            Err(400)
        };
    }
    let mut requests = Vec::new();
    for value in values {
        let (uri, params) = match value.find('>') {
            Some(end) => (value[..=end].to_string(), &value[end + 1..]),
            None => match value.split_once(';') {
                Some((uri, params)) => (uri.to_string(), params),
                None => (value.clone(), ""),
            },
        };
        let mut expires = default;
        for param in params.split(';') {
            if let Some((name, value)) = param.split_once('=')
                && name.trim().eq_ignore_ascii_case("expires")
            {
                expires = Duration::from_secs(value.trim().parse().map_err(|_| 400u16)?);
            }
        }
        requests.push(ContactRequest { contact: uri.trim().to_string(), expires });
    }
    Ok(RegisterRequest::Update(requests))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials(nonce: &str, nc: Option<u32>) -> digest::Credentials {
        digest::Credentials {
            username: "100".into(),
            realm: "acme.test".into(),
            nonce: nonce.into(),
            uri: "sip:acme.test".into(),
            response: "0".into(),
            algorithm: Algorithm::Md5,
            opaque: None,
            qop_auth: nc.map(|nc| ("c".to_string(), nc)),
        }
    }

    /// A registrar whose store has company acme (domain acme.test) with extension 100.
    fn registrar(sha256: bool) -> Registrar {
        let store = Store::in_memory().unwrap();
        let company: Company = serde_json::from_value(serde_json::json!({
            "id": "acme", "name": "Acme", "max_extensions": 10, "time_zone": "UTC", "sip_domain": "acme.test",
            "trunk": null, "secondary_trunk": null, "decision_deadline_ms": 10, "decision_memory_mib": 16,
            "created_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap();
        let user: User = serde_json::from_value(serde_json::json!({
            "company": "acme", "extension": "100", "role": "user", "email": "a@acme.test", "full_name": "A",
            "portal_password_hash": null, "internal_only": false, "mobile": null, "sip_password": "pw-100",
            "sip_password_expires_at": null, "outgoing_caller_id": null, "created_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap();
        store
            .write(|tx| {
                tx.put(&COMPANIES, "acme", &company)?;
                tx.put(&SIP_DOMAINS, "acme.test", &"acme".to_string())?;
                tx.put(&USERS, &company_key("acme", "100"), &user)
            })
            .unwrap();
        Registrar::new(store).with_sha256(sha256)
    }

    fn register(authorization: Option<&str>) -> Request {
        let auth = authorization.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
        let text = format!(
            "REGISTER sip:acme.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bK-r\r\n\
             From: <sip:100@acme.test>;tag=a\r\nTo: <sip:100@acme.test>\r\nCall-ID: r1\r\nCSeq: 1 REGISTER\r\n\
             Contact: <sip:100@127.0.0.1:5071>\r\n{auth}Content-Length: 0\r\n\r\n"
        );
        match crate::sip::wire::parse_datagram(text.as_bytes()) {
            Ok(crate::sip::wire::Received::Message(m)) => match *m {
                rsip::SipMessage::Request(r) => r,
                _ => unreachable!("a request"),
            },
            other => panic!("{other:?}"),
        }
    }

    fn challenges(response: &Response) -> Vec<String> {
        response
            .headers
            .iter()
            .filter_map(|h| match h {
                Header::WwwAuthenticate(c) => Some(c.value().to_string()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn md5_is_challenged_by_default_and_sha256_when_turned_on_and_both_register() {
        let source: SocketAddr = "127.0.0.1:5071".parse().unwrap();
        let now = SystemTime::now();
        assert_eq!(challenges(&registrar(false).handle(&register(None), source, now).0).len(), 1);
        let registrar = registrar(true);
        let (challenge, _) = registrar.handle(&register(None), source, now);
        let offered = challenges(&challenge);
        assert_eq!(offered.len(), 2);
        assert!(offered[0].contains("MD5") && offered[1].contains("SHA-256"), "{offered:?}");
        let answer =
            digest::answer_challenge(&offered[1], "100", "pw-100", "REGISTER", "sip:acme.test", "cn")
                .unwrap();
        let (response, outcome) = registrar.handle(&register(Some(&answer)), source, now);
        assert_eq!(u16::from(response.status_code), 200, "{outcome:?}");
        assert!(matches!(outcome, Outcome::Registered { .. }));
    }

    #[test]
    fn a_nonce_count_is_accepted_once() {
        let mut guard = ReplayGuard::default();
        let now = SystemTime::now();
        assert!(guard.first_use(&credentials("n1", Some(1)), now));
        assert!(!guard.first_use(&credentials("n1", Some(1)), now), "the same (nonce, nc) replayed");
        assert!(guard.first_use(&credentials("n1", Some(2)), now), "the next count is fine");
        assert!(guard.first_use(&credentials("n2", None), now));
        assert!(!guard.first_use(&credentials("n2", None), now), "without qop a nonce is single-use");
        guard.purge(now + digest::NONCE_LIFETIME * 3);
        assert!(guard.seen.is_empty());
    }
}
