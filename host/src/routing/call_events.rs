//! Telling a company's call-events module that a call ended (SPEC.md §12, §13): the
//! standard module mails missed calls; an upload may log calls in a CRM. The call is over
//! by then, so nothing here may hold it up: [`call_ended`] returns at once and the module
//! runs on a blocking thread. A failure is logged, counted and audited as at every
//! decision point, and changes nothing else (there is no call left to fall back for).
//!
//! Which module runs, with which settings, is the company's [`CallEventsSettings`]; a
//! company without them runs none, so calls of companies that never asked for call events
//! cost no decision.

use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;

use super::call::CallInput;
use super::failure::{decision_scope, log_lines, record_failure, version_label};
use crate::app::App;
use crate::events::Contact;
use crate::sandbox::limits::MIN_CALL_EVENTS_DEADLINE;
use crate::sandbox::registry::ResolvedModule;
use crate::store::records::{CallEventsSettings, Cdr, Company};
use crate::store::{CALL_EVENTS, COMPANIES, Read, StoreError};

/// Name of the standard call-events module (missed-call mail).
pub const DEFAULT_MODULE: &str = "call-events";

/// `on-ended` runs in progress in the process at most. A call that ends while they are all
/// busy is not told to its module (logged and counted), so slow modules cannot pile up
/// blocking threads.
pub const MAX_RUNNING: usize = 64;

static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// What telling the module produced.
#[derive(Debug, Clone, Serialize)]
pub struct EndedOutcome {
    /// The module told.
    pub module: String,
    /// Its uploaded version; none for the standard module.
    pub module_version: Option<u32>,
    /// Why it failed, if it did.
    pub failure: Option<String>,
    /// What the module logged.
    pub logs: Vec<String>,
}

/// `call` ended as `cdr` says: tell the company's call-events module, off the caller's
/// thread. Returns at once.
pub fn call_ended(app: &App, call: CallInput, cdr: &Cdr) {
    let Some((company, settings)) = settings_of(app, &cdr.company) else { return };
    let Some(slot) = RunningSlot::take() else {
        tracing::warn!(company = %company.id, call = %cdr.call_id, module = %settings.module, "too many call-events modules running; this call's end is not told");
        app.counters.record(&company.id, &settings.module, Some("too many running at once; skipped".into()));
        return;
    };
    let (app, cdr) = (app.clone(), cdr.clone());
    let job = move || {
        let _slot = slot;
        tell_ended(&app, &company, &settings, call, &cdr);
    };
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn_blocking(job)),
        Err(_) => drop(std::thread::spawn(job)),
    }
}

/// Tell `settings.module` of `company` that `call` ended as `cdr` says, and wait for it.
/// The context's time is the call's start (what a missed-call mail shows) in the
/// company's time zone.
pub fn tell_ended(
    app: &App,
    company: &Company,
    settings: &CallEventsSettings,
    mut call: CallInput,
    cdr: &Cdr,
) -> EndedOutcome {
    call.at = cdr.started_at;
    call.time_zone = company.time_zone.clone();
    call.company = company.id.clone();
    let mut outcome = EndedOutcome {
        module: settings.module.clone(),
        module_version: None,
        failure: None,
        logs: Vec::new(),
    };
    let answer = match app.sandbox.resolve(&app.store, &company.id, &settings.module) {
        Err(error) => Err(error.to_string()),
        Ok(module) => {
            outcome.module_version = module.version;
            let mut scope = decision_scope(company, &with_standard_grants(module.clone(), &settings.config));
            scope.limits.deadline = scope.limits.deadline.max(MIN_CALL_EVENTS_DEADLINE);
            let mut result = app.sandbox.on_ended(&module.loaded, scope, &call, cdr, &settings.config);
            outcome.logs = log_lines(&mut result);
            result.answer.map_err(|error| error.to_string())
        }
    };
    match answer {
        Ok(()) => app.counters.record(&company.id, &settings.module, None),
        Err(failure) => {
            tracing::warn!(company = %company.id, call = %cdr.call_id, module = %settings.module, %failure, "call-events module failed at the call's end");
            let what = format!("for the end of call {}", cdr.call_id);
            record_module_failure(app, company, settings, outcome.module_version, &failure, &what);
            outcome.failure = Some(failure);
        }
    }
    outcome
}

/// Ask the company's call-events module (its `settings`, from [`settings_of`]) who
/// `call`'s caller is (a CRM lookup), within the company's decision deadline; none when the
/// module found nobody or failed (logged, counted and audited like any decision). Blocks:
/// run it off the call's task.
pub fn identify_caller(
    app: &App,
    company: &Company,
    settings: &CallEventsSettings,
    call: &CallInput,
) -> Option<Contact> {
    let module = match app.sandbox.resolve(&app.store, &company.id, &settings.module) {
        Ok(module) => with_standard_grants(module, &settings.config),
        Err(error) => {
            tracing::warn!(company = %company.id, module = %settings.module, %error, "call-events module unavailable; the caller is not looked up");
            return None;
        }
    };
    let scope = decision_scope(company, &module);
    let outcome = app.sandbox.identify_caller(&module.loaded, scope, call, &settings.config);
    match outcome.answer {
        Ok(contact) => {
            app.counters.record(&company.id, &settings.module, None);
            contact
        }
        Err(error) => {
            let failure = error.to_string();
            tracing::warn!(company = %company.id, call = %call.call_id, module = %settings.module, %failure, "caller lookup failed; the call goes on without a contact");
            let what = format!("looking up the caller of {}", call.call_id);
            record_module_failure(app, company, settings, module.version, &failure, &what);
            None
        }
    }
}

/// The company's call-events settings with the company; none when it has none (or the
/// store cannot be read: logged).
pub(crate) fn settings_of(app: &App, company: &str) -> Option<(Company, CallEventsSettings)> {
    let found = app.store.read(|r| {
        let Some(settings) = r.get(&CALL_EVENTS, company)? else { return Ok(None) };
        Ok::<_, StoreError>(r.get(&COMPANIES, company)?.map(|owner| (owner, settings)))
    });
    found.unwrap_or_else(|error| {
        tracing::error!(%company, %error, "cannot read the call-events settings; the module is not asked");
        None
    })
}

/// Count and audit a failure of the company's call-events module (version `version`)
/// while doing `what`.
pub(crate) fn record_module_failure(
    app: &App,
    company: &Company,
    settings: &CallEventsSettings,
    version: Option<u32>,
    failure: &str,
    what: &str,
) {
    let version = version_label(version);
    record_failure(
        app,
        &company.id,
        &settings.module,
        &version,
        failure,
        format!("{}/call-events", company.id),
        format!("{version} {what}: {failure}"),
    );
}

/// The standard call-events module sends the missed-call mail and posts the webhooks of
/// its config, so it is granted `mail` and `http` to those hosts; the registry grants
/// standard modules nothing, and an upload keeps its own grants.
pub(crate) fn with_standard_grants(mut module: ResolvedModule, config: &serde_json::Value) -> ResolvedModule {
    if module.version.is_none() && module.name == DEFAULT_MODULE {
        module.grants.mail = true;
        module.grants.http_allow = webhook_hosts(config);
    }
    module
}

/// The "host:port" of each URL in `config`'s `webhooks` list.
fn webhook_hosts(config: &serde_json::Value) -> Vec<String> {
    let urls = config.get("webhooks").and_then(serde_json::Value::as_array);
    urls.into_iter()
        .flatten()
        .filter_map(serde_json::Value::as_str)
        .filter_map(|url| url.parse::<ureq::http::Uri>().ok())
        .filter_map(|uri| {
            let default_port = if uri.scheme_str() == Some("https") { 443 } else { 80 };
            Some(format!("{}:{}", uri.host()?, uri.port_u16().unwrap_or(default_port)))
        })
        .collect()
}

/// One of the [`MAX_RUNNING`] places, given back when dropped (also if the module's run
/// panicked).
struct RunningSlot;

impl RunningSlot {
    fn take() -> Option<RunningSlot> {
        RUNNING
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < MAX_RUNNING).then_some(n + 1))
            .ok()
            .map(|_| RunningSlot)
    }
}

impl Drop for RunningSlot {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests;
