//! The executor's and the verifier's judgements on a run: what an executor submits for a
//! finished run (the commitment and the proof of its last state, checked as the market checks
//! it; a run of another job or an unfinished run is refused), and how a verifier judges its
//! replay of a segment.

use iollm_compute::{Runtime, TrainConfig, Trainer};
use iollm_types::market::{loss_micros, GameSpec};
use iollm_worker::{game_spec, submission, SubmissionError};
use std::path::Path;

const SMALL: &str = r#"
[model]
n_layer = 1
n_head = 1
n_embd = 16
n_ctx = 8
[train]
seed = 3
steps = 4
batch_size = 2
checkpoint_every = 2
[optimizer]
lr = 0.01
[data]
kind = "arithmetic"
lines = 50
"#;

#[test]
fn a_finished_run_is_submitted_with_its_last_state_and_loss() {
    let cfg = TrainConfig::from_toml_str(SMALL, Path::new(".")).unwrap();
    let rt = Runtime::new(1);
    let game = game_spec(&Trainer::new(&cfg, &rt).unwrap(), &cfg, 5);
    let dir = tempfile::tempdir().unwrap();
    let out = iollm_compute::train(&cfg, dir.path(), &rt, &mut iollm_compute::go_on).unwrap();
    let (commitment, last) = submission(dir.path(), &game, "bafy", 7).unwrap();
    assert_eq!((commitment.trace_root, commitment.checks_root), (out.trace_root, out.checks_root));
    assert_eq!(commitment.loss, loss_micros(out.final_loss.to_bits()));
    assert_eq!((commitment.score, commitment.output_cid.as_slice()), (7, b"bafy".as_slice()));
    assert!(last
        .check::<iollm_compute::merkle::Sha>(&game, &out.trace_root, commitment.loss)
        .is_ok());
    // The same run offered for a job of more steps (a run stopped short) or of another config
    // is refused, naming why. (The checkpoint interval is in the config hash.)
    for other in [
        GameSpec { checkpoints: 3, ..game.clone() },
        GameSpec { config_hash: [0; 32], ..game.clone() },
    ] {
        let err = submission(dir.path(), &other, "bafy", 7).unwrap_err();
        assert!(matches!(err, SubmissionError::NotThisJob(_)), "{err}");
        assert!(err.to_string().starts_with("it is not a run of this job"), "{err}");
    }
    // An unfinished run is no result.
    std::fs::remove_file(dir.path().join(iollm_compute::train::COMPLETE_FILE)).unwrap();
    let err = submission(dir.path(), &game, "bafy", 7).unwrap_err();
    assert!(
        matches!(err, SubmissionError::Run(_)) && err.to_string().contains("--resume"),
        "{err}"
    );
}

/// A verifier attests only a replay that reaches the trace's next checkpoint and matches the
/// committed check; a forged checkpoint beside an honest check is a wrong result.
#[test]
fn a_replay_is_judged_by_the_checkpoint_first() {
    use iollm_compute::merkle::{root, Sha};
    use iollm_worker::{judge_replay, Replay};
    let steps = [[1; 32], [2; 32], [3; 32]];
    let honest_check = iollm_types::spotcheck::leaf::<Sha>(&root(&steps));
    assert_eq!(judge_replay(&steps, &honest_check, Some(&[3; 32])), Replay::Matches(root(&steps)));
    assert_eq!(judge_replay(&steps, &[9; 32], Some(&[3; 32])), Replay::WrongCheck);
    // The executor's check is the honest replay's, its trace's checkpoint forged.
    assert_eq!(judge_replay(&steps, &honest_check, Some(&[4; 32])), Replay::Wrong);
    assert_eq!(judge_replay(&steps, &honest_check, None), Replay::Wrong);
    assert_eq!(judge_replay(&[], &honest_check, None), Replay::Wrong);
}

/// A player told from its own run starts each replay at the checkpoint before it: the same
/// states and trace as a player that replays from h_0, and a missing checkpoint falls back to
/// the start.
#[test]
fn a_player_from_its_run_tells_the_same_story_from_its_checkpoints() {
    use iollm_types::bisection::Side;
    use iollm_worker::player::Player;
    let cfg = TrainConfig::from_toml_str(SMALL, Path::new(".")).unwrap();
    let rt = Runtime::new(1);
    let trainer = Trainer::new(&cfg, &rt).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = iollm_compute::train(&cfg, dir.path(), &rt, &mut iollm_compute::go_on).unwrap();
    let from_start = Player::new(Side::Executor, &trainer, None);
    let from_run = Player::from_run(Side::Executor, &trainer, dir.path(), 2);
    for step in 0..=4 {
        let (a, b) = (from_start.state(step), from_run.state(step));
        assert_eq!(a.hash(&trainer.config_hash()), b.hash(&trainer.config_hash()), "step {step}");
    }
    assert_eq!(from_run.checkpoints(2, 2), out.hashes);
    std::fs::remove_file(iollm_compute::train::checkpoint_path(dir.path(), 1)).unwrap();
    let st = from_run.state(3);
    assert_eq!(st.hash(&trainer.config_hash()), from_start.state(3).hash(&trainer.config_hash()));
}

/// Every checked segment is judged before any reveal: an executor that publishes a wrong check
/// (a decoy) for the drawn segment and cheats in the last is challenged, not revealed without
/// a check; a wrong check alone is a reveal without one; matches attest in order.
#[test]
fn a_decoy_check_does_not_hide_a_cheat_in_the_last_segment() {
    use iollm_compute::merkle::{root, Sha};
    use iollm_types::spotcheck::{checks_path, leaf};
    use iollm_worker::spotcheck::{judge_segments, Judgement, SegmentReplay};
    // Three segments: h_0..h_3; the verifier drew segment 0 and checks the last, 2.
    let hashes = [[0; 32], [1; 32], [2; 32], [3; 32]];
    let steps = |from: u8, to: u8| vec![[from; 32], [40 + from; 32], [to; 32]];
    let honest = |s: u8| leaf::<Sha>(&root(&steps(s, s + 1)));
    let checks = [honest(0), honest(1), honest(2)];
    let replays = |last_reaches: [u8; 32]| {
        vec![
            SegmentReplay { segment: 0, steps: steps(0, 1) },
            SegmentReplay { segment: 2, steps: vec![[2; 32], [42; 32], last_reaches] },
        ]
    };
    let attest = Judgement::Attest(vec![
        (root(&steps(0, 1)), checks_path::<Sha>(&checks, 0).unwrap()),
        (root(&steps(2, 3)), checks_path::<Sha>(&checks, 2).unwrap()),
    ]);
    assert_eq!(judge_segments(&replays([3; 32]), &checks, &hashes), attest);
    let decoy = [[9; 32], honest(1), honest(2)];
    assert_eq!(
        judge_segments(&replays([3; 32]), &decoy, &hashes),
        Judgement::WrongCheck { segment: 0 }
    );
    // The decoy beside a forged h_3: the last segment's replay does not reach it.
    assert_eq!(
        judge_segments(&replays([7; 32]), &decoy, &hashes),
        Judgement::Wrong { segment: 2, reached: [7; 32] }
    );
}
