//! Accepting a component: compile it (or load its compiled artifact from the on-disk
//! cache), find which decisions it exports, and check that it imports only what its
//! install grants.

use std::collections::BTreeSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use wasmtime::Engine;
use wasmtime::component::Component;

use super::imports::{ALWAYS_ALLOWED, HTTP, MAIL};
use crate::store::records::Grants;

/// The decision points of the contract, by interface name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DecisionKind {
    DidRouting,
    Ivr,
    QueueStrategy,
    Permissions,
    CallEvents,
}

impl DecisionKind {
    /// Every decision point.
    pub const ALL: [DecisionKind; 5] = [
        DecisionKind::DidRouting,
        DecisionKind::Ivr,
        DecisionKind::QueueStrategy,
        DecisionKind::Permissions,
        DecisionKind::CallEvents,
    ];

    /// The WIT interface name, e.g. "did-routing".
    pub fn interface(self) -> &'static str {
        match self {
            DecisionKind::DidRouting => "did-routing",
            DecisionKind::Ivr => "ivr",
            DecisionKind::QueueStrategy => "queue-strategy",
            DecisionKind::Permissions => "permissions",
            DecisionKind::CallEvents => "call-events",
        }
    }

    /// The fully qualified export name, e.g. "centralita:router/did-routing@0.1.0".
    pub fn export_name(self) -> String {
        format!("centralita:router/{}@0.1.0", self.interface())
    }

    /// Parse an interface name.
    pub fn from_interface(name: &str) -> Option<DecisionKind> {
        DecisionKind::ALL.into_iter().find(|kind| kind.interface() == name)
    }
}

/// Why an upload was refused.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("the upload is empty")]
    Empty,
    #[error("the upload is {size} bytes; the limit is {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("not a WebAssembly component: {0}")]
    NotAComponent(String),
    #[error(
        "the component exports none of the decision interfaces (centralita:router/{{did-routing, ivr, queue-strategy, permissions, call-events}}@0.1.0); it exports: {0}"
    )]
    NoDecision(String),
    #[error("the component imports {import}, which {reason}")]
    NotGranted { import: String, reason: String },
    #[error("the component's export {export} does not match the contract: {reason}")]
    BadExport { export: String, reason: String },
    #[error("the component cannot be instantiated: {0}")]
    Instantiation(String),
}

/// What a component offers and needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ComponentInfo {
    /// The decision interfaces it exports.
    pub decisions: Vec<DecisionKind>,
    /// Every interface it imports, with version.
    pub imports: Vec<String>,
}

/// Compile `bytes`, or load the artifact compiled earlier by this engine version. The
/// artifact is written by [`cache_artifact`] once the component is accepted. The
/// artifact is written by [`cache_artifact`] once the component is accepted.
pub fn compile(
    engine: &Engine,
    artifacts: Option<&Path>,
    sha256: &str,
    bytes: &[u8],
) -> Result<Component, UploadError> {
    let cached = artifacts.map(|dir| artifact_path(engine, dir, sha256));
    if let Some(path) = &cached
        && path.exists()
    {
        // SAFETY: the file was written by `Component::serialize` of an engine with the same
        // compatibility hash (part of its name) into the host's own data directory; wasmtime
        // also checks the header and refuses an incompatible artifact, which we recompile.
        match unsafe { Component::deserialize_file(engine, path) } {
            Ok(component) => return Ok(component),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "compiled artifact unusable; recompiling")
            }
        }
    }
    Component::new(engine, bytes).map_err(|e| UploadError::NotAComponent(format!("{e:#}")))
}

/// Keep the compiled artifact of an accepted component for the next start.
pub fn cache_artifact(engine: &Engine, artifacts: Option<&Path>, sha256: &str, component: &Component) {
    if let Some(dir) = artifacts {
        let path = artifact_path(engine, dir, sha256);
        if !path.exists() {
            save_artifact(component, &path);
        }
    }
}

/// `DIR/<sha256>.<engine compatibility hash>.cwasm`: a new wasmtime version (or other
/// compilation settings) changes the hash, so old artifacts are simply not found.
fn artifact_path(engine: &Engine, dir: &Path, sha256: &str) -> PathBuf {
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    dir.join(format!("{sha256}.{:016x}.cwasm", hasher.finish()))
}

fn save_artifact(component: &Component, path: &Path) {
    let write = || -> std::io::Result<()> {
        let bytes = component.serialize().map_err(std::io::Error::other)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        // Write then rename, so a crash never leaves a half-written artifact.
        let partial = path.with_extension("partial");
        std::fs::write(&partial, bytes)?;
        std::fs::rename(&partial, path)
    };
    if let Err(error) = write() {
        tracing::warn!(path = %path.display(), %error, "could not cache the compiled artifact");
    }
}

/// The decisions a compiled component exports and the interfaces it imports.
pub fn inspect(engine: &Engine, component: &Component) -> ComponentInfo {
    let ty = component.component_type();
    let exports: Vec<String> = ty.exports(engine).map(|(name, _)| name.to_string()).collect();
    let decisions: BTreeSet<DecisionKind> = exports
        .iter()
        .filter_map(|name| name.strip_prefix("centralita:router/")?.strip_suffix("@0.1.0"))
        .filter_map(DecisionKind::from_interface)
        .collect();
    let imports = ty.imports(engine).map(|(name, _)| name.to_string()).collect();
    ComponentInfo { decisions: decisions.into_iter().collect(), imports }
}

/// Check the component imports only what `grants` allow.
pub fn check_imports(info: &ComponentInfo, grants: &Grants) -> Result<(), UploadError> {
    for import in &info.imports {
        let interface = import.split('@').next().unwrap_or(import);
        let refused = |reason: &str| {
            Err(UploadError::NotGranted { import: import.clone(), reason: reason.to_string() })
        };
        if ALWAYS_ALLOWED.contains(&interface) {
            continue;
        }
        if interface == MAIL {
            if grants.mail {
                continue;
            }
            return refused("this install does not grant: upload with ?grant_mail=true to allow it");
        }
        if interface == HTTP {
            if !grants.http_allow.is_empty() {
                continue;
            }
            return refused(
                "this install does not grant: upload with ?http_allow=HOST[,HOST...] to allow requests to those hosts",
            );
        }
        if interface.starts_with("wasi:filesystem/") || interface.starts_with("wasi:sockets/") {
            return refused("Centralita never grants: modules have no filesystem and no sockets");
        }
        return refused("is not part of the Centralita module contract");
    }
    Ok(())
}

/// Every export of a component, for error messages.
pub fn export_names(engine: &Engine, component: &Component) -> String {
    let names: Vec<String> =
        component.component_type().exports(engine).map(|(name, _)| name.to_string()).collect();
    if names.is_empty() { "nothing".to_string() } else { names.join(", ") }
}
