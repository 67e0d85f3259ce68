//! `centralita module run` and `centralita module bench`: ask a module file for a decision
//! (did-routing or permissions) without any server or phone, as a command or as a library
//! call in a Rust test:
//!
//! ```no_run
//! use centralita::module_cli::ModuleRunner;
//! let runner = ModuleRunner::from_file("did_router.wasm".as_ref(), Default::default()).unwrap();
//! let case = std::fs::read_to_string("case.json").unwrap();
//! let decision = runner.run_json("did-routing", &case).unwrap();
//! println!("{decision}");
//! ```

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde::Deserialize;

use crate::routing::call::CallInput;
use crate::routing::permissions::{Caller, DialledKind, PermissionQuery, Verdict};
use crate::sandbox::limits::DecisionLimits;
use crate::sandbox::{DecisionError, DecisionKind, DecisionScope, LoadedModule, Sandbox};
use crate::store::Store;
use crate::store::records::{Destination, Did, DidRule, Grants, Role, empty_object};

/// Why a module could not be run.
#[derive(Debug, thiserror::Error)]
pub enum ModuleRunError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{0}")]
    Setup(String),
    #[error("the input is not a {decision} case: {message}")]
    Input { decision: String, message: String },
    #[error("unknown decision {0:?}: use one of did-routing, ivr, queue-strategy, permissions, call-events")]
    UnknownDecision(String),
    #[error("running {0} from the command line is not available yet")]
    NotYetRunnable(String),
    #[error("the decision failed: {0}")]
    Decision(#[from] DecisionError),
}

/// A did-routing test case: the call and the DID.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DidCase {
    pub call: CallInput,
    pub did: DidCaseDid,
}

/// The DID of a test case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DidCaseDid {
    pub number: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub rules: Vec<DidRule>,
    pub default_destination: Destination,
    #[serde(default)]
    pub config: serde_json::Value,
}

/// A permissions test case: the call, who places it, what they dialled and the policy's
/// settings (modules/permissions/case.json is one).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionsCase {
    pub call: CallInput,
    pub caller: PermissionsCaseCaller,
    pub dialled: String,
    pub kind: DialledKind,
    #[serde(default = "empty_object")]
    pub config: serde_json::Value,
}

/// The caller of a permissions test case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionsCaseCaller {
    pub extension: String,
    #[serde(default = "ordinary_user")]
    pub role: Role,
    #[serde(default)]
    pub internal_only: bool,
    #[serde(default)]
    pub outgoing_caller_id: Option<String>,
}

fn ordinary_user() -> Role {
    Role::User
}

/// A module file loaded in a private sandbox with an in-memory kv.
pub struct ModuleRunner {
    sandbox: Sandbox,
    module: Arc<LoadedModule>,
    scope: DecisionScope,
}

impl ModuleRunner {
    /// Load `path` with `grants`, under the default limits.
    pub fn from_file(path: &Path, grants: Grants) -> Result<ModuleRunner, ModuleRunError> {
        let bytes = std::fs::read(path)
            .map_err(|source| ModuleRunError::Read { path: path.display().to_string(), source })?;
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("module");
        ModuleRunner::from_bytes(name, &bytes, grants)
    }

    /// Load the component `bytes` as module `name` with `grants`, under the default limits.
    pub fn from_bytes(name: &str, bytes: &[u8], grants: Grants) -> Result<ModuleRunner, ModuleRunError> {
        let store = Store::in_memory().map_err(|e| ModuleRunError::Setup(e.to_string()))?;
        let sandbox = Sandbox::new(store, None, true).map_err(|e| ModuleRunError::Setup(e.to_string()))?;
        let module = sandbox.load("cli", bytes).map_err(|e| ModuleRunError::Setup(e.to_string()))?;
        let scope = DecisionScope {
            company: "local".into(),
            module: name.into(),
            grants,
            limits: DecisionLimits::default(),
        };
        Ok(ModuleRunner { sandbox, module, scope })
    }

    /// Use `limits` instead of the defaults.
    pub fn with_limits(mut self, limits: DecisionLimits) -> ModuleRunner {
        self.scope.limits = limits;
        self
    }

    /// Route a DID case.
    pub fn route_did(&self, case: &DidCase) -> Result<crate::routing::RouteDecision, DecisionError> {
        let did = Did {
            company: self.scope.company.clone(),
            number: case.did.number.clone(),
            description: case.did.description.clone(),
            forward: None,
            rules: case.did.rules.clone(),
            default_destination: case.did.default_destination.clone(),
            fallback_destination: None,
            module: self.scope.module.clone(),
            config: if case.did.config.is_null() { serde_json::json!({}) } else { case.did.config.clone() },
        };
        self.sandbox.route_did(&self.module, self.scope.clone(), &case.call, &did).answer
    }

    /// Authorise a permissions case.
    pub fn authorize(&self, case: &PermissionsCase) -> Result<Verdict, DecisionError> {
        let caller = Caller {
            extension: &case.caller.extension,
            role: case.caller.role,
            internal_only: case.caller.internal_only,
            outgoing_caller_id: case.caller.outgoing_caller_id.as_deref(),
        };
        let query = PermissionQuery { caller, dialled: &case.dialled, kind: case.kind, config: &case.config };
        self.sandbox.authorize(&self.module, self.scope.clone(), &case.call, &query).answer
    }

    /// Run `decision` on the JSON `input` and answer the decision as JSON.
    pub fn run_json(&self, decision: &str, input: &str) -> Result<serde_json::Value, ModuleRunError> {
        match parse_decision(decision)? {
            DecisionKind::DidRouting => {
                let case = parse_case(input)?;
                let route = self.route_did(&case)?;
                // RouteDecision is plain data: it always serialises.
                Ok(serde_json::to_value(route).expect("decisions serialise"))
            }
            DecisionKind::Permissions => {
                let case: PermissionsCase = serde_json::from_str(input).map_err(|e| {
                    ModuleRunError::Input { decision: "permissions".into(), message: e.to_string() }
                })?;
                let verdict = self.authorize(&case)?;
                // Verdict is plain data: it always serialises.
                Ok(serde_json::to_value(verdict).expect("decisions serialise"))
            }
            other => Err(ModuleRunError::NotYetRunnable(other.interface().to_string())),
        }
    }

    /// Run `count` did-routing decisions, each on a fresh instance, and measure them.
    pub fn bench_did(&self, input: &str, count: usize) -> Result<BenchReport, ModuleRunError> {
        let case = parse_case(input)?;
        for _ in 0..count.min(1000) {
            self.route_did(&case)?; // warm-up: caches, pool slots, page faults
        }
        let mut samples = Vec::with_capacity(count);
        let started = Instant::now();
        for _ in 0..count {
            let t = Instant::now();
            self.route_did(&case)?;
            samples.push(t.elapsed().as_nanos() as u64);
        }
        let total = started.elapsed();
        samples.sort_unstable();
        let percentile =
            |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)] as f64 / 1000.0;
        Ok(BenchReport {
            count,
            p50_us: percentile(0.50),
            p99_us: percentile(0.99),
            per_sec: count as f64 / total.as_secs_f64(),
            allocator: format!("{:?}", self.sandbox.allocator()),
        })
    }
}

/// Figures of `module bench`.
#[derive(Debug, Clone)]
pub struct BenchReport {
    pub count: usize,
    pub p50_us: f64,
    pub p99_us: f64,
    pub per_sec: f64,
    pub allocator: String,
}

fn parse_decision(name: &str) -> Result<DecisionKind, ModuleRunError> {
    DecisionKind::from_interface(name).ok_or_else(|| ModuleRunError::UnknownDecision(name.to_string()))
}

fn parse_case(input: &str) -> Result<DidCase, ModuleRunError> {
    serde_json::from_str(input)
        .map_err(|e| ModuleRunError::Input { decision: "did-routing".into(), message: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::registry::standard_modules;

    fn standard_did_router() -> ModuleRunner {
        let (_, bytes) = standard_modules().iter().find(|(name, _)| *name == "did-router").unwrap();
        ModuleRunner::from_bytes("did-router", bytes, Grants::default()).unwrap()
    }

    const CASE: &str = r#"{
        "call": {"caller": "600", "at": "2026-11-18T08:30:00Z", "time_zone": "Europe/Madrid"},
        "did": {"number": "34910000000",
                "rules": [{"order": 1, "weekday": "[1-5]", "start_time": "09:00", "end_time": "14:00",
                           "destination": {"extension": "100"}}],
                "default_destination": "hang_up"}
    }"#;

    #[test]
    fn a_rust_test_can_ask_the_standard_router_for_a_decision() {
        // 08:30 UTC on a Wednesday is 09:30 in Madrid: inside the morning window.
        let decision = standard_did_router().run_json("did-routing", CASE).unwrap();
        assert_eq!(decision["destination"], serde_json::json!({"extension": "100"}));
        assert_eq!(decision["matched_rule"], 1);
    }

    #[test]
    fn a_case_with_a_misspelt_field_is_refused_by_name() {
        let error = standard_did_router()
            .run_json("did-routing", &CASE.replace("default_destination", "default_dest"))
            .unwrap_err();
        assert!(error.to_string().contains("default_dest"), "{error}");
    }

    /// The example case shipped with the standard permissions module.
    const PERMISSIONS_CASE: &str = include_str!("../../modules/permissions/case.json");

    fn standard_permissions() -> ModuleRunner {
        let (_, bytes) = standard_modules().iter().find(|(name, _)| *name == "permissions").unwrap();
        ModuleRunner::from_bytes("permissions", bytes, Grants::default()).unwrap()
    }

    #[test]
    fn the_example_permissions_case_is_refused_for_its_blocked_prefix() {
        let verdict = standard_permissions().run_json("permissions", PERMISSIONS_CASE).unwrap();
        assert_eq!(verdict, serde_json::json!({"deny": {"reason": "blocked prefix 0034806"}}));
    }

    #[test]
    fn a_permissions_case_without_config_allows_with_the_callers_caller_id() {
        let mut case: serde_json::Value = serde_json::from_str(PERMISSIONS_CASE).unwrap();
        case.as_object_mut().unwrap().remove("config");
        let verdict = standard_permissions().run_json("permissions", &case.to_string()).unwrap();
        assert_eq!(
            verdict,
            serde_json::json!({"allow": {"dial": "0034806123456", "caller_id": "34910000000"}})
        );
    }

    #[test]
    fn asking_a_module_for_a_decision_it_does_not_export_is_an_error() {
        let error = standard_did_router().run_json("permissions", PERMISSIONS_CASE).unwrap_err();
        assert!(matches!(error, ModuleRunError::Decision(DecisionError::NotExported(_))), "{error}");
    }

    #[test]
    fn unknown_and_not_yet_runnable_decisions_are_named() {
        let runner = standard_did_router();
        assert!(runner.run_json("did-route", CASE).unwrap_err().to_string().contains("did-route"));
        assert!(matches!(runner.run_json("ivr", CASE), Err(ModuleRunError::NotYetRunnable(_))));
    }
}
