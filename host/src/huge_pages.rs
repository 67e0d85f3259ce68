//! Why the host turns transparent huge pages off for itself.
//!
//! mimalloc (the global allocator) asks the kernel for transparent huge pages on its
//! arenas (`MADV_HUGEPAGE`). The first touch of each 2 MiB page then faults and zeroes the
//! whole page in one go, on whatever thread allocated: measured on the SIP thread at 1,200
//! calls/s (bench/pdd.sh), about three stalls a second of 5–8 ms of CPU each inside a
//! single message's handling, with every call in flight waiting behind it. The post-dial
//! delay's p99 went from about 10 ms to 3–5 ms without them (interleaved runs); p50 did not
//! move. Small pages fault 4 KiB at a time: the same zeroing, spread thin.
//!
//! An operator who wants them back sets mimalloc's own `MIMALLOC_ALLOW_THP=1`; any value
//! of that variable is left to mimalloc.

/// The environment variable through which mimalloc is told about huge pages.
pub const MIMALLOC_ALLOW_THP: &str = "MIMALLOC_ALLOW_THP";

/// Turn transparent huge pages off for this process (and its children) unless
/// [`MIMALLOC_ALLOW_THP`] says otherwise. Call early in `main` (once logging is up):
/// pages faulted before keep their size. A kernel that refuses leaves them on, and the
/// log says so.
pub fn keep_small_pages() {
    if std::env::var_os(MIMALLOC_ALLOW_THP).is_some() {
        tracing::info!("{MIMALLOC_ALLOW_THP} is set: huge pages are left to mimalloc");
        return;
    }
    // SAFETY: PR_SET_THP_DISABLE only sets a flag of the calling process; the unused
    // arguments must be zero.
    let result = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    if result != 0 {
        tracing::warn!(error = %std::io::Error::last_os_error(), "transparent huge pages stay on: the allocator may stall calls while it faults them");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PR_GET_THP_DISABLE reads the flag back: this is the call that lands it, not only
    /// the intent to.
    #[test]
    fn the_process_flag_is_set() {
        if std::env::var_os(MIMALLOC_ALLOW_THP).is_some() {
            return;
        }
        // SAFETY: like keep_small_pages; the test binary's own flag is all it touches.
        let before = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
        keep_small_pages();
        // SAFETY: as above.
        let after = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
        assert_eq!(after, 1, "the flag was {before} and did not become 1");
    }
}
