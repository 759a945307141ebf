//! Scalar functions of the `repops-v4` numerics profile (see `REPOPS.md`) on the machine's `f32`.
//!
//! Every function is a fixed sequence of IEEE-754 binary32 operations that are correctly
//! rounded on every conforming machine: `+ - * /`, `sqrt`, and fused multiply-add written
//! explicitly as `mul_add`. No libm transcendental is ever called, so results do not depend on
//! the platform's math library. These are not the most accurate possible approximations; they are
//! the *defined* ones: changing any constant or operation order is a profile bump. They are
//! defined once, in `iollm_repops::functions`, generic over the float type: the referee contract
//! runs the same definitions on soft floats and gets the same bits.

pub use iollm_repops::functions::{exp, gelu, gelu_grad, ln, rsqrt, silu, sin_cos, tanh};
use iollm_repops::Binary32;

/// The profile's maximum (`REPOPS.md` §1): a NaN operand gives the other one,
/// `max(+0, −0) = +0`; a total order otherwise, so a row's maximum has the same bits in any
/// order (unlike `f32::max`, which may return either zero).
#[inline(always)]
pub fn max(a: f32, b: f32) -> f32 {
    <f32 as Binary32>::max(a, b)
}

/// `x`, or the profile's one NaN `0x7fc00000` if `x` is a NaN (`REPOPS.md` §1): what a
/// kernel writes into a state, whatever NaN the machine made.
#[inline(always)]
pub fn one_nan(x: f32) -> f32 {
    if x.is_nan() {
        <f32 as Binary32>::NAN
    } else {
        x
    }
}

/// [`exp`] of every value of `xs`, in place, with the same bits, written so that the compiler
/// vectorizes it: the definition's early exits (NaN, above 88, below −87) become selects
/// after the polynomial, which every lane computes (its value for those inputs is discarded).
/// Call it inside an `fma_dispatch!` kernel, where `mul_add` is one instruction.
#[inline(always)]
pub fn exp_in_place(xs: &mut [f32]) {
    use iollm_repops::functions::{EXP_COEFFS, LN2_HI, LN2_LO, LOG2E};
    let c = f32::from_bits;
    for x in xs.iter_mut() {
        let v = *x;
        let n = (v * c(LOG2E)).round_ties_even();
        let r = n.mul_add(-c(LN2_HI), v);
        let r = n.mul_add(-c(LN2_LO), r);
        let mut p = c(EXP_COEFFS[0]);
        for k in &EXP_COEFFS[1..] {
            p = p.mul_add(r, c(*k));
        }
        p = p.mul_add(r, 0.5);
        p = p.mul_add(r, 1.0);
        p = p.mul_add(r, 1.0);
        // 127 + 2^23 (as in the definition): the biased exponent lands in the low bits.
        let biased = (n + c(0x4b00_007f)).to_bits().wrapping_sub(0x4b00_0000);
        let e = p * f32::from_bits(biased << 23);
        let e = if v < -87.0 { 0.0 } else { e };
        let e = if v > 88.0 { f32::INFINITY } else { e };
        *x = if v.is_nan() { <f32 as Binary32>::NAN } else { e };
    }
}

/// Name of the numerics profile this build implements.
pub use iollm_repops::PROFILE;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_are_accurate_enough() {
        let mut x = -20.0f32;
        while x < 20.0 {
            let e = exp(x) as f64;
            let r = (x as f64).exp();
            assert!(((e - r) / r).abs() < 1e-6, "exp({x}) = {e}, want {r}");
            let t = tanh(x) as f64;
            assert!((t - (x as f64).tanh()).abs() < 1e-6, "tanh({x})");
            x += 0.01;
        }
        let mut x = 1e-30f32;
        while x < 1e30 {
            let l = ln(x) as f64;
            let r = (x as f64).ln();
            assert!((l - r).abs() < 1e-6 * r.abs().max(1.0), "ln({x}) = {l}, want {r}");
            x *= 1.37;
        }
        // RoPE's angles: positions times frequencies, at most the context length.
        let mut x = -9000.0f32;
        while x < 9000.0 {
            let (s, c) = sin_cos(x);
            let (rs, rc) = (x as f64).sin_cos();
            // Reducing x by k·π/2 leaves about ulp(x)/2 of its own rounding: that bounds it.
            let tol = 2e-7 + (x.abs() as f64) * 1e-12;
            assert!((s as f64 - rs).abs() < tol && (c as f64 - rc).abs() < tol, "sin_cos({x})");
            x += 0.37;
        }
        assert!(sin_cos(2e5).0.is_nan() && sin_cos(f32::INFINITY).1.is_nan());
        assert_eq!(sin_cos(0.0), (0.0, 1.0));
        assert_eq!(silu(0.0), 0.0);
        assert!((silu(2.0) as f64 - 2.0 / (1.0 + (-2.0f64).exp())).abs() < 1e-6);
        assert_eq!(silu(-100.0), -0.0);
        assert_eq!(exp(100.0), f32::INFINITY);
        assert_eq!(exp(-100.0), 0.0);
        assert_eq!(ln(0.0), f32::NEG_INFINITY);
        assert!(ln(-1.0).is_nan());
    }

    #[test]
    fn exp_in_place_has_the_bits_of_exp() {
        // Every sign, exponent and top 7 mantissa bits, with varied low bits; then the edges.
        let mut xs: Vec<f32> = (0..1u32 << 16)
            .flat_map(|hi| {
                [0u32, 0x5a5a, 0xffff, 0x1234].map(move |lo| f32::from_bits((hi << 16) | lo))
            })
            .collect();
        xs.extend([
            88.0,
            88.000_01,
            -87.0,
            -87.000_01,
            0.0,
            -0.0,
            f32::NAN,
            f32::INFINITY,
            -f32::INFINITY,
        ]);
        let mut got = xs.clone();
        exp_in_place(&mut got);
        for (x, g) in xs.iter().zip(&got) {
            assert_eq!(g.to_bits(), exp(*x).to_bits(), "exp({x:e}) [{:08x}]", x.to_bits());
        }
    }

    #[test]
    fn golden_bits() {
        // Fixed outputs of the profile: any change here is a profile bump (REPOPS.md).
        let got: Vec<u32> =
            [exp(0.5), exp(-3.25), ln(10.0), tanh(0.3), gelu(-0.7), rsqrt(3.0), gelu_grad(1.1)]
                .iter()
                .chain(&[silu(-1.3), sin_cos(1000.5).0, sin_cos(1000.5).1, sin_cos(-0.2).0])
                .map(|v| v.to_bits())
                .collect();
        let text = format!("{got:08x?}");
        assert_eq!(text, GOLDEN, "repops-v4 scalar functions changed");
    }

    const GOLDEN: &str =
        "[3fd3094c, 3d1ed1b4, 40135d8e, 3e9526ed, be2d7f05, 3f13cd3a, 3f8d44b7, be8e8c5a, 3f7eca46, 3dc6dffc, be4b6ff9]";
}
