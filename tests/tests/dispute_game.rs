//! The whole dispute game (`iollm_types::game`: levels 1–5, the referee at the bottom) played
//! off chain between two players of a real 16-step run of a 2-layer, 2-head, context-16 model
//! with weight decay, exactly as the dispute contract runs it: a cheat in one element of one op
//! of one step of one segment is caught and decided by recomputing one chain step; an honest
//! executor beats a lying challenger; a side that stops answering loses on its deadline.

use iollm_compute::merkle::root;
use iollm_compute::{TrainConfig, Trainer};
use iollm_tests::{kind_name, Draw};
use iollm_types::bisection::{Side, Verdict};
use iollm_types::game::{most_moves, Game, How, Stage};
use iollm_worker::game_spec;
use iollm_worker::player::{segment_claim, Cheat, Player, Respond, Start};

/// Opens a game between the two players (5 blocks a move) at block 0.
fn open(tr: &Trainer, cfg: &TrainConfig, players: [&Player; 2]) -> Game {
    let n = cfg.n_checkpoints() as u64;
    let every = cfg.train.checkpoint_every;
    let traces = players.map(|p| p.level_one(every, n));
    let proof = |t: &[[u8; 32]], i: usize| iollm_compute::merkle::proof(t, i).expect("in range");
    // The challenger's claim opens the game; the executor answers about its own trace.
    let c = &traces[1];
    Game::open::<iollm_compute::merkle::Sha>(
        game_spec(tr, cfg, 5)
            .terms([[1; 32], [2; 32]], [root(&traces[0]), root(&traces[1])], Vec::new())
            .expect("no base"),
        &proof(c, 0),
        c[n as usize],
        &proof(c, n as usize),
        0,
    )
    .expect("the challenger's claim is in its trace")
}

/// Opens a game between the two players and plays it until decided; `silent` stops a side
/// from answering after that many of its moves. Returns the game.
fn play(
    tr: &Trainer,
    cfg: &TrainConfig,
    players: [&Player; 2],
    silent: Option<(Side, u32)>,
) -> Game {
    play_out(open(tr, cfg, players), sides(players), silent)
}

/// Each player with its side.
fn sides<'p>(players: [&'p Player; 2]) -> [(Side, &'p dyn Respond); 2] {
    players.map(|p| (p.side, p as &dyn Respond))
}

/// Plays an open game until decided (see [`play`]).
fn play_out(
    mut game: Game,
    players: [(Side, &dyn Respond); 2],
    silent: Option<(Side, u32)>,
) -> Game {
    let (mut now, mut made) = (0, [0u32; 2]);
    while game.verdict().is_none() {
        now += 1;
        let mut moved = false;
        for (side, p) in players {
            let i = usize::from(side == Side::Challenger);
            if silent.is_some_and(|(silent, after)| silent == side && made[i] >= after) {
                continue;
            }
            if let Some(m) = p.respond(&game) {
                m.apply(&mut game, side, now)
                    .unwrap_or_else(|e| panic!("{side:?}: {e:?} in {:?}", game.stage));
                made[i] += 1;
                moved = true;
                if game.verdict().is_some() {
                    break;
                }
            }
        }
        if !moved {
            // Nobody answered: wait for the deadline, then anyone calls `timeout`.
            now += 200;
            assert!(game.timeout(now).is_some(), "a deadline passed in {:?}", game.stage);
        }
        assert!(now < 5_000, "the game ends in bounded time");
    }
    game
}

fn setup() -> (Trainer, TrainConfig) {
    let (cfg, tr) = iollm_tests::game_run().expect("the game's run");
    (tr, cfg)
}

/// Altering one element of the first layer's attention output projection in step 6 (segment 1).
const CHEAT: Cheat = Cheat { step: 6, op: 14, element: 77, xor: 1 << 20 };

#[test]
fn a_cheating_executor_is_caught_by_recomputing_one_chain_step() {
    let (tr, cfg) = setup();
    let cheat = Player::new(Side::Executor, &tr, Some(CHEAT));
    let honest = Player::new(Side::Challenger, &tr, None);
    let game = play(&tr, &cfg, [&cheat, &honest], None);
    assert_eq!(game.verdict(), Some(Verdict::Challenger));
    assert!(matches!(game.stage, Stage::Decided { how: How::Replay, .. }), "{:?}", game.stage);
    assert_eq!(
        (game.segment, game.step, game.op as usize, game.element as usize),
        (1, 6, CHEAT.op, CHEAT.element)
    );
    println!("decided by replay after {} moves", game.moves);
}

/// Every kind of op a step has (VERIFICATION.md's table of leaves, 30 kinds): a cheat at a
/// seeded-random element of a seeded-random op of that kind, in the last step, is caught in the whole
/// game — `Game`, the state machine the dispute contract runs, levels 1 to 5 — which ends on
/// that op and element, decided by recomputing one chain step, within the moves a game can
/// take.
#[test]
fn a_cheat_in_any_kind_of_op_is_caught_through_the_whole_game_on_that_op() {
    let (tr, cfg) = setup();
    let honest = Player::new(Side::Challenger, &tr, None);
    // The run's last step: the state after it is the result h_n, so a cheat in anything that
    // state holds (its loss too, which no later step reads) changes the result.
    let step = cfg.train.steps - 1;
    let st = honest.state(step);
    let trace = tr.trace_step(&st);
    let ops = &trace.program().ops;
    let mut names: Vec<String> = ops.iter().map(kind_name).collect();
    names.sort();
    names.dedup();
    let spec = game_spec(&tr, &cfg, 5);
    let most = most_moves(&spec.config, spec.every, spec.checkpoints).expect("a valid config");
    let (mut draw, mut longest) = (Draw(0x9a3e), 0);
    for name in &names {
        let candidates: Vec<usize> =
            (0..ops.len()).filter(|&k| kind_name(&ops[k]) == *name).collect();
        let k = candidates[draw.next(candidates.len() as u64) as usize];
        // A live element (a masked one is +0 by definition), altered so that the step's result
        // changes; an integer (a window offset, a token) stays in range.
        let cheat = (0..50)
            .find_map(|_| {
                let e = draw.next(ops[k].len as u64) as usize;
                let integer = matches!(name.as_str(), "Sample" | "Tokens");
                let xor = if integer { 1 } else { 1 << (16 + draw.next(16)) };
                let in_range = name != "Sample" || trace.output(k)[e] & 1 == 1;
                let altered = tr.trace_step_with(&st, |op, out| {
                    if op == k {
                        out[e] ^= xor;
                    }
                });
                let live = ops[k].chain_len(e) > 0 && altered.next_root() != trace.next_root();
                (in_range && live).then_some(Cheat { step, op: k, element: e, xor })
            })
            .unwrap_or_else(|| panic!("{name}: no element of op {k} changes the step's result"));
        // Where in the element's chain the cheater's story leaves its replay: the chain step
        // the referee recomputes.
        let lie_from = 1 + draw.next(ops[k].chain_len(cheat.element) as u64) as usize;
        let cheater = Player::new(Side::Executor, &tr, Some(cheat)).lying_from(lie_from);
        let game = play(&tr, &cfg, [&cheater, &honest], None);
        assert_eq!(
            game.verdict(),
            Some(Verdict::Challenger),
            "{name}: {cheat:?}, {:?} at step {} op {} element {}",
            game.stage,
            game.step,
            game.op,
            game.element
        );
        assert!(
            matches!(game.stage, Stage::Decided { how: How::Replay, .. }),
            "{name}: {:?}",
            game.stage
        );
        assert_eq!(
            (game.step, game.op as usize, game.element as usize),
            (step, k, cheat.element),
            "{name}: the game ends on the altered element"
        );
        assert!(game.moves <= most, "{name}: {} moves, a game takes at most {most}", game.moves);
        longest = longest.max(game.moves);
    }
    assert!(names.len() >= 30, "every kind of op is in a step: {names:?}");
    println!(
        "{} kinds of op, each caught at its element in at most {longest} moves (bound {most})",
        names.len()
    );
}

/// A verifier that replayed only the segment its draw named (segment 1, from the executor's
/// committed `h_1`) and reached another end than the committed `h_2` challenges with a
/// one-segment claim ([`segment_claim`]): the job's `h_0`, the executor's `h_1`, its own `h_2`,
/// then values the executor's cannot be, to the
/// last. Level 1 bisects to segment 1 and the game ends at the cheated element. The same kind
/// of claim against an honest executor (a liar's end of segment 1) loses in segment 1.
#[test]
fn a_one_segment_claim_catches_the_cheat_and_a_false_one_loses() {
    let (tr, cfg) = setup();
    let (n, every) = (cfg.n_checkpoints() as u64, cfg.train.checkpoint_every);
    let cheat = Player::new(Side::Executor, &tr, Some(CHEAT));
    let committed = cheat.checkpoints(every, n);
    // The replay of segment 1 from the committed h_1 (the cheat is inside it): honest steps.
    let end = Player::new(Side::Challenger, &tr, None).state(2 * every);
    let end = end.hash(&tr.config_hash());
    assert_ne!(end, committed[2], "the replay misses the committed checkpoint");
    let claim = segment_claim(committed[0], &committed, 1, end);
    assert_eq!((claim.len(), &claim[..2], claim[2]), (committed.len(), &committed[..2], end));
    assert!((2..claim.len()).all(|j| claim[j] != committed[j]), "it differs after segment 1");
    let verifier = Player::new(Side::Challenger, &tr, None).with_claim(claim);
    let game = play(&tr, &cfg, [&cheat, &verifier], None);
    assert_eq!(game.verdict(), Some(Verdict::Challenger));
    assert!(matches!(game.stage, Stage::Decided { how: How::Replay, .. }), "{:?}", game.stage);
    assert_eq!(
        (game.segment, game.step, game.op as usize, game.element as usize),
        (1, 6, CHEAT.op, CHEAT.element)
    );

    let honest = Player::new(Side::Executor, &tr, None);
    let good = honest.checkpoints(every, n);
    let liar = Player::new(Side::Challenger, &tr, Some(CHEAT));
    let lie = liar.checkpoints(every, n)[2];
    let false_claim = Player::new(Side::Challenger, &tr, Some(CHEAT))
        .with_claim(segment_claim(good[0], &good, 1, lie));
    let game = play(&tr, &cfg, [&honest, &false_claim], None);
    assert_eq!(game.verdict(), Some(Verdict::Executor));
    assert_eq!((game.segment, game.step), (1, 6));
}

/// An executor that cheated in segment 0 and foresees the verifier's one-segment claim
/// commits, at the first midpoint, the very value that claim's replay ends with (the honest
/// `h_1`), hoping the bisection agrees there and leaves segment 0. The claim's later values are
/// ones no checkpoint of the executor's can be, so the game still ends at the cheat.
#[test]
fn a_one_segment_claim_is_not_led_astray_by_a_trace_that_copies_its_values() {
    let (tr, cfg) = setup();
    let (n, every) = (cfg.n_checkpoints() as u64, cfg.train.checkpoint_every);
    let early = Cheat { step: 2, ..CHEAT };
    let cheater = Player::new(Side::Executor, &tr, Some(early));
    let honest = Player::new(Side::Challenger, &tr, None);
    let (mut committed, good) = (cheater.checkpoints(every, n), honest.checkpoints(every, n));
    assert_ne!(committed[1], good[1], "the cheat reaches h_1");
    committed[2] = good[1];
    let cheater = cheater.with_claim(committed.clone());
    let verifier = honest.with_claim(segment_claim(good[0], &committed, 0, good[1]));
    let game = play(&tr, &cfg, [&cheater, &verifier], None);
    assert_eq!(game.verdict(), Some(Verdict::Challenger));
    assert_eq!((game.segment, game.step, game.op as usize), (0, 2, CHEAT.op));
}

#[test]
fn an_honest_executor_beats_a_lying_challenger() {
    let (tr, cfg) = setup();
    let honest = Player::new(Side::Executor, &tr, None);
    let liar = Player::new(
        Side::Challenger,
        &tr,
        Some(Cheat { step: 13, op: 40, element: 5, xor: 1 << 22 }),
    );
    let game = play(&tr, &cfg, [&honest, &liar], None);
    assert_eq!(game.verdict(), Some(Verdict::Executor));
    assert_eq!((game.segment, game.step, game.op), (3, 13, 40));
}

/// A sybil swarm on the wrong side, playing: ten challengers, each with its own lie (a drawn
/// step, op and element, leaving its replay at a drawn position of the element's chain), each
/// plays its game to the end against one honest executor, who wins all ten by recomputation,
/// each at the liar's element.
#[test]
fn ten_lying_challengers_each_playing_to_the_end_all_lose() {
    let (tr, cfg) = setup();
    let honest = Player::new(Side::Executor, &tr, None);
    let (n, every) = (cfg.n_checkpoints() as u64, cfg.train.checkpoint_every);
    let result = honest.checkpoints(every, n)[n as usize];
    let ops = tr.step_program().ops;
    let mut draw = Draw(0x5b11);
    let mut liars = 0;
    while liars < 10 {
        let (step, k) = (draw.next(cfg.train.steps), draw.next(ops.len() as u64) as usize);
        let e = draw.next(ops[k].len as u64) as usize;
        let integer = matches!(kind_name(&ops[k]).as_str(), "Sample" | "Tokens");
        let cheat = Cheat { step, op: k, element: e, xor: 1 << 22 };
        let liar = Player::new(Side::Challenger, &tr, Some(cheat));
        // A lie about the result: one that no later value sees claims the executor's own.
        if integer || ops[k].chain_len(e) == 0 || liar.checkpoints(every, n)[n as usize] == result {
            continue;
        }
        let liar = liar.lying_from(1 + draw.next(ops[k].chain_len(e) as u64) as usize);
        let game = play(&tr, &cfg, [&honest, &liar], None);
        assert_eq!(game.verdict(), Some(Verdict::Executor), "liar {liars}: {cheat:?}");
        assert!(matches!(game.stage, Stage::Decided { how: How::Replay, .. }), "{:?}", game.stage);
        assert_eq!((game.step, game.op as usize, game.element as usize), (step, k, e));
        liars += 1;
    }
}

#[test]
fn a_challenger_that_claims_the_executors_own_result_loses_at_once() {
    let (tr, cfg) = setup();
    let honest = Player::new(Side::Executor, &tr, None);
    let copycat = Player::new(Side::Challenger, &tr, None);
    let game = play(&tr, &cfg, [&honest, &copycat], None);
    assert_eq!(game.verdict(), Some(Verdict::Executor));
    assert!(matches!(game.stage, Stage::Decided { how: How::NoDispute, .. }));
    assert_eq!(game.moves, 2, "the two claims, nothing more");
}

#[test]
fn a_side_that_stops_answering_loses_on_its_deadline() {
    let (tr, cfg) = setup();
    let cheat = Player::new(Side::Executor, &tr, Some(CHEAT));
    let honest = Player::new(Side::Challenger, &tr, None);
    // The cheater goes quiet in level 2, or in the descent: it loses either way.
    for after in [3, 12] {
        let game = play(&tr, &cfg, [&cheat, &honest], Some((Side::Executor, after)));
        assert_eq!(game.verdict(), Some(Verdict::Challenger), "silent after {after}");
        assert!(matches!(game.stage, Stage::Decided { how: How::Timeout, .. }));
    }
    // A challenger that goes quiet against an honest executor loses.
    let honest_executor = Player::new(Side::Executor, &tr, None);
    let liar = Player::new(Side::Challenger, &tr, Some(CHEAT));
    let game = play(&tr, &cfg, [&honest_executor, &liar], Some((Side::Challenger, 4)));
    assert_eq!(game.verdict(), Some(Verdict::Executor));
    assert!(matches!(game.stage, Stage::Decided { how: How::Timeout, .. }));
}

/// Every move made at the last block it is allowed, a game still ends within
/// `game::longest`: the bound the market checks a job's game against (its `challenge_blocks`),
/// so a result is final at most that long after its challenge window.
#[test]
fn a_game_played_as_slowly_as_allowed_ends_within_its_bound() {
    let (tr, cfg) = setup();
    let cheat = Player::new(Side::Executor, &tr, Some(CHEAT));
    let honest = Player::new(Side::Challenger, &tr, None);
    let bound = game_spec(&tr, &cfg, 5).longest().expect("a valid config");
    let mut game = open(&tr, &cfg, [&cheat, &honest]);
    let mut now = 0;
    while game.verdict().is_none() {
        let (side, m) = [&cheat, &honest]
            .into_iter()
            .find_map(|p| p.respond(&game).map(|m| (p.side, m)))
            .expect("someone owes a move");
        let in_time = |at| m.clone().apply(&mut game.clone(), side, at).is_ok();
        let last = (now..=now + bound).rev().find(|at| in_time(*at)).expect("a block in time");
        m.apply(&mut game, side, last).expect("in time");
        now = last;
    }
    assert_eq!(game.verdict(), Some(Verdict::Challenger));
    assert!(now < bound, "decided at block {now}, past the bound {bound}");
    println!("decided at block {now} of at most {bound} ({} moves)", game.moves);
}

/// An executor can throw its own game (honest at levels 1 and 2, it commits the challenger's
/// ops of the disputed step with its own next state): it loses by recomputation though its
/// submission was right. An attester's defence of the same claim, the attester in the
/// executor's place, then wins at the very element the claim altered; a defender that does
/// not answer loses.
#[test]
fn a_thrown_game_is_lost_but_a_defence_of_the_same_claim_wins() {
    let (tr, cfg) = setup();
    let thrower = Player::throwing(&tr, CHEAT);
    let sybil = Player::new(Side::Challenger, &tr, Some(CHEAT));
    let thrown = play(&tr, &cfg, [&thrower, &sybil], None);
    assert_eq!(thrown.verdict(), Some(Verdict::Challenger));
    assert!(
        matches!(thrown.stage, Stage::Decided { how: How::NextState, .. }),
        "{:?}",
        thrown.stage
    );
    assert_eq!((thrown.segment, thrown.step), (1, 6));

    let defence = thrown.defence([3; 32], 0);
    assert_eq!(defence.terms.sides, [[3; 32], thrown.terms.sides[1]]);
    assert_eq!(defence.terms.trace_roots, thrown.terms.trace_roots);
    assert_eq!(defence.awaits(), Some(Side::Executor), "the claim stands committed");
    let defender = Player::new(Side::Executor, &tr, None);
    let won = play_out(defence.clone(), sides([&defender, &sybil]), None);
    assert_eq!(won.verdict(), Some(Verdict::Executor));
    assert!(matches!(won.stage, Stage::Decided { how: How::Replay, .. }), "{:?}", won.stage);
    assert_eq!(
        (won.step, won.op as usize, won.element as usize),
        (CHEAT.step, CHEAT.op, CHEAT.element)
    );
    let silent = play_out(defence, sides([&defender, &sybil]), Some((Side::Executor, 0)));
    assert_eq!(silent.verdict(), Some(Verdict::Challenger));
    assert!(matches!(silent.stage, Stage::Decided { how: How::Timeout, .. }));
}

/// An initial game (about the job's `h_0`): an executor whose `h_0` is the seed's state wins
/// it against any challenger; one whose job committed a forged `h_0` (a poster and executor
/// laundering a model trained from another state: one weight of a LayerNorm gain changed and
/// re-sealed) loses at the one chunk the referee recomputes from the seed.
#[test]
fn an_initial_game_is_won_by_the_seeds_state_and_lost_by_a_forged_one() {
    let (tr, cfg) = setup();
    let spec = game_spec(&tr, &cfg, 5);
    let terms = |spec: &iollm_types::market::GameSpec| {
        spec.terms([[1; 32], [2; 32]], [[0; 32]; 2], Vec::new()).expect("no base")
    };
    let of_spec = Start::of_seed(&spec.config, &spec.config_hash).root();
    assert_eq!(of_spec, spec.h0, "worked out from the game spec alone");
    // Played by a trainer's players, and by players of the seed's state built from the game's
    // terms alone (what a worker plays: no spec, no dataset), in each pairing.
    let honest = Player::new(Side::Executor, &tr, None);
    let challenger = Player::new(Side::Challenger, &tr, None);
    let seeds = Start::of_seed(&spec.config, &spec.config_hash);
    assert_eq!(seeds.root(), Start::of_state(&tr.initial_state(), &tr.config_hash()).root());
    let (seed_executor, seed_challenger) =
        (seeds.player(Side::Executor), seeds.player(Side::Challenger));
    let pairings: [[&dyn Respond; 2]; 3] =
        [[&honest, &challenger], [&seed_executor, &challenger], [&honest, &seed_challenger]];
    for [executor, challenger] in pairings {
        let game = Game::open_initial(terms(&spec), 0).expect("a playable config");
        let pair = [(Side::Executor, executor), (Side::Challenger, challenger)];
        let game = play_out(game, pair, None);
        assert_eq!(game.stage, Stage::Decided { verdict: Verdict::Executor, how: How::Initial });
        println!("an honest h_0 defended in {} moves", game.moves);
    }

    let run = tempfile::tempdir().expect("tempdir");
    let mut forged = tr.initial_state();
    let gain = 256 * cfg.model.n_embd + cfg.model.n_ctx * cfg.model.n_embd + 3;
    forged.params[gain] = 1.5;
    let (bytes, h0) = forged.checkpoint_bytes(&tr.config_hash());
    let path = iollm_compute::train::checkpoint_path(run.path(), 0);
    std::fs::create_dir_all(path.parent().expect("a directory")).expect("mkdir");
    std::fs::write(path, bytes).expect("write");
    let forger = Player::from_run(Side::Executor, &tr, run.path(), cfg.train.checkpoint_every);
    let spec = iollm_types::market::GameSpec { h0, ..spec };
    assert_ne!(of_spec, spec.h0, "a verifier sees it is forged");
    for challenger in [&challenger as &dyn Respond, &seed_challenger] {
        let game = Game::open_initial(terms(&spec), 0).expect("a playable config");
        let pair = [(Side::Executor, &forger as &dyn Respond), (Side::Challenger, challenger)];
        let game = play_out(game, pair, None);
        assert_eq!(game.stage, Stage::Decided { verdict: Verdict::Challenger, how: How::Initial });
        println!("a forged h_0 lost in {} moves", game.moves);
    }
}
