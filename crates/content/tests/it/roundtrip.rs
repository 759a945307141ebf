//! Client ↔ daemon: CIDs agree (property test), verified fetch round trips, tampering and a
//! node stopped mid-transfer are detected and leave nothing behind.

use std::path::Path;

use iollm_content::{
    cid_of_bytes, cid_of_file, fetch_verified, AddOptions, Cid, CidVersion, ContentStore, Error,
    KuboClient,
};
use proptest::prelude::*;

use crate::common::{pattern, Node};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    /// Sizes around chunk and level boundaries (a 1 KiB chunker makes the second tree level
    /// start at 174 KiB): our CID of the bytes equals the CID the node returns for them, and
    /// the node gives the bytes back.
    #[test]
    fn our_cid_equals_node_cid(
        chunks in prop_oneof![Just(0usize), Just(1), Just(2), Just(173), Just(174), Just(175), Just(348), 0usize..400],
        delta in -2i64..=2,
        version in prop_oneof![Just((0u8, false)), Just((1, true)), Just((1, false))],
        seed in any::<u8>(),
    ) {
        let n = ((chunks as i64) * 1024 + delta).max(0) as usize;
        let data = pattern(n, seed);
        let opts = AddOptions::from_flags(Some(version.0), Some(version.1), Some("size-1024")).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("f");
        std::fs::write(&f, &data).unwrap();
        rt().block_on(async {
            let node = Node::start(&tmp.path().join("repo"), "127.0.0.1:0".parse().unwrap()).await;
            // put_file fails with CidMismatch if the node's CID differs from ours.
            let added = node.client().put_file(&f, &opts).await.unwrap();
            assert_eq!(added.cid, cid_of_bytes(&data, &opts).unwrap());
            let out = tmp.path().join("out");
            fetch_verified(&node.client(), &added.cid, &out).await.unwrap();
            assert_eq!(std::fs::read(&out).unwrap(), data);
            node.stop().await;
        });
    }
}

fn write_package(root: &Path) {
    std::fs::create_dir_all(root.join("tokenizer")).unwrap();
    std::fs::write(root.join("config.json"), br#"{"model_type":"gpt2"}"#).unwrap();
    std::fs::write(root.join("model.safetensors"), pattern(600_000, 9)).unwrap();
    std::fs::write(root.join("tokenizer/vocab.txt"), b"a\nb\n").unwrap();
    std::fs::create_dir_all(root.join("empty")).unwrap();
}

fn assert_same_tree(a: &Path, b: &Path) {
    let list = |p: &Path| {
        let mut v: Vec<_> = walkdir::WalkDir::new(p)
            .into_iter()
            .map(|e| e.unwrap().path().strip_prefix(p).unwrap().to_owned())
            .collect();
        v.sort();
        v
    };
    let (la, lb) = (list(a), list(b));
    assert_eq!(la, lb);
    for rel in la {
        let (x, y) = (a.join(&rel), b.join(&rel));
        if x.is_file() {
            assert_eq!(std::fs::read(&x).unwrap(), std::fs::read(&y).unwrap(), "{rel:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = tmp.path().join("pkg");
    write_package(&pkg);
    let node = Node::start(&tmp.path().join("repo"), "127.0.0.1:0".parse().unwrap()).await;
    let c = node.client();
    for opts in [AddOptions::default(), AddOptions::v1()] {
        let added = c.put_dir(&pkg, &opts).await.unwrap();
        assert_eq!(added.cid, cid_of_file(&pkg, &opts).unwrap());
        assert!(c.pins().await.unwrap().contains(&added.cid));
        let out = tmp.path().join(format!("out-{:?}", opts.cid_version));
        fetch_verified(&c, &added.cid, &out).await.unwrap();
        assert_same_tree(&pkg, &out);
        // The destination must not exist.
        assert!(fetch_verified(&c, &added.cid, &out).await.is_err());
    }
    node.stop().await;
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial") || n.starts_with("out"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_block_is_rejected_and_nothing_is_left() {
    let tmp = tempfile::tempdir().unwrap();
    let data = pattern(5 * 262_144 + 3, 1);
    let f = tmp.path().join("model.bin");
    std::fs::write(&f, &data).unwrap();
    let node = Node::start(&tmp.path().join("repo"), "127.0.0.1:0".parse().unwrap()).await;
    let c = node.client();
    let opts = AddOptions::v1();
    let added = c.put_file(&f, &opts).await.unwrap();
    // Flip one byte of the third leaf (raw leaf: its CID is known from its bytes).
    let leaf = cid_of_bytes(&data[2 * 262_144..3 * 262_144], &opts).unwrap();
    let path = node.repo.blocks().block_path(&leaf);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();

    let out = tmp.path().join("out.bin");
    let err = fetch_verified(&c, &added.cid, &out).await.unwrap_err();
    match &err {
        Error::CidMismatch { expected, .. } => assert_eq!(**expected, leaf),
        other => panic!("expected CidMismatch, got {other}"),
    }
    assert!(err.to_string().contains(&leaf.to_string()), "{err}");
    assert!(leftovers(tmp.path()).is_empty(), "{:?}", leftovers(tmp.path()));
    node.stop().await;
}

/// Delegates to a client and stops the node after `after` blocks: a node dying mid-transfer.
struct StopsMidway {
    inner: KuboClient,
    after: usize,
    seen: std::sync::atomic::AtomicUsize,
    shutdown: tokio_util::sync::CancellationToken,
}

impl ContentStore for StopsMidway {
    async fn put_file(
        &self,
        p: &Path,
        o: &AddOptions,
    ) -> iollm_content::Result<iollm_content::Added> {
        self.inner.put_file(p, o).await
    }
    async fn put_dir(
        &self,
        p: &Path,
        o: &AddOptions,
    ) -> iollm_content::Result<iollm_content::Added> {
        self.inner.put_dir(p, o).await
    }
    async fn get_block(&self, cid: &Cid) -> iollm_content::Result<bytes::Bytes> {
        if self.seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == self.after {
            self.shutdown.cancel();
            // Wait until the port is closed, so the next request really fails.
            while tokio::net::TcpStream::connect(self.inner.url().trim_start_matches("http://"))
                .await
                .is_ok()
            {
                tokio::task::yield_now().await;
            }
        }
        self.inner.get_block(cid).await
    }
    async fn stat(&self, cid: &Cid) -> iollm_content::Result<u64> {
        self.inner.stat(cid).await
    }
    async fn pin(&self, cid: &Cid) -> iollm_content::Result<()> {
        self.inner.pin(cid).await
    }
    async fn unpin(&self, cid: &Cid) -> iollm_content::Result<()> {
        self.inner.unpin(cid).await
    }
    async fn pins(&self) -> iollm_content::Result<Vec<Cid>> {
        self.inner.pins().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_stopped_mid_transfer_then_retried() {
    let tmp = tempfile::tempdir().unwrap();
    let data = pattern(40 * 262_144, 7);
    let f = tmp.path().join("big.bin");
    std::fs::write(&f, &data).unwrap();
    let repo = tmp.path().join("repo");
    let node = Node::start(&repo, "127.0.0.1:0".parse().unwrap()).await;
    let addr = node.addr;
    let added = node.client().put_file(&f, &AddOptions::default()).await.unwrap();
    let store = StopsMidway {
        inner: node.client(),
        after: 5,
        seen: 0.into(),
        shutdown: node.shutdown.clone(),
    };
    let out = tmp.path().join("out.bin");
    let err = fetch_verified(&store, &added.cid, &out).await.unwrap_err();
    assert!(matches!(err, Error::Unreachable { attempts: 3, .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&addr.to_string()) && msg.contains("IOLLM_IPFS_API"), "{msg}");
    assert!(leftovers(tmp.path()).is_empty(), "{:?}", leftovers(tmp.path()));
    node.task.await.unwrap().unwrap();
    drop(node.repo); // releases the repo lock

    // The node comes back on the same address; the retried fetch completes.
    let node = Node::start(&repo, addr).await;
    fetch_verified(&node.client(), &added.cid, &out).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), data);
    assert_eq!(added.cid.version(), cid::Version::V0);
    let _ = CidVersion::V0;
    node.stop().await;
}

/// A node that accepts connections but never answers: each try times out, the retries are
/// bounded, and the error says so.
#[tokio::test]
async fn hung_node_times_out_after_bounded_retries() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    let hold = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            conns.push(s);
        }
    });
    let policy = iollm_content::RetryPolicy {
        attempts: 2,
        initial_backoff: std::time::Duration::from_millis(10),
        request_timeout: std::time::Duration::from_millis(300),
        min_rate: 1 << 20,
    };
    let c = KuboClient::new(&format!("http://{addr}")).unwrap().with_policy(policy);
    let cid = cid_of_bytes(b"x", &AddOptions::default()).unwrap();
    let err = c.get_block(&cid).await.unwrap_err();
    assert!(matches!(err, Error::Unreachable { attempts: 2, .. }), "{err}");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 2);
    hold.abort();
}

/// The node drops the first connection (as a node restarting would); the client's bounded
/// retry reconnects and the verified fetch completes within the same call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connection_is_retried_within_the_call() {
    let tmp = tempfile::tempdir().unwrap();
    let data = pattern(3 * 262_144, 4);
    let f = tmp.path().join("m.bin");
    std::fs::write(&f, &data).unwrap();
    let node = Node::start(&tmp.path().join("repo"), "127.0.0.1:0".parse().unwrap()).await;
    let added = node.client().put_file(&f, &AddOptions::default()).await.unwrap();

    // A proxy in front of the node that closes its first connection without answering.
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_addr = proxy.local_addr().unwrap();
    let upstream = node.addr;
    let conns = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = conns.clone();
    let task = tokio::spawn(async move {
        while let Ok((mut down, _)) = proxy.accept().await {
            if seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                drop(down);
                continue;
            }
            tokio::spawn(async move {
                let mut up = tokio::net::TcpStream::connect(upstream).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
            });
        }
    });
    let c = KuboClient::new(&format!("http://{proxy_addr}"))
        .unwrap()
        .with_policy(crate::common::fast_policy());
    let out = tmp.path().join("out.bin");
    fetch_verified(&c, &added.cid, &out).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), data);
    assert!(conns.load(std::sync::atomic::Ordering::SeqCst) >= 2);
    task.abort();
    node.stop().await;
}
