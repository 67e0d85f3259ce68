//! The one wasmtime `Engine` of the process: compilation settings, the pooling
//! allocator (with a clean fall-back where its address space cannot be reserved), and
//! the epoch ticker that enforces decision deadlines.
//!
//! The ticker ticks only while decisions run ([`EpochTicker::ticking`]) and sleeps
//! otherwise: an idle host, or one of several hosts sharing a machine, should not wake a
//! thousand times a second for nothing. (Waking it costs a decision one system call; a
//! decision takes tens of microseconds, its deadline milliseconds.)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{self, Thread};
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::limits::*;

/// Which instance allocator the engine ended up with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocator {
    /// Pre-reserved slots, fastest instantiation.
    Pooling,
    /// Memory mapped per instance; used when the pool's reservation failed.
    OnDemand,
}

fn base_config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.max_wasm_stack(MAX_WASM_STACK);
    config
}

/// On demand, reserve only what a decision may use: where address space is scarce
/// (the reason pooling failed) the default 4 GiB reservation per memory may fail too.
/// Bounds are then checked explicitly, which costs a little speed.
fn on_demand_config() -> Config {
    let mut config = base_config();
    config.memory_reservation(MAX_MEMORY_MIB as u64 * 1024 * 1024);
    config
}

fn pooling_config() -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(CONCURRENT_DECISIONS)
        .total_core_instances(CONCURRENT_DECISIONS * 4)
        .total_memories(CONCURRENT_DECISIONS * 2)
        .total_tables(CONCURRENT_DECISIONS * 4)
        .max_memories_per_component(MAX_MEMORIES as u32)
        .max_tables_per_component(MAX_TABLES as u32)
        .max_core_instances_per_component(MAX_INSTANCES as u32)
        .max_memory_size(MAX_MEMORY_MIB as usize * 1024 * 1024)
        .table_elements(MAX_TABLE_ELEMENTS)
        .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
        .table_keep_resident(64 * 1024);
    pool
}

/// Build the engine: pooling when `prefer_pooling` and the reservation succeeds,
/// otherwise on demand. Starts the epoch ticker.
pub fn build(prefer_pooling: bool) -> wasmtime::Result<(Engine, Allocator, EpochTicker)> {
    let (engine, allocator) = if prefer_pooling {
        let mut config = base_config();
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling_config()));
        match Engine::new(&config) {
            Ok(engine) => (engine, Allocator::Pooling),
            Err(error) => {
                tracing::warn!(%error, "pooling allocator unavailable (address space?); falling back to on-demand allocation");
                (Engine::new(&on_demand_config())?, Allocator::OnDemand)
            }
        }
    } else {
        (Engine::new(&on_demand_config())?, Allocator::OnDemand)
    };
    // Without the ticker no deadline would fire: refuse to run rather than run unbounded.
    let ticker = EpochTicker::start(engine.weak())
        .map_err(|e| wasmtime::Error::msg(format!("cannot start the epoch ticker thread: {e}")))?;
    Ok((engine, allocator, ticker))
}

/// How long the idle ticker sleeps before checking that the engine still exists.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// The thread that advances the engine's epoch every [`EPOCH_TICK`] while any decision
/// runs, until the engine is dropped; cheap to clone.
#[derive(Clone)]
pub struct EpochTicker {
    shared: Arc<TickerShared>,
}

struct TickerShared {
    /// Decisions running now.
    running: AtomicUsize,
    /// The ticker thread, to wake; set once it is spawned.
    thread: OnceLock<Thread>,
}

/// A running decision: the epoch advances until it is dropped.
pub struct Ticking {
    shared: Arc<TickerShared>,
}

impl EpochTicker {
    fn start(engine: wasmtime::EngineWeak) -> std::io::Result<EpochTicker> {
        let shared = Arc::new(TickerShared { running: AtomicUsize::new(0), thread: OnceLock::new() });
        let ticker = Arc::clone(&shared);
        let handle = thread::Builder::new().name("epoch-ticker".into()).spawn(move || {
            let shared = ticker;
            loop {
                if shared.running.load(Ordering::Acquire) == 0 {
                    // `ticking` unparks: a decision starting after the load wakes this.
                    thread::park_timeout(IDLE_CHECK);
                    if engine.upgrade().is_none() {
                        return;
                    }
                    continue;
                }
                thread::sleep(EPOCH_TICK);
                let Some(engine) = engine.upgrade() else { return };
                engine.increment_epoch();
            }
        })?;
        // Set once, here, before any decision can start.
        let _ = shared.thread.set(handle.thread().clone());
        Ok(EpochTicker { shared })
    }

    /// A decision starts: tick until the returned guard is dropped.
    pub fn ticking(&self) -> Ticking {
        if self.shared.running.fetch_add(1, Ordering::AcqRel) == 0
            && let Some(thread) = self.shared.thread.get()
        {
            thread.unpark();
        }
        Ticking { shared: Arc::clone(&self.shared) }
    }
}

impl Drop for Ticking {
    fn drop(&mut self) {
        self.shared.running.fetch_sub(1, Ordering::AcqRel);
    }
}
