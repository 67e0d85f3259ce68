//! Running one decision: a fresh `Store` and instance from the module's cached
//! `InstancePre`, the company's deadline and memory cap, and a failure classified so the
//! caller can log it, count it and fall back.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use utoipa::ToSchema;
use wasmtime::Trap;

use super::Sandbox;
use super::bindings::log::Level;
use super::loaded::LoadedModule;
use super::state::{DecisionScope, DecisionState};

/// Why a decision produced no usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, ToSchema)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum DecisionError {
    /// The module ran past its deadline and was stopped.
    #[error("stopped at the {0} ms deadline")]
    Timeout(u64),
    /// The module tried to use more memory than allowed.
    #[error("memory limit of {0} MiB exceeded")]
    MemoryExceeded(usize),
    /// The module trapped (a panic, an unreachable, a bad memory access ...).
    #[error("trapped: {0}")]
    Trap(String),
    /// The module answered with an error of its own.
    #[error("module refused: {0}")]
    Refused(String),
    /// The module does not export this decision.
    #[error("the module does not export {0}")]
    NotExported(String),
    /// The module answered, but with something the host cannot carry out.
    #[error("invalid answer: {0}")]
    InvalidAnswer(String),
}

/// A decision's answer and what the module logged on the way.
#[derive(Debug, Clone)]
pub struct Outcome<T> {
    pub answer: Result<T, DecisionError>,
    pub logs: Vec<(Level, String)>,
    pub elapsed: std::time::Duration,
}

impl<T> Outcome<T> {
    /// A decision that failed before the module ran.
    pub fn refused(error: DecisionError) -> Outcome<T> {
        Outcome { answer: Err(error), logs: Vec::new(), elapsed: Default::default() }
    }
}

impl Sandbox {
    /// Run `call` on a fresh instance of `module` under `scope`.
    pub(super) fn run<T>(
        &self,
        module: &Arc<LoadedModule>,
        scope: DecisionScope,
        now_ms: i64,
        seed: u64,
        call: impl FnOnce(
            &mut wasmtime::Store<DecisionState>,
            &wasmtime::component::Instance,
        ) -> wasmtime::Result<Result<T, String>>,
    ) -> Outcome<T> {
        let started = Instant::now();
        let deadline_ticks = scope.limits.deadline_ticks();
        let state = DecisionState::new(scope, self.services.clone(), now_ms, seed);
        let _ticking = self.ticker.ticking();
        let mut store = wasmtime::Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(deadline_ticks);
        store.epoch_deadline_trap();

        let result = module.pre.instantiate(&mut store).and_then(|instance| call(&mut store, &instance));
        let answer = match result {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(refusal)) => Err(DecisionError::Refused(refusal)),
            Err(error) => Err(classify(&error, store.data())),
        };
        let state = store.into_data();
        Outcome { answer, logs: state.logs, elapsed: started.elapsed() }
    }
}

/// Bytes of a module's stderr quoted in a failure.
const STDERR_IN_FAILURE: usize = 512;

fn classify(error: &wasmtime::Error, state: &DecisionState) -> DecisionError {
    if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) || state.slept_past_deadline {
        return DecisionError::Timeout(state.scope.limits.deadline.as_millis() as u64);
    }
    if state.limiter.memory_exceeded {
        return DecisionError::MemoryExceeded(state.scope.limits.memory_bytes / (1024 * 1024));
    }
    // The panic message is what Rust's runtime writes last.
    let contents = state.stderr.contents();
    let tail = &contents[contents.len().saturating_sub(STDERR_IN_FAILURE)..];
    let stderr = String::from_utf8_lossy(tail).trim().to_string();
    let root = error.root_cause().to_string();
    if stderr.is_empty() {
        DecisionError::Trap(root)
    } else {
        DecisionError::Trap(format!("{root}; stderr: {stderr}"))
    }
}
