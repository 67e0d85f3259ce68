//! Queues (ACD, SPEC.md §4): create, list, read, replace and delete a company's queues,
//! and their statistics — live (callers waiting now, the longest wait now) and historical
//! (offered, answered, abandoned, unanswered, waits) over a range of days.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Access;
use super::error::{ApiError, ApiResult};
use super::extract::{Body, Params};
use super::numbers::{self, Own};
use super::{ApiState, validate};
use crate::routing::queue::DEFAULT_MODULE;
use crate::routing::queue::stats::{HistoricalFigures, LiveFigures};
use crate::sandbox::DecisionKind;
use crate::sandbox::registry::RegistryError;
use crate::store::records::{Destination, Queue, QueueMember, RingStrategy, queue_days_prefix};
use crate::store::*;

/// Most members a queue may have.
const MAX_MEMBERS: usize = 200;
/// Longest ring step, in seconds (the host never rings longer, whatever the module says).
const MAX_STEP_SECONDS: u32 = 300;
/// Longest a caller may wait in a queue: a day.
const MAX_WAIT_SECONDS: u32 = 86_400;
/// Longest wrap-up time: an hour.
const MAX_WRAP_UP_SECONDS: u32 = 3_600;
/// A queue may not be called this: `GET …/queues/stats` is every queue's statistics.
const RESERVED_NAME: &str = "stats";

/// The queue routes, merged into the API's router.
pub fn routes() -> Router<ApiState> {
    let queues = "/api/v1/companies/{company}/queues";
    Router::new()
        .route(queues, get(list).post(create))
        .route(&format!("{queues}/stats"), get(all_stats))
        .route(&format!("{queues}/{{name}}"), get(get_queue).put(update).delete(delete))
        .route(&format!("{queues}/{{name}}/stats"), get(stats))
}

fn default_step() -> u32 {
    15
}

fn default_max_time() -> u32 {
    300
}

/// A queue as created or replaced.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueBody {
    /// The name destinations refer to (1-64 letters, digits, '-', '_', '.'; not "stats").
    pub name: String,
    /// The number that dials or transfers to the queue: 1-10 digits, no extension's,
    /// alias's or other queue's number.
    pub number: String,
    /// Most callers waiting at once; 0 (default) = no limit.
    #[serde(default)]
    pub max_waiting: u32,
    /// Seconds a ring step lasts before the next agent, group or priority (1-300, default 15).
    #[serde(default = "default_step")]
    pub step_timeout_seconds: u32,
    /// Seconds a caller may wait in all (1-86400, default 300).
    #[serde(default = "default_max_time")]
    pub max_time_seconds: u32,
    /// Seconds an agent rests after a queue call (0-3600, default 0).
    #[serde(default)]
    pub wrap_up_seconds: u32,
    /// The agents: extensions of the company, each once.
    #[serde(default)]
    pub members: Vec<QueueMember>,
    #[serde(default)]
    pub autoanswer: bool,
    #[serde(default)]
    pub ring_busy_agents: bool,
    /// A prompt name; none = the company's music on hold.
    #[serde(default)]
    pub music_on_hold: Option<String>,
    #[serde(default)]
    pub remember_agent: bool,
    #[serde(default)]
    pub show_queue_name: bool,
    /// Where callers go when nobody answered in time or the queue is full; none = hang up.
    #[serde(default)]
    pub unanswered_destination: Option<Destination>,
    /// Where the caller goes when the agent hangs up first; none = the call ends.
    #[serde(default)]
    pub after_destination: Option<Destination>,
    /// Default ring_all.
    #[serde(default)]
    pub strategy: RingStrategy,
    /// The deciding module; default "queue-strategy".
    #[serde(default)]
    pub module: Option<String>,
    /// More module settings (a JSON object).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub config: Option<serde_json::Value>,
}

/// A range of days (UTC) for historical statistics; both ends included, none = unbounded.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    /// First day, YYYY-MM-DD.
    pub from: Option<NaiveDate>,
    /// Last day, YYYY-MM-DD.
    pub to: Option<NaiveDate>,
}

/// A queue's statistics.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueStatsView {
    /// The queue's name.
    pub queue: String,
    /// What is happening now.
    pub live: LiveFigures,
    /// What happened over the days asked for.
    pub historical: HistoricalFigures,
}

/// Check `body` and turn it into the queue record.
fn build(s: &ApiState, company: &str, body: QueueBody) -> ApiResult<Queue> {
    validate::name("name", &body.name)?;
    if body.name == RESERVED_NAME {
        return Err(ApiError::field("name", format!("{RESERVED_NAME:?} is reserved")));
    }
    if body.number.is_empty() || body.number.len() > 10 || !body.number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::field("number", "must be 1-10 digits"));
    }
    let in_range = |field: &str, value: u32, min: u32, max: u32| {
        if (min..=max).contains(&value) {
            Ok(())
        } else {
            Err(ApiError::field(field, format!("must be {min}-{max}")))
        }
    };
    in_range("step_timeout_seconds", body.step_timeout_seconds, 1, MAX_STEP_SECONDS)?;
    in_range("max_time_seconds", body.max_time_seconds, 1, MAX_WAIT_SECONDS)?;
    in_range("wrap_up_seconds", body.wrap_up_seconds, 0, MAX_WRAP_UP_SECONDS)?;
    if body.members.len() > MAX_MEMBERS {
        return Err(ApiError::field("members", format!("at most {MAX_MEMBERS} members")));
    }
    for (i, member) in body.members.iter().enumerate() {
        let field = format!("members[{i}].extension");
        if body.members[..i].iter().any(|earlier| earlier.extension == member.extension) {
            return Err(ApiError::field(field, format!("extension {} is a member twice", member.extension)));
        }
        validate::destination(&s.app, company, &field, &Destination::Extension(member.extension.clone()))?;
    }
    if let Some(prompt) = &body.music_on_hold {
        validate::name("music_on_hold", prompt)?;
    }
    for (field, destination) in [
        ("unanswered_destination", &body.unanswered_destination),
        ("after_destination", &body.after_destination),
    ] {
        let Some(destination) = destination else { continue };
        if *destination == Destination::Queue(body.name.clone()) {
            return Err(ApiError::field(field, "must not be the queue itself"));
        }
        validate::destination(&s.app, company, field, destination)?;
    }
    let module = body.module.unwrap_or_else(|| DEFAULT_MODULE.to_string());
    match s.app.sandbox.resolve(&s.app.store, company, &module) {
        Err(RegistryError::UnknownModule(_)) => {
            return Err(ApiError::field("module", format!("{company} has no module {module:?}")));
        }
        Err(error) => return Err(error.into()),
        Ok(resolved) if !resolved.loaded.info.decisions.contains(&DecisionKind::QueueStrategy) => {
            return Err(ApiError::field(
                "module",
                format!("module {module:?} does not export queue-strategy"),
            ));
        }
        Ok(_) => {}
    }
    let config = body.config.unwrap_or_else(|| serde_json::json!({}));
    if !config.is_object() {
        return Err(ApiError::field("config", "must be a JSON object"));
    }
    Ok(Queue {
        company: company.to_string(),
        name: body.name,
        number: body.number,
        max_waiting: body.max_waiting,
        step_timeout_seconds: body.step_timeout_seconds,
        max_time_seconds: body.max_time_seconds,
        wrap_up_seconds: body.wrap_up_seconds,
        members: body.members,
        autoanswer: body.autoanswer,
        ring_busy_agents: body.ring_busy_agents,
        music_on_hold: body.music_on_hold,
        remember_agent: body.remember_agent,
        show_queue_name: body.show_queue_name,
        unanswered_destination: body.unanswered_destination,
        after_destination: body.after_destination,
        strategy: body.strategy,
        module,
        config,
        created_at: Utc::now(),
    })
}

fn entity(company: &str, name: &str) -> String {
    format!("{company}/queues/{name}")
}

/// Create a queue.
#[utoipa::path(post, path = "/api/v1/companies/{company}/queues", tag = "queues", request_body = QueueBody,
    responses((status = 201, body = Queue)))]
pub async fn create(
    State(s): State<ApiState>,
    access: Access,
    Path(company): Path<String>,
    Body(body): Body<QueueBody>,
) -> ApiResult<(StatusCode, Json<Queue>)> {
    access.require_company(&company)?;
    super::company(&s, &company)?;
    let queue = build(&s, &company, body)?;
    let actor = access.actor();
    s.app.store.write(|tx| {
        let key = company_key(&company, &queue.name);
        if tx.get(&QUEUES, &key)?.is_some() {
            return Err(ApiError::conflict(format!("queue {:?} already exists", queue.name)));
        }
        numbers::check_free(tx, &queue.company, &queue.number, Own::Queue(&queue.name), "number")?;
        tx.put(&QUEUES, &key, &queue)?;
        tx.audit(actor.entry(Some(&company), "queue.create", entity(&company, &queue.name), None))?;
        Ok(())
    })?;
    Ok((StatusCode::CREATED, Json(queue)))
}

/// List a company's queues.
#[utoipa::path(get, path = "/api/v1/companies/{company}/queues", tag = "queues", responses((status = 200, body = [Queue])))]
pub async fn list(
    State(s): State<ApiState>,
    access: Access,
    Path(company): Path<String>,
) -> ApiResult<Json<Vec<Queue>>> {
    access.require_company(&company)?;
    super::company(&s, &company)?;
    Ok(Json(s.app.store.read(|r| r.scan(&QUEUES, &company_prefix(&company)))?))
}

fn load(s: &ApiState, company: &str, name: &str) -> ApiResult<Queue> {
    s.app
        .store
        .read(|r| r.get(&QUEUES, &company_key(company, name)))?
        .ok_or_else(|| ApiError::not_found(format!("queue {name:?}")))
}

/// One queue.
#[utoipa::path(get, path = "/api/v1/companies/{company}/queues/{name}", tag = "queues", responses((status = 200, body = Queue)))]
pub async fn get_queue(
    State(s): State<ApiState>,
    access: Access,
    Path((company, name)): Path<(String, String)>,
) -> ApiResult<Json<Queue>> {
    access.require_company(&company)?;
    Ok(Json(load(&s, &company, &name)?))
}

/// Replace a queue's settings (its name cannot change).
#[utoipa::path(put, path = "/api/v1/companies/{company}/queues/{name}", tag = "queues", request_body = QueueBody,
    responses((status = 200, body = Queue)))]
pub async fn update(
    State(s): State<ApiState>,
    access: Access,
    Path((company, name)): Path<(String, String)>,
    Body(body): Body<QueueBody>,
) -> ApiResult<Json<Queue>> {
    access.require_company(&company)?;
    if body.name != name {
        return Err(ApiError::field("name", "cannot be changed; delete and create instead"));
    }
    let mut queue = build(&s, &company, body)?;
    let actor = access.actor();
    s.app.store.write(|tx| {
        let key = company_key(&company, &name);
        let Some(old) = tx.get(&QUEUES, &key)? else {
            return Err(ApiError::not_found(format!("queue {name:?}")));
        };
        queue.created_at = old.created_at;
        numbers::check_free(tx, &queue.company, &queue.number, Own::Queue(&queue.name), "number")?;
        tx.put(&QUEUES, &key, &queue)?;
        tx.audit(actor.entry(Some(&company), "queue.update", entity(&company, &name), None))?;
        Ok(())
    })?;
    Ok(Json(queue))
}

/// Delete a queue and its statistics; refused while a DID, an IVR menu or another queue
/// sends calls to it.
#[utoipa::path(delete, path = "/api/v1/companies/{company}/queues/{name}", tag = "queues", responses((status = 204)))]
pub async fn delete(
    State(s): State<ApiState>,
    access: Access,
    Path((company, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    access.require_company(&company)?;
    let actor = access.actor();
    s.app.store.write(|tx| {
        let key = company_key(&company, &name);
        if tx.get(&QUEUES, &key)?.is_none() {
            return Err(ApiError::not_found(format!("queue {name:?}")));
        }
        let users = super::senders::senders_to(tx, &company, &Destination::Queue(name.clone()))?;
        if !users.is_empty() {
            return Err(ApiError::conflict(format!(
                "queue {name:?} is the destination of {}",
                users.join(", ")
            )));
        }
        tx.delete(&QUEUES, &key)?;
        tx.delete_prefix(&QUEUE_DAYS, &queue_days_prefix(&company, &name))?;
        tx.audit(actor.entry(Some(&company), "queue.delete", entity(&company, &name), None))?;
        Ok(())
    })?;
    s.app.queue_stats.forget(&company, &name);
    Ok(StatusCode::NO_CONTENT)
}

fn stats_of(s: &ApiState, queue: &Queue, range: &StatsQuery) -> ApiResult<QueueStatsView> {
    let stats = &s.app.queue_stats;
    Ok(QueueStatsView {
        queue: queue.name.clone(),
        live: stats.live(&queue.company, &queue.name),
        historical: stats.historical(&queue.company, &queue.name, range.from, range.to)?,
    })
}

fn check_range(range: &StatsQuery) -> ApiResult<()> {
    match (range.from, range.to) {
        (Some(from), Some(to)) if from > to => Err(ApiError::field("from", "must not be after to")),
        _ => Ok(()),
    }
}

/// A queue's statistics: live, and historical over `from`..=`to` (UTC days).
#[utoipa::path(get, path = "/api/v1/companies/{company}/queues/{name}/stats", tag = "queues", params(StatsQuery),
    responses((status = 200, body = QueueStatsView)))]
pub async fn stats(
    State(s): State<ApiState>,
    access: Access,
    Path((company, name)): Path<(String, String)>,
    Params(range): Params<StatsQuery>,
) -> ApiResult<Json<QueueStatsView>> {
    access.require_company(&company)?;
    check_range(&range)?;
    let queue = load(&s, &company, &name)?;
    Ok(Json(stats_of(&s, &queue, &range)?))
}

/// Every queue's statistics, in name order.
#[utoipa::path(get, path = "/api/v1/companies/{company}/queues/stats", tag = "queues", params(StatsQuery),
    responses((status = 200, body = [QueueStatsView])))]
pub async fn all_stats(
    State(s): State<ApiState>,
    access: Access,
    Path(company): Path<String>,
    Params(range): Params<StatsQuery>,
) -> ApiResult<Json<Vec<QueueStatsView>>> {
    access.require_company(&company)?;
    check_range(&range)?;
    super::company(&s, &company)?;
    let queues = s.app.store.read(|r| r.scan(&QUEUES, &company_prefix(&company)))?;
    Ok(Json(queues.iter().map(|queue| stats_of(&s, queue, &range)).collect::<ApiResult<_>>()?))
}
