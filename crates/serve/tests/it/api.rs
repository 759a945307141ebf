//! The HTTP API in-process, over the real model: replies, streams, stop sequences,
//! seeds, continuous batching, and every kind of bad request.

use crate::common::{events, get, json, post, send, served, NAME};
use axum::body::Body;
use axum::http::Request;
use axum::http::StatusCode;
use serde_json::json;

fn completion(prompt: &str, extra: serde_json::Value) -> String {
    let mut body = json!({"model": NAME, "prompt": prompt, "temperature": 0, "max_tokens": 12});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body.to_string()
}

#[tokio::test]
async fn a_chat_reply_streamed_is_the_reply_given_whole() {
    let body = json!({
        "model": NAME, "temperature": 0, "max_tokens": 24,
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
    });
    let (status, whole) = post("/v1/chat/completions", &body.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{whole}");
    let whole = json(&whole);
    let content = whole["choices"][0]["message"]["content"].as_str().unwrap().to_owned();
    assert!(content.contains("Paris"), "{content}");
    assert_eq!(whole["object"], "chat.completion");
    assert_eq!(whole["choices"][0]["message"]["role"], "assistant");
    assert_eq!(whole["system_fingerprint"], iollm_compute::PROFILE);
    let usage = &whole["usage"];
    assert_eq!(
        usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap(),
        usage["total_tokens"].as_u64().unwrap()
    );

    let mut stream = body.clone();
    stream["stream"] = json!(true);
    stream["stream_options"] = json!({"include_usage": true});
    let (status, text) = post("/v1/chat/completions", &stream.to_string()).await;
    assert_eq!(status, StatusCode::OK);
    let data = events(&text);
    assert_eq!(data.last().unwrap(), "[DONE]");
    let chunks: Vec<serde_json::Value> = data[..data.len() - 1].iter().map(|d| json(d)).collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let streamed: String =
        chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(streamed, content);
    let finish = chunks.iter().find_map(|c| c["choices"][0]["finish_reason"].as_str()).unwrap();
    assert_eq!(finish, whole["choices"][0]["finish_reason"]);
    assert_eq!(chunks.last().unwrap()["usage"], whole["usage"]);
    assert!(chunks
        .iter()
        .all(|c| c["object"] == "chat.completion.chunk" && c["id"] == chunks[0]["id"]));
}

#[tokio::test]
async fn a_stop_sequence_ends_the_reply_before_it_and_max_tokens_bounds_it() {
    let (_, body) =
        post("/v1/completions", &completion("The capital of France is", json!({"stop": "."})))
            .await;
    let v = json(&body);
    assert_eq!(v["choices"][0]["text"], " Paris");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    let (_, body) =
        post("/v1/completions", &completion("The capital of France is", json!({"max_tokens": 3})))
            .await;
    let v = json(&body);
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(v["usage"]["completion_tokens"], 3);
    // A stop sequence across tokens, streamed: nothing of it is sent.
    let (_, body) = post(
        "/v1/completions",
        &completion("The capital of France is", json!({"stop": ["s."], "stream": true})),
    )
    .await;
    let text: String = events(&body)
        .iter()
        .filter(|d| *d != "[DONE]")
        .filter_map(|d| json(d)["choices"][0]["text"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(text, " Pari");
}

#[tokio::test]
async fn a_seed_gives_the_same_sample_and_concurrent_requests_get_what_each_gets_alone() {
    let prompts = [
        "Once upon a time",
        "def fibonacci(n):",
        "The best thing about",
        "12345 + 678 =",
        "Hello",
        "In 1905, Einstein",
        "Rust is",
        "A list of fruits:",
    ];
    let body = |p: &str, seed: u64| {
        completion(p, json!({"temperature": 0.9, "top_p": 0.95, "seed": seed, "max_tokens": 10}))
    };
    let mut alone = Vec::new();
    for (i, p) in prompts.iter().enumerate() {
        alone.push(
            json(&post("/v1/completions", &body(p, i as u64)).await.1)["choices"][0]["text"]
                .clone(),
        );
    }
    let (_, again) = post("/v1/completions", &body(prompts[0], 0)).await;
    assert_eq!(json(&again)["choices"][0]["text"], alone[0], "same seed, same sample");
    let (_, other) = post("/v1/completions", &body(prompts[0], 99)).await;
    assert_ne!(json(&other)["choices"][0]["text"], alone[0], "another seed");

    let batched_before = batched_steps().await;
    let together = futures_util::future::join_all(prompts.iter().enumerate().map(|(i, p)| {
        let b = body(p, i as u64);
        async move { json(&post("/v1/completions", &b).await.1)["choices"][0]["text"].clone() }
    }))
    .await;
    assert_eq!(together, alone);
    assert!(batched_steps().await > batched_before, "the requests were decoded together");
}

async fn batched_steps() -> u64 {
    let (_, metrics) = get("/metrics").await;
    let line = metrics.lines().find(|l| l.starts_with("iollm_serve_batched_steps_total")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn bad_requests_get_openai_errors_and_the_server_keeps_serving() {
    let long = "word ".repeat(9000);
    let cases: Vec<(&str, String, StatusCode, &str)> = vec![
        ("/v1/completions", "{bad json".into(), StatusCode::BAD_REQUEST, "invalid request body"),
        (
            "/v1/completions",
            json!({"model": NAME}).to_string(),
            StatusCode::BAD_REQUEST,
            "missing field `prompt`",
        ),
        (
            "/v1/completions",
            completion("hi", json!({"model": "gpt-4"})),
            StatusCode::NOT_FOUND,
            "`gpt-4` does not exist",
        ),
        (
            "/v1/completions",
            completion("hi", json!({"max_tokens": 0})),
            StatusCode::BAD_REQUEST,
            "must be at least 1",
        ),
        (
            "/v1/completions",
            completion("hi", json!({"max_tokens": 10_000})),
            StatusCode::BAD_REQUEST,
            "context of 8192",
        ),
        (
            "/v1/completions",
            completion("hi", json!({"max_tokens": 1_000_000})),
            StatusCode::BAD_REQUEST,
            "at most 16384 tokens per reply",
        ),
        (
            "/v1/completions",
            completion(&"x".repeat(3 << 20), json!({})),
            StatusCode::PAYLOAD_TOO_LARGE,
            "send a smaller request",
        ),
        (
            "/v1/completions",
            completion(&long, json!({})),
            StatusCode::BAD_REQUEST,
            "this model's context is 8192",
        ),
        (
            "/v1/completions",
            completion("", json!({})),
            StatusCode::BAD_REQUEST,
            "the prompt is empty",
        ),
        (
            "/v1/completions",
            completion("hi", json!({"n": 2})),
            StatusCode::BAD_REQUEST,
            "n must be 1",
        ),
        (
            "/v1/completions",
            completion("hi", json!({"temperature": 5})),
            StatusCode::BAD_REQUEST,
            "temperature is 5",
        ),
        (
            "/v1/completions",
            completion("hi", json!({"top_p": 0})),
            StatusCode::BAD_REQUEST,
            "top_p 0",
        ),
        (
            "/v1/completions",
            completion("hi", json!({"stop": ["a", "b", "c", "d", "e"]})),
            StatusCode::BAD_REQUEST,
            "stop takes",
        ),
        (
            "/v1/completions",
            completion("hi", json!({"stop": [""]})),
            StatusCode::BAD_REQUEST,
            "stop takes",
        ),
        (
            "/v1/chat/completions",
            json!({"model": NAME, "messages": []}).to_string(),
            StatusCode::BAD_REQUEST,
            "messages must not be empty",
        ),
        (
            "/v1/chat/completions",
            json!({"model": NAME, "messages": "hi"}).to_string(),
            StatusCode::BAD_REQUEST,
            "invalid request body",
        ),
        ("/v1/nothing", "{}".into(), StatusCode::NOT_FOUND, "no such endpoint"),
    ];
    for (path, body, status, says) in cases {
        let (got, text) = post(path, &body).await;
        assert_eq!(got, status, "{path} {body:.80}: {text}");
        let v = json(&text);
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{message:?} should say {says:?}");
        assert!(v["error"]["type"].is_string(), "{text}");
    }
    let (status, body) =
        post("/v1/completions", &completion("The capital of France is", json!({"max_tokens": 2})))
            .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, health) = get("/health").await;
    assert_eq!((status, json(&health)["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (_, models) = get("/v1/models").await;
    assert_eq!(json(&models)["data"][0]["id"], NAME);
    assert!(served().metrics.render().contains("iollm_serve_rejected_total"));
}

#[tokio::test]
async fn a_web_page_cannot_drive_the_server() {
    // DNS rebinding: the page's own host name reaches 127.0.0.1.
    let body = completion("hi", json!({"max_tokens": 1}));
    let req = |host: &str, kind: &str| {
        Request::post("/v1/completions")
            .header("host", host)
            .header("content-type", kind)
            .body(Body::from(body.clone()))
            .unwrap()
    };
    let (status, text) = send(req("evil.example:8080", "application/json")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
    assert!(json(&text)["error"]["message"].as_str().unwrap().contains("loopback hosts"));
    // A cross-site form or text/plain POST, which a browser sends without asking.
    let (status, text) = send(req("127.0.0.1:8080", "text/plain")).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{text}");
    for host in ["127.0.0.1:8080", "localhost:8080", "[::1]:8080", "localhost"] {
        let (status, text) = send(req(host, "application/json")).await;
        assert_eq!(status, StatusCode::OK, "{host}: {text}");
    }
}
