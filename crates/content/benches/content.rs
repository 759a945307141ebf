//! Content-layer benchmarks (run: `cargo bench -p iollm-content --bench content`).
//!
//! Prints, for one file of `IOLLM_BENCH_MIB` MiB (default 1024) of pseudo-random bytes:
//! 1. raw SHA-256 throughput over the file (read in 256 KiB chunks, one thread) — the baseline;
//! 2. `cid_of_file` throughput (CIDv0 default and CIDv1 raw leaves), and the ratio to (1);
//! 3. `add` into the embedded IPFS daemon over HTTP (node side: one multipart POST), and
//!    `KuboClient::put_file` end to end (local CID + upload + CID check).
//!
//! Timing only, no assertions. Set `IOLLM_BENCH_DIR` to choose where the file and repo go.

use std::io::{Read, Write};
use std::time::Instant;

use iollm_content::daemon::{Daemon, DaemonConfig};
use iollm_content::{cid_of_file, AddOptions, ContentStore, KuboClient};
use ipfs_api_backend_hyper::{IpfsApi, IpfsClient, TryFromUri};
use sha2::{Digest, Sha256};

fn mbps(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / secs / 1e6
}

fn main() {
    let mib: u64 =
        std::env::var("IOLLM_BENCH_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(1024);
    let base = std::env::var_os("IOLLM_BENCH_DIR").map(std::path::PathBuf::from);
    let tmp = match &base {
        Some(b) => tempfile::tempdir_in(b),
        None => tempfile::tempdir(),
    }
    .expect("temp dir");
    let path = tmp.path().join("blob.bin");
    let bytes = mib * 1024 * 1024;
    {
        // xorshift bytes: incompressible, cheap to make.
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut buf = vec![0u8; 1 << 20];
        for _ in 0..mib {
            for c in buf.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                c.copy_from_slice(&x.to_le_bytes());
            }
            f.write_all(&buf).expect("write");
        }
        f.flush().expect("flush");
    }
    println!("file: {mib} MiB at {}", path.display());

    // Warm the page cache so every measurement reads from memory alike.
    let _ = std::fs::read(&path).map(|v| v.len());

    let t = Instant::now();
    let mut f = std::fs::File::open(&path).expect("open");
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 262_144];
    loop {
        let n = f.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    let digest = h.finalize();
    let sha = mbps(bytes, t.elapsed().as_secs_f64());
    println!(
        "raw sha256 (read + hash, 1 thread): {sha:8.1} MB/s  ({:02x}{:02x}..)",
        digest[0], digest[1]
    );

    for (label, opts) in
        [("cid v0 (default)", AddOptions::default()), ("cid v1 raw-leaves", AddOptions::v1())]
    {
        let t = Instant::now();
        let cid = cid_of_file(&path, &opts).expect("cid");
        let r = mbps(bytes, t.elapsed().as_secs_f64());
        println!(
            "{label:<18} (1 thread):         {r:8.1} MB/s  = {:5.1} % of sha256  {cid}",
            100.0 * r / sha
        );
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async {
        let d = Daemon::bind(DaemonConfig::new(tmp.path().join("repo"), "127.0.0.1:0".parse().expect("addr")))
            .await
            .expect("daemon");
        let url = d.api_url();
        let shutdown = tokio_util::sync::CancellationToken::new();
        let task = tokio::spawn(d.run(shutdown.clone()));

        let client = KuboClient::new(&url).expect("client");
        for (label, opts) in [("CIDv0", AddOptions::default()), ("CIDv1", AddOptions::v1())] {
            let t = Instant::now();
            let cid = client.add_file_unchecked(&path, &opts).await.expect("add");
            let r = mbps(bytes, t.elapsed().as_secs_f64());
            println!("daemon add {label} (KuboClient, HTTP multipart, new blocks): {r:8.1} MB/s  {cid}");
        }

        // The same upload through ipfs-api-backend-hyper's own multipart body, for comparison.
        let api = IpfsClient::from_str(&url).expect("client");
        let t = Instant::now();
        let file = std::fs::File::open(&path).expect("open");
        let res = api.add(file).await.expect("add");
        let r = mbps(bytes, t.elapsed().as_secs_f64());
        println!("daemon add CIDv0 (ipfs-api add, 2 KiB body chunks, blocks exist): {r:8.1} MB/s  {}", res.hash);

        // End to end via the client.
        let t = Instant::now();
        let added = client.put_file(&path, &AddOptions::v1()).await.expect("put_file");
        let r = mbps(bytes, t.elapsed().as_secs_f64());
        println!("KuboClient::put_file v1 (local CID + add + check, blocks already stored): {r:8.1} MB/s  {}", added.cid);

        let t = Instant::now();
        let out = tmp.path().join("fetched.bin");
        iollm_content::fetch_verified(&client, &added.cid, &out).await.expect("fetch");
        let r = mbps(bytes, t.elapsed().as_secs_f64());
        println!("fetch_verified (block/get + verify + write): {r:8.1} MB/s");

        shutdown.cancel();
        let _ = task.await;
    });
}
