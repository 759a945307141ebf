//! Scalar functions of the `repops-v1` numerics profile (see `REPOPS.md`).
//!
//! Every function here is a fixed sequence of IEEE-754 binary32 operations that are correctly
//! rounded on every conforming machine: `+ - * /`, `sqrt`, and fused multiply-add written
//! explicitly as `mul_add`. No libm transcendental is ever called, so results do not depend on
//! the platform's math library. These are not the most accurate possible approximations; they are
//! the *defined* ones: changing any constant or operation order is a profile bump.

/// Name of the numerics profile this build implements.
pub const PROFILE: &str = "repops-v1";

const LOG2E: f32 = std::f32::consts::LOG2_E;
/// ln 2 rounded to f32.
const LN2_HI: f32 = std::f32::consts::LN_2;
/// ln 2 minus `LN2_HI`.
const LN2_LO: f32 = -1.904_654_3e-9;

/// `e^x`: range reduction `x = n·ln2 + r` (n = round-half-even(x·log2 e)), a degree-7 Taylor
/// polynomial in Horner form with FMA on `r`, and an exact scaling by `2^n`.
/// Inputs above 88 give `+inf`, below −87 give `+0` (no subnormal results), NaN stays NaN.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    if x > 88.0 {
        return f32::INFINITY;
    }
    if x < -87.0 {
        return 0.0;
    }
    let n = (x * LOG2E).round_ties_even();
    let r = n.mul_add(-LN2_HI, x);
    let r = n.mul_add(-LN2_LO, r);
    let mut p: f32 = 1.0 / 5040.0;
    p = p.mul_add(r, 1.0 / 720.0);
    p = p.mul_add(r, 1.0 / 120.0);
    p = p.mul_add(r, 1.0 / 24.0);
    p = p.mul_add(r, 1.0 / 6.0);
    p = p.mul_add(r, 0.5);
    p = p.mul_add(r, 1.0);
    p = p.mul_add(r, 1.0);
    // n is an integer in [-126, 127], so the biased exponent n + 127 is a normal one. Adding
    // 2^23 puts it, exactly, in the low mantissa bits (integer bit operations only, so the
    // loop vectorises; a float-to-int cast would not).
    let biased = (n + (127.0 + 8_388_608.0)).to_bits() - 0x4b00_0000;
    let scale = f32::from_bits(biased << 23);
    p * scale
}

/// Natural logarithm for positive normal inputs: `x = m·2^e` with `m ∈ [√½, √2)`,
/// `s = (m−1)/(m+1)`, `ln m = s·(2 + z(2/3 + z(2/5 + z(2/7 + z·2/9))))` with `z = s²` (FMA Horner),
/// result `fma(e, ln2, s·poly)`. Zero and subnormals give `−inf`, negatives NaN, `+inf` stays.
#[inline(always)]
pub fn ln(x: f32) -> f32 {
    if x.is_nan() || x < 0.0 {
        return f32::NAN;
    }
    if x == f32::INFINITY {
        return x;
    }
    if x < f32::MIN_POSITIVE {
        return f32::NEG_INFINITY;
    }
    let bits = x.to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 - 127;
    let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    if m > std::f32::consts::SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let z = s * s;
    let mut p: f32 = 2.0 / 9.0;
    p = p.mul_add(z, 2.0 / 7.0);
    p = p.mul_add(z, 2.0 / 5.0);
    p = p.mul_add(z, 2.0 / 3.0);
    p = p.mul_add(z, 2.0);
    (e as f32).mul_add(std::f32::consts::LN_2, s * p)
}

/// `tanh(x) = sign(x)·(1 − t)/(1 + t)` with `t = exp(−2|x|)`; `|x| > 9` gives `±1`.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    let a = x.abs();
    if a > 9.0 {
        return 1.0f32.copysign(x);
    }
    let t = exp(-2.0 * a);
    ((1.0 - t) / (1.0 + t)).copysign(x)
}

/// `1/√x` as two correctly rounded operations (`sqrt`, then division) — never a hardware
/// reciprocal-square-root estimate.
#[inline(always)]
pub fn rsqrt(x: f32) -> f32 {
    1.0 / x.sqrt()
}

/// √(2/π) as used by GELU.
pub const GELU_K: f32 = 0.797_884_6;
/// Cubic coefficient of the tanh-GELU.
pub const GELU_C: f32 = 0.044_715;

/// GELU, tanh form (GPT-2's `gelu_new`): `0.5·x·(1 + tanh(k·(x + c·x³)))`, with
/// `x³ = (x·x)·x` and every operation separately rounded.
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    let x3 = (x * x) * x;
    let u = GELU_K * (x + GELU_C * x3);
    0.5 * x * (1.0 + tanh(u))
}

/// Derivative of [`gelu`]:
/// `0.5·(1+t) + 0.5·x·(1−t²)·k·(1 + 3c·x²)` with `t = tanh(k·(x + c·x³))`.
#[inline(always)]
pub fn gelu_grad(x: f32) -> f32 {
    let x2 = x * x;
    let u = GELU_K * (x + GELU_C * (x2 * x));
    let t = tanh(u);
    let du = GELU_K * (1.0 + 3.0 * GELU_C * x2);
    0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du
}

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
        assert_eq!(exp(100.0), f32::INFINITY);
        assert_eq!(exp(-100.0), 0.0);
        assert_eq!(ln(0.0), f32::NEG_INFINITY);
        assert!(ln(-1.0).is_nan());
    }

    #[test]
    fn golden_bits() {
        // Fixed outputs of the profile: any change here is a profile bump (REPOPS.md).
        let got: Vec<u32> =
            [exp(0.5), exp(-3.25), ln(10.0), tanh(0.3), gelu(-0.7), rsqrt(3.0), gelu_grad(1.1)]
                .iter()
                .map(|v| v.to_bits())
                .collect();
        let text = format!("{got:08x?}");
        assert_eq!(text, GOLDEN, "repops-v1 scalar functions changed");
    }

    const GOLDEN: &str = "[3fd3094c, 3d1ed1b4, 40135d8e, 3e9526ed, be2d7f05, 3f13cd3a, 3f8d44b7]";
}
