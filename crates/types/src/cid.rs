//! The on-chain shape check of a CID.
//!
//! Contracts store CIDs as their text form (`Qm…` base58btc CIDv0 or `b…` base32 CIDv1). The
//! chain cannot afford a full multiformats parser, so it checks only the shape: not empty, at most
//! [`MAX_CID_LEN`] bytes, multibase alphabet only. Off-chain code parses CIDs properly before
//! sending them.

/// Longest CID text accepted on chain, in bytes. A sha2-256 CIDv1 in base32 is 59 bytes; this
/// leaves room for longer hashes and other multibases.
pub const MAX_CID_LEN: usize = 128;

/// Why a CID text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CidShapeError {
    /// Zero bytes.
    Empty,
    /// Longer than [`MAX_CID_LEN`].
    TooLong,
    /// A byte outside the base58/base32/base64url alphabets.
    InvalidCharacter,
}

/// Checks that `cid` looks like a CID text: non-empty, bounded, multibase characters only.
pub fn check_cid_shape(cid: &[u8]) -> Result<(), CidShapeError> {
    if cid.is_empty() {
        return Err(CidShapeError::Empty);
    }
    if cid.len() > MAX_CID_LEN {
        return Err(CidShapeError::TooLong);
    }
    if !cid.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_') {
        return Err(CidShapeError::InvalidCharacter);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_cids() {
        for cid in [
            "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o",
            "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4",
        ] {
            assert_eq!(check_cid_shape(cid.as_bytes()), Ok(()));
        }
    }

    #[test]
    fn refuses_bad_shapes() {
        assert_eq!(check_cid_shape(b""), Err(CidShapeError::Empty));
        assert_eq!(check_cid_shape(&[b'a'; MAX_CID_LEN]), Ok(()));
        assert_eq!(check_cid_shape(&[b'a'; MAX_CID_LEN + 1]), Err(CidShapeError::TooLong));
        assert_eq!(check_cid_shape(b"Qm abc"), Err(CidShapeError::InvalidCharacter));
        assert_eq!(check_cid_shape("bafé".as_bytes()), Err(CidShapeError::InvalidCharacter));
    }
}
