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

/// Make the calling thread real-time (SCHED_FIFO at `priority`, 1-99) when the system
/// allows it (CAP_SYS_NICE, or an RLIMIT_RTPRIO): it then runs as soon as it wakes, ahead
/// of every ordinary thread, as media servers run their clocks. Only for a thread that
/// sleeps most of the time and does bounded work per wake-up. When refused, the thread
/// gets the nice value `fallback_nice` instead; false then.
pub fn raise_realtime(priority: i32, fallback_nice: i32, thread: &str) -> bool {
    let param = libc::sched_param { sched_priority: priority };
    // SAFETY: pthread_self names the calling thread, and `param` lives across the call.
    let result = unsafe { libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_FIFO, &param) };
    if result == 0 {
        tracing::info!(thread, priority, "real-time scheduling (SCHED_FIFO)");
        return true;
    }
    tracing::info!(error = %std::io::Error::from_raw_os_error(result), thread, "no real-time scheduling; a raised nice value instead");
    raise(fallback_nice, thread);
    false
}
