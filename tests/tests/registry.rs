//! End to end against a real substrate-contracts-node: the registry contract built with
//! cargo-contract, deployed through `iollm-chain`, driven through the CLI's library code.

use anyhow::{ensure, Context as _, Result};
use iollm_chain::{Chain, ChainError, Signer};
use iollm_cli::context::Context;
use iollm_cli::devnet::{self, ContractArtifact, Deployment, NodeProcess, Paths, Status, Up};
use iollm_cli::model;
use iollm_types::registry::Kind;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

const CID: &str = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4";

fn checkout() -> Paths {
    Paths::at(Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned())
}

/// A node on a temporary base path with the contracts deployed; the node dies with it.
struct TestNet {
    ctx: Context,
    _node: NodeProcess,
    _dir: tempfile::TempDir,
}

/// The contracts, built once per test process (concurrent cargo-contract runs would race on
/// the same output files).
fn contracts() -> Result<BTreeMap<String, ContractArtifact>> {
    static BUILT: Mutex<Option<BTreeMap<String, ContractArtifact>>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if built.is_none() {
        devnet::node_binary()
            .context("the end-to-end tests need the devnet tools: run scripts/setup.sh")?;
        let names = devnet::CONTRACTS.iter().map(|c| c.name);
        *built = Some(devnet::build_contracts(&checkout().contracts(), names)?);
    }
    Ok(built.clone().expect("built above"))
}

async fn testnet() -> Result<TestNet> {
    let artifacts = contracts()?;
    let dir = tempfile::tempdir()?;
    let node = NodeProcess::start(dir.path()).await?;
    let chain = Chain::connect(&node.rpc_url()).await?;
    let contracts = devnet::deploy_contracts(&chain, &Signer::dev("alice")?, &artifacts).await?;
    let deployment = Deployment { rpc_url: node.rpc_url(), node: None, contracts };
    Ok(TestNet { ctx: Context::new(chain, deployment), _node: node, _dir: dir })
}

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
        ("Qm not/a cid", "registry refused: the manifest CID contains characters no CID has"),
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

/// Whether `pid` is a live process (not gone, not a zombie awaiting its parent, this test).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

#[tokio::test]
async fn devnet_up_status_down_manage_exactly_one_node() -> Result<()> {
    contracts()?; // `up` builds them again: let it find them built
    let state = tempfile::tempdir()?;
    let paths = Paths { state: state.path().to_owned(), ..checkout() };
    assert!(matches!(devnet::status(&paths).await?, Status::NotStarted));
    assert_eq!(devnet::down(&paths).await?, None, "nothing to stop yet");

    let Up::Started(first) = devnet::up(&paths).await? else { panic!("expected a new devnet") };
    let result = async {
        let pid = first.node.as_ref().context("up records its node")?.pid;
        assert!(first.contracts.contains_key("registry"));
        assert_eq!(Deployment::load(&paths.deployment_file())?, first);

        let Up::AlreadyRunning(second) = devnet::up(&paths).await? else {
            panic!("a second up must report the running devnet")
        };
        assert_eq!(second, first);
        assert!(matches!(devnet::status(&paths).await?, Status::Running(_)));
        assert_eq!(devnet::down(&paths).await?, Some(pid));
        ensure!(!alive(pid), "node {pid} still alive");
        Ok(())
    }
    .await;
    if result.is_err() {
        let _ = devnet::down(&paths).await;
    }
    result?;
    assert!(matches!(devnet::status(&paths).await?, Status::NotStarted));
    assert_eq!(devnet::down(&paths).await?, None);
    Ok(())
}
