//! Typed client of the dispute contract: opening a game, its moves (each dry-run first: a
//! refused move is [`ChainError::ContractRefused`] and nothing is submitted), and reading a game.

use crate::contract::Executed;
use crate::{AccountId, Chain, ChainError, Signer};
use iollm_types::bisection::Value;
use iollm_types::dispute::{calls, events, Error, GameId};
use iollm_types::game::{Game, Terms};
use parity_scale_codec::Decode;

/// The dispute contract at a known address.
#[derive(Debug, Clone)]
pub struct DisputeClient {
    chain: Chain,
    address: AccountId,
}

impl DisputeClient {
    /// The dispute contract at `address` on `chain`.
    pub fn new(chain: Chain, address: impl Into<AccountId>) -> DisputeClient {
        DisputeClient { chain, address: address.into() }
    }

    /// Its address.
    pub fn address(&self) -> &AccountId {
        &self.address
    }

    /// Constructor input: `new(opener)`.
    pub fn constructor(opener: [u8; 32]) -> Vec<u8> {
        calls::new(opener)
    }

    async fn exec<T: Decode>(
        &self,
        signer: &Signer,
        input: Vec<u8>,
        what: &'static str,
    ) -> Result<Executed<T>, ChainError> {
        self.chain.execute::<T, Error>(signer, &self.address, 0, input, what).await
    }

    /// Opens a game with the challenger's claim (its trace's `h_0` path, its `h_n` and that
    /// path); the opener only. Returns its id, from the `Opened` event.
    pub async fn open(
        &self,
        signer: &Signer,
        terms: &Terms,
        first_path: &[Value],
        last: Value,
        last_path: &[Value],
    ) -> Result<Executed<GameId>, ChainError> {
        let call: Executed<GameId> =
            self.exec(signer, calls::open(terms, first_path, last, last_path), "game id").await?;
        call.from_event(events::OPENED_TOPIC, "Opened", |e: events::Opened| e.game)
    }

    /// Makes one move: `input` is the call of `iollm_types::dispute::calls` for it.
    pub async fn play(&self, signer: &Signer, input: Vec<u8>) -> Result<Executed<()>, ChainError> {
        self.exec(signer, input, "()").await
    }

    /// The `Decided` event of a move that ended its game, if it did.
    pub fn decided(call: &Executed<()>) -> Option<events::Decided> {
        call.event(events::DECIDED_TOPIC, "Decided").ok()
    }

    /// A game, unless unknown or closed.
    pub async fn game(&self, game: GameId) -> Result<Option<Game>, ChainError> {
        self.chain.query(&self.address, calls::game(game), "game").await
    }

    /// Games opened so far.
    pub async fn game_count(&self) -> Result<GameId, ChainError> {
        self.chain.query(&self.address, calls::game_count(), "game count").await
    }
}
