//! Attacks on the daemon, the client and the puller (issue 17): each runs the attack against a
//! daemon or a fake IPFS API on 127.0.0.1 and checks it now fails cleanly.

use iollm_content::ContentStore;

use crate::common::{api_error, multipart_request, raw, Node, Part};

async fn node() -> (tempfile::TempDir, Node) {
    let tmp = tempfile::tempdir().unwrap();
    let node = Node::start(&tmp.path().join("repo"), "127.0.0.1:0".parse().unwrap()).await;
    (tmp, node)
}

/// Item 5: file names whose percent-decoding used to slice a `str` inside a character.
#[tokio::test]
async fn broken_escapes_in_file_names_are_400_not_a_panic() {
    let (_tmp, node) = node().await;
    for name in ["%aé", "%€", "a%", "%zz", "%ff"] {
        let req = multipart_request(
            node.addr,
            "/api/v0/add",
            &[Part(Some(name), "application/octet-stream", b"x")],
        );
        let (status, body) = raw(node.addr, &req).await;
        let (s, code, _) = api_error(status, &body);
        assert_eq!((s, code), (400, 1), "{name}");
    }
    assert_eq!(node.client().version().await.unwrap(), "0.22.0");
    node.stop().await;
}

fn request(addr: std::net::SocketAddr, path: &str, extra: &str) -> Vec<u8> {
    format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}Content-Length: 0\r\n\r\n")
        .into_bytes()
}

/// Item 3: a web page (another Origin, or DNS rebinding: another Host) cannot unpin or add.
#[tokio::test]
async fn other_origins_and_hosts_are_refused_with_403() {
    let (tmp, node) = node().await;
    let f = tmp.path().join("a.txt");
    std::fs::write(&f, b"pinned").unwrap();
    let added = node.client().put_file(&f, &iollm_content::AddOptions::default()).await.unwrap();
    let rm = format!("/api/v0/pin/rm?arg={}", added.cid);
    let addr = node.addr;
    for extra in [
        "Origin: http://evil.example\r\n".to_owned(),
        "Origin: null\r\n".to_owned(),
        format!("Origin: http://{addr}.evil.example\r\n"),
        "Referer: http://evil.example/page\r\n".to_owned(),
    ] {
        let (status, body) = raw(addr, &request(addr, &rm, &extra)).await;
        assert_eq!(api_error(status, &body).0, 403, "{extra}");
    }
    let rebinding = format!(
        "POST {rm} HTTP/1.1\r\nHost: evil.example:{}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        addr.port()
    );
    let (status, body) = raw(addr, rebinding.as_bytes()).await;
    assert_eq!(api_error(status, &body).0, 403);
    let add = multipart_request(addr, "/api/v0/add", &[Part(Some("x"), "text/plain", b"x")]);
    let add = String::from_utf8(add).unwrap().replacen(
        "Connection: close\r\n",
        "Connection: close\r\nOrigin: http://evil.example\r\n",
        1,
    );
    let (status, body) = raw(addr, add.as_bytes()).await;
    assert_eq!(api_error(status, &body).0, 403);
    // Nothing changed; the daemon's own origin (and localhost) still works.
    assert!(node.client().pins().await.unwrap().contains(&added.cid));
    let own = format!("Origin: http://localhost:{}\r\n", addr.port());
    let (status, _) = raw(addr, &request(addr, &rm, &own)).await;
    assert_eq!(status, 200);
    assert!(!node.client().pins().await.unwrap().contains(&added.cid));
    node.stop().await;
}

/// Item 4: an untrusted API answers `block/get` with an endless body; the client stops reading
/// at the block size limit instead of buffering until memory runs out.
#[tokio::test]
async fn endless_block_body_is_cut_at_the_block_limit() {
    use tokio::io::AsyncWriteExt;
    let (addr, task) = crate::common::fake_api(move |_, mut s| async move {
        let head =
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n";
        if s.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = [b'x'; 65536];
        loop {
            let frame = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
            if s.write_all(&frame).await.is_err() {
                return;
            }
        }
    })
    .await;
    let c = iollm_content::KuboClient::new(&format!("http://{addr}"))
        .unwrap()
        .with_policy(crate::common::fast_policy());
    let cid =
        iollm_content::cid_of_bytes(b"anything", &iollm_content::AddOptions::default()).unwrap();
    let err = c.get_block(&cid).await.unwrap_err();
    assert!(
        matches!(&err, iollm_content::Error::BlockTooLarge { cid: c, limit } if **c == cid && *limit == 2 << 20),
        "{err}"
    );
    // `cat` of a range reads no more than the range.
    let err = c.cat_range(&cid, 0, 100_000).await.unwrap_err();
    assert!(
        matches!(err, iollm_content::Error::ResponseTooLarge { op: "cat", limit: 100_000 }),
        "{err}"
    );
    task.abort();
}

/// Item 8: a part whose headers (here a 200 KiB file name) exceed the limit is refused with
/// 400 before it is buffered, and the name is not echoed back.
#[tokio::test]
async fn oversized_part_headers_are_refused_not_buffered() {
    let (_tmp, node) = node().await;
    let name = "n".repeat(200 * 1024);
    let req = multipart_request(node.addr, "/api/v0/add", &[Part(Some(&name), "text/plain", b"x")]);
    let (status, body) = raw(node.addr, &req).await;
    let (s, code, message) = api_error(status, &body);
    assert_eq!((s, code), (400, 1), "{message}");
    assert!(body.len() < 1024, "{} bytes of answer", body.len());
    assert_eq!(node.repo.blocks().stat().unwrap().0, 0, "nothing stored");
    node.stop().await;
}

/// Item 2 (daemon): `pin/add` of the 4-block DAG that claims 5.5 TB walks 4 blocks (visited
/// blocks are remembered), instead of 5 million.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pin_walk_visits_each_block_once() {
    let (_tmp, node) = node().await;
    let root = crate::common::claims_terabytes(node.repo.blocks());
    let walks = node.repo.walks();
    let url = format!("{}/api/v0/pin/add?arg={root}", node.url());
    let (s, v) =
        tokio::time::timeout(std::time::Duration::from_secs(60), crate::common::json("POST", &url))
            .await
            .expect("pin/add of a 4-block DAG finishes");
    assert_eq!(s, 200, "{v}");
    assert_eq!(walks.borrow().blocks, 4);
    node.stop().await;
}

/// Item 2 (daemon): a pin walk stops when its client goes away, and when the daemon shuts
/// down; neither leaves a pin behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pin_walk_stops_when_the_client_leaves_and_at_shutdown() {
    use tokio::io::AsyncWriteExt;
    let (_tmp, node) = node().await;
    let (root, total) = crate::common::wide_dag(node.repo.blocks(), 120);
    let mut walks = node.repo.walks();
    let req = format!(
        "POST /api/v0/pin/add?arg={root} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\n\r\n",
        node.addr
    );
    // Client leaves as soon as the walk has started.
    let mut s = tokio::net::TcpStream::connect(node.addr).await.unwrap();
    s.write_all(req.as_bytes()).await.unwrap();
    walks.wait_for(|w| w.blocks > 0).await.unwrap();
    drop(s);
    let w = *walks.wait_for(|w| w.active == 0).await.unwrap();
    assert_eq!(w.cancelled, 1, "{w:?}");
    assert!(w.blocks < total, "walked all {total} blocks: {w:?}");
    assert!(node.repo.pins().is_empty());

    // Shutdown cancels a walk whose client is still waiting.
    let before = *walks.borrow();
    let client = tokio::spawn(crate::common::raw(node.addr, format!(
        "POST /api/v0/pin/add?arg={root} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        node.addr
    ).into_bytes().leak()));
    walks.wait_for(|w| w.blocks > before.blocks).await.unwrap();
    node.shutdown.cancel();
    let w = *walks.wait_for(|w| w.active == 0).await.unwrap();
    assert_eq!(w.cancelled, 2, "{w:?}");
    node.task.await.unwrap().unwrap();
    let _ = client.await;
    assert!(node.repo.pins().is_empty());
}

/// The `add` answer's lines: (Name, Hash).
fn add_lines(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["Name"].as_str().unwrap().to_owned(), v["Hash"].as_str().unwrap().to_owned())
        })
        .collect()
}

/// Item 6: names are cleaned as Kubo does, and what cannot be represented is a 400 (before
/// anything is stored or pinned), never a silently different tree.
#[tokio::test]
async fn add_cleans_names_and_refuses_what_it_cannot_represent() {
    let (_tmp, node) = node().await;
    let addr = node.addr;
    let add = |parts: Vec<Part<'static>>| async move {
        raw(addr, &multipart_request(addr, "/api/v0/add", &parts)).await
    };
    let f = "application/octet-stream";
    // `a//b` and `./a/./c` are `a/b` and `a/c`: both files are in `a`.
    let (s, body) =
        add(vec![Part(Some("a//b"), f, b"bee"), Part(Some("./a/./c"), f, b"sea")]).await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&body));
    let lines = add_lines(&body);
    let names: Vec<&str> = lines.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["a/b", "a/c", "a"]);
    let root = &lines[2].1;
    for (name, want) in [("b", "bee"), ("c", "sea")] {
        let (s, got) =
            crate::common::http("POST", &format!("{}/api/v0/cat?arg={root}/{name}", node.url()))
                .await;
        assert_eq!((s, got.as_slice()), (200, want.as_bytes()));
    }
    // Two unnamed parts and one named "2": three roots, none lost.
    let (s, body) =
        add(vec![Part(None, f, b"one"), Part(None, f, b"two"), Part(Some("2"), f, b"three")]).await;
    assert_eq!(s, 200);
    let lines = add_lines(&body);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[2].0, "2");
    for (_, h) in &lines {
        assert!(node.repo.pins().keys().any(|c| c.to_string() == *h), "{h} pinned");
    }
    let pins_before = node.repo.pins();
    for parts in [
        vec![Part(Some("../x"), f, b"up")],
        vec![Part(Some("d/.."), f, b"up")],
        vec![Part(Some("d/f"), f, b"first"), Part(Some("d/f"), f, b"second")],
        vec![Part(Some("a"), f, b"file"), Part(Some("a/b"), f, b"under a file")],
        vec![Part(Some("a/b"), f, b"x"), Part(Some("a"), f, b"a file over a directory")],
        vec![Part(Some("d"), "application/x-directory", b""), Part(Some("d"), f, b"x")],
    ] {
        let (s, body) = add(parts).await;
        let (status, code, _) = api_error(s, &body);
        assert_eq!((status, code), (400, 1));
    }
    assert_eq!(node.repo.pins(), pins_before, "nothing pinned by refused adds");
    node.stop().await;
}

/// The head of an upload that never finishes: headers and the start of one part.
fn stalled_upload(addr: std::net::SocketAddr) -> Vec<u8> {
    format!(
        "POST /api/v0/add HTTP/1.1\r\nHost: {addr}\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 1000000\r\n\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow\"\r\n\r\nsome bytes"
    )
    .into_bytes()
}

async fn open_stalled(addr: std::net::SocketAddr) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(&stalled_upload(addr)).await.unwrap();
    s
}

/// Item 7: slow clients cannot hold the daemon. Uploads beyond the bound are answered 503
/// while every other endpoint keeps answering; a stalled body times out (408); headers that
/// never end close the connection; shutdown does not wait for stalled uploads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_do_not_hang_the_daemon() {
    use iollm_content::daemon::Limits;
    let guard = std::time::Duration::from_secs(60);
    let tmp = tempfile::tempdir().unwrap();
    let limits = Limits {
        header_timeout: std::time::Duration::from_millis(300),
        body_idle_timeout: std::time::Duration::from_secs(3600),
        max_uploads: 4,
        shutdown_grace: std::time::Duration::from_millis(200),
        ..Limits::default()
    };
    let node =
        Node::start_with(&tmp.path().join("repo"), "127.0.0.1:0".parse().unwrap(), limits).await;
    let addr = node.addr;
    // Serving (so the stalled uploads below are read as they arrive).
    assert_eq!(node.client().version().await.unwrap(), "0.22.0");
    let mut stalled = Vec::new();
    for _ in 0..4 {
        stalled.push(open_stalled(addr).await);
    }
    // The fifth upload is refused once the four hold their slots (retried until they do; a
    // stalled upload that a probe overtook was answered 503 itself and is replaced). A 503
    // means four uploads hold slots, and only stalled ones stay.
    tokio::time::timeout(guard, async {
        loop {
            for s in stalled.iter_mut() {
                if !matches!(s.try_read(&mut [0u8; 1]), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock) {
                    *s = open_stalled(addr).await;
                }
            }
            let req = multipart_request(addr, "/api/v0/add", &[Part(Some("x"), "text/plain", b"x")]);
            let (status, body) = raw(addr, &req).await;
            if status == 503 {
                assert_eq!(api_error(status, &body).0, 503);
                break;
            }
            assert_eq!(status, 200);
        }
    })
    .await
    .expect("uploads are bounded");
    // Everything else still answers.
    let (s, _) = tokio::time::timeout(
        guard,
        crate::common::json("POST", &format!("{}/api/v0/pin/ls", node.url())),
    )
    .await
    .expect("pin/ls answers");
    assert_eq!(s, 200);
    let (s, _) = tokio::time::timeout(
        guard,
        crate::common::json("POST", &format!("{}/api/v0/repo/stat", node.url())),
    )
    .await
    .expect("repo/stat answers");
    assert_eq!(s, 200);
    // Headers that never end: the daemon closes the connection.
    let (status, _) = tokio::time::timeout(
        guard,
        raw(addr, format!("POST /api/v0/version HTTP/1.1\r\nHost: {addr}\r\nX-Slow: ").as_bytes()),
    )
    .await
    .expect("the daemon closes a connection whose headers never end");
    assert_eq!(status, 0);
    // Shutdown with four uploads stalled (their idle timeout is an hour) returns.
    node.shutdown.cancel();
    tokio::time::timeout(guard, node.task).await.expect("shutdown does not wait").unwrap().unwrap();
    drop(stalled);
}

/// Item 7: a stalled upload body fails with 408 after the idle timeout.
#[tokio::test]
async fn a_stalled_upload_body_times_out() {
    use iollm_content::daemon::Limits;
    use tokio::io::AsyncReadExt;
    let tmp = tempfile::tempdir().unwrap();
    let limits =
        Limits { body_idle_timeout: std::time::Duration::from_millis(200), ..Limits::default() };
    let node =
        Node::start_with(&tmp.path().join("repo"), "127.0.0.1:0".parse().unwrap(), limits).await;
    let mut s = open_stalled(node.addr).await;
    let mut out = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(60), s.read_to_end(&mut out))
        .await
        .expect("answered")
        .unwrap();
    let (status, body) = crate::common::parse_response(&out);
    assert_eq!(api_error(status, &body).0, 408);
    assert!(node.repo.pins().is_empty());
    node.stop().await;
}

/// Item 9: a stored block truncated on disk is repaired by re-adding the content (the stored
/// copy is re-hashed, found wrong and rewritten), after which pulls work again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_adding_content_repairs_a_damaged_block() {
    let (tmp, node) = node().await;
    let data = crate::common::pattern(3 * 262_144 + 5, 2);
    let f = tmp.path().join("m.bin");
    std::fs::write(&f, &data).unwrap();
    let opts = iollm_content::AddOptions::v1();
    let c = node.client();
    let added = c.put_file(&f, &opts).await.unwrap();
    let leaf = iollm_content::cid_of_bytes(&data[262_144..2 * 262_144], &opts).unwrap();
    let path = node.repo.blocks().block_path(&leaf);
    let stored = std::fs::read(&path).unwrap();
    std::fs::write(&path, &stored[..1000]).unwrap();
    let err = iollm_content::fetch_verified(&c, &added.cid, &tmp.path().join("broken"))
        .await
        .unwrap_err();
    assert!(matches!(err, iollm_content::Error::CidMismatch { .. }), "{err}");

    assert_eq!(c.put_file(&f, &opts).await.unwrap().cid, added.cid);
    assert_eq!(std::fs::read(&path).unwrap(), stored, "the block was rewritten");
    let out = tmp.path().join("repaired");
    iollm_content::fetch_verified(&c, &added.cid, &out).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), data);
    node.stop().await;
}

/// Item 10: a second daemon on the same repo is refused while the first runs (it would lose
/// the first one's pins); once the first has stopped, the repo opens again.
#[tokio::test]
async fn a_repo_serves_one_daemon_at_a_time() {
    use iollm_content::daemon::{Daemon, DaemonConfig};
    let (tmp, node) = node().await;
    let repo = tmp.path().join("repo");
    let err =
        Daemon::bind(DaemonConfig::new(&repo, "127.0.0.1:0".parse().unwrap())).await.unwrap_err();
    assert!(matches!(&err, iollm_content::Error::RepoLocked { path } if *path == repo), "{err}");
    node.stop().await;
    Daemon::bind(DaemonConfig::new(&repo, "127.0.0.1:0".parse().unwrap())).await.unwrap();
}

/// Item 17: an empty `pins.json` or `identity.json` is reported naming the file.
#[tokio::test]
async fn corrupt_repo_files_are_named() {
    use iollm_content::daemon::{Daemon, DaemonConfig};
    for file in ["pins.json", "identity.json"] {
        let tmp = tempfile::tempdir().unwrap();
        let node = Node::start(tmp.path(), "127.0.0.1:0".parse().unwrap()).await;
        node.stop().await;
        std::fs::write(tmp.path().join(file), b"").unwrap();
        let err = Daemon::bind(DaemonConfig::new(tmp.path(), "127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, iollm_content::Error::CorruptRepoFile { path, .. } if *path == tmp.path().join(file)),
            "{err}"
        );
    }
}
