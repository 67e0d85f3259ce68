//! Voicemail boxes and their messages (SPEC.md §5). A box's PIN is write-only: it is
//! stored hashed and never shown. Messages are left by callers; through the API they are
//! listed, downloaded as WAV, marked heard and deleted. A box may have an owner, a user
//! whose own key or portal session reaches that box and its messages (and no other box).

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::Access;
use super::error::{ApiError, ApiResult};
use super::extract::Body;
use super::numbers::{self, Own};
use super::{ApiState, validate};
use crate::store::records::{
    DEFAULT_MAX_MESSAGE_SECONDS, DEFAULT_RETENTION_DAYS, VoicemailBox, VoicemailMessage,
};
use crate::store::*;
use crate::voicemail::{self, VoicemailError, pin};

/// Retention a box may have, in days.
const RETENTION_DAYS: std::ops::RangeInclusive<u32> = 1..=365;
/// Longest message a box may allow, in seconds: ten minutes of telephony WAV is about
/// 9.6 MB, as large an attachment as mail servers commonly take.
const MAX_MESSAGE_SECONDS: std::ops::RangeInclusive<u32> = 5..=600;

/// The routes of this file.
pub fn routes() -> Router<ApiState> {
    let boxes = "/api/v1/companies/{company}/voicemail-boxes";
    Router::new()
        .route(boxes, get(list).post(create))
        .route(&format!("{boxes}/{{name}}"), get(get_box).put(update).delete(delete))
        .route(&format!("{boxes}/{{name}}/messages"), get(list_messages))
        .route(
            &format!("{boxes}/{{name}}/messages/{{id}}"),
            get(get_message).patch(update_message).delete(delete_message),
        )
        .route(&format!("{boxes}/{{name}}/messages/{{id}}/audio"), get(message_audio))
}

/// A voicemail box as created or replaced.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoicemailBoxBody {
    /// The name destinations use: 1-64 letters, digits, '-', '_', '.', not starting with '.'.
    pub name: String,
    /// Dialling this number reaches the box: 1-10 digits, not an extension, alias or
    /// another box's number.
    pub number: String,
    /// Where new messages are mailed; empty or left out = no mail.
    #[serde(default)]
    pub email: String,
    /// A prompt of the company played before the beep; none = the system greeting.
    #[serde(default)]
    pub greeting: Option<String>,
    /// Days messages are kept, 1-365 (default 30).
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
    /// PIN for listening by phone, 4-10 digits; required at creation, kept when left out
    /// of a replace. Never shown.
    #[serde(default)]
    pub pin: Option<String>,
    /// Longest message, 5-600 seconds (default 180).
    #[serde(default = "default_max_message_seconds")]
    pub max_message_seconds: u32,
    /// The user (extension) whose portal shows the box and its messages; left out = only
    /// the company's admins and keys.
    #[serde(default)]
    pub owner: Option<String>,
}

fn default_retention_days() -> u32 {
    DEFAULT_RETENTION_DAYS
}

fn default_max_message_seconds() -> u32 {
    DEFAULT_MAX_MESSAGE_SECONDS
}

/// A voicemail box as the API shows it: everything but the PIN.
#[derive(Debug, Serialize, ToSchema)]
pub struct VoicemailBoxView {
    pub company: String,
    pub name: String,
    pub number: String,
    pub email: String,
    pub greeting: Option<String>,
    pub retention_days: u32,
    pub max_message_seconds: u32,
    pub created_at: DateTime<Utc>,
    pub owner: Option<String>,
}

impl From<VoicemailBox> for VoicemailBoxView {
    fn from(mailbox: VoicemailBox) -> VoicemailBoxView {
        VoicemailBoxView {
            company: mailbox.company,
            name: mailbox.name,
            number: mailbox.number,
            email: mailbox.email,
            greeting: mailbox.greeting,
            retention_days: mailbox.retention_days,
            max_message_seconds: mailbox.max_message_seconds,
            created_at: mailbox.created_at,
            owner: mailbox.owner,
        }
    }
}

/// A change to a message.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessagePatch {
    /// Whether the message was listened to.
    pub heard: bool,
}

fn box_entity(company: &str, name: &str) -> String {
    format!("{company}/voicemail-boxes/{name}")
}

fn message_entity(message: &VoicemailMessage) -> String {
    format!("{}/messages/{}", box_entity(&message.company, &message.mailbox), message.id)
}

/// Check the fields that need no store; the PIN's hash when one was given.
fn check_body(s: &ApiState, company: &str, body: &VoicemailBoxBody) -> ApiResult<Option<String>> {
    validate::name("name", &body.name)?;
    if body.name.starts_with('.') {
        return Err(ApiError::field("name", "must not start with '.'"));
    }
    if body.number.starts_with('+') {
        return Err(ApiError::field("number", "must be 1-10 digits"));
    }
    validate::number("number", &body.number, 1, 10)?;
    if !body.email.is_empty() {
        validate::email("email", &body.email)?;
    }
    if let Some(greeting) = &body.greeting {
        validate::name("greeting", greeting)?;
        if s.app.prompts.get(company, greeting).is_none() {
            return Err(ApiError::field("greeting", format!("{company} has no prompt {greeting:?}")));
        }
    }
    if !RETENTION_DAYS.contains(&body.retention_days) {
        return Err(ApiError::field("retention_days", "must be 1..=365"));
    }
    if !MAX_MESSAGE_SECONDS.contains(&body.max_message_seconds) {
        return Err(ApiError::field("max_message_seconds", "must be 5..=600"));
    }
    match &body.pin {
        Some(p) if !pin::is_valid(p) => Err(ApiError::field("pin", "must be 4-10 digits")),
        Some(p) => Ok(Some(pin::hash(p))),
        None => Ok(None),
    }
}

fn build(company: &str, body: VoicemailBoxBody, pin_hash: String, created_at: DateTime<Utc>) -> VoicemailBox {
    VoicemailBox {
        company: company.to_string(),
        name: body.name,
        number: body.number,
        email: body.email,
        greeting: body.greeting,
        retention_days: body.retention_days,
        pin_hash,
        max_message_seconds: body.max_message_seconds,
        created_at,
        owner: body.owner,
    }
}

/// A box's owner must be a user of the company.
fn check_owner(tx: &impl Read, company: &str, owner: Option<&str>) -> ApiResult<()> {
    match owner {
        Some(extension) if tx.get(&USERS, &company_key(company, extension))?.is_none() => {
            Err(ApiError::field("owner", format!("{company} has no extension {extension:?}")))
        }
        _ => Ok(()),
    }
}

/// The box `name` of `company` if the caller reaches it (a user only the boxes they own;
/// any other is "not found" to them), or 404.
fn reachable_box(s: &ApiState, access: &Access, company: &str, name: &str) -> ApiResult<VoicemailBox> {
    let own = access.personal_reach(company)?;
    let mailbox = existing_box(s, company, name)?;
    match own {
        Some(extension) if mailbox.owner.as_deref() != Some(extension) => {
            Err(ApiError::not_found(format!("voicemail box {name:?}")))
        }
        _ => Ok(mailbox),
    }
}

/// The box `name` of `company`, or 404.
fn existing_box(s: &ApiState, company: &str, name: &str) -> ApiResult<VoicemailBox> {
    voicemail::find_by_name(&s.app, company, name)?
        .ok_or_else(|| ApiError::not_found(format!("voicemail box {name:?}")))
}

/// Message `id` of box `name` of `company`, or 404.
fn existing_message(
    s: &ApiState,
    access: &Access,
    company: &str,
    name: &str,
    id: &str,
) -> ApiResult<VoicemailMessage> {
    reachable_box(s, access, company, name)?;
    voicemail::find_message(&s.app, company, name, id)?
        .ok_or_else(|| ApiError::not_found(format!("voicemail message {id:?}")))
}

/// Create a voicemail box.
#[utoipa::path(post, path = "/api/v1/companies/{company}/voicemail-boxes", tag = "voicemail",
    request_body = VoicemailBoxBody, responses((status = 201, body = VoicemailBoxView)))]
pub async fn create(
    State(s): State<ApiState>,
    access: Access,
    Path(company): Path<String>,
    Body(body): Body<VoicemailBoxBody>,
) -> ApiResult<(StatusCode, Json<VoicemailBoxView>)> {
    access.require_company(&company)?;
    super::company(&s, &company)?;
    let pin_hash = check_body(&s, &company, &body)?.ok_or_else(|| ApiError::field("pin", "is required"))?;
    let actor = access.actor();
    let mailbox = s.app.store.write(|tx| {
        let key = company_key(&company, &body.name);
        if tx.get(&VOICEMAIL_BOXES, &key)?.is_some() {
            return Err(ApiError::conflict(format!("voicemail box {:?} already exists", body.name)));
        }
        numbers::check_free(tx, &company, &body.number, Own::VoicemailBox(&body.name), "number")?;
        check_owner(tx, &company, body.owner.as_deref())?;
        let mailbox = build(&company, body, pin_hash, Utc::now());
        tx.put(&VOICEMAIL_BOXES, &key, &mailbox)?;
        tx.audit(actor.entry(
            Some(&company),
            "voicemail_box.create",
            box_entity(&company, &mailbox.name),
            None,
        ))?;
        Ok::<_, ApiError>(mailbox)
    })?;
    Ok((StatusCode::CREATED, Json(mailbox.into())))
}

/// List a company's voicemail boxes.
#[utoipa::path(get, path = "/api/v1/companies/{company}/voicemail-boxes", tag = "voicemail",
    responses((status = 200, body = [VoicemailBoxView])))]
pub async fn list(
    State(s): State<ApiState>,
    access: Access,
    Path(company): Path<String>,
) -> ApiResult<Json<Vec<VoicemailBoxView>>> {
    let own = access.personal_reach(&company)?;
    super::company(&s, &company)?;
    let boxes = s.app.store.read(|r| r.scan(&VOICEMAIL_BOXES, &company_prefix(&company)))?;
    let reached =
        boxes.into_iter().filter(|b| own.is_none_or(|extension| b.owner.as_deref() == Some(extension)));
    Ok(Json(reached.map(VoicemailBoxView::from).collect()))
}

/// One voicemail box.
#[utoipa::path(get, path = "/api/v1/companies/{company}/voicemail-boxes/{name}", tag = "voicemail",
    responses((status = 200, body = VoicemailBoxView)))]
pub async fn get_box(
    State(s): State<ApiState>,
    access: Access,
    Path((company, name)): Path<(String, String)>,
) -> ApiResult<Json<VoicemailBoxView>> {
    Ok(Json(reachable_box(&s, &access, &company, &name)?.into()))
}

/// Replace a voicemail box; its messages stay. Without `pin` the PIN is kept.
#[utoipa::path(put, path = "/api/v1/companies/{company}/voicemail-boxes/{name}", tag = "voicemail",
    request_body = VoicemailBoxBody, responses((status = 200, body = VoicemailBoxView)))]
pub async fn update(
    State(s): State<ApiState>,
    access: Access,
    Path((company, name)): Path<(String, String)>,
    Body(body): Body<VoicemailBoxBody>,
) -> ApiResult<Json<VoicemailBoxView>> {
    access.require_company(&company)?;
    if body.name != name {
        return Err(ApiError::field("name", "cannot be changed; delete and create instead"));
    }
    let pin_hash = check_body(&s, &company, &body)?;
    let actor = access.actor();
    let mailbox = s.app.store.write(|tx| {
        let key = company_key(&company, &name);
        let existing = tx
            .get(&VOICEMAIL_BOXES, &key)?
            .ok_or_else(|| ApiError::not_found(format!("voicemail box {name:?}")))?;
        numbers::check_free(tx, &company, &body.number, Own::VoicemailBox(&name), "number")?;
        check_owner(tx, &company, body.owner.as_deref())?;
        let pin_changed = pin_hash.is_some();
        let pin_hash = pin_hash.unwrap_or(existing.pin_hash);
        let mailbox = build(&company, body, pin_hash, existing.created_at);
        tx.put(&VOICEMAIL_BOXES, &key, &mailbox)?;
        let detail = pin_changed.then(|| "PIN changed".to_string());
        tx.audit(actor.entry(Some(&company), "voicemail_box.update", box_entity(&company, &name), detail))?;
        Ok::<_, ApiError>(mailbox)
    })?;
    Ok(Json(mailbox.into()))
}

/// Delete a voicemail box and its messages.
#[utoipa::path(delete, path = "/api/v1/companies/{company}/voicemail-boxes/{name}", tag = "voicemail",
    responses((status = 204)))]
pub async fn delete(
    State(s): State<ApiState>,
    access: Access,
    Path((company, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    access.require_company(&company)?;
    let actor = access.actor();
    s.app.store.write(|tx| {
        if !tx.delete(&VOICEMAIL_BOXES, &company_key(&company, &name))? {
            return Err(ApiError::not_found(format!("voicemail box {name:?}")));
        }
        let messages = tx.delete_prefix(&VOICEMAIL_MESSAGES, &voicemail::mailbox_prefix(&company, &name))?;
        let detail = (messages > 0).then(|| format!("{messages} messages deleted with it"));
        tx.audit(actor.entry(Some(&company), "voicemail_box.delete", box_entity(&company, &name), detail))?;
        Ok(())
    })?;
    let app = s.app.clone();
    // Removing a folder of files is blocking I/O.
    let _ = tokio::task::spawn_blocking(move || voicemail::remove_box_audio(&app, &company, &name)).await;
    Ok(StatusCode::NO_CONTENT)
}

/// The messages of a box, oldest first.
#[utoipa::path(get, path = "/api/v1/companies/{company}/voicemail-boxes/{name}/messages", tag = "voicemail",
    responses((status = 200, body = [VoicemailMessage])))]
pub async fn list_messages(
    State(s): State<ApiState>,
    access: Access,
    Path((company, name)): Path<(String, String)>,
) -> ApiResult<Json<Vec<VoicemailMessage>>> {
    reachable_box(&s, &access, &company, &name)?;
    Ok(Json(voicemail::messages(&s.app, &company, &name)?))
}

/// One message.
#[utoipa::path(get, path = "/api/v1/companies/{company}/voicemail-boxes/{name}/messages/{id}", tag = "voicemail",
    responses((status = 200, body = VoicemailMessage)))]
pub async fn get_message(
    State(s): State<ApiState>,
    access: Access,
    Path((company, name, id)): Path<(String, String, String)>,
) -> ApiResult<Json<VoicemailMessage>> {
    Ok(Json(existing_message(&s, &access, &company, &name, &id)?))
}

/// A message's recording, as WAV (8 kHz, 16-bit, mono).
#[utoipa::path(get, path = "/api/v1/companies/{company}/voicemail-boxes/{name}/messages/{id}/audio", tag = "voicemail",
    responses((status = 200, content_type = "audio/wav", body = Vec<u8>)))]
pub async fn message_audio(
    State(s): State<ApiState>,
    access: Access,
    Path((company, name, id)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let message = existing_message(&s, &access, &company, &name, &id)?;
    let app = s.app.clone();
    let read = tokio::task::spawn_blocking(move || voicemail::message_wav(&app, &message)).await;
    let wav = match read {
        Ok(Ok(wav)) => wav,
        Ok(Err(VoicemailError::MissingAudio(_))) => {
            return Err(ApiError::not_found(format!("the audio of voicemail message {id:?}")));
        }
        Ok(Err(error)) => {
            tracing::error!(%company, mailbox = %name, %id, %error, "voicemail audio unreadable");
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the message's audio could not be read",
            ));
        }
        Err(error) => {
            return Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("reading failed: {error}")));
        }
    };
    let disposition = format!("attachment; filename=\"voicemail-{id}.wav\"");
    Ok(([(header::CONTENT_TYPE, "audio/wav".to_string()), (header::CONTENT_DISPOSITION, disposition)], wav)
        .into_response())
}

/// Mark a message heard or not heard.
#[utoipa::path(patch, path = "/api/v1/companies/{company}/voicemail-boxes/{name}/messages/{id}", tag = "voicemail",
    request_body = MessagePatch, responses((status = 200, body = VoicemailMessage)))]
pub async fn update_message(
    State(s): State<ApiState>,
    access: Access,
    Path((company, name, id)): Path<(String, String, String)>,
    Body(patch): Body<MessagePatch>,
) -> ApiResult<Json<VoicemailMessage>> {
    let message = existing_message(&s, &access, &company, &name, &id)?;
    let actor = access.actor();
    let updated = s.app.store.write(|tx| {
        let updated = voicemail::set_heard_in(tx, &message, patch.heard)?
            .ok_or_else(|| ApiError::not_found(format!("voicemail message {id:?}")))?;
        let detail = format!("heard: {}", patch.heard);
        tx.audit(actor.entry(
            Some(&company),
            "voicemail_message.update",
            message_entity(&message),
            Some(detail),
        ))?;
        Ok::<_, ApiError>(updated)
    })?;
    Ok(Json(updated))
}

/// Delete a message and its recording.
#[utoipa::path(delete, path = "/api/v1/companies/{company}/voicemail-boxes/{name}/messages/{id}", tag = "voicemail",
    responses((status = 204)))]
pub async fn delete_message(
    State(s): State<ApiState>,
    access: Access,
    Path((company, name, id)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let message = existing_message(&s, &access, &company, &name, &id)?;
    let actor = access.actor();
    s.app.store.write(|tx| {
        if !tx.delete(&VOICEMAIL_MESSAGES, &voicemail::message_key(&message))? {
            return Err(ApiError::not_found(format!("voicemail message {id:?}")));
        }
        tx.audit(actor.entry(Some(&company), "voicemail_message.delete", message_entity(&message), None))?;
        Ok(())
    })?;
    let app = s.app.clone();
    let _ = tokio::task::spawn_blocking(move || voicemail::remove_audio(&app, &message)).await;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::api::auth::{Auth, Caller};
    use crate::app::App;
    use crate::media::audio::Audio;
    use crate::store::records::Company;

    fn operator() -> Access {
        Access { caller: Caller::Operator, client_ip: None }
    }

    /// API state over an in-memory store with company acme, its audio in `data_dir`.
    fn state(data_dir: &std::path::Path) -> ApiState {
        let store = Store::in_memory().unwrap();
        let app = App {
            sandbox: Arc::new(crate::sandbox::Sandbox::new(store.clone(), None, false).unwrap()),
            counters: Arc::new(Default::default()),
            registrar: Arc::new(crate::sip::registrar::service::Registrar::new(store.clone())),
            security: Arc::new(crate::security::Guard::load(store.clone(), Default::default()).unwrap()),
            mail: crate::mail::Mailer::disabled(),
            prompts: crate::prompts::Prompts::default(),
            data_dir: Some(data_dir.to_path_buf()),
            queue_stats: crate::routing::queue::stats::QueueStats::new(store.clone()),
            events: Default::default(),
            rooms: Default::default(),
            store,
        };
        let company: Company = serde_json::from_value(serde_json::json!({
            "id": "acme", "name": "Acme", "max_extensions": 10, "time_zone": "UTC",
            "sip_domain": "acme.test", "trunk": null, "secondary_trunk": null,
            "decision_deadline_ms": 100, "decision_memory_mib": 16, "created_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap();
        app.store.write(|tx| tx.put(&COMPANIES, "acme", &company)).unwrap();
        ApiState {
            app,
            auth: Auth::new("token".into()),
            trunks: Arc::new(Default::default()),
            sip_websockets: None,
            sessions: Default::default(),
        }
    }

    fn path(name: &str) -> Path<(String, String)> {
        Path(("acme".into(), name.into()))
    }

    fn message_path(id: &str) -> Path<(String, String, String)> {
        Path(("acme".into(), "sales".into(), id.into()))
    }

    /// Box "sales" created through the API, and one message left in it.
    async fn box_with_a_message(s: &ApiState) -> VoicemailMessage {
        let body = VoicemailBoxBody {
            name: "sales".into(),
            number: "800".into(),
            email: String::new(),
            greeting: None,
            retention_days: 30,
            pin: Some("4321".into()),
            max_message_seconds: 180,
            owner: None,
        };
        let (status, _) =
            create(State(s.clone()), operator(), Path("acme".into()), Body(body)).await.unwrap();
        assert_eq!(status, StatusCode::CREATED);
        let mailbox = voicemail::find_by_name(&s.app, "acme", "sales").unwrap().unwrap();
        let audio = Audio::from_samples(vec![1000; 8000]);
        voicemail::save_message(&s.app, &mailbox, "600", "800", &audio).unwrap()
    }

    fn audit_actions(s: &ApiState) -> Vec<String> {
        let entries = s.app.store.read(|r| recent_audit(r, Some("acme"), 20)).unwrap();
        entries.into_iter().map(|e| e.action).collect()
    }

    #[tokio::test]
    async fn a_message_is_listed_downloaded_marked_heard_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let s = state(dir.path());
        let message = box_with_a_message(&s).await;

        let listed = list_messages(State(s.clone()), operator(), path("sales")).await.unwrap().0;
        assert_eq!(listed, vec![message.clone()]);

        let response = message_audio(State(s.clone()), operator(), message_path(&message.id)).await.unwrap();
        assert_eq!(response.headers()[header::CONTENT_TYPE], "audio/wav");
        let disposition = format!("attachment; filename=\"voicemail-{}.wav\"", message.id);
        assert_eq!(response.headers()[header::CONTENT_DISPOSITION], disposition.as_str());
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        assert_eq!(body.len() as u64, message.size);
        assert_eq!(voicemail::message_audio(&s.app, &message).unwrap().samples(), &[1000; 8000][..]);

        let patch = MessagePatch { heard: true };
        let heard =
            update_message(State(s.clone()), operator(), message_path(&message.id), Body(patch)).await;
        assert!(heard.unwrap().0.heard);
        assert!(get_message(State(s.clone()), operator(), message_path(&message.id)).await.unwrap().0.heard);

        let deleted = delete_message(State(s.clone()), operator(), message_path(&message.id)).await.unwrap();
        assert_eq!(deleted, StatusCode::NO_CONTENT);
        assert!(list_messages(State(s.clone()), operator(), path("sales")).await.unwrap().0.is_empty());
        let gone = message_audio(State(s.clone()), operator(), message_path(&message.id)).await.unwrap_err();
        assert_eq!(gone.status, StatusCode::NOT_FOUND);
        let wav = dir.path().join(format!("voicemail/acme/sales/{}.wav", message.id));
        assert!(!wav.exists(), "the file goes with the message");

        let actions = audit_actions(&s);
        assert!(actions.contains(&"voicemail_message.update".to_string()), "{actions:?}");
        assert!(actions.contains(&"voicemail_message.delete".to_string()), "{actions:?}");
    }

    #[tokio::test]
    async fn deleting_a_box_deletes_its_messages_and_their_files() {
        let dir = tempfile::tempdir().unwrap();
        let s = state(dir.path());
        let message = box_with_a_message(&s).await;
        assert!(dir.path().join("voicemail/acme/sales").exists());

        delete(State(s.clone()), operator(), path("sales")).await.unwrap();
        assert!(voicemail::messages(&s.app, "acme", "sales").unwrap().is_empty());
        assert!(!dir.path().join("voicemail/acme/sales").exists(), "the box's folder stays");

        // A new box of the same name starts empty.
        let again = box_with_a_message(&s).await;
        assert_ne!(again.id, message.id);
        assert_eq!(voicemail::messages(&s.app, "acme", "sales").unwrap(), vec![again]);
        let entries = s.app.store.read(|r| recent_audit(r, Some("acme"), 20)).unwrap();
        let deletion = entries.iter().find(|e| e.action == "voicemail_box.delete").unwrap();
        assert_eq!(deletion.detail.as_deref(), Some("1 messages deleted with it"));
    }

    #[tokio::test]
    async fn the_box_view_never_holds_the_pin() {
        let dir = tempfile::tempdir().unwrap();
        let s = state(dir.path());
        box_with_a_message(&s).await;
        let view = get_box(State(s.clone()), operator(), path("sales")).await.unwrap().0;
        let json = serde_json::to_value(&view).unwrap();
        let text = json.to_string();
        assert!(!text.contains("pin") && !text.contains("sha256"), "{text}");
        // A value equal to the PIN, not any "4321": created_at's fraction of a second may hold it.
        let values = json.as_object().expect("a box view is an object").values();
        for value in values {
            assert!(value != "4321" && value != 4321, "the PIN shows in {text}");
        }
    }
}
