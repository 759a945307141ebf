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

/// CPU seconds (user + system) this thread has used, from `/proc/thread-self/stat` (10 ms
/// ticks); unaffected by time the shared machine gives to other processes.
fn thread_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 of stat (utime, stime) are at 11 and 12 after the command name.
    (tick(11) + tick(12)) / 100.0
}

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

    // The machine is shared: run the three single-thread measurements interleaved, 3 rounds,
    // and keep each one's best.
    let (mut sha, mut v0, mut v1) = (0f64, 0f64, 0f64);
    let (mut sha_cpu, mut v0_cpu, mut v1_cpu) = (0f64, 0f64, 0f64);
    for round in 0..3 {
        let c = thread_cpu_secs();
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
        let _digest = h.finalize();
        sha = sha.max(mbps(bytes, t.elapsed().as_secs_f64()));
        sha_cpu = sha_cpu.max(mbps(bytes, thread_cpu_secs() - c));
        for (opts, best, best_cpu) in [
            (AddOptions::default(), &mut v0, &mut v0_cpu),
            (AddOptions::v1(), &mut v1, &mut v1_cpu),
        ] {
            let c = thread_cpu_secs();
            let t = Instant::now();
            let cid = cid_of_file(&path, &opts).expect("cid");
            *best = best.max(mbps(bytes, t.elapsed().as_secs_f64()));
            *best_cpu = best_cpu.max(mbps(bytes, thread_cpu_secs() - c));
            if round == 0 {
                println!("  {cid}");
            }
        }
    }
    println!("raw sha256 (read + hash, 1 thread, best of 3): {sha:8.1} MB/s");
    println!(
        "cid v0 default      (1 thread, best of 3):      {v0:8.1} MB/s = {:5.1} % of sha256",
        100.0 * v0 / sha
    );
    println!(
        "cid v1 raw leaves   (1 thread, best of 3):      {v1:8.1} MB/s = {:5.1} % of sha256",
        100.0 * v1 / sha
    );
    println!(
        "per CPU-second of the thread (immune to other load): sha256 {sha_cpu:.1} MB/s, \
         cid v0 {v0_cpu:.1} MB/s = {:.1} %, cid v1 {v1_cpu:.1} MB/s = {:.1} %",
        100.0 * v0_cpu / sha_cpu,
        100.0 * v1_cpu / sha_cpu
    );

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
        // Adds into fresh repos (so every block is written), best of 2, order alternated.
        let mut best = [0f64; 2];
        for rep in 0..2 {
            let order: [usize; 2] = if rep == 0 { [0, 1] } else { [1, 0] };
            for i in order {
                let opts = if i == 0 { AddOptions::default() } else { AddOptions::v1() };
                let d = Daemon::bind(DaemonConfig::new(
                    tmp.path().join(format!("repo-{rep}-{i}")),
                    "127.0.0.1:0".parse().expect("addr"),
                ))
                .await
                .expect("daemon");
                let c = KuboClient::new(&d.api_url()).expect("client");
                let stop = tokio_util::sync::CancellationToken::new();
                let task = tokio::spawn(d.run(stop.clone()));
                let t = Instant::now();
                let cid = c.add_file_unchecked(&path, &opts).await.expect("add");
                best[i] = best[i].max(mbps(bytes, t.elapsed().as_secs_f64()));
                if rep == 0 {
                    println!("  {cid}");
                }
                stop.cancel();
                let _ = task.await;
                let _ = std::fs::remove_dir_all(tmp.path().join(format!("repo-{rep}-{i}")));
            }
        }
        println!("daemon add CIDv0 (KuboClient multipart, new blocks, best of 2): {:8.1} MB/s", best[0]);
        println!("daemon add CIDv1 (KuboClient multipart, new blocks, best of 2): {:8.1} MB/s", best[1]);
        let _ = client.add_file_unchecked(&path, &AddOptions::v1()).await.expect("add");

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
