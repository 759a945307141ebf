//! [`F32`] against the machine's IEEE-754 binary32, and the profile's functions on `F32` against
//! the same definitions on hardware `f32` as the trainer runs them (`iollm_compute::repops`): the
//! same bits for every input, except that a NaN result must be the profile's one NaN. Random inputs here; every input of the unary
//! operations in the ignored tests, which `scripts/repops-exhaustive.sh` runs.

use iollm_compute::repops as hw;
use iollm_repops::{functions as soft, F32};

/// The profile's answer for a hardware result: its bits, or the canonical NaN.
/// The NaN test reads the bits behind `black_box`: rustc 1.95 at `-O` folds `sqrt(x).is_nan()`
/// for a negative subnormal `x` to false, though the hardware result is a NaN.
fn want(x: f32) -> u32 {
    if std::hint::black_box(x.to_bits()) & 0x7fff_ffff > 0x7f80_0000 {
        F32::NAN.to_bits()
    } else {
        x.to_bits()
    }
}

/// xorshift64*: deterministic, so a failure names a reproducible case.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Bits weighted toward the hard cases: specials, subnormals, near-equal exponents, and
    /// values one ulp from a neighbour's.
    fn float(&mut self, near: u32) -> u32 {
        const SPECIAL: [u32; 12] = [
            0,
            0x8000_0000,
            1,
            0x8000_0001,
            0x007f_ffff,
            0x0080_0000,
            0x7f7f_ffff,
            0x7f80_0000,
            0xff80_0000,
            0x7fc0_0000,
            0x7fa0_0001,
            0x3f80_0000,
        ];
        let r = self.next();
        match r % 8 {
            0 => SPECIAL[(r >> 8) as usize % SPECIAL.len()] ^ ((r >> 40) as u32 & 0x8000_0000),
            1 => (r >> 16) as u32 & 0x80ff_ffff, // subnormals and the smallest normals
            2 => near.wrapping_add((r >> 32) as u32 % 5).wrapping_sub(2),
            3 => near ^ ((r >> 32) as u32 & 0x807f_ffff), // same exponent
            4 => {
                near.wrapping_add(((r >> 32) as u32 % 64) << 23) ^ ((r >> 20) as u32 & 0x807f_ffff)
            }
            _ => (r >> 32) as u32,
        }
    }
}

fn f(bits: u32) -> f32 {
    f32::from_bits(bits)
}

const RANDOM_CASES: u32 = 2_000_000;

/// One random pair through every binary operation and comparison.
fn binary_case(rng: &mut Rng) {
    let a = rng.float(0x3f80_0000);
    let b = rng.float(a);
    let (x, y) = (F32(a), F32(b));
    assert_eq!((x + y).to_bits(), want(f(a) + f(b)), "add {a:08x} {b:08x}");
    assert_eq!((x - y).to_bits(), want(f(a) - f(b)), "sub {a:08x} {b:08x}");
    assert_eq!((x * y).to_bits(), want(f(a) * f(b)), "mul {a:08x} {b:08x}");
    assert_eq!((x / y).to_bits(), want(f(a) / f(b)), "div {a:08x} {b:08x}");
    assert_eq!(x.partial_cmp(&y), f(a).partial_cmp(&f(b)), "cmp {a:08x} {b:08x}");
    assert_eq!(x.ieee_eq(y), f(a) == f(b), "eq {a:08x} {b:08x}");
    if !(f(a) == 0.0 && f(b) == 0.0) {
        // f32::max/min leave the sign of equal zeros open; the profile fixes it below.
        assert_eq!(x.max(y).to_bits(), want(f(a).max(f(b))), "max {a:08x} {b:08x}");
        assert_eq!(x.min(y).to_bits(), want(f(a).min(f(b))), "min {a:08x} {b:08x}");
    }
}

/// One random triple through the fused multiply-add; with `cancel`, `c` near −a·b, where the
/// exact product matters most.
fn fma_case(rng: &mut Rng, cancel: bool) {
    let a = rng.float(0x3f80_0000);
    let b = rng.float(a);
    let c = if cancel { rng.float((f(a) * f(b)).to_bits() ^ 0x8000_0000) } else { rng.float(b) };
    let got = F32(a).mul_add(F32(b), F32(c)).to_bits();
    assert_eq!(got, want(f(a).mul_add(f(b), f(c))), "fma {a:08x} {b:08x} {c:08x}");
}

#[test]
fn binary_operations_match_hardware() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..RANDOM_CASES {
        binary_case(&mut rng);
    }
}

#[test]
fn fused_multiply_add_matches_hardware() {
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    for i in 0..RANDOM_CASES {
        fma_case(&mut rng, i % 2 == 0);
    }
}

/// `IOLLM_SOFT_FLOAT_CASES` (default 300 000 000) random pairs through every binary operation
/// and as many triples through the fused multiply-add, split over the machine's threads, each
/// with its own seed.
#[test]
#[ignore = "hundreds of millions of cases (minutes): scripts/repops-exhaustive.sh"]
fn hundreds_of_millions_of_random_operands() {
    let cases: u64 = std::env::var("IOLLM_SOFT_FLOAT_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300_000_000);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let started = std::time::Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                let mut rng =
                    Rng(0x5851_f42d_4c95_7f2d ^ (t + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                for i in 0..cases.div_ceil(threads) {
                    binary_case(&mut rng);
                    fma_case(&mut rng, i % 2 == 0);
                }
            });
        }
    });
    println!(
        "{} random pairs (add, sub, mul, div, comparisons, max, min) and as many triples (fma) \
         on {threads} threads: the hardware's bits, in {:.0} s",
        cases.div_ceil(threads) * threads,
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn unary_operations_match_hardware_on_random_inputs() {
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    for _ in 0..RANDOM_CASES {
        unary_case(rng.float(0x3f80_0000));
    }
}

fn unary_case(a: u32) {
    let x = F32(a);
    assert_eq!(x.sqrt().to_bits(), want(f(a).sqrt()), "sqrt {a:08x}");
    assert_eq!(x.round_ties_even().to_bits(), want(f(a).round_ties_even()), "round {a:08x}");
    assert_eq!(x.to_i32(), f(a) as i32, "to_i32 {a:08x}");
    assert_eq!(F32::from_i32(a as i32).to_bits(), (a as i32 as f32).to_bits(), "from_i32 {a}");
    let wide = (u64::from(a) << 32) | u64::from(a.rotate_left(7));
    assert_eq!(F32::from_u64(wide).to_bits(), (wide as f32).to_bits(), "from_u64 {wide}");
    assert_eq!(F32::from_i64(wide as i64).to_bits(), (wide as i64 as f32).to_bits(), "from_i64");
    assert_eq!((-x).to_bits(), (-f(a)).to_bits(), "neg {a:08x}");
    assert_eq!(x.abs().to_bits(), f(a).abs().to_bits(), "abs {a:08x}");
}

fn function_case(a: u32) {
    let x = F32(a);
    assert_eq!(soft::exp(x).to_bits(), want(hw::exp(f(a))), "exp {a:08x}");
    assert_eq!(soft::ln(x).to_bits(), want(hw::ln(f(a))), "ln {a:08x}");
    assert_eq!(soft::tanh(x).to_bits(), want(hw::tanh(f(a))), "tanh {a:08x}");
    assert_eq!(soft::rsqrt(x).to_bits(), want(hw::rsqrt(f(a))), "rsqrt {a:08x}");
    assert_eq!(soft::gelu(x).to_bits(), want(hw::gelu(f(a))), "gelu {a:08x}");
    assert_eq!(soft::gelu_grad(x).to_bits(), want(hw::gelu_grad(f(a))), "gelu_grad {a:08x}");
    assert_eq!(soft::silu(x).to_bits(), want(hw::silu(f(a))), "silu {a:08x}");
    let (s, c) = soft::sin_cos(x);
    let (hs, hc) = hw::sin_cos(f(a));
    assert_eq!((s.to_bits(), c.to_bits()), (want(hs), want(hc)), "sin_cos {a:08x}");
}

#[test]
fn functions_match_their_hardware_definition() {
    let mut rng = Rng(0x5555_aaaa_1234_5678);
    for _ in 0..RANDOM_CASES / 4 {
        function_case(rng.float(0x3f80_0000));
    }
    // Every binary32 in [−16, 16] with the low 8 mantissa bits fixed: the polynomial ranges.
    for hi in 0..(1u32 << 16) {
        let a = (hi << 16) | 0x5a5a;
        if f(a).abs() <= 16.0 {
            function_case(a);
        }
    }
}

#[test]
fn constants_are_the_f32_expressions_they_stand_for() {
    let coeffs = [1.0f32 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0];
    assert_eq!(soft::EXP_COEFFS, coeffs.map(f32::to_bits));
    let coeffs = [2.0f32 / 9.0, 2.0 / 7.0, 2.0 / 5.0, 2.0 / 3.0];
    assert_eq!(soft::LN_COEFFS, coeffs.map(f32::to_bits));
    assert_eq!(soft::LOG2E, std::f32::consts::LOG2_E.to_bits());
    assert_eq!(soft::LN2_HI, std::f32::consts::LN_2.to_bits());
    assert_eq!(soft::LN2_LO, (-1.904_654_3e-9f32).to_bits());
    assert_eq!(soft::SQRT_2, std::f32::consts::SQRT_2.to_bits());
    assert_eq!(soft::GELU_K, 0.797_884_6f32.to_bits());
    assert_eq!(soft::GELU_C, 0.044_715f32.to_bits());
    let coeffs = [-1.0f32 / 6.0, 1.0 / 120.0, -1.0 / 5040.0, 1.0 / 362_880.0];
    assert_eq!(soft::SIN_COEFFS, coeffs.map(f32::to_bits));
    let coeffs = [-0.5f32, 1.0 / 24.0, -1.0 / 720.0, 1.0 / 40320.0, -1.0 / 3_628_800.0];
    assert_eq!(soft::COS_COEFFS, coeffs.map(f32::to_bits));
    assert_eq!(soft::TWO_OVER_PI, std::f32::consts::FRAC_2_PI.to_bits());
    assert_eq!(soft::PIO2[0], std::f32::consts::FRAC_PI_2.to_bits());
    // The three parts of π/2 sum to it within 2^−75 (a 24-bit part each).
    let parts: f64 = soft::PIO2.iter().map(|b| f64::from(f32::from_bits(*b))).sum();
    assert!((parts - std::f64::consts::FRAC_PI_2).abs() < 1e-16, "{parts}");
    // LN2_HI + LN2_LO is ln 2 to about 2^−50.
    let ln2 = f64::from(f32::from_bits(soft::LN2_HI)) + f64::from(f32::from_bits(soft::LN2_LO));
    assert!((ln2 - std::f64::consts::LN_2).abs() < 1e-15, "{ln2}");
}

#[test]
fn the_profiles_choices_where_ieee_leaves_one_open() {
    let (pz, nz) = (F32(0), F32(0x8000_0000));
    assert_eq!(pz.max(nz), pz);
    assert_eq!(nz.max(pz), pz);
    assert_eq!(pz.min(nz), nz);
    assert_eq!(nz.min(pz), nz);
    let payload = F32(0xffa0_0001); // a negative signalling NaN
    for got in [payload + F32::ONE, F32::ONE * payload, payload.sqrt(), payload.mul_add(pz, pz)] {
        assert_eq!(got, F32::NAN, "NaN results are canonical");
    }
    assert_eq!(F32::INFINITY - F32::INFINITY, F32::NAN);
    assert_eq!(payload.max(F32::ONE), F32::ONE, "max of a NaN and a number is the number");
    assert_eq!(payload.max(payload), F32::NAN);
    assert_eq!(-payload, F32(0x7fa0_0001), "negation is a bit operation");
    assert_eq!(F32(0xbe99_999a).round_ties_even(), nz, "−0.3 rounds to −0");
    assert_eq!(F32(0x3fc0_0000).round_ties_even(), F32(0x4000_0000), "1.5 → 2");
    assert_eq!(F32(0x4020_0000).round_ties_even(), F32(0x4000_0000), "2.5 → 2");
}

/// Runs `check` on every bits pattern, split over the machine's threads.
fn every_input(check: fn(u32)) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let chunk = (1u64 << 32).div_ceil(threads);
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                for a in t * chunk..((t + 1) * chunk).min(1 << 32) {
                    check(a as u32);
                }
            });
        }
    });
}

#[test]
#[ignore = "all 2^32 inputs (minutes): scripts/repops-exhaustive.sh"]
fn every_input_of_the_unary_operations() {
    every_input(unary_case);
}

#[test]
#[ignore = "all 2^32 inputs (tens of minutes): scripts/repops-exhaustive.sh"]
fn every_input_of_the_functions() {
    every_input(function_case);
}
