//! The location service behind the registrar (RFC 3261 §10.3): which contacts are bound
//! to each address of record, with their expiry, as REGISTER requests add, refresh and
//! remove them. Sans-IO: the caller passes the request's parts and the current time.
//!
//! An address of record is an extension of a company ([`Aor`]); one extension holds at
//! most [`MAX_BINDINGS`] contacts (SPEC §8: up to 8 devices).

use std::collections::HashMap;
use std::net::SocketAddr;

use crate::sip::endpoint::Peer;
use crate::sip::transport::Transport;
use std::time::{Duration, SystemTime};

/// Most contacts one extension may have registered (SPEC §8).
pub const MAX_BINDINGS: usize = 8;
/// Shortest registration accepted (else 423 Interval Too Brief with Min-Expires).
pub const MIN_EXPIRES: Duration = Duration::from_secs(60);
/// Longest registration granted; longer requests are shortened to it.
pub const MAX_EXPIRES: Duration = Duration::from_secs(3600);

/// An address of record: an extension of a company.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Aor {
    pub company: String,
    pub extension: String,
}

/// One registered contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The Contact URI, as registered.
    pub contact: String,
    /// Where the REGISTER came from (received/rport): where requests are sent.
    pub source: SocketAddr,
    /// How it came: requests go back the same way (over its connection, for TCP).
    pub transport: Transport,
    /// The Call-ID of the registering client; with `cseq`, orders its requests.
    pub call_id: String,
    pub cseq: u32,
    /// When the binding lapses.
    pub expires_at: SystemTime,
    /// The User-Agent header, for the API's device list.
    pub user_agent: Option<String>,
}

/// One Contact of a REGISTER, with its expiry (the Contact's `expires` parameter, else
/// the Expires header, else the registrar's default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRequest {
    pub contact: String,
    pub expires: Duration,
}

/// What a REGISTER asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterRequest {
    /// Only list the current bindings (no Contact header).
    Query,
    /// Add, refresh or (with expires 0) remove these contacts.
    Update(Vec<ContactRequest>),
    /// `Contact: *` with `Expires: 0`: remove every binding of the client's AOR.
    RemoveAll,
}

/// Why a REGISTER is refused, with the response it gets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// 423 Interval Too Brief; the response carries Min-Expires.
    #[error("registration interval too brief; the minimum is {} s", MIN_EXPIRES.as_secs())]
    IntervalTooBrief,
    /// 500: a request older than one already applied for the same Call-ID (§10.3 step 7).
    #[error("CSeq {cseq} is not newer than {current} for this Call-ID")]
    OutOfOrder { cseq: u32, current: u32 },
    /// 403: more devices than an extension may have.
    #[error("at most {MAX_BINDINGS} devices may register for one extension")]
    TooManyBindings,
}

impl RegisterError {
    /// The SIP status code to answer with.
    pub fn status(&self) -> u16 {
        match self {
            RegisterError::IntervalTooBrief => 423,
            RegisterError::OutOfOrder { .. } => 500,
            RegisterError::TooManyBindings => 403,
        }
    }
}

/// The bindings of every address of record.
#[derive(Debug, Default)]
pub struct Location {
    bindings: HashMap<Aor, Vec<Binding>>,
}

/// Whether two Contact URIs name the same contact (RFC 3261 §19.1.4, simplified to a
/// case-insensitive comparison of the URI without its angle brackets).
fn same_contact(a: &str, b: &str) -> bool {
    let strip = |s: &str| s.trim().trim_start_matches('<').trim_end_matches('>').to_ascii_lowercase();
    strip(a) == strip(b)
}

impl Location {
    /// An empty location service.
    pub fn new() -> Location {
        Location::default()
    }

    /// Set the bindings of `aor` to `bindings` (read back from a shared store).
    pub fn restore(&mut self, aor: &Aor, bindings: Vec<Binding>) {
        if !bindings.is_empty() {
            self.bindings.insert(aor.clone(), bindings);
        }
    }

    /// Apply a REGISTER for `aor` from `source` at `now`; all of it or none of it.
    /// Returns the bindings after the change (what the 200 OK lists).
    #[allow(clippy::too_many_arguments)]
    pub fn register(
        &mut self,
        aor: &Aor,
        request: RegisterRequest,
        source: Peer,
        call_id: &str,
        cseq: u32,
        user_agent: Option<&str>,
        now: SystemTime,
    ) -> Result<Vec<Binding>, RegisterError> {
        let mut bindings = self.lookup(aor, now);
        match request {
            RegisterRequest::Query => {}
            RegisterRequest::RemoveAll => {
                if let Some(newer) = bindings.iter().find(|b| b.call_id == call_id && b.cseq >= cseq) {
                    return Err(RegisterError::OutOfOrder { cseq, current: newer.cseq });
                }
                bindings.clear();
            }
            RegisterRequest::Update(contacts) => {
                for request in &contacts {
                    if !request.expires.is_zero() && request.expires < MIN_EXPIRES {
                        return Err(RegisterError::IntervalTooBrief);
                    }
                }
                for request in contacts {
                    let existing = bindings.iter().position(|b| same_contact(&b.contact, &request.contact));
                    if let Some(index) = existing {
                        let current = &bindings[index];
                        if current.call_id == call_id && current.cseq >= cseq {
                            return Err(RegisterError::OutOfOrder { cseq, current: current.cseq });
                        }
                        bindings.remove(index);
                    }
                    if request.expires.is_zero() {
                        continue;
                    }
                    bindings.push(Binding {
                        contact: request.contact,
                        source: source.addr,
                        transport: source.transport,
                        call_id: call_id.to_string(),
                        cseq,
                        expires_at: now + request.expires.min(MAX_EXPIRES),
                        user_agent: user_agent.map(str::to_string),
                    });
                }
                if bindings.len() > MAX_BINDINGS {
                    return Err(RegisterError::TooManyBindings);
                }
            }
        }
        if bindings.is_empty() {
            self.bindings.remove(aor);
        } else {
            self.bindings.insert(aor.clone(), bindings.clone());
        }
        Ok(bindings)
    }

    /// The live bindings of `aor` at `now`.
    pub fn lookup(&self, aor: &Aor, now: SystemTime) -> Vec<Binding> {
        self.bindings
            .get(aor)
            .map(|b| b.iter().filter(|b| b.expires_at > now).cloned().collect())
            .unwrap_or_default()
    }

    /// Remove every binding of `aor`.
    pub fn forget(&mut self, aor: &Aor) {
        self.bindings.remove(aor);
    }

    /// Remove every binding of every extension of `company`.
    pub fn forget_company(&mut self, company: &str) {
        self.bindings.retain(|aor, _| aor.company != company);
    }

    /// Drop every lapsed binding; returns how many.
    pub fn purge_expired(&mut self, now: SystemTime) -> usize {
        let mut removed = 0;
        self.bindings.retain(|_, bindings| {
            let before = bindings.len();
            bindings.retain(|b| b.expires_at > now);
            removed += before - bindings.len();
            !bindings.is_empty()
        });
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Duration = Duration::from_secs(1_800_000_000);

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + T0 + Duration::from_secs(seconds)
    }

    fn aor() -> Aor {
        Aor { company: "acme".into(), extension: "100".into() }
    }

    fn contact(n: u32, expires: u64) -> ContactRequest {
        ContactRequest {
            contact: format!("<sip:100@192.0.2.{n}:5060>"),
            expires: Duration::from_secs(expires),
        }
    }

    fn source() -> Peer {
        Peer::udp("192.0.2.1:5060".parse().unwrap())
    }

    fn register(
        location: &mut Location,
        contacts: Vec<ContactRequest>,
        cseq: u32,
        now: SystemTime,
    ) -> Result<Vec<Binding>, RegisterError> {
        location.register(
            &aor(),
            RegisterRequest::Update(contacts),
            source(),
            "reg-1",
            cseq,
            Some("baresip"),
            now,
        )
    }

    #[test]
    fn register_binds_and_the_binding_expires() {
        let mut location = Location::new();
        let bound = register(&mut location, vec![contact(1, 120)], 1, at(0)).unwrap();
        assert_eq!(bound.len(), 1);
        assert_eq!(location.lookup(&aor(), at(119)).len(), 1);
        assert!(location.lookup(&aor(), at(120)).is_empty());
        assert_eq!(location.purge_expired(at(121)), 1);
    }

    #[test]
    fn refresh_extends_and_expires_zero_unregisters() {
        let mut location = Location::new();
        register(&mut location, vec![contact(1, 120)], 1, at(0)).unwrap();
        register(&mut location, vec![contact(1, 120)], 2, at(100)).unwrap();
        assert_eq!(location.lookup(&aor(), at(200)).len(), 1, "refreshed at 100 for 120 s");
        register(&mut location, vec![contact(1, 0)], 3, at(150)).unwrap();
        assert!(location.lookup(&aor(), at(150)).is_empty());
    }

    #[test]
    fn contact_star_removes_every_binding() {
        let mut location = Location::new();
        register(&mut location, vec![contact(1, 600), contact(2, 600)], 1, at(0)).unwrap();
        let left =
            location.register(&aor(), RegisterRequest::RemoveAll, source(), "reg-1", 2, None, at(1)).unwrap();
        assert!(left.is_empty());
        assert!(location.lookup(&aor(), at(1)).is_empty());
    }

    #[test]
    fn a_query_lists_without_changing() {
        let mut location = Location::new();
        register(&mut location, vec![contact(1, 600)], 1, at(0)).unwrap();
        let listed =
            location.register(&aor(), RegisterRequest::Query, source(), "other", 1, None, at(1)).unwrap();
        assert_eq!(listed.len(), 1);
    }

    #[test]
    fn a_too_brief_interval_is_refused_with_423() {
        let mut location = Location::new();
        let error = register(&mut location, vec![contact(1, 30)], 1, at(0)).unwrap_err();
        assert_eq!(error, RegisterError::IntervalTooBrief);
        assert_eq!(error.status(), 423);
    }

    #[test]
    fn long_intervals_are_shortened_to_the_maximum() {
        let mut location = Location::new();
        let bound = register(&mut location, vec![contact(1, 86_400)], 1, at(0)).unwrap();
        assert_eq!(bound[0].expires_at, at(0) + MAX_EXPIRES);
    }

    #[test]
    fn an_older_cseq_for_the_same_call_id_is_refused_and_changes_nothing() {
        let mut location = Location::new();
        register(&mut location, vec![contact(1, 600)], 5, at(0)).unwrap();
        let error = register(&mut location, vec![contact(1, 0)], 4, at(1)).unwrap_err();
        assert_eq!(error, RegisterError::OutOfOrder { cseq: 4, current: 5 });
        assert_eq!(error.status(), 500);
        assert_eq!(location.lookup(&aor(), at(1)).len(), 1);
    }

    #[test]
    fn a_ninth_device_is_refused_and_the_eight_stay() {
        let mut location = Location::new();
        register(&mut location, (1..=8).map(|n| contact(n, 600)).collect(), 1, at(0)).unwrap();
        let error = register(&mut location, vec![contact(9, 600)], 2, at(1)).unwrap_err();
        assert_eq!(error, RegisterError::TooManyBindings);
        assert_eq!(location.lookup(&aor(), at(1)).len(), MAX_BINDINGS);
    }

    #[test]
    fn contacts_compare_without_brackets_and_case() {
        let mut location = Location::new();
        register(&mut location, vec![contact(1, 600)], 1, at(0)).unwrap();
        let same =
            ContactRequest { contact: "SIP:100@192.0.2.1:5060".into(), expires: Duration::from_secs(600) };
        assert_eq!(register(&mut location, vec![same], 2, at(1)).unwrap().len(), 1);
    }

    #[test]
    fn extensions_of_different_companies_are_different_aors() {
        let mut location = Location::new();
        register(&mut location, vec![contact(1, 600)], 1, at(0)).unwrap();
        let other = Aor { company: "other".into(), extension: "100".into() };
        assert!(location.lookup(&other, at(1)).is_empty());
    }
}
