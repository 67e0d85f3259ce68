//! Call detail records (SPEC.md §9): the call engine hands every ended call, answered or
//! not, to [`write`]; the API reads them back with [`find`] and a [`CdrFilter`], newest
//! first, and exports them as CSV ([`csv`]).
//!
//! A CDR is keyed by its company, its end time and its id ([`cdr_key`]), so one company's
//! records are one contiguous range in the order calls ended.

pub mod csv;
pub mod filter;

pub use filter::{CdrFilter, FilterError, FilterValues, StatusFilter};

use crate::store::records::Cdr;
use crate::store::{CDRS, Read, Store, StoreError, cdr_key, company_prefix};

/// A new unique CDR id for the call whose first leg has SIP Call-ID `call_id`: the
/// Call-ID and a random suffix, since one call may leave more than one record.
pub fn new_id(call_id: &str) -> String {
    format!("{call_id}~{:016x}", rand::random::<u64>())
}

/// Store `cdr` in one transaction with one put (called once per ended call, at up to
/// hundreds of calls per second). Writing the same record again replaces it.
pub fn write(store: &Store, cdr: &Cdr) -> Result<(), StoreError> {
    store.write(|tx| tx.put(&CDRS, &cdr_key(&cdr.company, cdr.ended_at, &cdr.id), cdr))
}

/// Store `cdrs` in one transaction, so that calls ending close together share one
/// durable commit instead of paying one each; none is stored if any put fails.
pub fn write_all(store: &Store, cdrs: &[Cdr]) -> Result<(), StoreError> {
    store.write(|tx| {
        for cdr in cdrs {
            tx.put(&CDRS, &cdr_key(&cdr.company, cdr.ended_at, &cdr.id), cdr)?;
        }
        Ok(())
    })
}

/// Every CDR of `company` that `filter` matches, newest (latest ended) first.
pub fn find(store: &Store, company: &str, filter: &CdrFilter) -> Result<Vec<Cdr>, StoreError> {
    // The store can only scan a key prefix, not a key range: the date bounds are checked
    // per record instead of narrowing the scan.
    let mut cdrs = store.read(|r| r.scan(&CDRS, &company_prefix(company)))?;
    cdrs.retain(|cdr| filter.matches(cdr));
    // Keys are in end-time order, oldest first.
    cdrs.reverse();
    Ok(cdrs)
}

#[cfg(test)]
pub(crate) mod tests;
