//! The dispute games a worker plays after the result: its challenge and each move of it, the
//! defences an accused attester plays and the accuser answers, and the settling of decided
//! games so that no bond stays locked.

use super::verifier::{read_claim, write_claim, CLAIM_FILE};
use super::{Inner, Kit, WorkerError};
use crate::state::{Stage, StateError};
use iollm_chain::ChainError;
use iollm_content::ContentStore;
use iollm_types::bisection::Side;
use iollm_types::market::Job;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

impl<S: ContentStore + Send + Sync + 'static> Inner<S> {
    /// Verifier, accused: defends the result it attested against every accusation (a game
    /// of its own about each lost game's claim, opened as accusations come), plays the
    /// executor's side of each until decided, and settles once everything is (whoever settles
    /// first: a refusal is fine). An output game is proven from what its spot check kept (the
    /// last checkpoint and the pinned package), so an executor that stops serving its run
    /// cannot make it train the job; any other game is answered from its own run of the job,
    /// else from every checkpoint the executor published (each checked against the committed
    /// trace first; when they are not all there, it runs the job before defending).
    pub(super) async fn play_defence(
        &self,
        id: u64,
        stop: &CancellationToken,
    ) -> Result<(), WorkerError> {
        use iollm_types::market::Check;
        let poll = Duration::from_millis(self.config.poll_ms);
        let dispute = self.conn.dispute()?;
        let mut kit = Kit::default();
        let mut all_checkpoints = false;
        while !stop.is_cancelled() {
            let job = self.chain_job(id).await?;
            match self.our_sign_up(id, &job).await? {
                Some((index, Check::Accused { .. })) => {
                    let now = self.conn.chain.best_block().await?;
                    let mut undecided = false;
                    for k in 0..job.accusations {
                        let game = match self.market.defence_of(id, index, k).await? {
                            Some(game) => game,
                            None => {
                                let open = self.market.accusation_of(id, k).await?;
                                if open.is_none_or(|a| now > a.until) {
                                    continue;
                                }
                                match self.market.defend(&self.signer, id, k).await {
                                    Ok(call) => {
                                        tracing::info!(target: "worker::verifier", job = id, accusation = k, game = call.value, "Defending the attested result");
                                        let included = call.included;
                                        self.state
                                            .transaction(
                                                id,
                                                "defend",
                                                included.tx_hash,
                                                included.block,
                                                None,
                                            )
                                            .await?;
                                        call.value
                                    }
                                    Err(ChainError::ContractRefused { message, .. }) => {
                                        tracing::warn!(target: "worker::verifier", job = id, accusation = k, %message, "Defence refused");
                                        continue;
                                    }
                                    Err(e) => return Err(e.into()),
                                }
                            }
                        };
                        let g = dispute.game(game).await?;
                        if self.is_over(game, g.as_ref(), now) {
                            continue;
                        }
                        undecided = true;
                        // An output game is proven from the last checkpoint and the package
                        // the spot check kept, an initial game from the seed; any other, from
                        // every checkpoint: its own run's, else the executor's published ones,
                        // each checked against the trace.
                        let needs_run = g.is_some_and(|g| g.question.is_none() && !g.initial);
                        let own_run = || iollm_compute::run_result(&self.job_dir(id).join("run"));
                        if needs_run && !all_checkpoints && own_run().is_err() {
                            if let Err(why) = self.fetch_all_published(id).await {
                                tracing::warn!(target: "worker::verifier", job = id, %why, "Accused, without the published checkpoints: running the job to defend it");
                                return Ok(self
                                    .state
                                    .set_stage(id, Stage::Running, Some(&why))
                                    .await?);
                            }
                        }
                        all_checkpoints |= needs_run;
                        self.play_side(id, game, &mut kit).await?;
                    }
                    // A game of the job decided (or late) but not settled would hold the bond
                    // and the accusation it may add: anyone settles it, so this worker does.
                    if job.open_games > 0 {
                        self.settle_decided_games(id, &job).await?;
                    }
                    // Each defence won is settled as it comes: the first attester settled past
                    // a claim is paid half its challenger's bond.
                    if !undecided {
                        match self.market.settle_attester(&self.signer, id, index).await {
                            Ok(_) | Err(ChainError::ContractRefused { .. }) => {}
                            Err(e) => return Err(e.into()),
                        }
                    }
                }
                Some((_, Check::Settled { upheld })) => {
                    let note = if upheld {
                        "attested; defended the result against every accusation and won: bond back"
                    } else {
                        "attested; lost a defence of the result: bond slashed"
                    };
                    tracing::info!(target: "worker::verifier", job = id, note, "Defence settled");
                    return Ok(self.state.set_stage(id, Stage::Checked, Some(note)).await?);
                }
                _ => {
                    let note = "no accused attestation of this worker's on the job";
                    return Ok(self.state.set_stage(id, Stage::Lost, Some(note)).await?);
                }
            }
            tokio::time::sleep(poll).await;
        }
        Ok(())
    }

    /// Settles every challenge of job `id` whose game is decided, or whose side to move is
    /// late (the dispute contract decides it first); a refusal (settled meanwhile) is fine.
    pub(super) async fn settle_decided_games(&self, id: u64, job: &Job) -> Result<(), WorkerError> {
        let dispute = self.conn.dispute()?;
        let now = self.conn.chain.best_block().await?;
        for index in 0..job.challenges {
            let Some(challenge) = self.market.game_of(id, index).await? else { continue };
            if challenge.settled {
                continue;
            }
            let game = dispute.game(challenge.game).await?;
            if !self.is_over(challenge.game, game.as_ref(), now) {
                continue;
            }
            match self.market.settle_challenge(&self.signer, id, index).await {
                Ok(_) => {
                    tracing::info!(target: "worker::verifier", job = id, challenge = index, "Settled a decided game")
                }
                Err(ChainError::ContractRefused { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Verifier, its challenge won: plays the challenger's side of every attester's defence
    /// against its claim (each accusation that is its game) and settles each accused attester
    /// it may (a defence against its claim decided, or not made in time), which pays it half
    /// of each bond slashed on its accusation. Whether every accused attester is settled (or
    /// none is its to answer).
    pub(super) async fn answer_defences(
        &self,
        id: u64,
        kit: &mut Kit,
    ) -> Result<bool, WorkerError> {
        use iollm_types::market::Check;
        let job = self.chain_job(id).await?;
        if job.accused == 0 {
            return Ok(true);
        }
        let mut mine = Vec::new();
        for k in 0..job.accusations {
            let Some(accusation) = self.market.accusation_of(id, k).await? else { continue };
            let accuser = self.market.game_of(id, accusation.by).await?;
            if accuser.is_some_and(|c| c.challenger == self.signer.account_bytes()) {
                mine.push((k, accusation));
            }
        }
        if mine.is_empty() {
            return Ok(true);
        }
        let dispute = self.conn.dispute()?;
        let now = self.conn.chain.best_block().await?;
        for index in 0..job.sign_ups {
            let Some(sign_up) = self.market.sign_up_of(id, index).await? else { continue };
            if !matches!(sign_up.check, Check::Accused { .. }) {
                continue;
            }
            let mut settle = false;
            for (k, accusation) in &mine {
                match self.market.defence_of(id, index, *k).await? {
                    Some(game) => {
                        let held = dispute.game(game).await?;
                        let decided = self.is_over(game, held.as_ref(), now);
                        if !decided {
                            self.play_side(id, game, kit).await?;
                        }
                        settle |= decided;
                    }
                    None => settle |= now > accusation.until,
                }
            }
            if settle {
                match self.market.settle_attester(&self.signer, id, index).await {
                    Ok(_) => {
                        tracing::info!(target: "worker::verifier", job = id, sign_up = index, "Settled an accused attester")
                    }
                    Err(ChainError::ContractRefused { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(false)
    }

    /// This worker's unsettled challenge of job `id`: its index and record.
    pub(super) async fn our_challenge(
        &self,
        id: u64,
    ) -> Result<Option<(u16, iollm_types::market::Challenge)>, WorkerError> {
        let job = self.chain_job(id).await?;
        for index in 0..job.challenges {
            if let Some(challenge) = self.market.game_of(id, index).await? {
                if challenge.challenger == self.signer.account_bytes() && !challenge.settled {
                    return Ok(Some((index, challenge)));
                }
            }
        }
        Ok(None)
    }

    /// Verifier, challenging: sends its challenge (once: one that landed before a restart is
    /// found on chain) with the one-segment claim its spot check kept in `claim.json`, or
    /// else the claim of its own run; neither left, it checks the result again. A send that
    /// fails leaves it challenging, so the same claim is sent again, however late: it needs no
    /// replay; the first failure also reveals without a check ([`Inner::reveal_first`]).
    /// Refused, the chain decides ([`Inner::refused_reveal`]).
    pub(super) async fn challenge(&self, id: u64) -> Result<(), WorkerError> {
        if self.our_challenge(id).await?.is_some() {
            return Ok(self.state.set_stage(id, Stage::Challenged, None).await?);
        }
        let dir = self.job_dir(id);
        let c = match self.readable_claim(id).and_then(|c| crate::ChallengeClaim::of(&c)) {
            Some(claim) => claim,
            None if dir.join("run").is_dir() => crate::challenge_claim(&dir.join("run"))
                .map_err(iollm_compute::Error::CorruptCheckpoint)?,
            None => return Ok(self.state.set_stage(id, Stage::SignedUp, None).await?),
        };
        let claimed = self.market.challenge(
            &self.signer,
            id,
            c.trace_root,
            &c.first_path,
            c.last,
            &c.last_path,
        );
        match claimed.await {
            Ok(call) => {
                tracing::info!(target: "worker::verifier", job = id, index = call.value, "Challenged");
                self.state
                    .transaction(id, "challenge", call.included.tx_hash, call.included.block, None)
                    .await?;
                Ok(self.state.set_stage(id, Stage::Challenged, None).await?)
            }
            // Reverted as it landed while the job still awaits checks (out of gas, its
            // deposit): sent again; a window closed since is a refusal at the next dry-run.
            Err(error @ ChainError::Dispatch { .. })
                if self.chain_job(id).await?.state == iollm_types::market::JobState::Submitted =>
            {
                self.reveal_first(id, &error).await?;
                Err(error.into())
            }
            Err(error @ (ChainError::ContractRefused { .. } | ChainError::Dispatch { .. })) => {
                tracing::warn!(target: "worker::verifier", job = id, why = %error, "Challenge refused; the chain decides");
                self.refused_reveal(id, error).await?;
                let now = self.state.job(id).await?.map(|j| j.stage);
                if !matches!(now, Some(Stage::Challenged | Stage::Challenging)) {
                    match std::fs::remove_file(dir.join(CLAIM_FILE)) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                            return Err(super::io("removing the refused claim")(e));
                        }
                        _ => {}
                    }
                }
                Ok(())
            }
            Err(e) => match self.reveal_first(id, &e).await? {
                // Its bond safe, the challenge is sent again at once.
                true => Ok(()),
                false => Err(e.into()),
            },
        }
    }

    /// Verifier, its challenge not sent (`why`): reveals without a check first while its
    /// sign-up is only committed, so that no failure of the challenge can cost its bond (a
    /// revealed verifier may still challenge, on the same bond); `true` when it did.
    async fn reveal_first(&self, id: u64, why: &ChainError) -> Result<bool, WorkerError> {
        let job = self.chain_job(id).await?;
        if self.stage_on_chain(id, &job).await?.is_some() {
            return Ok(false);
        }
        let secret = self.secret_of(id).await?;
        let call = self.market.attest(&self.signer, id, secret, &None).await?;
        let included = call.included;
        self.state.transaction(id, "reveal", included.tx_hash, included.block, None).await?;
        tracing::warn!(target: "worker::verifier", job = id, error = %why, "The challenge is not sent yet: revealed without a check, sending it again");
        Ok(true)
    }

    /// Verifier: plays the challenger's side of its game until it is decided, then settles it.
    pub(super) async fn play_challenge(
        &self,
        id: u64,
        stop: &CancellationToken,
    ) -> Result<(), WorkerError> {
        let poll = Duration::from_millis(self.config.poll_ms);
        let dispute = self.conn.dispute()?;
        let mut kit = Kit::default();
        while !stop.is_cancelled() {
            let Some((index, challenge)) = self.our_challenge(id).await? else {
                if !self.answer_defences(id, &mut kit).await? {
                    tokio::time::sleep(poll).await;
                    continue;
                }
                // Its records freed: the game's storage deposit comes back, and its claim's
                // bond, staked while it accused attesters.
                match self.market.release(&self.signer, id).await {
                    Ok(_) | Err(ChainError::ContractRefused { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
                return Ok(self
                    .state
                    .set_stage(id, Stage::Checked, Some("its challenge is settled"))
                    .await?);
            };
            let now = self.conn.chain.best_block().await?;
            let game = dispute.game(challenge.game).await?;
            if self.is_over(challenge.game, game.as_ref(), now) {
                let verdict = game.and_then(|g| g.verdict());
                tracing::info!(target: "worker::verifier", job = id, ?verdict, "Its game ended; settling it");
                match self.market.settle_challenge(&self.signer, id, index).await {
                    Ok(_) | Err(ChainError::ContractRefused { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
                // Settled: next round answers the defences of the attesters it accused.
                continue;
            }
            self.play_side(id, challenge.game, &mut kit).await?;
            tokio::time::sleep(poll).await;
        }
        Ok(())
    }

    /// The one-segment claim this worker plays in game `game` of job `id` when it is that
    /// game's challenger: the one kept in `claim.json`, or, when that is missing, corrupt or
    /// not the claim the game holds (its root), the same claim made again from the published
    /// run — refused if even that is not the game's, rather than play another story and lose.
    async fn kept_claim(
        &self,
        id: u64,
        game: iollm_types::dispute::GameId,
        trainer: &Arc<iollm_compute::Trainer>,
    ) -> Result<Option<Vec<[u8; 32]>>, WorkerError> {
        let Some(held) = self.conn.dispute()?.game(game).await? else { return Ok(None) };
        if held.terms.sides[1] != self.signer.account_bytes() {
            return Ok(None);
        }
        let root = held.terms.trace_roots[1];
        let dir = self.job_dir(id);
        match read_claim(&dir) {
            Ok(Some(claim)) if iollm_compute::merkle::root(&claim) == root => {
                return Ok(Some(claim))
            }
            Ok(_) => {
                tracing::warn!(target: "worker::game", job = id, game, "The kept claim is missing or not the game's: making it again from the published run");
            }
            Err(e) => {
                tracing::warn!(target: "worker::game", job = id, game, error = %e, "The kept claim cannot be read: making it again from the published run");
            }
        }
        let claim = self.rebuild_claim(id, trainer).await?;
        if iollm_compute::merkle::root(&claim) != root {
            let why = format!("job {id}: the claim made again is not the one game {game} holds");
            return Err(StateError::Corrupt(why).into());
        }
        write_claim(&dir, &claim)?;
        Ok(Some(claim))
    }

    /// The moves this worker's side of game `game` owes now, told from its own run (replays
    /// start at its checkpoints), or in an initial game from the job's initial state
    /// ([`crate::initial_player_start`], which needs neither the job's spec nor its dataset:
    /// whatever side it is on, an honest worker's `h_0` is that one); a move the other side
    /// overtook (refused at the dry-run, or failing when it landed) is simply read again next
    /// round. What it builds is kept in `kit`.
    pub(super) async fn play_side(
        &self,
        id: u64,
        game: iollm_types::dispute::GameId,
        kit: &mut Kit,
    ) -> Result<(), WorkerError> {
        let moved = |kind: &str, call: &iollm_chain::contract::Executed<()>| {
            self.metrics.moves.inc();
            let (ref_time, proof_size) = call.dry_run.gas_consumed;
            tracing::info!(target: "worker::game", job = id, game, kind, block = call.included.block, ref_time, proof_size, "Moved");
        };
        let held = self.conn.dispute()?.game(game).await?;
        if let Some(g) = held.as_ref().filter(|g| g.initial) {
            let start = match kit.start.take() {
                Some(start) => start,
                None => crate::initial_player_start(&self.store, &g.terms).await?,
            };
            let start = kit.start.insert(start);
            let story = |side| start.player(side);
            let played = crate::player::play(&self.conn, &self.signer, game, story, false, moved);
            return overtaken_is_fine(id, played.await);
        }
        // Its own run of the job (the executor's, or the verifier's), else the part of the
        // executor's published run it fetched: replays start from those checkpoints instead
        // of from h_0.
        let dir = self.job_dir(id);
        let runs = [dir.join("run"), dir.join("published")];
        let run = runs.iter().find(|run| iollm_compute::read_trace(run).is_ok());
        let trainer = self.trainer_in(id, &mut kit.trainer).await?;
        if let Some(g) = held.as_ref().filter(|g| g.question.is_some()) {
            return self.prove_package(id, game, g, trainer, run.map(|r| r.as_path()), moved).await;
        }
        // The checkpoint interval is the job's, never what a published trace.json says.
        let every = trainer.config().train.checkpoint_every;
        let (run, every) = match run {
            Some(run) => (run.as_path(), Some(every)),
            None => (runs[0].as_path(), None),
        };
        // A one-segment claim it challenged with is its story at level 1, in a game about
        // that claim (its own, or a defence against it), when it has no run of its own.
        let claim = match dir.join("run").exists() {
            true => None,
            false => self.kept_claim(id, game, trainer).await?,
        };
        let story = |side| {
            let player = match every {
                Some(every) => crate::player::Player::from_run(side, trainer, run, every),
                None => crate::player::Player::new(side, trainer, None),
            };
            match &claim {
                Some(claim) if side == iollm_types::bisection::Side::Challenger => {
                    player.with_claim(claim.clone())
                }
                _ => player,
            }
        };
        let played = crate::player::play(&self.conn, &self.signer, game, story, false, moved);
        overtaken_is_fine(id, played.await)
    }

    /// An output game `game` of job `id` (`g`): as the executor (or an attester defending its
    /// result), proves what it asks from the run `run` and the output package on IPFS
    /// ([`crate::output::answer_game`]); as the challenger, nothing (a late executor loses
    /// when the game is settled). A proof the contract refuses (the package is not the run's)
    /// is made and refused again at each round until the move's deadline, then lost on time.
    async fn prove_package(
        &self,
        id: u64,
        game: iollm_types::dispute::GameId,
        g: &iollm_types::game::Game,
        trainer: &Arc<iollm_compute::Trainer>,
        run: Option<&std::path::Path>,
        moved: impl Fn(&str, &iollm_chain::contract::Executed<()>),
    ) -> Result<(), WorkerError> {
        let (Some(question), None) = (g.question, g.verdict()) else { return Ok(()) };
        if g.terms.sides[0] != self.signer.account_bytes() {
            return Ok(());
        }
        let Some(run) = run else {
            tracing::warn!(target: "worker::game", job = id, game, "No run to prove the output from");
            return Ok(());
        };
        let answer = crate::output::answer_game(&self.store, (game, g), trainer, run);
        let answer = match answer.await {
            Ok(answer) => answer,
            Err(e) if e.is_local() => {
                return Err(crate::spotcheck::SpotCheckError::Output(e).into())
            }
            Err(e) => {
                tracing::warn!(target: "worker::game", job = id, game, %question, error = %e, "Cannot prove the output");
                return Ok(());
            }
        };
        let call = iollm_types::dispute::calls::prove_package(game, &answer);
        match self.conn.dispute()?.play(&self.signer, call).await {
            Ok(call) => {
                moved("prove_package", &call);
                Ok(())
            }
            Err(e @ ChainError::ContractRefused { .. }) => {
                tracing::warn!(target: "worker::game", job = id, game, %question, error = %e, "The proof of the output is refused");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }
}

impl<S: ContentStore + Send + Sync + 'static> Inner<S> {
    /// Whether game `id` (`game`) needs no more moves: decided, released (`None`), or with its
    /// side to move past its deadline at block `now` (the dispute contract decides it against
    /// that side when it is settled); how it stands for this worker, when it is a side, is
    /// counted in its metrics.
    pub(super) fn is_over(
        &self,
        id: iollm_types::dispute::GameId,
        game: Option<&iollm_types::game::Game>,
        now: u32,
    ) -> bool {
        let Some(game) = game else { return true };
        let verdict = game.verdict().or_else(|| {
            let mut timed = game.clone();
            timed.timeout(now).and(timed.verdict())
        });
        let me = self.signer.account_bytes();
        let sides = [Side::Executor, Side::Challenger].into_iter().zip(game.terms.sides);
        if let Some((side, _)) = sides.into_iter().find(|(_, account)| *account == me) {
            self.metrics.game(id, side, verdict);
        }
        verdict.is_some()
    }
}

/// What [`crate::player::play`] ended with, as a worker reads it: a move overtaken by the
/// other side's (refused at the dry-run, or failing when it landed) is read again next round.
fn overtaken_is_fine(
    id: u64,
    played: Result<iollm_types::game::Game, crate::player::PlayError>,
) -> Result<(), WorkerError> {
    match played {
        Ok(_) => Ok(()),
        Err(crate::player::PlayError::Chain(
            e @ (ChainError::ContractRefused { .. } | ChainError::Dispatch { .. }),
        )) => {
            tracing::info!(target: "worker::game", job = id, why = %e, "Move overtaken; reading the game again");
            Ok(())
        }
        Err(crate::player::PlayError::Chain(e)) => Err(e.into()),
        Err(e) => Err(WorkerError::Play(e)),
    }
}
