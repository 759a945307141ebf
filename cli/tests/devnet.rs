//! The main user journey through the real `iollm` binary: `devnet up` (node + contracts + IPFS
//! daemon), a second `up` that reports the running one, `status`, `model publish` and
//! `model pull` as //Alice, `down` that stops exactly the processes `up` started.

use std::path::{Path, PathBuf};
use std::process::Command;

fn checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

fn iollm(state: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_iollm"))
        .args(args)
        .current_dir(checkout())
        .env("IOLLM_STATE_DIR", state)
        .env("IOLLM_SURI", "//Alice")
        .env_remove("IOLLM_ROOT")
        .env_remove("IOLLM_RPC")
        .env_remove("IOLLM_DEPLOYMENTS")
        .env_remove("IOLLM_IPFS_API")
        .output()
        .expect("run iollm");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    (out.status.success(), stdout, stderr)
}

/// Whether `pid` is a live process (gone and zombie both count as dead).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// Stops the devnet even when an assertion fails half-way.
struct Down<'a>(&'a Path);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        iollm(self.0, &["devnet", "down"]);
    }
}

#[test]
fn devnet_up_publish_pull_down() {
    let state = tempfile::tempdir().unwrap();
    let s = state.path();
    let (ok, stdout, stderr) = iollm(s, &["devnet", "up"]);
    let _down = Down(s);
    assert!(ok, "devnet up failed: {stderr}");
    assert!(stdout.starts_with("Devnet running at ws://127.0.0.1:"), "{stdout}");

    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.join("deployments/devnet.json")).unwrap())
            .unwrap();
    let node_pid = record["node"]["pid"].as_u64().unwrap() as u32;
    let ipfs_pid = record["ipfs"]["pid"].as_u64().unwrap() as u32;
    assert!(record["ipfs"]["api_url"].as_str().unwrap().starts_with("http://127.0.0.1:"));
    assert!(record["contracts"]["registry"]["address"].is_string());
    assert!(alive(node_pid) && alive(ipfs_pid));

    let (ok, stdout, _) = iollm(s, &["devnet", "up"]);
    assert!(ok && stdout.starts_with("A devnet is already running"), "{stdout}");
    assert!(stdout.contains(&format!("pid {node_pid}")), "{stdout}");
    let (ok, stdout, _) = iollm(s, &["devnet", "status"]);
    assert!(ok && stdout.starts_with("Devnet running at"), "{stdout}");

    // Publish a package and pull it back by id.
    let pkg = s.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::copy(
        checkout().join("crates/content/schema/examples/smip.template.json"),
        pkg.join("smip.json"),
    )
    .unwrap();
    std::fs::write(pkg.join("config.json"), b"{\"n_layer\":1}").unwrap();
    std::fs::write(pkg.join("model.safetensors"), vec![7u8; 300_000]).unwrap();
    let (ok, stdout, stderr) = iollm(s, &["model", "publish", pkg.to_str().unwrap()]);
    assert!(ok, "publish failed: {stderr}");
    let id_line = stdout.lines().find(|l| l.starts_with("id:")).expect(&stdout);
    let id = id_line.trim_start_matches("id:").trim().to_owned();
    let (_, offline, _) = iollm(s, &["cid", "--cid-version", "1", pkg.to_str().unwrap()]);
    let offline_cid = offline.split_whitespace().nth(1).unwrap().to_owned();
    assert!(stdout.contains(&format!("package CID:  {offline_cid}")), "{stdout} vs {offline}");

    let pulled = s.join("pulled");
    let (ok, stdout, stderr) = iollm(s, &["model", "pull", &id, pulled.to_str().unwrap()]);
    assert!(ok, "pull failed: {stderr}");
    assert!(stdout.contains("verified"), "{stdout}");
    assert_eq!(std::fs::read(pulled.join("model.safetensors")).unwrap(), vec![7u8; 300_000]);

    let (ok, stdout, _) = iollm(s, &["devnet", "down"]);
    assert!(ok, "{stdout}");
    assert_eq!(stdout.trim(), format!("Stopped the devnet (pids {node_pid}, {ipfs_pid})."));
    assert!(!alive(node_pid) && !alive(ipfs_pid));
    let (ok, stdout, _) = iollm(s, &["devnet", "down"]);
    assert!(ok && stdout.trim() == "No devnet is running; nothing to stop.", "{stdout}");
}
