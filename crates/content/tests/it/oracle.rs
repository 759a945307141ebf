//! The official `kubo-rpc-client` (npm) as an oracle of the daemon's RPC shapes (issue 17
//! item 13): add, addAll, cat, ls, block.get, block.stat, pin.ls and version, and the CIDs
//! it reports equal ours. Needs node and `npm ci` in `tests/kubo-rpc-client`; run by
//! `scripts/kubo-oracle.sh`, which fails when it cannot run.

use iollm_content::{cid_of_bytes, AddOptions};

use crate::common::Node;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs node and npm ci in crates/content/tests/kubo-rpc-client; run scripts/kubo-oracle.sh"]
async fn kubo_rpc_client_agrees_with_the_daemon() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kubo-rpc-client");
    assert!(dir.join("node_modules/kubo-rpc-client").is_dir(), "run npm ci in {}", dir.display());
    let tmp = tempfile::tempdir().unwrap();
    let node = Node::start(tmp.path(), "127.0.0.1:0".parse().unwrap()).await;
    let (script, url) = (dir.join("oracle.mjs"), node.url());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node").arg(script).arg(url).output()
    });
    let out = tokio::time::timeout(std::time::Duration::from_secs(120), out)
        .await
        .expect("the oracle finishes")
        .unwrap()
        .expect("node runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], "0.22.0");
    let hello = cid_of_bytes(b"hello world\n", &AddOptions::default()).unwrap();
    assert_eq!(v["one"], hello.to_string());
    assert_eq!(v["cat"], "bee\n");
    assert_eq!(v["ls"][0]["name"], "a.txt");
    assert_eq!(v["ls"][0]["type"], "file");
    assert_eq!(v["ls"][0]["size"], 12);
    assert_eq!(v["ls"][0]["cid"], hello.to_string());
    assert_eq!(v["ls"][1]["name"], "sub");
    assert_eq!(v["ls"][1]["type"], "dir");
    assert_eq!(v["block_len"], v["stat_size"]);
    assert_eq!(v["pinned_root"], true);
    node.stop().await;
}
