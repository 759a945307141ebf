//! The executor's state database: migrations at open, a job recorded once, stages and
//! transactions durable across reopening (what a restart after `kill -9` reads).

use iollm_worker::state::{Pin, Stage, State};

#[tokio::test]
async fn the_state_survives_reopening_and_a_job_is_begun_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.sqlite");
    let state = State::open(&path).await.unwrap();
    assert_eq!(state.cursor().await.unwrap(), None);
    state.set_cursor(17).await.unwrap();
    assert!(state.begin(3, "executor", Stage::Claiming, None).await.unwrap());
    let again = state.begin(3, "verifier", Stage::SigningUp, Some([5; 32])).await.unwrap();
    assert!(!again, "a job is begun once");
    state.transaction(3, "claim", [1; 32], 12, None).await.unwrap();
    state.transaction(3, "withdraw", [2; 32], 14, Some(u128::MAX)).await.unwrap();
    state.set_stage(3, Stage::Claimed, None).await.unwrap();
    let run_dir = dir.path().join("run");
    let run = Some(("bafyrun", run_dir.as_path()));
    state.published(3, "bafyexample", dir.path(), run).await.unwrap();
    // Published again after a crash (the same package, the same CIDs): recorded once.
    state.published(3, "bafyexample", dir.path(), run).await.unwrap();
    assert!(state.begin(4, "executor", Stage::Claiming, None).await.unwrap());
    assert!(state.begin(6, "verifier", Stage::SigningUp, Some([7; 32])).await.unwrap());
    state.set_stage(4, Stage::Lost, Some("claim refused")).await.unwrap();
    state.pinned(6, Pin::Output, "bafyoutput").await.unwrap();
    state.pinned(6, Pin::Base, "bafybase").await.unwrap();
    drop(state);

    let state = State::open(&path).await.unwrap();
    assert_eq!(state.cursor().await.unwrap(), Some(17));
    let three = state.job(3).await.unwrap().unwrap();
    assert_eq!(three.stage, Stage::Published);
    assert_eq!(three.output_cid.as_deref(), Some("bafyexample"));
    let at = |p: &std::path::Path| p.to_string_lossy().into_owned();
    assert_eq!(
        state.uploads(3).await.unwrap(),
        [("bafyexample".into(), at(dir.path())), ("bafyrun".into(), at(&dir.path().join("run")))]
    );
    assert_eq!(
        state.transactions(3).await.unwrap(),
        vec![("claim".to_owned(), 12, None), ("withdraw".to_owned(), 14, Some(u128::MAX))]
    );
    let four = state.job(4).await.unwrap().unwrap();
    assert_eq!((four.stage, four.note.as_deref()), (Stage::Lost, Some("claim refused")));
    let in_flight: Vec<u64> = state.in_flight().await.unwrap().iter().map(|j| j.id).collect();
    assert_eq!(in_flight, vec![3, 6], "a lost job is not in flight");
    let six = state.job(6).await.unwrap().unwrap();
    assert_eq!(
        (six.stage, six.role.as_str(), six.secret),
        (Stage::SigningUp, "verifier", Some([7; 32]))
    );
    assert_eq!(six.pinned.as_deref(), Some("bafyoutput"), "what the verifier unpins at release");
    assert_eq!(six.base_pinned.as_deref(), Some("bafybase"), "and the base it kept");
    assert_eq!((three.pinned, three.base_pinned), (None, None));
    assert_eq!(three.secret, None);
    assert_eq!(state.job(5).await.unwrap(), None);
    // Only a finished job is left to release, until it is recorded released (durably).
    assert_eq!(state.unreleased().await.unwrap(), vec![4]);
    state.set_released(4).await.unwrap();
    state.set_stage(6, Stage::Checked, None).await.unwrap();
    drop(state);
    let state = State::open(&path).await.unwrap();
    assert_eq!(state.unreleased().await.unwrap(), vec![6]);
}

#[tokio::test]
async fn a_state_is_bound_to_its_first_chain_market_and_account() {
    let dir = tempfile::tempdir().unwrap();
    let state = State::open(&dir.path().join("state.sqlite")).await.unwrap();
    let (g, m, a) = ([1u8; 32], [2u8; 32], [3u8; 32]);
    state.bind(g, m, a).await.unwrap();
    state.bind(g, m, a).await.unwrap();
    for (args, says) in
        [((g, m, [9; 32]), "account"), ((g, [9; 32], a), "market"), (([9; 32], m, a), "chain")]
    {
        let err = state.bind(args.0, args.1, args.2).await.unwrap_err().to_string();
        assert!(err.contains(&format!("belongs to another {says}")), "{err}");
    }
    // The binding survives reopening.
    drop(state);
    let state = State::open(&dir.path().join("state.sqlite")).await.unwrap();
    assert!(state.bind(g, m, [4; 32]).await.is_err());
    state.bind(g, m, a).await.unwrap();
}
