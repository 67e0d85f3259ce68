//! Each host's copy of the rows a call reads (companies, users, devices, DIDs, module
//! installs…): tables that change only when an admin changes something, and the
//! registrations, which change at each REGISTER (a few a second per thousand phones: at
//! worst a call's lookup misses, as it would without the cache). A snapshot's read of such
//! a table is answered here when it can be, without a round trip to PostgreSQL.
//!
//! A write transaction that changed a cached table announces the rows it put or deleted on
//! the change feed in the same transaction (the whole table when it changed many, or a
//! key prefix), and forgets them locally once committed; every host forgets them when the
//! announcement arrives (the whole cache after the feed reconnects). Forgetting a row
//! drops it and every cached scan whose prefix covers it, and keeps the rest: a phone's
//! REGISTER does not empty the other phones' cached registrations. A generation per table
//! stops a read that raced a change from caching what it read before. Write transactions
//! never read from here: a read-then-write (compare-and-swap) sees the row as committed.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::super::Row;
use crate::store::{
    ALIASES, CALL_EVENTS, COMPANIES, DEVICES, DID_OWNERS, DIDS, EXTERNAL_NUMBERS, IVR_MENUS, MODULE_INSTALLS,
    MODULE_VERSIONS, PICKUP_GROUPS, PROMPTS, QUEUES, REGISTRATIONS, ROOMS, SERVICE_CODE_OVERRIDES,
    SERVICE_CODES, SIP_DOMAINS, USERS, VOICEMAIL_BOXES,
};

/// The tables kept: read on every call, rarely written (registrations aside). Named by
/// their collections, so a renamed table cannot silently drop out of the cache.
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
/// The topic a changed row of a cached table is announced under; see [`row_subject`].
pub(super) const ROW_TOPIC: &str = "row";
/// More changed rows than this in one table and one transaction: the table is announced.
pub(super) const MAX_ROWS_ANNOUNCED: usize = 32;

/// A changed row as announced: `table NEWLINE key in hex` (keys hold NUL separators,
/// which a notification's text cannot carry).
pub(super) fn row_subject(table: &str, key: &str) -> String {
    format!("{table}\n{}", hex::encode(key))
}

/// The table and key of a [`row_subject`]; `None` when it is not one.
pub(super) fn parse_row_subject(subject: &str) -> Option<(&str, String)> {
    let (table, key) = subject.split_once('\n')?;
    Some((table, String::from_utf8(hex::decode(key).ok()?).ok()?))
}

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
        crate::sync::lock(&self.tables)
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

    /// Forget `table`'s row `key` (it changed): the row and the scans that cover it.
    pub(super) fn forget_row(&self, table: &str, key: &str) {
        let Some(name) = CACHED.iter().find(|name| **name == table) else { return };
        let mut tables = self.lock();
        let cache = tables.entry(name).or_default();
        // Reads under way, of any row, cache nothing: simpler than a generation per row,
        // and they are few.
        cache.generation += 1;
        cache.gets.remove(key);
        cache.scans.retain(|prefix, _| !key.starts_with(prefix.as_str()));
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

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "registrations";

    fn row(key: &str) -> Row {
        (key.to_string(), key.as_bytes().to_vec())
    }

    #[test]
    fn a_changed_row_is_forgotten_with_the_scans_that_cover_it_and_the_rest_is_kept() {
        let cache = ReadCache::default();
        let generation = cache.generation(TABLE);
        for key in ["acme\x00101", "acme\x00102", "globex\x00101"] {
            cache.keep_get(TABLE, generation, key, &Some(key.as_bytes().to_vec()));
        }
        cache.keep_scan(TABLE, generation, "acme\0", &[row("acme\x00101"), row("acme\x00102")]);
        cache.keep_scan(TABLE, generation, "globex\0", &[row("globex\x00101")]);
        cache.keep_scan(
            TABLE,
            generation,
            "",
            &[row("acme\x00101"), row("acme\x00102"), row("globex\x00101")],
        );
        cache.forget_row(TABLE, "acme\x00101");
        assert_eq!(cache.get(TABLE, "acme\x00101"), None, "the row");
        assert_eq!(cache.scan(TABLE, "acme\0"), None, "its company's scan");
        assert_eq!(cache.scan(TABLE, ""), None, "the whole table's scan");
        assert!(cache.get(TABLE, "acme\x00102").is_some(), "another row is kept");
        assert!(cache.scan(TABLE, "globex\0").is_some(), "another company's scan is kept");
        // A read begun before the change caches nothing.
        cache.keep_get(TABLE, generation, "acme\x00101", &None);
        assert_eq!(cache.get(TABLE, "acme\x00101"), None);
    }

    #[test]
    fn a_row_subject_carries_a_key_with_separators_and_a_bad_one_is_refused() {
        let subject = row_subject(TABLE, "acme\x00101");
        assert!(!subject.contains('\0'), "{subject:?}");
        assert_eq!(parse_row_subject(&subject), Some((TABLE, "acme\x00101".to_string())));
        assert_eq!(parse_row_subject("registrations\n6"), None, "odd length");
        assert_eq!(parse_row_subject("registrations\nzz"), None, "not hex");
        assert_eq!(parse_row_subject("registrations"), None, "no key");
    }
}
