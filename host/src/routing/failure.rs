//! What every decision point does around its module: the scope it decides in, how its log
//! lines are shown, and what happens when it fails (counted, audited, the call goes on).

use crate::app::App;
use crate::audit::Actor;
use crate::sandbox::DecisionScope;
use crate::sandbox::decision::Outcome;
use crate::sandbox::limits::DecisionLimits;
use crate::sandbox::registry::ResolvedModule;
use crate::store::records::Company;

/// The scope `module` decides in for `company`: its granted imports, the company's limits.
pub(crate) fn decision_scope(company: &Company, module: &ResolvedModule) -> DecisionScope {
    DecisionScope {
        company: company.id.clone(),
        module: module.name.clone(),
        grants: module.grants.clone(),
        limits: DecisionLimits::new(company.decision_deadline_ms, company.decision_memory_mib),
    }
}

/// What a decision's module logged, as outcomes show it ("Info: text").
pub(crate) fn log_lines<T>(outcome: &mut Outcome<T>) -> Vec<String> {
    std::mem::take(&mut outcome.logs).into_iter().map(|(level, line)| format!("{level:?}: {line}")).collect()
}

/// "version N" for an upload, "standard" for the standard module.
pub(crate) fn version_label(version: Option<u32>) -> String {
    version.map_or("standard".to_string(), |v| format!("version {v}"))
}

/// Count a failed decision of `module` and audit it as `decision.failed` on `entity` with
/// `detail`. The call goes on even when the audit log cannot be written (that is logged).
pub(crate) fn record_failure(
    app: &App,
    company: &str,
    module: &str,
    version: &str,
    failure: &str,
    entity: String,
    detail: String,
) {
    app.counters.record(company, module, Some(format!("{version}: {failure}")));
    let actor = Actor { who: format!("module:{module}"), client_ip: None };
    let audited =
        app.store.write(|tx| tx.audit(actor.entry(Some(company), "decision.failed", entity, Some(detail))));
    if let Err(error) = audited {
        tracing::error!(company, %error, "cannot audit a failed decision");
    }
}
