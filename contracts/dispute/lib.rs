//! The iollm dispute game: an executor defends a training result against one challenger, level
//! by level (checkpoints → steps → ops → the op's output → one element's chain of operations),
//! and the contract itself recomputes the one disputed chain step on soft floats from inputs
//! proven against what both sides committed. No vote, no committee: one honest side wins
//! whatever the other does (VERIFICATION.md). The game is `iollm_types::game`; this contract
//! stores games, checks who moves, and tells the opener (the market) the verdict.
//!
//! Who can trust what: a player, that its moves are checked against the commitments only and
//! that a missed deadline of the other side ends the game in its favour (`timeout`, callable by
//! anyone); the opener, that a decided game's verdict is final until it closes it.
#![cfg_attr(not(feature = "std"), no_std, no_main)]
// The ink! linter (scripts/ink-lint.sh): game ids are topics on purpose, so that a player or an
// indexer can follow one game; they are not amounts.
#![cfg_attr(dylint_lib = "ink_linting", allow(primitive_topic))]

#[ink::contract]
mod dispute {
    use ink::env::hash::{HashOutput, Sha2x256};
    use ink::prelude::vec::Vec;
    use ink::storage::traits::ManualKey;
    use ink::storage::Mapping;
    use iollm_repops::commit::HeaderProof;
    use iollm_repops::merkle::Hasher;
    use iollm_repops::referee::{Input, Proven};
    use iollm_types::bisection::{Side, Value, Verdict};
    use iollm_types::dispute::{Error, GameId};
    use iollm_types::game::{Game, GameError, How, Stage, Terms};
    use iollm_types::package::{Answer, Question};
    use iollm_types::storage;

    /// The host's SHA-256.
    struct HostSha;

    impl Hasher for HostSha {
        fn hash(parts: &[&[u8]]) -> [u8; 32] {
            let mut out = <Sha2x256 as HashOutput>::Type::default();
            ink::env::hash_bytes::<Sha2x256>(&parts.concat(), &mut out);
            out
        }
    }

    /// Dispute storage. Mapping keys are fixed (`ManualKey`) so that data written before an
    /// upgrade is found after it.
    #[ink(storage)]
    pub struct Dispute {
        opener: AccountId,
        last_game: GameId,
        games: Mapping<GameId, Game, ManualKey<0x4450_0001>>,
    }

    /// Layout: `iollm_types::dispute::events::Opened`.
    #[ink(event)]
    pub struct Opened {
        #[ink(topic)]
        game: GameId,
        executor: AccountId,
        challenger: AccountId,
    }

    /// Layout: `iollm_types::dispute::events::Moved`.
    #[ink(event)]
    pub struct Moved {
        #[ink(topic)]
        game: GameId,
        by: AccountId,
        moves: u32,
    }

    /// Layout: `iollm_types::dispute::events::Decided`.
    #[ink(event)]
    pub struct Decided {
        #[ink(topic)]
        game: GameId,
        verdict: Verdict,
        how: How,
        moves: u32,
    }

    impl Dispute {
        /// A dispute contract whose games only `opener` (the market) opens and closes.
        #[ink(constructor)]
        pub fn new(opener: AccountId) -> Self {
            Dispute { opener, last_game: 0, games: Mapping::new() }
        }

        /// Opens a game between `terms.sides` with the challenger's claim: its trace root holds
        /// the job's `h_0` at position 0 (`first_path`) and its `h_n` (`last`) at position `n`.
        /// The executor answers with `commit` about its own trace. Only the opener.
        #[ink(message)]
        pub fn open(
            &mut self,
            terms: Terms,
            first_path: Vec<Value>,
            last: Value,
            last_path: Vec<Value>,
        ) -> Result<GameId, Error> {
            if self.env().caller() != self.opener {
                return Err(Error::NotOpener);
            }
            let now = self.env().block_number();
            self.start(Game::open::<HostSha>(terms, &first_path, last, &last_path, now)?)
        }

        /// Opens an output game about the package `terms.output_cid`: the executor must prove
        /// what `question` asks of it ([`Dispute::prove_package`]) in time. Only the opener.
        #[ink(message)]
        pub fn open_package(&mut self, terms: Terms, question: Question) -> Result<GameId, Error> {
            if self.env().caller() != self.opener {
                return Err(Error::NotOpener);
            }
            self.start(Game::open_package(terms, question, self.env().block_number())?)
        }

        /// The executor proves what an output game asks of its package; the contract reads
        /// the proof against the output CID, the trace root and the job's commitments, and
        /// decides the game for the executor if it proves it.
        #[ink(message)]
        pub fn prove_package(&mut self, game: GameId, answer: Answer) -> Result<(), Error> {
            self.play(game, |g, side, now| {
                Self::only(side?, Side::Executor)?;
                g.prove_package::<HostSha>(&answer, now)
            })
        }

        /// Opens an initial game about the job's `h_0`: the executor must show it is the
        /// state the job's config and seed start from ([`Dispute::initial_header`], then a
        /// descent to one chunk the contract recomputes). Only the opener.
        #[ink(message)]
        pub fn open_initial(&mut self, terms: Terms) -> Result<GameId, Error> {
            if self.env().caller() != self.opener {
                return Err(Error::NotOpener);
            }
            self.start(Game::open_initial(terms, self.env().block_number())?)
        }

        /// The executor reveals `h_0`'s header and tensors' root in an initial game; refused
        /// unless they are `h_0`'s and the header is the job's initial one.
        #[ink(message)]
        pub fn initial_header(&mut self, game: GameId, proof: HeaderProof) -> Result<(), Error> {
            self.play(game, |g, side, now| {
                Self::only(side?, Side::Executor)?;
                g.initial_header::<HostSha>(&proof, now)
            })
        }

        /// Opens the defence of decided game `game`'s executor result by `defender` (one of
        /// its attesters, the market checks): a new game about the same claim with the defender
        /// in the executor's place ([`Game::defence`]). Only the opener.
        #[ink(message)]
        pub fn defend(&mut self, game: GameId, defender: AccountId) -> Result<GameId, Error> {
            if self.env().caller() != self.opener {
                return Err(Error::NotOpener);
            }
            let g = storage::get(&self.games, game).ok_or(Error::UnknownGame)?;
            if g.verdict().is_none() {
                return Err(Error::NotDecided);
            }
            self.start(g.defence(*defender.as_ref(), self.env().block_number()))
        }

        /// Commits the caller's root over the current level's sequence.
        #[ink(message)]
        pub fn commit(
            &mut self,
            game: GameId,
            root: Value,
            first_path: Vec<Value>,
            last: Value,
            last_path: Vec<Value>,
        ) -> Result<(), Error> {
            self.play(game, |g, side, now| {
                g.commit::<HostSha>(side?, root, &first_path, last, &last_path, now)
            })
        }

        /// Reveals the caller's value at the current bisection's midpoint.
        #[ink(message)]
        pub fn reveal(
            &mut self,
            game: GameId,
            value: Value,
            path: Vec<Value>,
        ) -> Result<(), Error> {
            self.play(game, |g, side, now| g.reveal::<HostSha>(side?, value, &path, now))
        }

        /// The executor reveals the disputed op's output root.
        #[ink(message)]
        pub fn output(
            &mut self,
            game: GameId,
            root: Value,
            siblings: Vec<Value>,
        ) -> Result<(), Error> {
            self.play(game, |g, side, now| {
                Self::only(side?, Side::Executor)?;
                g.output::<HostSha>(root, &siblings, now)
            })
        }

        /// The executor reveals the current node's children in the descent.
        #[ink(message)]
        pub fn children(&mut self, game: GameId, left: Value, right: Value) -> Result<(), Error> {
            self.play(game, |g, side, now| {
                Self::only(side?, Side::Executor)?;
                g.children::<HostSha>(left, right, now)
            })
        }

        /// The challenger picks the child it disputes.
        #[ink(message)]
        pub fn pick(&mut self, game: GameId, right: bool) -> Result<(), Error> {
            self.play(game, |g, side, now| {
                Self::only(side?, Side::Challenger)?;
                g.pick(right, now)
            })
        }

        /// The executor reveals the chunk the descent reached (with the UnixFS proof of the
        /// base's weights in an initial game of a base model's job; empty otherwise).
        #[ink(message)]
        pub fn chunk(
            &mut self,
            game: GameId,
            words: Vec<u32>,
            base_proof: Vec<Vec<u8>>,
        ) -> Result<(), Error> {
            self.play(game, |g, side, now| {
                Self::only(side?, Side::Executor)?;
                g.chunk::<HostSha>(words, &base_proof, now)
            })
        }

        /// The challenger names the element it disputes and commits its chain.
        #[ink(message)]
        pub fn name(
            &mut self,
            game: GameId,
            offset: u32,
            root: Value,
            first_path: Vec<Value>,
            last: Value,
            last_path: Vec<Value>,
        ) -> Result<(), Error> {
            self.play(game, |g, side, now| {
                Self::only(side?, Side::Challenger)?;
                g.name::<HostSha>(offset, root, &first_path, last, &last_path, now)
            })
        }

        /// Anyone proves the next state root from the agreed ops (the step's last transition).
        #[ink(message)]
        pub fn next_state(
            &mut self,
            game: GameId,
            scalars: Proven,
            loss: Proven,
            adam_root: Value,
            adam_path: Vec<Value>,
        ) -> Result<(), Error> {
            self.play(game, |g, _, now| {
                g.next_state::<HostSha>(&scalars, &loss, (&adam_root, &adam_path), now)
            })
        }

        /// Anyone supplies the proven inputs of the disputed chain step; the contract recomputes
        /// it on soft floats and decides.
        #[ink(message)]
        pub fn replay(&mut self, game: GameId, inputs: Vec<Input>) -> Result<(), Error> {
            self.play(game, |g, _, now| g.replay::<HostSha>(&inputs, now))
        }

        /// Anyone ends a game whose side to move missed its deadline, against that side.
        #[ink(message)]
        pub fn timeout(&mut self, game: GameId) -> Result<(), Error> {
            self.play(game, |g, _, now| g.timeout(now).map(|_| ()).ok_or(GameError::WrongStage))
        }

        /// The opener reads a decided game's verdict and how it was reached, to pay out on it.
        /// A game whose side to move missed its deadline is decided against that side first,
        /// so settling never needs a separate `timeout`. The decided game stays until
        /// [`Dispute::release`].
        #[ink(message)]
        pub fn close(&mut self, game: GameId) -> Result<(Verdict, How), Error> {
            if self.env().caller() != self.opener {
                return Err(Error::NotOpener);
            }
            let mut g = storage::get(&self.games, game).ok_or(Error::UnknownGame)?;
            let late = g.verdict().is_none() && g.timeout(self.env().block_number()).is_some();
            let Stage::Decided { verdict, how } = g.stage else {
                return Err(Error::NotDecided);
            };
            if late {
                self.env().emit_event(Decided { game, verdict, how, moves: g.moves });
                storage::put(&mut self.games, game, &g)?;
            }
            Ok((verdict, how))
        }

        /// The opener frees a decided game's record, in a call its challenger sends, so that
        /// pallet-contracts refunds the record's storage deposit to the challenger who opened
        /// it (the market's `release`).
        #[ink(message)]
        pub fn release(&mut self, game: GameId) -> Result<(), Error> {
            if self.env().caller() != self.opener {
                return Err(Error::NotOpener);
            }
            let g = storage::get(&self.games, game).ok_or(Error::UnknownGame)?;
            if g.verdict().is_none() {
                return Err(Error::NotDecided);
            }
            self.games.remove(game);
            Ok(())
        }

        /// A game, open or decided, until released.
        #[ink(message)]
        pub fn game(&self, game: GameId) -> Option<Game> {
            storage::get(&self.games, game)
        }

        /// Games opened so far (the last id).
        #[ink(message)]
        pub fn game_count(&self) -> GameId {
            self.last_game
        }

        fn only(side: Side, want: Side) -> Result<(), GameError> {
            if side == want {
                Ok(())
            } else {
                Err(GameError::NotYourMove)
            }
        }

        /// Stores a new game under the next id and emits `Opened`; the id.
        fn start(&mut self, game: Game) -> Result<GameId, Error> {
            let id = self.last_game.checked_add(1).ok_or(Error::Game(GameError::Overflow))?;
            self.last_game = id;
            self.store(id, &game)?;
            self.env().emit_event(Opened {
                game: id,
                executor: AccountId::from(game.terms.sides[0]),
                challenger: AccountId::from(game.terms.sides[1]),
            });
            Ok(id)
        }

        fn store(&mut self, id: GameId, game: &Game) -> Result<(), Error> {
            Ok(storage::put(&mut self.games, id, game)?)
        }

        /// Loads game `id`, applies `step` (given the caller's side, if it is a player, and the
        /// block), stores it and emits `Moved`, and `Decided` when it ends.
        fn play(
            &mut self,
            id: GameId,
            step: impl FnOnce(&mut Game, Result<Side, GameError>, BlockNumber) -> Result<(), GameError>,
        ) -> Result<(), Error> {
            let mut game = storage::get(&self.games, id).ok_or(Error::UnknownGame)?;
            if game.verdict().is_some() {
                return Err(Error::Game(GameError::WrongStage));
            }
            let caller = self.env().caller();
            let bytes: [u8; 32] = *caller.as_ref();
            let side = if bytes == game.terms.sides[0] {
                Ok(Side::Executor)
            } else if bytes == game.terms.sides[1] {
                Ok(Side::Challenger)
            } else {
                Err(GameError::NotYourMove)
            };
            let now = self.env().block_number();
            step(&mut game, side, now).map_err(|e| match (e, side) {
                (GameError::NotYourMove, Err(_)) => Error::NotAPlayer,
                (e, _) => Error::Game(e),
            })?;
            self.store(id, &game)?;
            self.env().emit_event(Moved { game: id, by: caller, moves: game.moves });
            if let Stage::Decided { verdict, how } = game.stage {
                self.env().emit_event(Decided { game: id, verdict, how, moves: game.moves });
            }
            Ok(())
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use iollm_types::dispute::{events, selectors};

        #[ink::test]
        fn shared_selectors_and_topics_match_the_contract() {
            use ink::env::Event;
            use ink::selector_bytes as sel;
            let s = [
                (selectors::NEW, sel!("new")),
                (selectors::OPEN, sel!("open")),
                (selectors::OPEN_PACKAGE, sel!("open_package")),
                (selectors::OPEN_INITIAL, sel!("open_initial")),
                (selectors::INITIAL_HEADER, sel!("initial_header")),
                (selectors::PROVE_PACKAGE, sel!("prove_package")),
                (selectors::DEFEND, sel!("defend")),
                (selectors::COMMIT, sel!("commit")),
                (selectors::REVEAL, sel!("reveal")),
                (selectors::OUTPUT, sel!("output")),
                (selectors::CHILDREN, sel!("children")),
                (selectors::PICK, sel!("pick")),
                (selectors::CHUNK, sel!("chunk")),
                (selectors::NAME, sel!("name")),
                (selectors::NEXT_STATE, sel!("next_state")),
                (selectors::REPLAY, sel!("replay")),
                (selectors::TIMEOUT, sel!("timeout")),
                (selectors::CLOSE, sel!("close")),
                (selectors::RELEASE, sel!("release")),
                (selectors::GAME, sel!("game")),
                (selectors::GAME_COUNT, sel!("game_count")),
            ];
            for (ours, inks) in s {
                assert_eq!(ours, inks);
            }
            let t = [
                (events::OPENED_TOPIC, Opened::SIGNATURE_TOPIC),
                (events::MOVED_TOPIC, Moved::SIGNATURE_TOPIC),
                (events::DECIDED_TOPIC, Decided::SIGNATURE_TOPIC),
            ];
            for (ours, inks) in t {
                assert_eq!(Some(ours), inks, "{:?}", inks.map(|t| t.to_vec()));
            }
        }

        #[ink::test]
        fn only_the_opener_opens_or_closes_and_unknown_games_are_refused() {
            let a = ink::env::test::default_accounts::<ink::env::DefaultEnvironment>();
            ink::env::test::set_caller::<ink::env::DefaultEnvironment>(a.alice);
            let mut d = Dispute::new(a.bob);
            assert_eq!(d.close(1), Err(Error::NotOpener));
            // Nobody but the market frees a game (it does so in the challenger's own call).
            assert_eq!(d.release(1), Err(Error::NotOpener));
            ink::env::test::set_caller::<ink::env::DefaultEnvironment>(a.bob);
            assert_eq!(d.release(7), Err(Error::UnknownGame));
            ink::env::test::set_caller::<ink::env::DefaultEnvironment>(a.alice);
            assert_eq!(d.reveal(7, [0; 32], Vec::new()), Err(Error::UnknownGame));
            assert_eq!(d.timeout(7), Err(Error::UnknownGame));
            assert_eq!(d.game(7), None);
            assert_eq!(d.game_count(), 0);
        }
    }
}
