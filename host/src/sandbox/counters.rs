//! Decision counters per company and module, shown by the modules API so an admin sees
//! how often a module decided and why it last failed.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// How a module has been doing since the host started.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct DecisionCounters {
    /// Decisions asked of the module.
    pub decisions: u64,
    /// Decisions that failed (the entity's fallback ran instead).
    pub failures: u64,
    /// The last failure, with the version that failed.
    pub last_failure: Option<String>,
    /// When it happened.
    pub last_failure_at: Option<DateTime<Utc>>,
}

/// Counters of every module of every company.
#[derive(Default)]
pub struct Counters(Mutex<HashMap<(String, String), DecisionCounters>>);

impl Counters {
    /// Count one decision of `company`'s `module`; `failure` says why it failed.
    pub fn record(&self, company: &str, module: &str, failure: Option<String>) {
        let mut map = crate::sync::lock(&self.0);
        let counters = map.entry((company.to_string(), module.to_string())).or_default();
        counters.decisions += 1;
        if let Some(failure) = failure {
            counters.failures += 1;
            counters.last_failure = Some(failure);
            counters.last_failure_at = Some(Utc::now());
        }
    }

    /// Drop every counter of `company` (deleted).
    pub fn forget_company(&self, company: &str) {
        crate::sync::lock(&self.0).retain(|(c, _), _| c != company);
    }

    /// The counters of `company`'s `module`.
    pub fn get(&self, company: &str, module: &str) -> DecisionCounters {
        let map = crate::sync::lock(&self.0);
        map.get(&(company.to_string(), module.to_string())).cloned().unwrap_or_default()
    }
}
