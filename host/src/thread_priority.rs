//! Raising a latency-critical thread's priority (the SIP loop, the media clock): on a busy
//! machine they should not wait behind relay or background work.

/// Give the calling thread the nice value `nice` when the system allows it (it needs
/// CAP_SYS_NICE); otherwise it keeps the default and the log says so.
pub fn raise(nice: i32, thread: &str) {
    // SAFETY: gettid and setpriority only read their integer arguments; on Linux a thread
    // id names one thread for PRIO_PROCESS.
    let result = unsafe {
        let id = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, id, nice)
    };
    if result != 0 {
        tracing::info!(error = %std::io::Error::last_os_error(), thread, "the thread keeps the default priority");
    }
}
