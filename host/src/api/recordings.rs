//! Call recordings (SPEC.md §6): a company's recordings listed with filters and pages,
//! their metadata, their audio as a WAV download, deletion one by one or in bulk, and the
//! storage used against the company's quota.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ApiState;
use super::auth::Access;
use super::cdrs::PageQuery;
use super::error::{ApiError, ApiResult};
use super::extract::{Body, Params};
use crate::app::App;
use crate::cdr::filter::digits_of;
use crate::cdr::{CdrFilter, FilterError, FilterValues};
use crate::recordings::{self, RecordingError, RecordingFilter, quota};
use crate::routing::call::parse_time_zone;
use crate::store::records::{Company, Recording};
use crate::store::{RECORDING_USAGE, RECORDINGS, Read, company_prefix};

/// Recordings in a page when the client does not say, and the most it may ask for (as for
/// CDRs).
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

/// The most ids one bulk delete may name.
pub const MAX_BULK_IDS: usize = 1000;

/// Which recordings to show. Every parameter is optional; an empty one is ignored.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordingFilterQuery {
    /// `inbound`, `outbound` or `internal`.
    pub direction: Option<String>,
    /// Digits the calling number contains.
    pub from: Option<String>,
    /// Digits the called number contains.
    pub to: Option<String>,
    /// The extension whose setting made the recording.
    pub extension: Option<String>,
    /// Recordings started at or after this: an RFC 3339 instant, or a date YYYY-MM-DD =
    /// the start of that day in the company's time zone.
    pub since: Option<String>,
    /// Recordings started at or before this: an RFC 3339 instant, or a date YYYY-MM-DD =
    /// the end of that day in the company's time zone.
    pub until: Option<String>,
}

/// A page of recordings.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordingPage {
    /// How many recordings match the filters, over every page.
    pub total: usize,
    /// This page's recordings, newest first.
    pub items: Vec<Recording>,
}

/// Recordings to delete at once.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkDeleteBody {
    /// Ids of the company's recordings, 1-1000.
    pub ids: Vec<String>,
}

/// What a bulk delete did.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkDeleteResult {
    /// Ids deleted.
    pub deleted: Vec<String>,
    /// Ids that are not recordings of the company (nothing was done for them).
    pub not_found: Vec<String>,
}

/// A company's recording storage.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordingUsageView {
    /// How many recordings the company has.
    pub recordings: usize,
    /// Bytes they take.
    pub used_bytes: u64,
    /// The quota in megabytes (1,000,000 bytes); none = no limit.
    pub quota_mb: Option<u64>,
    /// The quota in bytes; none = no limit.
    pub quota_bytes: Option<u64>,
    /// Whether the quota is reached: new calls are not recorded until space is freed.
    pub quota_reached: bool,
}

/// A company's recordings that match the filters, newest first, one page at a time.
#[utoipa::path(get, path = "/api/v1/companies/{company}/recordings", tag = "recordings",
    params(("company" = String, Path, description = "The company's id"), RecordingFilterQuery, PageQuery),
    responses((status = 200, body = RecordingPage), (status = 422, body = super::error::ErrorBody)))]
pub async fn list(
    State(s): State<ApiState>,
    access: Access,
    Path(company): Path<String>,
    Params(filter): Params<RecordingFilterQuery>,
    Params(page): Params<PageQuery>,
) -> ApiResult<Json<RecordingPage>> {
    let own = access.personal_reach(&company)?.map(str::to_string);
    let company = super::company(&s, &company)?;
    let mut filter = parse_filter(&filter, company_zone(&company))?;
    if own.is_some() {
        // A user lists the recordings their own setting made, whatever they asked for.
        filter.extension = own;
    }
    let (limit, offset) = parse_page(&page)?;
    let app = s.app.clone();
    let matching = blocking(move || Ok(recordings::find(&app, &company.id, &filter)?)).await?;
    let total = matching.len();
    Ok(Json(RecordingPage { total, items: matching.into_iter().skip(offset).take(limit).collect() }))
}

/// One recording's metadata.
#[utoipa::path(get, path = "/api/v1/companies/{company}/recordings/{id}", tag = "recordings",
    params(("company" = String, Path, description = "The company's id"), ("id" = String, Path, description = "The recording's id")),
    responses((status = 200, body = Recording), (status = 404, body = super::error::ErrorBody)))]
pub async fn get(
    State(s): State<ApiState>,
    access: Access,
    Path((company, id)): Path<(String, String)>,
) -> ApiResult<Json<Recording>> {
    let own = access.personal_reach(&company)?;
    super::company(&s, &company)?;
    let recording = recordings::get(&s.app, &company, &id).map_err(api_error)?;
    reachable(own, recording, &id).map(Json)
}

/// `recording` if the caller reaches it: a user only their own, and any other is "not
/// found" to them, as it would be in another company.
fn reachable(own: Option<&str>, recording: Recording, id: &str) -> ApiResult<Recording> {
    match own {
        Some(extension) if recording.extension != extension => {
            Err(ApiError::not_found(format!("recording {id:?}")))
        }
        _ => Ok(recording),
    }
}

/// One recording's audio: a two-channel 8 kHz 16-bit WAV file, the caller on the left and
/// the callee on the right.
#[utoipa::path(get, path = "/api/v1/companies/{company}/recordings/{id}/audio", tag = "recordings",
    params(("company" = String, Path, description = "The company's id"), ("id" = String, Path, description = "The recording's id")),
    responses((status = 200, content_type = "audio/wav", body = Vec<u8>), (status = 404, body = super::error::ErrorBody)))]
pub async fn audio(
    State(s): State<ApiState>,
    access: Access,
    Path((company, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let own = access.personal_reach(&company)?;
    super::company(&s, &company)?;
    reachable(own, recordings::get(&s.app, &company, &id).map_err(api_error)?, &id)?;
    let app = s.app.clone();
    let (recording, bytes) = blocking(move || recordings::audio(&app, &company, &id)).await?;
    Ok(wav_response(&recording, bytes))
}

/// Delete one recording (its audio too).
#[utoipa::path(delete, path = "/api/v1/companies/{company}/recordings/{id}", tag = "recordings",
    params(("company" = String, Path, description = "The company's id"), ("id" = String, Path, description = "The recording's id")),
    responses((status = 204), (status = 404, body = super::error::ErrorBody)))]
pub async fn delete(
    State(s): State<ApiState>,
    access: Access,
    Path((company, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    access.require_company(&company)?;
    super::company(&s, &company)?;
    let result = delete_ids(&s.app, &access, company, vec![id.clone()]).await?;
    if result.deleted.is_empty() {
        return Err(ApiError::not_found(format!("recording {id:?}")));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Delete many recordings at once; ids that are not the company's recordings are reported,
/// the others are deleted.
#[utoipa::path(post, path = "/api/v1/companies/{company}/recordings/delete", tag = "recordings",
    params(("company" = String, Path, description = "The company's id")), request_body = BulkDeleteBody,
    responses((status = 200, body = BulkDeleteResult), (status = 422, body = super::error::ErrorBody)))]
pub async fn delete_many(
    State(s): State<ApiState>,
    access: Access,
    Path(company): Path<String>,
    Body(body): Body<BulkDeleteBody>,
) -> ApiResult<Json<BulkDeleteResult>> {
    access.require_company(&company)?;
    super::company(&s, &company)?;
    if body.ids.is_empty() {
        return Err(ApiError::field("ids", "must name at least one recording"));
    }
    if body.ids.len() > MAX_BULK_IDS {
        return Err(ApiError::field(
            "ids",
            format!("at most {MAX_BULK_IDS} at once, got {}", body.ids.len()),
        ));
    }
    let result = delete_ids(&s.app, &access, company, body.ids).await?;
    Ok(Json(BulkDeleteResult { deleted: result.deleted, not_found: result.not_found }))
}

/// The storage a company's recordings take, and its quota.
#[utoipa::path(get, path = "/api/v1/companies/{company}/recordings/usage", tag = "recordings",
    params(("company" = String, Path, description = "The company's id")),
    responses((status = 200, body = RecordingUsageView)))]
pub async fn usage(
    State(s): State<ApiState>,
    access: Access,
    Path(company): Path<String>,
) -> ApiResult<Json<RecordingUsageView>> {
    access.require_company(&company)?;
    let company = super::company(&s, &company)?;
    let (recordings, usage) = s.app.store.read(|r| {
        let count = r.count(&RECORDINGS, &company_prefix(&company.id))?;
        Ok::<_, ApiError>((count, r.get(&RECORDING_USAGE, &company.id)?.unwrap_or_default()))
    })?;
    let quota_bytes = quota::quota_bytes(company.recording_quota_mb);
    Ok(Json(RecordingUsageView {
        recordings,
        used_bytes: usage.bytes,
        quota_mb: company.recording_quota_mb,
        quota_bytes,
        quota_reached: quota_bytes.is_some_and(|quota| usage.bytes >= quota),
    }))
}

/// Delete `ids` of `company` off the async workers (files are removed too), auditing each.
async fn delete_ids(
    app: &App,
    access: &Access,
    company: String,
    ids: Vec<String>,
) -> ApiResult<recordings::Deleted> {
    let (app, actor) = (app.clone(), access.actor());
    blocking(move || recordings::delete(&app, &company, &ids, &actor)).await
}

/// The WAV bytes of `recording` as a download.
fn wav_response(recording: &Recording, bytes: Vec<u8>) -> Response {
    // Ids are letters, digits and '-' (checked before the file was read): safe inside the
    // quoted file name.
    let disposition = format!("attachment; filename=\"recording-{}.wav\"", recording.id);
    let headers =
        [(header::CONTENT_TYPE, "audio/wav".to_string()), (header::CONTENT_DISPOSITION, disposition)];
    (headers, bytes).into_response()
}

/// Run store scans and file I/O on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, RecordingError> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("recordings task failed: {e}"))
        })?
        .map_err(api_error)
}

fn api_error(error: RecordingError) -> ApiError {
    match error {
        RecordingError::NotFound(id) => ApiError::not_found(format!("recording {id:?}")),
        RecordingError::InvalidCompany(company) => ApiError::not_found(format!("company {company:?}")),
        RecordingError::Store(error) => error.into(),
        RecordingError::File { .. } => {
            tracing::error!(%error, "recording file failure");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the recording's audio could not be read or removed",
            )
        }
    }
}

/// The company's time zone; UTC if the stored name is unknown (only a damaged record).
fn company_zone(company: &Company) -> Tz {
    parse_time_zone(&company.time_zone).unwrap_or(chrono_tz::UTC)
}

/// A parameter's value, if it has one that is not blank.
fn given(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

fn parse_filter(query: &RecordingFilterQuery, zone: Tz) -> ApiResult<RecordingFilter> {
    // The CDR filter reads directions and date bounds the same way; its "from" and "to"
    // are this listing's "since" and "until" (here "from" and "to" are the numbers).
    let cdr_filter = |values: FilterValues<'_>, parameter: &'static str| {
        CdrFilter::parse(&values, zone)
            .map_err(|FilterError { reason, .. }| ApiError::field(parameter, reason))
    };
    let direction = cdr_filter(
        FilterValues { direction: query.direction.as_deref(), ..Default::default() },
        "direction",
    )?
    .direction;
    let since =
        cdr_filter(FilterValues { from: query.since.as_deref(), ..Default::default() }, "since")?.from;
    let until = cdr_filter(FilterValues { to: query.until.as_deref(), ..Default::default() }, "until")?.until;
    if let (Some(since), Some(until)) = (since, until)
        && until <= since
    {
        return Err(ApiError::field("until", "must be after since"));
    }
    let digits = |parameter: &str, value: Option<&str>| {
        given(value)
            .map(|v| {
                let digits = digits_of(v);
                if digits.is_empty() {
                    Err(ApiError::field(parameter, "must contain digits"))
                } else {
                    Ok(digits)
                }
            })
            .transpose()
    };
    Ok(RecordingFilter {
        direction,
        from_digits: digits("from", query.from.as_deref())?,
        to_digits: digits("to", query.to.as_deref())?,
        extension: given(query.extension.as_deref()).map(str::to_string),
        since,
        until,
    })
}

/// The page's `(limit, offset)`, read as the CDR listing reads them.
fn parse_page(query: &PageQuery) -> ApiResult<(usize, usize)> {
    let limit = match given(query.limit.as_deref()) {
        None => DEFAULT_LIMIT,
        Some(text) => {
            text.parse::<usize>().ok().filter(|l| (1..=MAX_LIMIT).contains(l)).ok_or_else(|| {
                ApiError::field("limit", format!("{text:?} is not a number from 1 to {MAX_LIMIT}"))
            })?
        }
    };
    let offset = match given(query.offset.as_deref()) {
        None => 0,
        Some(text) => text
            .parse::<usize>()
            .map_err(|_| ApiError::field("offset", format!("{text:?} is not a whole number")))?,
    };
    Ok((limit, offset))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::call::Direction;

    /// A filter query as a client's parameters arrive.
    fn query(pairs: &[(&str, &str)]) -> RecordingFilterQuery {
        let object = pairs.iter().map(|(k, v)| (k.to_string(), serde_json::Value::from(*v))).collect();
        // Every member is an optional string: any such object is a valid query.
        serde_json::from_value(serde_json::Value::Object(object)).unwrap()
    }

    #[test]
    fn filters_are_read_with_numbers_as_digits_and_dates_in_the_company_zone() {
        let zone = parse_time_zone("Europe/Madrid").unwrap();
        let filter = parse_filter(
            &query(&[
                ("direction", "outbound"),
                ("from", "+34 600"),
                ("to", ""),
                ("extension", "101"),
                ("since", "2026-03-01"),
                ("until", "2026-03-01"),
            ]),
            zone,
        )
        .unwrap();
        assert_eq!(filter.direction, Some(Direction::Outbound));
        assert_eq!(filter.from_digits.as_deref(), Some("34600"));
        assert_eq!(filter.to_digits, None, "an empty parameter is ignored");
        assert_eq!(filter.extension.as_deref(), Some("101"));
        assert_eq!(filter.since.unwrap().to_rfc3339(), "2026-02-28T23:00:00+00:00");
        assert_eq!(filter.until.unwrap().to_rfc3339(), "2026-03-01T23:00:00+00:00");
    }

    #[test]
    fn bad_filter_and_page_values_are_422_naming_the_parameter() {
        let cases = [
            (query(&[("direction", "up")]), "direction"),
            (query(&[("from", "john")]), "from"),
            (query(&[("to", "-")]), "to"),
            (query(&[("since", "01/03/2026")]), "since"),
            (query(&[("until", "yesterday")]), "until"),
            (query(&[("since", "2026-03-02"), ("until", "2026-03-01")]), "until"),
        ];
        for (filter, parameter) in cases {
            let error = parse_filter(&filter, chrono_tz::UTC).unwrap_err();
            assert_eq!(error.status, StatusCode::UNPROCESSABLE_ENTITY, "{filter:?}");
            assert_eq!(error.field.as_deref(), Some(parameter), "{filter:?}");
        }
        for (limit, offset, parameter) in [("0", "", "limit"), ("1001", "", "limit"), ("5", "-1", "offset")] {
            let page = PageQuery { limit: Some(limit.into()), offset: Some(offset.into()) };
            assert_eq!(parse_page(&page).unwrap_err().field.as_deref(), Some(parameter));
        }
        assert_eq!(parse_page(&PageQuery::default()).unwrap(), (DEFAULT_LIMIT, 0));
    }

    #[tokio::test]
    async fn the_audio_is_answered_as_a_wav_download() {
        let recording: Recording = serde_json::from_value(serde_json::json!({
            "id": "20260301T100000000Z-0a0b0c0d", "company": "acme", "call_id": "c", "direction": "inbound",
            "from": "1", "to": "2", "extension": "101", "started_at": "2026-03-01T10:00:00Z",
            "duration_ms": 0, "size": 4, "channels": 2,
        }))
        .unwrap();
        let response = wav_response(&recording, b"RIFF".to_vec());
        assert_eq!(response.headers()[header::CONTENT_TYPE], "audio/wav");
        assert_eq!(
            response.headers()[header::CONTENT_DISPOSITION],
            "attachment; filename=\"recording-20260301T100000000Z-0a0b0c0d.wav\""
        );
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        assert_eq!(&body[..], b"RIFF");
    }

    #[test]
    fn every_route_is_in_the_openapi_document() {
        let document = crate::api::openapi();
        for path in [
            "/api/v1/companies/{company}/recordings",
            "/api/v1/companies/{company}/recordings/{id}",
            "/api/v1/companies/{company}/recordings/{id}/audio",
            "/api/v1/companies/{company}/recordings/delete",
            "/api/v1/companies/{company}/recordings/usage",
        ] {
            assert!(document.paths.paths.contains_key(path), "{path}");
        }
        let schemas = document.components.map(|c| c.schemas).unwrap_or_default();
        for schema in ["Recording", "RecordingSettings", "RecordingMode", "BulkDeleteResult"] {
            assert!(schemas.contains_key(schema), "{schema}");
        }
    }
}
