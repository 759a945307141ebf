//! The dispute contract's interface, shared by the contract and the off-chain client: its
//! errors, events, selectors and call encodings. The game itself is [`crate::game`].

use crate::bisection::Verdict;
use crate::game::{GameError, How};
use crate::AccountBytes;
use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

/// A game's id (from 1).
pub type GameId = u64;

/// The most bytes a move's call may take: the contracts are built with ink!'s static buffer
/// (which holds a message's input) this large. The referee's inputs for one chain step are the
/// largest move, several 4 KiB chunks with their Merkle paths; ink!'s default 16 KiB is too
/// small for an AdamW element's (`tests/tests/step_game.rs` checks every kind of op).
pub const MAX_CALL_BYTES: usize = 65_536;

/// Why the dispute contract refused a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Error {
    /// The game refused the move.
    Game(GameError),
    /// No game has this id.
    UnknownGame,
    /// Only the contract's opener (the market) opens and closes games.
    NotOpener,
    /// Only the game's executor or challenger makes this move.
    NotAPlayer,
    /// The game is not decided yet.
    NotDecided,
    /// The record does not fit contract storage.
    TooLarge,
}

impl From<GameError> for Error {
    fn from(e: GameError) -> Error {
        Error::Game(e)
    }
}

#[cfg(feature = "ink")]
impl From<crate::storage::TooLarge> for Error {
    fn from(_: crate::storage::TooLarge) -> Error {
        Error::TooLarge
    }
}

impl GameError {
    /// The error in words.
    pub fn message(self) -> &'static str {
        match self {
            GameError::WrongStage => {
                "the game is not at a stage where this move is made: run `iollm dispute show`"
            }
            GameError::NotYourMove => "it is not your move",
            GameError::BadProof => "a value or proof does not match what was committed",
            GameError::NoDisagreement => {
                "both sides claim the same result: there is nothing to dispute"
            }
            GameError::NotDisputed => "the named element is the same on both sides",
            GameError::OutOfRange => {
                "an index is out of range, or the job's config cannot be played"
            }
            GameError::TooLate => "the deadline for this move passed: call timeout",
            GameError::MissingInput => "the replayed step reads an input that was not supplied",
            GameError::Overflow => "a count overflowed",
        }
    }
}

impl Error {
    /// The error in words, with what to do where there is something to do.
    pub fn message(self) -> &'static str {
        match self {
            Error::Game(e) => e.message(),
            Error::UnknownGame => "no game has this id",
            Error::NotOpener => "only the market opens and closes games",
            Error::NotAPlayer => "only the game's executor or challenger makes this move",
            Error::NotDecided => "the game is not decided yet",
            Error::TooLarge => "the record does not fit contract storage",
        }
    }
}

/// Events, SCALE-identical to the contract's.
pub mod events {
    use super::*;

    /// `Opened`: a game began.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct Opened {
        /// The game.
        pub game: GameId,
        /// The executor.
        pub executor: AccountBytes,
        /// The challenger.
        pub challenger: AccountBytes,
    }

    /// `Moved`: a side (or anyone, for the referee's inputs) moved.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct Moved {
        /// The game.
        pub game: GameId,
        /// Who moved.
        pub by: AccountBytes,
        /// Moves made so far.
        pub moves: u32,
    }

    /// `Decided`: the verdict.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub struct Decided {
        /// The game.
        pub game: GameId,
        /// Who was right.
        pub verdict: Verdict,
        /// How it was decided.
        pub how: How,
        /// Moves made.
        pub moves: u32,
    }

    /// Signature topic of [`Opened`].
    pub const OPENED_TOPIC: [u8; 32] = [
        0x1c, 0x91, 0x38, 0x99, 0x51, 0x67, 0x97, 0xe3, 0xf5, 0xe4, 0xc5, 0x75, 0x7f, 0xc4, 0x14,
        0xb6, 0xef, 0x45, 0x2a, 0xc6, 0x07, 0x57, 0x71, 0x1f, 0x76, 0x87, 0x99, 0x65, 0x46, 0x41,
        0x4f, 0x24,
    ];
    /// Signature topic of [`Moved`].
    pub const MOVED_TOPIC: [u8; 32] = [
        0xf3, 0x04, 0xb3, 0xa3, 0x9c, 0x8c, 0x9c, 0x0b, 0xfe, 0x7f, 0xa1, 0xcf, 0xfa, 0x73, 0x5a,
        0x37, 0x0f, 0x8c, 0x70, 0x40, 0xbb, 0xec, 0x83, 0x41, 0x64, 0x71, 0x3c, 0x73, 0x5f, 0xa7,
        0xa5, 0x33,
    ];
    /// Signature topic of [`Decided`].
    pub const DECIDED_TOPIC: [u8; 32] = [
        0x45, 0x0b, 0x40, 0x61, 0xf3, 0xf0, 0x2d, 0xe4, 0x6a, 0xce, 0xd1, 0x01, 0x28, 0x48, 0xaf,
        0x41, 0x5b, 0x95, 0x47, 0x3e, 0xcd, 0x6f, 0xbd, 0xfa, 0xa8, 0x46, 0x2f, 0xa5, 0xbc, 0xb2,
        0x3f, 0x26,
    ];

    crate::contract_events! {
        "the dispute contract emits about games";
        Opened => OPENED_TOPIC,
        Moved => MOVED_TOPIC,
        Decided => DECIDED_TOPIC,
    }
}

/// Message selectors (ink!'s: the first 4 bytes of BLAKE2b-256 of the name).
pub mod selectors {
    /// `new`.
    pub const NEW: [u8; 4] = [0x9b, 0xae, 0x9d, 0x5e];
    /// `open`.
    pub const OPEN: [u8; 4] = [0x8a, 0x1b, 0x6a, 0x4c];
    /// `open_package`.
    pub const OPEN_PACKAGE: [u8; 4] = [0xc1, 0x43, 0x83, 0x13];
    /// `open_initial`.
    pub const OPEN_INITIAL: [u8; 4] = [0x4e, 0x1a, 0xaf, 0x3e];
    /// `initial_header`.
    pub const INITIAL_HEADER: [u8; 4] = [0x30, 0xb4, 0xba, 0xbc];
    /// `prove_package`.
    pub const PROVE_PACKAGE: [u8; 4] = [0x79, 0x83, 0xff, 0x9c];
    /// `commit`.
    pub const COMMIT: [u8; 4] = [0xdd, 0x5b, 0xe3, 0x38];
    /// `reveal`.
    pub const REVEAL: [u8; 4] = [0xa8, 0x05, 0x32, 0xc0];
    /// `output`.
    pub const OUTPUT: [u8; 4] = [0x18, 0xf7, 0x28, 0xff];
    /// `children`.
    pub const CHILDREN: [u8; 4] = [0xe7, 0x63, 0xbf, 0x8d];
    /// `pick`.
    pub const PICK: [u8; 4] = [0xf7, 0xc1, 0x03, 0x72];
    /// `chunk`.
    pub const CHUNK: [u8; 4] = [0x8a, 0xd4, 0xbd, 0xb6];
    /// `name`.
    pub const NAME: [u8; 4] = [0x3a, 0xda, 0xf7, 0x0d];
    /// `next_state`.
    pub const NEXT_STATE: [u8; 4] = [0x35, 0x42, 0x96, 0xda];
    /// `replay`.
    pub const REPLAY: [u8; 4] = [0x42, 0x94, 0x1c, 0x88];
    /// `timeout`.
    pub const TIMEOUT: [u8; 4] = [0x2c, 0x73, 0x86, 0x7c];
    /// `defend`.
    pub const DEFEND: [u8; 4] = [0x06, 0xbf, 0x7d, 0xda];
    /// `close`.
    pub const CLOSE: [u8; 4] = [0x3c, 0x92, 0x21, 0x66];
    /// `release`.
    pub const RELEASE: [u8; 4] = [0x3f, 0x2b, 0xe1, 0x52];
    /// `game`.
    pub const GAME: [u8; 4] = [0xae, 0xd3, 0x92, 0x68];
    /// `game_count`.
    pub const GAME_COUNT: [u8; 4] = [0x10, 0x4e, 0x97, 0xf7];
}

/// Call data of each message.
pub mod calls {
    use super::*;
    use crate::bisection::Value;
    use crate::game::Terms;
    use alloc::vec::Vec;
    use iollm_repops::referee::{Input, Proven};

    fn with<A: Encode>(selector: [u8; 4], args: A) -> Vec<u8> {
        let mut data = selector.to_vec();
        args.encode_to(&mut data);
        data
    }

    /// `new(opener)`.
    pub fn new(opener: AccountBytes) -> Vec<u8> {
        with(selectors::NEW, opener)
    }
    /// `open(terms, first_path, last, last_path)`: the challenger's claim.
    pub fn open(terms: &Terms, first: &[Value], last: Value, last_path: &[Value]) -> Vec<u8> {
        with(selectors::OPEN, (terms, first, last, last_path))
    }
    /// `prove_package(game, answer)`: the executor's proof in an output game.
    pub fn prove_package(game: GameId, answer: &crate::package::Answer) -> Vec<u8> {
        with(selectors::PROVE_PACKAGE, (game, answer))
    }
    /// `initial_header(game, proof)`: the executor's header of `h_0` in an initial game.
    pub fn initial_header(game: GameId, proof: &iollm_repops::commit::HeaderProof) -> Vec<u8> {
        with(selectors::INITIAL_HEADER, (game, proof))
    }
    /// `commit(game, root, first_path, last, last_path)`.
    pub fn commit(
        game: GameId,
        root: Value,
        first: &[Value],
        last: Value,
        last_path: &[Value],
    ) -> Vec<u8> {
        with(selectors::COMMIT, (game, root, first, last, last_path))
    }
    /// `reveal(game, value, path)`.
    pub fn reveal(game: GameId, value: Value, path: &[Value]) -> Vec<u8> {
        with(selectors::REVEAL, (game, value, path))
    }
    /// `output(game, root, siblings)`.
    pub fn output(game: GameId, root: Value, siblings: &[Value]) -> Vec<u8> {
        with(selectors::OUTPUT, (game, root, siblings))
    }
    /// `children(game, left, right)`.
    pub fn children(game: GameId, left: Value, right: Value) -> Vec<u8> {
        with(selectors::CHILDREN, (game, left, right))
    }
    /// `pick(game, right)`.
    pub fn pick(game: GameId, right: bool) -> Vec<u8> {
        with(selectors::PICK, (game, right))
    }
    /// `chunk(game, words, base_proof)`.
    pub fn chunk(game: GameId, words: &[u32], base_proof: &[Vec<u8>]) -> Vec<u8> {
        with(selectors::CHUNK, (game, words, base_proof))
    }
    /// `name(game, offset, root, first_path, last, last_path)`.
    pub fn name(
        game: GameId,
        offset: u32,
        root: Value,
        first: &[Value],
        last: Value,
        last_path: &[Value],
    ) -> Vec<u8> {
        with(selectors::NAME, (game, offset, root, first, last, last_path))
    }
    /// `next_state(game, scalars, loss, adam_root, adam_path)`.
    pub fn next_state(
        game: GameId,
        scalars: &Proven,
        loss: &Proven,
        adam_root: Value,
        adam_path: &[Value],
    ) -> Vec<u8> {
        with(selectors::NEXT_STATE, (game, scalars, loss, adam_root, adam_path))
    }
    /// `replay(game, inputs)`.
    pub fn replay(game: GameId, inputs: &[Input]) -> Vec<u8> {
        with(selectors::REPLAY, (game, inputs))
    }
    /// `timeout(game)`.
    pub fn timeout(game: GameId) -> Vec<u8> {
        with(selectors::TIMEOUT, game)
    }
    /// `close(game)`.
    pub fn close(game: GameId) -> Vec<u8> {
        with(selectors::CLOSE, game)
    }
    /// `release(game)`.
    pub fn release(game: GameId) -> Vec<u8> {
        with(selectors::RELEASE, game)
    }
    /// `game(game)`.
    pub fn game(game: GameId) -> Vec<u8> {
        with(selectors::GAME, game)
    }
    /// `game_count()`.
    pub fn game_count() -> Vec<u8> {
        selectors::GAME_COUNT.to_vec()
    }
}
