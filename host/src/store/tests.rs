//! Store behaviour the rest of the host relies on, on both backends: every test below
//! runs once on redb (`embedded::…`) and once on PostgreSQL (`postgres::…`).

use super::records::{AuditEntry, ExternalNumber};
use super::*;

fn number(company: &str, name: &str) -> ExternalNumber {
    ExternalNumber {
        company: company.into(),
        name: name.into(),
        number: "34900111222".into(),
        description: String::new(),
    }
}

fn entry(company: &str) -> AuditEntry {
    crate::audit::Actor::system().entry(Some(company), "test", "x".into(), None)
}

/// Run each named test (a `fn(Store)`) on an empty store of each backend.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $( #[test] fn $name() { super::$name(super::Store::in_memory().unwrap()) } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name(super::testing::postgres()) } )*
        }
    };
}

on_both_backends!(
    prefix_scans_never_cross_into_another_company,
    an_error_inside_a_transaction_discards_all_its_writes,
    audit_entries_are_numbered_and_listed_newest_first,
    the_audit_log_pages_back_past_entries_of_other_companies,
    kv_is_scoped_by_company_and_module,
    kv_compare_and_swap_checks_the_version,
    every_table_keeps_keys_with_nul_and_any_value_bytes,
    deleting_a_prefix_removes_only_that_company,
    a_transaction_reads_its_own_writes_and_keeps_large_values_whole,
);

fn prefix_scans_never_cross_into_another_company(store: Store) {
    store
        .write(|tx| {
            tx.put(&EXTERNAL_NUMBERS, &company_key("acme", "a"), &number("acme", "a"))?;
            tx.put(&EXTERNAL_NUMBERS, &company_key("acme-2", "b"), &number("acme-2", "b"))?;
            tx.put(&EXTERNAL_NUMBERS, &company_key("acm", "c"), &number("acm", "c"))
        })
        .unwrap();
    let acme = store.read(|r| r.scan(&EXTERNAL_NUMBERS, &company_prefix("acme"))).unwrap();
    assert_eq!(acme.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), ["a"]);
    assert_eq!(store.read(|r| r.count(&EXTERNAL_NUMBERS, &company_prefix("acm"))).unwrap(), 1);
    assert_eq!(store.read(|r| r.count(&EXTERNAL_NUMBERS, "")).unwrap(), 3);
}

fn an_error_inside_a_transaction_discards_all_its_writes(store: Store) {
    let result: Result<(), StoreError> = store.write(|tx| {
        tx.put(&EXTERNAL_NUMBERS, &company_key("acme", "a"), &number("acme", "a"))?;
        tx.audit(entry("acme"))?;
        Err(StoreError::Database("refused".into()))
    });
    assert!(result.is_err());
    assert!(store.read(|r| r.get(&EXTERNAL_NUMBERS, &company_key("acme", "a"))).unwrap().is_none());
    assert!(store.read(|r| recent_audit(r, None, 10)).unwrap().is_empty());
    // The store goes on: the next transaction commits.
    store.write(|tx| tx.put(&EXTERNAL_NUMBERS, &company_key("acme", "b"), &number("acme", "b"))).unwrap();
    assert!(store.read(|r| r.get(&EXTERNAL_NUMBERS, &company_key("acme", "b"))).unwrap().is_some());
}

fn audit_entries_are_numbered_and_listed_newest_first(store: Store) {
    for company in ["a", "b", "a"] {
        store.write(|tx| tx.audit(entry(company))).unwrap();
    }
    let all = store.read(|r| recent_audit(r, None, 10)).unwrap();
    assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 2, 1]);
    let only_a = store.read(|r| recent_audit(r, Some("a"), 10)).unwrap();
    assert_eq!(only_a.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 1]);
}

fn the_audit_log_pages_back_past_entries_of_other_companies(store: Store) {
    // One entry of "old", then more entries of "busy" than one page of the scan.
    store.write(|tx| tx.audit(entry("old"))).unwrap();
    store
        .write(|tx| {
            for _ in 0..600 {
                tx.audit(entry("busy"))?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    let old = store.read(|r| recent_audit(r, Some("old"), 10)).unwrap();
    assert_eq!(old.iter().map(|e| e.seq).collect::<Vec<_>>(), [1]);
    assert_eq!(store.read(|r| recent_audit(r, None, 1000)).unwrap().len(), 601);
}

fn kv_is_scoped_by_company_and_module(store: Store) {
    store.kv_put("acme", "router", "k", None, b"1").unwrap();
    assert_eq!(store.kv_get("acme", "router", "k").unwrap().unwrap().value, b"1");
    assert!(store.kv_get("other", "router", "k").unwrap().is_none());
    assert!(store.kv_get("acme", "other", "k").unwrap().is_none());
}

fn kv_compare_and_swap_checks_the_version(store: Store) {
    let v1 = store.kv_put("c", "m", "k", Some(None), b"first").unwrap();
    assert!(
        matches!(store.kv_put("c", "m", "k", Some(None), b"again"), Err(KvWriteError::Conflict(Some(v))) if v == v1)
    );
    let v2 = store.kv_put("c", "m", "k", Some(Some(v1)), b"second").unwrap();
    assert!(v2 > v1);
    assert!(
        matches!(store.kv_put("c", "m", "k", Some(Some(v1)), b"stale"), Err(KvWriteError::Conflict(Some(v))) if v == v2)
    );
    assert_eq!(store.kv_get("c", "m", "k").unwrap().unwrap().value, b"second");
    assert!(store.kv_delete("c", "m", "k").unwrap());
    assert!(!store.kv_delete("c", "m", "k").unwrap());
}

fn every_table_keeps_keys_with_nul_and_any_value_bytes(store: Store) {
    let value: Vec<u8> = (0..=255).collect();
    store
        .write(|tx| {
            for table in copy::every_table() {
                tx.raw_mut().put(table, "acme\0ü\0k", &value)?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    store
        .read(|r| {
            for table in copy::every_table() {
                assert_eq!(r.raw().get(table, "acme\0ü\0k")?.as_deref(), Some(value.as_slice()), "{table}");
                assert_eq!(
                    r.raw().scan(table, "acme\0")?,
                    [("acme\0ü\0k".to_string(), value.clone())],
                    "{table}"
                );
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
}

fn a_transaction_reads_its_own_writes_and_keeps_large_values_whole(store: Store) {
    const TABLE: &str = "external_numbers";
    // Larger than what the PostgreSQL backend buffers as a literal.
    let large: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    store
        .write(|tx| {
            let raw = tx.raw_mut();
            raw.put(TABLE, "acme\0a", b"first")?;
            raw.put(TABLE, "acme\0big", &large)?;
            raw.put(TABLE, "acme\0a", b"second")?;
            assert_eq!(raw.get(TABLE, "acme\0a")?.as_deref(), Some(&b"second"[..]));
            assert_eq!(raw.scan(TABLE, "acme\0")?.len(), 2);
            raw.put(TABLE, "acme\0c", b"third")?;
            assert!(raw.delete(TABLE, "acme\0c")?, "the buffered row is there to delete");
            Ok::<_, StoreError>(())
        })
        .unwrap();
    let rows = store.read(|r| r.raw().scan(TABLE, "acme\0")).unwrap();
    assert_eq!(rows, [("acme\0a".to_string(), b"second".to_vec()), ("acme\0big".to_string(), large)]);
}

fn deleting_a_prefix_removes_only_that_company(store: Store) {
    store
        .write(|tx| {
            for (company, name) in [("acme", "a"), ("acme", "b"), ("acme-2", "c"), ("acm", "d")] {
                tx.put(&EXTERNAL_NUMBERS, &company_key(company, name), &number(company, name))?;
            }
            let removed = tx.delete_prefix(&EXTERNAL_NUMBERS, &company_prefix("acme"))?;
            assert_eq!(removed, 2);
            assert!(tx.delete(&EXTERNAL_NUMBERS, &company_key("acm", "d"))?);
            assert!(!tx.delete(&EXTERNAL_NUMBERS, &company_key("acm", "d"))?);
            Ok::<_, StoreError>(())
        })
        .unwrap();
    let left = store.read(|r| r.scan(&EXTERNAL_NUMBERS, "")).unwrap();
    assert_eq!(left.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), ["c"]);
}

#[test]
fn data_survives_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store.write(|tx| tx.put(&EXTERNAL_NUMBERS, &company_key("acme", "a"), &number("acme", "a"))).unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    assert!(store.read(|r| r.get(&EXTERNAL_NUMBERS, &company_key("acme", "a"))).unwrap().is_some());
}

#[test]
fn compare_and_swap_holds_between_two_hosts_on_one_database() {
    // Two stores on one database are two hosts: 4 threads on each add 1 to one counter
    // 25 times by compare-and-swap, retrying on conflicts. No increment may be lost.
    let url = testing::fresh_database_url();
    let hosts = [Store::connect(&url).unwrap(), Store::connect(&url).unwrap()];
    std::thread::scope(|scope| {
        for host in &hosts {
            for _ in 0..4 {
                scope.spawn(move || {
                    for _ in 0..25 {
                        loop {
                            let current = host.kv_get("acme", "counter", "n").unwrap();
                            let n = current
                                .as_ref()
                                .map_or(0, |c| u64::from_le_bytes(c.value[..8].try_into().unwrap()));
                            let expected = Some(current.map(|c| c.version));
                            match host.kv_put("acme", "counter", "n", expected, &(n + 1).to_le_bytes()) {
                                Ok(_) => break,
                                Err(KvWriteError::Conflict(_)) => continue,
                                Err(e) => panic!("{e}"),
                            }
                        }
                    }
                });
            }
        }
    });
    let value = hosts[1].kv_get("acme", "counter", "n").unwrap().unwrap().value;
    assert_eq!(u64::from_le_bytes(value[..8].try_into().unwrap()), 200);
    // The audit numbering, a read-then-write too, never repeats across hosts.
    std::thread::scope(|scope| {
        for host in &hosts {
            scope.spawn(move || {
                for _ in 0..20 {
                    host.write(|tx| tx.audit(entry("acme"))).unwrap();
                }
            });
        }
    });
    let seqs: Vec<u64> =
        hosts[0].read(|r| recent_audit(r, None, 100)).unwrap().iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=40).rev().collect::<Vec<_>>());
}

#[test]
fn a_redb_store_copies_whole_into_an_empty_postgres_database_and_never_into_a_used_one() {
    let dir = tempfile::tempdir().unwrap();
    let source = Store::open(dir.path()).unwrap();
    source
        .write(|tx| {
            tx.put(&EXTERNAL_NUMBERS, &company_key("acme", "a"), &number("acme", "a"))?;
            tx.audit(entry("acme"))?;
            tx.put_blob("abc", b"\0asm")
        })
        .unwrap();
    source.kv_put("acme", "m", "k", None, b"v").unwrap();
    let target = testing::postgres();
    let report = source.copy_into(&target).unwrap();
    assert_eq!(report.rows(), 4);
    assert!(target.read(|r| r.get(&EXTERNAL_NUMBERS, &company_key("acme", "a"))).unwrap().is_some());
    assert_eq!(target.read(|r| recent_audit(r, None, 10)).unwrap().len(), 1);
    assert_eq!(target.read(|r| r.blob("abc")).unwrap().as_deref(), Some(&b"\0asm"[..]));
    assert_eq!(target.kv_get("acme", "m", "k").unwrap().unwrap().value, b"v");
    // Audit numbering goes on after the copied entries.
    assert_eq!(target.write(|tx| tx.audit(entry("acme"))).unwrap(), 2);
    let again = source.copy_into(&target).unwrap_err();
    assert!(again.to_string().contains("not empty"), "{again}");
}

#[test]
fn a_write_that_times_out_on_the_write_lock_fails_and_leaves_its_connection_usable() {
    // Another host holds the write lock past the 10 s lock timeout.
    let url = testing::fresh_database_url();
    let store = Store::connect(&url).unwrap();
    let mut other_host = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
    let mut holding = other_host.transaction().unwrap();
    holding.execute("SELECT pg_advisory_xact_lock($1)", &[&super::postgres::connection::WRITE_LOCK]).unwrap();
    let refused =
        store.write(|tx| tx.put(&EXTERNAL_NUMBERS, &company_key("acme", "a"), &number("acme", "a")));
    assert!(refused.unwrap_err().to_string().contains("lock timeout"));
    holding.rollback().unwrap();
    // The same pooled connection takes the next write.
    store.write(|tx| tx.put(&EXTERNAL_NUMBERS, &company_key("acme", "b"), &number("acme", "b"))).unwrap();
    let names: Vec<String> =
        store.read(|r| r.scan(&EXTERNAL_NUMBERS, "")).unwrap().into_iter().map(|n| n.name).collect();
    assert_eq!(names, ["b"]);
}

#[test]
fn a_write_transaction_of_writes_only_goes_to_postgresql_whole_at_commit() {
    let url = testing::fresh_database_url();
    let store = Store::connect(&url).unwrap();
    let mut observer = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
    let lock_holders = |observer: &mut ::postgres::Client| -> i64 {
        let lock = super::postgres::connection::WRITE_LOCK;
        let (high, low) = ((lock >> 32) as i32 as i64, lock as i32 as u32 as i64);
        observer
            .query_one(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = $1::bigint::oid \
                 AND objid = $2::bigint::oid AND granted \
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                &[&high, &low],
            )
            .unwrap()
            .get(0)
    };
    store
        .write(|tx| {
            tx.put(&EXTERNAL_NUMBERS, &company_key("acme", "a"), &number("acme", "a"))?;
            tx.put(&EXTERNAL_NUMBERS, &company_key("acme", "b"), &number("acme", "b"))?;
            // Nothing has gone yet: no BEGIN, so the write lock is not taken.
            assert_eq!(lock_holders(&mut observer), 0);
            Ok::<_, StoreError>(())
        })
        .unwrap();
    let names: Vec<String> =
        store.read(|r| r.scan(&EXTERNAL_NUMBERS, "")).unwrap().into_iter().map(|n| n.name).collect();
    assert_eq!(names, ["a", "b"]);
    // A read inside a write transaction takes the lock first, as a compare-and-swap needs.
    store
        .write(|tx| {
            tx.get(&EXTERNAL_NUMBERS, &company_key("acme", "a"))?;
            assert_eq!(lock_holders(&mut observer), 1);
            Ok::<_, StoreError>(())
        })
        .unwrap();
    assert_eq!(lock_holders(&mut observer), 0);
}

#[test]
fn a_host_reads_its_own_writes_at_once_and_another_hosts_once_it_hears_of_them() {
    let url = testing::fresh_database_url();
    let (a, b) = (Store::connect(&url).unwrap(), Store::connect(&url).unwrap());
    let description = |store: &Store| {
        store.read(|r| r.get(&EXTERNAL_NUMBERS, &company_key("acme", "a"))).unwrap().map(|n| n.description)
    };
    let mut record = number("acme", "a");
    a.write(|tx| tx.put(&EXTERNAL_NUMBERS, &company_key("acme", "a"), &record)).unwrap();
    // Both read (and cache) the first version.
    assert_eq!(description(&a).as_deref(), Some(""));
    assert_eq!(description(&b).as_deref(), Some(""));
    record.description = "changed on a".into();
    a.write(|tx| tx.put(&EXTERNAL_NUMBERS, &company_key("acme", "a"), &record)).unwrap();
    assert_eq!(description(&a).as_deref(), Some("changed on a"), "the writer's next read");
    let started = std::time::Instant::now();
    while description(&b).as_deref() != Some("changed on a") {
        assert!(started.elapsed() < std::time::Duration::from_secs(15), "b never heard of a's change");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // A scan is kept and dropped the same way.
    let names = |store: &Store| store.read(|r| r.scan(&EXTERNAL_NUMBERS, "acme\0")).unwrap().len();
    assert_eq!(names(&b), 1);
    b.write(|tx| tx.delete(&EXTERNAL_NUMBERS, &company_key("acme", "a"))).unwrap();
    assert_eq!(names(&b), 0);
    while names(&a) != 0 {
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "a never heard of b's delete");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn a_prefix_deleted_on_one_host_is_forgotten_by_the_other_and_many_rows_forget_the_table() {
    let url = testing::fresh_database_url();
    let (a, b) = (Store::connect(&url).unwrap(), Store::connect(&url).unwrap());
    let count =
        |store: &Store, prefix: &str| store.read(|r| r.scan(&EXTERNAL_NUMBERS, prefix)).unwrap().len();
    let wait_for = |what: &str, done: &dyn Fn() -> bool| {
        let started = std::time::Instant::now();
        while !done() {
            assert!(started.elapsed() < std::time::Duration::from_secs(15), "never: {what}");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    };
    // b caches the empty company; then more rows in one transaction than are announced
    // one by one.
    assert_eq!(count(&b, "acme\0"), 0);
    a.write(|tx| {
        for i in 0..100 {
            let name = format!("n{i}");
            tx.put(&EXTERNAL_NUMBERS, &company_key("acme", &name), &number("acme", &name))?;
        }
        tx.put(&EXTERNAL_NUMBERS, &company_key("globex", "g"), &number("globex", "g"))
    })
    .unwrap();
    wait_for("b sees a's hundred rows", &|| count(&b, "acme\0") == 100);
    assert_eq!(count(&b, "globex\0"), 1);
    a.write(|tx| tx.delete_prefix(&EXTERNAL_NUMBERS, "acme\0")).unwrap();
    assert_eq!(count(&a, "acme\0"), 0, "the writer's next read");
    wait_for("b hears of a's prefix delete", &|| count(&b, "acme\0") == 0);
    assert_eq!(count(&b, "globex\0"), 1);
}

#[test]
fn a_row_changed_on_one_host_is_forgotten_by_the_other_which_keeps_the_rest_cached() {
    let url = testing::fresh_database_url();
    let (a, b) = (Store::connect(&url).unwrap(), Store::connect(&url).unwrap());
    let description = |store: &Store, name: &str| {
        store.read(|r| r.get(&EXTERNAL_NUMBERS, &company_key("acme", name))).unwrap().map(|n| n.description)
    };
    a.write(|tx| {
        tx.put(&EXTERNAL_NUMBERS, &company_key("acme", "one"), &number("acme", "one"))?;
        tx.put(&EXTERNAL_NUMBERS, &company_key("acme", "two"), &number("acme", "two"))
    })
    .unwrap();
    // Announcements arrive in order: once b has heard of a later write ("fence", cached
    // as missing first), it has heard of the first one and reads what follows afresh.
    assert_eq!(description(&b, "fence"), None);
    a.write(|tx| tx.put(&EXTERNAL_NUMBERS, &company_key("acme", "fence"), &number("acme", "fence"))).unwrap();
    let started = std::time::Instant::now();
    while description(&b, "fence").is_none() {
        assert!(started.elapsed() < std::time::Duration::from_secs(15), "b never heard of the fence");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(description(&b, "one").as_deref(), Some(""));
    assert_eq!(description(&b, "two").as_deref(), Some(""), "b caches both");
    // Row "two" changes behind every host's back (no announcement): only a cache that
    // kept it still shows the old description.
    let mut behind = number("acme", "two");
    behind.description = "changed behind the store".into();
    let mut client = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
    let key = company_key("acme", "two").into_bytes();
    client
        .execute(
            "UPDATE external_numbers SET value = $2 WHERE key = $1",
            &[&key, &serde_json::to_vec(&behind).unwrap()],
        )
        .unwrap();
    let mut one = number("acme", "one");
    one.description = "changed on a".into();
    a.write(|tx| tx.put(&EXTERNAL_NUMBERS, &company_key("acme", "one"), &one)).unwrap();
    while description(&b, "one").as_deref() != Some("changed on a") {
        assert!(started.elapsed() < std::time::Duration::from_secs(15), "b never heard of a's change");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(description(&b, "two").as_deref(), Some(""), "a change of row one kept row two cached");
}
