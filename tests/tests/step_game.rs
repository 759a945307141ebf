//! The dispute game inside one training step (levels 3–5 of VERIFICATION.md), played off chain
//! on a real 2-layer, 2-head, context-16 model with weight decay: the cumulative roots after
//! every op are bisected (`iollm_types::bisection`), the disputed op's output tree is descended
//! (`iollm_types::descent`), one element's chain is bisected, and the referee
//! (`iollm_repops::referee`, soft floats, every input proven against the agreed roots) recomputes
//! the one disputed chain step — exactly the checks the contract will make. A cheat injected at
//! a seeded-random element of an op of every kind is caught on an op of that kind; an honest
//! executor beats a lying challenger; a forged next state is caught at the step's last
//! transition.

use iollm_compute::game::StepTrace;
use iollm_compute::merkle::Sha;
use iollm_compute::{TrainState, Trainer, PROFILE};
use iollm_repops::commit::{self, chunk_hash};
use iollm_repops::merkle::Hasher;
use iollm_repops::referee::{self, chain_value, Input, Leaf, LeafError};
use iollm_repops::F32;
use iollm_tests::Draw;
use iollm_types::bisection::{Bisection, Side, Value, Verdict};
use iollm_types::descent::{Descent, Phase};
use iollm_types::dispute;

/// A side of the game: its replay of the step, and where its story of one element's chain
/// leaves the replay (a liar's chain must end at the value it committed).
struct Player<'t> {
    trace: StepTrace<'t>,
    lie_from: usize,
}

/// How a game ended.
#[derive(Debug)]
struct End {
    verdict: Verdict,
    /// The op and element of the leaf (`None`: the step's last transition).
    leaf: Option<(usize, usize)>,
    rounds: u32,
    /// Bytes of the referee's call (its inputs with their proofs), if the game reached it.
    call: usize,
}

fn bisect(executor: &[Value], challenger: &[Value], rounds: &mut u32) -> Bisection {
    let n = (executor.len() - 1) as u32;
    let claims = [executor[n as usize], challenger[n as usize]];
    let mut b = Bisection::open(n, executor[0], claims, 1000, 0).expect("a disagreement");
    let mut now = 0;
    while let Some(mid) = b.midpoint() {
        now += 1;
        b.reveal(Side::Executor, executor[mid as usize], now).expect("in time");
        b.reveal(Side::Challenger, challenger[mid as usize], now).expect("in time");
    }
    *rounds += b.rounds;
    b
}

/// A side's chain for element `e` of op `k`, ending at the value it committed: its replay of
/// the chain, changed from `lie_from` on when that replay does not end there.
fn chain(p: &Player, k: usize, e: usize, claimed: u32) -> Vec<u64> {
    let mut c = p.trace.chain(k, e);
    let last = c.len() - 1;
    if c[last] as u32 != claimed {
        for v in c.iter_mut().skip(p.lie_from.clamp(1, last)) {
            *v ^= 1 << 40;
        }
        c[last] = (c[last] & !0xffff_ffff) | u64::from(claimed);
    }
    c
}

/// Plays levels 3–5 between two replays of the same step from the same state.
fn play(executor: &Player, challenger: &Player, forged_next: Option<Value>) -> End {
    let (ex, ch) = (&executor.trace, &challenger.trace);
    let prog = ex.program();
    let ops = prog.ops.len();
    let mut rounds = 0;
    // Level 3: the cumulative roots, then the next state root.
    let mut seq_e = ex.level3();
    if let Some(forged) = forged_next {
        *seq_e.last_mut().expect("K + 2 values") = forged;
    }
    let seq_c = ch.level3();
    let start = ex.level3()[0];
    assert_eq!(seq_c[0], start, "both start from the agreed state");
    let level3 = bisect(&seq_e, &seq_c, &mut rounds);
    let k = level3.lo as usize;
    if k == ops {
        // The step's last transition: the referee derives the next state root from the
        // agreed root after every op.
        let (scalars, loss, (a_root, a_path)) = ex.seal_proofs();
        let truth = referee::next_state::<Sha>(
            prog,
            PROFILE,
            &ex_config_hash(ex),
            &level3.agreed,
            &scalars,
            &loss,
            (&a_root, &a_path),
        )
        .expect("the proofs hold");
        let call = dispute::calls::next_state(1, &scalars, &loss, a_root, &a_path).len();
        assert!(call <= dispute::MAX_CALL_BYTES, "the next-state call ({call} bytes) fits");
        let verdict = level3.verdict(&truth).expect("narrowed");
        return End { verdict, leaf: None, rounds, call };
    }
    // Level 4 opens: each side's root after op k is the agreed one plus its output root.
    let siblings = ex.op_root_path(k + 1, 1 + k);
    assert_eq!(siblings, ch.op_root_path(k + 1, 1 + k), "the other leaves are agreed");
    for (side, t, root) in [(0, ex, level3.disputed[0]), (1, ch, level3.disputed[1])] {
        let ok =
            referee::op_output::<Sha>(&level3.agreed, &root, k, ops, &t.output_root(k), &siblings);
        assert!(ok, "side {side}: its root after op {k} adds only its output");
    }
    let len = prog.ops[k].len as u64;
    let (tree_e, tree_c) = (ex.output_tree(k), ch.output_tree(k));
    let mut d =
        Descent::open(commit::chunk_count(len), ex.output_root(k), 1000, 0).expect("chunks");
    let mut now = 0;
    while d.phase != Phase::Done {
        now += 1;
        match d.phase {
            Phase::Children => {
                let below = &tree_e[d.level as usize - 1];
                let i = 2 * d.index as usize;
                d.reveal_children(below[i], below[i + 1], now).expect("in time");
            }
            Phase::Pick => {
                let (left, _) = d.children.expect("revealed");
                let right = left == tree_c[d.level as usize - 1][2 * d.index as usize];
                d.pick(right, now).expect("in time");
            }
            Phase::Leaf => {
                let chunk = ex.chunk(k, d.index);
                let leaf: Value = Sha::hash(&[&[0], &chunk_hash::<Sha>(chunk)]);
                assert_eq!(leaf, d.node, "the chunk is the executor's leaf");
                d.reveal_leaf(now).expect("in time");
            }
            Phase::Done => unreachable!(),
        }
    }
    rounds += d.moves;
    // The challenger names the first element of the chunk it disputes.
    let (ce, cc) = (ex.chunk(k, d.index), ch.chunk(k, d.index));
    let offset = ce.iter().zip(cc).position(|(a, b)| a != b).expect("the chunks differ");
    let e = d.index as usize * commit::CHUNK_WORDS + offset;
    let claims = [ce[offset], cc[offset]];
    // Level 5: the element's chain, from 0 to each side's value.
    let (chain_e, chain_c) = (chain(executor, k, e, claims[0]), chain(challenger, k, e, claims[1]));
    let steps = prog.ops[k].chain_len(e);
    if steps == 0 {
        // The element is +0 by definition: no chain to bisect.
        let verdict = if claims[0] == 0 { Verdict::Executor } else { Verdict::Challenger };
        return End { verdict, leaf: Some((k, e)), rounds, call: 0 };
    }
    let values = |c: &[u64]| c.iter().map(|v| chain_value(*v)).collect::<Vec<Value>>();
    let level5 = bisect(&values(&chain_e), &values(&chain_c), &mut rounds);
    let pos = level5.lo as usize;
    let acc = u64::from_le_bytes(level5.agreed[..8].try_into().expect("8 bytes"));
    let leaf = Leaf {
        program: prog,
        agreed_root: level3.agreed,
        op: k,
        element: e,
        pos,
        acc,
        corpus: (ex_corpus_root(ex), ex_corpus_len(ex)),
    };
    // Whoever supplies the inputs, they are proven against what both agreed on.
    let inputs = ch.leaf_inputs(k, e, pos, acc);
    let truth = referee::replay::<F32, Sha>(&leaf, &inputs).expect("the inputs are proven");
    // The contract must take the call: its input fits the contracts' static buffer.
    let call = dispute::calls::replay(1, &inputs).len();
    assert!(call <= dispute::MAX_CALL_BYTES, "op {k}: the replay call ({call} bytes) fits");
    // The replay needs every input it reads, each proof intact.
    if let Some(first) = inputs.first() {
        let mut bent = inputs.clone();
        bend(&mut bent[0]);
        assert!(
            matches!(referee::replay::<F32, Sha>(&leaf, &bent), Err(LeafError::BadProof(0))),
            "{first:?}"
        );
        assert!(matches!(
            referee::replay::<F32, Sha>(&leaf, &inputs[1..]),
            Err(LeafError::Missing(..))
        ));
    }
    End {
        verdict: level5.verdict(&chain_value(truth)).expect("narrowed"),
        leaf: Some((k, e)),
        rounds,
        call,
    }
}

/// Changes one proven value of an input.
fn bend(input: &mut Input) {
    match input {
        Input::State { proof, .. } => proof.element.chunk[0] ^= 1,
        Input::Header { proof, .. } => proof.header[40] ^= 1,
        Input::Corpus { chunk, .. } => chunk[0] ^= 1,
        Input::Op { element, .. } => element.chunk[0] ^= 1,
    }
}

fn ex_config_hash(t: &StepTrace) -> [u8; 32] {
    t.trainer().config_hash()
}

fn ex_corpus_root(t: &StepTrace) -> [u8; 32] {
    iollm_compute::data::corpus_root(t.trainer().corpus())
}

fn ex_corpus_len(t: &StepTrace) -> u64 {
    t.trainer().corpus().len() as u64
}

/// The name of op `k`'s kind.
fn kind_name(t: &StepTrace, k: usize) -> String {
    iollm_tests::kind_name(&t.program().ops[k])
}

fn setup() -> (Trainer, TrainState) {
    let (_, tr) = iollm_tests::game_run().expect("the game's run");
    let mut st = tr.initial_state();
    // Two steps in: moments live, still warming up.
    tr.step(&mut st);
    tr.step(&mut st);
    (tr, st)
}

#[test]
fn a_cheat_in_any_kind_of_op_is_caught_on_an_op_of_that_kind() {
    let (tr, st) = setup();
    let honest = tr.trace_step(&st);
    let prog = honest.program();
    let mut kinds: Vec<String> = (0..prog.ops.len()).map(|k| kind_name(&honest, k)).collect();
    kinds.dedup();
    let mut names: Vec<String> = kinds.clone();
    names.sort();
    names.dedup();
    let mut draw = Draw(0x5eed);
    let (mut rounds_max, mut call_max) = (0, (0, String::new()));
    for name in &names {
        let candidates: Vec<usize> =
            (0..prog.ops.len()).filter(|k| &kind_name(&honest, *k) == name).collect();
        let k = candidates[draw.next(candidates.len() as u64) as usize];
        // An element whose chain has steps (a masked one is +0 by definition), altered so that
        // the state after the step changes: a change no later value sees (rounded away, or in
        // a value nothing reads) leaves the result true, and there is nothing to dispute.
        let (e, cheat) = (0..50)
            .find_map(|_| {
                let e = draw.next(prog.ops[k].len as u64) as usize;
                let flip = 1u32 << (16 + draw.next(16));
                let integer = matches!(name.as_str(), "Sample" | "Tokens");
                let cheat = tr.trace_step_with(&st, |op, out| match op == k {
                    // A window offset or a token stays in range (a byte, a corpus offset).
                    true if integer => out[e] = if out[e] > 0 { out[e] - 1 } else { 1 },
                    true => out[e] ^= flip,
                    false => {}
                });
                let live = prog.ops[k].chain_len(e) > 0 && cheat.next_root() != honest.next_root();
                live.then_some((e, cheat))
            })
            .unwrap_or_else(|| panic!("{name}: no element of op {k} changes the step's result"));
        let lie_from = draw.next(prog.ops[k].chain_len(e) as u64 + 1) as usize;
        let end = play(
            &Player { trace: cheat, lie_from },
            &Player { trace: tr.trace_step(&st), lie_from: 0 },
            None,
        );
        assert_eq!(end.verdict, Verdict::Challenger, "{name}: op {k}, element {e}");
        assert_eq!(end.leaf, Some((k, e)), "{name}: the game ends on the altered element");
        rounds_max = rounds_max.max(end.rounds);
        if end.call > call_max.0 {
            call_max = (end.call, name.clone());
        }
    }
    println!(
        "{} kinds of op, at most {rounds_max} rounds in levels 3–5; the largest referee call {} \
         bytes ({})",
        names.len(),
        call_max.0,
        call_max.1
    );
    assert!(names.len() >= 30, "every kind of op is in a step: {names:?}");
}

#[test]
fn an_honest_executor_beats_a_lying_challenger_and_a_forged_next_state_is_caught() {
    let (tr, st) = setup();
    let prog_len = tr.trace_step(&st).program().ops.len();
    let mut draw = Draw(0xfeed);
    let honest_next = tr.trace_step(&st).next_root();
    for _ in 0..3 {
        // A lie about a float op (past the sampler and the tokens) that changes the result: a
        // change no later value sees leaves nothing to dispute.
        let (k, e, liar) = (0..50)
            .find_map(|_| {
                let k = 2 + draw.next(prog_len as u64 - 2) as usize;
                let e = draw.next(tr.trace_step(&st).program().ops[k].len as u64) as usize;
                let liar = tr.trace_step_with(&st, |op, out| {
                    if op == k {
                        out[e] = out[e].wrapping_add(1 << 16);
                    }
                });
                (liar.next_root() != honest_next).then_some((k, e, liar))
            })
            .expect("a lie that changes the result");
        let end = play(
            &Player { trace: tr.trace_step(&st), lie_from: 0 },
            &Player { trace: liar, lie_from: 3 },
            None,
        );
        assert_eq!(end.verdict, Verdict::Executor, "op {k}, element {e}");
        assert_eq!(end.leaf, Some((k, e)));
    }
    // Every op honest, but the executor claims another next state: caught at the step's last
    // transition, which the referee derives from two proven roots.
    let end = play(
        &Player { trace: tr.trace_step(&st), lie_from: 0 },
        &Player { trace: tr.trace_step(&st), lie_from: 0 },
        Some([7; 32]),
    );
    assert_eq!((end.verdict, end.leaf), (Verdict::Challenger, None));
    // And the honest next state is the trainer's.
    let mut next = st.clone();
    tr.step(&mut next);
    assert_eq!(tr.trace_step(&st).next_root(), next.hash(&tr.config_hash()));
}
