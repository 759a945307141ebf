//! SMIP dataset packages: schema ↔ types, validation messages, publish → fetch one split →
//! pull, and what a tampered or mistaken package does to the fetch (nothing is left behind).

use std::path::Path;

use iollm_content::manifest::{
    dataset_json_schema, DatasetManifest, PackageManifest, DATASET_MANIFEST_FILE,
    DATASET_SCHEMA_V1, MANIFEST_FILE,
};
use iollm_content::pull::{pull_package_with, PullOptions};
use iollm_content::{fetch_split, prepare_package, publish_package, AddOptions, Error, Manifest};
use serde_json::{json, Value};

use crate::common::{check_committed_schema, pattern, Node};

const TEMPLATE: &str = include_str!("../../schema/examples/smip-dataset.template.json");

fn example() -> Value {
    let mut v: Value = serde_json::from_str(TEMPLATE).unwrap();
    v["cid_options"] = json!({"cid_version": 1, "raw_leaves": true, "chunker": "size-262144"});
    v["files"] = json!([
        {"path": "train.txt", "size": 12, "sha256": "a".repeat(64),
         "cid": "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"},
        {"path": "validation.txt", "size": 12, "sha256": "b".repeat(64),
         "cid": "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"}
    ]);
    v
}

fn err_of(v: &Value) -> String {
    match <DatasetManifest as PackageManifest>::parse(&serde_json::to_vec(v).unwrap()) {
        Err(e @ Error::InvalidManifest(_)) => e.to_string(),
        other => panic!("expected InvalidManifest, got {other:?}"),
    }
}

/// The committed JSON Schema is exactly the one generated from the serde types; regenerate
/// with `IOLLM_BLESS=1 cargo test -p iollm-content dataset`.
#[test]
fn committed_dataset_schema_matches_types() {
    let generated = dataset_json_schema().unwrap();
    check_committed_schema(
        DATASET_SCHEMA_V1,
        &generated,
        "smip-dataset-v1.schema.json",
        &example(),
    );
}

#[test]
fn the_example_parses_and_encodes_canonically() {
    let m = DatasetManifest::parse(&serde_json::to_vec(&example()).unwrap()).unwrap();
    let canon = m.to_canonical_json().unwrap();
    let again = DatasetManifest::parse(&canon).unwrap();
    assert_eq!((&again, again.to_canonical_json().unwrap()), (&m, canon));
    assert_eq!(m.split("train").unwrap().path, "train.txt");
    let e = m.split("test").unwrap_err().to_string();
    assert!(e.contains("no split \"test\" (it has: train, validation)"), "{e}");
}

#[test]
fn bad_dataset_manifests_name_field_and_reason() {
    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = example();
        f(&mut v);
        err_of(&v)
    };
    type Edit<'a> = &'a dyn Fn(&mut Value);
    let cases: [(Edit, &str); 10] = [
        (&|v| v["smip_dataset_version"] = json!(2), "smip_dataset_version: unsupported version 2"),
        (&|v| drop(v.as_object_mut().unwrap().remove("smip_dataset_version")), "missing"),
        (&|v| v["splits"] = json!({}), "splits: name at least one split"),
        (&|v| v["splits"]["test"] = json!("test.txt"), "splits.\"test\": \"test.txt\" is not"),
        (&|v| v["splits"]["Train Set"] = json!("train.txt"), "splits.\"Train Set\": a split's"),
        (&|v| v["splits"]["a\nb"] = json!("train.txt"), "splits.\"a\\nb\": a split's name"),
        (
            &|v| v["files"][0]["path"] = json!(format!("{}x", "d/".repeat(16))),
            "longer than 1024 bytes or 16 names",
        ),
        (&|v| v["format"] = json!("parquet"), "format: unknown variant `parquet`"),
        (&|v| v["files"][0]["path"] = json!("smip-dataset.json"), "does not list itself"),
        (&|v| v["weights"] = json!("x"), "unknown field `weights`"),
    ];
    for (edit, want) in cases {
        let e = with(edit);
        assert!(e.contains(want), "{want:?} not in {e:?}");
    }
    // A model's manifest is not a dataset's, and the other way round.
    let e = with(&|v| {
        *v = serde_json::from_str(include_str!("../../schema/examples/smip.template.json")).unwrap()
    });
    assert!(e.contains("smip_dataset_version: missing"), "{e}");
    let model = iollm_content::manifest::parse(&serde_json::to_vec(&example()).unwrap());
    assert!(model.unwrap_err().to_string().contains("smip_version: missing"));
}

fn write_dataset(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(DATASET_MANIFEST_FILE), TEMPLATE).unwrap();
    // Larger than a 32 KiB leaf, so the split is a DAG of several blocks.
    let train = pattern(100_000, 3);
    let validation = b"to be, or not to be\n".repeat(10);
    std::fs::write(dir.join("train.txt"), &train).unwrap();
    std::fs::write(dir.join("validation.txt"), &validation).unwrap();
    (train, validation)
}

fn opts() -> AddOptions {
    AddOptions { chunk_size: 32 << 10, ..AddOptions::v1() }
}

/// Published, a dataset package gives each split's bytes back by package CID and split name,
/// every byte checked; the whole package pulls and verifies like a model's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_datasets_splits_are_fetched_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let node = Node::start(&tmp.path().join("repo"), "127.0.0.1:0".parse().unwrap()).await;
    let c = node.client();
    let pkg = tmp.path().join("pkg");
    let (train, validation) = write_dataset(&pkg);
    let p = publish_package::<DatasetManifest, _>(&c, &pkg, &opts()).await.unwrap();
    let paths: Vec<_> = p.manifest.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["train.txt", "validation.txt"]);
    // Idempotent, and the canonical manifest is what the directory now holds.
    let again = prepare_package::<DatasetManifest>(&pkg, &opts()).unwrap();
    assert_eq!((again.manifest_cid, again.package_cid), (p.manifest_cid, p.package_cid));

    for (split, bytes) in [("train", &train), ("validation", &validation)] {
        let dest = tmp.path().join(split);
        let (m, entry) = fetch_split(&c, &p.package_cid, split, &dest, 1 << 20).await.unwrap();
        assert_eq!((m, entry.size), (p.manifest.clone(), bytes.len() as u64));
        assert_eq!(&std::fs::read(&dest).unwrap(), bytes);
    }
    // A split larger than the caller takes is refused before a byte is written.
    let dest = tmp.path().join("small");
    let e = fetch_split(&c, &p.package_cid, "train", &dest, 99_999).await.unwrap_err();
    assert!(matches!(e, Error::PullTooLarge { size: 100_000, limit: 99_999 }), "{e}");
    assert!(!dest.exists());
    let e = fetch_split(&c, &p.package_cid, "test", &dest, 1 << 20).await.unwrap_err();
    assert!(e.to_string().contains("no split \"test\""), "{e}");
    assert!(!dest.exists());

    // A split in a subdirectory of its package reads the same way, every directory on its path
    // checked.
    let nested = tmp.path().join("nested");
    std::fs::create_dir_all(nested.join("data/2026")).unwrap();
    std::fs::write(nested.join("data/2026/train.txt"), &validation).unwrap();
    let mut template: Value = serde_json::from_str(TEMPLATE).unwrap();
    template["splits"] = json!({"train": "data/2026/train.txt"});
    std::fs::write(nested.join(DATASET_MANIFEST_FILE), template.to_string()).unwrap();
    let n = publish_package::<DatasetManifest, _>(&c, &nested, &opts()).await.unwrap();
    let dest = tmp.path().join("nested-train");
    fetch_split(&c, &n.package_cid, "train", &dest, 1 << 20).await.unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), validation);

    let out = tmp.path().join("pulled");
    let pulled: DatasetManifest =
        pull_package_with(&c, &p.package_cid, &out, &PullOptions::default()).await.unwrap();
    assert_eq!(pulled, p.manifest);
    assert_eq!(std::fs::read(out.join("train.txt")).unwrap(), train);
    node.stop().await;
}

/// A dataset package whose split file is not the one its manifest lists (the bytes changed
/// after the manifest was written), a model package given as a dataset, and a file given as
/// one: each refused by name, nothing written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_or_mistaken_dataset_is_refused_and_nothing_is_written() {
    use iollm_content::ContentStore as _;
    let tmp = tempfile::tempdir().unwrap();
    let node = Node::start(&tmp.path().join("repo"), "127.0.0.1:0".parse().unwrap()).await;
    let c = node.client();
    let dest = tmp.path().join("split");

    let pkg = tmp.path().join("tampered");
    write_dataset(&pkg);
    prepare_package::<DatasetManifest>(&pkg, &opts()).unwrap();
    std::fs::write(pkg.join("train.txt"), b"poisoned text\n").unwrap();
    let tampered = c.put_dir(&pkg, &opts()).await.unwrap().cid;
    let e = fetch_split(&c, &tampered, "train", &dest, 1 << 20).await.unwrap_err();
    assert!(matches!(e, Error::CidMismatch { .. }), "{e}");
    assert!(!dest.exists());
    // Its untouched split still reads.
    fetch_split(&c, &tampered, "validation", &dest, 1 << 20).await.unwrap();
    std::fs::remove_file(&dest).unwrap();

    let model = tmp.path().join("model");
    std::fs::create_dir(&model).unwrap();
    std::fs::write(
        model.join(MANIFEST_FILE),
        include_str!("../../schema/examples/smip.template.json"),
    )
    .unwrap();
    std::fs::write(model.join("model.safetensors"), pattern(1000, 1)).unwrap();
    let model = publish_package::<Manifest, _>(&c, &model, &opts()).await.unwrap().package_cid;
    let e = fetch_split(&c, &model, "train", &dest, 1 << 20).await.unwrap_err().to_string();
    assert!(e.contains("is not an SMIP dataset package: it has no smip-dataset.json"), "{e}");

    let file = c.put_file(&pkg.join("validation.txt"), &opts()).await.unwrap().cid;
    let e = fetch_split(&c, &file, "train", &dest, 1 << 20).await.unwrap_err().to_string();
    assert!(e.contains("is not an SMIP dataset package: it is not a directory"), "{e}");
    assert!(!dest.exists());
    node.stop().await;
}
