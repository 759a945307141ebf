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
    task.abort();
}
