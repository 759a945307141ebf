//! Kubo's error responses and the small request helpers every handler shares.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use cid::Cid;
use serde_json::json;

use super::TARGET;
use crate::error::{Error, Result};
use crate::options::parse_cid;

/// Kubo's error response.
#[derive(Debug)]
pub(super) struct ApiError {
    pub(super) status: StatusCode,
    pub(super) code: u8,
    pub(super) message: String,
}

impl ApiError {
    pub(super) fn bad_request(message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, code: 1, message: message.into() }
    }
    pub(super) fn forbidden() -> Self {
        Self { status: StatusCode::FORBIDDEN, code: 0, message: "403 - Forbidden".into() }
    }
    pub(super) fn failed(message: impl Into<String>) -> Self {
        Self { status: StatusCode::INTERNAL_SERVER_ERROR, code: 0, message: message.into() }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let message = match &e {
            Error::BlockNotFound(c) => {
                format!("block was not found locally (offline): ipld: could not find {c}")
            }
            Error::Api(m) => m.clone(),
            Error::Io { .. } => {
                tracing::error!(target: TARGET, error = %e, "Repo IO error");
                "repo IO error".into()
            }
            other => other.to_string(),
        };
        Self::failed(message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"Message": self.message, "Code": self.code, "Type": "error"});
        (self.status, Json(body)).into_response()
    }
}

pub(super) type ApiResult<T> = std::result::Result<T, ApiError>;

pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::failed(e.to_string()))?
        .map_err(Into::into)
}

pub(super) fn flag(v: &Option<String>, name: &str) -> ApiResult<Option<bool>> {
    match v.as_deref() {
        None => Ok(None),
        Some("" | "true" | "1") => Ok(Some(true)),
        Some("false" | "0") => Ok(Some(false)),
        Some(o) => Err(ApiError::bad_request(format!(
            "could not convert value '{o}' to type 'bool' (for option '-{name}')"
        ))),
    }
}

/// Parses `arg` as `/ipfs/CID[/path]` or `CID[/path]`; failures are Kubo's "invalid path".
pub(super) fn parse_path(arg: &str) -> ApiResult<(Cid, String)> {
    let s = arg.strip_prefix("/ipfs/").unwrap_or(arg);
    let (c, rest) = s.split_once('/').unwrap_or((s, ""));
    let cid = parse_cid(c).map_err(|e| ApiError::failed(format!("invalid path {arg:?}: {e}")))?;
    Ok((cid, rest.to_owned()))
}

pub(super) fn required(arg: &Option<String>, name: &str) -> ApiResult<String> {
    arg.clone().ok_or_else(|| ApiError::bad_request(format!("argument \"{name}\" is required")))
}
