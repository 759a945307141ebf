//! The profile's scalar functions (`REPOPS.md` §2) on [`F32`]: the same operations, in the same
//! order, as `iollm_compute::repops`, so each gives the same bits (a NaN result is
//! [`F32::NAN`]). Constants are written as bits; a test checks each against the f32 expression
//! the hardware definition uses.

use crate::F32;

/// log2 e.
pub const LOG2E: F32 = F32(0x3fb8_aa3b);
/// ln 2 rounded to binary32.
pub const LN2_HI: F32 = F32(0x3f31_7218);
/// ln 2 − `LN2_HI`.
pub const LN2_LO: F32 = F32(0xb102_e308);
/// √2.
pub const SQRT_2: F32 = F32(0x3fb5_04f3);
/// exp's Taylor coefficients 1/7!, 1/6!, …, 1/2! (then 1, 1).
pub const EXP_COEFFS: [F32; 5] =
    [F32(0x3950_0d01), F32(0x3ab6_0b61), F32(0x3c08_8889), F32(0x3d2a_aaab), F32(0x3e2a_aaab)];
/// ln's series coefficients 2/9, 2/7, 2/5, 2/3 (then 2).
pub const LN_COEFFS: [F32; 4] =
    [F32(0x3e63_8e39), F32(0x3e92_4925), F32(0x3ecc_cccd), F32(0x3f2a_aaab)];
/// √(2/π) as GELU uses it.
pub const GELU_K: F32 = F32(0x3f4c_422a);
/// GELU's cubic coefficient.
pub const GELU_C: F32 = F32(0x3d37_2713);

const HALF: F32 = F32(0x3f00_0000);
const TWO: F32 = F32(0x4000_0000);
const THREE: F32 = F32(0x4040_0000);
const NINE: F32 = F32(0x4110_0000);
const EIGHTY_EIGHT: F32 = F32(0x42b0_0000);
const MINUS_87: F32 = F32(0xc2ae_0000);
/// 127 + 2^23: adding it puts an integer `n` in [−126, 127] as `n + 127` in the low bits.
const EXP_BIAS_SHIFTER: F32 = F32(0x4b00_007f);
const MIN_POSITIVE: F32 = F32(0x0080_0000);

/// `e^x` (`REPOPS.md` §2).
pub fn exp(x: F32) -> F32 {
    if x.is_nan() {
        return F32::NAN;
    }
    if x.gt(EIGHTY_EIGHT) {
        return F32::INFINITY;
    }
    if x.lt(MINUS_87) {
        return F32::ZERO;
    }
    let n = (x * LOG2E).round_ties_even();
    let r = n.mul_add(-LN2_HI, x);
    let r = n.mul_add(-LN2_LO, r);
    let mut p = EXP_COEFFS[0];
    for c in &EXP_COEFFS[1..] {
        p = p.mul_add(r, *c);
    }
    p = p.mul_add(r, HALF);
    p = p.mul_add(r, F32::ONE);
    p = p.mul_add(r, F32::ONE);
    let biased = (n + EXP_BIAS_SHIFTER).to_bits().wrapping_sub(0x4b00_0000);
    p * F32(biased << 23)
}

/// Natural logarithm (`REPOPS.md` §2).
pub fn ln(x: F32) -> F32 {
    if x.is_nan() || x.lt(F32::ZERO) {
        return F32::NAN;
    }
    if x == F32::INFINITY {
        return x;
    }
    if x.lt(MIN_POSITIVE) {
        return F32::NEG_INFINITY;
    }
    let bits = x.to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 - 127;
    let mut m = F32((bits & 0x007f_ffff) | 0x3f80_0000);
    if m.gt(SQRT_2) {
        m = m * HALF;
        e += 1;
    }
    let s = (m - F32::ONE) / (m + F32::ONE);
    let z = s * s;
    let mut p = LN_COEFFS[0];
    for c in &LN_COEFFS[1..] {
        p = p.mul_add(z, *c);
    }
    p = p.mul_add(z, TWO);
    F32::from_i32(e).mul_add(LN2_HI, s * p)
}

/// Hyperbolic tangent (`REPOPS.md` §2).
pub fn tanh(x: F32) -> F32 {
    if x.is_nan() {
        return F32::NAN;
    }
    let a = x.abs();
    if a.gt(NINE) {
        return F32::ONE.copysign(x);
    }
    let t = exp(-TWO * a);
    ((F32::ONE - t) / (F32::ONE + t)).copysign(x)
}

/// `1/√x` as two correctly rounded operations.
pub fn rsqrt(x: F32) -> F32 {
    F32::ONE / x.sqrt()
}

/// GELU, tanh form: `0.5·x·(1 + tanh(k·(x + c·x³)))`.
pub fn gelu(x: F32) -> F32 {
    let x3 = (x * x) * x;
    let u = GELU_K * (x + GELU_C * x3);
    HALF * x * (F32::ONE + tanh(u))
}

/// Derivative of [`gelu`].
pub fn gelu_grad(x: F32) -> F32 {
    let x2 = x * x;
    let u = GELU_K * (x + GELU_C * (x2 * x));
    let t = tanh(u);
    let du = GELU_K * (F32::ONE + THREE * GELU_C * x2);
    HALF * (F32::ONE + t) + HALF * x * (F32::ONE - t * t) * du
}
