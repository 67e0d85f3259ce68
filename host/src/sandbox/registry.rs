//! Which module version decides for a company: its own active upload, else the operator's
//! active version of a standard module (kept under the pseudo-company [`OPERATOR`]), else
//! the standard module built into the host. Uploads are immutable versions; activation,
//! rollback and deactivation switch a pointer in one transaction, and a decision that
//! already resolved its module finishes on that version.

use std::sync::Arc;

use chrono::Utc;
use sha2::{Digest, Sha256};

use super::{LoadedModule, Sandbox, UploadError, component};
use crate::audit::Actor;
use crate::store::records::{Grants, ModuleInstall, ModuleVersion};
use crate::store::{
    Heard, MODULE_INSTALLS, MODULE_VERSIONS, Read, ReadBlob, Store, StoreError, company_key,
    module_version_key, module_versions_prefix,
};

mod standard {
    include!(concat!(env!("OUT_DIR"), "/standard_modules.rs"));
}

/// The standard modules: (name, component bytes).
pub fn standard_modules() -> &'static [(&'static str, &'static [u8])] {
    standard::STANDARD_MODULES
}

/// Whether a standard module called `name` ships with the host.
pub fn is_standard(name: &str) -> bool {
    standard_modules().iter().any(|(standard, _)| *standard == name)
}

/// The SHA-256 of each standard module, in `standard_modules` order, computed once: the
/// decision path looks modules up by hash and must not hash 100 KB per call.
fn standard_sha256s() -> &'static [String] {
    static SHAS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    SHAS.get_or_init(|| standard_modules().iter().map(|(_, bytes)| sha256_hex(bytes)).collect())
}

/// The pseudo-company under which the operator's versions of the standard modules are
/// kept: no company id is empty, so its keys meet no company's.
pub const OPERATOR: &str = "";

/// Who an audit entry of `owner`'s module belongs to (none: the operator's) and what it names.
fn audited<'a>(owner: &'a str, name: &str) -> (Option<&'a str>, String) {
    match owner {
        OPERATOR => (None, format!("standard-modules/{name}")),
        company => (Some(company), format!("{company}/modules/{name}")),
    }
}

/// Errors of module management.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("module name {0:?} is invalid: use 1-64 lowercase letters, digits and '-'")]
    InvalidName(String),
    #[error("no module named {0:?} is installed")]
    UnknownModule(String),
    #[error("module {name:?} has no version {version}")]
    UnknownVersion { name: String, version: u32 },
    #[error("module {0:?} has no earlier version to roll back to")]
    NothingToRollBack(String),
    #[error("module {0:?} is a standard module; upload a version to replace it")]
    StandardModule(String),
    #[error(
        "module {0:?} is no standard module: only a standard module can be given back its built-in version"
    )]
    NotStandard(String),
    #[error(transparent)]
    Upload(#[from] UploadError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A module resolved for one decision.
#[derive(Clone)]
pub struct ResolvedModule {
    /// The module's name.
    pub name: String,
    /// The uploaded version, or `None` for the standard module.
    pub version: Option<u32>,
    /// What the install grants.
    pub grants: Grants,
    /// The linked module.
    pub loaded: Arc<LoadedModule>,
}

/// Check a module name.
pub fn check_name(name: &str) -> Result<(), RegistryError> {
    let valid = (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if valid { Ok(()) } else { Err(RegistryError::InvalidName(name.to_string())) }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Sandbox {
    /// The module `name` of `company`: its active upload, else the standard module.
    /// Answers come from a cache that every change of the active version clears.
    pub fn resolve(&self, store: &Store, company: &str, name: &str) -> Result<ResolvedModule, RegistryError> {
        if let Some(resolved) = self.resolved.get(company, name) {
            return Ok(resolved);
        }
        let generation = self.resolved.generation();
        let resolved = self.resolve_uncached(store, company, name)?;
        self.resolved.insert(generation, company, name, &resolved);
        Ok(resolved)
    }

    fn resolve_uncached(
        &self,
        store: &Store,
        company: &str,
        name: &str,
    ) -> Result<ResolvedModule, RegistryError> {
        let active = store.read(|r| -> Result<_, StoreError> {
            // The company's own choice, then the operator's version of a standard module.
            let owners: &[&str] = if is_standard(name) { &[company, OPERATOR] } else { &[company] };
            for owner in owners {
                let install = r.get(&MODULE_INSTALLS, &company_key(owner, name))?;
                if let Some(install) = install.filter(|install| install.active != 0) {
                    return r.get(&MODULE_VERSIONS, &module_version_key(owner, name, install.active));
                }
            }
            Ok(None)
        })?;
        if let Some(version) = active {
            let loaded = match self.cached(&version.sha256) {
                Some(loaded) => loaded,
                None => {
                    let bytes = store.read(|r| r.blob(&version.sha256))?.ok_or_else(|| {
                        StoreError::Database(format!("component {} is missing", version.sha256))
                    })?;
                    self.load(&version.sha256, &bytes)?
                }
            };
            return Ok(ResolvedModule {
                name: name.to_string(),
                version: Some(version.version),
                grants: version.grants,
                loaded,
            });
        }
        let loaded = self.load_standard(name)?;
        Ok(ResolvedModule { name: name.to_string(), version: None, grants: Grants::default(), loaded })
    }

    /// Load (or find loaded) the standard module `name`.
    pub fn load_standard(&self, name: &str) -> Result<Arc<LoadedModule>, RegistryError> {
        let index = standard_modules()
            .iter()
            .position(|(standard_name, _)| *standard_name == name)
            .ok_or_else(|| RegistryError::UnknownModule(name.to_string()))?;
        Ok(self.load(&standard_sha256s()[index], standard_modules()[index].1)?)
    }

    /// Load the active version of every company's modules, so no call pays for it.
    pub fn preload(&self, store: &Store) -> Result<usize, RegistryError> {
        let versions = store.read(|r| r.scan(&MODULE_VERSIONS, ""))?;
        let mut modules: Vec<(String, String)> = versions.into_iter().map(|v| (v.company, v.name)).collect();
        modules.dedup();
        for (company, name) in &modules {
            if let Err(error) = self.resolve(store, company, name) {
                tracing::warn!(company, name, %error, "cannot load a module at start; its decisions will fall back");
            }
        }
        Ok(modules.len())
    }

    /// Whether `company` has a module called `name` (uploaded or standard).
    pub fn module_exists(&self, store: &Store, company: &str, name: &str) -> Result<bool, StoreError> {
        if is_standard(name) {
            return Ok(true);
        }
        store.read(|r| Ok::<_, StoreError>(r.get(&MODULE_INSTALLS, &company_key(company, name))?.is_some()))
    }

    /// Accept an upload as the next version of `company`'s module `name` and activate it
    /// when `activate`.
    #[allow(clippy::too_many_arguments)]
    pub fn upload(
        &self,
        store: &Store,
        actor: &Actor,
        company: &str,
        name: &str,
        bytes: &[u8],
        grants: Grants,
        activate: bool,
    ) -> Result<ModuleVersion, RegistryError> {
        check_name(name)?;
        if bytes.is_empty() {
            return Err(UploadError::Empty.into());
        }
        if bytes.len() > super::limits::MAX_COMPONENT_BYTES {
            return Err(UploadError::TooLarge {
                size: bytes.len(),
                limit: super::limits::MAX_COMPONENT_BYTES,
            }
            .into());
        }
        let sha256 = sha256_hex(bytes);
        let loaded = match self.cached(&sha256) {
            Some(loaded) => {
                component::check_imports(&loaded.info, &grants)?;
                loaded
            }
            None => {
                let component = component::compile(&self.engine, self.artifacts.as_deref(), &sha256, bytes)?;
                let info = component::inspect(&self.engine, &component);
                component::check_imports(&info, &grants)?;
                self.link(&sha256, &component, info)?
            }
        };

        let result = store.write(|tx| -> Result<ModuleVersion, RegistryError> {
            let existing = tx.scan(&MODULE_VERSIONS, &module_versions_prefix(company, name))?;
            let version = existing.iter().map(|v| v.version).max().unwrap_or(0) + 1;
            let record = ModuleVersion {
                company: company.to_string(),
                name: name.to_string(),
                version,
                sha256: sha256.clone(),
                size: bytes.len() as u64,
                uploaded_at: Utc::now(),
                uploaded_by: actor.who.clone(),
                decisions: loaded.info.decisions.iter().map(|d| d.interface().to_string()).collect(),
                imports: loaded.info.imports.clone(),
                grants,
            };
            tx.put_blob(&sha256, bytes)?;
            tx.put(&MODULE_VERSIONS, &module_version_key(company, name, version), &record)?;
            let (audit_company, entity) = audited(company, name);
            tx.audit(actor.entry(
                audit_company,
                "module.upload",
                entity.clone(),
                Some(format!("version {version}, sha256 {sha256}")),
            ))?;
            if activate {
                switch_active(tx, company, name, version)?;
                tx.audit(actor.entry(
                    audit_company,
                    "module.activate",
                    entity,
                    Some(format!("version {version}")),
                ))?;
            }
            announce(tx, company, name)?;
            Ok(record)
        })?;
        self.changed(company, name);
        Ok(result)
    }

    /// Make `version` the active version of `company`'s module `name`.
    pub fn activate(
        &self,
        store: &Store,
        actor: &Actor,
        company: &str,
        name: &str,
        version: u32,
    ) -> Result<ModuleInstall, RegistryError> {
        let result = store.write(|tx| -> Result<ModuleInstall, RegistryError> {
            if tx.get(&MODULE_VERSIONS, &module_version_key(company, name, version))?.is_none() {
                return Err(RegistryError::UnknownVersion { name: name.to_string(), version });
            }
            let install = switch_active(tx, company, name, version)?;
            let (audit_company, entity) = audited(company, name);
            tx.audit(actor.entry(
                audit_company,
                "module.activate",
                entity,
                Some(format!("version {version}")),
            ))?;
            announce(tx, company, name)?;
            Ok(install)
        })?;
        self.changed(company, name);
        Ok(result)
    }

    /// Go back to the version that was active before the current one.
    pub fn rollback(
        &self,
        store: &Store,
        actor: &Actor,
        company: &str,
        name: &str,
    ) -> Result<ModuleInstall, RegistryError> {
        let result = store.write(|tx| -> Result<ModuleInstall, RegistryError> {
            let key = company_key(company, name);
            let mut install = tx.get(&MODULE_INSTALLS, &key)?.ok_or_else(|| match is_standard(name) {
                true => RegistryError::StandardModule(name.to_string()),
                false => RegistryError::UnknownModule(name.to_string()),
            })?;
            let previous =
                install.history.pop().ok_or_else(|| RegistryError::NothingToRollBack(name.to_string()))?;
            let from = install.active;
            install.active = previous;
            tx.put(&MODULE_INSTALLS, &key, &install)?;
            let (audit_company, entity) = audited(company, name);
            let detail = format!("version {} -> {}", version_name(from), version_name(previous));
            tx.audit(actor.entry(audit_company, "module.rollback", entity, Some(detail)))?;
            announce(tx, company, name)?;
            Ok(install)
        })?;
        self.changed(company, name);
        Ok(result)
    }

    /// Give the standard module `name` back to `company` (the operator's version, if any,
    /// else the built-in one), or for [`OPERATOR`] give every company the built-in one;
    /// a rollback returns to the version active before.
    pub fn deactivate(
        &self,
        store: &Store,
        actor: &Actor,
        company: &str,
        name: &str,
    ) -> Result<ModuleInstall, RegistryError> {
        if !is_standard(name) {
            return Err(RegistryError::NotStandard(name.to_string()));
        }
        let result = store.write(|tx| -> Result<ModuleInstall, RegistryError> {
            let key = company_key(company, name);
            let mut install = tx.get(&MODULE_INSTALLS, &key)?.unwrap_or_default();
            if install.active != 0 {
                install.history.push(install.active);
                install.active = 0;
                tx.put(&MODULE_INSTALLS, &key, &install)?;
                let (audit_company, entity) = audited(company, name);
                tx.audit(actor.entry(audit_company, "module.deactivate", entity, None))?;
                announce(tx, company, name)?;
            }
            Ok(install)
        })?;
        self.changed(company, name);
        Ok(result)
    }

    /// A change another host (or this one) committed: drop what this host cached of it.
    pub fn heard(&self, heard: &Heard) {
        match heard {
            Heard::Change { topic, subject } if topic == MODULE_TOPIC => {
                if let Some((owner, name)) = subject.split_once('/') {
                    self.changed(owner, name);
                }
            }
            Heard::Change { .. } | Heard::Nothing => {}
            Heard::Missed => self.resolved.forget_all(),
        }
    }

    /// After a change of `owner`'s module `name` commits: no resolve that raced it may
    /// cache the old version. The operator's version is every company's.
    fn changed(&self, owner: &str, name: &str) {
        match owner {
            OPERATOR => self.resolved.forget_name(name),
            company => self.resolved.forget(company, name),
        }
    }
}

/// The topic under which a change of the active version of a module is announced to
/// every host, with `owner/name` as its subject.
const MODULE_TOPIC: &str = "module";

/// Tell every host, once `tx` commits, that `owner`'s module `name` changed.
fn announce(tx: &mut crate::store::Tx, owner: &str, name: &str) -> Result<(), StoreError> {
    tx.announce(MODULE_TOPIC, &format!("{owner}/{name}"))
}

/// "3", or "standard" for 0 (no upload active).
fn version_name(version: u32) -> String {
    if version == 0 { "standard".to_string() } else { version.to_string() }
}

fn switch_active(
    tx: &mut crate::store::Tx,
    company: &str,
    name: &str,
    version: u32,
) -> Result<ModuleInstall, StoreError> {
    let key = company_key(company, name);
    let mut install = tx.get(&MODULE_INSTALLS, &key)?.unwrap_or_default();
    if install.active != 0 && install.active != version {
        install.history.push(install.active);
    }
    install.active = version;
    tx.put(&MODULE_INSTALLS, &key, &install)?;
    Ok(install)
}
