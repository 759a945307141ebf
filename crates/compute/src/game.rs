//! What a player of the dispute game computes inside one training step (VERIFICATION.md,
//! levels 3–5), by replaying that one step op by op from the step program's definitions
//! (`iollm_repops::step`; never the fast kernels, never the whole run): the cumulative root
//! after every op, the Merkle tree of any op's output, any element's chain of intermediate
//! values, and the proofs of the inputs of any chain step, in the form the referee checks
//! (`iollm_repops::referee`).

use crate::data::{self, Rng};
use crate::merkle::{self, Hash, Sha};
use crate::repops::PROFILE;
use crate::train::{TrainState, Trainer};
use iollm_repops::commit::{self, chunk_hash, ElementProof, HeaderProof, StateProof, CHUNK_WORDS};
use iollm_repops::referee::{Input, Proven};
use iollm_repops::step::{self, Program, Tensor, HEADER_WORDS};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::sync::Arc;

/// One element of one op of one step altered by xor-ing its bits, every later value computed
/// from the altered one (a consistent cheat): how tests make a dishonest executor
/// ([`Trainer::with_fault`], switched on for one trainer at run time, never by a feature).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The step (the state before it is step `step`).
    pub step: u64,
    /// The op of the step program.
    pub op: usize,
    /// The element of its output.
    pub element: usize,
    /// The bits flipped.
    pub xor: u32,
}

/// One step replayed op by op, with every commitment a player reveals or proves.
#[derive(Clone)]
pub struct StepTrace<'t> {
    trainer: &'t Trainer,
    traced: Arc<Traced>,
}

/// What a [`StepTrace`] holds, kept by its trainer ([`Trainer::trace_step_as`]).
pub struct Traced {
    program: Program,
    /// The state root before the step.
    start: Hash,
    words: Vec<u32>,
    header: [u32; HEADER_WORDS],
    header_hash: Hash,
    header_proof: HeaderProof,
    state_chunks: Vec<Hash>,
    outs: Vec<Vec<u32>>,
    chunks: Vec<Vec<Hash>>,
    roots: Vec<Hash>,
}

impl std::ops::Deref for StepTrace<'_> {
    type Target = Traced;
    fn deref(&self) -> &Traced {
        &self.traced
    }
}

/// How many step replays a trainer keeps ([`Trainer::trace_step_as`]): one for each side of a
/// game a process plays both sides of (tests), one for a worker's side.
const KEPT_TRACES: usize = 2;

/// A trainer's last step replays, by the state before the step and the fault applied.
pub(crate) type KeptTraces = std::sync::Mutex<Vec<(Hash, Option<Fault>, Arc<Traced>)>>;

impl Trainer {
    /// Replays the step from `st` op by op: [`StepTrace`].
    pub fn trace_step(&self, st: &TrainState) -> StepTrace<'_> {
        self.trace_step_as(st, None)
    }

    /// [`Trainer::trace_step`] with `fault` applied too (a player's cheat, for tests), kept:
    /// asked again for the same state and fault, this trainer gives the replay it made (a game
    /// asks for one step's replay at every move below level 2, and a replay op by op is a
    /// move's dearest part). It keeps its last [`KEPT_TRACES`].
    pub fn trace_step_as(&self, st: &TrainState, fault: Option<Fault>) -> StepTrace<'_> {
        // A fault at another step changes nothing here.
        let fault = fault.filter(|f| f.step == st.step);
        let start = st.hash(&self.config_hash());
        let lock = || self.traces.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let kept = lock().iter().find(|(s, f, _)| (*s, *f) == (start, fault)).map(|k| k.2.clone());
        if let Some(traced) = kept {
            return StepTrace { trainer: self, traced };
        }
        let trace = self.trace_step_with(st, |op, out| {
            if let Some(f) = fault.filter(|f| f.op == op) {
                out[f.element] ^= f.xor;
            }
        });
        let mut kept = lock();
        if kept.len() == KEPT_TRACES {
            kept.remove(0);
        }
        kept.push((start, fault, Arc::clone(&trace.traced)));
        trace
    }

    /// [`Trainer::trace_step`], handing each op's output to `alter` before later ops read it:
    /// how tests play a cheating executor (every later op computed from the altered value).
    /// This trainer's own [`Fault`], if it has one at this step, is applied first.
    pub fn trace_step_with(
        &self,
        st: &TrainState,
        mut alter: impl FnMut(usize, &mut Vec<u32>),
    ) -> StepTrace<'_> {
        let fault = self.fault().filter(|f| f.step == st.step);
        let alter = |op: usize, out: &mut Vec<u32>| {
            if let Some(f) = fault.filter(|f| f.op == op) {
                if let Some(word) = out.get_mut(f.element) {
                    *word ^= f.xor;
                }
            }
            alter(op, out)
        };
        let program = self.step_program();
        let (words, header) = st.step_inputs();
        // Each op's elements on this trainer's threads (the definitions, element by element,
        // are most of what a move costs).
        let inputs = (&words[..], &header, self.corpus());
        let outs = step::run_each::<f32>(&program, inputs, alter, |op, element| {
            use rayon::prelude::*;
            self.pool.install(|| (0..op.len).into_par_iter().map(element).collect())
        });
        let chunks: Vec<Vec<Hash>> =
            outs.iter().map(|o| o.chunks(CHUNK_WORDS).map(chunk_hash::<Sha>).collect()).collect();
        let roots = chunks.iter().map(|c| merkle::root(c)).collect();
        let state_chunks = words.chunks(CHUNK_WORDS).map(chunk_hash::<Sha>).collect();
        let header_proof = st.prove_header(&self.config_hash());
        let header_hash = Sha256::digest(&header_proof.header).into();
        let traced = Traced {
            program,
            start: st.hash(&self.config_hash()),
            words,
            header,
            header_hash,
            header_proof,
            state_chunks,
            outs,
            chunks,
            roots,
        };
        StepTrace { trainer: self, traced: Arc::new(traced) }
    }
}

impl StepTrace<'_> {
    /// The trainer (config, corpus) this step belongs to.
    pub fn trainer(&self) -> &Trainer {
        self.trainer
    }

    /// The step program.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// The output of op `k`.
    pub fn output(&self, k: usize) -> &[u32] {
        &self.outs[k]
    }

    /// The root of op `k`'s output.
    pub fn output_root(&self, k: usize) -> Hash {
        self.roots[k]
    }

    /// The step's loss (the mean-loss op's one element).
    pub fn loss(&self) -> f32 {
        f32::from_bits(self.outs[self.program.loss][0])
    }

    /// The state after the step, as the program computes it.
    pub fn next_state(&self) -> TrainState {
        let (next, h) = self.program.next_state(&self.outs);
        let n = self.program.params;
        let floats = |part: usize| {
            next[part * n..(part + 1) * n].iter().map(|b| f32::from_bits(*b)).collect()
        };
        TrainState {
            step: u64::from(h[0]) | u64::from(h[1]) << 32,
            rng: Rng { state: u64::from(h[2]) | u64::from(h[3]) << 32 },
            b1pow: f32::from_bits(h[4]),
            b2pow: f32::from_bits(h[5]),
            loss: self.loss(),
            params: floats(0),
            m: floats(1),
            v: floats(2),
        }
    }

    /// The state root after the step: from the scalars op and AdamW's output root, as the
    /// referee derives it.
    pub fn next_root(&self) -> Hash {
        let p = &self.program;
        let loss = self.outs[p.loss][0];
        p.next_state_root::<Sha>(
            PROFILE,
            &self.trainer.config_hash(),
            &self.outs[p.scalars],
            loss,
            &self.roots[p.adam],
        )
        .expect("the scalars op has its nine words")
    }

    fn op_leaves(&self, done: usize) -> Vec<Hash> {
        commit::op_leaves(&self.start, &self.roots[..done], self.program.ops.len())
    }

    /// Level 3's sequence: the cumulative root after `0 ..= K` ops, then the next state root
    /// (`K + 2` values).
    pub fn level3(&self) -> Vec<Hash> {
        let ops = self.program.ops.len();
        let mut seq: Vec<Hash> = (0..=ops).map(|k| merkle::root(&self.op_leaves(k))).collect();
        seq.push(self.next_root());
        seq
    }

    /// The path of leaf `leaf` in the cumulative root after `done` ops.
    pub fn op_root_path(&self, done: usize, leaf: usize) -> Vec<Hash> {
        merkle::proof(&self.op_leaves(done), leaf).expect("a leaf of the cumulative root")
    }

    /// Every level of op `k`'s output tree (level 0: the leaf hashes), for the descent.
    pub fn output_tree(&self, k: usize) -> Vec<Vec<Hash>> {
        iollm_repops::merkle::levels::<crate::merkle::Sha>(&self.chunks[k])
    }

    /// Chunk `c` of op `k`'s output.
    pub fn chunk(&self, k: usize, c: u64) -> &[u32] {
        self.outs[k].chunks(CHUNK_WORDS).nth(c as usize).expect("a chunk of the output")
    }

    /// Element `e` of op `k`'s output with its proof against [`StepTrace::output_root`].
    pub fn prove_output(&self, k: usize, e: u64) -> ElementProof {
        prove(&self.outs[k], &self.chunks[k], e)
    }

    /// The chain of element `e` of op `k`: `0`, then its value after each step (level 5's
    /// sequence; the last value's low word is the element).
    pub fn chain(&self, k: usize, e: usize) -> Vec<u64> {
        let op = &self.program.ops[k];
        let read = |t: Tensor, i: usize| self.read(t, i);
        let mut values = vec![0];
        for pos in 0..op.chain_len(e) {
            let prev = *values.last().expect("starts with 0");
            values.push(op.chain_step::<f32>(e, pos, prev, &read));
        }
        values
    }

    fn read(&self, t: Tensor, i: usize) -> u32 {
        match t {
            Tensor::State => self.words[i],
            Tensor::Header => self.header[i],
            Tensor::Corpus => u32::from(self.trainer.corpus()[i]),
            Tensor::Op(k) => self.outs[k][i],
        }
    }

    /// The inputs that step `pos` of element `e`'s chain of op `k` reads from `acc`, each with
    /// its proof against the cumulative root after `k` ops (or the corpus root): what a side
    /// hands the referee at the bottom of the game.
    pub fn leaf_inputs(&self, k: usize, e: usize, pos: usize, acc: u64) -> Vec<Input> {
        let reads = RefCell::new(Vec::new());
        let read = |t: Tensor, i: usize| {
            reads.borrow_mut().push((t, i));
            self.read(t, i)
        };
        self.program.ops[k].chain_step::<f32>(e, pos, acc, &read);
        let mut reads = reads.into_inner();
        reads.dedup();
        let start_path = || self.op_root_path(k, 0);
        let mut inputs: Vec<Input> = Vec::new();
        for (t, i) in reads {
            let input = match t {
                Tensor::State => Input::State {
                    start: self.start,
                    start_path: start_path(),
                    proof: StateProof {
                        element: prove(&self.words, &self.state_chunks, i as u64),
                        header_hash: self.header_hash,
                    },
                },
                Tensor::Header => Input::Header {
                    start: self.start,
                    start_path: start_path(),
                    proof: self.header_proof.clone(),
                },
                Tensor::Corpus => {
                    let w = data::prove_window(self.trainer.corpus(), i as u64, 1)
                        .expect("the byte is in the corpus");
                    let (_, chunk, path) = w.chunks.into_iter().next().expect("one chunk");
                    Input::Corpus { index: i as u64, chunk, path, length_path: w.length_path }
                }
                Tensor::Op(j) => Input::Op {
                    op: j as u32,
                    root: self.roots[j],
                    path: self.op_root_path(k, 1 + j),
                    element: prove(&self.outs[j], &self.chunks[j], i as u64),
                },
            };
            if !inputs.contains(&input) {
                inputs.push(input);
            }
        }
        inputs
    }

    /// What proves the scalars op's words, the loss and AdamW's output root in the cumulative
    /// root after every op: the referee's [`iollm_repops::referee::next_state`] arguments.
    pub fn seal_proofs(&self) -> (Proven, Proven, (Hash, Vec<Hash>)) {
        let (p, done) = (&self.program, self.program.ops.len());
        let proven = |k: usize| Proven {
            root: self.roots[k],
            path: self.op_root_path(done, 1 + k),
            words: self.prove_output(k, 0),
        };
        let adam = (self.roots[p.adam], self.op_root_path(done, 1 + p.adam));
        (proven(p.scalars), proven(p.loss), adam)
    }
}

/// Element `e` of `words` (chunk hashes `chunks`) with its proof.
fn prove(words: &[u32], chunks: &[Hash], e: u64) -> ElementProof {
    let c = e / CHUNK_WORDS as u64;
    let chunk = words.chunks(CHUNK_WORDS).nth(c as usize).expect("in range").to_vec();
    ElementProof { index: e, chunk, path: merkle::proof(chunks, c as usize).expect("in range") }
}
