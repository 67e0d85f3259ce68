//! Prompts (SPEC.md §5): upload audio in any common format (converted once to telephony
//! audio), list a company's uploads beside the system defaults, read one's metadata or its
//! converted WAV, delete an upload (the default of that name, if any, plays again).

use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::ApiState;
use super::auth::Access;
use super::error::{ApiError, ApiResult};
use super::extract::Params;
use crate::media::audio::convert::{ConvertError, MAX_INPUT_BYTES, format_name};
use crate::prompts::{PromptError, PromptInfo, check_name, system};

/// The largest upload, as the route's body limit (the converter's own cap).
pub const MAX_UPLOAD_BYTES: usize = MAX_INPUT_BYTES;

/// What the uploaded file is, when the Content-Type does not say.
#[derive(Debug, Deserialize, ToSchema, IntoParams)]
pub struct UploadQuery {
    /// The file's format as an extension: "wav", "mp3", "ogg", "flac". A hint only: the
    /// content decides.
    #[serde(default)]
    pub format: Option<String>,
}

/// The prompt routes.
pub fn routes() -> Router<ApiState> {
    let prompts = "/api/v1/companies/{company}/prompts";
    Router::new()
        .route(prompts, get(list))
        .route(
            &format!("{prompts}/{{name}}"),
            put(upload).get(get_prompt).delete(delete).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
        .route(&format!("{prompts}/{{name}}/audio"), get(audio))
}

impl From<PromptError> for ApiError {
    fn from(error: PromptError) -> ApiError {
        let status = match &error {
            PromptError::InvalidName(_) => return ApiError::field("name", error.to_string()),
            PromptError::NotFound { .. } => StatusCode::NOT_FOUND,
            PromptError::Convert(ConvertError::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            PromptError::Convert(
                ConvertError::NotAudio(_) | ConvertError::NoAudioTrack | ConvertError::Unsupported(_),
            ) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            PromptError::Convert(_) => StatusCode::UNPROCESSABLE_ENTITY,
            PromptError::Store(_) | PromptError::Io { .. } | PromptError::Task(_) => {
                tracing::error!(%error, "prompt storage failed");
                return ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "storing the prompt failed");
            }
        };
        ApiError::new(status, error.to_string())
    }
}

/// The format hint of an upload: `?format=` first, else a Content-Type that says more than
/// "some bytes".
fn hint(query: &UploadQuery, headers: &HeaderMap) -> Option<String> {
    if let Some(format) = query.format.as_deref().filter(|f| !f.is_empty()) {
        return Some(format.to_ascii_lowercase());
    }
    let content_type = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let mime = content_type.split(';').next()?.trim().to_ascii_lowercase();
    (!mime.is_empty() && mime != "application/octet-stream").then_some(mime)
}

/// Upload a prompt (the raw file as body: WAV of any rate and channels, MP3, OGG Vorbis or
/// FLAC, at most 64 MiB and 10 minutes), replacing any upload of that name. An upload named
/// like a system prompt replaces it for this company (e.g. `music-on-hold`).
#[utoipa::path(put, path = "/api/v1/companies/{company}/prompts/{name}", tag = "prompts", params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "audio/*"),
    responses((status = 201, body = PromptInfo), (status = 413, body = super::error::ErrorBody),
        (status = 415, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
pub async fn upload(
    State(s): State<ApiState>,
    access: Access,
    Path((company, name)): Path<(String, String)>,
    Params(query): Params<UploadQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, Json<PromptInfo>)> {
    access.require_company(&company)?;
    super::company(&s, &company)?;
    check_name(&name)?;
    let bytes = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the file is larger than the {} MiB limit", MAX_UPLOAD_BYTES / (1024 * 1024)),
        ),
        status => ApiError::new(status, rejection.body_text()),
    })?;
    let detail = format!("{}, {} bytes", format_name(&bytes), bytes.len());
    let audit = access.actor().entry(
        Some(&company),
        "prompt.upload",
        format!("{company}/prompts/{name}"),
        Some(detail),
    );
    let info =
        s.app.prompts.put(&s.app.store, &company, &name, bytes.into(), hint(&query, &headers), audit).await?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// The company's uploads, then every system default (`overridden` where an upload of the
/// same name replaces it).
#[utoipa::path(get, path = "/api/v1/companies/{company}/prompts", tag = "prompts", responses((status = 200, body = [PromptInfo])))]
pub async fn list(
    State(s): State<ApiState>,
    access: Access,
    Path(company): Path<String>,
) -> ApiResult<Json<Vec<PromptInfo>>> {
    access.require_company(&company)?;
    super::company(&s, &company)?;
    Ok(Json(s.app.prompts.list(&s.app.store, &company)?))
}

/// One prompt as the company plays it: its upload, else the system default.
#[utoipa::path(get, path = "/api/v1/companies/{company}/prompts/{name}", tag = "prompts", responses((status = 200, body = PromptInfo)))]
pub async fn get_prompt(
    State(s): State<ApiState>,
    access: Access,
    Path((company, name)): Path<(String, String)>,
) -> ApiResult<Json<PromptInfo>> {
    access.require_company(&company)?;
    super::company(&s, &company)?;
    let info = s.app.prompts.info(&s.app.store, &company, &name)?;
    Ok(Json(info.ok_or_else(|| ApiError::not_found(format!("prompt {name:?}")))?))
}

/// The converted audio the company's calls play as this prompt (8 kHz mono 16-bit WAV).
#[utoipa::path(get, path = "/api/v1/companies/{company}/prompts/{name}/audio", tag = "prompts",
    responses((status = 200, content_type = "audio/wav", body = Vec<u8>)))]
pub async fn audio(
    State(s): State<ApiState>,
    access: Access,
    Path((company, name)): Path<(String, String)>,
) -> ApiResult<Response> {
    access.require_company(&company)?;
    super::company(&s, &company)?;
    check_name(&name)?;
    let prompts = s.app.prompts.clone();
    let (for_company, for_name) = (company.clone(), name.clone());
    // The first read of an upload reads its file: off the async workers.
    let wav = tokio::task::spawn_blocking(move || prompts.wav(&for_company, &for_name))
        .await
        .map_err(|e| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("reading the prompt failed: {e}"))
        })?
        .ok_or_else(|| ApiError::not_found(format!("prompt {name:?}")))?;
    Ok(wav_response(&name, wav))
}

/// The WAV bytes of prompt `name` as a download.
fn wav_response(name: &str, wav: Vec<u8>) -> Response {
    // Names are lowercase letters, digits and '-' (checked): safe in the quoted file name.
    let disposition = format!("attachment; filename=\"{name}.wav\"");
    ([(header::CONTENT_TYPE, "audio/wav".to_string()), (header::CONTENT_DISPOSITION, disposition)], wav)
        .into_response()
}

/// Delete an upload; the system prompt of that name, if any, plays again. System prompts
/// themselves cannot be deleted.
#[utoipa::path(delete, path = "/api/v1/companies/{company}/prompts/{name}", tag = "prompts",
    responses((status = 204), (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)))]
pub async fn delete(
    State(s): State<ApiState>,
    access: Access,
    Path((company, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    access.require_company(&company)?;
    super::company(&s, &company)?;
    let audit =
        access.actor().entry(Some(&company), "prompt.delete", format!("{company}/prompts/{name}"), None);
    match s.app.prompts.delete(&s.app.store, &company, &name, audit).await {
        Err(PromptError::NotFound { .. }) if system::is_system(&name) => Err(ApiError::conflict(format!(
            "{name:?} is a system prompt: only an upload of that name can be deleted, and {company} has none"
        ))),
        result => Ok(result.map(|()| StatusCode::NO_CONTENT)?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(content_type: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, content_type.parse().unwrap());
        headers
    }

    #[test]
    fn the_query_format_wins_over_the_content_type() {
        let query = UploadQuery { format: Some("MP3".into()) };
        assert_eq!(hint(&query, &headers("audio/ogg")).as_deref(), Some("mp3"));
    }

    #[test]
    fn a_content_type_is_a_hint_without_its_parameters_unless_it_says_nothing() {
        let none = UploadQuery { format: None };
        assert_eq!(hint(&none, &headers("audio/mpeg; charset=binary")).as_deref(), Some("audio/mpeg"));
        assert_eq!(hint(&none, &headers("application/octet-stream")), None);
        assert_eq!(hint(&none, &HeaderMap::new()), None);
    }

    #[test]
    fn conversion_errors_answer_the_status_that_names_them() {
        let status = |error: ConvertError| ApiError::from(PromptError::Convert(error)).status;
        assert_eq!(status(ConvertError::NotAudio("x".into())), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(status(ConvertError::TooLarge { size: 2, limit: 1 }), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(status(ConvertError::TooLong { minutes: 10 }), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(status(ConvertError::Empty), StatusCode::UNPROCESSABLE_ENTITY);
        let invalid = ApiError::from(PromptError::InvalidName("A".into()));
        assert_eq!(
            (invalid.status, invalid.field.as_deref()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("name"))
        );
    }

    #[tokio::test]
    async fn the_audio_is_answered_as_a_wav_download() {
        let response = wav_response("welcome", b"RIFF".to_vec());
        assert_eq!(response.headers()[header::CONTENT_TYPE], "audio/wav");
        assert_eq!(response.headers()[header::CONTENT_DISPOSITION], "attachment; filename=\"welcome.wav\"");
    }

    #[test]
    fn every_route_is_in_the_openapi_document() {
        let document = crate::api::openapi();
        for path in [
            "/api/v1/companies/{company}/prompts",
            "/api/v1/companies/{company}/prompts/{name}",
            "/api/v1/companies/{company}/prompts/{name}/audio",
        ] {
            assert!(document.paths.paths.contains_key(path), "{path}");
        }
    }
}
