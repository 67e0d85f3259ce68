//! Which module version decides for (company, module name), cached so a decision does
//! not read the store. Every change of an active version clears its entry after the
//! change commits; a generation number stops a lookup that raced the change from caching
//! what it read before. With several hosts on one store, each host hears the others'
//! changes from the store ([`crate::store::Store::listen`]) and clears the same entries.

use std::collections::HashMap;
use std::sync::Mutex;

use super::registry::ResolvedModule;

#[derive(Default)]
struct Inner {
    generation: u64,
    modules: HashMap<String, ResolvedModule>,
}

/// The cache.
#[derive(Default)]
pub struct ResolvedCache(Mutex<Inner>);

fn key(company: &str, name: &str) -> String {
    format!("{company}\0{name}")
}

impl ResolvedCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        crate::sync::lock(&self.0)
    }

    /// The cached answer, if any.
    pub fn get(&self, company: &str, name: &str) -> Option<ResolvedModule> {
        self.lock().modules.get(&key(company, name)).cloned()
    }

    /// The generation to pass to [`insert`](Self::insert) for a lookup starting now.
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Cache `resolved`, unless something changed since `generation` was read.
    pub fn insert(&self, generation: u64, company: &str, name: &str, resolved: &ResolvedModule) {
        let mut inner = self.lock();
        if inner.generation == generation {
            inner.modules.insert(key(company, name), resolved.clone());
        }
    }

    /// Forget (company, name) after its active version changed.
    pub fn forget(&self, company: &str, name: &str) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.modules.remove(&key(company, name));
    }

    /// Forget module `name` of every company (the operator's version of it changed).
    pub fn forget_name(&self, name: &str) {
        let mut inner = self.lock();
        inner.generation += 1;
        let suffix = format!("\0{name}");
        inner.modules.retain(|k, _| !k.ends_with(&suffix));
    }

    /// Forget every module of `company`.
    pub fn forget_company(&self, company: &str) {
        let mut inner = self.lock();
        inner.generation += 1;
        let prefix = format!("{company}\0");
        inner.modules.retain(|k, _| !k.starts_with(&prefix));
    }

    /// Forget everything (changes may have been missed).
    pub fn forget_all(&self) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.modules.clear();
    }
}
