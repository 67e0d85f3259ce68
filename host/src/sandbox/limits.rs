//! Every limit of the sandbox, named in one place. The per-decision limits have
//! company-level overrides (`Company::decision_deadline_ms`, `decision_memory_mib`).

use std::time::Duration;

/// How often the epoch advances; a decision's deadline is counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Default wall-time limit of one decision.
pub const DEFAULT_DEADLINE_MS: u32 = 10;
/// Largest deadline a company may set: a caller waits for it.
pub const MAX_DEADLINE_MS: u32 = 5_000;
/// The least time the `call-events` module gets at a call's end, whatever the company's
/// deadline: nobody waits for it (it runs off the call), and a short deadline meant for
/// routing decisions would drop missed-call mail whenever the machine is busy.
pub const MIN_CALL_EVENTS_DEADLINE: Duration = Duration::from_millis(500);

/// Deadline of the warm-up instantiation done when a module is loaded (100 ms).
pub const WARM_UP_TICKS: u64 = 100;

/// Default linear-memory limit of one decision.
pub const DEFAULT_MEMORY_MIB: u32 = 16;
/// Largest memory limit a company may set; also the size of a pooling-allocator slot.
pub const MAX_MEMORY_MIB: u32 = 256;

/// Most table elements one decision may allocate.
pub const MAX_TABLE_ELEMENTS: usize = 20_000;
/// Most core instances, memories and tables one component may create.
pub const MAX_INSTANCES: usize = 32;
pub const MAX_MEMORIES: usize = 4;
pub const MAX_TABLES: usize = 8;

/// Maximum wasm stack of one decision.
pub const MAX_WASM_STACK: usize = 512 * 1024;

/// Decisions that may run at the same time (pooling-allocator slots).
pub const CONCURRENT_DECISIONS: u32 = 256;

/// Linear memory kept resident in a pool slot between decisions (avoids page faults on
/// the next instantiation); measured to halve instantiation time.
pub const KEEP_RESIDENT_BYTES: usize = 2 * 1024 * 1024;

/// Largest accepted component upload.
pub const MAX_COMPONENT_BYTES: usize = 32 * 1024 * 1024;

/// Longest log line kept from a module, and most lines kept per decision.
pub const MAX_LOG_LINE: usize = 4 * 1024;
pub const MAX_LOG_LINES: usize = 64;

/// kv limits per key and value.
pub const MAX_KV_KEY: usize = 512;
pub const MAX_KV_VALUE: usize = 64 * 1024;

/// Largest HTTP response body handed to a module.
pub const MAX_HTTP_BODY: u64 = 1024 * 1024;

/// Captured guest stderr (panic messages), per decision.
pub const MAX_STDERR: usize = 8 * 1024;

/// The limits one decision runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecisionLimits {
    /// Wall-time limit.
    pub deadline: Duration,
    /// Linear-memory limit in bytes.
    pub memory_bytes: usize,
}

impl DecisionLimits {
    /// The limits of a company's settings, clamped to the host maxima.
    pub fn new(deadline_ms: u32, memory_mib: u32) -> DecisionLimits {
        DecisionLimits {
            deadline: Duration::from_millis(u64::from(deadline_ms.clamp(1, MAX_DEADLINE_MS))),
            memory_bytes: memory_mib.clamp(1, MAX_MEMORY_MIB) as usize * 1024 * 1024,
        }
    }

    /// The deadline in epoch ticks (at least one).
    pub fn deadline_ticks(&self) -> u64 {
        (self.deadline.as_micros() / EPOCH_TICK.as_micros()).max(1) as u64
    }
}

impl Default for DecisionLimits {
    fn default() -> Self {
        DecisionLimits::new(DEFAULT_DEADLINE_MS, DEFAULT_MEMORY_MIB)
    }
}
