//! `wasi:clocks/monotonic-clock` for modules: time since the decision started, and sleeps
//! that never outlast the decision. Epochs do not advance while a guest waits in a host
//! call, so an uncapped `thread::sleep` would hold a pool slot (and a thread) far past
//! the deadline. A sleep that would end after the deadline stops the module at once, as
//! reaching the deadline would.

use std::time::Duration;

use wasmtime::component::Resource;
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock::{Duration as WasiDuration, Host, Instant};
use wasmtime_wasi::p2::{DynPollable, Pollable, subscribe};

use crate::sandbox::state::DecisionState;

/// A sleep that ends at a fixed instant.
struct CappedSleep(tokio::time::Instant);

#[wasmtime_wasi::async_trait]
impl Pollable for CappedSleep {
    async fn ready(&mut self) {
        tokio::time::sleep_until(self.0).await;
    }
}

impl DecisionState {
    fn sleep(&mut self, wanted: Duration) -> wasmtime::Result<Resource<DynPollable>> {
        let left = self.time_left();
        if wanted >= left {
            self.slept_past_deadline = true;
            return Err(wasmtime::Error::msg(format!(
                "asked to sleep {wanted:?}, past the decision's deadline"
            )));
        }
        let until = tokio::time::Instant::now() + wanted;
        let sleep = self.table.push(CappedSleep(until))?;
        subscribe(&mut self.table, sleep)
    }

    fn monotonic_now(&self) -> Instant {
        self.started.elapsed().as_nanos() as Instant
    }
}

impl Host for DecisionState {
    fn now(&mut self) -> wasmtime::Result<Instant> {
        Ok(self.monotonic_now())
    }

    fn resolution(&mut self) -> wasmtime::Result<WasiDuration> {
        Ok(1)
    }

    fn subscribe_instant(&mut self, when: Instant) -> wasmtime::Result<Resource<DynPollable>> {
        let wanted = Duration::from_nanos(when.saturating_sub(self.monotonic_now()));
        self.sleep(wanted)
    }

    fn subscribe_duration(&mut self, duration: WasiDuration) -> wasmtime::Result<Resource<DynPollable>> {
        self.sleep(Duration::from_nanos(duration))
    }
}
