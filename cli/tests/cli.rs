//! The `iollm` binary's user-facing behaviour: one-line errors, non-zero exit codes.

use std::process::Command;

fn iollm(args: &[&str], root: &std::path::Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_iollm"))
        .args(args)
        .env("IOLLM_ROOT", root)
        .env_remove("IOLLM_RPC")
        .env_remove("IOLLM_DEPLOYMENTS")
        .env("IOLLM_SURI", "//Alice")
        .output()
        .expect("run iollm");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn commands_without_a_devnet_say_how_to_start_one() {
    let root = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = iollm(&["model", "show", "1"], root.path());
    assert!(!ok);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("error: ") && stderr.contains("iollm devnet up"), "{stderr}");

    // A deployment whose node is gone: the error names the URL and the command.
    let file = root.path().join("stale.json");
    std::fs::write(&file, r#"{"rpc_url":"ws://127.0.0.1:9","node":null,"contracts":{}}"#).unwrap();
    let (ok, _, stderr) = iollm(
        &["model", "register", "--cid", "Qmabc", "--deployments", file.to_str().unwrap()],
        root.path(),
    );
    assert!(!ok);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("ws://127.0.0.1:9") && stderr.contains("iollm devnet up"), "{stderr}");
}

#[test]
fn devnet_down_and_status_with_nothing_running_say_so() {
    let root = tempfile::tempdir().unwrap();
    let (ok, stdout, _) = iollm(&["devnet", "down"], root.path());
    assert!(ok);
    assert_eq!(stdout.trim(), "No devnet is running; nothing to stop.");
    let (ok, stdout, _) = iollm(&["devnet", "status"], root.path());
    assert!(ok);
    assert!(stdout.starts_with("No devnet is running"), "{stdout}");
}

#[test]
fn an_unknown_kind_is_one_line_before_touching_the_chain() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("d.json");
    std::fs::write(&file, r#"{"rpc_url":"ws://127.0.0.1:9","node":null,"contracts":{}}"#).unwrap();
    let (ok, _, stderr) = iollm(
        &[
            "model",
            "register",
            "--cid",
            "Qmabc",
            "--kind",
            "weights",
            "--deployments",
            file.to_str().unwrap(),
        ],
        root.path(),
    );
    assert!(!ok);
    assert_eq!(stderr.trim(), r#"error: unknown kind "weights": expected model, dataset or path"#);
}
