//! End to end against a real substrate-contracts-node: the registry contract built with
//! cargo-contract, deployed through `iollm-chain`, driven through the CLI's library code.

use anyhow::{ensure, Result};
use iollm_chain::{Chain, ChainError, Signer};
use iollm_cli::{devnet, model};
use iollm_tests::testnet;
use iollm_types::registry::Kind;

const CID: &str = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4";

#[tokio::test]
async fn register_emits_the_event_and_stores_the_record() -> Result<()> {
    let net = testnet().await?;
    let bob = Signer::dev("bob")?;
    let balance_before = net.ctx.chain.free_balance(&bob.account()).await?;

    let registration = model::register(&net.ctx, &bob, Kind::Dataset, CID).await?;

    assert_eq!(registration.id, 1);
    assert_eq!(registration.event.id, 1);
    assert_eq!(registration.event.kind, Kind::Dataset);
    assert_eq!(registration.event.owner, bob.account_bytes());
    assert_eq!(registration.event.manifest_cid, CID.as_bytes());

    let record = model::show(&net.ctx, registration.id).await?;
    assert_eq!(record.kind, Kind::Dataset);
    assert_eq!(record.owner, bob.account_bytes());
    assert_eq!(record.manifest_cid, CID.as_bytes());
    assert!(record.registered_at > 0);
    assert_eq!(net.ctx.registry()?.count().await?, 1);

    // Bob paid exactly the fee plus the storage deposit the dry-run measured.
    let call = &registration.call;
    let iollm_chain::contract::StorageDeposit::Charge(deposit) = call.dry_run.storage_deposit
    else {
        panic!("a new record must charge a deposit, got {:?}", call.dry_run.storage_deposit)
    };
    ensure!(call.fee > 0 && deposit > 0, "fee {} deposit {deposit}", call.fee);
    let balance_after = net.ctx.chain.free_balance(&bob.account()).await?;
    assert_eq!(balance_before - balance_after, call.fee + deposit);

    let second = model::register(&net.ctx, &Signer::dev("charlie")?, Kind::Model, CID).await?;
    assert_eq!(second.id, 2);
    assert!(matches!(model::show(&net.ctx, 3).await, Err(model::ModelError::NotFound(3))));
    Ok(())
}

#[tokio::test]
async fn bad_input_and_unfunded_callers_are_refused_and_store_nothing() -> Result<()> {
    let net = testnet().await?;
    let alice = Signer::dev("alice")?;
    let balance_before = net.ctx.chain.free_balance(&alice.account()).await?;
    let too_long = "b".repeat(129);
    for (cid, expected) in [
        ("", "registry refused: the manifest CID is empty"),
        (too_long.as_str(), "registry refused: the manifest CID is longer than 128 bytes"),
        ("notacid", "registry refused: the manifest CID is not a CIDv0 (Qm…) or base32 CIDv1 (b…) of a known codec"),
        // A base32 CIDv1 one character short: its multihash length no longer matches.
        ("bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei", "registry refused: the manifest CID is not a CIDv0 (Qm…) or base32 CIDv1 (b…) of a known codec"),
    ] {
        let err = model::register(&net.ctx, &alice, Kind::Model, cid).await.unwrap_err();
        assert_eq!(err.to_string(), expected);
    }
    // Refusals are found by the dry-run: nothing was submitted, so no fee was paid.
    assert_eq!(net.ctx.chain.free_balance(&alice.account()).await?, balance_before);

    let pauper = Signer::from_suri("//NobodyWithFunds")?;
    let err = model::register(&net.ctx, &pauper, Kind::Model, CID).await.unwrap_err();
    assert!(matches!(err, model::ModelError::Chain(ChainError::InsufficientFunds { .. })), "{err}");
    assert!(err.to_string().contains("too little balance"), "{err}");
    assert_eq!(net.ctx.registry()?.count().await?, 0);
    assert!(matches!(model::parse_kind("weights"), Err(model::ModelError::UnknownKind(_))));
    Ok(())
}

#[tokio::test]
async fn a_dead_node_is_reported_with_the_command_that_starts_one() -> Result<()> {
    let port = devnet::free_port()?;
    let err = Chain::connect(&format!("ws://127.0.0.1:{port}")).await.unwrap_err();
    assert!(matches!(err, ChainError::NodeUnreachable { .. }), "{err}");
    assert!(err.to_string().contains("iollm devnet up"), "{err}");
    Ok(())
}
