//! RFC 9162 section 2.1: Merkle tree hashes, inclusion and consistency proofs.

use sha2::{Digest, Sha256};
use thiserror::Error;

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// Why a proof was refused, or could not be made.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ProofError {
    #[error("index {index} is beyond a tree of size {size}")]
    IndexBeyondTree { index: u64, size: u64 },
    #[error("tree size {requested} is larger than the log ({size} entries)")]
    SizeBeyondLog { requested: u64, size: u64 },
    #[error("a consistency proof needs 0 < first size ({first}) <= second size ({second})")]
    BadSizes { first: u64, second: u64 },
    #[error("the proof has {0} hashes, which does not fit the tree sizes")]
    WrongLength(usize),
    #[error("the proof does not lead to the expected root")]
    RootMismatch,
    #[error("a leaf hash must be 32 bytes, got {0}")]
    BadLeafHash(usize),
    #[error("cannot read the tree: {0}")]
    Storage(String),
}

/// The hash of an empty tree: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The hash of a leaf: SHA-256(0x00 ‖ entry).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    h.finalize().into()
}

/// The hash of an inner node: SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &[u8], right: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The largest power of two strictly smaller than `n` (n > 1).
fn split_point(n: u64) -> u64 {
    debug_assert!(n > 1);
    1 << (63 - (n - 1).leading_zeros())
}

/// Where proofs read the hashes of complete subtrees from: an in-memory [`Tree`], or the tiles
/// of a stored log. `node(level, index)` is the hash of the aligned subtree of `2^level` leaves
/// starting at leaf `index << level`; it is only asked for subtrees inside the first `size()`
/// leaves.
pub trait NodeHashes {
    fn size(&self) -> u64;
    fn node(&self, level: u32, index: u64) -> Result<Hash, ProofError>;
}

fn check_size(src: &impl NodeHashes, size: u64) -> Result<(), ProofError> {
    if size > src.size() {
        return Err(ProofError::SizeBeyondLog {
            requested: size,
            size: src.size(),
        });
    }
    Ok(())
}

/// MTH(D[start..start+len]), for the ranges the RFC's recursions produce: `start` is a multiple
/// of the largest power of two not above `len`.
fn subtree(src: &impl NodeHashes, start: u64, len: u64) -> Result<Hash, ProofError> {
    if len.is_power_of_two() {
        let level = len.trailing_zeros();
        return src.node(level, start >> level);
    }
    let k = split_point(len);
    Ok(node_hash(
        &subtree(src, start, k)?,
        &subtree(src, start + k, len - k)?,
    ))
}

/// The root the tree had when it held `size` leaves.
pub fn root_at(src: &impl NodeHashes, size: u64) -> Result<Hash, ProofError> {
    check_size(src, size)?;
    if size == 0 {
        Ok(empty_root())
    } else {
        subtree(src, 0, size)
    }
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves (RFC 9162 2.1.3.1).
pub fn inclusion_proof(
    src: &impl NodeHashes,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProofError> {
    check_size(src, size)?;
    if index >= size {
        return Err(ProofError::IndexBeyondTree { index, size });
    }
    let mut proof = Vec::new();
    path(src, index, 0, size, &mut proof)?;
    Ok(proof)
}

fn path(
    src: &impl NodeHashes,
    m: u64,
    start: u64,
    n: u64,
    out: &mut Vec<Hash>,
) -> Result<(), ProofError> {
    if n <= 1 {
        return Ok(());
    }
    let k = split_point(n);
    if m < k {
        path(src, m, start, k, out)?;
        out.push(subtree(src, start + k, n - k)?);
    } else {
        path(src, m - k, start + k, n - k, out)?;
        out.push(subtree(src, start, k)?);
    }
    Ok(())
}

/// The consistency proof between the trees of `first` and `second` leaves (RFC 9162 2.1.4.1).
pub fn consistency_proof(
    src: &impl NodeHashes,
    first: u64,
    second: u64,
) -> Result<Vec<Hash>, ProofError> {
    check_size(src, second)?;
    if first == 0 || first > second {
        return Err(ProofError::BadSizes { first, second });
    }
    let mut proof = Vec::new();
    subproof(src, first, 0, second, true, &mut proof)?;
    Ok(proof)
}

fn subproof(
    src: &impl NodeHashes,
    m: u64,
    start: u64,
    n: u64,
    whole: bool,
    out: &mut Vec<Hash>,
) -> Result<(), ProofError> {
    if m == n {
        if !whole {
            out.push(subtree(src, start, n)?);
        }
        return Ok(());
    }
    let k = split_point(n);
    if m <= k {
        subproof(src, m, start, k, whole, out)?;
        out.push(subtree(src, start + k, n - k)?);
    } else {
        subproof(src, m - k, start + k, n - k, false, out)?;
        out.push(subtree(src, start, k)?);
    }
    Ok(())
}

/// An append-only Merkle tree held in memory that keeps every complete subtree's hash: level
/// `k` holds the hashes of the aligned subtrees of 2^k leaves, so any proof needs O(log n)
/// look-ups. The stored log reads the same hashes from tiles instead.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    levels: Vec<Vec<Hash>>,
}

impl NodeHashes for Tree {
    fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    fn node(&self, level: u32, index: u64) -> Result<Hash, ProofError> {
        Ok(self.levels[level as usize][index as usize])
    }
}

impl Tree {
    pub fn new() -> Self {
        Tree::default()
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        NodeHashes::size(self)
    }

    /// Appends a leaf hash (see [`leaf_hash`]); returns its index.
    pub fn append(&mut self, leaf: Hash) -> u64 {
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        self.levels[0].push(leaf);
        let index = self.levels[0].len() as u64 - 1;
        // Complete every subtree this leaf closes.
        let mut level = 0;
        while self.levels[level].len().is_multiple_of(2) {
            let n = self.levels[level].len();
            let parent = node_hash(&self.levels[level][n - 2], &self.levels[level][n - 1]);
            if self.levels.len() == level + 1 {
                self.levels.push(Vec::new());
            }
            self.levels[level + 1].push(parent);
            level += 1;
        }
        index
    }

    /// The root of the whole tree.
    pub fn root(&self) -> Hash {
        self.root_at(self.size())
            .expect("INVARIANT: the current size is within the tree")
    }

    /// The root the tree had when it held `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash, ProofError> {
        root_at(self, size)
    }

    /// The inclusion proof of leaf `index` in the tree of `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
        inclusion_proof(self, index, size)
    }

    /// The consistency proof between the trees of `first` and `second` leaves.
    pub fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>, ProofError> {
        consistency_proof(self, first, second)
    }
}

fn lsb(x: u64) -> bool {
    x & 1 == 1
}

/// RFC 9162's "until LSB(fn) is set, or fn is 0, right-shift fn and sn": after hashing with a
/// left sibling, climb past the levels where the node is the last one and has no sibling.
fn skip_right_edge(fn_: &mut u64, sn: &mut u64) {
    while !lsb(*fn_) && *fn_ != 0 {
        *fn_ >>= 1;
        *sn >>= 1;
    }
}

/// Checks that `leaf` is at `index` in the tree of `size` leaves whose root is `root`
/// (RFC 9162 2.1.3.2).
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &[u8],
    proof: &[Hash],
    root: &[u8],
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexBeyondTree { index, size });
    }
    if leaf.len() != 32 {
        return Err(ProofError::BadLeafHash(leaf.len()));
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r: Vec<u8> = leaf.to_vec();
    for p in proof {
        if sn == 0 {
            return Err(ProofError::WrongLength(proof.len()));
        }
        if lsb(fn_) || fn_ == sn {
            r = node_hash(p, &r).to_vec();
            skip_right_edge(&mut fn_, &mut sn);
        } else {
            r = node_hash(&r, p).to_vec();
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength(proof.len()));
    }
    if r != root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Checks that the tree of `second` leaves with root `second_root` extends the tree of `first`
/// leaves with root `first_root` (RFC 9162 2.1.4.2). A proof from the empty tree is refused:
/// it would prove nothing.
pub fn verify_consistency(
    first: u64,
    second: u64,
    proof: &[Hash],
    first_root: &[u8],
    second_root: &[u8],
) -> Result<(), ProofError> {
    if first == 0 || first > second {
        return Err(ProofError::BadSizes { first, second });
    }
    if first == second {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength(proof.len()));
        }
        return if first_root == second_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    if proof.is_empty() {
        return Err(ProofError::WrongLength(0));
    }
    // When the first tree is a complete subtree, its root starts the path.
    let mut path: Vec<&[u8]> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(first_root);
    }
    path.extend(proof.iter().map(|h| &h[..]));
    let (mut fn_, mut sn) = (first - 1, second - 1);
    while lsb(fn_) {
        fn_ >>= 1;
        sn >>= 1;
    }
    let mut fr = path[0].to_vec();
    let mut sr = path[0].to_vec();
    for c in &path[1..] {
        if sn == 0 {
            return Err(ProofError::WrongLength(proof.len()));
        }
        if lsb(fn_) || fn_ == sn {
            fr = node_hash(c, &fr).to_vec();
            sr = node_hash(c, &sr).to_vec();
            skip_right_edge(&mut fn_, &mut sn);
        } else {
            sr = node_hash(&sr, c).to_vec();
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength(proof.len()));
    }
    if fr != first_root || sr != second_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use proptest::prelude::*;
    use std::path::Path;

    fn b64(v: &serde_json::Value) -> Vec<u8> {
        match v.as_str() {
            Some(s) => base64::engine::general_purpose::STANDARD
                .decode(s)
                .expect("base64 in vectors"),
            None => Vec::new(),
        }
    }

    /// Proof hashes as the vectors give them; a hash that is not 32 bytes makes the proof
    /// malformed, which a verifier must refuse.
    fn proof(v: &serde_json::Value) -> Option<Vec<Hash>> {
        v.as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|h| b64(h).try_into().ok())
                    .collect::<Option<Vec<Hash>>>()
            })
            .unwrap_or(Some(Vec::new()))
    }

    fn vectors(kind: &str) -> Vec<(String, serde_json::Value)> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/conformance/merkle")
            .join(kind);
        let mut out = Vec::new();
        let mut dirs = vec![root];
        while let Some(dir) = dirs.pop() {
            for entry in
                std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "json") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    out.push((
                        path.display().to_string(),
                        serde_json::from_str(&text).unwrap(),
                    ));
                }
            }
        }
        out
    }

    #[test]
    fn every_inclusion_vector() {
        let cases = vectors("inclusion");
        assert!(cases.len() > 50, "found {} vectors", cases.len());
        for (path, v) in cases {
            let result = match proof(&v["proof"]) {
                Some(p) => verify_inclusion(
                    v["leafIdx"].as_u64().unwrap(),
                    v["treeSize"].as_u64().unwrap(),
                    &b64(&v["leafHash"]),
                    &p,
                    &b64(&v["root"]),
                ),
                None => Err(ProofError::WrongLength(0)),
            };
            assert_eq!(
                result.is_err(),
                v["wantErr"].as_bool().unwrap(),
                "{path}: {result:?}"
            );
        }
    }

    #[test]
    fn every_consistency_vector() {
        let cases = vectors("consistency");
        assert!(cases.len() > 50, "found {} vectors", cases.len());
        for (path, v) in cases {
            let result = match proof(&v["proof"]) {
                Some(p) => verify_consistency(
                    v["size1"].as_u64().unwrap(),
                    v["size2"].as_u64().unwrap(),
                    &p,
                    &b64(&v["root1"]),
                    &b64(&v["root2"]),
                ),
                None => Err(ProofError::WrongLength(0)),
            };
            assert_eq!(
                result.is_err(),
                v["wantErr"].as_bool().unwrap(),
                "{path}: {result:?}"
            );
        }
    }

    /// The RFC 6962 reference leaves: the root of all eight is the vectors' size-8 root.
    #[test]
    fn reference_tree_roots_and_proofs_match_the_vectors() {
        let leaves = [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ];
        let mut tree = Tree::new();
        for l in leaves {
            let bytes: Vec<u8> = (0..l.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&l[i..i + 2], 16).unwrap())
                .collect();
            tree.append(leaf_hash(&bytes));
        }
        let happy: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../../../shared/conformance/merkle/inclusion/1/happy-path.json"),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(tree.root().to_vec(), b64(&happy["root"]));
        let ours = tree
            .inclusion_proof(happy["leafIdx"].as_u64().unwrap(), 8)
            .unwrap();
        assert_eq!(Some(ours), proof(&happy["proof"]));
        let consistency: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../../../shared/conformance/merkle/consistency/1/happy-path.json"),
            )
            .unwrap(),
        )
        .unwrap();
        let (s1, s2) = (
            consistency["size1"].as_u64().unwrap(),
            consistency["size2"].as_u64().unwrap(),
        );
        assert_eq!(
            Some(tree.consistency_proof(s1, s2).unwrap()),
            proof(&consistency["proof"])
        );
        assert_eq!(tree.root_at(0).unwrap(), empty_root());
    }

    #[test]
    fn proofs_beyond_the_tree_are_refused() {
        let mut tree = Tree::new();
        tree.append(leaf_hash(b"x"));
        assert!(matches!(
            tree.inclusion_proof(1, 1),
            Err(ProofError::IndexBeyondTree { .. })
        ));
        assert!(matches!(
            tree.inclusion_proof(0, 2),
            Err(ProofError::SizeBeyondLog { .. })
        ));
        assert!(matches!(
            tree.consistency_proof(0, 1),
            Err(ProofError::BadSizes { .. })
        ));
    }

    fn tree_of(n: u64) -> Tree {
        let mut t = Tree::new();
        for i in 0..n {
            t.append(leaf_hash(&i.to_be_bytes()));
        }
        t
    }

    proptest! {
        #[test]
        fn inclusion_proofs_verify_and_tampering_fails(n in 1u64..300, seed in any::<u64>(), bit in 0usize..256) {
            let tree = tree_of(n);
            let size = 1 + seed % n;
            let index = (seed / 7) % size;
            let root = tree.root_at(size).unwrap();
            let leaf = leaf_hash(&index.to_be_bytes());
            let proof = tree.inclusion_proof(index, size).unwrap();
            prop_assert!(verify_inclusion(index, size, &leaf, &proof, &root).is_ok());
            if !proof.is_empty() {
                let mut bad = proof.clone();
                let i = bit % bad.len();
                bad[i][bit / 8 % 32] ^= 1 << (bit % 8);
                prop_assert!(verify_inclusion(index, size, &leaf, &bad, &root).is_err());
            }
            let mut other = leaf;
            other[0] ^= 1;
            prop_assert!(verify_inclusion(index, size, &other, &proof, &root).is_err());
        }

        #[test]
        fn consistency_proofs_verify_and_tampering_fails(n in 2u64..300, a in any::<u64>(), b in any::<u64>(), bit in 0usize..256) {
            let tree = tree_of(n);
            let second = 1 + b % n;
            let first = 1 + a % second;
            let (r1, r2) = (tree.root_at(first).unwrap(), tree.root_at(second).unwrap());
            let proof = tree.consistency_proof(first, second).unwrap();
            prop_assert!(verify_consistency(first, second, &proof, &r1, &r2).is_ok());
            if !proof.is_empty() {
                let mut bad = proof.clone();
                let i = bit % bad.len();
                bad[i][bit / 8 % 32] ^= 1 << (bit % 8);
                prop_assert!(verify_consistency(first, second, &bad, &r1, &r2).is_err());
                let mut wrong_root = r1;
                wrong_root[0] ^= 1;
                prop_assert!(verify_consistency(first, second, &proof, &wrong_root, &r2).is_err());
            }
        }
    }
}
