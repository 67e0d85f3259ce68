//! Body and query extractors whose rejections say which field was wrong, in our error
//! shape (with the status axum chose: 400, 413, 415 or 422).

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// Like `axum::Json`, with errors such as `missing field `email`` or `invalid type:
/// string "x", expected u32` in a `{"error": ...}` body.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(rejected(rejection.status(), rejection.body_text())),
        }
    }
}

/// Like `axum::extract::Query`, with errors in our shape.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Params(value)),
            Err(rejection) => Err(rejected(rejection.status(), rejection.body_text())),
        }
    }
}

fn rejected(status: StatusCode, text: String) -> ApiError {
    let field = field_in(&text);
    ApiError { status, message: text, field }
}

/// The field a serde message names: "missing field `email`", or the path before ": "
/// in "users[0].email: invalid type ...".
fn field_in(message: &str) -> Option<String> {
    if let Some((_, detail)) = message.split_once("target type: ")
        && let Some((path, _)) = detail.split_once(": ")
        && !path.contains(' ')
    {
        return Some(path.to_string());
    }
    let start = message.find("field `")? + "field `".len();
    let end = message[start..].find('`')?;
    Some(message[start..start + end].to_string())
}
