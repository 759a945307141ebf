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
            Error::Io { path, source } => {
                tracing::error!(target: TARGET, path = %path.display(), error = %source, "Repo IO error");
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

/// A request's query, as Kubo reads it: `arg` may repeat (commands that take several
/// arguments get them all), options take their first value, and nothing about the query can
/// make extraction fail (errors come from the handler, with Kubo's JSON body).
#[derive(Debug, Default)]
pub(super) struct Args(Vec<(String, String)>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Args {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> std::result::Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or_default();
        Ok(Args(form_urlencoded::parse(q.as_bytes()).into_owned().collect()))
    }
}

impl Args {
    /// The first value of option `name`.
    pub(super) fn opt(&self, name: &str) -> Option<String> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    /// Every `arg`; at least one (else Kubo's 400 naming the argument).
    pub(super) fn args(&self, name: &str) -> ApiResult<Vec<String>> {
        let all: Vec<String> =
            self.0.iter().filter(|(k, _)| k == "arg").map(|(_, v)| v.clone()).collect();
        if all.is_empty() {
            return Err(ApiError::bad_request(format!("argument \"{name}\" is required")));
        }
        Ok(all)
    }

    /// Exactly one `arg`.
    pub(super) fn one_arg(&self, name: &str) -> ApiResult<String> {
        let mut all = self.args(name)?;
        if all.len() > 1 {
            return Err(ApiError::bad_request(format!(
                "expected 1 argument \"{name}\", got {}",
                all.len()
            )));
        }
        Ok(all.remove(0))
    }
}
