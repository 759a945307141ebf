//! End to end against a real substrate-contracts-node: the registry contract built with
//! cargo-contract, deployed through `iollm-chain`, driven through the CLI's library code.

use anyhow::{ensure, Result};
use iollm_chain::send::SendPolicy;
use iollm_chain::{Chain, ChainError, Signer};
use iollm_cli::model;
use iollm_tests::testnet;
use iollm_types::registry::Kind;
use iollm_types::split::SplitRule;
use std::time::Duration;

const CID: &str = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4";

#[tokio::test]
async fn register_emits_the_event_and_stores_the_record() -> Result<()> {
    let net = testnet().await?;
    let bob = Signer::dev("bob")?;
    let balance_before = net.connection.chain.free_balance(&bob.account()).await?;

    let registration = net
        .connection
        .registry()?
        .register(&bob, Kind::Dataset, CID, &[], SplitRule::DESIGNER_ONLY)
        .await?;

    assert_eq!(registration.id, 1);
    assert_eq!(registration.event.id, 1);
    assert_eq!(registration.event.kind, Kind::Dataset);
    assert_eq!(registration.event.owner, bob.account_bytes());
    assert_eq!(registration.event.manifest_cid, CID.as_bytes());

    let record = model::show(&net.connection, registration.id).await?;
    assert_eq!(record.kind, Kind::Dataset);
    assert_eq!(record.owner, bob.account_bytes());
    assert_eq!(record.manifest_cid, CID.as_bytes());
    assert!(record.registered_at > 0);
    assert_eq!(net.connection.registry()?.count().await?, 1);

    // Bob paid exactly the fee plus the storage deposit the dry-run measured.
    let call = &registration.call;
    let iollm_chain::contract::StorageDeposit::Charge(deposit) = call.dry_run.storage_deposit
    else {
        panic!("a new record must charge a deposit, got {:?}", call.dry_run.storage_deposit)
    };
    ensure!(call.fee > 0 && deposit > 0, "fee {} deposit {deposit}", call.fee);
    let balance_after = net.connection.chain.free_balance(&bob.account()).await?;
    assert_eq!(balance_before - balance_after, call.fee + deposit);

    let second = net
        .connection
        .registry()?
        .register(&Signer::dev("charlie")?, Kind::Model, CID, &[], SplitRule::DESIGNER_ONLY)
        .await?;
    assert_eq!(second.id, 2);
    assert!(matches!(model::show(&net.connection, 3).await, Err(model::ModelError::NotFound(3))));
    Ok(())
}

#[tokio::test]
async fn bad_input_and_unfunded_callers_are_refused_and_store_nothing() -> Result<()> {
    let net = testnet().await?;
    let alice = Signer::dev("alice")?;
    let balance_before = net.connection.chain.free_balance(&alice.account()).await?;
    let too_long = "b".repeat(129);
    for (cid, expected) in [
        ("", "registry refused: the manifest CID is empty"),
        (too_long.as_str(), "registry refused: the manifest CID is longer than 128 bytes"),
        ("notacid", "registry refused: the manifest CID is not a CIDv0 (Qm…) or base32 CIDv1 (b…) of a known codec"),
        // A base32 CIDv1 one character short: its multihash length no longer matches.
        ("bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei", "registry refused: the manifest CID is not a CIDv0 (Qm…) or base32 CIDv1 (b…) of a known codec"),
    ] {
        let err = net.connection.registry()?.register(&alice, Kind::Model, cid, &[], SplitRule::DESIGNER_ONLY).await.unwrap_err();
        assert_eq!(err.to_string(), expected);
    }
    // Refusals are found by the dry-run: nothing was submitted, so no fee was paid.
    assert_eq!(net.connection.chain.free_balance(&alice.account()).await?, balance_before);

    let pauper = Signer::from_suri("//NobodyWithFunds")?;
    let err = net
        .connection
        .registry()?
        .register(&pauper, Kind::Model, CID, &[], SplitRule::DESIGNER_ONLY)
        .await
        .unwrap_err();
    assert!(matches!(err, ChainError::InsufficientFunds { .. }), "{err}");
    assert!(err.to_string().contains("too little balance"), "{err}");
    assert_eq!(net.connection.registry()?.count().await?, 0);
    assert!(matches!(model::parse_kind("weights"), Err(model::ModelError::UnknownKind(_))));
    Ok(())
}

/// One account's transactions go through one task that owns its nonce: sent at once by many
/// callers, each lands once with its own nonce, in a mortal era, though its same signed bytes
/// are sent again every poll while it waits for finality. A node killed and started again:
/// a call made while it is down completes once it is back, on the same connection.
#[tokio::test]
async fn one_account_sends_many_at_once_and_reaches_a_restarted_node() -> Result<()> {
    let mut net = testnet().await?;
    let resend_always = SendPolicy { resend_every: Duration::ZERO, ..SendPolicy::default() };
    net.connection.chain = net.connection.chain.clone().with_send_policy(resend_always);
    let registry = net.connection.registry()?;
    let bob = Signer::dev("bob")?;
    let balance_before = net.connection.chain.free_balance(&bob.account()).await?;
    let all = tokio::time::timeout(Duration::from_secs(120), async {
        let mut sends = tokio::task::JoinSet::new();
        // Six packages: a package's first registration also records it as the first
        // (`first_with`), so each dry-run's deposit is the one its call pays only if no other
        // of them registers the same package first.
        for i in 0..6u8 {
            let (registry, bob) = (registry.clone(), bob.clone());
            let cid = iollm_content::cid_of_bytes(&[i], &iollm_content::AddOptions::v1());
            let cid = cid.expect("a CID of one byte");
            sends.spawn(async move {
                let cid = cid.to_string();
                registry.register(&bob, Kind::Model, &cid, &[], SplitRule::DESIGNER_ONLY).await
            });
        }
        sends.join_all().await
    })
    .await?;
    let mut ids = Vec::new();
    let mut nonces = Vec::new();
    let mut paid = 0;
    for sent in all {
        let sent = sent?;
        ids.push(sent.id);
        let tx = net.connection.chain.transaction(&sent.call.included).await?.expect("it landed");
        assert_eq!(tx.mortal_blocks, Some(SendPolicy::default().mortal_blocks));
        nonces.push(tx.nonce);
        let iollm_chain::contract::StorageDeposit::Charge(deposit) =
            sent.call.dry_run.storage_deposit
        else {
            panic!("a registration charges a deposit")
        };
        paid += sent.call.fee + deposit;
    }
    ids.sort_unstable();
    nonces.sort_unstable();
    assert_eq!(ids, (1..=6).collect::<Vec<u64>>());
    assert_eq!(nonces, (nonces[0]..nonces[0] + 6).collect::<Vec<u64>>(), "one nonce each");
    assert_eq!(registry.count().await?, 6);
    // Paid for six registrations, to the unit, and nothing more.
    assert_eq!(balance_before - net.connection.chain.free_balance(&bob.account()).await?, paid);

    // The node dies: a call made meanwhile waits for it (the client reconnects by itself)
    // and completes once it is back.
    net.node.kill();
    let waiting = tokio::spawn({
        let (registry, bob) = (registry.clone(), bob.clone());
        async move { registry.register(&bob, Kind::Model, CID, &[], SplitRule::DESIGNER_ONLY).await }
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!waiting.is_finished(), "nothing answers while the node is down");
    net.node.start_again().await?;
    let seventh = tokio::time::timeout(Duration::from_secs(60), waiting).await???;
    assert_eq!(seventh.id, 7, "the chain survived the restart");
    assert_eq!(registry.count().await?, 7);
    Ok(())
}

#[tokio::test]
async fn a_dead_node_is_reported_with_the_command_that_starts_one() -> Result<()> {
    let port = iollm_devnet::free_port()?;
    let err = Chain::connect(&format!("ws://127.0.0.1:{port}")).await.unwrap_err();
    assert!(matches!(err, ChainError::NodeUnreachable { .. }), "{err}");
    assert!(err.to_string().contains("iollm devnet up"), "{err}");
    Ok(())
}
