//! The on-chain shape check of a CID.
//!
//! Contracts store CIDs as their text form (`Qm…` base58btc CIDv0 or `b…` base32 CIDv1, the two
//! forms Kubo prints). The chain checks what a no_std check can afford: length, multibase
//! prefix and alphabet, for CIDv0 the decoded sha2-256 multihash, and for CIDv1 the decoded
//! version, codec and multihash length.
//! Off-chain code parses CIDs fully (the `cid` crate) before sending them.

use alloc::vec::Vec;

/// Longest CID text accepted on chain, in bytes. A sha2-256 CIDv1 in base32 is 59 bytes; this
/// leaves room for longer hashes.
pub const MAX_CID_LEN: usize = 128;

/// Why a CID text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CidShapeError {
    /// Zero bytes.
    Empty,
    /// Longer than [`MAX_CID_LEN`].
    TooLong,
    /// Neither a CIDv0 (`Qm` + 44 base58btc characters) nor a base32 CIDv1 (`b…`), or a
    /// character outside its alphabet.
    InvalidCharacter,
    /// A CIDv1 whose version byte is not 1.
    BadVersion,
    /// A CIDv1 whose content codec is not raw, dag-pb, dag-cbor or dag-json.
    UnknownCodec,
    /// A CIDv0 that is not a sha2-256 multihash, or a CIDv1 whose multihash length does not
    /// match its digest.
    BadMultihash,
}

/// Content codecs a CIDv1 may name: raw, dag-pb, dag-cbor, dag-json.
const CODECS: [u64; 4] = [0x55, 0x70, 0x71, 0x0129];

/// Checks what a no_std contract can of a CID text: not empty, bounded, and either a CIDv0
/// (`Qm` + 44 base58btc characters: a sha2-256 multihash) or a base32 CIDv1 (`b` + RFC 4648
/// lower case) whose decoded bytes are version 1, a known codec, and a multihash whose length
/// byte matches its digest.
pub fn check_cid_shape(cid: &[u8]) -> Result<(), CidShapeError> {
    cid_bytes(cid).map(drop)
}

/// The binary CID a CID text names ([`check_cid_shape`]'s checks): what a UnixFS proof
/// (`crate::unixfs::read_at`) starts from.
pub fn cid_bytes(cid: &[u8]) -> Result<Vec<u8>, CidShapeError> {
    if cid.is_empty() {
        return Err(CidShapeError::Empty);
    }
    if cid.len() > MAX_CID_LEN {
        return Err(CidShapeError::TooLong);
    }
    match cid {
        [b'Q', b'm', rest @ ..] if rest.len() == 44 => check_v0(cid),
        [b'Q', b'm', ..] => Err(CidShapeError::InvalidCharacter),
        [b'b', rest @ ..] => check_v1(rest),
        _ => Err(CidShapeError::InvalidCharacter),
    }
}

/// What a CID text names, whatever its form: its content codec and multihash (a CIDv0
/// `Qm…` is dag-pb's, so it names what the CIDv1 `b…` of the same dag-pb hash names), after
/// [`check_cid_shape`]'s checks. Two texts of one content have one key.
pub fn content_key(cid: &[u8]) -> Result<Vec<u8>, CidShapeError> {
    let bytes = cid_bytes(cid)?;
    Ok(match bytes.split_first() {
        // CIDv1: version 1, then the codec and the multihash.
        Some((1, rest)) if !cid.starts_with(b"Qm") => rest.to_vec(),
        // CIDv0: the multihash alone, of dag-pb.
        _ => [&[0x70][..], &bytes].concat(),
    })
}

/// Decodes base58btc and checks the CIDv0 bytes: a sha2-256 multihash (`0x12 0x20` and a
/// 32-byte digest), nothing more.
fn check_v0(text: &[u8]) -> Result<Vec<u8>, CidShapeError> {
    let mut bytes = [0u8; 34];
    match bs58::decode(text).onto(&mut bytes[..]) {
        Ok(34) if bytes[..2] == [0x12, 0x20] => Ok(bytes.to_vec()),
        Ok(_) | Err(bs58::decode::Error::BufferTooSmall) => Err(CidShapeError::BadMultihash),
        Err(_) => Err(CidShapeError::InvalidCharacter),
    }
}

/// Decodes base32 (RFC 4648, lower case, no padding) and checks the CIDv1 bytes.
fn check_v1(text: &[u8]) -> Result<Vec<u8>, CidShapeError> {
    let mut bytes = [0u8; MAX_CID_LEN];
    let (mut len, mut acc, mut bits) = (0usize, 0u32, 0u32);
    for c in text {
        let v = match c {
            b'a'..=b'z' => c.wrapping_sub(b'a'),
            b'2'..=b'7' => c.wrapping_sub(b'2').wrapping_add(26),
            _ => return Err(CidShapeError::InvalidCharacter),
        };
        acc = (acc << 5) | u32::from(v);
        bits = bits.wrapping_add(5);
        if bits >= 8 {
            bits = bits.wrapping_sub(8);
            *bytes.get_mut(len).ok_or(CidShapeError::TooLong)? = (acc >> bits) as u8;
            len = len.wrapping_add(1);
            acc &= (1u32 << bits).wrapping_sub(1);
        }
    }
    // Canonical base32 only: the bits left over are fewer than a character's and all zero.
    if bits >= 5 || acc != 0 {
        return Err(CidShapeError::InvalidCharacter);
    }
    let cid = bytes.get(..len).ok_or(CidShapeError::TooLong)?;
    let mut rest = cid;
    if varint(&mut rest) != Some(1) {
        return Err(CidShapeError::BadVersion);
    }
    if !varint(&mut rest).is_some_and(|codec| CODECS.contains(&codec)) {
        return Err(CidShapeError::UnknownCodec);
    }
    let _hash = varint(&mut rest).ok_or(CidShapeError::BadMultihash)?;
    let digest = varint(&mut rest).ok_or(CidShapeError::BadMultihash)?;
    if digest == 0 || digest != rest.len() as u64 {
        return Err(CidShapeError::BadMultihash);
    }
    Ok(cid.to_vec())
}

/// Reads an unsigned LEB128 varint (at most 9 bytes, as multiformats allow).
fn varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for (i, b) in bytes.iter().enumerate().take(9) {
        value |= u64::from(b & 0x7f) << (7u32.wrapping_mul(i as u32));
        if b & 0x80 == 0 {
            *bytes = bytes.get(i.wrapping_add(1)..)?;
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contents_two_texts_have_one_key() {
        // `ipfs cid format -v 1 -b base32` of the v0 CID.
        let v0 = b"QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o";
        let v1 = b"bafybeicg2rebjoofv4kbyovkw7af3rpiitvnl6i7ckcywaq6xjcxnc2mby";
        assert_eq!(content_key(v0), content_key(v1));
        assert_eq!(content_key(v0).unwrap()[..3], [0x70, 0x12, 0x20]);
        let raw = b"bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4";
        assert_ne!(content_key(raw), content_key(v1), "another codec, another content");
        assert_eq!(content_key(b"Qmx"), Err(CidShapeError::InvalidCharacter));
    }

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
        use CidShapeError::*;
        assert_eq!(check_cid_shape(b""), Err(Empty));
        assert_eq!(check_cid_shape(&[b'b'; MAX_CID_LEN + 1]), Err(TooLong));
        assert_eq!(check_cid_shape(b"notacid"), Err(InvalidCharacter));
        assert_eq!(check_cid_shape(b"Qm abc"), Err(InvalidCharacter));
        assert_eq!(check_cid_shape("bafé".as_bytes()), Err(InvalidCharacter));
        // CIDv0 of the wrong length, or with a character base58 lacks.
        assert_eq!(
            check_cid_shape(b"QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5"),
            Err(InvalidCharacter)
        );
        assert_eq!(
            check_cid_shape(b"QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff50"),
            Err(InvalidCharacter)
        );
        // 46 base58 characters that do not decode to a sha2-256 multihash.
        assert_eq!(
            check_cid_shape(b"Qmzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"),
            Err(BadMultihash)
        );
        assert_eq!(
            check_cid_shape(b"Qm11111111111111111111111111111111111111111111"),
            Err(BadMultihash)
        );
        // Upper-case base32 is another multibase (`B`), not accepted.
        assert_eq!(
            check_cid_shape(b"BAFKREIFJJCIE6LYPI6NY7AMXNFFTAGCLBUXNDQONFIPMB64F2KM2DEVEI4"),
            Err(InvalidCharacter)
        );
        // One character dropped: refused (here its leftover bits are not zero).
        assert!(
            check_cid_shape(b"bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei").is_err()
        );
        // An empty digest (the identity CID of nothing) names no content to store.
        assert_eq!(check_cid_shape(b"bafkqaaa"), Err(BadMultihash));
        // Non-canonical base32 of the same bytes: a trailing character, or set leftover bits.
        assert_eq!(
            check_cid_shape(b"bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4a"),
            Err(InvalidCharacter)
        );
        assert_eq!(
            check_cid_shape(b"bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei7"),
            Err(InvalidCharacter)
        );
        // Version 2 ("bai…" decodes to 0x02 …) and an unknown codec (0x01 0x00 …).
        assert_eq!(
            check_cid_shape(b"baikreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"),
            Err(BadVersion)
        );
        assert_eq!(check_cid_shape(b"baeaaaaaa"), Err(UnknownCodec));
    }
}
