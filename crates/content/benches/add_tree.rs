//! `add` of many small parts (issue 17 item 12: building the directory tree is linear).
//!
//! Run: `cargo bench -p iollm-content --bench add_tree`. For 8 000 and 64 000 parts of 16 bytes
//! (`pkg/gG/dD/fI`, 10 files to a directory, 100 directories to a group), one multipart POST
//! with `only-hash=true` (so the disk does not dominate), prints wall time and the time per
//! part. Timing only (it checks only that the add succeeded).

use std::time::Instant;

use iollm_content::daemon::{Daemon, DaemonConfig};

fn body(parts: u64, boundary: &str) -> Vec<u8> {
    let mut b = Vec::new();
    for i in 0..parts {
        b.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"pkg/g{}/d{}/f{i}\"\r\nContent-Type: application/octet-stream\r\n\r\n{i:016}\r\n",
                i / 1000,
                i / 10
            )
            .as_bytes(),
        );
    }
    b.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    b
}

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let tmp = tempfile::tempdir().expect("temp dir");
        let d = Daemon::bind(DaemonConfig::new(
            tmp.path().join("repo"),
            "127.0.0.1:0".parse().expect("addr"),
        ))
        .await
        .expect("bind");
        let url = format!("{}/api/v0/add?only-hash=true", d.api_url());
        let shutdown = tokio_util::sync::CancellationToken::new();
        let task = tokio::spawn(d.run(shutdown.clone()));
        let client = hyper::Client::new();
        for parts in [8_000u64, 64_000] {
            let boundary = "bench-boundary";
            let b = body(parts, boundary);
            let req = hyper::Request::post(&url)
                .header("content-type", format!("multipart/form-data; boundary={boundary}"))
                .body(hyper::Body::from(b))
                .expect("request");
            let start = Instant::now();
            let res = client.request(req).await.expect("add");
            let status = res.status();
            let out = hyper::body::to_bytes(res.into_body()).await.expect("body");
            let secs = start.elapsed().as_secs_f64();
            assert!(status.is_success(), "{status}: {}", String::from_utf8_lossy(&out));
            println!(
                "add of {parts} parts: {secs:.2} s ({:.1} µs per part)",
                secs * 1e6 / parts as f64
            );
        }
        shutdown.cancel();
        let _ = task.await;
    });
}
