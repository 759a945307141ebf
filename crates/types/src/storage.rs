//! Contract storage reads and writes that fail instead of trapping, as the ink! linter's
//! `non_fallible_api` asks: a value whose encoding does not fit the contract's static buffer
//! (16 KiB) is refused with [`TooLarge`] rather than aborting the call. Every record the
//! contracts store is bounded far below that by validation (CIDs of at most 128 bytes, at most 8
//! executors or parents), so this is the second line of defence, not the first.

use ink::storage::traits::{Packed, StorageKey};
use ink::storage::Mapping;
use parity_scale_codec::EncodeLike;

/// A value too large for contract storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge;

/// The value at `key`, if any.
pub fn get<K, V, KeyType, Q>(map: &Mapping<K, V, KeyType>, key: Q) -> Result<Option<V>, TooLarge>
where
    K: parity_scale_codec::Encode,
    V: Packed,
    KeyType: StorageKey,
    Q: EncodeLike<K>,
{
    map.try_get(key).transpose().map_err(|_| TooLarge)
}

/// For read-only messages: the value at `key`, or `None` (a value [`put`] refused is never
/// there to read).
pub fn view<K, V, KeyType, Q>(map: &Mapping<K, V, KeyType>, key: Q) -> Option<V>
where
    K: parity_scale_codec::Encode,
    V: Packed,
    KeyType: StorageKey,
    Q: EncodeLike<K>,
{
    get(map, key).ok().flatten()
}

/// Stores `value` at `key`.
pub fn put<K, V, KeyType, Q>(
    map: &mut Mapping<K, V, KeyType>,
    key: Q,
    value: &V,
) -> Result<(), TooLarge>
where
    K: parity_scale_codec::Encode,
    V: Packed + EncodeLike,
    KeyType: StorageKey,
    Q: EncodeLike<K>,
{
    map.try_insert(key, value).map(|_| ()).map_err(|_| TooLarge)
}
