//! SMIP manifests: schema ↔ types, validation messages, canonical encoding, publish → pull.

use std::path::Path;

use iollm_content::manifest::{self, json_schema, parse, Manifest, SCHEMA_V1};
use iollm_content::{
    cid_of_file, fetch_verified, prepare_package, publish_package, pull_package, verify_package,
    AddOptions, ContentStore, Error,
};
use serde_json::{json, Value};

use crate::common::{check_committed_schema, pattern, Node};

const TEMPLATE: &str = include_str!("../../schema/examples/smip.template.json");

fn example_manifest() -> Value {
    let mut v: Value = serde_json::from_str(TEMPLATE).unwrap();
    v["cid_options"] = json!({"cid_version": 0, "raw_leaves": false, "chunker": "size-262144"});
    v["files"] = json!([
        {"path": "config.json", "size": 7, "sha256": "0".repeat(64),
         "cid": "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"},
        {"path": "model.safetensors", "size": 12, "sha256": "a".repeat(64),
         "cid": "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"}
    ]);
    v
}

/// The committed JSON Schema is exactly the one generated from the serde types; regenerate
/// with `IOLLM_BLESS=1 cargo test -p iollm-content manifest`.
#[test]
fn committed_schema_matches_types() {
    let generated = json_schema().unwrap();
    check_committed_schema(SCHEMA_V1, &generated, "smip-v1.schema.json", &example_manifest());
}

#[test]
fn example_parses_and_encodes_canonically() {
    let bytes = serde_json::to_vec(&example_manifest()).unwrap();
    let m = parse(&bytes).unwrap();
    let canon = m.to_canonical_json().unwrap();
    let again = parse(&canon).unwrap();
    assert_eq!(again, m);
    assert_eq!(again.to_canonical_json().unwrap(), canon);
    // Field order in the input does not matter.
    let mut files = example_manifest();
    files["files"].as_array_mut().unwrap().reverse();
    let m2 = parse(&serde_json::to_vec(&files).unwrap()).unwrap();
    assert_eq!(m2.to_canonical_json().unwrap(), canon);
}

fn err_of(v: &Value) -> String {
    match parse(&serde_json::to_vec(v).unwrap()) {
        Err(e @ Error::InvalidManifest(_)) => e.to_string(),
        other => panic!("expected InvalidManifest, got {other:?}"),
    }
}

#[test]
fn bad_manifests_name_field_and_reason() {
    let mut v = example_manifest();
    v["smip_version"] = json!(2);
    assert!(err_of(&v).contains("smip_version: unsupported version 2"), "{}", err_of(&v));

    let mut v = example_manifest();
    v["surprise"] = json!(true);
    assert!(err_of(&v).contains("unknown field `surprise`"), "{}", err_of(&v));

    let mut v = example_manifest();
    v["files"][1]["sha256"] = json!("XYZ");
    assert!(err_of(&v).contains("files[1].sha256"), "{}", err_of(&v));

    let mut v = example_manifest();
    v["files"][1]["cid"] = json!("not-a-cid");
    let e = err_of(&v);
    assert!(e.contains("files[1].cid") && e.contains("not-a-cid"), "{e}");

    let mut v = example_manifest();
    v["files"][1]["path"] = json!("config.json");
    assert!(err_of(&v).contains("duplicate path"), "{}", err_of(&v));

    let mut v = example_manifest();
    v["files"][0]["path"] = json!("../etc/passwd");
    assert!(err_of(&v).contains("files[0].path"), "{}", err_of(&v));

    let mut v = example_manifest();
    v["runtime"]["memory_bytes"] = json!("lots");
    assert!(err_of(&v).contains("runtime.memory_bytes"), "{}", err_of(&v));

    let mut v = example_manifest();
    v["format"]["weights"] = json!("gguf");
    assert!(err_of(&v).contains("format.weights"), "{}", err_of(&v));

    let mut v = example_manifest();
    v["description"] = json!("x".repeat(manifest::MAX_MANIFEST_BYTES));
    assert!(err_of(&v).contains("more than the"), "{}", err_of(&v));

    // The run a result was trained in (what verifiers fetch checkpoints from) must be a CID,
    // the trace root 32 bytes of hex, a parent a CID: a malformed one is refused, not followed.
    let mut v = example_manifest();
    v["provenance"] = json!({ "run": "../../etc", "trace_root": "AB".repeat(32) });
    let e = err_of(&v);
    assert!(e.contains("provenance.run") && e.contains("provenance.trace_root"), "{e}");
    let mut v = example_manifest();
    v["provenance"] = json!({ "run": "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o" });
    parse(&serde_json::to_vec(&v).unwrap()).expect("a run named by its CID");
    let mut v = example_manifest();
    v["parents"] = json!([{ "cid": "bafy-not-a-cid", "relation": "finetune" }]);
    assert!(err_of(&v).contains("parents[0].cid"), "{}", err_of(&v));

    // Several problems at once are all reported.
    let mut v = example_manifest();
    v["name"] = json!("");
    v["interfaces"] = json!([]);
    let e = err_of(&v);
    assert!(e.contains("name:") && e.contains("interfaces:"), "{e}");
}

fn write_package(dir: &Path) {
    std::fs::create_dir_all(dir.join("tokenizer")).unwrap();
    std::fs::write(dir.join(manifest::MANIFEST_FILE), TEMPLATE).unwrap();
    std::fs::write(dir.join("config.json"), br#"{"model_type":"iollm-gpt"}"#).unwrap();
    std::fs::write(dir.join("model.safetensors"), pattern(700_000, 5)).unwrap();
    std::fs::write(dir.join("tokenizer/tokenizer.json"), b"{}").unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_pull_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = tmp.path().join("pkg");
    write_package(&pkg);
    let opts = AddOptions::v1();
    let p = prepare_package(&pkg, &opts).unwrap();
    let m: &Manifest = &p.manifest;
    let paths: Vec<_> = m.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["config.json", "model.safetensors", "tokenizer/tokenizer.json"]);
    // Idempotent: the same package gives the same manifest and package CIDs.
    let p2 = prepare_package::<Manifest>(&pkg, &opts).unwrap();
    assert_eq!((p.manifest_cid, p.package_cid), (p2.manifest_cid, p2.package_cid));
    assert_eq!(p.package_cid, cid_of_file(&pkg, &opts).unwrap());
    // Naming the package as `pkg/.` changes nothing.
    let p3 = prepare_package::<Manifest>(&pkg.join("."), &opts).unwrap();
    assert_eq!(p3.manifest_cid, p.manifest_cid);

    let node = Node::start(&tmp.path().join("repo"), "127.0.0.1:0".parse().unwrap()).await;
    let c = node.client();
    let published = publish_package::<Manifest, _>(&c, &pkg, &opts).await.unwrap();
    assert_eq!(published.package_cid, p.package_cid);
    let added = c.put_dir(&pkg, &opts).await.unwrap();
    assert_eq!(added.cid, p.package_cid);
    let out = tmp.path().join("pulled");
    let pulled = pull_package(&c, &published.package_cid, &out).await.unwrap();
    assert_eq!(pulled, verify_package(&out).unwrap());
    // fetch_verified alone gives the same tree.
    let out2 = tmp.path().join("pulled2");
    fetch_verified(&c, &added.cid, &out2).await.unwrap();
    assert_eq!(&pulled, m);
    for f in &m.files {
        assert_eq!(
            std::fs::read(pkg.join(&f.path)).unwrap(),
            std::fs::read(out.join(&f.path)).unwrap()
        );
    }
    // Pulling into an existing directory is refused.
    assert!(pull_package(&c, &published.package_cid, &out).await.is_err());
    // A package whose manifest does not match its files is rejected by pull, leaving nothing.
    let bad = tmp.path().join("bad");
    write_package(&bad);
    prepare_package::<Manifest>(&bad, &opts).unwrap();
    std::fs::write(bad.join("config.json"), b"{\"changed\":1}").unwrap();
    let bad_cid = c.put_dir(&bad, &opts).await.unwrap().cid;
    let out3 = tmp.path().join("pulled3");
    // The DAG's config.json is not the CID its manifest lists: refused before writing.
    let e = pull_package(&c, &bad_cid, &out3).await.unwrap_err();
    assert!(matches!(e, Error::CidMismatch { .. }), "{e}");
    assert!(!out3.exists());
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("iollm-pull") || n.contains("partial"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // A pulled file changed afterwards is caught by verify_package, naming the field.
    std::fs::write(out.join("config.json"), b"{}").unwrap();
    let e = verify_package::<Manifest>(&out).unwrap_err().to_string();
    assert!(e.contains("files[0].size") && e.contains("files[0].sha256"), "{e}");
    node.stop().await;
}

#[test]
fn bad_packages() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = AddOptions::default();
    // No smip.json.
    let d = tmp.path().join("empty");
    std::fs::create_dir(&d).unwrap();
    let e = prepare_package::<Manifest>(&d, &opts).unwrap_err();
    assert!(matches!(e, Error::MissingFile(_)) && e.to_string().contains("smip.json"), "{e}");
    // Missing package directory.
    let e = prepare_package::<Manifest>(&tmp.path().join("nope"), &opts).unwrap_err();
    assert!(e.to_string().contains("nope"), "{e}");
    // No weights file.
    let d = tmp.path().join("noweights");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("smip.json"), TEMPLATE).unwrap();
    std::fs::write(d.join("config.json"), b"{}").unwrap();
    let e = prepare_package::<Manifest>(&d, &opts).unwrap_err().to_string();
    assert!(e.contains("format.weights"), "{e}");
    // A symlink leaving the package.
    #[cfg(unix)]
    {
        let d = tmp.path().join("escape");
        write_package(&d);
        std::os::unix::fs::symlink("../../outside", d.join("link")).unwrap();
        let e = prepare_package::<Manifest>(&d, &opts).unwrap_err();
        assert!(matches!(e, Error::SymlinkEscapes { .. }), "{e}");
        // Even one that stays inside: packages hold regular files only.
        let d = tmp.path().join("innerlink");
        write_package(&d);
        std::os::unix::fs::symlink("config.json", d.join("alias.json")).unwrap();
        let e = prepare_package::<Manifest>(&d, &opts).unwrap_err();
        assert!(matches!(e, Error::SymlinkInPackage(_)), "{e}");
        assert!(e.to_string().contains("alias.json"), "{e}");
    }
    // A listed file missing after pull.
    let d = tmp.path().join("pkg");
    write_package(&d);
    prepare_package::<Manifest>(&d, &opts).unwrap();
    std::fs::remove_file(d.join("tokenizer/tokenizer.json")).unwrap();
    let e = verify_package::<Manifest>(&d).unwrap_err().to_string();
    assert!(e.contains("files[2].path: missing file"), "{e}");
}
