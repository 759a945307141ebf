//! Attacks on the daemon, the client and the puller (issue 17): each runs the attack against a
//! daemon or a fake IPFS API on 127.0.0.1 and checks it now fails cleanly.

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
