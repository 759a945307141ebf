//! The profile's scalar functions (`REPOPS.md` §2), defined once for any [`Binary32`]: the
//! trainer runs them on the machine's `f32` (`iollm_compute::repops`), the referee contract on
//! soft [`crate::F32`], and both give the same bits — except a NaN that the arithmetic itself
//! produces (`rsqrt(−1)`, `0·∞` inside `gelu_grad` of a huge input), which keeps the hardware's
//! bits on `f32` (REPOPS.md §1 says where the kernels do not yet honour the one NaN); the early
//! exits return [`Binary32::NAN`] on both.
//! Constants are written as bits; a test checks each against the f32 expression it stands for.
//! Changing any constant or the order of any operation is a profile bump.

use crate::Binary32;

/// Bits of log2 e.
pub const LOG2E: u32 = 0x3fb8_aa3b;
/// Bits of ln 2 rounded to binary32.
pub const LN2_HI: u32 = 0x3f31_7218;
/// Bits of ln 2 − `LN2_HI`.
pub const LN2_LO: u32 = 0xb102_e308;
/// Bits of √2.
pub const SQRT_2: u32 = 0x3fb5_04f3;
/// Bits of exp's Taylor coefficients 1/7!, 1/6!, …, 1/2! (then 1, 1).
pub const EXP_COEFFS: [u32; 5] = [0x3950_0d01, 0x3ab6_0b61, 0x3c08_8889, 0x3d2a_aaab, 0x3e2a_aaab];
/// Bits of ln's series coefficients 2/9, 2/7, 2/5, 2/3 (then 2).
pub const LN_COEFFS: [u32; 4] = [0x3e63_8e39, 0x3e92_4925, 0x3ecc_cccd, 0x3f2a_aaab];
/// Bits of √(2/π) as GELU uses it.
pub const GELU_K: u32 = 0x3f4c_422a;
/// Bits of GELU's cubic coefficient 0.044715.
pub const GELU_C: u32 = 0x3d37_2713;

const HALF: u32 = 0x3f00_0000;
const TWO: u32 = 0x4000_0000;
const THREE: u32 = 0x4040_0000;
const NINE: u32 = 0x4110_0000;
const EIGHTY_EIGHT: u32 = 0x42b0_0000;
const MINUS_87: u32 = 0xc2ae_0000;
/// 127 + 2^23: adding it puts an integer `n` in [−126, 127] as `n + 127` in the low bits.
const EXP_BIAS_SHIFTER: u32 = 0x4b00_007f;
/// The smallest positive normal number.
const MIN_POSITIVE: u32 = 0x0080_0000;

/// The constant with these bits.
#[inline(always)]
fn c<F: Binary32>(bits: u32) -> F {
    F::from_bits(bits)
}

/// `e^x`: range reduction `x = n·ln2 + r` (n = round-half-even(x·log2 e)), a degree-7 Taylor
/// polynomial in Horner form with FMA on `r`, and an exact scaling by `2^n`. Inputs above 88
/// give `+inf`, below −87 give `+0` (no subnormal results); NaN gives NaN.
#[inline(always)]
pub fn exp<F: Binary32>(x: F) -> F {
    if x.is_nan() {
        return F::NAN;
    }
    if x.gt(c(EIGHTY_EIGHT)) {
        return F::INFINITY;
    }
    if x.lt(c(MINUS_87)) {
        return F::ZERO;
    }
    let n = (x * c(LOG2E)).round_ties_even();
    let r = n.mul_add(-c::<F>(LN2_HI), x);
    let r = n.mul_add(-c::<F>(LN2_LO), r);
    let mut p: F = c(EXP_COEFFS[0]);
    for k in &EXP_COEFFS[1..] {
        p = p.mul_add(r, c(*k));
    }
    p = p.mul_add(r, c(HALF));
    p = p.mul_add(r, F::ONE);
    p = p.mul_add(r, F::ONE);
    // n is an integer in [−126, 127], so the biased exponent n + 127 is a normal one: adding
    // 2^23 puts it, exactly, in the low mantissa bits (integer bit operations only, so a loop of
    // hardware floats vectorises; a float-to-int cast would not).
    let biased = (n + c(EXP_BIAS_SHIFTER)).to_bits().wrapping_sub(0x4b00_0000);
    p * F::from_bits(biased << 23)
}

/// Natural logarithm for positive normal inputs: `x = m·2^e` with `m ∈ [√½, √2)`,
/// `s = (m−1)/(m+1)`, `ln m = s·(2 + z(2/3 + z(2/5 + z(2/7 + z·2/9))))` with `z = s²` (FMA
/// Horner), result `fma(e, ln2, s·poly)`. Zero and subnormals give `−inf`, negatives and NaN give
/// NaN, `+inf` stays.
#[inline(always)]
pub fn ln<F: Binary32>(x: F) -> F {
    if x.is_nan() || x.lt(F::ZERO) {
        return F::NAN;
    }
    if x == F::INFINITY {
        return x;
    }
    if x.lt(c(MIN_POSITIVE)) {
        return F::NEG_INFINITY;
    }
    let bits = x.to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 - 127;
    let mut m: F = F::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    if m.gt(c(SQRT_2)) {
        m = m * c(HALF);
        e += 1;
    }
    let s = (m - F::ONE) / (m + F::ONE);
    let z = s * s;
    let mut p: F = c(LN_COEFFS[0]);
    for k in &LN_COEFFS[1..] {
        p = p.mul_add(z, c(*k));
    }
    p = p.mul_add(z, c(TWO));
    F::from_i32(e).mul_add(c(LN2_HI), s * p)
}

/// `tanh(x) = sign(x)·(1 − t)/(1 + t)` with `t = exp(−2|x|)`; `|x| > 9` gives `±1`.
#[inline(always)]
pub fn tanh<F: Binary32>(x: F) -> F {
    if x.is_nan() {
        return F::NAN;
    }
    let a = x.abs();
    if a.gt(c(NINE)) {
        return F::ONE.copysign(x);
    }
    let t = exp(-c::<F>(TWO) * a);
    ((F::ONE - t) / (F::ONE + t)).copysign(x)
}

/// `1/√x` as two correctly rounded operations (`sqrt`, then division) — never a hardware
/// reciprocal-square-root estimate.
#[inline(always)]
pub fn rsqrt<F: Binary32>(x: F) -> F {
    F::ONE / x.sqrt()
}

/// GELU, tanh form (GPT-2's `gelu_new`): `0.5·x·(1 + tanh(k·(x + c·x³)))`, with
/// `x³ = (x·x)·x` and every operation separately rounded.
#[inline(always)]
pub fn gelu<F: Binary32>(x: F) -> F {
    let x3 = (x * x) * x;
    let u = c::<F>(GELU_K) * (x + c::<F>(GELU_C) * x3);
    c::<F>(HALF) * x * (F::ONE + tanh(u))
}

/// Derivative of [`gelu`]:
/// `0.5·(1+t) + 0.5·x·(1−t²)·k·(1 + 3c·x²)` with `t = tanh(k·(x + c·x³))`.
#[inline(always)]
pub fn gelu_grad<F: Binary32>(x: F) -> F {
    let x2 = x * x;
    let u = c::<F>(GELU_K) * (x + c::<F>(GELU_C) * (x2 * x));
    let t = tanh(u);
    let du = c::<F>(GELU_K) * (F::ONE + c::<F>(THREE) * c::<F>(GELU_C) * x2);
    c::<F>(HALF) * (F::ONE + t) + c::<F>(HALF) * x * (F::ONE - t * t) * du
}
