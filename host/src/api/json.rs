//! A JSON body extractor whose rejections say which field was wrong, in our error shape.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
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
            Err(rejection) => {
                let status = match &rejection {
                    JsonRejection::JsonDataError(_) => StatusCode::UNPROCESSABLE_ENTITY,
                    JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    _ => StatusCode::BAD_REQUEST,
                };
                let text = rejection.body_text();
                let mut error = ApiError::new(status, text.clone());
                error.field = field_in(&text);
                Err(error)
            }
        }
    }
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
