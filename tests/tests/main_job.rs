//! The main job, exactly as a newcomer runs it: `scripts/devnet.sh` (the first of README.md's
//! two commands) builds the CLI, starts a devnet with two worker daemons, trains, publishes,
//! pulls and runs the whole compute-market journey, the job done by the workers. Here it runs on a devnet of its own (`IOLLM_STATE_DIR` in a
//! temporary directory, its own cargo target directory so it does not wait on the cargo that
//! runs these tests), which `iollm devnet down` stops afterwards, whatever happened.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Stops the devnet the script started, also when an assertion fails.
struct Down {
    iollm: PathBuf,
    state: PathBuf,
}

impl Drop for Down {
    fn drop(&mut self) {
        if self.iollm.is_file() {
            let _ = Command::new(&self.iollm)
                .args(["devnet", "down"])
                .env("IOLLM_STATE_DIR", &self.state)
                .status();
        }
    }
}

#[test]
fn scripts_devnet_sh_runs_the_main_job_end_to_end() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent");
    let state = tempfile::tempdir().expect("temporary directory");
    let target = root.join("target/main-job");
    let _down = Down { iollm: target.join("release/iollm"), state: state.path().to_owned() };
    let out = Command::new("bash")
        .arg(root.join("scripts/devnet.sh"))
        .current_dir(root)
        .env("IOLLM_STATE_DIR", state.path())
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("IOLLM_SURI")
        .env_remove("IOLLM_RPC")
        .env_remove("IOLLM_DEPLOYMENTS")
        .env_remove("IOLLM_IPFS_API")
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "scripts/devnet.sh failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    for expected in [
        "trace root:",
        "The pulled weights are byte-for-byte the published ones.",
        "verified:     true",
        "base model:",
        "Charlie's worker reached the trace root of the fine-tune above, bit for bit.",
        "with job 1 as its provenance",
    ] {
        assert!(stdout.contains(expected), "no {expected:?} in the output\n{stdout}");
    }
    let record = state.path().join("deployments/devnet.json");
    assert!(record.is_file(), "the devnet's deployment record is not in IOLLM_STATE_DIR");
    // The devnet ran its own node, IPFS daemon, workers and clock; `devnet down` stops them all.
    let deployment = iollm_chain::Deployment::load(&record).expect("a deployment record");
    let mut pids: Vec<u32> = deployment.workers.iter().map(|w| w.pid).collect();
    assert_eq!(pids.len(), 2, "{deployment:?}");
    pids.extend(deployment.clock.as_ref().map(|c| c.pid));
    assert_eq!(pids.len(), 3, "a clock: {deployment:?}");
    pids.extend(deployment.node.as_ref().map(|n| n.pid));
    pids.extend(deployment.ipfs.as_ref().and_then(|i| i.pid));
    assert_eq!(pids.len(), 5, "a node and an IPFS daemon: {deployment:?}");
    // Running: a command line (an exited process not yet reaped has none).
    let alive =
        |pid: &u32| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty());
    assert!(pids.iter().all(alive), "the devnet's processes run after the script");
    let down = Command::new(target.join("release/iollm"))
        .args(["devnet", "down"])
        .env("IOLLM_STATE_DIR", state.path())
        .output()
        .expect("devnet down runs");
    assert!(down.status.success(), "{}", String::from_utf8_lossy(&down.stderr));
    assert!(!pids.iter().any(alive), "devnet down left a process running");
}
