//! Call detail records (SPEC.md §9): a company's CDRs filtered by direction, status, date
//! range and number, newest first, as pages of JSON or as one CSV document.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ApiState;
use super::auth::Access;
use super::error::{ApiError, ApiResult};
use super::extract::Params;
use crate::cdr::{self, CdrFilter, FilterError, FilterValues};
use crate::routing::call::parse_time_zone;
use crate::store::records::{Cdr, Company};
use crate::store::{Store, StoreError};

/// CDRs in a page when the client does not say, and the most it may ask for.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

/// Which CDRs to show. Every parameter is optional; an empty one is ignored. Values are
/// taken as text and checked here, so that a bad one is answered with a 422 naming it.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CdrFilterQuery {
    /// `inbound`, `outbound` or `internal`.
    pub direction: Option<String>,
    /// `answered`, `no_answer`, `busy`, `cancelled`, `failed`, `refused`, or `unanswered`
    /// (every status but answered).
    pub status: Option<String>,
    /// Calls that ended at or after this: an RFC 3339 instant, or a date YYYY-MM-DD = the
    /// start of that day in the company's time zone.
    pub from: Option<String>,
    /// Calls that ended at or before this: an RFC 3339 instant, or a date YYYY-MM-DD = the
    /// end of that day in the company's time zone.
    pub to: Option<String>,
    /// Digits the caller's or the called number contains (other characters are ignored).
    pub number: Option<String>,
}

/// Which page of the listing to answer.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Most CDRs to answer, 1-1000 (default 100).
    pub limit: Option<String>,
    /// Matching CDRs to skip first (default 0).
    pub offset: Option<String>,
}

/// A page of CDRs.
#[derive(Debug, Serialize, ToSchema)]
pub struct CdrPage {
    /// How many CDRs match the filters, over every page.
    pub total: usize,
    /// This page's CDRs, newest (latest ended) first.
    pub items: Vec<Cdr>,
}

/// A company's CDRs that match the filters, newest first, one page at a time.
#[utoipa::path(get, path = "/api/v1/companies/{company}/cdrs", tag = "cdrs",
    params(("company" = String, Path, description = "The company's id"), CdrFilterQuery, PageQuery),
    responses((status = 200, body = CdrPage), (status = 422, body = super::error::ErrorBody)))]
pub async fn list(
    State(s): State<ApiState>,
    access: Access,
    Path(company): Path<String>,
    Params(filter): Params<CdrFilterQuery>,
    Params(page): Params<PageQuery>,
) -> ApiResult<Json<CdrPage>> {
    access.require_company(&company)?;
    let company = super::company(&s, &company)?;
    let zone = company_zone(&company);
    Ok(Json(page_of(s.app.store.clone(), company.id, zone, &filter, &page).await?))
}

/// A company's CDRs that match the filters, every one of them, as CSV (RFC 4180): a
/// header row, then one row per call, newest first; dates are in the company's time zone.
#[utoipa::path(get, path = "/api/v1/companies/{company}/cdrs.csv", tag = "cdrs",
    params(("company" = String, Path, description = "The company's id"), CdrFilterQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 422, body = super::error::ErrorBody)))]
pub async fn export_csv(
    State(s): State<ApiState>,
    access: Access,
    Path(company): Path<String>,
    Params(filter): Params<CdrFilterQuery>,
) -> ApiResult<Response> {
    access.require_company(&company)?;
    let company = super::company(&s, &company)?;
    let zone = company_zone(&company);
    let body = csv_of(s.app.store.clone(), company.id.clone(), zone, &filter).await?;
    Ok(csv_response(&company.id, body))
}

/// The page of `company`'s CDRs that `filter` and `page` ask for; dates are days in `zone`.
async fn page_of(
    store: Store,
    company: String,
    zone: Tz,
    filter: &CdrFilterQuery,
    page: &PageQuery,
) -> ApiResult<CdrPage> {
    let filter = parse_filter(filter, zone)?;
    let (limit, offset) = parse_page(page)?;
    let matching = off_the_workers(move || cdr::find(&store, &company, &filter)).await?;
    let total = matching.len();
    let items = matching.into_iter().skip(offset).take(limit).collect();
    Ok(CdrPage { total, items })
}

/// Every CDR of `company` that `filter` asks for, as CSV; dates are in `zone`.
async fn csv_of(store: Store, company: String, zone: Tz, filter: &CdrFilterQuery) -> ApiResult<String> {
    let filter = parse_filter(filter, zone)?;
    off_the_workers(move || {
        let cdrs = cdr::find(&store, &company, &filter)?;
        Ok(cdr::csv::to_csv(&cdrs, zone))
    })
    .await
}

/// The CSV document `body` of `company`'s CDRs as a download.
fn csv_response(company: &str, body: String) -> Response {
    // Company ids are slugs: safe inside the quoted file name.
    let disposition = format!("attachment; filename=\"cdrs-{company}.csv\"");
    let headers = [
        (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
        (header::CONTENT_DISPOSITION, disposition),
    ];
    (headers, body).into_response()
}

/// Run a scan of a company's CDRs on the blocking pool: it reads and decodes every record
/// of the company and must not hold up an async worker meanwhile.
async fn off_the_workers<T: Send + 'static>(
    scan: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(scan)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("reading CDRs failed: {e}")))?
        .map_err(ApiError::from)
}

/// The company's time zone; UTC if the stored name is unknown (the API refuses unknown
/// names, so only a damaged record gets here).
fn company_zone(company: &Company) -> Tz {
    parse_time_zone(&company.time_zone).unwrap_or_else(|error| {
        tracing::warn!(company = %company.id, %error, "CDR dates shown in UTC");
        chrono_tz::UTC
    })
}

fn parse_filter(query: &CdrFilterQuery, zone: Tz) -> ApiResult<CdrFilter> {
    let values = FilterValues {
        direction: query.direction.as_deref(),
        status: query.status.as_deref(),
        from: query.from.as_deref(),
        to: query.to.as_deref(),
        number: query.number.as_deref(),
    };
    CdrFilter::parse(&values, zone)
        .map_err(|FilterError { parameter, reason }| ApiError::field(parameter, reason))
}

/// A parameter's value, if it has one that is not blank.
fn given(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// The page's `(limit, offset)`.
fn parse_page(query: &PageQuery) -> ApiResult<(usize, usize)> {
    let limit = match given(query.limit.as_deref()) {
        None => DEFAULT_LIMIT,
        Some(text) => match text.parse::<usize>() {
            Ok(limit @ 1..=MAX_LIMIT) => limit,
            _ => {
                return Err(ApiError::field(
                    "limit",
                    format!("{text:?} is not a number from 1 to {MAX_LIMIT}"),
                ));
            }
        },
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
    use chrono::TimeDelta;

    use super::*;
    use crate::api::auth::Caller;
    use crate::cdr::tests::sample;
    use crate::routing::call::Direction;
    use crate::store::records::CallStatus;

    /// The CDRs of "acme", whose time zone is `zone`: a store holding `cdrs`, the
    /// company's id and its zone, as the handlers pass them on.
    fn acme(zone: &str, cdrs: &[Cdr]) -> (Store, String, Tz) {
        let store = Store::in_memory().unwrap();
        cdr::write_all(&store, cdrs).unwrap();
        (store, "acme".to_string(), parse_time_zone(zone).unwrap())
    }

    /// `count` CDRs of acme ending a minute apart from 2026-03-01 10:00 UTC, oldest first,
    /// with Call-IDs "call-0", "call-1", ...
    fn minutes_apart(count: i64) -> Vec<Cdr> {
        (0..count)
            .map(|minute| {
                let mut cdr = sample("acme", "2026-03-01T10:00:00Z");
                cdr.ended_at += TimeDelta::minutes(minute);
                cdr.started_at += TimeDelta::minutes(minute);
                cdr.call_id = format!("call-{minute}");
                cdr.id = cdr::new_id(&cdr.call_id);
                cdr
            })
            .collect()
    }

    fn page(limit: &str, offset: &str) -> PageQuery {
        PageQuery { limit: Some(limit.to_string()), offset: Some(offset.to_string()) }
    }

    fn call_ids(page: &CdrPage) -> Vec<&str> {
        page.items.iter().map(|c| c.call_id.as_str()).collect()
    }

    #[tokio::test]
    async fn the_listing_pages_newest_first_with_the_total() {
        let (store, acme, zone) = acme("UTC", &minutes_apart(5));
        let listed =
            page_of(store.clone(), acme.clone(), zone, &Default::default(), &page("2", "1")).await.unwrap();
        assert_eq!(listed.total, 5);
        assert_eq!(call_ids(&listed), ["call-3", "call-2"]);
        let past_the_end = page_of(store, acme, zone, &Default::default(), &page("10", "5")).await.unwrap();
        assert_eq!((past_the_end.total, past_the_end.items.len()), (5, 0));
    }

    #[tokio::test]
    async fn a_page_holds_100_by_default_and_at_most_1000() {
        let (store, acme, zone) = acme("UTC", &minutes_apart(150));
        let default = page_of(store.clone(), acme.clone(), zone, &Default::default(), &Default::default())
            .await
            .unwrap();
        assert_eq!((default.total, default.items.len()), (150, 100));
        let most = page_of(store.clone(), acme.clone(), zone, &Default::default(), &page("1000", "0"))
            .await
            .unwrap();
        assert_eq!(most.items.len(), 150);
        for (limit, offset, parameter) in [
            ("1001", "0", "limit"),
            ("0", "0", "limit"),
            ("ten", "0", "limit"),
            ("10", "-1", "offset"),
            ("10", "x", "offset"),
        ] {
            let error = page_of(store.clone(), acme.clone(), zone, &Default::default(), &page(limit, offset))
                .await
                .unwrap_err();
            assert_eq!(error.status, StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(error.field.as_deref(), Some(parameter), "{limit} {offset}");
        }
    }

    #[tokio::test]
    async fn filters_apply_to_the_listing_and_combine() {
        let mut cdrs = minutes_apart(4);
        cdrs[0].direction = Direction::Outbound;
        cdrs[1].status = CallStatus::Busy;
        cdrs[2].status = CallStatus::Refused;
        cdrs[2].caller = "+44161000000".to_string();
        let (store, acme, zone) = acme("UTC", &cdrs);
        let query = |direction: &str, status: &str, number: &str| CdrFilterQuery {
            direction: Some(direction.to_string()),
            status: Some(status.to_string()),
            number: Some(number.to_string()),
            ..Default::default()
        };
        let table = [
            (query("outbound", "", ""), vec!["call-0"]),
            (query("inbound", "", ""), vec!["call-3", "call-2", "call-1"]),
            (query("", "unanswered", ""), vec!["call-2", "call-1"]),
            (query("", "busy", ""), vec!["call-1"]),
            (query("", "", "44 161"), vec!["call-2"]),
            (query("inbound", "unanswered", "600111"), vec!["call-1"]),
            (query("outbound", "answered", "910000000"), vec!["call-0"]),
            (query("internal", "", ""), vec![]),
        ];
        for (filter, expected) in table {
            let listed =
                page_of(store.clone(), acme.clone(), zone, &filter, &Default::default()).await.unwrap();
            assert_eq!(listed.total, expected.len(), "{filter:?}");
            assert_eq!(call_ids(&listed), expected, "{filter:?}");
        }
    }

    #[tokio::test]
    async fn date_only_bounds_are_days_in_the_company_zone() {
        // 15:30 UTC on 1 March is 00:30 on 2 March in Tokyo (UTC+9).
        let late = sample("acme", "2026-03-01T15:30:00Z");
        let early = sample("acme", "2026-03-01T14:59:59Z");
        let (store, acme, zone) = acme("Asia/Tokyo", &[late.clone(), early.clone()]);
        let day = |date: &str| CdrFilterQuery {
            from: Some(date.to_string()),
            to: Some(date.to_string()),
            ..Default::default()
        };
        let second = page_of(store.clone(), acme.clone(), zone, &day("2026-03-02"), &Default::default())
            .await
            .unwrap();
        assert_eq!(second.items, [late]);
        let first = page_of(store, acme, zone, &day("2026-03-01"), &Default::default()).await.unwrap();
        assert_eq!(first.items, [early]);
    }

    #[tokio::test]
    async fn bad_filter_values_are_422_naming_the_parameter() {
        let (store, acme, zone) = acme("UTC", &minutes_apart(1));
        let cases = [
            (CdrFilterQuery { direction: Some("up".into()), ..Default::default() }, "direction"),
            (CdrFilterQuery { status: Some("missed".into()), ..Default::default() }, "status"),
            (CdrFilterQuery { from: Some("01/03/2026".into()), ..Default::default() }, "from"),
            (CdrFilterQuery { to: Some("2026-03-01T10:00".into()), ..Default::default() }, "to"),
            (CdrFilterQuery { number: Some("john".into()), ..Default::default() }, "number"),
        ];
        for (filter, parameter) in cases {
            let error =
                page_of(store.clone(), acme.clone(), zone, &filter, &Default::default()).await.unwrap_err();
            assert_eq!(error.status, StatusCode::UNPROCESSABLE_ENTITY, "{filter:?}");
            assert_eq!(error.field.as_deref(), Some(parameter), "{filter:?}");
            assert!(error.message.starts_with(parameter), "{}", error.message);
            let csv = csv_of(store.clone(), acme.clone(), zone, &filter).await.unwrap_err();
            assert_eq!(csv.field.as_deref(), Some(parameter), "{filter:?}");
        }
    }

    #[tokio::test]
    async fn only_the_company_s_own_cdrs_are_listed() {
        let mut cdrs = minutes_apart(2);
        cdrs.push(sample("globex", "2026-03-01T10:00:00Z"));
        cdrs.push(sample("acme-2", "2026-03-01T10:00:00Z"));
        let (store, acme, zone) = acme("UTC", &cdrs);
        let listed = page_of(store, acme, zone, &Default::default(), &Default::default()).await.unwrap();
        assert_eq!(listed.total, 2);
        assert!(listed.items.iter().all(|c| c.company == "acme"));
    }

    #[test]
    fn another_company_s_key_is_refused() {
        // What both handlers check first.
        let key = Access {
            caller: Caller::Company { company: "globex".to_string(), key_id: "k1".to_string() },
            client_ip: None,
        };
        assert_eq!(key.require_company("acme").unwrap_err().status, StatusCode::FORBIDDEN);
        assert!(key.require_company("globex").is_ok());
    }

    #[tokio::test]
    async fn the_csv_export_has_a_header_every_matching_row_and_company_dates() {
        let mut cdrs = minutes_apart(1200);
        let newest = &mut cdrs[1199];
        newest.hangup_cause = "486 Busy Here, \"really\"".to_string();
        newest.destination = Some("=HYPERLINK(\"http://evil\")".to_string());
        newest.status = CallStatus::Busy;
        newest.ring_ms = 2_600;
        newest.talk_s = 0;
        let (store, acme, zone) = acme("Europe/Madrid", &cdrs);
        let body = csv_of(store, acme, zone, &Default::default()).await.unwrap();
        let lines: Vec<&str> = body.split_terminator("\r\n").collect();
        assert_eq!(lines.len(), 1201, "a header and every row, no page limit");
        assert_eq!(
            lines[0],
            "date,direction,caller,called,destination,status,ring seconds,talk seconds,hangup cause,call id"
        );
        // The oldest call started at 09:58:50 UTC, 10:58:50 in Madrid (UTC+1); the newest
        // 1199 minutes later.
        assert_eq!(
            lines[1],
            "2026-03-02T06:57:50+01:00,inbound,+34600111222,+34910000000,\"'=HYPERLINK(\"\"http://evil\"\")\",busy,3,0,\"486 Busy Here, \"\"really\"\"\",call-1199"
        );
        assert_eq!(
            lines[1200],
            "2026-03-01T10:58:50+01:00,inbound,+34600111222,+34910000000,extension 101,answered,10,60,caller hung up,call-0"
        );
    }

    #[tokio::test]
    async fn the_csv_export_applies_the_filters() {
        let mut cdrs = minutes_apart(3);
        cdrs[1].status = CallStatus::NoAnswer;
        let (store, acme, zone) = acme("UTC", &cdrs);
        let filter = CdrFilterQuery { status: Some("unanswered".into()), ..Default::default() };
        let body = csv_of(store, acme, zone, &filter).await.unwrap();
        let lines: Vec<&str> = body.split_terminator("\r\n").collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[1].ends_with(",no_answer,10,60,caller hung up,call-1"), "{}", lines[1]);
    }

    #[tokio::test]
    async fn the_csv_is_answered_as_a_text_csv_download() {
        let response = csv_response("acme", "date\r\n".to_string());
        assert_eq!(response.headers()[header::CONTENT_TYPE], "text/csv; charset=utf-8");
        assert_eq!(response.headers()[header::CONTENT_DISPOSITION], "attachment; filename=\"cdrs-acme.csv\"");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        assert_eq!(&body[..], b"date\r\n");
    }

    #[test]
    fn both_routes_are_in_the_openapi_document() {
        let document = crate::api::openapi();
        for path in ["/api/v1/companies/{company}/cdrs", "/api/v1/companies/{company}/cdrs.csv"] {
            assert!(document.paths.paths.contains_key(path), "{path}");
        }
        let schemas = document.components.map(|c| c.schemas).unwrap_or_default();
        assert!(schemas.contains_key("Cdr") && schemas.contains_key("CallStatus"));
    }
}
