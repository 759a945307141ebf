//! End to end: publish a model package (IPFS + registry) with the lineage its manifest states
//! and pull it back by its id, verified, through `iollm-artifacts`; a package whose manifest
//! states another lineage than the chain records is refused and leaves nothing behind, and a
//! parent the chain cannot pay (named by CID alone) is refused before anything is registered.

use anyhow::Result;
use iollm_artifacts::{ArtifactError, Lineage};
use iollm_chain::Signer;
use iollm_tests::testnet;
use iollm_types::registry::{Kind, Parent, Relation};
use iollm_types::split::SplitRule;
use serde_json::{json, Value};
use std::path::Path;

const TEMPLATE: &str = include_str!("../../crates/content/schema/examples/smip.template.json");

/// A package in `dir`: the template's manifest stating `parents` and no job.
fn write_package(dir: &Path, parents: Value) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut manifest: Value = serde_json::from_str(TEMPLATE)?;
    manifest["parents"] = parents;
    manifest["provenance"].as_object_mut().expect("an object").remove("job_id");
    std::fs::write(dir.join("smip.json"), serde_json::to_vec_pretty(&manifest)?)?;
    std::fs::write(dir.join("config.json"), br#"{"model_type":"iollm-gpt","n_layer":1}"#)?;
    // Over one 256 KiB chunk, so the file is a multi-block DAG.
    let weights: Vec<u8> = (0..600_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(dir.join("model.safetensors"), weights)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_then_pull_round_trips_byte_for_byte_with_one_lineage() -> Result<()> {
    tokio::time::timeout(std::time::Duration::from_secs(300), async {
        let net = testnet().await?;
        let ctx = &net.connection;
        let tmp = tempfile::tempdir()?;
        let store = iollm_artifacts::ipfs_client(ctx)?;
        let alice = Signer::dev("alice")?;
        let rule = SplitRule::DESIGNER_ONLY;
        let publish = |dir| iollm_artifacts::publish(ctx, &store, &alice, Kind::Model, dir, rule);
        let limit = iollm_content::PullOptions::default();
        let pull = |id, dest| iollm_artifacts::pull(ctx, &store, id, dest, &limit);

        let base = tmp.path().join("base");
        write_package(&base, json!([]))?;
        let published = publish(&base).await?;
        assert_eq!(published.id, 1);
        assert_eq!(published.lineage, Lineage { parents: vec![], job: None });
        // The chain records exactly the CID `iollm cid` computes offline.
        let offline = iollm_content::cid_of_file(&base, &iollm_artifacts::package_options())?;
        assert_eq!(published.package_cid, offline);
        let record = iollm_cli::model::show(ctx, published.id).await?;
        assert_eq!(record.manifest_cid, iollm_content::format_cid(&offline).as_bytes());

        let pulled = tmp.path().join("pulled");
        let (cid, manifest) = pull(published.id, &pulled).await?;
        assert_eq!(cid, published.package_cid);
        assert_eq!(manifest.files.len(), 2);
        for name in ["smip.json", "config.json", "model.safetensors"] {
            assert_eq!(
                std::fs::read(pulled.join(name))?,
                std::fs::read(base.join(name))?,
                "{name}"
            );
        }
        // Pulling into an existing directory is refused without touching it.
        let err = pull(published.id, &pulled).await.unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        // An id with nothing registered is a clear error and writes nothing.
        let missing = tmp.path().join("missing");
        let err = pull(99, &missing).await.unwrap_err();
        assert_eq!(err.to_string(), "no artifact with id 99");
        assert!(!missing.exists());

        // A merge of the base: the chain records the parent the manifest states.
        let child = tmp.path().join("child");
        write_package(&child, json!([{ "id": 1, "relation": "merge" }]))?;
        let merged = publish(&child).await?;
        let record = iollm_cli::model::show(ctx, merged.id).await?;
        assert_eq!(record.parents, vec![Parent { id: 1, relation: Relation::Merge }]);
        let child_pulled = tmp.path().join("child-pulled");
        pull(merged.id, &child_pulled).await?;

        // A parent named by CID alone cannot be paid: refused before anything is registered.
        let orphan = tmp.path().join("orphan");
        let base_cid = iollm_content::format_cid(&published.package_cid);
        write_package(&orphan, json!([{ "cid": base_cid, "relation": "finetune" }]))?;
        let registry = ctx.registry()?;
        let before = registry.count().await?;
        let err = publish(&orphan).await.unwrap_err();
        assert!(matches!(err, ArtifactError::UnregisteredParent { index: 0, .. }), "{err}");
        assert!(err.to_string().contains("register that parent"), "{err}");
        assert_eq!(registry.count().await?, before, "nothing registered");

        // The attack: the merge's package registered by hand without its parent, so that the
        // base's owner is never paid. Its pull is refused and keeps nothing.
        let cid = iollm_content::format_cid(&merged.package_cid);
        let unpaid = ctx
            .registry()?
            .register(&alice, Kind::Model, &cid, &[], SplitRule::DESIGNER_ONLY)
            .await?
            .id;
        let dest = tmp.path().join("unpaid");
        let err = pull(unpaid, &dest).await.unwrap_err();
        assert!(matches!(err, ArtifactError::LineageMismatch { .. }), "{err}");
        assert!(
            err.to_string().contains(
                "states parents [1:Merge], no job but the chain records parents [], no job"
            ),
            "{err}"
        );
        assert!(!dest.exists(), "nothing kept");
        anyhow::Ok(())
    })
    .await?
}
