//! One trunk's registration to its provider (RFC 3261 §10.2), sans-IO: fed the provider's
//! responses, transaction timeouts and the instant, it returns what to send and when to
//! wake. The task in [`super::runner`] does the sending and the sleeping.
//!
//! Rules it keeps:
//! - one Call-ID and increasing CSeq numbers for every REGISTER of the registration,
//!   refreshes and retries included (§10.2.4), so requests are built from one [`Dialog`];
//! - each REGISTER answers at most one 401/407 challenge; a second challenge in a row
//!   means the credentials are wrong (the provider refused them) and the registration
//!   stops until the account changes. The exception is a challenge marked `stale=true`
//!   with a fresh nonce (RFC 2617 §3.2.1: right credentials, old nonce), answered once;
//! - 403 also stops it: a provider refusing the account will not change its mind on a
//!   retry, and retrying wrong credentials gets addresses banned;
//! - 2xx: the granted expiry is our Contact's `expires` parameter, else the Expires
//!   header, else what we asked; the binding is refreshed at about 80 % of it, at least
//!   one transaction timeout (32 s) before it lapses;
//! - 423 Interval Too Brief: ask again with the provider's Min-Expires;
//! - anything else (timeout, 4xx-6xx, an address that does not resolve): retry with a
//!   doubling delay, capped, or after the provider's Retry-After when it sends one.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rsip::Response;

use super::status::{TrunkSlot, TrunkState, TrunkStatus};
use crate::sip::dialog::{Dialog, Outgoing, cseq_number, param, token, uri_in};
use crate::sip::digest::answer_challenge;
use crate::sip::message::reason_phrase;
use crate::store::records::TrunkProvider;

/// The registration time asked for unless configured otherwise.
pub const DEFAULT_EXPIRES_S: u32 = 3600;

/// The longest Min-Expires we follow (a week); a larger one is treated as nonsense.
const MAX_EXPIRES_S: u32 = 7 * 24 * 3600;

/// A non-INVITE transaction's timeout (timer F, 64·T1): a refresh must leave at least
/// this much of the binding to finish before it lapses.
const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(32);

/// How long to wait between failed attempts: `first`, doubling up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff { first: Duration::from_secs(30), max: Duration::from_secs(600) }
    }
}

impl Backoff {
    /// The delay after the `failures`-th failure in a row (1 = the first).
    pub fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(16);
        self.first.saturating_mul(1 << doublings).min(self.max)
    }
}

/// What the registration wants done next.
#[derive(Debug)]
pub enum Step {
    /// Send this REGISTER in a new client transaction; its responses and timeout come
    /// back tagged with its CSeq number.
    Send(Outgoing),
    /// Nothing new: keep waiting for the final response.
    Wait,
    /// Sleep until this instant, then start the next attempt ([`Registration::register`]).
    Sleep(Instant),
    /// Nothing more to do: the credentials were refused, or the un-REGISTER is over.
    Stop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Register,
    Unregister,
}

/// The REGISTER awaiting its final response.
#[derive(Debug)]
struct InFlight {
    cseq: u32,
    purpose: Purpose,
    expires: u32,
    /// The nonce of the challenge this request answered, if it answered one.
    answered: Option<String>,
    /// Whether a stale challenge was answered already in this exchange.
    stale_answered: bool,
}

/// One trunk's registration.
#[derive(Debug)]
pub struct Registration {
    account: TrunkProvider,
    slot: TrunkSlot,
    /// The Request-URI: `sip:DOMAIN`.
    registrar: String,
    /// Our Contact header value.
    contact: String,
    /// The registration time to ask for (raised by a 423).
    expires: u32,
    backoff: Backoff,
    dialog: Dialog,
    in_flight: Option<InFlight>,
    state: TrunkState,
    last_status: Option<u16>,
    last_error: Option<String>,
    registered_until: Option<Instant>,
    next_attempt: Option<Instant>,
    failures: u32,
}

impl Registration {
    /// The registration of `account` (in `slot`) for our SIP address `local`, asking for
    /// `expires` seconds.
    pub fn new(
        account: TrunkProvider,
        slot: TrunkSlot,
        local: SocketAddr,
        expires: u32,
        backoff: Backoff,
    ) -> Registration {
        let domain = domain(&account).to_string();
        let aor = format!("<sip:{}@{domain}>", account.username);
        let registrar = format!("sip:{domain}");
        // The peer is set by each attempt (the provider's address may change between
        // attempts); `local` stands in until the first one.
        let dialog = Dialog::uac(local, local, aor.clone(), aor, registrar.clone());
        Registration {
            contact: format!("<sip:{}@{local}>", account.username),
            account,
            slot,
            registrar,
            expires: expires.max(1),
            backoff,
            dialog,
            in_flight: None,
            state: TrunkState::Registering,
            last_status: None,
            last_error: None,
            registered_until: None,
            next_attempt: None,
            failures: 0,
        }
    }

    /// Name `at` in the Contact instead of our own address: the cluster's front, which
    /// relays the provider's calls to any live host.
    pub fn contact_at(mut self, at: SocketAddr) -> Registration {
        self.contact = format!("<sip:{}@{at}>", self.account.username);
        self
    }

    /// The Call-ID every REGISTER of this registration carries.
    pub fn call_id(&self) -> &str {
        &self.dialog.call_id
    }

    /// Start an attempt (the first, a refresh or a retry): a REGISTER to `dest`.
    pub fn register(&mut self, dest: SocketAddr, now: Instant) -> Outgoing {
        self.dialog.peer = dest;
        if !self.is_bound(now) {
            self.state = TrunkState::Registering;
        }
        self.next_attempt = None;
        self.send(Purpose::Register, self.expires, None, None, false)
    }

    /// The courtesy REGISTER with `Expires: 0` when the trunk is being removed, if the
    /// provider may hold a binding of ours (a live one, or an attempt in flight).
    pub fn unregister(&mut self, now: Instant) -> Option<Outgoing> {
        let attempting = self.in_flight.as_ref().is_some_and(|flight| flight.purpose == Purpose::Register);
        (self.is_bound(now) || attempting).then(|| self.send(Purpose::Unregister, 0, None, None, false))
    }

    /// The provider's address could not be found for an attempt; returns when to retry.
    pub fn unreachable(&mut self, reason: String, now: Instant) -> Instant {
        self.fail(reason, None, now)
    }

    /// A response to one of our REGISTERs.
    pub fn on_response(&mut self, response: &Response, now: Instant) -> Step {
        let current = self.in_flight.as_ref().is_some_and(|f| cseq_number(&response.headers) == Some(f.cseq));
        let status = u16::from(response.status_code.clone());
        // A provisional response, or a late one to a REGISTER we gave up on.
        if !current || status < 200 {
            return Step::Wait;
        }
        let Some(flight) = self.in_flight.take() else { return Step::Wait };
        if flight.purpose == Purpose::Unregister {
            return match status {
                401 | 407 => self.on_challenge(flight, response, status, now),
                _ => Step::Stop,
            };
        }
        self.last_status = Some(status);
        match status {
            200..=299 => self.on_accepted(response, flight.expires, now),
            401 | 407 => self.on_challenge(flight, response, status, now),
            403 => self.reject(format!("the provider refused the account ({status} {})", reason(response))),
            423 => self.on_too_brief(response, flight.expires, now),
            _ => {
                let reason = format!("the provider answered {status} {}", reason(response));
                Step::Sleep(self.fail(reason, retry_after(response), now))
            }
        }
    }

    /// The REGISTER with CSeq `cseq` got no final response in time (timer F).
    pub fn on_timeout(&mut self, cseq: u32, now: Instant) -> Step {
        if self.in_flight.as_ref().is_none_or(|flight| flight.cseq != cseq) {
            return Step::Wait;
        }
        let Some(flight) = self.in_flight.take() else { return Step::Wait };
        if flight.purpose == Purpose::Unregister {
            return Step::Stop;
        }
        let reason = format!("no answer from the provider at {}", self.dialog.peer);
        Step::Sleep(self.fail(reason, None, now))
    }

    /// The registration as the API shows it; `wall` is the wall-clock time at `now`.
    pub fn status(&self, now: Instant, wall: DateTime<Utc>) -> TrunkStatus {
        let state = match self.state {
            // A binding that lapsed while its refresh is still under way.
            TrunkState::Registered if !self.is_bound(now) => TrunkState::Registering,
            state => state,
        };
        TrunkStatus {
            trunk: self.slot,
            username: self.account.username.clone(),
            domain: self.account.domain.clone(),
            state,
            last_status: self.last_status,
            last_error: self.last_error.clone(),
            registered_until: self.registered_until.map(|at| wall_time(at, now, wall)),
            next_attempt: self.next_attempt.map(|at| wall_time(at, now, wall)),
            host: None,
        }
    }

    fn is_bound(&self, now: Instant) -> bool {
        self.registered_until.is_some_and(|until| until > now)
    }

    fn send(
        &mut self,
        purpose: Purpose,
        expires: u32,
        authorization: Option<(&str, String)>,
        answered: Option<String>,
        stale_answered: bool,
    ) -> Outgoing {
        let mut headers = vec![("Contact", self.contact.clone()), ("Expires", expires.to_string())];
        if let Some((name, value)) = authorization {
            headers.push((name, value));
        }
        headers.push(("User-Agent", "Centralita".to_string()));
        let request = self.dialog.request(rsip::Method::Register, &headers, None);
        self.in_flight = Some(InFlight { cseq: request.cseq, purpose, expires, answered, stale_answered });
        request
    }

    fn on_accepted(&mut self, response: &Response, asked: u32, now: Instant) -> Step {
        let granted = self.granted_expiry(response).unwrap_or(asked);
        if granted == 0 {
            let reason = "the provider accepted the REGISTER but granted no time".to_string();
            return Step::Sleep(self.fail(reason, None, now));
        }
        let granted = Duration::from_secs(u64::from(granted));
        self.state = TrunkState::Registered;
        self.last_error = None;
        self.failures = 0;
        self.registered_until = Some(now + granted);
        let refresh = now + refresh_after(granted);
        self.next_attempt = Some(refresh);
        Step::Sleep(refresh)
    }

    fn on_challenge(&mut self, flight: InFlight, response: &Response, status: u16, now: Instant) -> Step {
        let (challenge_header, answer_header) = match status {
            401 => ("WWW-Authenticate", "Authorization"),
            _ => ("Proxy-Authenticate", "Proxy-Authorization"),
        };
        let challenges = header_values(response, challenge_header);
        // A provider may offer several (MD5 and SHA-256): answer the first we can.
        let answered = challenges.iter().find_map(|challenge| {
            let cnonce = token();
            let answer = answer_challenge(
                challenge,
                &self.account.username,
                &self.account.password,
                "REGISTER",
                &self.registrar,
                &cnonce,
            );
            answer.ok().map(|answer| (challenge, answer))
        });
        let Some((challenge, answer)) = answered else {
            if flight.purpose == Purpose::Unregister {
                return Step::Stop;
            }
            let reason = match challenges.is_empty() {
                true => format!("the provider answered {status} without a {challenge_header}"),
                false => format!("cannot answer the provider's challenge: {}", challenges.join(" | ")),
            };
            return Step::Sleep(self.fail(reason, None, now));
        };
        let nonce = digest_param(challenge, "nonce").unwrap_or_default();
        let stale = digest_param(challenge, "stale").is_some_and(|s| s.eq_ignore_ascii_case("true"));
        let mut stale_answered = flight.stale_answered;
        if let Some(previous) = &flight.answered {
            if !stale || stale_answered || *previous == nonce {
                return match flight.purpose {
                    Purpose::Unregister => Step::Stop,
                    Purpose::Register => self.reject(format!(
                        "the provider refused the credentials (a second {status} challenge in a row)"
                    )),
                };
            }
            stale_answered = true;
        }
        let authorization = Some((answer_header, answer));
        Step::Send(self.send(flight.purpose, flight.expires, authorization, Some(nonce), stale_answered))
    }

    fn on_too_brief(&mut self, response: &Response, asked: u32, now: Instant) -> Step {
        let minimum = header_values(response, "Min-Expires").first().and_then(|v| v.parse::<u32>().ok());
        match minimum {
            Some(minimum) if minimum > asked && minimum <= MAX_EXPIRES_S => {
                self.expires = minimum;
                Step::Send(self.send(Purpose::Register, minimum, None, None, false))
            }
            _ => {
                let reason = format!("the provider answered 423 without a usable Min-Expires ({minimum:?})");
                Step::Sleep(self.fail(reason, None, now))
            }
        }
    }

    /// Stop: the provider refused the account; nothing is retried until it changes.
    fn reject(&mut self, reason: String) -> Step {
        let domain = &self.account.domain;
        tracing::warn!(trunk = ?self.slot, %domain, %reason, "trunk registration rejected");
        self.state = TrunkState::Failed;
        self.last_error = Some(format!("rejected: {reason}"));
        self.next_attempt = None;
        Step::Stop
    }

    /// A failed attempt; returns when to retry.
    fn fail(&mut self, reason: String, retry_after: Option<Duration>, now: Instant) -> Instant {
        self.failures = self.failures.saturating_add(1);
        let delay = retry_after
            .map(|after| after.clamp(self.backoff.first, self.backoff.max))
            .unwrap_or_else(|| self.backoff.delay(self.failures));
        tracing::warn!(
            trunk = ?self.slot,
            domain = %self.account.domain,
            %reason,
            retry_in_s = delay.as_secs(),
            "trunk registration failed"
        );
        self.state = TrunkState::Failed;
        self.last_error = Some(reason);
        let next = now + delay;
        self.next_attempt = Some(next);
        next
    }

    /// The expiry the provider granted our binding: our Contact's `expires` parameter,
    /// else the Expires header. A registrar lists every binding of the address of record
    /// (§10.3 step 8), so ours is found by its URI; a lone Contact is taken as ours even
    /// when the registrar rewrote it (a NAT-fixing one does).
    fn granted_expiry(&self, response: &Response) -> Option<u32> {
        let contacts: Vec<String> =
            header_values(response, "Contact").iter().flat_map(|value| split_list(value)).collect();
        let ours = binding_key(uri_in(&self.contact));
        let mine = contacts.iter().find(|contact| binding_key(uri_in(contact)) == ours);
        let chosen = mine.or(if contacts.len() == 1 { contacts.first() } else { None });
        chosen
            .and_then(|contact| param(contact, "expires"))
            .and_then(|expires| expires.parse().ok())
            .or_else(|| header_values(response, "Expires").first().and_then(|v| v.parse().ok()))
    }
}

/// The provider's SIP domain as it goes in URIs (without blanks or a `sip:` an admin typed).
fn domain(account: &TrunkProvider) -> &str {
    let domain = account.domain.trim();
    domain.strip_prefix("sip:").unwrap_or(domain)
}

/// When to refresh a binding granted for `granted`: at about 80 %, leaving at least a
/// transaction timeout, and never before half of it.
fn refresh_after(granted: Duration) -> Duration {
    let margin = (granted / 5).max(TRANSACTION_TIMEOUT).min(granted / 2);
    granted - margin
}

/// `at` on the wall clock, knowing `now` is `wall`.
fn wall_time(at: Instant, now: Instant, wall: DateTime<Utc>) -> DateTime<Utc> {
    let offset = |d: Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
    if at >= now { wall + offset(at - now) } else { wall - offset(now - at) }
}

fn reason(response: &Response) -> &'static str {
    reason_phrase(u16::from(response.status_code.clone()))
}

/// The provider's Retry-After (seconds; a comment or parameters after it are ignored).
fn retry_after(response: &Response) -> Option<Duration> {
    let value = header_values(response, "Retry-After").into_iter().next()?;
    let seconds = value.split(|c: char| !c.is_ascii_digit()).next()?.parse::<u64>().ok()?;
    Some(Duration::from_secs(seconds))
}

/// The values of every header called `name` (case-insensitive), in order.
fn header_values(response: &Response, name: &str) -> Vec<String> {
    response
        .headers
        .iter()
        .filter_map(|header| {
            let text = header.to_string();
            let (header_name, value) = text.split_once(':')?;
            header_name.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_string())
        })
        .collect()
}

/// Split a comma-joined header value (`<a>;expires=60, <b>`) outside quotes and angle
/// brackets.
fn split_list(value: &str) -> Vec<String> {
    let (mut parts, mut current, mut quoted, mut angled) = (Vec::new(), String::new(), false, false);
    for c in value.chars() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => angled = true,
            '>' if !quoted => angled = false,
            ',' if !quoted && !angled => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push(current);
    parts.into_iter().map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect()
}

/// A SIP URI reduced to what identifies a binding: `user@host:port`, lowercase, without
/// parameters, with the default port made explicit.
fn binding_key(uri: &str) -> String {
    let uri = uri.trim();
    let uri = uri.strip_prefix("sip:").or_else(|| uri.strip_prefix("sips:")).unwrap_or(uri);
    let uri = uri.split([';', '?']).next().unwrap_or(uri).to_ascii_lowercase();
    let host = uri.rsplit_once('@').map_or(uri.as_str(), |(_, host)| host);
    let has_port = match host.rfind(']') {
        Some(close) => host[close..].contains(':'),
        None => host.contains(':'),
    };
    if has_port { uri } else { format!("{uri}:5060") }
}

/// A parameter of a Digest challenge (`nonce="abc", stale=TRUE`), unquoted.
fn digest_param(challenge: &str, name: &str) -> Option<String> {
    let params = challenge.trim().split_once(char::is_whitespace).map_or("", |(_, params)| params);
    split_list(params).into_iter().find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim().trim_matches('"').to_string())
    })
}

#[cfg(test)]
mod tests;
