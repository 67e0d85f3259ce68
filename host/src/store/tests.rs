//! Store behaviour the rest of the host relies on.

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

#[test]
fn prefix_scans_never_cross_into_another_company() {
    let store = Store::in_memory().unwrap();
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
}

#[test]
fn an_error_inside_a_transaction_discards_all_its_writes() {
    let store = Store::in_memory().unwrap();
    let result: Result<(), StoreError> = store.write(|tx| {
        tx.put(&EXTERNAL_NUMBERS, &company_key("acme", "a"), &number("acme", "a"))?;
        tx.audit(entry("acme"))?;
        Err(StoreError::Database("refused".into()))
    });
    assert!(result.is_err());
    assert!(store.read(|r| r.get(&EXTERNAL_NUMBERS, &company_key("acme", "a"))).unwrap().is_none());
    assert!(store.read(|r| recent_audit(r, None, 10)).unwrap().is_empty());
}

#[test]
fn audit_entries_are_numbered_and_listed_newest_first() {
    let store = Store::in_memory().unwrap();
    for company in ["a", "b", "a"] {
        store.write(|tx| tx.audit(entry(company))).unwrap();
    }
    let all = store.read(|r| recent_audit(r, None, 10)).unwrap();
    assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 2, 1]);
    let only_a = store.read(|r| recent_audit(r, Some("a"), 10)).unwrap();
    assert_eq!(only_a.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 1]);
}

#[test]
fn kv_is_scoped_by_company_and_module() {
    let store = Store::in_memory().unwrap();
    store.kv_put("acme", "router", "k", None, b"1").unwrap();
    assert_eq!(store.kv_get("acme", "router", "k").unwrap().unwrap().value, b"1");
    assert!(store.kv_get("other", "router", "k").unwrap().is_none());
    assert!(store.kv_get("acme", "other", "k").unwrap().is_none());
}

#[test]
fn kv_compare_and_swap_checks_the_version() {
    let store = Store::in_memory().unwrap();
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
