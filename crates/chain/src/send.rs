//! Sending transactions: one task per signing account owns its key and its nonce, and sends
//! that account's transactions one at a time, whoever asks, in the order asked.
//!
//! Each transaction is signed once, with an explicit nonce and a mortal era (valid for
//! [`SendPolicy::mortal_blocks`] blocks after the finalized block it names), then sent and
//! looked for in finalized blocks. Until it is found, its same signed bytes are sent again every
//! [`SendPolicy::resend_every`]: that is safe (one nonce is spent once), and it is what carries a
//! transaction over a dropped connection or a node restart (the RPC client reconnects by
//! itself). A transaction is given up only when its era has ended without it (nothing happened:
//! [`ChainError::TransactionExpired`]) or after [`SendPolicy::timeout`]
//! ([`ChainError::NotFinalized`], naming its hash: it may still land, and no later transaction
//! of the account is sent before its nonce is known again). A pool that refuses the first
//! sending because the nonce is stale or taken (another program used the key) makes the task
//! ask the node for the nonce and sign again, at most [`SendPolicy::resigns`] times.

use crate::contract::{ContractEvent, Included};
use crate::{node, Chain, ChainError, NodeConfig, Signer};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subxt::config::DefaultExtrinsicParamsBuilder;
use subxt::tx::SubmittableTransaction;
use subxt::OnlineClient;
use tokio::sync::{mpsc, oneshot};

/// How transactions are sent (one policy for every call).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendPolicy {
    /// Blocks a transaction stays valid after the block its era starts at.
    pub mortal_blocks: u64,
    /// How often the finalized chain is searched for a sent transaction.
    pub poll: Duration,
    /// How often a transaction not yet found is sent again (same bytes).
    pub resend_every: Duration,
    /// How long a transaction may take from signing to finality before the call gives up.
    pub timeout: Duration,
    /// How often a transaction the pool refuses for its nonce is signed again with a fresh one.
    pub resigns: u32,
}

impl Default for SendPolicy {
    fn default() -> SendPolicy {
        SendPolicy {
            mortal_blocks: 64,
            poll: Duration::from_millis(250),
            resend_every: Duration::from_secs(5),
            timeout: Duration::from_secs(120),
            resigns: 3,
        }
    }
}

/// How one transaction sent through [`Chain`] ended, for a [`SendObserver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendReport {
    /// From asking for it to its finality (or failure).
    pub elapsed: Duration,
    /// Whether it was finalized (else it failed: expired, timed out, reverted).
    pub finalized: bool,
}

/// Told of every transaction a [`Chain`] handle sends ([`Chain::with_send_observer`]).
pub type SendObserver = std::sync::Arc<dyn Fn(&SendReport) + Send + Sync>;

/// What a finalized transaction did: its contract events, its fee and where it landed.
pub(crate) struct Sent {
    pub events: Vec<ContractEvent>,
    pub fee: u128,
    pub included: Included,
}

struct Request {
    call: Vec<u8>,
    reply: oneshot::Sender<Result<Sent, ChainError>>,
}

/// Requests waiting for one account's task (callers wait once it is full).
const QUEUE: usize = 64;

/// The running task of each account that has sent through this connection.
#[derive(Default)]
pub(crate) struct Senders(Mutex<HashMap<[u8; 32], mpsc::Sender<Request>>>);

impl Chain {
    /// Sends the encoded call `call` signed by `signer` through that account's task (started on
    /// its first transaction) and waits until it is finalized.
    pub(crate) async fn send(&self, signer: &Signer, call: Vec<u8>) -> Result<Sent, ChainError> {
        let started = Instant::now();
        let sent = self.send_unobserved(signer, call).await;
        if let Some(observer) = &self.observer {
            observer(&SendReport { elapsed: started.elapsed(), finalized: sent.is_ok() });
        }
        sent
    }

    async fn send_unobserved(&self, signer: &Signer, call: Vec<u8>) -> Result<Sent, ChainError> {
        let (reply, answer) = oneshot::channel();
        let mut request = Request { call, reply };
        // A task whose runtime has ended (another test's) is replaced once.
        for _ in 0..2 {
            let queue = self.sender_of(signer);
            match queue.send(request).await {
                Ok(()) => {
                    return answer.await.unwrap_or_else(|_| {
                        Err(ChainError::SenderStopped { account: signer.account().to_string() })
                    })
                }
                Err(mpsc::error::SendError(back)) => {
                    request = back;
                    self.senders
                        .0
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&signer.account_bytes());
                }
            }
        }
        Err(ChainError::SenderStopped { account: signer.account().to_string() })
    }

    /// Sends `system.remark(note)` signed by `signer` and waits until it is finalized: a
    /// transaction that only makes a block (the dev node seals one per transaction, so a
    /// devnet's clock is made of these).
    pub async fn remark(&self, signer: &Signer, note: Vec<u8>) -> Result<Included, ChainError> {
        let tx = node::tx().system().remark(note);
        Ok(self.send(signer, self.api.tx().call_data(&tx)?).await?.included)
    }

    fn sender_of(&self, signer: &Signer) -> mpsc::Sender<Request> {
        let mut senders = self.senders.0.lock().unwrap_or_else(|e| e.into_inner());
        senders
            .entry(signer.account_bytes())
            .or_insert_with(|| {
                let (queue, requests) = mpsc::channel(QUEUE);
                let task = AccountTask {
                    chain: self.clone(),
                    signer: signer.clone(),
                    policy: self.policy,
                    nonce: None,
                };
                tokio::spawn(task.run(requests));
                queue
            })
            .clone()
    }
}

/// The task that owns one account's key and nonce.
struct AccountTask {
    chain: Chain,
    signer: Signer,
    policy: SendPolicy,
    /// The next nonce, when known; `None` makes the next transaction ask the node.
    nonce: Option<u64>,
}

/// Why the pool refused a transaction, as far as sending it again is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// Its nonce is already spent (by it, or by another transaction of the key).
    Stale,
    /// Its nonce is ahead of the account's, or another pool transaction holds it.
    NonceTaken,
    /// The pool holds these bytes already.
    AlreadyInPool,
    /// The account cannot pay the fee.
    CannotPay,
    /// Anything else: the node is unreachable, or it refused for another reason.
    Other,
}

fn refusal(error: &subxt::Error) -> Refusal {
    let text = error.to_string();
    if text.contains("outdated") || text.contains("Stale") {
        Refusal::Stale
    } else if text.contains("Priority is too low") || text.contains("in the future") {
        Refusal::NonceTaken
    } else if text.contains("Already Imported") || text.contains("already in the pool") {
        Refusal::AlreadyInPool
    } else if text.contains("Inability to pay some fees") {
        Refusal::CannotPay
    } else {
        Refusal::Other
    }
}

impl AccountTask {
    async fn run(mut self, mut requests: mpsc::Receiver<Request>) {
        while let Some(Request { call, reply }) = requests.recv().await {
            let outcome = self.send(call).await;
            // The caller may have gone (its future dropped): the transaction was still seen
            // through, so the nonce stays right.
            let _ = reply.send(outcome);
        }
    }

    async fn send(&mut self, call: Vec<u8>) -> Result<Sent, ChainError> {
        let api = self.chain.api.clone();
        let account = self.signer.account();
        let started = Instant::now();
        let mut resigned = 0;
        loop {
            let (tx, birth) = self.sign(&api, &call).await?;
            let tx_hash = tx.hash().0;
            tracing::debug!(target: "chain::send", %account, nonce = self.nonce, tx = %hex(&tx_hash), "Sending");
            match tx.submit().await {
                Ok(_) => {}
                Err(e) => match refusal(&e) {
                    Refusal::Stale | Refusal::NonceTaken if resigned < self.policy.resigns => {
                        resigned += 1;
                        self.nonce = None;
                        continue;
                    }
                    Refusal::CannotPay => {
                        return Err(ChainError::InsufficientFunds { account: account.to_string() })
                    }
                    // The bytes may or may not have reached the pool: look for them.
                    Refusal::AlreadyInPool | Refusal::Other => {
                        tracing::debug!(target: "chain::send", error = %e, "Sending failed; looking for it anyway");
                    }
                    Refusal::Stale | Refusal::NonceTaken => {
                        self.nonce = None;
                        return Err(e.into());
                    }
                },
            }
            let found = self.await_finalized(&tx, birth, started).await;
            // Spent if found; unknown otherwise (asked again before the next transaction).
            self.nonce = match found {
                Ok(_) => self.nonce.map(|n| n + 1),
                Err(_) => None,
            };
            return found;
        }
    }

    /// Signs `call` with the next nonce, mortal from the latest finalized block; returns it and
    /// that block's number.
    async fn sign(
        &mut self,
        api: &OnlineClient<NodeConfig>,
        call: &[u8],
    ) -> Result<(SubmittableTransaction<NodeConfig, OnlineClient<NodeConfig>>, u32), ChainError>
    {
        let nonce = match self.nonce {
            Some(n) => n,
            None => {
                let account = self.signer.account();
                let asked = self.chain.rpc.system_account_next_index(&account).await;
                asked.map_err(subxt::Error::from)?
            }
        };
        self.nonce = Some(nonce);
        let birth_hash =
            self.chain.rpc.chain_get_finalized_head().await.map_err(subxt::Error::from)?;
        let birth = api.blocks().at(birth_hash).await?.number();
        let params = DefaultExtrinsicParamsBuilder::<NodeConfig>::new()
            .nonce(nonce)
            .mortal_from_unchecked(self.policy.mortal_blocks, birth.into(), birth_hash)
            .build();
        let mut partial = api.tx().create_partial_offline(&RawCall(call), params)?;
        Ok((partial.sign(&self.signer.keypair), birth))
    }

    /// Looks for `tx` in the finalized blocks after `birth`, sending it again now and then,
    /// until found, expired or timed out. Connection errors are waited out.
    async fn await_finalized(
        &self,
        tx: &SubmittableTransaction<NodeConfig, OnlineClient<NodeConfig>>,
        birth: u32,
        started: Instant,
    ) -> Result<Sent, ChainError> {
        let tx_hash = tx.hash().0;
        let last_valid = u64::from(birth) + self.policy.mortal_blocks;
        let mut next = birth + 1;
        let mut resent = Instant::now();
        loop {
            match self.search(tx_hash, &mut next).await {
                Ok(Some(sent)) => return sent,
                Ok(None) if u64::from(next) > last_valid + 1 => {
                    return Err(ChainError::TransactionExpired { tx: hex(&tx_hash) });
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::debug!(target: "chain::send", error = %e, "Node unreachable; waiting")
                }
            }
            if started.elapsed() > self.policy.timeout {
                return Err(ChainError::NotFinalized {
                    tx: hex(&tx_hash),
                    seconds: self.policy.timeout.as_secs(),
                });
            }
            if resent.elapsed() > self.policy.resend_every {
                resent = Instant::now();
                if let Err(e) = tx.submit().await {
                    tracing::debug!(target: "chain::send", error = %e, "Sent again");
                }
            }
            tokio::time::sleep(self.policy.poll).await;
        }
    }

    /// Searches the finalized blocks from `*next` on for `tx_hash`, moving `*next` past every
    /// block searched; the outcome of the transaction once found.
    async fn search(
        &self,
        tx_hash: [u8; 32],
        next: &mut u32,
    ) -> Result<Option<Result<Sent, ChainError>>, ChainError> {
        let head = self.chain.finalized_head().await?;
        while *next <= head {
            let asked = self.chain.rpc.chain_get_block_hash(Some((*next).into())).await;
            let hash =
                asked.map_err(subxt::Error::from)?.ok_or(ChainError::MissingEvent("block"))?;
            let block = self.chain.api.blocks().at(hash).await?;
            let extrinsics = block.extrinsics().await?;
            if let Some(found) = extrinsics.iter().find(|x| x.hash().0 == tx_hash) {
                let included = Included { tx_hash, block_hash: hash.0, block: *next };
                return Ok(Some(self.outcome(found.events().await?, included)));
            }
            *next += 1;
        }
        Ok(None)
    }

    /// The contract events and fee of a finalized transaction, or the error it failed with.
    fn outcome(
        &self,
        events: subxt::blocks::ExtrinsicEvents<NodeConfig>,
        included: Included,
    ) -> Result<Sent, ChainError> {
        let mut contract_events = Vec::new();
        let mut fee = 0;
        for event in events.iter() {
            let event = event?;
            if event.pallet_name() == "System" && event.variant_name() == "ExtrinsicFailed" {
                let metadata = self.chain.api.metadata();
                let error =
                    subxt::error::DispatchError::decode_from(event.field_bytes(), metadata)?;
                return Err(self.chain.submit_error(&self.signer.account(), error.into()));
            }
            if let Some(emitted) = crate::follow::contract_event(&event)? {
                contract_events.push(emitted);
            } else if let Some(paid) =
                event.as_event::<node::transaction_payment::events::TransactionFeePaid>()?
            {
                fee = paid.actual_fee;
            }
        }
        Ok(Sent { events: contract_events, fee, included })
    }
}

/// A transaction as a finalized block holds it ([`Chain::transaction`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// The block's number.
    pub block: u32,
    /// The nonce it spent.
    pub nonce: u64,
    /// For how many blocks it was valid (`None`: immortal).
    pub mortal_blocks: Option<u64>,
}

impl Chain {
    /// The transaction `included` names, if the block it names holds it: how a caller that
    /// recorded a transaction (a worker restarting, say) learns it landed.
    pub async fn transaction(
        &self,
        included: &Included,
    ) -> Result<Option<Transaction>, ChainError> {
        let block = self.api.blocks().at(subxt::utils::H256(included.block_hash)).await?;
        let extrinsics = block.extrinsics().await?;
        let Some(found) = extrinsics.iter().find(|x| x.hash().0 == included.tx_hash) else {
            return Ok(None);
        };
        let extensions = found.transaction_extensions();
        let era = match &extensions {
            Some(e) => e
                .find::<subxt::config::transaction_extensions::CheckMortality<NodeConfig>>()
                .map_err(subxt::Error::from)?,
            None => None,
        };
        let mortal_blocks = match era {
            Some(subxt::utils::Era::Mortal { period, .. }) => Some(period),
            _ => None,
        };
        let nonce = extensions.and_then(|e| e.nonce()).unwrap_or_default();
        Ok(Some(Transaction { block: block.number(), nonce, mortal_blocks }))
    }
}

/// A call already encoded (checked against the metadata by whoever encoded it).
struct RawCall<'a>(&'a [u8]);

impl subxt::tx::Payload for RawCall<'_> {
    fn encode_call_data_to(
        &self,
        _metadata: &subxt::Metadata,
        out: &mut Vec<u8>,
    ) -> Result<(), subxt::ext::subxt_core::Error> {
        out.extend_from_slice(self.0);
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    let digits: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("0x{digits}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_refusals_are_told_apart() {
        let rpc = |message: &str| subxt::Error::Other(message.to_owned());
        assert_eq!(refusal(&rpc("Invalid Transaction: Transaction is outdated")), Refusal::Stale);
        assert_eq!(refusal(&rpc("Priority is too low: (1 vs 1)")), Refusal::NonceTaken);
        assert_eq!(refusal(&rpc("Transaction will be valid in the future")), Refusal::NonceTaken);
        assert_eq!(refusal(&rpc("Transaction Already Imported")), Refusal::AlreadyInPool);
        assert_eq!(
            refusal(&rpc("Invalid Transaction: Inability to pay some fees")),
            Refusal::CannotPay
        );
        assert_eq!(refusal(&rpc("connection closed")), Refusal::Other);
    }
}
