//! Contract storage writes that fail instead of trapping, as the ink! linter's
//! `non_fallible_api` asks: a value whose encoding does not fit the contract's static buffer
//! (built at 64 KiB, [`crate::dispute::MAX_CALL_BYTES`]) is refused with [`TooLarge`] rather than
//! aborting the call; the node's own limit on a stored value (16 KiB) is lower still. Every record the
//! contracts store is bounded far below that by validation (CIDs of at most 128 bytes, at most 8
//! executors or parents), so this is the second line of defence, not the first.
//!
//! Reads use `Mapping::get`: every value was written by [`put`] (or by an earlier version's
//! `insert`, which traps rather than store a value that does not fit), and `try_insert` refuses
//! exactly what a read could not hold (key and value over the buffer), so a read never
//! overflows. The linter's `try_get` would add a `contains_contract_storage` host call to every
//! read: measured with `scripts/bench-contracts.sh`, it made `pay_revenue` 5.7 % dearer in
//! ref_time (2.11 × the yardstick transfer instead of 2.00).

use ink::storage::traits::{Packed, StorageKey};
use ink::storage::Mapping;
use parity_scale_codec::EncodeLike;

/// A value too large for contract storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge;

/// The value at `key`, if any (see the module docs for why this read cannot trap).
pub fn get<K, V, KeyType, Q>(map: &Mapping<K, V, KeyType>, key: Q) -> Option<V>
where
    K: parity_scale_codec::Encode,
    V: Packed,
    KeyType: StorageKey,
    Q: EncodeLike<K>,
{
    map.get(key)
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
