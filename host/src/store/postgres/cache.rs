//! Each host's copy of the rows a call reads (companies, users, devices, DIDs, module
//! installs…): tables that change only when an admin changes something, and the
//! registrations, which change at each REGISTER (a few a second per thousand phones: at
//! worst a call's lookup misses, as it would without the cache). A snapshot's read of such
//! a table is answered here when it can be, without a round trip to PostgreSQL.
//!
//! A write transaction that changed a cached table announces the table on the change
//! feed in the same transaction, and clears it locally once committed; every host clears
//! it when the announcement arrives (all of them after the feed reconnects). A generation
//! per table stops a read that raced a change from caching what it read before. Write
//! transactions never read from here: a read-then-write (compare-and-swap) sees the row
//! as committed.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::super::Row;
use crate::store::{
    ALIASES, CALL_EVENTS, COMPANIES, DEVICES, DID_OWNERS, DIDS, EXTERNAL_NUMBERS, IVR_MENUS, MODULE_INSTALLS,
    MODULE_VERSIONS, PICKUP_GROUPS, PROMPTS, QUEUES, REGISTRATIONS, ROOMS, SERVICE_CODE_OVERRIDES,
    SERVICE_CODES, SIP_DOMAINS, USERS, VOICEMAIL_BOXES,
};

/// The tables kept: read on every call, rarely written (registrations aside). (Named by their collections, so
/// a renamed table cannot silently drop out of the cache.)
const CACHED: &[&str] = &[
    COMPANIES.name,
    USERS.name,
    DEVICES.name,
    DIDS.name,
    DID_OWNERS.name,
    ALIASES.name,
    EXTERNAL_NUMBERS.name,
    MODULE_VERSIONS.name,
    MODULE_INSTALLS.name,
    SIP_DOMAINS.name,
    SERVICE_CODES.name,
    SERVICE_CODE_OVERRIDES.name,
    PICKUP_GROUPS.name,
    QUEUES.name,
    IVR_MENUS.name,
    PROMPTS.name,
    CALL_EVENTS.name,
    VOICEMAIL_BOXES.name,
    ROOMS.name,
    REGISTRATIONS.name,
];

/// The topic a changed cached table is announced under, the table name its subject.
pub(super) const TABLE_TOPIC: &str = "table";

pub(super) fn is_cached(table: &str) -> bool {
    CACHED.contains(&table)
}

#[derive(Default)]
struct TableCache {
    generation: u64,
    gets: HashMap<String, Option<Vec<u8>>>,
    scans: HashMap<String, Vec<Row>>,
}

#[derive(Default)]
pub(super) struct ReadCache {
    tables: Mutex<HashMap<&'static str, TableCache>>,
}

impl ReadCache {
    fn lock(&self) -> MutexGuard<'_, HashMap<&'static str, TableCache>> {
        // A poisoned lock only means a reader panicked mid-insert; every entry is whole.
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The table's generation, to pass back when caching what is read from now on.
    pub(super) fn generation(&self, table: &'static str) -> u64 {
        self.lock().get(table).map_or(0, |t| t.generation)
    }

    pub(super) fn get(&self, table: &'static str, key: &str) -> Option<Option<Vec<u8>>> {
        self.lock().get(table)?.gets.get(key).cloned()
    }

    pub(super) fn scan(&self, table: &'static str, prefix: &str) -> Option<Vec<Row>> {
        self.lock().get(table)?.scans.get(prefix).cloned()
    }

    pub(super) fn keep_get(&self, table: &'static str, generation: u64, key: &str, value: &Option<Vec<u8>>) {
        let mut tables = self.lock();
        let cache = tables.entry(table).or_default();
        if cache.generation == generation {
            cache.gets.insert(key.to_string(), value.clone());
        }
    }

    pub(super) fn keep_scan(&self, table: &'static str, generation: u64, prefix: &str, rows: &[Row]) {
        let mut tables = self.lock();
        let cache = tables.entry(table).or_default();
        if cache.generation == generation {
            cache.scans.insert(prefix.to_string(), rows.to_vec());
        }
    }

    /// Forget `table` (it changed).
    pub(super) fn forget(&self, table: &str) {
        // The entry is made if missing: a read of the table may be under way at
        // generation 0, and must not cache what it read.
        let Some(name) = CACHED.iter().find(|name| **name == table) else { return };
        let mut tables = self.lock();
        let cache = tables.entry(name).or_default();
        cache.generation += 1;
        cache.gets.clear();
        cache.scans.clear();
    }

    /// Forget everything (changes may have been missed).
    pub(super) fn forget_all(&self) {
        for cache in self.lock().values_mut() {
            cache.generation += 1;
            cache.gets.clear();
            cache.scans.clear();
        }
    }
}
