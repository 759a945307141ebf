//! The model really learns: loss far below ln 256 and a held-out line completed.

use iollm_compute::data::{arithmetic_line, ARITH_HELD_OUT};
use iollm_compute::{train, Model, Runtime, Sampling, TrainConfig};
use std::path::Path;

#[test]
fn tiny_example_learns_the_arithmetic_task() {
    let cfg_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tiny.toml");
    let cfg = TrainConfig::from_file(&cfg_path).expect("example config parses");
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = Runtime::new(2);
    let mut losses = Vec::new();
    let out = train(&cfg, dir.path(), &rt, &mut |p| {
        if p.checkpoint.is_none() {
            losses.push(p.loss);
        }
        iollm_compute::Flow::Continue(())
    })
    .expect("train");
    let tail: f32 = losses[losses.len() - 20..].iter().sum::<f32>() / 20.0;
    eprintln!("first loss {} final mean loss {tail}", losses[0]);
    assert!(losses[0] > 5.0, "starts near ln 256 = 5.55");
    assert!(tail < 1.2, "loss {tail} is not well below ln 256");
    assert!(out.final_loss.is_finite());
    let model = Model::load(dir.path(), &rt).expect("load trained model");
    let (start, step) = ARITH_HELD_OUT;
    let line = arithmetic_line(start, step);
    // A previous line, then the held-out line's step letter, ':' and first two digits; the
    // model must continue the progression 7, 0, 3, 6, … it never saw.
    let mut prompt = arithmetic_line(5, 2)[6..].to_vec();
    prompt.extend_from_slice(&line[..4]);
    let got = model.generate(&prompt, 8, Sampling::Greedy).expect("generate");
    let want = [&prompt[..], &line[4..12]].concat();
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&want),
        "held-out completion"
    );
}
