//! Job specs (`iollm-job-v1`): the committed schema is the one the types generate; the example
//! spec is the devnet's tiny run (same config hash as `crates/compute/examples/tiny.toml`); every
//! kind of bad spec is refused with one line naming what is wrong.

use iollm_compute::{TrainConfig, Trainer};
use iollm_worker::job::{json_schema, JobDocument, JobSpecError, SCHEMA_V1};
use serde_json::{json, Value};
use std::path::Path;

/// A well-formed CID (of `hello world\n`).
const CID: &str = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4";

fn example() -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tiny.job.json");
    serde_json::from_slice(&std::fs::read(p).expect("example")).expect("JSON")
}

fn parse(v: &Value) -> Result<JobDocument, JobSpecError> {
    JobDocument::parse(&serde_json::to_vec(v).unwrap())
}

/// Regenerate with `IOLLM_BLESS=1 cargo test -p iollm-worker --test job`.
#[test]
fn committed_schema_matches_types() {
    let generated = json_schema();
    if std::env::var_os("IOLLM_BLESS").is_some() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/iollm-job-v1.schema.json");
        std::fs::write(p, &generated).unwrap();
        return;
    }
    assert_eq!(SCHEMA_V1, generated, "schema/iollm-job-v1.schema.json is stale; IOLLM_BLESS=1");
    // Every top-level property the example uses is declared, and every required one present.
    let schema: Value = serde_json::from_str(SCHEMA_V1).unwrap();
    let ex = example();
    let props = schema["properties"].as_object().unwrap();
    for k in ex.as_object().unwrap().keys() {
        assert!(props.contains_key(k), "{k} not in the schema");
    }
    for k in schema["required"].as_array().unwrap() {
        assert!(ex.get(k.as_str().unwrap()).is_some(), "{k} required but not in the example");
    }
}

#[tokio::test]
async fn the_example_is_the_tiny_run() {
    let doc = parse(&example()).expect("the example is valid");
    // Its canonical bytes read back as the same spec.
    assert_eq!(JobDocument::parse(&doc.to_bytes()).unwrap(), doc);
    // A generated dataset needs no store: the config is tiny.toml's, so is its config hash.
    let store = iollm_content::KuboClient::new("http://127.0.0.1:9").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = doc.train_config(&store, dir.path(), 1).await.unwrap();
    let toml = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/compute/examples/tiny.toml");
    let tiny = TrainConfig::from_file(&toml).unwrap();
    assert_eq!(cfg, tiny);
    let rt = iollm_compute::Runtime::new(1);
    let hash = |c: &TrainConfig| Trainer::new(c, &rt).unwrap().config_hash();
    assert_eq!(hash(&cfg), hash(&tiny));
}

#[test]
fn bad_specs_are_refused_with_one_line_each() {
    let with = |path: &[&str], value: Value| {
        let mut v = example();
        let mut at = &mut v;
        for key in &path[..path.len() - 1] {
            at = &mut at[*key];
        }
        at[path[path.len() - 1]] = value;
        v
    };
    let without = |key: &str| {
        let mut v = example();
        v.as_object_mut().unwrap().remove(key);
        v
    };
    let cases: Vec<(Value, &str)> = vec![
        (with(&["job_version"], json!(2)), "job_version 2 is not 1"),
        (with(&["kind"], json!("eval_path")), "reserved for the path evaluator"),
        (with(&["kind"], json!("fine_tune")), "at kind: unknown variant `fine_tune`"),
        (with(&["profile"], json!("repops-v3")), "is not \"repops-v4\""),
        (with(&["base_model"], json!(7)), "at base_model: invalid type: integer `7`"),
        (with(&["base_model"], json!("notacid")), "base_model: "),
        (
            with(&["dataset"], json!({"source": "package", "cid": "notacid", "split": "train"})),
            "dataset.cid",
        ),
        (
            with(&["dataset"], json!({"source": "package", "cid": CID, "split": ""})),
            "dataset.split \"\": name a split",
        ),
        (
            with(&["dataset"], json!({"source": "package", "cid": CID, "split": "a\nb"})),
            "dataset.split \"a\\nb\": name a split",
        ),
        (with(&["dataset"], json!({"source": "ipfs", "cid": "notacid"})), "dataset.cid"),
        (
            with(&["dataset"], json!({"source": "file", "path": "/etc/passwd"})),
            "unknown variant `file`",
        ),
        (with(&["dataset", "lines"], json!(0)), "data.lines must be in 1..=10000000"),
        (
            with(&["train", "checkpoint_every"], json!(7)),
            "checkpoint_every must be at least 1 and divide",
        ),
        (with(&["model", "n_head"], json!(3)), "n_head"),
        (with(&["optimizer", "lr"], json!(-1.0)), "optimizer.lr must be a positive number"),
        (with(&["surprise"], json!(1)), "unknown field `surprise`"),
        (without("dataset"), "missing field `dataset`"),
        (json!([1, 2]), "not an iollm-job-v1 spec"),
    ];
    for (spec, expected) in cases {
        let err = parse(&spec).expect_err(expected).to_string();
        assert!(err.contains(expected), "{expected:?} not in {err:?}");
        assert!(!err.contains('\n'), "{err:?}");
    }
    let err = JobDocument::parse(b"{\"job_version\": 1,").unwrap_err().to_string();
    assert!(err.starts_with("not an iollm-job-v1 spec"), "{err}");
    // One document and nothing after it, so that a spec has one encoding.
    let mut trailing = serde_json::to_vec(&example()).unwrap();
    trailing.extend_from_slice(b" x");
    let err = JobDocument::parse(&trailing).unwrap_err().to_string();
    assert!(err.contains("trailing characters"), "{err}");
}
