//! The node's state on disk: blockstore, pins and identity.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use cid::Cid;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::blockstore::FlatBlockstore;
use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use crate::options::parse_cid;
use crate::unixfs;

/// The node's state: blockstore, pins, identity.
#[derive(Debug)]
pub struct Repo {
    pub(super) path: PathBuf,
    pub(super) blocks: FlatBlockstore,
    pins: Mutex<BTreeMap<Cid, PinKind>>,
    pub(super) peer_id: String,
    pub(super) public_key: String,
    walks: tokio::sync::watch::Sender<WalkStats>,
    /// Held (flock) for as long as the repo is open.
    _lock: std::fs::File,
}

/// What the repo's DAG walks (`pin add`) have done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WalkStats {
    /// Walks running now.
    pub active: usize,
    /// Blocks visited by all walks so far.
    pub blocks: u64,
    /// Walks stopped by cancellation so far.
    pub cancelled: u64,
}

/// Pin kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PinKind {
    /// The DAG below too.
    Recursive,
    /// The root block only.
    Direct,
}

#[derive(Serialize, Deserialize)]
struct Identity {
    peer_id: String,
    public_key: String,
}

impl Repo {
    /// Opens or initialises a repo directory, taking its lock (`repo.lock`, as Kubo): a repo
    /// another daemon holds is refused with [`Error::RepoLocked`], so two daemons never
    /// overwrite each other's pins. The lock is released when the repo is dropped.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        std::fs::create_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        let lock = crate::fsutil::lock_exclusive(&path.join("repo.lock"))?
            .ok_or_else(|| Error::RepoLocked { path: path.clone() })?;
        let blocks = FlatBlockstore::open(path.join("blocks"))?;
        let pins_path = path.join("pins.json");
        let corrupt =
            |p: &Path, reason: String| Error::CorruptRepoFile { path: p.to_owned(), reason };
        let pins: BTreeMap<Cid, PinKind> = match std::fs::read(&pins_path) {
            Ok(b) => serde_json::from_slice::<BTreeMap<String, PinKind>>(&b)
                .map_err(|e| corrupt(&pins_path, e.to_string()))?
                .into_iter()
                .map(|(k, v)| {
                    parse_cid(&k).map(|c| (c, v)).map_err(|e| corrupt(&pins_path, e.to_string()))
                })
                .collect::<Result<_>>()?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(Error::io(pins_path, e)),
        };
        let id_path = path.join("identity.json");
        let ident: Identity = match std::fs::read(&id_path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| corrupt(&id_path, e.to_string()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let ident = new_identity(&path);
                write_atomic(&id_path, &serde_json::to_vec_pretty(&ident)?)?;
                ident
            }
            Err(e) => return Err(Error::io(id_path, e)),
        };
        Ok(Self {
            path,
            blocks,
            pins: Mutex::new(pins),
            peer_id: ident.peer_id,
            public_key: ident.public_key,
            walks: tokio::sync::watch::Sender::new(WalkStats::default()),
            _lock: lock,
        })
    }

    /// Pin walks: how many run now, blocks visited and walks cancelled so far.
    pub fn walks(&self) -> tokio::sync::watch::Receiver<WalkStats> {
        self.walks.subscribe()
    }

    /// The blockstore.
    pub fn blocks(&self) -> &FlatBlockstore {
        &self.blocks
    }

    /// Pins `cid` (recursively: every block must be present, the node is offline).
    pub fn pin(&self, cid: &Cid, kind: PinKind) -> Result<()> {
        self.pin_cancellable(cid, kind, &CancellationToken::new())
    }

    /// [`Repo::pin`], whose walk stops with [`Error::Cancelled`] when `cancel` is cancelled.
    pub fn pin_cancellable(
        &self,
        cid: &Cid,
        kind: PinKind,
        cancel: &CancellationToken,
    ) -> Result<()> {
        if kind == PinKind::Recursive {
            self.walks.send_modify(|w| w.active += 1);
            let res = unixfs::walk(&self.blocks, cid, cancel, &mut |_, _| {
                self.walks.send_modify(|w| w.blocks += 1);
                Ok(())
            });
            self.walks.send_modify(|w| {
                w.active -= 1;
                w.cancelled += u64::from(matches!(res, Err(Error::Cancelled)));
            });
            res?;
        } else {
            self.blocks.size(cid)?;
        }
        let mut pins = self.pins.lock().unwrap_or_else(|p| p.into_inner());
        pins.insert(*cid, kind);
        self.save_pins(&pins)
    }

    /// Pins a DAG this node has just written in full (`add`): no walk needed.
    pub(super) fn pin_added(&self, cid: &Cid) -> Result<()> {
        let mut pins = self.pins.lock().unwrap_or_else(|p| p.into_inner());
        pins.insert(*cid, PinKind::Recursive);
        self.save_pins(&pins)
    }

    /// Removes a pin.
    pub fn unpin(&self, cid: &Cid) -> Result<bool> {
        let mut pins = self.pins.lock().unwrap_or_else(|p| p.into_inner());
        let had = pins.remove(cid).is_some();
        self.save_pins(&pins)?;
        Ok(had)
    }

    /// Current pins.
    pub fn pins(&self) -> BTreeMap<Cid, PinKind> {
        self.pins.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn save_pins(&self, pins: &BTreeMap<Cid, PinKind>) -> Result<()> {
        let m: BTreeMap<String, PinKind> = pins.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        write_atomic(&self.path.join("pins.json"), &serde_json::to_vec_pretty(&m)?)
    }
}

/// A peer identity in Kubo's format (an identity-multihash of an Ed25519 public key protobuf).
/// The daemon never talks to peers, so no private key is kept: the ID only names the node.
fn new_identity(path: &Path) -> Identity {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = Sha256::digest(format!("{}:{}:{nanos}", path.display(), std::process::id()));
    let mut key = vec![0x08, 0x01, 0x12, 0x20];
    key.extend_from_slice(&seed);
    let mut mh = vec![0x00, key.len() as u8];
    mh.extend_from_slice(&key);
    let peer_id = cid::multibase::encode(cid::multibase::Base::Base58Btc, &mh)[1..].to_owned();
    let public_key = cid::multibase::encode(cid::multibase::Base::Base64Pad, &key)[1..].to_owned();
    Identity { peer_id, public_key }
}
