//! [`F32`]: binary32 as bits, its operations built on one rounding routine, [`round_pack`].

use core::cmp::Ordering;
use core::ops::{Add, Div, Mul, Neg, Sub};

const SIGN: u32 = 0x8000_0000;
const EXP_MASK: u32 = 0x7f80_0000;
const MANT_MASK: u32 = 0x007f_ffff;
/// The exponent of the least significant bit of a subnormal: 2^−149.
const MIN_EXP: i32 = -149;

/// An IEEE-754 binary32 value, held as its bits. `==` on `F32` compares bits (so `NaN == NaN`
/// and `+0 != −0`); IEEE comparison is [`F32::ieee_eq`] and [`F32::partial_cmp`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct F32(pub u32);

/// A finite, nonzero value `(−1)^neg · sig · 2^exp`, exactly.
#[derive(Clone, Copy)]
struct Finite {
    neg: bool,
    exp: i32,
    sig: u128,
}

impl Finite {
    /// The same value with the significand's top bit at `bit`.
    fn normalized(self, bit: u32) -> Self {
        let top = 127 - self.sig.leading_zeros();
        if top < bit {
            Finite { sig: self.sig << (bit - top), exp: self.exp - (bit - top) as i32, ..self }
        } else {
            Finite { sig: self.sig >> (top - bit), exp: self.exp + (top - bit) as i32, ..self }
        }
    }
}

/// Rounds `(−1)^neg · sig · 2^exp` to binary32, nearest with ties to even: the one rounding
/// routine of every operation. `sig`'s lowest bit may be a sticky bit (set when nonzero bits were
/// dropped below it) as long as at least two bits below the rounding position are present, which
/// every caller guarantees by keeping far more bits than binary32 holds.
fn round_pack(neg: bool, exp: i32, sig: u128) -> F32 {
    let sign = if neg { SIGN } else { 0 };
    if sig == 0 {
        return F32(sign);
    }
    let top = (127 - sig.leading_zeros()) as i32;
    // Keep 24 significant bits, or fewer where the result is subnormal (quantum 2^−149).
    let shift = (top - 23).max(MIN_EXP - exp);
    let m = if shift <= 0 {
        sig << (-shift) as u32
    } else if shift >= 128 {
        0 // far below half of the smallest subnormal
    } else {
        let kept = sig >> shift as u32;
        let dropped = sig & ((1u128 << shift as u32) - 1);
        let half = 1u128 << (shift - 1) as u32;
        if dropped > half || (dropped == half && kept & 1 == 1) {
            kept + 1
        } else {
            kept
        }
    };
    // m < 2^24 (or exactly 2^24 after a carry), its exponent exp + shift; the biased exponent
    // field minus one is exp + shift + 149, 0 for subnormals. Adding m carries into it exactly.
    let field = i64::from(exp) + i64::from(shift) + 149;
    let bits = (field << 23) + m as i64;
    if bits >= i64::from(EXP_MASK) {
        return F32(sign | EXP_MASK);
    }
    F32(sign | bits as u32)
}

/// What a value is, for the special cases of each operation.
enum Class {
    Nan,
    Inf(bool),
    Zero(bool),
    Finite(Finite),
}

impl F32 {
    /// The profile's one NaN: every operation that produces a NaN produces these bits.
    pub const NAN: F32 = F32(0x7fc0_0000);
    /// +∞.
    pub const INFINITY: F32 = F32(0x7f80_0000);
    /// −∞.
    pub const NEG_INFINITY: F32 = F32(0xff80_0000);
    /// +0.
    pub const ZERO: F32 = F32(0);
    /// 1.
    pub const ONE: F32 = F32(0x3f80_0000);

    /// The value with these bits.
    pub const fn from_bits(bits: u32) -> F32 {
        F32(bits)
    }

    /// The bits of the value.
    pub const fn to_bits(self) -> u32 {
        self.0
    }

    /// Whether this is a NaN (any payload).
    pub const fn is_nan(self) -> bool {
        self.0 & !SIGN > EXP_MASK
    }

    /// Whether this is +∞ or −∞.
    pub const fn is_infinite(self) -> bool {
        self.0 & !SIGN == EXP_MASK
    }

    /// Whether the sign bit is set (−0, negative values, NaNs with the sign bit).
    pub const fn is_sign_negative(self) -> bool {
        self.0 & SIGN != 0
    }

    fn class(self) -> Class {
        let neg = self.is_sign_negative();
        let field = (self.0 & EXP_MASK) >> 23;
        let mant = self.0 & MANT_MASK;
        match field {
            0xff if mant != 0 => Class::Nan,
            0xff => Class::Inf(neg),
            0 if mant == 0 => Class::Zero(neg),
            0 => Class::Finite(Finite { neg, exp: MIN_EXP, sig: u128::from(mant) }),
            _ => Class::Finite(Finite {
                neg,
                exp: field as i32 - 150,
                sig: u128::from(mant | 0x0080_0000),
            }),
        }
    }

    /// `|x|`: clears the sign bit (a bit operation, NaN payloads kept).
    pub const fn abs(self) -> F32 {
        F32(self.0 & !SIGN)
    }

    /// `x` with the sign of `sign` (a bit operation).
    pub const fn copysign(self, sign: F32) -> F32 {
        F32((self.0 & !SIGN) | (sign.0 & SIGN))
    }

    /// `a · b + c` with one rounding (IEEE fusedMultiplyAdd), as `f32::mul_add`.
    pub fn mul_add(self, b: F32, c: F32) -> F32 {
        let product = match (self.class(), b.class()) {
            (Class::Nan, _) | (_, Class::Nan) => return F32::NAN,
            (Class::Inf(_), Class::Zero(_)) | (Class::Zero(_), Class::Inf(_)) => return F32::NAN,
            (Class::Inf(x), Class::Inf(y))
            | (Class::Inf(x), Class::Finite(Finite { neg: y, .. }))
            | (Class::Finite(Finite { neg: x, .. }), Class::Inf(y)) => Class::Inf(x ^ y),
            (Class::Zero(x), Class::Zero(y))
            | (Class::Zero(x), Class::Finite(Finite { neg: y, .. }))
            | (Class::Finite(Finite { neg: x, .. }), Class::Zero(y)) => Class::Zero(x ^ y),
            (Class::Finite(x), Class::Finite(y)) => {
                Class::Finite(Finite { neg: x.neg ^ y.neg, exp: x.exp + y.exp, sig: x.sig * y.sig })
            }
        };
        sum(product, c.class())
    }

    /// `√x`, correctly rounded; `√−0 = −0`, negative inputs give NaN.
    pub fn sqrt(self) -> F32 {
        match self.class() {
            Class::Nan => F32::NAN,
            Class::Zero(_) => self,
            Class::Inf(false) => self,
            Class::Inf(true) => F32::NAN,
            Class::Finite(x) if x.neg => F32::NAN,
            Class::Finite(x) => {
                // sig · 2^exp with sig's top bit at 84 or 85 and exp even: √ has 43 bits.
                let mut x = x.normalized(84);
                if x.exp & 1 != 0 {
                    x.sig <<= 1;
                    x.exp -= 1;
                }
                let (root, exact) = isqrt(x.sig);
                round_pack(false, x.exp / 2, root | u128::from(!exact))
            }
        }
    }

    /// Rounds to an integral value, ties to even (IEEE roundToIntegralTiesToEven), keeping the
    /// sign (`−0.3 → −0`).
    pub fn round_ties_even(self) -> F32 {
        match self.class() {
            Class::Nan => F32::NAN,
            Class::Inf(_) | Class::Zero(_) => self,
            Class::Finite(x) if x.exp >= 0 => self,
            Class::Finite(x) => {
                let shift = (-x.exp) as u32;
                let kept = if shift > 25 { 0 } else { x.sig >> shift };
                let dropped = if shift > 25 { x.sig } else { x.sig & ((1 << shift) - 1) };
                let half = if shift > 25 { u128::MAX } else { 1 << (shift - 1) };
                let n = if dropped > half || (dropped == half && kept & 1 == 1) {
                    kept + 1
                } else {
                    kept
                };
                round_pack(x.neg, 0, n)
            }
        }
    }

    /// The larger of two values; a NaN operand gives the other one (IEEE maxNum, as
    /// `f32::max`), `max(+0, −0) = +0`.
    pub fn max(self, other: F32) -> F32 {
        self.pick(other, Ordering::Greater)
    }

    /// The smaller of two values; a NaN operand gives the other one, `min(+0, −0) = −0`.
    pub fn min(self, other: F32) -> F32 {
        self.pick(other, Ordering::Less)
    }

    fn pick(self, other: F32, want: Ordering) -> F32 {
        match (self.is_nan(), other.is_nan()) {
            (true, true) => F32::NAN,
            (true, false) => other,
            (false, true) => self,
            // Totally ordered keys put −0 below +0, which is the profile's choice for zeros.
            (false, false) if self.total_key().cmp(&other.total_key()) == want => self,
            (false, false) => other,
        }
    }

    /// A key whose integer order is the order of the values, with −0 just below +0.
    fn total_key(self) -> i64 {
        let magnitude = i64::from(self.0 & !SIGN);
        if self.is_sign_negative() {
            -magnitude - 1
        } else {
            magnitude
        }
    }

    /// IEEE equality: `+0 == −0`, a NaN equals nothing.
    pub fn ieee_eq(self, other: F32) -> bool {
        self.partial_cmp(&other) == Some(Ordering::Equal)
    }

    /// IEEE order: `None` when either is a NaN, zeros equal whatever their signs.
    pub fn partial_cmp(&self, other: &F32) -> Option<Ordering> {
        if self.is_nan() || other.is_nan() {
            return None;
        }
        if (self.0 | other.0) & !SIGN == 0 {
            return Some(Ordering::Equal);
        }
        Some(self.total_key().cmp(&other.total_key()))
    }

    /// `a < b` in IEEE order (false when either is a NaN).
    pub fn lt(self, other: F32) -> bool {
        self.partial_cmp(&other) == Some(Ordering::Less)
    }

    /// `a > b` in IEEE order (false when either is a NaN).
    pub fn gt(self, other: F32) -> bool {
        self.partial_cmp(&other) == Some(Ordering::Greater)
    }

    /// The nearest binary32 to `v` (ties to even), as `v as f32`.
    pub fn from_i64(v: i64) -> F32 {
        round_pack(v < 0, 0, u128::from(v.unsigned_abs()))
    }

    /// The nearest binary32 to `v` (ties to even), as `v as f32`.
    pub fn from_i32(v: i32) -> F32 {
        F32::from_i64(i64::from(v))
    }

    /// The nearest binary32 to `v` (ties to even), as `v as f32`.
    pub fn from_u64(v: u64) -> F32 {
        round_pack(false, 0, u128::from(v))
    }

    /// Truncates toward zero, saturating at the `i32` range, NaN to 0: as `x as i32`.
    pub fn to_i32(self) -> i32 {
        match self.class() {
            Class::Nan | Class::Zero(_) => 0,
            Class::Inf(neg) => {
                if neg {
                    i32::MIN
                } else {
                    i32::MAX
                }
            }
            Class::Finite(x) => {
                let magnitude = if x.exp >= 40 {
                    u128::MAX
                } else if x.exp >= 0 {
                    x.sig << x.exp as u32
                } else if x.exp > -128 {
                    x.sig >> (-x.exp) as u32
                } else {
                    0
                };
                let value = if x.neg {
                    -(magnitude.min(1 << 31) as i64)
                } else {
                    magnitude.min(1 << 31) as i64
                };
                value.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
            }
        }
    }
}

/// `x + y` for classified operands (used by `+`, `−` and fused multiply-add), one rounding.
fn sum(x: Class, y: Class) -> F32 {
    match (x, y) {
        (Class::Nan, _) | (_, Class::Nan) => F32::NAN,
        (Class::Inf(a), Class::Inf(b)) if a != b => F32::NAN,
        (Class::Inf(a), _) | (_, Class::Inf(a)) => {
            if a {
                F32::NEG_INFINITY
            } else {
                F32::INFINITY
            }
        }
        // Exact zero sums are +0 under round-to-nearest unless both addends are −0.
        (Class::Zero(a), Class::Zero(b)) => F32(if a && b { SIGN } else { 0 }),
        (Class::Zero(_), Class::Finite(v)) | (Class::Finite(v), Class::Zero(_)) => {
            round_pack(v.neg, v.exp, v.sig)
        }
        (Class::Finite(a), Class::Finite(b)) => {
            // Both with the top bit at 50, so the larger exponent is the larger magnitude.
            let (a, b) = (a.normalized(50), b.normalized(50));
            let (big, small) = if (a.exp, a.sig) >= (b.exp, b.sig) { (a, b) } else { (b, a) };
            let gap = (big.exp - small.exp) as u32;
            let (exp, big_sig, small_sig) = if gap <= 70 {
                (small.exp, big.sig << gap, small.sig) // exact, under 2^122
            } else {
                // small < 2^(big.exp − 19): below a quarter of the lowest kept bit, a sticky bit.
                (big.exp - 3, big.sig << 3, 1)
            };
            if big.neg == small.neg {
                round_pack(big.neg, exp, big_sig + small_sig)
            } else if big_sig == small_sig {
                F32::ZERO
            } else {
                round_pack(big.neg, exp, big_sig - small_sig)
            }
        }
    }
}

/// `(⌊√n⌋, whether exact)`, digit by digit.
fn isqrt(n: u128) -> (u128, bool) {
    let mut rem = n;
    let mut root = 0u128;
    let mut bit = 1u128 << 126;
    while bit > n {
        bit >>= 2;
    }
    while bit != 0 {
        if rem >= root + bit {
            rem -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    (root, rem == 0)
}

impl Add for F32 {
    type Output = F32;
    fn add(self, rhs: F32) -> F32 {
        sum(self.class(), rhs.class())
    }
}

impl Sub for F32 {
    type Output = F32;
    fn sub(self, rhs: F32) -> F32 {
        sum(self.class(), (-rhs).class())
    }
}

impl Neg for F32 {
    type Output = F32;
    /// Flips the sign bit (a bit operation, NaN payloads kept).
    fn neg(self) -> F32 {
        F32(self.0 ^ SIGN)
    }
}

impl Mul for F32 {
    type Output = F32;
    fn mul(self, rhs: F32) -> F32 {
        match (self.class(), rhs.class()) {
            (Class::Nan, _) | (_, Class::Nan) => F32::NAN,
            (Class::Inf(_), Class::Zero(_)) | (Class::Zero(_), Class::Inf(_)) => F32::NAN,
            (Class::Inf(_), _) | (_, Class::Inf(_)) => F32(EXP_MASK | ((self.0 ^ rhs.0) & SIGN)),
            (Class::Zero(_), _) | (_, Class::Zero(_)) => F32((self.0 ^ rhs.0) & SIGN),
            (Class::Finite(a), Class::Finite(b)) => {
                round_pack(a.neg ^ b.neg, a.exp + b.exp, a.sig * b.sig)
            }
        }
    }
}

impl Div for F32 {
    type Output = F32;
    fn div(self, rhs: F32) -> F32 {
        let sign = (self.0 ^ rhs.0) & SIGN;
        match (self.class(), rhs.class()) {
            (Class::Nan, _) | (_, Class::Nan) => F32::NAN,
            (Class::Inf(_), Class::Inf(_)) | (Class::Zero(_), Class::Zero(_)) => F32::NAN,
            (Class::Inf(_), _) | (_, Class::Zero(_)) => F32(EXP_MASK | sign),
            (Class::Zero(_), _) | (_, Class::Inf(_)) => F32(sign),
            (Class::Finite(a), Class::Finite(b)) => {
                // 24-bit divisor, dividend shifted to 88 bits: a quotient of 64 or 65 bits.
                let (a, b) = (a.normalized(87), b.normalized(23));
                let (q, r) = (a.sig / b.sig, a.sig % b.sig);
                round_pack(a.neg ^ b.neg, a.exp - b.exp, q | u128::from(r != 0))
            }
        }
    }
}

impl From<F32> for u32 {
    fn from(x: F32) -> u32 {
        x.0
    }
}
