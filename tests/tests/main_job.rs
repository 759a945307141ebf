//! The main job, exactly as a newcomer runs it: `scripts/devnet.sh` (the first of README.md's
//! two commands) builds the CLI, starts a devnet, trains, publishes, pulls and runs the whole
//! compute-market journey. Here it runs on a devnet of its own (`IOLLM_STATE_DIR` in a
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
        "with job 1 as its provenance",
    ] {
        assert!(stdout.contains(expected), "no {expected:?} in the output\n{stdout}");
    }
    assert!(
        state.path().join("deployments/devnet.json").is_file(),
        "the devnet's deployment record is not in IOLLM_STATE_DIR"
    );
}
