//! A substrate-contracts-node child process bound to loopback.

use crate::DevnetError;
use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long to wait for a started node's RPC to answer.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The node binary's file name.
pub const NODE_BINARY: &str = "substrate-contracts-node";

/// A running node started by us. Killed on drop unless [`NodeProcess::detach`]ed.
#[derive(Debug)]
pub struct NodeProcess {
    binary: PathBuf,
    child: Option<Child>,
    pid: u32,
    rpc_port: u16,
    p2p_port: u16,
    base_path: PathBuf,
    log: PathBuf,
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> Result<u16, DevnetError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(DevnetError::Io)?;
    Ok(listener.local_addr().map_err(DevnetError::Io)?.port())
}

impl NodeProcess {
    /// Starts `binary` (a `substrate-contracts-node`: [`crate::Paths::node_binary`]) `--dev` with its own `base_path` (wiped first), RPC and
    /// p2p on free loopback ports, no telemetry, no mDNS, and its log in `base_path/node.log`.
    /// Returns once RPC answers.
    pub async fn start(binary: &Path, base_path: &Path) -> Result<NodeProcess, DevnetError> {
        if base_path.exists() {
            std::fs::remove_dir_all(base_path).map_err(DevnetError::Io)?;
        }
        std::fs::create_dir_all(base_path).map_err(DevnetError::Io)?;
        let mut node = NodeProcess {
            binary: binary.to_owned(),
            child: None,
            pid: 0,
            rpc_port: free_port()?,
            p2p_port: free_port()?,
            base_path: base_path.into(),
            log: base_path.join("node.log"),
        };
        node.launch().await?;
        Ok(node)
    }

    /// Kills the node at once (SIGKILL, as a crash would), keeping its chain on disk.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts a killed node again on the same ports and chain; returns once RPC answers.
    pub async fn start_again(&mut self) -> Result<(), DevnetError> {
        self.kill();
        self.launch().await
    }

    async fn launch(&mut self) -> Result<(), DevnetError> {
        let log_file = File::options().create(true).append(true).open(&self.log)?;
        let mut command = Command::new(&self.binary);
        command
            .args(["--dev", "--base-path"])
            .arg(self.base_path.join("chain"))
            .args(["--rpc-port", &self.rpc_port.to_string()])
            .args(["--no-prometheus", "--no-telemetry", "--no-mdns"])
            .args(["--listen-addr", &format!("/ip4/127.0.0.1/tcp/{}", self.p2p_port)])
            .args(["--finalize-delay-sec", "1"])
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().map_err(DevnetError::Io)?)
            .stderr(log_file);
        // Its own process group: a Ctrl-C meant for the CLI does not reach a detached node.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.spawn().map_err(DevnetError::Io)?;
        self.pid = child.id();
        self.child = Some(child);
        tracing::info!(target: "devnet::node", pid = self.pid, rpc_port = self.rpc_port, "Started node");
        self.wait_ready().await
    }

    async fn wait_ready(&mut self) -> Result<(), DevnetError> {
        let started = Instant::now();
        while started.elapsed() < READY_TIMEOUT {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(DevnetError::NodeExited {
                        status: status.to_string(),
                        log: self.log.clone(),
                    });
                }
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", self.rpc_port)).await.is_ok()
                && iollm_chain::Chain::connect(&self.rpc_url()).await.is_ok()
            {
                tracing::info!(target: "devnet::node", elapsed_ms = started.elapsed().as_millis() as u64, "Node answers RPC");
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        Err(DevnetError::NodeNotReady { seconds: READY_TIMEOUT.as_secs(), log: self.log.clone() })
    }

    /// The node's WebSocket RPC URL.
    pub fn rpc_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.rpc_port)
    }

    /// The node's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The node's base path.
    pub fn base_path(&self) -> &Path {
        &self.base_path
    }

    /// The node's log file.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Leaves the node running after this handle is dropped (the devnet's `up`).
    pub fn detach(mut self) -> u32 {
        self.child.take();
        self.pid
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
