//! The embedded daemon over real HTTP: Kubo's response shapes, errors, and our client on it.

use iollm_content::{cid_of_bytes, AddOptions, ContentStore};
use serde_json::Value;

use crate::common::{http, json, pattern, Node};

#[tokio::test]
async fn kubo_shapes_and_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let node = Node::start(tmp.path(), "127.0.0.1:0".parse().unwrap()).await;
    let u = node.url();

    let (s, v) = json("POST", &format!("{u}/api/v0/version")).await;
    assert_eq!(s, 200);
    for k in ["Version", "Commit", "Repo", "System", "Golang"] {
        assert!(v[k].is_string(), "version.{k}: {v}");
    }
    let (s, v) = json("POST", &format!("{u}/api/v0/id")).await;
    assert_eq!(s, 200);
    assert!(v["ID"].as_str().unwrap().starts_with("12D3KooW"), "{v}");
    assert!(v["PublicKey"].as_str().unwrap().starts_with("CAESI"), "{v}");
    assert!(v["Addresses"].is_array());
    let (s, v) = json("POST", &format!("{u}/api/v0/repo/stat")).await;
    assert_eq!(s, 200);
    assert!(v["RepoSize"].is_u64() && v["NumObjects"].is_u64() && v["StorageMax"].is_u64(), "{v}");

    // Errors: Kubo's body, 400 + Code 1 before the command runs, 500 + Code 0 when it fails.
    let (s, v) = json("POST", &format!("{u}/api/v0/cat")).await;
    assert_eq!((s, &v["Code"], &v["Type"]), (400, &Value::from(1), &Value::from("error")), "{v}");
    assert_eq!(v["Message"], "argument \"ipfs-path\" is required");
    let (s, v) = json("POST", &format!("{u}/api/v0/cat?arg=notacid")).await;
    assert_eq!((s, &v["Code"]), (500, &Value::from(0)), "{v}");
    assert!(v["Message"].as_str().unwrap().contains("invalid path"), "{v}");
    let missing = cid_of_bytes(b"never added", &AddOptions::default()).unwrap();
    let (s, v) = json("POST", &format!("{u}/api/v0/cat?arg={missing}")).await;
    assert_eq!(s, 500);
    assert!(v["Message"].as_str().unwrap().contains("not found"), "{v}");
    let (s, v) = json("POST", &format!("{u}/api/v0/pin/rm?arg={missing}")).await;
    assert_eq!(s, 500, "{v}");
    let (s, v) = json("POST", &format!("{u}/api/v0/cat?arg={missing}&offset=x")).await;
    assert_eq!((s, &v["Code"]), (400, &Value::from(1)), "{v}");
    let (s, _) = http("GET", &format!("{u}/api/v0/version")).await;
    assert_eq!(s, 405);

    // Add through the client, then read back with raw RPC calls.
    let data = pattern(3 * 262_144 + 17, 3);
    let f = tmp.path().join("blob.bin");
    std::fs::write(&f, &data).unwrap();
    let c = node.client();
    let added = c.put_file(&f, &AddOptions::default()).await.unwrap();
    let (s, body) = http("POST", &format!("{u}/api/v0/cat?arg={}", added.cid)).await;
    assert_eq!(s, 200);
    assert_eq!(body, data);
    let (s, body) =
        http("POST", &format!("{u}/api/v0/cat?arg=/ipfs/{}&offset=262000&length=1000", added.cid))
            .await;
    assert_eq!(s, 200);
    assert_eq!(body, &data[262_000..263_000]);
    let (s, v) = json("POST", &format!("{u}/api/v0/block/stat?arg={}", added.cid)).await;
    assert_eq!(s, 200);
    assert_eq!(v["Key"], added.cid.to_string());
    assert!(v["Size"].is_u64());
    let (s, v) = json("POST", &format!("{u}/api/v0/pin/ls?arg={}", added.cid)).await;
    assert_eq!(s, 200);
    assert_eq!(v["Keys"][added.cid.to_string()]["Type"], "recursive", "{v}");
    assert!(c.pins().await.unwrap().contains(&added.cid));
    c.unpin(&added.cid).await.unwrap();
    assert!(!c.pins().await.unwrap().contains(&added.cid));
    c.pin(&added.cid).await.unwrap();
    let (s, block) = http("POST", &format!("{u}/api/v0/block/get?arg={}", added.cid)).await;
    assert_eq!(s, 200);
    assert_eq!(block.len() as u64, c.stat(&added.cid).await.unwrap());
    assert_eq!(c.version().await.unwrap(), "0.22.0");
    node.stop().await;

    // Persisted: a restarted daemon on the same repo still has the pin and the blocks.
    let node = Node::start(tmp.path(), "127.0.0.1:0".parse().unwrap()).await;
    assert!(node.client().pins().await.unwrap().contains(&added.cid));
    let (_, body) = http("POST", &format!("{}/api/v0/cat?arg={}", node.url(), added.cid)).await;
    assert_eq!(body, data);
    node.stop().await;
}

#[test]
fn refuses_non_loopback() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = iollm_content::daemon::DaemonConfig::new(tmp.path(), "0.0.0.0:0".parse().unwrap());
    let err = rt.block_on(iollm_content::daemon::Daemon::bind(cfg)).unwrap_err();
    assert!(matches!(err, iollm_content::Error::NotLoopback { addr } if addr.port() == 0), "{err}");
}

/// Third-party client (ipfs-api-backend-hyper's own `add_path`, files only, names `dir/file`):
/// the node builds the implied directories and gets our CID; `only-hash` stores nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipfs_api_client_add_path_and_only_hash() {
    use ipfs_api_backend_hyper::{IpfsApi, IpfsClient, TryFromUri};
    let tmp = tempfile::tempdir().unwrap();
    let node = Node::start(&tmp.path().join("repo"), "127.0.0.1:0".parse().unwrap()).await;
    let pkg = tmp.path().join("pkg");
    std::fs::create_dir_all(pkg.join("sub")).unwrap();
    std::fs::write(pkg.join("a.txt"), b"hello world\n").unwrap();
    std::fs::write(pkg.join("sub/b.bin"), pattern(300_000, 1)).unwrap();
    let api = IpfsClient::from_str(&node.url()).unwrap();
    let res = api.add_path(&pkg).await.unwrap();
    let root = res.iter().find(|r| r.name == "pkg").expect("root line");
    assert_eq!(
        root.hash,
        iollm_content::cid_of_file(&pkg, &AddOptions::default()).unwrap().to_string()
    );

    let before = node.repo.blocks().stat().unwrap();
    let add = ipfs_api_backend_hyper::request::Add { only_hash: Some(true), ..Default::default() };
    let r = api.add_with_options(std::io::Cursor::new(pattern(500_000, 2)), add).await.unwrap();
    assert_eq!(
        r.hash,
        cid_of_bytes(&pattern(500_000, 2), &AddOptions::default()).unwrap().to_string()
    );
    assert_eq!(node.repo.blocks().stat().unwrap(), before);
    node.stop().await;
}

/// Item 13 (issue 17): `ls`, identity CIDs, repeated `arg=`, and Kubo's JSON bodies for 404,
/// 405 and a body that is not multipart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubo_rpc_gaps_are_filled() {
    let tmp = tempfile::tempdir().unwrap();
    let node = Node::start(&tmp.path().join("repo"), "127.0.0.1:0".parse().unwrap()).await;
    let u = node.url();
    let pkg = tmp.path().join("pkg");
    std::fs::create_dir_all(pkg.join("sub")).unwrap();
    std::fs::write(pkg.join("a.txt"), b"hello world\n").unwrap();
    std::fs::write(pkg.join("sub/b.bin"), pattern(600_000, 1)).unwrap();
    let opts = AddOptions::default();
    let big = node.client().put_file(&pkg.join("sub/b.bin"), &opts).await.unwrap();
    let small = node.client().put_file(&pkg.join("a.txt"), &opts).await.unwrap();

    // ls of a file lists its chunks; ls of two arguments answers both.
    let (s, v) =
        json("POST", &format!("{u}/api/v0/ls?arg={}&arg=/ipfs/{}", big.cid, small.cid)).await;
    assert_eq!(s, 200, "{v}");
    let objects = v["Objects"].as_array().unwrap();
    assert_eq!(objects.len(), 2);
    assert_eq!(objects[0]["Hash"], big.cid.to_string());
    assert_eq!(objects[0]["Links"].as_array().unwrap().len(), 3, "{v}");
    assert_eq!(objects[0]["Links"][0]["Type"], 2);
    assert_eq!(objects[0]["Links"][0]["Size"], 262_144);
    assert_eq!(objects[1]["Hash"], format!("/ipfs/{}", small.cid));
    assert_eq!(objects[1]["Links"].as_array().unwrap().len(), 0);

    // ls of a directory (added with a wrapper by a raw multipart add).
    let add = crate::common::multipart_request(
        node.addr,
        "/api/v0/add?wrap-with-directory=true",
        &[
            crate::common::Part(Some("a.txt"), "application/octet-stream", b"hello world\n"),
            crate::common::Part(Some("sub/c"), "application/octet-stream", b"c"),
        ],
    );
    let (s, body) = crate::common::raw(node.addr, &add).await;
    assert_eq!(s, 200);
    let last: Value =
        serde_json::from_str(String::from_utf8(body).unwrap().lines().last().unwrap()).unwrap();
    let dir = last["Hash"].as_str().unwrap().to_owned();
    let (s, v) = json("POST", &format!("{u}/api/v0/ls?arg={dir}")).await;
    assert_eq!(s, 200, "{v}");
    let links = v["Objects"][0]["Links"].as_array().unwrap();
    let shape: Vec<(&str, i64, i64)> = links
        .iter()
        .map(|l| {
            (l["Name"].as_str().unwrap(), l["Type"].as_i64().unwrap(), l["Size"].as_i64().unwrap())
        })
        .collect();
    assert_eq!(shape, [("a.txt", 2, 12), ("sub", 1, 0)]);
    assert_eq!(links[0]["Hash"], small.cid.to_string());
    assert_eq!(links[0]["Target"], "");

    // Identity CIDs: the data is the CID itself.
    let (s, v) = json("POST", &format!("{u}/api/v0/block/stat?arg=bafkqaaa")).await;
    assert_eq!((s, &v["Size"]), (200, &Value::from(0)), "{v}");
    let hello = cid::Cid::new_v1(0x55, multihash::Multihash::<64>::wrap(0, b"hello").unwrap());
    let (s, body) = http("POST", &format!("{u}/api/v0/cat?arg={hello}")).await;
    assert_eq!((s, body.as_slice()), (200, &b"hello"[..]));
    let (s, body) = http("POST", &format!("{u}/api/v0/block/get?arg={hello}")).await;
    assert_eq!((s, body.as_slice()), (200, &b"hello"[..]));
    assert_eq!(node.client().get_block(&hello).await.unwrap().as_ref(), b"hello");

    // Repeated arg=: cat concatenates, pin/ls and pin/add answer all; one-argument commands
    // say so with Kubo's 400.
    let (s, body) =
        http("POST", &format!("{u}/api/v0/cat?arg={}&arg={hello}&offset=6", small.cid)).await;
    assert_eq!((s, body.as_slice()), (200, &b"world\nhello"[..]));
    let (s, v) =
        json("POST", &format!("{u}/api/v0/pin/ls?arg={}&arg={}", small.cid, big.cid)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["Keys"].as_object().unwrap().len(), 2);
    let (s, v) = json("POST", &format!("{u}/api/v0/pin/add?arg={}&arg={dir}", small.cid)).await;
    assert_eq!(v["Pins"].as_array().map(Vec::len), Some(2), "{s} {v}");
    let (s, v) =
        json("POST", &format!("{u}/api/v0/block/stat?arg={}&arg={}", small.cid, big.cid)).await;
    assert_eq!((s, &v["Code"], &v["Type"]), (400, &Value::from(1), &Value::from("error")), "{v}");

    // 404, 405 and a non-multipart add: Kubo's JSON error body.
    let (s, v) = json("POST", &format!("{u}/api/v0/no/such/command")).await;
    assert_eq!((s, &v["Type"]), (404, &Value::from("error")), "{v}");
    let (s, v) = json("GET", &format!("{u}/api/v0/version")).await;
    assert_eq!((s, &v["Type"]), (405, &Value::from("error")), "{v}");
    let (s, v) = json("POST", &format!("{u}/api/v0/add")).await;
    assert_eq!((s, &v["Code"], &v["Type"]), (400, &Value::from(1), &Value::from("error")), "{v}");
    node.stop().await;
}
