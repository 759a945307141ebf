//! End to end: publish a model package (IPFS + registry) with the lineage its manifest states
//! and pull it back by its id, verified, through `iollm-artifacts`; a package whose manifest
//! states another lineage than the chain records is refused and leaves nothing behind, and a
//! parent the chain cannot pay (named by CID alone) is refused before anything is registered,
//! as is a registration or new version by CID under another lineage than the package states;
//! and a job's output package is attestable only when it is the run its trace proves.

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
        let (cid, files) = pull(published.id, &pulled).await?;
        assert_eq!(cid, published.package_cid);
        assert_eq!(files.len(), 2);
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

        // Registering a package by its CID (`iollm model register --cid`) under another
        // lineage than it states is refused before anything is sent.
        let before = registry.count().await?;
        let register = |lineage| {
            iollm_artifacts::register_package(ctx, &store, &alice, Kind::Model, &cid, lineage, rule)
        };
        let none = Lineage { parents: vec![], job: None };
        let err = register(&none).await.unwrap_err();
        assert!(matches!(err, ArtifactError::NotItsLineage { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("states parents [1:Merge], no job, not the parents [], no job being"),
            "{err}"
        );
        assert_eq!(registry.count().await?, before, "nothing registered");
        // Under the lineage it states it is registered, and pulls back.
        let merge = vec![Parent { id: 1, relation: Relation::Merge }];
        let stated = Lineage { parents: merge, job: None };
        let registered = register(&stated).await?.id;
        let registered_pulled = tmp.path().join("registered");
        pull(registered, &registered_pulled).await?;

        // A new version has its predecessor's parents and no job, and its package must say so:
        // the merge's package is no new version of the base; a package stating no parent is.
        let new_version =
            |cid| iollm_artifacts::new_version(ctx, &store, &alice, published.id, cid);
        let err = new_version(&cid).await.unwrap_err();
        assert!(matches!(err, ArtifactError::NotItsLineage { .. }), "{err}");
        assert_eq!(registry.count().await?, before + 1, "nothing registered");
        let second = tmp.path().join("base-v2");
        write_package(&second, json!([]))?;
        std::fs::write(second.join("config.json"), br#"{"model_type":"iollm-gpt","n_layer":2}"#)?;
        let added = iollm_artifacts::add_package::<iollm_content::Manifest, _>(&store, &second)
            .await?
            .package_cid;
        let version = new_version(&iollm_content::format_cid(&added)).await?.id;
        let record = iollm_cli::model::show(ctx, version).await?;
        assert_eq!((record.version, record.previous), (2, Some(published.id)));
        let version_pulled = tmp.path().join("base-v2-pulled");
        pull(version, &version_pulled).await?;
        anyhow::Ok(())
    })
    .await?
}

/// A verifier attests only an output package that is the run the trace proves
/// ([`iollm_worker::output`]): the job's lineage, the committed trace root, the job's model
/// and the last state's weights bit for bit. Each way an executor could submit something else
/// under an honest trace is refused by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_is_attested_only_when_it_holds_the_proven_last_state() -> Result<()> {
    use iollm_content::ContentStore as _;
    use iollm_worker::output::{check_output, check_output_until, Expected, Kept, OutputError};
    tokio::time::timeout(std::time::Duration::from_secs(300), async {
        let mut net = testnet().await?;
        let ctx = &net.connection;
        let tmp = tempfile::tempdir()?;
        let store = iollm_artifacts::ipfs_client(ctx)?;
        let (cfg, trainer) = iollm_tests::game_run()?;
        let run = tmp.path().join("run");
        let two = iollm_compute::Runtime::new(2);
        iollm_compute::train(&cfg, &run, &two, &mut iollm_compute::go_on)?;
        let trace_root = iollm_compute::run_result(&run)?.trace_root;
        let n = cfg.n_checkpoints();
        let (last, _) = trainer.load_checkpoint(&iollm_compute::train::checkpoint_path(&run, n))?;
        let charlie = Signer::dev("charlie")?;
        let (job, artifact) = (7, 3);
        let out = tmp.path().join("output");
        let honest =
            iollm_tests::publish_output(ctx, (job, artifact), &charlie, &cfg, &run, &out).await?;
        let expected = Expected { job, artifact, trace_root, trainer: &trainer, last: &last };
        // Its publisher's pin is not the checker's to take away; without one, the checker
        // pins it (and says so, to unpin it at release).
        let cid = iollm_content::parse_cid(&honest)?;
        assert_eq!(check_output(&store, honest.as_bytes(), &expected).await?, Kept::AlreadyPinned);
        store.unpin(&cid).await?;
        assert_eq!(check_output(&store, honest.as_bytes(), &expected).await?, Kept::Pinned(cid));
        assert!(store.pins().await?.contains(&cid));
        std::fs::copy(out.join("smip.json"), tmp.path().join("smip.json"))?;
        // Every question an output game may ask of it is answered by a proof that the
        // contract's reader accepts against the job's commitments (each 4 KiB chunk of the
        // last state's parameters lies whole in one leaf of the published weights, at the
        // data section's start + 4096·c).
        use iollm_compute::merkle::Sha;
        use iollm_types::package::{check, AnswerError, Question, Submitted};
        let commit = iollm_worker::game_spec(&trainer, &cfg, 5).output;
        let result = iollm_compute::run_result(&run)?;
        let last_of = (&last, result.last_path.as_slice());
        let package = iollm_content::parse_cid(&honest)?;
        let (bytes, leaves) = (package.to_bytes(), n as u64 + 1);
        let chunks = commit.chunks() as u32;
        let mut questions = vec![Question::Listing, Question::Config];
        questions.extend((0..commit.pieces() as u32).map(Question::Header));
        questions.extend([0, 1, chunks / 2, chunks - 1].map(Question::Chunk));
        for &q in &questions {
            let answer = iollm_worker::output::answer(&store, &package, &trainer, last_of, q).await?;
            assert_eq!(check::<Sha>(&commit, &Submitted { output: &bytes, trace_root: &trace_root, trace_leaves: leaves }, &q, &answer), Ok(()), "{q}");
        }
        assert!(!commit.asks(&Question::Chunk(chunks)), "nothing past the last chunk");
        // A question the output game may ask, and the executor of each forgery below cannot
        // answer with the best proof it has.
        let unanswerable = |cid: String, q: Question| {
            let (store, trainer, commit) = (&store, &trainer, &commit);
            async move {
                let cid = iollm_content::parse_cid(&cid)?;
                let answer = iollm_worker::output::answer(store, &cid, trainer, last_of, q).await?;
                let (output, trace_root) = (cid.to_bytes(), &trace_root);
                let submitted = Submitted { output: &output, trace_root, trace_leaves: leaves };
                let checked = check::<Sha>(commit, &submitted, &q, &answer);
                assert!(
                    matches!(checked, Err(AnswerError::Mismatch | AnswerError::Unreadable)),
                    "{q}: {checked:?}"
                );
                anyhow::Ok(())
            }
        };

        // Another job's output, or a fine-tune of another artifact: its lineage is refused.
        for (job, artifact) in [(8, 3), (7, 4)] {
            let other = Expected { job, artifact, ..expected };
            let err = check_output(&store, honest.as_bytes(), &other).await.unwrap_err();
            assert!(matches!(err, OutputError::Lineage { .. }), "{err}");
        }
        // The package of another run (another trace root) under this trace.
        let other = Expected { trace_root: [9; 32], ..expected };
        let err = check_output(&store, honest.as_bytes(), &other).await.unwrap_err();
        assert!(matches!(err, OutputError::TraceRoot { .. }), "{err}");
        assert!(!err.is_local());

        // One bit of one weight changed, re-sealed as a package of its own: the trace still
        // proves the honest run, the output is not it.
        let (model, params) = iollm_compute::io::load_model(&out)?;
        let mut flipped = params.clone();
        flipped[1234] = f32::from_bits(flipped[1234].to_bits() ^ 1);
        iollm_compute::io::save_model(&out, &model, &flipped)?;
        let tampered = iollm_artifacts::add_package::<iollm_content::Manifest, _>(&store, &out).await?.package_cid;
        let tampered = iollm_content::format_cid(&tampered);
        let err = check_output(&store, tampered.as_bytes(), &expected).await.unwrap_err();
        let total = params.len();
        assert!(
            matches!(err, OutputError::Weights { differing: 1, first: 1234, total: t, .. } if t == total),
            "{err}"
        );
        assert_eq!(err.question(), Some(Question::Chunk(1)), "parameter 1234 is in chunk 1");
        unanswerable(tampered, Question::Chunk(1)).await?;
        // Another model (a shorter context) with as many weights as it needs.
        let short = iollm_compute::GptConfig { n_ctx: 8, ..model.clone() };
        let fewer = &params[..total - 8 * model.n_embd];
        iollm_compute::io::save_model(&out, &short, fewer)?;
        let reshaped = iollm_artifacts::add_package::<iollm_content::Manifest, _>(&store, &out).await?.package_cid;
        let reshaped = iollm_content::format_cid(&reshaped);
        let err = check_output(&store, reshaped.as_bytes(), &expected).await.unwrap_err();
        assert!(matches!(err, OutputError::Config { .. }), "{err}");
        assert_eq!(err.question(), Some(Question::Config));
        unanswerable(reshaped, Question::Config).await?;

        // The honest bytes in other layouts, which no output game could be won from (its
        // executor, and any attester defending it, would lose): challenged, not attested.
        // Kubo's 256 KiB leaves hold every piece whole, but no proof through one fits a call;
        // leaves of 1000 bytes hold no piece whole.
        iollm_compute::io::save_model(&out, &model, &params)?;
        let leaves = |chunk_size| iollm_content::AddOptions {
            chunk_size,
            ..iollm_artifacts::package_options()
        };
        let kubo = iollm_content::publish_package::<iollm_content::Manifest, _>(&store, &out, &leaves(256 << 10)).await?;
        let small = iollm_content::publish_package::<iollm_content::Manifest, _>(&store, &out, &leaves(1000)).await?;
        let (kubo, small) = (kubo.package_cid, small.package_cid);
        for layout in [kubo, small] {
            let layout = iollm_content::format_cid(&layout);
            let err = check_output(&store, layout.as_bytes(), &expected).await.unwrap_err();
            let header = Question::Header(0);
            assert!(matches!(err, OutputError::Unprovable { question } if question == header), "{err}");
            unanswerable(layout, header).await?;
        }
        // The honest bytes in another layout every question reads (UnixFS leaves, not raw ones,
        // of the same 32 KiB): attested once every question is tried (the first difference
        // from the export, there is none, cannot shortcut it).
        let opts = iollm_content::AddOptions {
            raw_leaves: false,
            ..iollm_artifacts::package_options()
        };
        let wrapped = iollm_content::publish_package::<iollm_content::Manifest, _>(&store, &out, &opts).await?.package_cid;
        let wrapped = iollm_content::format_cid(&wrapped);
        let scan = std::time::Instant::now();
        let kept = check_output(&store, wrapped.as_bytes(), &expected).await?;
        assert_eq!(kept, Kept::AlreadyPinned);
        let questions = 1 + commit.pieces() + commit.chunks();
        eprintln!("every question of a package tried in {:?} ({questions} questions)", scan.elapsed());
        // The same, its last leaf collected after the pull and not served again: a question
        // that could not be read is not vouched for.
        let wrapped_cid = iollm_content::parse_cid(&wrapped)?;
        let weights = iollm_compute::io::WEIGHTS_FILE;
        let end = commit.header_len + 4 * commit.params - 1;
        let proof = iollm_content::prove_at(&store, &wrapped_cid, weights, end).await?;
        let last_leaf = proof.last().expect("a leaf");
        let digest = <Sha as iollm_repops::merkle::Hasher>::hash(&[last_leaf]);
        let (v1, pb) = (iollm_content::CidVersion::V1, iollm_content::options::DAG_PB);
        let collected = Withholds::after_once(store.clone(), iollm_content::options::cid_for(v1, pb, digest));
        let err = check_output(&collected, wrapped.as_bytes(), &expected).await.unwrap_err();
        assert!(matches!(&err, OutputError::Fetch(iollm_content::Error::BlockNotFound(_))), "{err}");
        assert_eq!(err.question(), None, "nothing the chain can be shown");

        // The honest model with a file beside it that a loader could read instead (a GGUF
        // model, which `iollm model serve` prefers): refused before anything is pulled.
        std::fs::write(out.join("x.gguf"), b"GGUF another model")?;
        let beside = iollm_artifacts::add_package::<iollm_content::Manifest, _>(&store, &out).await?.package_cid;
        let beside = iollm_content::format_cid(&beside);
        let err = check_output(&store, beside.as_bytes(), &expected).await.unwrap_err();
        assert!(matches!(err, OutputError::Listing), "{err}");
        unanswerable(beside, Question::Listing).await?;
        // The same file in the directory but not in the honest `smip.json` kept beside it:
        // found in the directory itself, whatever `smip.json` lists.
        std::fs::write(out.join("smip.json"), std::fs::read(tmp.path().join("smip.json"))?)?;
        let opts = iollm_artifacts::package_options();
        let unlisted = iollm_content::ContentStore::put_dir(&store, &out, &opts).await?.cid;
        let unlisted = iollm_content::format_cid(&unlisted);
        let err = check_output(&store, unlisted.as_bytes(), &expected).await.unwrap_err();
        assert!(matches!(err, OutputError::Listing), "{err}");
        unanswerable(unlisted, Question::Listing).await?;
        std::fs::remove_file(out.join("x.gguf"))?;

        // Not a CID at all.
        let err = check_output(&store, b"not a cid", &expected).await.unwrap_err();
        assert!(matches!(err, OutputError::BadCid { .. }), "{err}");
        assert!(!err.is_local());

        // An output whose blocks are never served (each request kept just inside the
        // client's timeouts would do the same, for hours): given up at the deadline (a
        // verifier's is its reveal window's last blocks), not waited for.
        let stalled = Withholds::every_block(iollm_artifacts::ipfs_client(ctx)?);
        let deadline = tokio::time::sleep(std::time::Duration::from_millis(500));
        let err = check_output_until(&stalled, honest.as_bytes(), &expected, deadline)
            .await
            .unwrap_err();
        assert!(matches!(err, OutputError::TooSlow), "{err}");
        assert!(!err.is_local());
        let never = std::future::pending();
        check_output_until(&store, honest.as_bytes(), &expected, never).await?;

        // This machine's IPFS daemon away: not the package's fault, to check again later.
        net.stop_ipfs().await;
        let err = check_output(&store, honest.as_bytes(), &expected).await.unwrap_err();
        assert!(err.is_local(), "{err}");
        anyhow::Ok(())
    })
    .await?
}

/// A content store that withholds blocks: every block, forever (an executor that does not
/// serve its output), or one block once it was served (blocks collected after a pull).
struct Withholds {
    store: iollm_content::KuboClient,
    once: Option<(iollm_content::Cid, std::sync::atomic::AtomicBool)>,
}

impl Withholds {
    fn every_block(store: iollm_content::KuboClient) -> Withholds {
        Withholds { store, once: None }
    }

    fn after_once(store: iollm_content::KuboClient, block: iollm_content::Cid) -> Withholds {
        Withholds { store, once: Some((block, false.into())) }
    }
}

impl iollm_content::ContentStore for Withholds {
    async fn put_file(
        &self,
        path: &Path,
        opts: &iollm_content::AddOptions,
    ) -> iollm_content::Result<iollm_content::Added> {
        self.store.put_file(path, opts).await
    }
    async fn put_dir(
        &self,
        path: &Path,
        opts: &iollm_content::AddOptions,
    ) -> iollm_content::Result<iollm_content::Added> {
        self.store.put_dir(path, opts).await
    }
    async fn get_block(&self, cid: &iollm_content::Cid) -> iollm_content::Result<bytes::Bytes> {
        use std::sync::atomic::Ordering::SeqCst;
        match &self.once {
            None => std::future::pending().await,
            Some((block, served)) if block == cid && served.swap(true, SeqCst) => {
                Err(iollm_content::Error::BlockNotFound(Box::new(*cid)))
            }
            Some(_) => self.store.get_block(cid).await,
        }
    }
    async fn stat(&self, cid: &iollm_content::Cid) -> iollm_content::Result<u64> {
        self.store.stat(cid).await
    }
    async fn pin(&self, cid: &iollm_content::Cid) -> iollm_content::Result<()> {
        self.store.pin(cid).await
    }
    async fn unpin(&self, cid: &iollm_content::Cid) -> iollm_content::Result<()> {
        self.store.unpin(cid).await
    }
    async fn pins(&self) -> iollm_content::Result<Vec<iollm_content::Cid>> {
        self.store.pins().await
    }
}
