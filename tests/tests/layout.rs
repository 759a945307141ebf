//! The dependency direction of ARCHITECTURE.md, checked on `cargo metadata`: which of our crates
//! may depend on which, and which crates alone may use subxt, cudarc, the IPFS client, the
//! database and the HTTP server framework.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// Our crates and the crates of ours each may depend on (normal dependencies).
const ALLOWED: &[(&str, &[&str])] = &[
    // The dispute game's referee: the step program, Merkle proofs, soft floats.
    ("iollm-types", &["iollm-repops"]),
    ("iollm-chain", &["iollm-types"]),
    ("iollm-content", &[]),
    // The trainer runs the profile's definitions shared with the referee contract.
    ("iollm-compute", &["iollm-repops"]),
    // The soft-float the referee contract links: nothing of ours (its tests use iollm-compute).
    ("iollm-repops", &[]),
    ("iollm-paths", &["iollm-compute", "iollm-content"]),
    (
        "iollm-worker",
        &[
            "iollm-artifacts",
            "iollm-chain",
            "iollm-content",
            "iollm-compute",
            "iollm-paths",
            "iollm-types",
            "iollm-repops",
        ],
    ),
    ("iollm-indexer", &["iollm-chain", "iollm-types"]),
    // The devnet (`iollm devnet`, the tests): it starts workers as processes of the `iollm`
    // binary, never by linking them.
    ("iollm-devnet", &["iollm-chain", "iollm-content", "iollm-types"]),
    // Packages on IPFS and their registration, one lineage for both (the CLI's, the worker's).
    ("iollm-artifacts", &["iollm-chain", "iollm-content", "iollm-types"]),
    // The model server: models from compute, nothing about the chain (the CLI pulls by id).
    ("iollm-serve", &["iollm-compute"]),
];

/// External crates only the named crates of ours may use.
const EXCLUSIVE: &[(&str, &[&str])] = &[
    ("subxt", &["iollm-chain"]),
    ("cudarc", &["iollm-compute"]),
    ("ipfs-api-backend-hyper", &["iollm-content"]),
    // The one database layer: the indexer's, and the worker's crash-safe state.
    ("sqlx", &["iollm-indexer", "iollm-worker"]),
    // The one HTTP server framework: the indexer's API, the content crate's IPFS daemon, the
    // worker's metrics, the model server.
    ("axum", &["iollm-indexer", "iollm-content", "iollm-worker", "iollm-serve"]),
];

#[test]
fn crates_depend_only_in_the_designed_direction() {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("run cargo metadata");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let metadata: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for package in metadata["packages"].as_array().unwrap() {
        let name = package["name"].as_str().unwrap().to_owned();
        let normal = package["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["kind"].is_null())
            .map(|d| d["name"].as_str().unwrap().to_owned());
        deps.insert(name, normal.collect());
    }
    assert!(deps.contains_key("iollm-types") && deps.contains_key("iollm-chain"));
    // Every crate of ours but the binary's and the system tests' has its rule: a new library
    // cannot depend on the CLI unnoticed.
    for krate in deps.keys().filter(|k| k.starts_with("iollm-")) {
        let ruled = ALLOWED.iter().any(|(name, _)| name == krate);
        assert!(
            ruled || ["iollm-cli", "iollm-tests"].contains(&krate.as_str()),
            "{krate} has no rule in ALLOWED"
        );
    }

    for (krate, allowed) in ALLOWED {
        let Some(actual) = deps.get(*krate) else { continue };
        for dep in actual.iter().filter(|d| d.starts_with("iollm-")) {
            assert!(allowed.contains(&dep.as_str()), "{krate} must not depend on {dep}");
        }
    }
    for (external, owners) in EXCLUSIVE {
        for (krate, actual) in &deps {
            if actual.contains(*external) {
                assert!(
                    owners.contains(&krate.as_str()),
                    "only {owners:?} may use {external}, not {krate}"
                );
            }
        }
    }
}
