//! Shared helpers: the real model, a router over it, requests in-process.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use iollm_serve::api::router;
use iollm_serve::Options;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use tower::ServiceExt;

/// The model file scripts/setup.sh fetches.
pub fn smollm2() -> PathBuf {
    let home = std::env::var_os("IOLLM_HOME").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".local/share/iollm")
    });
    let path = home.join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(path.is_file(), "{} is missing: run scripts/setup.sh", path.display());
    path
}

/// The model's name in the API.
pub const NAME: &str = "smollm2";

/// One server over the real model for the whole test binary.
pub fn served() -> &'static Arc<iollm_serve::api::Served> {
    static SERVED: OnceLock<Arc<iollm_serve::api::Served>> = OnceLock::new();
    SERVED.get_or_init(|| {
        let options =
            Options { name: Some(NAME.into()), threads: 2, max_batch: 8, ..Default::default() };
        Arc::new(iollm_serve::load(&smollm2(), &options).expect("the model loads"))
    })
}

/// Sends `body` (JSON text) to `path` and returns the status and body.
pub async fn post(path: &str, body: &str) -> (StatusCode, String) {
    let req = Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    send(req).await
}

/// GETs `path`.
pub async fn get(path: &str) -> (StatusCode, String) {
    send(Request::get(path).body(Body::empty()).unwrap()).await
}

/// Sends a request as built.
pub async fn send(req: Request<Body>) -> (StatusCode, String) {
    let res = router(served().clone()).oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

/// The JSON of a body.
pub fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// The `data:` payloads of a server-sent event stream.
pub fn events(body: &str) -> Vec<String> {
    body.lines().filter_map(|l| l.strip_prefix("data: ")).map(str::to_owned).collect()
}
