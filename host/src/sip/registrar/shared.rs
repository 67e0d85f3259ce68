//! Registrations on a shared store: the location service of a cluster. Each REGISTER
//! reads the extension's row, applies the same rules as the in-memory [`Location`], and
//! writes the row back in one write transaction (writers are serialised across hosts), so
//! a phone that re-registers through another host keeps one consistent set of bindings.
//! A lookup reads the row: a call on any host reaches a phone registered through any
//! other, over UDP; a TCP or WebSocket binding is reachable only from the host holding
//! its connection.

use std::time::SystemTime;

use chrono::{DateTime, Utc};

use super::location::{Aor, Binding, Location, RegisterError, RegisterRequest};
use crate::sip::endpoint::Peer;
use crate::sip::transport::Transport;
use crate::store::records::{RegisteredContact, Registration};
use crate::store::{REGISTRATIONS, Read, Store, StoreError, company_key, company_prefix};

/// One REGISTER's details, as the location service takes them.
pub struct Register<'a> {
    pub request: RegisterRequest,
    pub source: Peer,
    pub call_id: &'a str,
    pub cseq: u32,
    pub user_agent: Option<&'a str>,
}

/// The cluster's location service on `store`, as seen from host `host`.
pub struct SharedLocation {
    store: Store,
    host: String,
}

fn row_key(aor: &Aor) -> String {
    company_key(&aor.company, &aor.extension)
}

fn to_contact(binding: &Binding, host: &str) -> RegisteredContact {
    RegisteredContact {
        contact: binding.contact.clone(),
        source: binding.source,
        transport: binding.transport.via_name().to_string(),
        call_id: binding.call_id.clone(),
        cseq: binding.cseq,
        expires_at: DateTime::<Utc>::from(binding.expires_at),
        user_agent: binding.user_agent.clone(),
        host: host.to_string(),
    }
}

fn to_binding(contact: &RegisteredContact) -> Binding {
    Binding {
        contact: contact.contact.clone(),
        source: contact.source,
        transport: Transport::of_via(&contact.transport),
        call_id: contact.call_id.clone(),
        cseq: contact.cseq,
        expires_at: SystemTime::from(contact.expires_at),
        user_agent: contact.user_agent.clone(),
    }
}

impl SharedLocation {
    pub fn new(store: Store, host: String) -> SharedLocation {
        SharedLocation { store, host }
    }

    /// Apply a REGISTER for `aor` at `now`, all of it or none of it; the bindings after it.
    pub fn register(
        &self,
        aor: &Aor,
        register: Register<'_>,
        now: SystemTime,
    ) -> Result<Result<Vec<Binding>, RegisterError>, StoreError> {
        let key = row_key(aor);
        self.store.write(|tx| {
            let row = tx.get(&REGISTRATIONS, &key)?.unwrap_or_default();
            let mut location = Location::new();
            location.restore(aor, row.contacts.iter().map(to_binding).collect());
            let Register { request, source, call_id, cseq, user_agent } = register;
            let result = location.register(aor, request, source, call_id, cseq, user_agent, now);
            if let Ok(bindings) = &result {
                // A binding this REGISTER made or refreshed is this host's; the others
                // stay with the host that took them.
                let contacts: Vec<RegisteredContact> = bindings
                    .iter()
                    .map(|binding| {
                        let refreshed = binding.call_id == call_id && binding.cseq == cseq;
                        let before = row.contacts.iter().find(|c| c.contact == binding.contact);
                        let host = match before {
                            Some(before) if !refreshed => before.host.as_str(),
                            _ => self.host.as_str(),
                        };
                        to_contact(binding, host)
                    })
                    .collect();
                if contacts.is_empty() {
                    tx.delete(&REGISTRATIONS, &key)?;
                } else {
                    tx.put(&REGISTRATIONS, &key, &Registration { contacts })?;
                }
            }
            Ok(result)
        })
    }

    /// The live bindings of `aor` this host can reach.
    pub fn lookup(&self, aor: &Aor, now: SystemTime) -> Result<Vec<Binding>, StoreError> {
        let row = self.store.read(|r| r.get(&REGISTRATIONS, &row_key(aor)))?.unwrap_or_default();
        Ok(row
            .contacts
            .iter()
            .filter(|c| c.transport.eq_ignore_ascii_case("UDP") || c.host == self.host)
            .map(to_binding)
            .filter(|b| b.expires_at > now)
            .collect())
    }

    /// Forget the bindings of `aor`.
    pub fn forget(&self, aor: &Aor) -> Result<(), StoreError> {
        self.store.write(|tx| tx.delete(&REGISTRATIONS, &row_key(aor)).map(|_| ()))
    }

    /// Forget every binding of `company`.
    pub fn forget_company(&self, company: &str) -> Result<(), StoreError> {
        self.store.write(|tx| tx.delete_prefix(&REGISTRATIONS, &company_prefix(company)).map(|_| ()))
    }
}
