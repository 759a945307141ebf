//! The toy byte-level GPT's package (`config.json` + `model.safetensors`) served like any
//! model: completions (bytes as tokens), no chat template.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use iollm_compute::model::{init_params, Layout};
use iollm_compute::{GptConfig, Model, Runtime};
use std::sync::Arc;
use tower::ServiceExt;

#[tokio::test]
async fn a_toy_gpt_package_serves_completions_and_refuses_chat() {
    let dir = tempfile::tempdir().unwrap();
    let config = GptConfig { n_layer: 1, n_head: 2, n_embd: 16, n_ctx: 32 };
    let params = init_params(&Layout::new(&config), 7);
    Model::new(config, params, &Runtime::new(1)).unwrap().save(dir.path()).unwrap();
    let options = iollm_serve::Options { name: Some("toy".into()), threads: 1, max_batch: 4 };
    let served = Arc::new(iollm_serve::load(dir.path(), &options).unwrap());
    let ask = |path: &str, body: serde_json::Value| {
        let app = iollm_serve::api::router(served.clone());
        let req = Request::post(path)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        async move {
            let res = app.oneshot(req).await.unwrap();
            let status = res.status();
            let bytes = res.into_body().collect().await.unwrap().to_bytes();
            (status, serde_json::from_slice::<serde_json::Value>(&bytes).unwrap())
        }
    };
    let body =
        serde_json::json!({"model": "toy", "prompt": "1+1=", "max_tokens": 40, "temperature": 0});
    let (status, v) = ask("/v1/completions", body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    // The window slides past the 32-byte context: 40 bytes come out.
    assert_eq!(
        v["usage"],
        serde_json::json!({"prompt_tokens": 4, "completion_tokens": 40, "total_tokens": 44})
    );
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    let (_, again) = ask("/v1/completions", body).await;
    assert_eq!(again["choices"][0]["text"], v["choices"][0]["text"], "greedy is deterministic");
    let chat = serde_json::json!({"model": "toy", "messages": [{"role": "user", "content": "hi"}]});
    let (status, v) = ask("/v1/chat/completions", chat).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["error"]["message"].as_str().unwrap().contains("no chat template"), "{v}");
}
