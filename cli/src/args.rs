//! Command-line arguments (clap). Settings resolve as: flag > environment > deployment file.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// iollm: the Internet of LLMs on a local or remote chain.
#[derive(Debug, Parser)]
#[command(name = "iollm", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Node RPC URL (default: the one in the deployment file).
    #[arg(long, global = true, env = "IOLLM_RPC")]
    pub rpc: Option<String>,
    /// Deployment file with contract addresses (default: deployments/devnet.json in the checkout).
    #[arg(long, global = true, env = "IOLLM_DEPLOYMENTS")]
    pub deployments: Option<PathBuf>,
    /// File holding the signer's secret URI (default: the IOLLM_SURI environment variable).
    #[arg(long, global = true)]
    pub key_file: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

/// Log output format.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a local network: node and contracts.
    Devnet {
        /// What to do with it.
        #[command(subcommand)]
        action: DevnetAction,
    },
    /// Register, publish, pull and inspect models, datasets and paths.
    Model {
        /// What to do.
        #[command(subcommand)]
        action: ModelAction,
    },
    /// Print the CID `ipfs add` would give a file or directory (offline).
    Cid {
        /// The file or directory.
        path: PathBuf,
        /// CID version (0 or 1), as `ipfs add --cid-version`.
        #[arg(long)]
        cid_version: Option<u8>,
        /// Raw leaves (default: true with CIDv1, false with CIDv0), as `ipfs add --raw-leaves`.
        #[arg(long, num_args = 0..=1, default_missing_value = "true")]
        raw_leaves: Option<bool>,
        /// Chunker, as `ipfs add --chunker` (only `size-N`).
        #[arg(long)]
        chunker: Option<String>,
    },
    /// The embedded IPFS node (Kubo RPC subset, offline, loopback only).
    Ipfs {
        /// What to do.
        #[command(subcommand)]
        action: IpfsAction,
    },
    /// Train a GPT on reproducible numerics; prints the checkpoint trace root.
    Train {
        /// Training config (TOML), e.g. crates/compute/examples/tiny.toml.
        #[arg(long)]
        config: PathBuf,
        /// Output directory: checkpoints, trace.json, model.safetensors, config.json.
        #[arg(long)]
        out: PathBuf,
        /// Worker threads (default: IOLLM_THREADS, else all cores). Results do not depend on it.
        #[arg(long)]
        threads: Option<usize>,
    },
}

/// `iollm ipfs …`
#[derive(Debug, Subcommand)]
pub enum IpfsAction {
    /// Serve the Kubo RPC API from a repo until SIGTERM or Ctrl-C.
    Daemon {
        /// Repo directory (created if missing).
        #[arg(long)]
        repo: PathBuf,
        /// API address; must be loopback.
        #[arg(long, default_value = "127.0.0.1:5001")]
        api: std::net::SocketAddr,
    },
}

/// `iollm devnet …`
#[derive(Debug, Subcommand)]
pub enum DevnetAction {
    /// Start a node on 127.0.0.1, build and deploy the contracts, write deployments/devnet.json.
    Up,
    /// Report the running devnet.
    Status,
    /// Stop the node `up` started.
    Down,
}

/// `iollm model …`
#[derive(Debug, Subcommand)]
pub enum ModelAction {
    /// Register an artifact by its manifest CID; prints the new id.
    Register {
        /// CID of the manifest on IPFS.
        #[arg(long)]
        cid: String,
        /// model, dataset or path.
        #[arg(long, default_value = "model")]
        kind: String,
        /// Only dry-run: print the gas and storage deposit it would cost, submit nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Show a registered artifact.
    Show {
        /// Its id.
        id: u64,
    },
    /// Publish a package directory: write smip.json, add it to IPFS, register it on chain.
    Publish {
        /// The package directory (Hugging Face layout: config.json, model.safetensors, …).
        dir: PathBuf,
        /// model, dataset or path.
        #[arg(long, default_value = "model")]
        kind: String,
    },
    /// Pull a registered package into a new directory, verifying every byte against its CID.
    Pull {
        /// Its id.
        id: u64,
        /// Destination directory (must not exist).
        dir: PathBuf,
    },
}
