//! The sandbox: one wasmtime engine for the process, a cache of linked module versions,
//! and decisions run each in a fresh store and instance under a deadline and a memory
//! cap, with only the imports the module's install grants.
//!
//! - [`limits`]: every limit, named.
//! - [`engine`]: engine settings, pooling allocator, epoch ticker.
//! - [`component`]: compiling, the on-disk artifact cache, checking exports and imports.
//! - [`imports`]: the host functions modules call (`log`, `kv`, `mail`, `http`, WASI).
//! - [`decision`]: running one decision and classifying failures.
//! - [`registry`]: which version of which module decides for a company.

mod bindings;
mod call_events;
pub mod component;
mod convert;
pub mod counters;
pub mod decision;
pub mod engine;
mod imports;
mod ivr;
pub mod limits;
mod loaded;
mod queue;
pub mod registry;
mod resolved;
mod services;
mod state;
mod stderr;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

pub use component::{ComponentInfo, DecisionKind, UploadError};
pub use decision::{DecisionError, Outcome};
pub use engine::Allocator;
pub use loaded::LoadedModule;
pub use state::DecisionScope;

use crate::routing::RouteDecision;
use crate::routing::call::{CallInput, local_time, parse_time_zone};
use crate::routing::permissions::{PermissionQuery, Verdict};
use crate::store::Store;
use crate::store::records::Did;
use services::HostServices;
use state::DecisionState;

/// Errors starting the sandbox.
#[derive(Debug, thiserror::Error)]
#[error("sandbox: {0}")]
pub struct SandboxError(String);

/// The process's sandbox.
pub struct Sandbox {
    engine: Engine,
    /// Advances `engine`'s epoch while decisions run.
    ticker: engine::EpochTicker,
    allocator: Allocator,
    linker: Linker<DecisionState>,
    services: Arc<HostServices>,
    artifacts: Option<PathBuf>,
    loaded: Mutex<HashMap<String, Arc<LoadedModule>>>,
    resolved: resolved::ResolvedCache,
}

impl Sandbox {
    /// Start the sandbox. Compiled artifacts are cached in `artifacts` when given.
    pub fn new(
        store: Store,
        artifacts: Option<PathBuf>,
        prefer_pooling: bool,
    ) -> Result<Sandbox, SandboxError> {
        let (engine, allocator, ticker) =
            engine::build(prefer_pooling).map_err(|e| SandboxError(format!("{e:#}")))?;
        let linker = imports::linker(&engine).map_err(|e| SandboxError(format!("linker: {e:#}")))?;
        Ok(Sandbox {
            engine,
            ticker,
            allocator,
            linker,
            services: Arc::new(HostServices { store, mail: crate::mail::Mailer::disabled() }),
            artifacts,
            loaded: Mutex::new(HashMap::new()),
            resolved: Default::default(),
        })
    }

    /// The instance allocator in use.
    pub fn allocator(&self) -> Allocator {
        self.allocator
    }

    /// Compile, check and link a component; cached by SHA-256 for the process's life.
    pub fn load(&self, sha256: &str, bytes: &[u8]) -> Result<Arc<LoadedModule>, UploadError> {
        if let Some(loaded) = self.cached(sha256) {
            return Ok(loaded);
        }
        let component = component::compile(&self.engine, self.artifacts.as_deref(), sha256, bytes)?;
        let info = component::inspect(&self.engine, &component);
        self.link(sha256, &component, info)
    }

    /// Link a compiled component, check its decision exports have the contract's types,
    /// warm it up, and cache it.
    fn link(
        &self,
        sha256: &str,
        component: &Component,
        info: ComponentInfo,
    ) -> Result<Arc<LoadedModule>, UploadError> {
        if info.decisions.is_empty() {
            return Err(UploadError::NoDecision(component::export_names(&self.engine, component)));
        }
        let pre = self.linker.instantiate_pre(component).map_err(|e| UploadError::NotGranted {
            import: "an interface".into(),
            reason: format!("cannot be linked: {e:#}"),
        })?;
        // Each decision's export indices are looked up once here, not on every call.
        let bad_export = |kind: DecisionKind| {
            move |e: wasmtime::Error| UploadError::BadExport {
                export: kind.export_name(),
                reason: format!("{e:#}"),
            }
        };
        let did_routing = match info.decisions.contains(&DecisionKind::DidRouting) {
            false => None,
            true => Some(
                bindings::did_routing::GuestIndices::new(&pre)
                    .map_err(bad_export(DecisionKind::DidRouting))?,
            ),
        };
        let permissions = match info.decisions.contains(&DecisionKind::Permissions) {
            false => None,
            true => Some(
                bindings::permissions::GuestIndices::new(&pre)
                    .map_err(bad_export(DecisionKind::Permissions))?,
            ),
        };
        self.warm_up(&pre)?;
        component::cache_artifact(&self.engine, self.artifacts.as_deref(), sha256, component);
        let loaded =
            Arc::new(LoadedModule { sha256: sha256.to_string(), info, pre, did_routing, permissions });
        crate::sync::lock(&self.loaded).insert(sha256.to_string(), loaded.clone());
        Ok(loaded)
    }

    /// Instantiate once, off any call's clock: the first instance of a module faults in its
    /// code pages and a pool slot, which could otherwise eat a first call's deadline.
    fn warm_up(&self, pre: &wasmtime::component::InstancePre<DecisionState>) -> Result<(), UploadError> {
        let scope = DecisionScope {
            company: String::new(),
            module: String::new(),
            grants: Default::default(),
            limits: limits::DecisionLimits::default(),
        };
        let _ticking = self.ticker.ticking();
        let mut store =
            wasmtime::Store::new(&self.engine, DecisionState::new(scope, self.services.clone(), 0, 0));
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(limits::WARM_UP_TICKS);
        match pre.instantiate(&mut store) {
            Ok(_) => Ok(()),
            Err(error) => Err(UploadError::Instantiation(format!("{error:#}"))),
        }
    }

    /// Forget what was cached about `company`'s modules (the company was deleted).
    pub fn forget_company(&self, company: &str) {
        self.resolved.forget_company(company);
    }

    /// A module version already loaded in this process.
    pub fn cached(&self, sha256: &str) -> Option<Arc<LoadedModule>> {
        crate::sync::lock(&self.loaded).get(sha256).cloned()
    }

    /// Ask `module` where a call to `did` goes.
    pub fn route_did(
        &self,
        module: &Arc<LoadedModule>,
        scope: DecisionScope,
        call: &CallInput,
        did: &Did,
    ) -> Outcome<RouteDecision> {
        let seed = call.random_seed.unwrap_or_else(rand::random);
        let Some(indices) = module.did_routing.clone() else {
            return Outcome::refused(DecisionError::NotExported(DecisionKind::DidRouting.export_name()));
        };
        let zone = match parse_time_zone(&call.time_zone) {
            Ok(zone) => zone,
            Err(e) => {
                return Outcome::refused(DecisionError::InvalidAnswer(e.to_string()));
            }
        };
        let context = convert::call_to_wit(call, local_time(call.at, zone), seed);
        let wit_did = convert::did_to_wit(did);
        let outcome = self.run(module, scope, call.at.timestamp_millis(), seed, |store, instance| {
            let guest = indices.load(&mut *store, instance)?;
            guest.call_route(&mut *store, &context, &wit_did)
        });
        Outcome {
            answer: outcome.answer.map(convert::route_from_wit),
            logs: outcome.logs,
            elapsed: outcome.elapsed,
        }
    }

    /// Ask `module` whether `query.caller` may place `call` to `query.dialled`. An answer
    /// the host cannot carry out (an empty number, a caller id that is no number) is an
    /// [`DecisionError::InvalidAnswer`].
    pub fn authorize(
        &self,
        module: &Arc<LoadedModule>,
        scope: DecisionScope,
        call: &CallInput,
        query: &PermissionQuery<'_>,
    ) -> Outcome<Verdict> {
        let seed = call.random_seed.unwrap_or_else(rand::random);
        let Some(indices) = module.permissions.clone() else {
            return Outcome::refused(DecisionError::NotExported(DecisionKind::Permissions.export_name()));
        };
        let zone = match parse_time_zone(&call.time_zone) {
            Ok(zone) => zone,
            Err(e) => return Outcome::refused(DecisionError::InvalidAnswer(e.to_string())),
        };
        let context = convert::call_to_wit(call, local_time(call.at, zone), seed);
        let caller = convert::caller_to_wit(&query.caller);
        let kind = convert::dialled_kind_to_wit(query.kind);
        let config = query.config.to_string();
        let outcome = self.run(module, scope, call.at.timestamp_millis(), seed, |store, instance| {
            let guest = indices.load(&mut *store, instance)?;
            guest.call_authorize(&mut *store, &context, &caller, query.dialled, kind, &config)
        });
        Outcome {
            answer: outcome.answer.and_then(convert::verdict_from_wit),
            logs: outcome.logs,
            elapsed: outcome.elapsed,
        }
    }
}
