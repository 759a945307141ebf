//! Types and pure maths shared by the iollm contracts and the off-chain crates.
//!
//! `no_std` (with `alloc`), no IO ever: ids, SCALE-encoded records, events, selectors and the
//! validation rules that both sides must agree on. The contracts compile this crate to wasm with
//! `default-features = false`; off-chain crates use it with `std`.
//!
//! What it is not: a place for anything that talks to a node, a file or the network.
#![cfg_attr(not(feature = "std"), no_std)]
// Money maths: every operation is checked (ARCHITECTURE.md, Conventions).
#![deny(clippy::arithmetic_side_effects)]

extern crate alloc;

/// Declares a contract's `Event` enum (in its `events` module) and its decoding from each
/// event's signature topic: one line per event, so that an event cannot be left out of one of
/// them. A signature topic names the event's name and fields, not its contract (the market's
/// and the splitter's `Withdrawn` share one): decode an event with the enum of the contract
/// that emitted it.
macro_rules! contract_events {
    ($what:literal; $($name:ident => $topic:ident),* $(,)?) => {
        #[doc = concat!("Every event ", $what, ", as a follower of finalized blocks decodes it \
                         from a `ContractEmitted`.")]
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Event {
            $(
                #[doc = concat!("`", stringify!($name), "`.")]
                $name($name),
            )*
        }

        impl Event {
            /// The event whose signature topic is `topic`, decoded from `data`: `None` for a
            /// topic this contract's events do not have, `Some(Err)` for data that does not
            /// decode as that event.
            pub fn decode(
                topic: &[u8; 32],
                data: &[u8],
            ) -> Option<Result<Event, parity_scale_codec::Error>> {
                $(
                    if *topic == $topic {
                        return Some(<$name>::decode(&mut &data[..]).map(Event::$name));
                    }
                )*
                None
            }

            /// The signature topic of this event.
            pub fn topic(&self) -> [u8; 32] {
                match self {
                    $(Event::$name(_) => $topic,)*
                }
            }
        }
    };
}
pub(crate) use contract_events;

pub mod admin;
pub mod bisection;
pub mod cid;
pub mod descent;
pub mod dispute;
pub mod escrow;
pub mod game;
pub mod market;
pub mod package;
pub mod registry;
pub mod shares;
pub mod split;
pub mod splitter;
pub mod spotcheck;
#[cfg(feature = "ink")]
pub mod storage;
pub mod unixfs;

/// The contract host's SHA-256, for the maths generic over its hash
/// ([`iollm_repops::merkle::Hasher`]).
#[cfg(feature = "ink")]
pub struct HostSha;

#[cfg(feature = "ink")]
impl iollm_repops::merkle::Hasher for HostSha {
    fn hash(parts: &[&[u8]]) -> [u8; 32] {
        use ink::env::hash::{HashOutput, Sha2x256};
        let mut out = <Sha2x256 as HashOutput>::Type::default();
        ink::env::hash_bytes::<Sha2x256>(&parts.concat(), &mut out);
        out
    }
}

/// SHA-256 for the unit tests' Merkle maths (a contract passes its host's).
#[cfg(test)]
pub(crate) struct TestSha;

#[cfg(test)]
impl iollm_repops::merkle::Hasher for TestSha {
    fn hash(parts: &[&[u8]]) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut s = Sha256::new();
        for p in parts {
            s.update(p);
        }
        s.finalize().into()
    }
}

/// A 32-byte account id, SCALE-identical to ink!'s `AccountId` and subxt's `AccountId32`.
pub type AccountBytes = [u8; 32];

/// The chain's block number type (substrate-contracts-node: `u32`).
pub type BlockNumber = u32;

/// The chain's native balance type.
pub type Balance = u128;
