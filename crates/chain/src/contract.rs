//! Generic contract calls: dry-run, submit with the dry-run's limits, instantiate, decode output
//! and events. Typed per-contract clients build on these.
//!
//! Every state-changing call is dry-run first: a call the contract would refuse is reported as
//! [`ChainError::ContractRefused`] without submitting anything (so it costs no fee), and a call
//! that goes through is submitted with exactly the gas and storage deposit the dry-run measured.

use crate::node::runtime_types::{
    pallet_contracts::{primitives::Code, primitives::StorageDeposit as NodeDeposit},
    sp_runtime::DispatchError,
    sp_weights::weight_v2::Weight,
};
use crate::send::Sent;
use crate::{node, AccountId, Chain, ChainError, Signer};
use parity_scale_codec::{Compact, Decode, DecodeAll};

/// ink!'s `LangError`: the message could not even be dispatched.
#[derive(Debug, Decode)]
enum LangError {
    #[codec(index = 1)]
    CouldNotReadInput,
}

/// `ReturnFlags::REVERT` of pallet-contracts.
const REVERT: u32 = 1;

/// A contract's own error type, readable as one line.
pub trait ContractError: Decode {
    /// The contract's name, for messages.
    const CONTRACT: &'static str;
    /// The error in words.
    fn message(&self) -> String;
}

impl ContractError for iollm_types::registry::Error {
    const CONTRACT: &'static str = "registry";
    fn message(&self) -> String {
        iollm_types::registry::Error::message(*self).to_owned()
    }
}

impl ContractError for iollm_types::market::Error {
    const CONTRACT: &'static str = "market";
    fn message(&self) -> String {
        iollm_types::market::Error::message(*self).to_owned()
    }
}

impl ContractError for iollm_types::dispute::Error {
    const CONTRACT: &'static str = "dispute";
    fn message(&self) -> String {
        iollm_types::dispute::Error::message(*self).to_owned()
    }
}

impl ContractError for iollm_types::splitter::Error {
    const CONTRACT: &'static str = "splitter";
    fn message(&self) -> String {
        iollm_types::splitter::Error::message(*self).to_owned()
    }
}

/// Storage deposit effect of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageDeposit {
    /// The caller pays this much.
    Charge(u128),
    /// The caller gets this much back.
    Refund(u128),
}

impl StorageDeposit {
    fn limit(self) -> Option<Compact<u128>> {
        match self {
            StorageDeposit::Charge(amount) => Some(Compact(amount)),
            StorageDeposit::Refund(_) => Some(Compact(0)),
        }
    }
}

/// What a dry-run measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DryRun {
    /// Gas to give the real call: `(ref_time, proof_size)`.
    pub gas_required: (u64, u64),
    /// Gas the dry-run consumed: `(ref_time, proof_size)`.
    pub gas_consumed: (u64, u64),
    /// Storage deposit charged or refunded.
    pub storage_deposit: StorageDeposit,
    /// The raw output (SCALE `Result<_, LangError>`).
    pub output: Vec<u8>,
    /// Whether the contract reverted.
    pub reverted: bool,
}

/// An event a contract emitted, as found in a finalized block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractEvent {
    /// The emitting contract.
    pub contract: AccountId,
    /// The event's topics; the first is ink!'s signature topic.
    pub topics: Vec<[u8; 32]>,
    /// SCALE-encoded event fields.
    pub data: Vec<u8>,
}

impl ContractEvent {
    /// Decodes the event as `E` (all of its bytes) if its signature topic is `topic`.
    pub fn decode_as<E: Decode>(&self, topic: [u8; 32]) -> Option<Result<E, ChainError>> {
        (self.topics.first() == Some(&topic)).then(|| {
            E::decode_all(&mut &self.data[..])
                .map_err(|e| ChainError::UndecodableOutput { what: "event", reason: e.to_string() })
        })
    }
}

/// A finalized contract call.
#[derive(Debug, Clone)]
pub struct Executed<T> {
    /// What the message returned in the dry-run that preceded the call. Where that can differ
    /// from what the executed call returned (an id another transaction may take first, a
    /// block-dependent eta), the clients replace it with the value the executed call's event
    /// carries ([`Executed::from_event`]).
    pub value: T,
    /// Events the contract(s) emitted in this call.
    pub events: Vec<ContractEvent>,
    /// The dry-run that set the call's limits.
    pub dry_run: DryRun,
    /// Transaction fee paid, as reported by `TransactionFeePaid`.
    pub fee: u128,
    /// The contract called (events of contracts it called in turn are in `events` too).
    pub callee: AccountId,
    /// Where the transaction landed.
    pub included: Included,
}

/// A finalized transaction: its hash and the block that holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Included {
    /// The extrinsic's hash.
    pub tx_hash: [u8; 32],
    /// The finalized block it is in.
    pub block_hash: [u8; 32],
    /// That block's number.
    pub block: u32,
}

impl<T> Executed<T> {
    /// The first event with signature `topic` emitted by the called contract itself (not by a
    /// contract it called), decoded as `E`.
    pub fn event<E: Decode>(&self, topic: [u8; 32], name: &'static str) -> Result<E, ChainError> {
        self.events
            .iter()
            .filter(|e| e.contract == self.callee)
            .find_map(|e| e.decode_as::<E>(topic))
            .unwrap_or(Err(ChainError::MissingEvent(name)))
    }

    /// The same call with `value` taken from its event `name` (signature `topic`) by `pick`:
    /// what the executed call did, not what the dry-run before it predicted.
    pub fn from_event<E: Decode, U>(
        self,
        topic: [u8; 32],
        name: &'static str,
        pick: impl FnOnce(E) -> U,
    ) -> Result<Executed<U>, ChainError> {
        let value = pick(self.event(topic, name)?);
        Ok(Executed {
            value,
            events: self.events,
            dry_run: self.dry_run,
            fee: self.fee,
            callee: self.callee,
            included: self.included,
        })
    }
}

/// The eta an admin `propose_change` set, from its `ChangeProposed` event (`C`: the contract's
/// change type).
pub(crate) fn proposed_eta<C: Decode>(
    call: Executed<iollm_types::BlockNumber>,
) -> Result<Executed<iollm_types::BlockNumber>, ChainError> {
    use iollm_types::admin::events::{ChangeProposed, CHANGE_PROPOSED_TOPIC};
    call.from_event(CHANGE_PROPOSED_TOPIC, "ChangeProposed", |e: ChangeProposed<C>| e.eta)
}

/// A newly instantiated contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployed {
    /// Its address.
    pub address: AccountId,
    /// The hash of its code on chain.
    pub code_hash: [u8; 32],
    /// The instantiation dry-run.
    pub dry_run: DryRun,
}

/// Decodes `bytes` as ink!'s `Result<R, LangError>`.
pub fn decode_output<R: Decode>(bytes: &[u8], what: &'static str) -> Result<R, ChainError> {
    let undecodable = |reason: String| ChainError::UndecodableOutput { what, reason };
    match Result::<R, LangError>::decode(&mut &bytes[..]) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(LangError::CouldNotReadInput)) => {
            Err(undecodable("the contract could not read the call's input".into()))
        }
        Err(e) => Err(undecodable(e.to_string())),
    }
}

impl Chain {
    /// Turns the `DispatchError` of a dry-run into a readable error.
    fn dispatch_error(&self, origin: &AccountId, error: DispatchError) -> ChainError {
        match error {
            DispatchError::Module(module) => {
                let metadata = self.api.metadata();
                let pallet = metadata.pallet_by_index(module.index);
                let variant = pallet.and_then(|p| p.error_variant_by_index(module.error[0]));
                let (pallet, error, docs) = match (pallet, variant) {
                    (Some(p), Some(v)) => {
                        (p.name().to_owned(), v.name.clone(), v.docs.join(" ").trim().to_owned())
                    }
                    _ => (
                        format!("pallet #{}", module.index),
                        format!("{:?}", module.error),
                        "".into(),
                    ),
                };
                // A dry-run's deposit limit is the origin's free balance: running out of it, or of
                // funds to transfer, means the account cannot afford the call.
                if matches!(
                    error.as_str(),
                    "StorageDepositNotEnoughFunds"
                        | "StorageDepositLimitExhausted"
                        | "TransferFailed"
                ) {
                    return ChainError::InsufficientFunds { account: origin.to_string() };
                }
                let docs = if docs.is_empty() { docs } else { format!(" — {docs}") };
                ChainError::Dispatch { pallet, error, docs }
            }
            other => ChainError::Dispatch {
                pallet: "runtime".into(),
                error: format!("{other:?}"),
                docs: String::new(),
            },
        }
    }

    /// Dry-runs a call of `contract` with SCALE `input` from `origin`, transferring `value`.
    pub async fn dry_run_call(
        &self,
        origin: &AccountId,
        contract: &AccountId,
        value: u128,
        input: Vec<u8>,
    ) -> Result<DryRun, ChainError> {
        let payload = node::apis().contracts_api().call(
            origin.clone(),
            contract.clone(),
            value,
            None,
            None,
            input,
        );
        let result = self.api.runtime_api().at_latest().await?.call(payload).await?;
        let exec = result.result.map_err(|e| self.dispatch_error(origin, e))?;
        Ok(DryRun {
            gas_required: (result.gas_required.ref_time, result.gas_required.proof_size),
            gas_consumed: (result.gas_consumed.ref_time, result.gas_consumed.proof_size),
            storage_deposit: convert_deposit(result.storage_deposit),
            output: exec.data,
            reverted: exec.flags.bits & REVERT != 0,
        })
    }

    /// Reads a message's return value through a dry-run (nothing is submitted).
    pub async fn query<R: Decode>(
        &self,
        contract: &AccountId,
        input: Vec<u8>,
        what: &'static str,
    ) -> Result<R, ChainError> {
        // Any origin can read; the zero account needs no funds for a call that stores nothing.
        let origin = AccountId::from([0u8; 32]);
        let dry_run = self.dry_run_call(&origin, contract, 0, input).await?;
        decode_output(&dry_run.output, what)
    }

    /// Executes a message that returns `Result<T, E>`: dry-run (a refusal is returned as
    /// [`ChainError::ContractRefused`] and nothing is submitted), then submit with the measured
    /// limits and wait for finalization.
    pub async fn execute<T: Decode, E: ContractError>(
        &self,
        signer: &Signer,
        contract: &AccountId,
        value: u128,
        input: Vec<u8>,
        what: &'static str,
    ) -> Result<Executed<T>, ChainError> {
        let dry_run = self.dry_run_call(&signer.account(), contract, value, input.clone()).await?;
        let value_out = match decode_output::<Result<T, E>>(&dry_run.output, what)? {
            Ok(v) => v,
            Err(e) => {
                return Err(ChainError::ContractRefused {
                    contract: E::CONTRACT,
                    message: e.message(),
                })
            }
        };
        let tx = node::tx().contracts().call(
            subxt::utils::MultiAddress::Id(contract.clone()),
            value,
            weight(dry_run.gas_required),
            dry_run.storage_deposit.limit(),
            input,
        );
        let Sent { events, fee, included } =
            self.send(signer, self.api.tx().call_data(&tx)?).await?;
        Ok(Executed { value: value_out, events, dry_run, fee, callee: contract.clone(), included })
    }

    pub(crate) fn submit_error(&self, account: &AccountId, error: subxt::Error) -> ChainError {
        match error {
            subxt::Error::Runtime(subxt::error::DispatchError::Module(module)) => {
                let details = module.details_string();
                if details.ends_with("StorageDepositNotEnoughFunds") {
                    return ChainError::InsufficientFunds { account: account.to_string() };
                }
                let (pallet, error) = details.split_once("::").unwrap_or(("runtime", &details));
                ChainError::Dispatch {
                    pallet: pallet.into(),
                    error: error.into(),
                    docs: String::new(),
                }
            }
            other if other.to_string().contains("Inability to pay some fees") => {
                ChainError::InsufficientFunds { account: account.to_string() }
            }
            other => other.into(),
        }
    }

    /// Uploads `code` and instantiates it with constructor `input` (selector + args), salted
    /// with `salt` so the same code can be deployed more than once.
    pub async fn instantiate_with_code(
        &self,
        signer: &Signer,
        code: Vec<u8>,
        input: Vec<u8>,
        salt: Vec<u8>,
    ) -> Result<Deployed, ChainError> {
        let origin = signer.account();
        let payload = node::apis().contracts_api().instantiate(
            origin.clone(),
            0,
            None,
            None,
            Code::Upload(code.clone()),
            input.clone(),
            salt.clone(),
        );
        let result = self.api.runtime_api().at_latest().await?.call(payload).await?;
        let instantiated = result.result.map_err(|e| self.dispatch_error(&origin, e))?;
        let dry_run = DryRun {
            gas_required: (result.gas_required.ref_time, result.gas_required.proof_size),
            gas_consumed: (result.gas_consumed.ref_time, result.gas_consumed.proof_size),
            storage_deposit: convert_deposit(result.storage_deposit),
            output: instantiated.result.data,
            reverted: instantiated.result.flags.bits & REVERT != 0,
        };
        if dry_run.reverted {
            return Err(ChainError::Dispatch {
                pallet: "Contracts".into(),
                error: "ConstructorReverted".into(),
                docs: " — the constructor returned an error".into(),
            });
        }
        let tx = node::tx().contracts().instantiate_with_code(
            0,
            weight(dry_run.gas_required),
            dry_run.storage_deposit.limit(),
            code,
            input,
            salt,
        );
        self.send(signer, self.api.tx().call_data(&tx)?).await?;
        let address = instantiated.account_id;
        let info = self
            .api
            .storage()
            .at_latest()
            .await?
            .fetch(&node::storage().contracts().contract_info_of(address.clone()))
            .await?
            .ok_or(ChainError::MissingEvent("Instantiated"))?;
        Ok(Deployed { address, code_hash: info.code_hash.0, dry_run })
    }
}

fn weight((ref_time, proof_size): (u64, u64)) -> Weight {
    Weight { ref_time, proof_size }
}

fn convert_deposit(deposit: NodeDeposit<u128>) -> StorageDeposit {
    match deposit {
        NodeDeposit::Charge(amount) => StorageDeposit::Charge(amount),
        NodeDeposit::Refund(amount) => StorageDeposit::Refund(amount),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parity_scale_codec::Encode;

    #[test]
    fn outputs_decode_through_lang_error() {
        let ok: Result<Result<u64, iollm_types::registry::Error>, ()> = Ok(Ok(7));
        assert_eq!(
            decode_output::<Result<u64, iollm_types::registry::Error>>(&ok.encode(), "id").unwrap(),
            Ok(7)
        );
        let refused: Result<Result<u64, iollm_types::registry::Error>, ()> =
            Ok(Err(iollm_types::registry::Error::EmptyCid));
        assert_eq!(
            decode_output::<Result<u64, iollm_types::registry::Error>>(&refused.encode(), "id")
                .unwrap(),
            Err(iollm_types::registry::Error::EmptyCid)
        );
        // LangError::CouldNotReadInput is variant 1 of the outer Result's error.
        let err = decode_output::<u64>(&[1, 1], "count").unwrap_err();
        assert!(err.to_string().contains("could not read the call's input"), "{err}");
        assert!(decode_output::<u64>(&[0, 1], "count").is_err(), "truncated output");
    }
}
