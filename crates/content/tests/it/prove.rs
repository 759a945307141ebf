//! UnixFS path proofs: the blocks `prove_at` fetches from a real daemon's DAG are read by the
//! no_std reader a contract runs (`iollm_types::unixfs::read_at`) as exactly the file's bytes
//! at the offset, for every layout the content layer builds (raw or dag-pb leaves, two and
//! three levels); a tampered block, another offset's proof or an offset past the end is not.

use iollm_content::{prove_at, AddOptions, ContentStore, Error};
use iollm_types::unixfs::{read_at, ProofError};
use sha2::Digest as _;

use crate::common::{pattern, Node};

/// SHA-256, as the contract's host gives it.
struct Sha;

impl iollm_repops::merkle::Hasher for Sha {
    fn hash(parts: &[&[u8]]) -> [u8; 32] {
        let mut h = sha2::Sha256::new();
        for part in parts {
            h.update(part);
        }
        h.finalize().into()
    }
}

const NAME: &str = "model.safetensors";

/// Adds a directory holding `data` as [`NAME`] (and a neighbour) with `opts`, then proves and
/// reads each of `offsets`.
async fn proves(data: &[u8], opts: &AddOptions, offsets: &[u64]) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("package");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(NAME), data).unwrap();
    std::fs::write(dir.join("config.json"), b"{}").unwrap();
    let node = Node::start(&tmp.path().join("repo"), "127.0.0.1:0".parse().unwrap()).await;
    let client = node.client();
    let root = client.put_dir(&dir, opts).await.unwrap().cid;
    let path: &[&[u8]] = &[NAME.as_bytes()];
    for &offset in offsets {
        let blocks = prove_at(&client, &root, NAME, offset).await.unwrap();
        let blocks: Vec<&[u8]> = blocks.iter().map(|b| &b[..]).collect();
        let leaf = read_at::<Sha>(&root.to_bytes(), path, offset, &blocks)
            .unwrap_or_else(|e| panic!("offset {offset}: {e:?}"));
        let start = leaf.start as usize;
        assert!(start as u64 <= offset && offset < (start + leaf.data.len()) as u64);
        assert_eq!(leaf.data, &data[start..start + leaf.data.len()], "offset {offset}");
        assert_eq!(leaf.file_size, data.len() as u64);
        // A proof of this offset is no proof of one in another leaf.
        let elsewhere = if start == 0 { leaf.data.len() as u64 } else { 0 };
        if elsewhere < data.len() as u64 {
            let other = read_at::<Sha>(&root.to_bytes(), path, elsewhere, &blocks);
            assert!(matches!(other, Err(ProofError::WrongBlock { .. })), "{other:?}");
        }
        // Any byte of any block changed: refused.
        for k in 0..blocks.len() {
            let mut tampered: Vec<Vec<u8>> = blocks.iter().map(|b| b.to_vec()).collect();
            let at = tampered[k].len() / 2;
            tampered[k][at] ^= 1;
            let tampered: Vec<&[u8]> = tampered.iter().map(|b| &b[..]).collect();
            let read = read_at::<Sha>(&root.to_bytes(), path, offset, &tampered);
            assert_eq!(read, Err(ProofError::WrongBlock { block: k }), "offset {offset}");
        }
    }
    let past = prove_at(&client, &root, NAME, data.len() as u64).await.unwrap_err();
    assert!(matches!(past, Error::OutOfRange { .. }), "{past}");
    let missing = prove_at(&client, &root, "weights.bin", 0).await.unwrap_err();
    assert!(matches!(missing, Error::NotInDirectory { .. }), "{missing}");
    node.stop().await;
}

fn offsets(len: u64, chunk: u64) -> Vec<u64> {
    let mut o = vec![0, 1, chunk - 1, chunk, len / 2, len - 1];
    o.extend([174 * chunk - 1, 174 * chunk, 174 * chunk + 1].into_iter().filter(|&x| x < len));
    o
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_of_raw_leaves_is_proven_at_any_offset() {
    let data = pattern(175 * 1024 + 300, 3);
    let opts = AddOptions::from_flags(Some(1), Some(true), Some("size-1024")).unwrap();
    proves(&data, &opts, &offsets(data.len() as u64, 1024)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_of_dag_pb_leaves_under_a_cidv0_directory_is_proven() {
    let data = pattern(3 * 1024 + 5, 4);
    let opts = AddOptions::from_flags(Some(0), Some(false), Some("size-1024")).unwrap();
    proves(&data, &opts, &offsets(data.len() as u64, 1024)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_level_file_is_proven() {
    // More than 174 × 174 leaves of 64 bytes: a root, a level of parents, a level below.
    let data = pattern(174 * 174 * 64 + 64 * 3 + 1, 5);
    let opts = AddOptions::from_flags(Some(1), Some(true), Some("size-64")).unwrap();
    let len = data.len() as u64;
    proves(&data, &opts, &[0, 174 * 174 * 64 - 1, 174 * 174 * 64, len - 1]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_block_file_is_its_own_leaf() {
    let data = pattern(700, 6);
    let opts = AddOptions::from_flags(Some(1), Some(true), Some("size-1024")).unwrap();
    proves(&data, &opts, &[0, 699]).await;
}

/// Hand-made blocks (no importer makes such DAGs), served from memory.
struct Blocks(std::collections::HashMap<iollm_content::Cid, Vec<u8>>);

impl Blocks {
    /// Stores `block` under its CIDv1 of `codec`.
    fn put(&mut self, codec: u64, block: Vec<u8>) -> iollm_content::Cid {
        let digest = sha2::Sha256::digest(&block).into();
        let cid = iollm_content::options::cid_for(iollm_content::CidVersion::V1, codec, digest);
        self.0.insert(cid, block);
        cid
    }
}

impl ContentStore for Blocks {
    async fn put_file(
        &self,
        _: &std::path::Path,
        _: &AddOptions,
    ) -> iollm_content::Result<iollm_content::Added> {
        unimplemented!("a store of blocks only")
    }
    async fn put_dir(
        &self,
        _: &std::path::Path,
        _: &AddOptions,
    ) -> iollm_content::Result<iollm_content::Added> {
        unimplemented!("a store of blocks only")
    }
    async fn get_block(&self, cid: &iollm_content::Cid) -> iollm_content::Result<bytes::Bytes> {
        let block = self.0.get(cid).cloned().map(bytes::Bytes::from);
        block.ok_or_else(|| Error::BlockNotFound(Box::new(*cid)))
    }
    async fn stat(&self, cid: &iollm_content::Cid) -> iollm_content::Result<u64> {
        Ok(self.get_block(cid).await?.len() as u64)
    }
    async fn pin(&self, _: &iollm_content::Cid) -> iollm_content::Result<()> {
        unimplemented!("a store of blocks only")
    }
    async fn unpin(&self, _: &iollm_content::Cid) -> iollm_content::Result<()> {
        unimplemented!("a store of blocks only")
    }
    async fn pins(&self) -> iollm_content::Result<Vec<iollm_content::Cid>> {
        unimplemented!("a store of blocks only")
    }
}

/// A one-byte file under a chain of one-link file nodes: proven while the proof is no deeper
/// than a contract reads (`MAX_DEPTH` blocks), refused before it is walked further (a DAG of
/// endless 2 MiB nodes would otherwise hold a prover's memory).
#[tokio::test]
async fn a_file_deeper_than_a_proof_may_be_is_refused_not_walked() {
    use iollm_content::options::{DAG_PB, RAW};
    use iollm_content::pb::{encode_node, PbLink, UnixFs};
    let max = iollm_types::unixfs::MAX_DEPTH;
    assert_eq!(iollm_content::fetch::MAX_PROOF_BLOCKS, max, "what a contract reads");
    let mut blocks = Blocks(Default::default());
    let mut cid = blocks.put(RAW, b"x".to_vec());
    let mut roots = vec![cid];
    for _ in 0..max + 3 {
        let data = UnixFs {
            kind: iollm_content::pb::UNIXFS_FILE,
            data: None,
            filesize: Some(1),
            blocksizes: vec![1],
        }
        .encode();
        let link = PbLink { cid, name: String::new(), tsize: 1 };
        cid = blocks.put(DAG_PB, encode_node(&[link], Some(&data)));
        roots.push(cid);
    }
    let deepest = roots[max - 1];
    let proof = prove_at(&blocks, &deepest, "", 0).await.unwrap();
    assert_eq!(proof.len(), max);
    for root in &roots[max..] {
        let err = prove_at(&blocks, root, "", 0).await.unwrap_err();
        assert!(matches!(err, Error::TooDeep { max: m, .. } if m == max), "{err}");
    }
}
