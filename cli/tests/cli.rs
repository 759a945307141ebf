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
        &[
            "model",
            "register",
            "--cid",
            "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o",
            "--deployments",
            file.to_str().unwrap(),
        ],
        root.path(),
    );
    assert!(!ok);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("ws://127.0.0.1:9") && stderr.contains("iollm devnet up"), "{stderr}");
}

#[test]
fn a_bad_cid_is_refused_before_touching_the_chain() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("d.json");
    std::fs::write(&file, r#"{"rpc_url":"ws://127.0.0.1:9","node":null,"contracts":{}}"#).unwrap();
    let (ok, _, stderr) = iollm(
        &["model", "register", "--cid", "notacid", "--deployments", file.to_str().unwrap()],
        root.path(),
    );
    assert!(!ok);
    assert!(stderr.starts_with("error: invalid value 'notacid' for '--cid <CID>'"), "{stderr}");
    assert!(!stderr.contains("127.0.0.1:9"), "nothing was sent: {stderr}");
}

/// `iollm job post --spec FILE` with a bad spec: one line naming the file and what is wrong,
/// before anything touches the node (here, none answers).
#[test]
fn a_bad_job_spec_is_one_line_before_touching_the_chain() {
    let root = tempfile::tempdir().unwrap();
    let deployments = root.path().join("d.json");
    std::fs::write(&deployments, r#"{"rpc_url":"ws://127.0.0.1:9","node":null,"contracts":{}}"#)
        .unwrap();
    let example =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../worker/examples/tiny.job.json");
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(example).unwrap()).unwrap();
    spec["train"]["checkpoint_every"] = serde_json::json!(7);
    let file = root.path().join("bad.job.json");
    std::fs::write(&file, spec.to_string()).unwrap();
    let (ok, _, stderr) = iollm(
        &[
            "job",
            "post",
            "--spec",
            file.to_str().unwrap(),
            "--artifact",
            "1",
            "--units",
            "50",
            "--reward",
            "1000",
            "--deadline",
            "+100",
            "--deployments",
            deployments.to_str().unwrap(),
        ],
        root.path(),
    );
    assert!(!ok);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("bad.job.json") && stderr.contains("checkpoint_every"), "{stderr}");
    assert!(!stderr.contains("127.0.0.1:9"), "nothing was sent: {stderr}");
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
    // With `--json`: one JSON object a program reads instead of the sentence.
    let json = |args: &[&str]| {
        let (ok, stdout, stderr) = iollm(args, root.path());
        assert!(ok && stdout.lines().count() == 1, "{stdout}{stderr}");
        serde_json::from_str::<serde_json::Value>(&stdout).expect(&stdout)
    };
    assert_eq!(json(&["--json", "devnet", "status"]), serde_json::json!({"state": "not started"}));
    assert_eq!(json(&["devnet", "down", "--json"]), serde_json::json!({"stopped": []}));
    let file = root.path().join("hello.txt");
    std::fs::write(&file, b"hello world\n").unwrap();
    let added = json(&["--json", "cid", file.to_str().unwrap()]);
    let (_, text, _) = iollm(&["cid", file.to_str().unwrap()], root.path());
    assert_eq!(text.trim(), format!("added {} hello.txt", added["cid"].as_str().unwrap()));
    assert_eq!(added["name"], "hello.txt");
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
            "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o",
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

#[test]
fn train_prints_a_trace_root_that_does_not_depend_on_threads() {
    let dir = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../crates/compute/examples/tiny.toml"
    ))
    .unwrap();
    let short = example
        .replace("steps = 800", "steps = 20")
        .replace("checkpoint_every = 50", "checkpoint_every = 10");
    assert_ne!(short, example, "tiny.toml changed shape; update this test");
    let config = dir.path().join("short.toml");
    std::fs::write(&config, short).unwrap();

    let mut roots = Vec::new();
    for threads in ["1", "2"] {
        let out = dir.path().join(format!("run-{threads}"));
        let (ok, stdout, stderr) = iollm(
            &[
                "train",
                "--config",
                config.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--threads",
                threads,
            ],
            dir.path(),
        );
        assert!(ok, "{stderr}");
        let root = stdout
            .lines()
            .find_map(|l| l.strip_prefix("trace root:"))
            .expect(&stdout)
            .trim()
            .to_owned();
        assert_eq!(root.len(), 64, "{root}");
        assert!(out.join("model.safetensors").is_file() && out.join("trace.json").is_file());
        roots.push(root);
    }
    assert_eq!(roots[0], roots[1]);

    std::fs::write(&config, "[model]\nn_layer = 0\n").unwrap();
    let (ok, _, stderr) = iollm(
        &[
            "train",
            "--config",
            config.to_str().unwrap(),
            "--out",
            dir.path().join("bad").to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(!ok);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!dir.path().join("bad").exists(), "nothing written for a bad config");

    // Issue 17 item 15: a second run into a used --out is refused (one line, naming --resume);
    // --resume continues it (here: it was complete, so it rewrites the end) to the same root.
    std::fs::write(
        &config,
        example
            .replace("steps = 800", "steps = 20")
            .replace("checkpoint_every = 50", "checkpoint_every = 10"),
    )
    .unwrap();
    let out = dir.path().join("run-1");
    let model = std::fs::read(out.join("model.safetensors")).unwrap();
    let args = ["train", "--config", config.to_str().unwrap(), "--out", out.to_str().unwrap()];
    let (ok, _, stderr) = iollm(&args, dir.path());
    assert!(!ok);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");
    assert_eq!(std::fs::read(out.join("model.safetensors")).unwrap(), model, "untouched");
    std::fs::write(out.join("checkpoints/ckpt-000002.bin"), b"torn").unwrap();
    let (ok, stdout, stderr) = iollm(&[&args[..], &["--resume"]].concat(), dir.path());
    assert!(ok, "{stderr}");
    assert!(stdout.contains(&roots[0]), "{stdout}");
    assert!(out.join("COMPLETE").is_file());

    // A device this build or machine does not have: refused before anything is written.
    let gpu = dir.path().join("gpu");
    let args = ["train", "--config", config.to_str().unwrap(), "--out", gpu.to_str().unwrap()];
    for (device, says) in [("cuda:0", "CUDA"), ("tpu", "write cpu, cuda or cuda:N")] {
        let (ok, _, stderr) = iollm(&[&args[..], &["--device", device]].concat(), dir.path());
        assert!(!ok, "{device}");
        assert!(stderr.lines().next().unwrap_or_default().contains(says), "{device}: {stderr}");
        assert!(!gpu.exists(), "nothing written without the device");
    }
}

/// Issue 17 item 17: `iollm cid .` names the directory; a symlink named bare is judged like
/// `./link`; a non-loopback daemon address says so; an OS error is printed once.
#[test]
fn content_errors_and_names_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("pkg");
    std::fs::create_dir(&pkg).unwrap();
    std::fs::write(pkg.join("a.txt"), b"hello world\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_iollm"))
        .args(["cid", "."])
        .current_dir(&pkg)
        .output()
        .unwrap();
    assert!(out.status.success());
    let line = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(line.starts_with("added ") && line.ends_with(" pkg"), "{line}");

    std::os::unix::fs::symlink("a.txt", pkg.join("link")).unwrap();
    let cid_of = |arg: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_iollm"))
            .args(["cid", arg])
            .current_dir(&pkg)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).split_whitespace().nth(1).map(String::from),
        )
    };
    let (ok, bare) = cid_of("link");
    assert!(ok && bare.is_some());
    assert_eq!(bare, cid_of("./link").1);

    let (ok, _, stderr) = iollm(
        &[
            "ipfs",
            "daemon",
            "--repo",
            dir.path().join("r").to_str().unwrap(),
            "--api",
            "0.0.0.0:5999",
        ],
        dir.path(),
    );
    assert!(!ok);
    assert!(stderr.contains("loopback") && !stderr.contains("add options"), "{stderr}");

    let missing = dir.path().join("missing.toml");
    let (ok, _, stderr) = iollm(
        &[
            "train",
            "--config",
            missing.to_str().unwrap(),
            "--out",
            dir.path().join("o").to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(!ok);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(stderr.matches("No such file or directory").count(), 1, "{stderr}");
}
