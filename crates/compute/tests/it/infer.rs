//! Inference: batch invariance, deterministic sampling, save/load.

use iollm_compute::model::{init_params, Layout};
use iollm_compute::{GptConfig, Model, Runtime, Sampling, Simd};

fn model(threads: usize, simd: Simd) -> Model {
    let cfg = GptConfig { n_layer: 2, n_head: 2, n_embd: 32, n_ctx: 32 };
    let mut p = init_params(&Layout::new(&cfg), 11);
    // Spread the weights so attention is far from uniform.
    p.iter_mut().enumerate().for_each(|(i, v)| *v *= 1.0 + (i % 7) as f32);
    Model::new(cfg, p, &Runtime { threads, simd, backend: iollm_compute::Backend::Cpu })
        .expect("model")
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn logits_do_not_depend_on_batch_position_or_padding_or_threads() {
    let m = model(2, Simd::detect());
    let p: &[u8] = b"hello, world";
    let alone = m.last_logits(&[p]).expect("alone").remove(0);
    let long: &[u8] = b"a much longer neighbour prompt";
    for batch in [vec![p, long], vec![long, b"x", p], vec![b"yz", long, long, p, b"q"]] {
        let idx = batch.iter().position(|x| *x == p).expect("present");
        let got = m.last_logits(&batch).expect("batch").remove(idx);
        assert_eq!(bits(&got), bits(&alone), "batch of {}", batch.len());
    }
    for (threads, simd) in [(1, Simd::Scalar), (8, Simd::detect())] {
        let got = model(threads, simd).last_logits(&[long, p]).expect("batch").remove(1);
        assert_eq!(bits(&got), bits(&alone), "threads={threads} simd={simd:?}");
    }
}

#[test]
fn generation_is_deterministic_and_survives_save_load() {
    let m = model(2, Simd::detect());
    let g1 = m.generate(b"abc", 30, Sampling::Greedy).expect("greedy");
    assert_eq!(g1.len(), 33, "context slides past n_ctx");
    let s = Sampling::Seeded { seed: 5, temperature: 0.8 };
    let s1 = m.generate(b"abc", 10, s).expect("sample");
    assert_eq!(s1, m.generate(b"abc", 10, s).expect("sample"));
    let dir = tempfile::tempdir().expect("tempdir");
    m.save(dir.path()).expect("save");
    let loaded = Model::load(dir.path(), &Runtime::new(1)).expect("load");
    assert_eq!(loaded.generate(b"abc", 30, Sampling::Greedy).expect("greedy"), g1);
    assert_eq!(loaded.generate(b"abc", 10, s).expect("sample"), s1);
    assert!(m.generate(b"", 3, Sampling::Greedy).is_err());
    assert!(m.last_logits(&[&[0u8; 33]]).is_err(), "longer than n_ctx");
    assert!(m.generate(b"a", 1, Sampling::Seeded { seed: 1, temperature: 0.0 }).is_err());
}
