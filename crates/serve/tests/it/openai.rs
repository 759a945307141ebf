//! The official `openai` Python client against the server on a real socket: chat and
//! completion, streaming and not, a stop sequence, a bad request and an unknown model, as the
//! client parses them. Needs its venv: run scripts/openai-oracle.sh.

use crate::common::{smollm2, NAME};
use iollm_serve::Options;
use std::path::PathBuf;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the openai Python package in its venv; run scripts/openai-oracle.sh"]
async fn the_openai_python_client_speaks_to_the_server() {
    let python = std::env::var_os("IOLLM_OPENAI_PYTHON")
        .map(PathBuf::from)
        .expect("IOLLM_OPENAI_PYTHON: run scripts/openai-oracle.sh");
    assert!(python.is_file(), "{} missing: run scripts/openai-oracle.sh", python.display());
    let options =
        Options { name: Some(NAME.into()), threads: 2, max_batch: 8, ..Default::default() };
    let served = tokio::task::spawn_blocking(move || iollm_serve::load(&smollm2(), &options))
        .await
        .unwrap()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(iollm_serve::serve(listener, served, async move {
        let _ = stopped.await;
    }));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/openai/oracle.py");
    let run = tokio::process::Command::new(&python).arg(script).arg(&url).arg(NAME).output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(300), run)
        .await
        .expect("the client finishes")
        .expect("python runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!("{v:#}");
    assert_eq!(v["models"], serde_json::json!([NAME]));
    let chat = &v["chat"];
    assert!(chat["content"].as_str().unwrap().contains("Paris"), "{chat}");
    assert_eq!(chat["role"], "assistant");
    assert_eq!(chat["finish_reason"], "stop");
    assert_eq!(v["chat_stream"]["content"], chat["content"]);
    assert_eq!(v["chat_stream"]["finish_reason"], "stop");
    assert_eq!(v["chat_stream"]["usage"], chat["usage"]);
    assert!(v["chat_stream"]["chunks"].as_u64().unwrap() > 1, "streamed in pieces");
    assert_eq!(v["completion"]["text"], " Paris");
    assert_eq!(v["completion"]["finish_reason"], "stop");
    assert_eq!(v["completion_stream"], " Paris");
    assert_eq!(v["bad_request"]["status"], 400);
    assert!(
        v["bad_request"]["message"].as_str().unwrap().contains("max_tokens"),
        "{}",
        v["bad_request"]
    );
    assert_eq!(v["not_found"], serde_json::json!({"status": 404, "code": "model_not_found"}));
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
