//! The profile's scalar functions (`REPOPS.md` §2), defined once for any [`Binary32`]: the
//! trainer runs them on the machine's `f32` (`iollm_compute::repops`), the referee contract on
//! soft [`crate::F32`], and both give the same bits — but for a NaN that the arithmetic itself
//! produces (`rsqrt(−1)`, `0·∞` inside `gelu_grad` of a huge input), which has the hardware's
//! bits on `f32` until it is written down: every chain value and state word is the one NaN
//! (REPOPS.md §1); the early exits return [`Binary32::NAN`] on both.
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
/// Bits of 2/π.
pub const TWO_OVER_PI: u32 = 0x3f22_f983;
/// π/2 in three parts, each the binary32 nearest to what the ones before leave of π/2
/// (Cody–Waite): `k·π/2` is taken off with three FMAs.
pub const PIO2: [u32; 3] = [0x3fc9_0fdb, 0xb33b_bd2e, 0xa6f7_2ced];
/// Bits of sin's Taylor coefficients −1/3!, 1/5!, −1/7!, 1/9!.
pub const SIN_COEFFS: [u32; 4] = [0xbe2a_aaab, 0x3c08_8889, 0xb950_0d01, 0x3638_ef1d];
/// Bits of cos's Taylor coefficients −1/2!, 1/4!, −1/6!, 1/8!, −1/10!.
pub const COS_COEFFS: [u32; 5] = [0xbf00_0000, 0x3d2a_aaab, 0xbab6_0b61, 0x37d0_0d01, 0xb493_f27e];

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
/// 2^17: the largest `|x|` [`sin_cos`] reduces.
const TRIG_LIMIT: u32 = 0x4800_0000;
/// 1.5·2^23: adding it to an integer `k` with `|k| < 2^22` leaves `k mod 4` in the low two bits.
const QUADRANT_SHIFTER: u32 = 0x4b40_0000;

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

/// SiLU (the SwiGLU gate of Llama): `x / (1 + exp(−x))`, each operation separately rounded.
#[inline(always)]
pub fn silu<F: Binary32>(x: F) -> F {
    x / (F::ONE + exp(-x))
}

/// `(sin x, cos x)` together (RoPE takes both of each angle): `k = roundTiesEven(x·2/π)`,
/// `r = x − k·π/2` by three FMAs with the parts of [`PIO2`], then on `r ∈ [−π/4, π/4]` with
/// `z = r·r` the Taylor polynomials `sin r = fma(r·z, S(z), r)` and `cos r = fma(z, C(z), 1)`
/// (FMA Horner over [`SIN_COEFFS`], [`COS_COEFFS`]), swapped and negated by the quadrant
/// `k mod 4`. NaN, infinities and `|x| > 2^17` give `(NaN, NaN)`: the profile defines the two
/// functions only where this reduction is accurate (a RoPE angle is at most the position).
#[inline(always)]
pub fn sin_cos<F: Binary32>(x: F) -> (F, F) {
    if x.is_nan() || x.abs().gt(c(TRIG_LIMIT)) {
        return (F::NAN, F::NAN);
    }
    let k = (x * c(TWO_OVER_PI)).round_ties_even();
    let mut r = k.mul_add(-c::<F>(PIO2[0]), x);
    r = k.mul_add(-c::<F>(PIO2[1]), r);
    r = k.mul_add(-c::<F>(PIO2[2]), r);
    let quadrant = (k + c(QUADRANT_SHIFTER)).to_bits() & 3;
    let z = r * r;
    let mut s: F = c(SIN_COEFFS[3]);
    for k in SIN_COEFFS[..3].iter().rev() {
        s = s.mul_add(z, c(*k));
    }
    let sin = (r * z).mul_add(s, r);
    let mut p: F = c(COS_COEFFS[4]);
    for k in COS_COEFFS[..4].iter().rev() {
        p = p.mul_add(z, c(*k));
    }
    let cos = z.mul_add(p, F::ONE);
    match quadrant {
        0 => (sin, cos),
        1 => (cos, -sin),
        2 => (-sin, -cos),
        _ => (-cos, sin),
    }
}
