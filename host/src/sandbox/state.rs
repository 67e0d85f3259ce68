//! What one decision's `Store` holds: its WASI context (no files, no sockets, no
//! environment; the wall clock and randomness fixed by the call context so a decision
//! can be replayed; the monotonic clock counts from the decision's start), its resource
//! limiter, and what the host imports need.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{HostWallClock, WasiCtx, WasiCtxView, WasiView};

use super::bindings::log::Level;
use super::limits::*;
use super::services::HostServices;
use super::stderr::CappedStderr;
use crate::store::records::Grants;

/// Who a decision runs for and with what rights.
#[derive(Debug, Clone)]
pub struct DecisionScope {
    /// The company; kv keys are scoped to it.
    pub company: String,
    /// The module's name; kv keys are scoped to it too.
    pub module: String,
    /// What the install grants.
    pub grants: Grants,
    /// Time and memory limits.
    pub limits: DecisionLimits,
}

/// The store data of one decision.
pub struct DecisionState {
    wasi: WasiCtx,
    pub(super) table: ResourceTable,
    pub(super) limiter: DecisionLimiter,
    pub(super) scope: DecisionScope,
    pub(super) services: Arc<HostServices>,
    pub(super) started: Instant,
    pub(super) logs: Vec<(Level, String)>,
    pub(super) stderr: CappedStderr,
    /// The module asked to sleep past its deadline and was stopped (a timeout).
    pub(super) slept_past_deadline: bool,
}

impl DecisionState {
    /// A fresh state for one decision at the call's instant `now_ms` with `seed`.
    pub fn new(scope: DecisionScope, services: Arc<HostServices>, now_ms: i64, seed: u64) -> DecisionState {
        let stderr = CappedStderr::default();
        let mut wasi = WasiCtx::builder();
        wasi.stderr(stderr.clone())
            .wall_clock(FixedWallClock(Duration::from_millis(now_ms.max(0) as u64)))
            .secure_random(wasmtime_wasi::Deterministic::new(seed_bytes(seed)))
            .insecure_random(wasmtime_wasi::Deterministic::new(seed_bytes(seed.rotate_left(32))))
            .insecure_random_seed(u128::from(seed));
        DecisionState {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limiter: DecisionLimiter {
                memory_bytes: scope.limits.memory_bytes,
                memory_in_use: 0,
                memory_exceeded: false,
            },
            scope,
            services,
            started: Instant::now(),
            logs: Vec::new(),
            stderr,
            slept_past_deadline: false,
        }
    }

    /// Time left before the decision's deadline.
    pub(super) fn time_left(&self) -> Duration {
        self.scope.limits.deadline.saturating_sub(self.started.elapsed())
    }
}

impl WasiView for DecisionState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// 32 bytes derived from `seed` (splitmix64), cycled by WASI's deterministic random.
fn seed_bytes(seed: u64) -> Vec<u8> {
    let mut state = seed;
    (0..4)
        .flat_map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)).to_le_bytes()
        })
        .collect()
}

/// WASI wall clock fixed at the decision's instant.
struct FixedWallClock(Duration);

impl HostWallClock for FixedWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }
    fn now(&self) -> Duration {
        self.0
    }
}

/// Memory and table limits of one decision; remembers a refused growth so the failure
/// can be reported as "memory limit exceeded" rather than a bare trap.
pub(super) struct DecisionLimiter {
    memory_bytes: usize,
    /// Bytes of every linear memory of the instance together: the cap is on the sum.
    memory_in_use: usize,
    pub(super) memory_exceeded: bool,
}

impl ResourceLimiter for DecisionLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.memory_in_use - current.min(self.memory_in_use) + desired;
        if total > self.memory_bytes {
            self.memory_exceeded = true;
            return Err(wasmtime::Error::msg(format!(
                "memory limit of {} MiB exceeded",
                self.memory_bytes / (1024 * 1024)
            )));
        }
        self.memory_in_use = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }
    fn tables(&self) -> usize {
        MAX_TABLES
    }
    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1024 * 1024;

    #[test]
    fn the_memory_cap_is_on_all_memories_together() {
        let mut limiter =
            DecisionLimiter { memory_bytes: 16 * MIB, memory_in_use: 0, memory_exceeded: false };
        assert!(limiter.memory_growing(0, 10 * MIB, None).unwrap());
        assert!(limiter.memory_growing(10 * MIB, 12 * MIB, None).unwrap());
        // A second memory of 5 MiB would bring the total to 17 MiB.
        assert!(limiter.memory_growing(0, 5 * MIB, None).is_err());
        assert!(limiter.memory_exceeded);
        assert!(limiter.memory_growing(0, 4 * MIB, None).unwrap());
    }
}
