//! The guard in front of SIP: which source addresses are banned, counting failed
//! authentications into bans, and the whitelist of ranges never banned (SPEC.md §10).
//!
//! [`Guard::admits`] runs for every datagram before it is parsed, so it takes no lock when
//! nothing is banned and otherwise one read lock and a hash lookup; it never allocates or
//! touches the store. Changes (a ban, an unban, the whitelist) are written to the store
//! first, with their audit entry, and then published to memory, one change at a time.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::SystemTime;

use chrono::{DateTime, Utc};

use super::cidr::Cidr;
use super::failures::{Failures, MAX_TRACKED_SOURCES};
use super::settings::BanSettings;
use crate::audit::Actor;
use crate::store::records::{Ban, WhitelistEntry};
use crate::store::{BANS, Read, Store, StoreError, WHITELIST};
use crate::sync::{lock, read, write};

/// Most bans in force at once. A ban is a stored row: without a bound, an attacker with
/// many addresses (an IPv6 prefix) could grow the store at will. When full, expired bans
/// are dropped; if none has expired, new offenders are only logged.
pub const MAX_ACTIVE_BANS: usize = 100_000;

/// Errors of the guard's operator actions.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error("{0} is already whitelisted")]
    AlreadyWhitelisted(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A ban as the packet path checks it.
#[derive(Debug, Clone)]
struct ActiveBan {
    until: Option<SystemTime>,
    record: Ban,
}

impl ActiveBan {
    fn applies_at(&self, now: SystemTime) -> bool {
        self.until.is_none_or(|until| now < until)
    }
}

/// A whitelisted range with its stored entry.
#[derive(Debug, Clone)]
struct Trusted {
    cidr: Cidr,
    entry: WhitelistEntry,
}

/// What adding a whitelist range did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Whitelisted {
    pub entry: WhitelistEntry,
    /// Addresses whose bans the range lifted.
    pub lifted: Vec<String>,
}

/// The ban list and whitelist of the host; share it in an `Arc`.
pub struct Guard {
    store: Store,
    settings: BanSettings,
    /// How many bans `bans` holds, read without a lock: zero lets every packet through.
    banned: AtomicUsize,
    bans: RwLock<HashMap<IpAddr, ActiveBan>>,
    whitelist: RwLock<Vec<Trusted>>,
    failures: Mutex<Failures>,
    /// Held across each change (store write, then memory), so changes apply in one order
    /// and the packet path never waits for a disk write.
    changing: Mutex<()>,
}

/// The address as one host: an IPv4-mapped IPv6 address (from a dual-stack socket) is its
/// IPv4 address, so a ban applies whichever way the packet arrives.
fn host(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

impl Guard {
    /// The guard over `store`, with the bans and whitelist stored there (bans that expired
    /// while the host was down are deleted).
    pub fn load(store: Store, settings: BanSettings) -> Result<Guard, StoreError> {
        Guard::load_with_capacity(store, settings, MAX_TRACKED_SOURCES)
    }

    /// [`Guard::load`] tracking the failures of at most `capacity` addresses at once.
    pub fn load_with_capacity(
        store: Store,
        settings: BanSettings,
        capacity: usize,
    ) -> Result<Guard, StoreError> {
        let now = SystemTime::now();
        let (stored_bans, stored_whitelist) =
            store.read(|r| Ok::<_, StoreError>((r.scan(&BANS, "")?, r.scan(&WHITELIST, "")?)))?;
        let mut whitelist = Vec::new();
        for entry in stored_whitelist {
            match Cidr::parse(&entry.cidr) {
                Ok(cidr) => whitelist.push(Trusted { cidr, entry }),
                Err(error) => {
                    tracing::warn!(cidr = entry.cidr, %error, "ignoring an unreadable whitelist entry")
                }
            }
        }
        let mut bans = HashMap::new();
        let mut expired = Vec::new();
        for record in stored_bans {
            let Ok(ip) = record.ip.parse::<IpAddr>() else {
                tracing::warn!(ip = record.ip, "deleting an unreadable ban");
                expired.push(record.ip);
                continue;
            };
            let ban = ActiveBan { until: record.expires_at.map(SystemTime::from), record };
            if ban.applies_at(now) {
                bans.insert(host(ip), ban);
            } else {
                expired.push(ban.record.ip);
            }
        }
        if !expired.is_empty() {
            store.write(|tx| {
                for ip in &expired {
                    tx.delete(&BANS, ip)?;
                }
                Ok::<_, StoreError>(())
            })?;
        }
        tracing::info!(bans = bans.len(), whitelisted = whitelist.len(), "ban list loaded");
        Ok(Guard {
            store,
            settings,
            banned: AtomicUsize::new(bans.len()),
            bans: RwLock::new(bans),
            whitelist: RwLock::new(whitelist),
            failures: Mutex::new(Failures::new(settings.failures(), settings.window(), capacity)),
            changing: Mutex::new(()),
        })
    }

    /// The policy in force.
    pub fn settings(&self) -> BanSettings {
        self.settings
    }

    /// Whether a packet from `ip` may be processed now (false: drop it unread).
    pub fn admits(&self, ip: IpAddr) -> bool {
        // Nothing banned, the usual case: no lock, no clock.
        if self.banned.load(Ordering::Acquire) == 0 {
            return true;
        }
        self.admits_at(ip, SystemTime::now())
    }

    /// [`Guard::admits`] at a given time.
    pub fn admits_at(&self, ip: IpAddr, now: SystemTime) -> bool {
        read(&self.bans).get(&host(ip)).is_none_or(|ban| !ban.applies_at(now))
    }

    /// How many source addresses have failures being counted (at most the capacity).
    pub fn tracked_sources(&self) -> usize {
        lock(&self.failures).tracked()
    }

    /// Whether `ip` lies in a whitelisted range.
    pub fn is_whitelisted(&self, ip: IpAddr) -> bool {
        read(&self.whitelist).iter().any(|trusted| trusted.cidr.contains(ip))
    }

    /// Count a failed authentication from `ip` (`reason` says what failed). When it makes
    /// the configured number within the window, `ip` is banned: the ban is stored with a
    /// "security.banned" audit entry, logged and returned. Whitelisted addresses are
    /// never counted. A store failure is logged and the ban still applies until restart.
    pub fn auth_failed(&self, ip: IpAddr, reason: &str, now: SystemTime) -> Option<Ban> {
        let ip = host(ip);
        if self.is_whitelisted(ip) || !self.admits_at(ip, now) {
            return None;
        }
        let failures = lock(&self.failures).record(ip, now)?;

        let _changing = lock(&self.changing);
        // The whitelist may have grown since the check above.
        if self.is_whitelisted(ip) {
            return None;
        }
        let expired = self.expired_bans(now);
        if read(&self.bans).len().saturating_sub(expired.len()) >= MAX_ACTIVE_BANS {
            tracing::warn!(%ip, reason, failures, "not banned: the ban list is full");
            return None;
        }
        let until = self.settings.duration().map(|duration| now + duration);
        let record = Ban {
            ip: ip.to_string(),
            reason: reason.to_string(),
            failures,
            banned_at: DateTime::<Utc>::from(now),
            expires_at: until.map(DateTime::<Utc>::from),
        };
        let window_s = self.settings.window().as_secs();
        let detail = format!("{reason} ({failures} failed authentications within {window_s} s)");
        let stored = self.store.write(|tx| {
            for (_, old) in &expired {
                tx.delete(&BANS, old)?;
            }
            tx.put(&BANS, &record.ip, &record)?;
            tx.audit(Actor::system().entry(None, "security.banned", record.ip.clone(), Some(detail)))
        });
        if let Err(error) = stored {
            tracing::error!(%ip, %error, "the ban could not be stored; it lasts until restart");
        }
        self.publish(|bans| {
            for (old, _) in &expired {
                bans.remove(old);
            }
            bans.insert(ip, ActiveBan { until, record: record.clone() });
        });
        tracing::warn!(
            %ip, reason, failures, expires_at = ?record.expires_at, "banned after failed authentications"
        );
        Some(record)
    }

    /// The bans in force at `now`, oldest first.
    pub fn bans(&self, now: SystemTime) -> Vec<Ban> {
        let mut bans: Vec<Ban> = read(&self.bans)
            .values()
            .filter(|ban| ban.applies_at(now))
            .map(|ban| ban.record.clone())
            .collect();
        bans.sort_by(|a, b| (a.banned_at, &a.ip).cmp(&(b.banned_at, &b.ip)));
        bans
    }

    /// Lift the ban of `ip` (with a "security.unbanned" audit entry by `actor`); `None`
    /// when it is not banned at `now`.
    pub fn unban(&self, ip: IpAddr, actor: &Actor, now: SystemTime) -> Result<Option<Ban>, StoreError> {
        let ip = host(ip);
        let _changing = lock(&self.changing);
        let Some(ban) = read(&self.bans).get(&ip).cloned() else {
            return Ok(None);
        };
        self.store.write(|tx| {
            tx.delete(&BANS, &ban.record.ip)?;
            if ban.applies_at(now) {
                tx.audit(actor.entry(None, "security.unbanned", ban.record.ip.clone(), None))?;
            }
            Ok::<_, StoreError>(())
        })?;
        self.publish(|bans| {
            bans.remove(&ip);
        });
        lock(&self.failures).forget(ip);
        Ok(ban.applies_at(now).then_some(ban.record))
    }

    /// The whitelist, in CIDR text order.
    pub fn whitelist(&self) -> Vec<WhitelistEntry> {
        let mut entries: Vec<WhitelistEntry> =
            read(&self.whitelist).iter().map(|trusted| trusted.entry.clone()).collect();
        entries.sort_by(|a, b| a.cidr.cmp(&b.cidr));
        entries
    }

    /// Whitelist `cidr`, lifting the bans inside it ("security.whitelist.add" and one
    /// "security.unbanned" audit entry per lifted ban, by `actor`).
    pub fn whitelist_add(
        &self,
        cidr: Cidr,
        description: &str,
        actor: &Actor,
        now: SystemTime,
    ) -> Result<Whitelisted, GuardError> {
        let _changing = lock(&self.changing);
        let key = cidr.to_string();
        if read(&self.whitelist).iter().any(|trusted| trusted.cidr == cidr) {
            return Err(GuardError::AlreadyWhitelisted(key));
        }
        let entry =
            WhitelistEntry { cidr: key.clone(), description: description.to_string(), added_at: now.into() };
        let lifted: Vec<(IpAddr, Ban)> = read(&self.bans)
            .iter()
            .filter(|(ip, _)| cidr.contains(**ip))
            .map(|(ip, ban)| (*ip, ban.record.clone()))
            .collect();
        self.store.write(|tx| {
            tx.put(&WHITELIST, &key, &entry)?;
            tx.audit(actor.entry(
                None,
                "security.whitelist.add",
                key.clone(),
                Some(description.to_string()),
            ))?;
            for (_, ban) in &lifted {
                tx.delete(&BANS, &ban.ip)?;
                tx.audit(actor.entry(
                    None,
                    "security.unbanned",
                    ban.ip.clone(),
                    Some(format!("whitelisted {key}")),
                ))?;
            }
            Ok::<_, StoreError>(())
        })?;
        write(&self.whitelist).push(Trusted { cidr, entry: entry.clone() });
        self.publish(|bans| bans.retain(|ip, _| !cidr.contains(*ip)));
        let mut failures = lock(&self.failures);
        for (ip, _) in &lifted {
            failures.forget(*ip);
        }
        drop(failures);
        let lifted: Vec<String> = lifted.into_iter().map(|(_, ban)| ban.ip).collect();
        tracing::info!(cidr = key, lifted = lifted.len(), "whitelisted");
        Ok(Whitelisted { entry, lifted })
    }

    /// Remove `cidr` from the whitelist ("security.whitelist.remove" audit entry by
    /// `actor`); the entry, or `None` when it was not whitelisted.
    pub fn whitelist_remove(&self, cidr: Cidr, actor: &Actor) -> Result<Option<WhitelistEntry>, StoreError> {
        let _changing = lock(&self.changing);
        let Some(trusted) = read(&self.whitelist).iter().find(|trusted| trusted.cidr == cidr).cloned() else {
            return Ok(None);
        };
        self.store.write(|tx| {
            tx.delete(&WHITELIST, &trusted.entry.cidr)?;
            tx.audit(actor.entry(None, "security.whitelist.remove", trusted.entry.cidr.clone(), None))
        })?;
        write(&self.whitelist).retain(|t| t.cidr != cidr);
        tracing::info!(cidr = trusted.entry.cidr, "removed from the whitelist");
        Ok(Some(trusted.entry))
    }

    /// Bans held in memory that no longer apply at `now`, with their store keys.
    fn expired_bans(&self, now: SystemTime) -> Vec<(IpAddr, String)> {
        read(&self.bans)
            .iter()
            .filter(|(_, ban)| !ban.applies_at(now))
            .map(|(ip, ban)| (*ip, ban.record.ip.clone()))
            .collect()
    }

    /// Change the ban map under its write lock and republish its size.
    fn publish(&self, change: impl FnOnce(&mut HashMap<IpAddr, ActiveBan>)) {
        let mut bans = write(&self.bans);
        change(&mut bans);
        self.banned.store(bans.len(), Ordering::Release);
    }
}
