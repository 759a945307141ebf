//! What a verifier checks of a job's output package before it attests, and what an executor
//! proves of it in an output game. The dispute game proves the trace `h_0..h_n`; the output
//! game (`iollm_types::package`) ties the output CID to `h_n`. A verifier attests only an
//! output whose directory lists exactly `config.json`, `model.safetensors` and `smip.json`,
//! whose `smip.json` states the job's lineage (a fine-tune of the job's artifact, the job's id,
//! the committed trace root), and whose two model files are the one export of the committed
//! last state's weights ([`iollm_compute::io::model_files`]) under the CIDs an executor's
//! worker gives them, or at least in a layout every question of an output game can be proven
//! from ([`check_output`]). What it finds wrong that the chain can decide comes with the
//! question to challenge ([`OutputError::question`]); the rest is revealed without a check:
//! its bond back, no fee, and a job short of attestations ends unverified, so the output cannot
//! be registered as its verified result (`register_from_job`). [`answer`] and
//! [`answer_game`] make an executor's (or a defending attester's) proof.
//!
//! What it is not: a check of the trace (that is the spot check's replay).

use iollm_artifacts::Lineage;
use iollm_compute::io::{CONFIG_FILE, WEIGHTS_FILE};
use iollm_compute::merkle::Sha;
use iollm_compute::{TrainState, Trainer};
use iollm_content::manifest::WeightFormat;
use iollm_content::{Cid, ContentStore};
use iollm_types::market::JobId;
use iollm_types::package::{self, Answer, OutputCommit, Question};
use iollm_types::registry::{ArtifactId, Parent, Relation};

/// What job `job`'s output must be: a fine-tune of `artifact`, proven by the trace with root
/// `trace_root`, holding the weights of `last` (the committed `h_n`, replayed or checked
/// against it) under `trainer`'s model config.
#[derive(Clone, Copy)]
pub struct Expected<'a> {
    /// The job.
    pub job: JobId,
    /// The job's artifact (the output's one parent).
    pub artifact: ArtifactId,
    /// The committed trace root.
    pub trace_root: [u8; 32],
    /// The job's trainer (its model config).
    pub trainer: &'a Trainer,
    /// The committed last state.
    pub last: &'a TrainState,
}

/// Why an output package is not the job's proven run: one line for a person.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The result's output CID does not parse.
    #[error("the output CID {cid:?} is not a CID: {reason}")]
    BadCid {
        /// The CID as submitted.
        cid: String,
        /// Why.
        reason: String,
    },
    /// The package could not be fetched whole (not served, not a package, bytes that do not
    /// match their CIDs, too large, files that cannot be written): not attestable.
    #[error("the output package cannot be fetched whole: {0}")]
    Fetch(#[source] iollm_content::Error),
    /// This machine's IPFS daemon does not answer (not the package's fault): check again.
    #[error("this machine's IPFS daemon does not answer ({0}); start it, then check again")]
    LocalStore(#[source] iollm_content::Error),
    /// Its `smip.json` states another lineage than the job's output has.
    #[error("the output states {stated}, not the job's output lineage ({expected})")]
    Lineage {
        /// The lineage it states (or why it states none).
        stated: String,
        /// The job's.
        expected: String,
    },
    /// Its `smip.json` names another trace root than the committed one.
    #[error("the output names trace root {stated}, not the committed {committed}")]
    TraceRoot {
        /// The root it names (`none` when it names none).
        stated: String,
        /// The committed root.
        committed: String,
    },
    /// It lists other files than `config.json` and `model.safetensors`, or another format.
    #[error(
        "the output lists {listed:?} as {format}, not exactly config.json and \
         model.safetensors as safetensors (a loader could read another model than the one \
         checked)"
    )]
    Files {
        /// The files it lists.
        listed: Vec<String>,
        /// The weight format it states.
        format: String,
    },
    /// Its directory lists other files than `config.json`, `model.safetensors` and
    /// `smip.json` (whatever its `smip.json` says).
    #[error(
        "the output's directory lists other files than config.json, model.safetensors and \
         smip.json"
    )]
    Listing,
    /// Its `config.json` is not the job's model's.
    #[error("the output's config.json is not the job's model's")]
    Config {
        /// What an output game asks to prove it, if the chain can be shown.
        question: Option<Question>,
    },
    /// It cannot prove `question` as the job committed it: its bytes there differ, or its
    /// files are laid out so that no proof reads (another leaf size, a node that clients read
    /// otherwise than proofs, a proof too large for one call).
    #[error("the output package cannot prove {question} as the job committed it")]
    Unprovable {
        /// What an output game asks that its executor cannot prove.
        question: Question,
    },
    /// Its weights are not the committed last state's.
    #[error(
        "the output's weights are not the committed last state's: {differing} of {total} \
         parameters differ, the first at index {first}"
    )]
    Weights {
        /// How many parameters differ.
        differing: usize,
        /// How many the model has.
        total: usize,
        /// The first that differs.
        first: usize,
        /// What an output game asks to prove it, if the chain can be shown.
        question: Option<Question>,
    },
    /// Not fetched and checked before the reveal window's last blocks
    /// ([`crate::spotcheck::window_closing`]): a verifier must reveal in the window.
    #[error(
        "the output package was not fetched and checked before the reveal window's last blocks"
    )]
    TooSlow,
    /// Its `model.safetensors` holds the last state's weights but is not their export (extra
    /// tensors, metadata or dtypes another loader could read differently).
    #[error("the output's model.safetensors is not the export of the committed weights")]
    NotTheExport {
        /// What an output game asks to prove it, if the chain can be shown.
        question: Option<Question>,
    },
    /// An output game asks what this run cannot prove (a question past its state's end).
    #[error("this run cannot prove {0} of its output")]
    Unanswerable(Question),
    /// The run to prove the output from cannot be read.
    #[error("the run cannot prove the output: {0}")]
    NoRun(#[source] iollm_compute::Error),
    /// The game is not about an output package.
    #[error("game {0} is not an output game (it is about the trace: play it instead)")]
    NotAnOutputGame(iollm_types::dispute::GameId),
}

impl OutputError {
    /// Whether the failure is this machine's (its IPFS daemon does not answer), not the
    /// package's: check again rather than refuse the output.
    pub fn is_local(&self) -> bool {
        matches!(self, OutputError::LocalStore(_))
    }

    /// What the chain can be asked to decide about this failure: the output game's question
    /// the executor cannot answer (`None` for what only a verifier off chain can judge, such
    /// as the lineage `smip.json` states, or a package it could not fetch).
    pub fn question(&self) -> Option<Question> {
        match self {
            OutputError::Listing => Some(Question::Listing),
            OutputError::Unprovable { question } => Some(*question),
            OutputError::Config { question }
            | OutputError::Weights { question, .. }
            | OutputError::NotTheExport { question } => *question,
            _ => None,
        }
    }
}

/// Why a fetch of the output failed: this machine's daemon away, or the package's fault. The
/// package not served and the daemon away look alike; the daemon's own answer to a local
/// request tells them apart.
async fn fetch_failed<S: ContentStore>(store: &S, e: iollm_content::Error) -> OutputError {
    let away = matches!(e, iollm_content::Error::Unreachable { .. });
    if away && store.pins().await.is_err() {
        OutputError::LocalStore(e)
    } else {
        OutputError::Fetch(e)
    }
}

/// The files an output package lists: the model's export, nothing else.
const MODEL_FILES: [&str; 2] = [iollm_compute::io::CONFIG_FILE, iollm_compute::io::WEIGHTS_FILE];

/// What can be checked of job `job`'s output package `output_cid` from its `smip.json` alone
/// (a fine-tune of `artifact`, the job's, naming trace root `trace_root`, listing exactly the
/// model's two files): before a verifier runs a job whose published run it cannot use, so that
/// it does not train for an output it would refuse anyway. The package's CID.
pub async fn check_manifest<S: ContentStore>(
    store: &S,
    output_cid: &[u8],
    job: JobId,
    artifact: ArtifactId,
    trace_root: &[u8; 32],
) -> Result<Cid, OutputError> {
    let cid = parse_output(output_cid)?;
    let manifest = match iollm_content::read_package_manifest(store, &cid).await {
        Ok(manifest) => manifest,
        Err(e) => return Err(fetch_failed(store, e).await),
    };
    let wanted = Lineage {
        parents: vec![Parent { id: artifact, relation: Relation::Finetune }],
        job: Some(job),
    };
    match iollm_artifacts::lineage(&manifest) {
        Ok(stated) if stated == wanted => {}
        stated => {
            let stated = stated.map_or_else(|e| e.to_string(), |s| s.to_string());
            return Err(OutputError::Lineage { stated, expected: wanted.to_string() });
        }
    }
    let committed = iollm_compute::train::hex(trace_root);
    let stated = manifest.provenance.as_ref().and_then(|p| p.trace_root.clone());
    if stated.as_deref() != Some(committed.as_str()) {
        let stated = stated.unwrap_or_else(|| "none".into());
        return Err(OutputError::TraceRoot { stated, committed });
    }
    let mut listed: Vec<String> = manifest.files.iter().map(|f| f.path.clone()).collect();
    listed.sort();
    if listed != MODEL_FILES || manifest.format.weights != WeightFormat::Safetensors {
        let format = format!("{:?}", manifest.format.weights).to_lowercase();
        return Err(OutputError::Files { listed, format });
    }
    Ok(cid)
}

/// The output CID a result names.
fn parse_output(output_cid: &[u8]) -> Result<Cid, OutputError> {
    let text = String::from_utf8_lossy(output_cid).into_owned();
    iollm_content::parse_cid(&text)
        .map_err(|e| OutputError::BadCid { reason: e.to_string(), cid: text })
}

/// [`check_output`], given up when `deadline` comes first ([`OutputError::TooSlow`]): a
/// verifier's is the reveal window's last blocks ([`crate::spotcheck::window_closing`]), so that
/// an output served slowly cannot keep it from revealing in time.
pub async fn check_output_until<S: ContentStore>(
    store: &S,
    output_cid: &[u8],
    expected: &Expected<'_>,
    deadline: impl std::future::Future<Output = ()>,
) -> Result<Kept, OutputError> {
    tokio::select! {
        checked = check_output(store, output_cid, expected) => checked,
        () = deadline => Err(OutputError::TooSlow),
    }
}

/// Checks the output package `output_cid` names against what job `expected.job`'s output
/// must be ([`Expected`]): [`check_manifest`] first (from `smip.json` alone), then the
/// directory's listing as the contract reads it, then the model files' CIDs against the
/// export of the last state's weights added as outputs are (the same: attested, and pinned).
/// Other CIDs: the model is pulled, every byte checked against its CID, then the first
/// output-game question whose proof does not read as the export is the one to challenge
/// (the one holding the first differing byte tried first), and the pulled bytes say what
/// differs; the same bytes in a layout every question reads are attested. An output to
/// attest is kept pinned ([`Kept`]).
pub async fn check_output<S: ContentStore>(
    store: &S,
    output_cid: &[u8],
    expected: &Expected<'_>,
) -> Result<Kept, OutputError> {
    let cid = parse_output(output_cid)?;
    let config = expected.trainer.config();
    let (weights, json) = iollm_compute::io::model_files(&config.model, &expected.last.params)
        .map_err(|_| OutputError::Config { question: None })?;
    // The directory itself, read as the chain reads it: a file its manifest does not list
    // (a GGUF a loader would prefer) is a file a user may run.
    let root = match iollm_content::get_verified(store, &cid).await {
        Ok(root) => root,
        Err(e) => return Err(fetch_failed(store, e).await),
    };
    if iollm_types::unixfs::lists_exactly::<Sha>(&cid.to_bytes(), &root, &package::NAMES)
        != Ok(true)
    {
        return Err(OutputError::Listing);
    }
    // The export added as an executor's worker adds it: the same files under the same CIDs
    // are the same bytes, in the one layout every question of an output game is proven from.
    let opts = iollm_artifacts::package_options();
    let export =
        |bytes: &[u8]| iollm_content::cid_of_bytes(bytes, &opts).map_err(OutputError::Fetch);
    let wanted = [(CONFIG_FILE, export(&json)?), (WEIGHTS_FILE, export(&weights)?)];
    let links = match iollm_content::unixfs::inspect(&cid, &root) {
        Ok((iollm_content::unixfs::Node::Directory { links }, ..)) => links,
        Ok(_) => return Err(OutputError::Listing),
        Err(e) => return Err(OutputError::Fetch(e)),
    };
    let linked = |name: &str| links.iter().find(|l| l.name == name).map(|l| l.cid);
    let canonical = wanted.iter().all(|(name, cid)| linked(name) == Some(*cid));
    let manifest =
        check_manifest(store, output_cid, expected.job, expected.artifact, &expected.trace_root);
    if canonical {
        manifest.await?;
        return keep(store, &cid).await;
    }
    // Another DAG. Pulled (every byte checked against its CID, at most the export's size), to
    // say what differs and where to look first.
    let scratch = tempfile::tempdir()
        .map_err(|e| OutputError::Fetch(iollm_content::Error::io(std::env::temp_dir(), e)))?;
    let dest = scratch.path().join("output");
    let limit = iollm_content::PullOptions {
        max_bytes: (weights.len() + json.len()) as u64
            + iollm_content::manifest::MAX_MANIFEST_BYTES as u64,
    };
    let read = |name: &str| {
        let path = dest.join(name);
        std::fs::read(&path).map_err(|e| OutputError::Fetch(iollm_content::Error::io(path, e)))
    };
    let files = match iollm_content::pull_package_with::<iollm_content::Manifest, _>(
        store, &cid, &dest, &limit,
    )
    .await
    {
        Ok(_) => Ok((read(CONFIG_FILE)?, read(WEIGHTS_FILE)?)),
        Err(e) => Err(e),
    };
    // The first question whose proof, made from this DAG as its executor must make it, does
    // not read as the export is one the chain decides against the executor, whatever its
    // `smip.json` says (which the chain cannot read).
    let header_len = weights.len() - 4 * expected.last.params.len();
    let commit = crate::output_commit(&weights[..header_len], expected.last.params.len(), &json);
    let export = Export { output: &cid, commit: &commit, weights: &weights, json: &json };
    let question = export.unprovable(store, files.as_ref().ok()).await?;
    match (manifest.await, question) {
        (Ok(_), _) => {}
        (Err(local), _) if local.is_local() => return Err(local),
        (Err(_), Some(question)) => return Err(OutputError::Unprovable { question }),
        (Err(refused), None) => return Err(refused),
    }
    // Then what differs, in words (a package no client pulls whole differs in layout).
    let (pulled_json, pulled_weights) = match files {
        Ok(files) => files,
        Err(e) => {
            return Err(match (fetch_failed(store, e).await, question) {
                (local @ OutputError::LocalStore(_), _) => local,
                (_, Some(question)) => OutputError::Unprovable { question },
                (other, None) => other,
            })
        }
    };
    if pulled_json != json {
        return Err(OutputError::Config { question });
    }
    if pulled_weights == weights {
        // The same bytes in another layout: refused only where a question cannot be proven
        // from it (a lost output game would cost attesters their bonds).
        return match question {
            None => keep(store, &cid).await,
            Some(question) => Err(OutputError::Unprovable { question }),
        };
    }
    // Not the export: say whether the weights themselves differ.
    let (_, params) =
        iollm_compute::io::load_model(&dest).map_err(|_| OutputError::NotTheExport { question })?;
    let last = &expected.last.params;
    let total = last.len();
    let differ: Vec<usize> = (0..total)
        .filter(|&i| params.get(i).map(|p| p.to_bits()) != Some(last[i].to_bits()))
        .collect();
    match differ.first() {
        None => Err(OutputError::NotTheExport { question }),
        Some(&first) => {
            Err(OutputError::Weights { differing: differ.len(), total, first, question })
        }
    }
}

/// How an output to attest is kept on this machine's IPFS daemon ([`check_output`]): who
/// vouches for it must be able to prove it in a defence after its executor stops serving it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// Pinned by this check: this worker's to unpin once the job is released.
    Pinned(Cid),
    /// Pinned already (by its executor, on a daemon they share, or by a person): not this
    /// worker's to unpin, since a pin is one per CID, not counted.
    AlreadyPinned,
}

/// Pins an output found to be the proven run, unless it is pinned already ([`Kept`]).
async fn keep<S: ContentStore>(store: &S, output: &Cid) -> Result<Kept, OutputError> {
    let pinned = match store.pins().await {
        Ok(pins) => pins.contains(output),
        Err(e) => return Err(fetch_failed(store, e).await),
    };
    if pinned {
        return Ok(Kept::AlreadyPinned);
    }
    match store.pin(output).await {
        Ok(()) => Ok(Kept::Pinned(*output)),
        Err(e) => Err(fetch_failed(store, e).await),
    }
}

/// The export of the committed last state (`json` and `weights`, committed as `commit`) that
/// the package `output` is checked against, question by question.
struct Export<'a> {
    output: &'a Cid,
    commit: &'a OutputCommit,
    weights: &'a [u8],
    json: &'a [u8],
}

impl Export<'_> {
    /// The first question an output game may ask of the package (besides its listing) whose
    /// UnixFS proof, made from the package's DAG as its executor would have to make it, does
    /// not read (`package::read_asked`, as the contract reads it) as the export: the executor
    /// cannot answer it, whoever sends the blocks, since the CIDs fix them. `None` when every
    /// question reads as the export. A question whose blocks are not served (what the chain
    /// cannot be shown) is passed over, but a package with such a question and none to ask is
    /// not attestable either ([`OutputError::Fetch`]): what was not read may not be provable.
    /// With the package's files as pulled (`pulled`: config, weights), the question holding
    /// their first difference from the export is tried first: one proof where the bytes
    /// differ. Otherwise (the same bytes, or bytes a pull reads differently from the proofs)
    /// every question is tried, each file node fetched once ([`NodeCache`]); raced against
    /// the reveal deadline.
    async fn unprovable<S: ContentStore>(
        &self,
        store: &S,
        pulled: Option<&(Vec<u8>, Vec<u8>)>,
    ) -> Result<Option<Question>, OutputError> {
        let store = NodeCache { store, nodes: Default::default() };
        if let Some(question) = pulled.and_then(|files| self.first_difference(files)) {
            if let Read::Other = self.read(&store, question).await? {
                return Ok(Some(question));
            }
        }
        let pieces = (0..self.commit.pieces() as u32).map(Question::Header);
        let chunks = (0..self.commit.chunks() as u32).map(Question::Chunk);
        let mut unserved = None;
        for question in std::iter::once(Question::Config).chain(pieces).chain(chunks) {
            match self.read(&store, question).await? {
                Read::Export => {}
                Read::Other => return Ok(Some(question)),
                Read::NotServed(e) => unserved = unserved.or(Some(e)),
            }
        }
        match unserved {
            None => Ok(None),
            Some(e) => Err(OutputError::Fetch(e)),
        }
    }

    /// The question whose range holds the first byte where the pulled files differ from the
    /// export (a weights file of another length differs at its shorter end).
    fn first_difference(&self, (json, weights): &(Vec<u8>, Vec<u8>)) -> Option<Question> {
        if json != self.json {
            return Some(Question::Config);
        }
        let first = self.weights.iter().zip(weights).position(|(a, b)| a != b);
        let first = first.or((weights.len() != self.weights.len()).then_some(weights.len()))?;
        let last = self.weights.len().saturating_sub(1);
        Question::about_weights_byte(self.commit, first.min(last) as u64)
    }

    /// How `question`'s proof, made from the package, reads; this machine's daemon away is
    /// an error.
    async fn read<S: ContentStore>(
        &self,
        store: &S,
        question: Question,
    ) -> Result<Read, OutputError> {
        let Some((name, from, len)) = question.range(self.commit) else { return Ok(Read::Export) };
        let name = std::str::from_utf8(name).expect("the package's names are ASCII");
        use iollm_content::Error as E;
        let blocks = match iollm_content::prove_at(store, self.output, name, from).await {
            Ok(blocks) => blocks.into_iter().map(|b| b.to_vec()).collect::<Vec<_>>(),
            // Blocks not served (or served wrong): what the chain cannot be shown.
            Err(
                e @ (E::BlockNotFound(_)
                | E::Unreachable { .. }
                | E::Timeout { .. }
                | E::Api(_)
                | E::CidMismatch { .. }
                | E::Cancelled
                | E::Io { .. }),
            ) => {
                return match fetch_failed(store, e).await {
                    OutputError::Fetch(e) => Ok(Read::NotServed(e)),
                    local => Err(local),
                }
            }
            // Verified blocks no proof can walk (another hash or codec, sizes that disagree,
            // too deep): the contract's reader, stricter, refuses them too.
            Err(_) => return Ok(Read::Other),
        };
        let want = match len {
            None => Some(self.json),
            Some(len) => usize::try_from(from)
                .ok()
                .zip(usize::try_from(len).ok())
                .and_then(|(from, len)| self.weights.get(from..from.checked_add(len)?)),
        };
        let output = self.output.to_bytes();
        let read = package::read_asked::<Sha>(self.commit, &output, &question, &blocks);
        Ok(match read {
            Ok(read) if Some(read) == want => Read::Export,
            _ => Read::Other,
        })
    }
}

/// How a question's proof, made from a package, reads ([`Export::read`]).
enum Read {
    /// As the export: the executor can answer it.
    Export,
    /// Otherwise, or not at all: the executor cannot.
    Other,
    /// Its blocks are not served: the chain cannot be shown either way.
    NotServed(iollm_content::Error),
}

/// A store that keeps the directory and file nodes (dag-pb blocks) it fetched, so that a
/// proof of every question fetches each once; raw leaves, one a question, are not kept
/// (UnixFS leaves, dag-pb too, are, within the same bound). Only
/// nodes a proof may hold (at most [`package::MAX_PROOF_BYTES`]) are kept, up to
/// [`NODE_CACHE_BYTES`] in all: a DAG of large or countless nodes (which no proof can pass
/// through anyway) cannot fill the worker's memory, it is only fetched again.
struct NodeCache<'a, S> {
    store: &'a S,
    nodes: std::sync::Mutex<(std::collections::HashMap<Cid, bytes::Bytes>, usize)>,
}

/// What a [`NodeCache`] keeps at most: the file nodes of a weights file at the two-level
/// bound (`package::MAX_LEVELS`) are 175 nodes of about 8.5 KiB, 1.5 MB.
const NODE_CACHE_BYTES: usize = 16 << 20;

impl<S: ContentStore> ContentStore for NodeCache<'_, S> {
    async fn put_file(
        &self,
        path: &std::path::Path,
        opts: &iollm_content::AddOptions,
    ) -> iollm_content::Result<iollm_content::Added> {
        self.store.put_file(path, opts).await
    }
    async fn put_dir(
        &self,
        path: &std::path::Path,
        opts: &iollm_content::AddOptions,
    ) -> iollm_content::Result<iollm_content::Added> {
        self.store.put_dir(path, opts).await
    }
    async fn get_block(&self, cid: &Cid) -> iollm_content::Result<bytes::Bytes> {
        let nodes = || self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(block) = nodes().0.get(cid) {
            return Ok(block.clone());
        }
        let block = self.store.get_block(cid).await?;
        let node = cid.codec() == iollm_content::options::DAG_PB;
        if node && block.len() <= package::MAX_PROOF_BYTES {
            let (kept, bytes) = &mut *nodes();
            if *bytes + block.len() <= NODE_CACHE_BYTES {
                *bytes += block.len();
                kept.insert(*cid, block.clone());
            }
        }
        Ok(block)
    }
    async fn stat(&self, cid: &Cid) -> iollm_content::Result<u64> {
        self.store.stat(cid).await
    }
    async fn pin(&self, cid: &Cid) -> iollm_content::Result<()> {
        self.store.pin(cid).await
    }
    async fn unpin(&self, cid: &Cid) -> iollm_content::Result<()> {
        self.store.unpin(cid).await
    }
    async fn pins(&self) -> iollm_content::Result<Vec<Cid>> {
        self.store.pins().await
    }
}

/// The proof that answers output game `id` (`game`) from the run in `run` (its trace and last
/// checkpoint) of the job `trainer` trains: [`answer`] for the game's question, package and
/// `h_n`.
pub async fn answer_game<S: ContentStore>(
    store: &S,
    (id, game): (iollm_types::dispute::GameId, &iollm_types::game::Game),
    trainer: &Trainer,
    run: &std::path::Path,
) -> Result<Answer, OutputError> {
    let question = game.question.ok_or(OutputError::NotAnOutputGame(id))?;
    let n = game.terms.checkpoints as usize;
    let path = iollm_compute::train::checkpoint_path(run, n);
    let (last, _) = trainer.load_checkpoint(&path).map_err(OutputError::NoRun)?;
    let last_path = iollm_compute::run_result(run).map_err(OutputError::NoRun)?.last_path;
    let output =
        Cid::try_from(game.terms.output_cid.as_slice()).map_err(|e| OutputError::BadCid {
            cid: format!("{:02x?}", game.terms.output_cid),
            reason: e.to_string(),
        })?;
    answer(store, &output, trainer, (&last, &last_path), question).await
}

/// The proof that answers `question` in an output game about the package `output` of a run
/// whose last state is `last` (checkpoint `n` of the job's `trainer`, with `last_path`, its
/// path as leaf `n` of the trace root): what the executor's worker, or an attester's defending
/// it, sends (`prove_package`). The blocks come from IPFS, each checked against its CID.
pub async fn answer<S: ContentStore>(
    store: &S,
    output: &Cid,
    trainer: &Trainer,
    (last, last_path): (&TrainState, &[[u8; 32]]),
    question: Question,
) -> Result<Answer, OutputError> {
    // This machine's daemon away is told apart from blocks not served ([`fetch_failed`]).
    let blocks = |path: &'static str, offset: u64| async move {
        match iollm_content::prove_at(store, output, path, offset).await {
            Ok(blocks) => Ok(blocks.into_iter().map(|b| b.to_vec()).collect::<Vec<_>>()),
            Err(e) => Err(fetch_failed(store, e).await),
        }
    };
    let model = &trainer.config().model;
    let (header, _) = iollm_compute::io::weights_header_and_config(model)
        .map_err(|_| OutputError::Config { question: None })?;
    let weights = iollm_compute::io::WEIGHTS_FILE;
    Ok(match question {
        Question::Listing => match iollm_content::get_verified(store, output).await {
            Ok(root) => Answer::Listing { root: root.to_vec() },
            Err(e) => return Err(fetch_failed(store, e).await),
        },
        Question::Config => {
            Answer::Config { blocks: blocks(iollm_compute::io::CONFIG_FILE, 0).await? }
        }
        Question::Header(p) => Answer::Header {
            blocks: blocks(weights, u64::from(p) * package::PIECE_BYTES).await?,
            path: package::header_path::<Sha>(&header, p)
                .ok_or(OutputError::Unanswerable(question))?,
        },
        Question::Chunk(c) => {
            let first = u64::from(c) * iollm_repops::commit::CHUNK_WORDS as u64;
            let config_hash = trainer.config_hash();
            let state = last
                .prove_element(&config_hash, first)
                .ok_or(OutputError::Unanswerable(question))?;
            Answer::Chunk {
                blocks: blocks(weights, header.len() as u64 + 4 * first).await?,
                last: last.hash(&config_hash),
                last_path: last_path.to_vec(),
                state,
            }
        }
    })
}
