//! The toy byte-level GPT's package (`config.json` + `model.safetensors`) served like any
//! model: completions (bytes as tokens), no chat template.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use iollm_compute::model::{init_params, Layout};
use iollm_compute::{GptConfig, Model, Runtime};
use std::sync::Arc;
use tower::ServiceExt;

/// A server named `toy` over a freshly initialised toy GPT of shape `config`, with `options`
/// (its name set).
fn toy(config: GptConfig, options: iollm_serve::Options) -> Arc<iollm_serve::api::Served> {
    let dir = tempfile::tempdir().unwrap();
    let params = init_params(&Layout::new(&config), 7);
    Model::new(config, params, &Runtime::new(1)).unwrap().save(dir.path()).unwrap();
    let options = iollm_serve::Options { name: Some("toy".into()), ..options };
    Arc::new(iollm_serve::load(dir.path(), &options).unwrap())
}

#[tokio::test]
async fn a_toy_gpt_package_serves_completions_and_refuses_chat() {
    let config = GptConfig { n_layer: 1, n_head: 2, n_embd: 16, n_ctx: 32 };
    let served = toy(config, iollm_serve::Options { max_batch: 4, ..Default::default() });
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

#[tokio::test]
async fn a_full_queue_refuses_with_503_and_the_server_recovers() {
    // Big enough that a long reply takes minutes: it is still running while the others arrive.
    let config = GptConfig { n_layer: 2, n_head: 2, n_embd: 128, n_ctx: 128 };
    let options = iollm_serve::Options { max_batch: 1, max_queue: 1, ..Default::default() };
    let served = toy(config, options);
    let send = |max_tokens: u32, stream: bool| {
        let app = iollm_serve::api::router(served.clone());
        let body = serde_json::json!({
            "model": "toy", "prompt": "1+1=", "max_tokens": max_tokens, "stream": stream,
        });
        let req = Request::post("/v1/completions")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        async move { app.oneshot(req).await.unwrap() }
    };
    // The one batch place: taken once its first text arrives.
    let running = send(16_000, true).await;
    assert_eq!(running.status(), StatusCode::OK);
    let mut running = running.into_body();
    running.frame().await.unwrap().unwrap();
    // The one queue place.
    let waiting = send(16_000, true).await;
    assert_eq!(waiting.status(), StatusCode::OK);
    // No place left: refused at once, in OpenAI's shape, nothing buffered.
    let refused = send(1, false).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    let bytes = refused.into_body().collect().await.unwrap().to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert!(v["error"]["message"].as_str().unwrap().contains("busy"), "{v}");
    // The clients go away: their places free at the engine's next step, and a request is
    // answered again (clients retry a 503, as the openai package does).
    drop((running, waiting));
    let mut res = send(3, false).await;
    for _ in 0..200 {
        if res.status() != StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        res = send(3, false).await;
    }
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["usage"]["completion_tokens"], 3, "{v}");
}
