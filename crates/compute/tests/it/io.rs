//! Configs, checkpoints and weights files: round trips and clear errors on bad input.

use crate::common::micro_config;
use iollm_compute::io::{load_model, save_model, CONFIG_FILE, WEIGHTS_ALIGN, WEIGHTS_FILE};
use iollm_compute::model::{init_params, Layout};
use iollm_compute::train::checkpoint_path;
use iollm_compute::{resume, train, Error, GptConfig, Runtime, TrainConfig};
use std::path::Path;

fn parse(text: &str) -> Result<TrainConfig, Error> {
    TrainConfig::from_toml_str(text, Path::new("."))
}

const GOOD: &str = r#"
[model]
n_layer = 1
n_head = 2
n_embd = 16
n_ctx = 8
[train]
seed = 1
steps = 4
batch_size = 2
checkpoint_every = 2
[optimizer]
lr = 0.001
[data]
kind = "arithmetic"
"#;

#[test]
fn example_config_parses() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tiny.toml");
    let cfg = TrainConfig::from_file(&p).expect("example config");
    assert_eq!(cfg.model.n_embd, 64);
    parse(GOOD).expect("minimal config with defaults");
}

#[test]
fn bad_configs_are_rejected_with_the_field_named() {
    let cases = [
        (GOOD.replace("n_layer = 1", "n_layer = 0"), "model.n_layer must be at least 1"),
        (GOOD.replace("n_embd = 16", "n_embd = 0"), "model.n_embd must be at least 1"),
        (GOOD.replace("n_embd = 16", "n_embd = 100000"), "model.n_embd = 100000 is larger"),
        (GOOD.replace("n_embd = 16", "n_embd = 15"), "multiple of model.n_head"),
        (
            GOOD.replace("n_layer = 1", "n_layer = 200").replace("n_embd = 16", "n_embd = 4096"),
            "parameters, more than",
        ),
        (GOOD.replace("batch_size = 2", "batch_size = 0"), "train.batch_size"),
        (GOOD.replace("checkpoint_every = 2", "checkpoint_every = 3"), "divide train.steps"),
        (GOOD.replace("lr = 0.001", "lr = -1.0"), "optimizer.lr"),
        (GOOD.replace("seed = 1", "seed = 1\ncolour = 3"), "unknown field"),
        (GOOD.replace("kind = \"arithmetic\"", "kind = \"nope\""), "unknown variant"),
    ];
    for (text, want) in cases {
        let err = parse(&text).expect_err(want).to_string();
        assert!(err.contains(want), "error {err:?} should mention {want:?}");
    }
}

#[test]
fn corrupt_and_truncated_checkpoints_are_rejected() {
    let cfg = micro_config(4, 2);
    let rt = Runtime::new(2);
    let dir = tempfile::tempdir().expect("tempdir");
    train(&cfg, dir.path(), &rt, &mut iollm_compute::go_on).expect("train");
    let p1 = checkpoint_path(dir.path(), 1);
    let good = std::fs::read(&p1).expect("read");
    // Every checkpoint error names the file (issue 17 item 17) and carries what is wrong.
    let named = |e: Error| match e {
        Error::BadCheckpoint { path, source } => (path, *source),
        other => panic!("expected BadCheckpoint, got {other}"),
    };
    let bad = |e: Error| {
        let (path, source) = named(e);
        assert_eq!(path, p1);
        source
    };

    let mut flipped = good.clone();
    flipped[200] ^= 1;
    std::fs::write(&p1, &flipped).expect("write");
    let err =
        bad(resume(&cfg, dir.path(), 1, &rt, &mut iollm_compute::go_on).expect_err("flipped bit"));
    assert!(matches!(err, Error::ChecksumMismatch { .. }), "{err}");

    std::fs::write(&p1, &good[..good.len() - 1000]).expect("write");
    let err =
        bad(resume(&cfg, dir.path(), 1, &rt, &mut iollm_compute::go_on).expect_err("truncated"));
    assert!(matches!(err, Error::CorruptCheckpoint(_)), "{err}");
    assert!(err.to_string().contains("truncated"), "{err}");

    std::fs::write(&p1, &good[..20]).expect("write");
    let err =
        bad(resume(&cfg, dir.path(), 1, &rt, &mut iollm_compute::go_on).expect_err("header only"));
    assert!(matches!(err, Error::CorruptCheckpoint(_)), "{err}");

    std::fs::write(&p1, &good).expect("write");
    let mut other = cfg.clone();
    other.train.seed = 99;
    // Another config's run fails at its first checkpoint, 0, which is named.
    let (path, err) =
        named(resume(&other, dir.path(), 1, &rt, &mut iollm_compute::go_on).expect_err("other"));
    assert_eq!(path, checkpoint_path(dir.path(), 0));
    assert!(matches!(err, Error::ConfigMismatch { .. }), "{err}");

    let err = resume(&cfg, dir.path(), 7, &rt, &mut iollm_compute::go_on)
        .expect_err("no such checkpoint");
    assert!(matches!(err, Error::NoSuchCheckpoint { index: 7, last: 2 }), "{err}");
    resume(&cfg, dir.path(), 1, &rt, &mut iollm_compute::go_on).expect("intact checkpoint resumes");
}

#[test]
fn weights_round_trip_and_wrong_shapes_are_rejected() {
    let cfg = GptConfig { n_layer: 1, n_head: 2, n_embd: 16, n_ctx: 8 };
    let params = init_params(&Layout::new(&cfg), 5);
    let dir = tempfile::tempdir().expect("tempdir");
    save_model(dir.path(), &cfg, &params).expect("save");
    let (cfg2, p2) = load_model(dir.path()).expect("load");
    assert_eq!(cfg2, cfg);
    assert!(p2.iter().zip(&params).all(|(a, b)| a.to_bits() == b.to_bits()));
    let hf: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join(CONFIG_FILE)).expect("read"))
            .expect("json");
    assert_eq!(hf["model_type"], "gpt2");
    assert_eq!(hf["vocab_size"], 256);
    // The data section starts at a multiple of WEIGHTS_ALIGN and is `params` itself, in
    // order: byte 4·i of it is parameter i (what a proof of the output to a contract needs).
    let bytes = std::fs::read(dir.path().join(WEIGHTS_FILE)).expect("read");
    let header = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    let start = 8 + header;
    assert_eq!(start % WEIGHTS_ALIGN, 0);
    assert_eq!(bytes.len(), start + 4 * params.len());
    let data: Vec<u32> =
        bytes[start..].chunks(4).map(|b| u32::from_le_bytes(b.try_into().expect("4"))).collect();
    assert_eq!(data, params.iter().map(|p| p.to_bits()).collect::<Vec<_>>());
    // The same weights give the same bytes.
    let again = tempfile::tempdir().expect("tempdir");
    save_model(again.path(), &cfg, &params).expect("save");
    assert_eq!(std::fs::read(again.path().join(WEIGHTS_FILE)).expect("read"), bytes);

    // Weights of another shape under this config.json.
    let other = tempfile::tempdir().expect("tempdir");
    let wide = GptConfig { n_embd: 32, ..cfg.clone() };
    save_model(other.path(), &wide, &init_params(&Layout::new(&wide), 5)).expect("save");
    std::fs::copy(other.path().join(WEIGHTS_FILE), dir.path().join(WEIGHTS_FILE)).expect("copy");
    let err = load_model(dir.path()).expect_err("wrong shapes");
    assert!(matches!(err, Error::ShapeMismatch { .. }), "{err}");
    assert!(err.to_string().contains("wte.weight"), "{err}");

    // Fewer layers than config.json says.
    let deep = GptConfig { n_layer: 2, ..cfg.clone() };
    save_model(other.path(), &deep, &init_params(&Layout::new(&deep), 5)).expect("save");
    std::fs::copy(dir.path().join(CONFIG_FILE), other.path().join("c.json")).expect("copy");
    std::fs::copy(other.path().join("c.json"), other.path().join(CONFIG_FILE)).expect("copy");
    let err = load_model(other.path()).expect_err("extra layer");
    assert!(matches!(err, Error::UnexpectedTensor(_)), "{err}");

    std::fs::write(dir.path().join(WEIGHTS_FILE), b"not a safetensors file").expect("write");
    assert!(matches!(load_model(dir.path()), Err(Error::Safetensors(_))));
    std::fs::write(dir.path().join(CONFIG_FILE), br#"{"model_type":"gpt2","vocab_size":50257,"n_positions":8,"n_embd":16,"n_layer":1,"n_head":2}"#).expect("write");
    let err = load_model(dir.path()).expect_err("vocab");
    assert!(err.to_string().contains("vocab_size"), "{err}");
}

#[test]
fn failed_runs_leave_nothing_partial() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let mut cfg = micro_config(4, 2);
    cfg.model.n_embd = 0;
    assert!(matches!(
        train(&cfg, &out, &Runtime::new(1), &mut iollm_compute::go_on),
        Err(Error::InvalidConfig(_))
    ));
    assert!(!out.exists(), "an invalid config must not create the output directory");
    // A successful run leaves no temporary files behind.
    let cfg = micro_config(2, 2);
    train(&cfg, &out, &Runtime::new(1), &mut iollm_compute::go_on).expect("train");
    for sub in [out.clone(), out.join("checkpoints")] {
        for e in std::fs::read_dir(&sub).expect("list") {
            let name = e.expect("entry").file_name().to_string_lossy().into_owned();
            assert!(!name.contains(".tmp"), "temporary file {name} left behind");
        }
    }
    // Writing where the directory cannot be created fails cleanly.
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"x").expect("write");
    let err = train(&cfg, &blocker.join("out"), &Runtime::new(1), &mut iollm_compute::go_on)
        .expect_err("bad dir");
    assert!(matches!(err, Error::Io { .. }), "{err}");
}

#[test]
fn file_data_paths_are_relative_to_the_config_and_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("corpus.txt"),
        "the quick brown fox jumps over the lazy dog\n".repeat(20),
    )
    .expect("write");
    let text = GOOD.replace("kind = \"arithmetic\"", "kind = \"file\"\npath = \"corpus.txt\"");
    std::fs::write(dir.path().join("run.toml"), &text).expect("write");
    let cfg = TrainConfig::from_file(&dir.path().join("run.toml")).expect("config");
    let out = dir.path().join("out");
    train(&cfg, &out, &Runtime::new(1), &mut iollm_compute::go_on).expect("train on a file");
    std::fs::write(dir.path().join("run.toml"), text.replace("corpus.txt", "missing.txt"))
        .expect("write");
    let cfg = TrainConfig::from_file(&dir.path().join("run.toml")).expect("config");
    let err =
        train(&cfg, &out, &Runtime::new(1), &mut iollm_compute::go_on).expect_err("missing data");
    assert!(err.to_string().contains("missing.txt"), "{err}");
    let err = TrainConfig::from_file(&dir.path().join("nope.toml")).expect_err("missing config");
    assert!(matches!(err, Error::Io { .. }), "{err}");
    std::fs::write(dir.path().join("bad.toml"), "[model\n").expect("write");
    let err = TrainConfig::from_file(&dir.path().join("bad.toml")).expect_err("bad toml");
    assert!(err.to_string().contains("bad.toml"), "{err}");
}

#[test]
fn thread_flag_wins_and_zero_is_rejected() {
    assert_eq!(iollm_compute::resolve_threads(Some(3)).expect("flag"), 3);
    assert!(iollm_compute::resolve_threads(Some(0)).is_err());
    assert!(iollm_compute::resolve_threads(None).expect("default") >= 1);
}

/// A run from a base model: `base = "…/model.safetensors"` (relative to the config) makes the
/// base's weights the initial parameters with `+0` moments, binds the file's bytes into the
/// config hash, and trains on from there; a file of another shape or layout is refused by name.
#[test]
fn a_run_starts_from_a_base_models_weights() {
    let dir = tempfile::tempdir().unwrap();
    let rt = Runtime::new(1);
    let cfg = micro_config(2, 1);
    train(&cfg, &dir.path().join("first"), &rt, &mut iollm_compute::train::go_on).unwrap();
    let base = dir.path().join("first").join(WEIGHTS_FILE);
    let relative =
        TrainConfig { base: Some(format!("first/{WEIGHTS_FILE}").into()), ..cfg.clone() };
    let toml = toml::to_string(&relative).unwrap();
    let tuned = TrainConfig::from_toml_str(&toml, dir.path()).unwrap();
    assert_eq!(tuned.base.as_deref(), Some(base.as_path()), "relative to the config");

    let (seeded, from_base) = (
        iollm_compute::Trainer::new(&cfg, &rt).unwrap(),
        iollm_compute::Trainer::new(&tuned, &rt).unwrap(),
    );
    let layout = Layout::new(&cfg.model);
    let weights = load_model(&dir.path().join("first")).unwrap().1;
    let start = from_base.initial_state();
    assert_eq!(start.params, weights, "the base's weights");
    assert_ne!(start.params, init_params(&layout, cfg.train.seed));
    assert!(start.m.iter().chain(&start.v).all(|x| x.to_bits() == 0), "moments +0");
    assert_eq!(start.step, 0);
    assert_ne!(from_base.config_hash(), seeded.config_hash(), "the base is bound");
    let outcome = from_base.train(&dir.path().join("tuned"), &mut iollm_compute::train::go_on);
    assert_eq!(outcome.unwrap().hashes.len(), 3, "h_0, h_1, h_2");

    // Another shape, and the same weights in another layout (a longer header), are refused.
    let other = TrainConfig {
        model: GptConfig { n_embd: 16, n_head: 2, ..cfg.model.clone() },
        ..tuned.clone()
    };
    let err = iollm_compute::Trainer::new(&other, &rt).err().unwrap().to_string();
    assert!(err.starts_with(&format!("invalid config: base {}", base.display())), "{err}");
    let mut bytes = std::fs::read(&base).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    bytes.splice(8 + header_len..8 + header_len, vec![b' '; WEIGHTS_ALIGN]);
    bytes[..8].copy_from_slice(&((header_len + WEIGHTS_ALIGN) as u64).to_le_bytes());
    let padded = dir.path().join("padded.safetensors");
    std::fs::write(&padded, &bytes).unwrap();
    let err = iollm_compute::Trainer::new(&TrainConfig { base: Some(padded), ..tuned }, &rt)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("not in the canonical layout"), "{err}");
}
