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
    /// Register and inspect models, datasets and paths.
    Model {
        /// What to do.
        #[command(subcommand)]
        action: ModelAction,
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
}
