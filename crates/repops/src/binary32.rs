//! [`Binary32`]: the operations the profile's definitions are written in, so that one generic
//! definition runs on soft [`F32`] (the contract's referee) and, with the `std` feature, on the
//! machine's `f32` (the trainer). Each operation is correctly rounded on both, so the same
//! definition gives the same bits.

use crate::F32;
use core::ops::{Add, Div, Mul, Neg, Sub};

/// An IEEE-754 binary32 type with the `repops` profile's operations.
pub trait Binary32:
    Copy
    + PartialEq
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    /// +0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// The profile's one NaN, `0x7fc00000`.
    const NAN: Self;
    /// +∞.
    const INFINITY: Self;
    /// −∞.
    const NEG_INFINITY: Self;
    /// The value with these bits.
    fn from_bits(bits: u32) -> Self;
    /// The bits of this value.
    fn to_bits(self) -> u32;
    /// `i` rounded to nearest, ties to even.
    fn from_i32(i: i32) -> Self;
    /// `self × a + b` with one rounding.
    fn mul_add(self, a: Self, b: Self) -> Self;
    /// Correctly rounded square root.
    fn sqrt(self) -> Self;
    /// The nearest integer, ties to even.
    fn round_ties_even(self) -> Self;
    /// `|self|` (a bit operation).
    fn abs(self) -> Self;
    /// `self` with the sign of `sign` (a bit operation).
    fn copysign(self, sign: Self) -> Self;
    /// Whether this is a NaN.
    fn is_nan(self) -> bool;
    /// IEEE `self < other` (false if either is a NaN).
    fn lt(self, other: Self) -> bool;
    /// IEEE `self > other` (false if either is a NaN).
    fn gt(self, other: Self) -> bool;
    /// The profile's maximum: a NaN operand gives the other one, two NaNs [`Binary32::NAN`],
    /// `max(+0, −0) = +0`. A total order on the rest, so any order of a reduction gives it.
    fn max(self, other: Self) -> Self;
    /// `v` rounded to nearest, ties to even.
    fn from_u64(v: u64) -> Self;
}

impl Binary32 for F32 {
    const ZERO: F32 = F32::ZERO;
    const ONE: F32 = F32::ONE;
    const NAN: F32 = F32::NAN;
    const INFINITY: F32 = F32::INFINITY;
    const NEG_INFINITY: F32 = F32::NEG_INFINITY;
    #[inline(always)]
    fn from_bits(bits: u32) -> F32 {
        F32(bits)
    }
    #[inline(always)]
    fn to_bits(self) -> u32 {
        self.0
    }
    #[inline(always)]
    fn from_i32(i: i32) -> F32 {
        F32::from_i32(i)
    }
    #[inline(always)]
    fn mul_add(self, a: F32, b: F32) -> F32 {
        F32::mul_add(self, a, b)
    }
    #[inline(always)]
    fn sqrt(self) -> F32 {
        F32::sqrt(self)
    }
    #[inline(always)]
    fn round_ties_even(self) -> F32 {
        F32::round_ties_even(self)
    }
    #[inline(always)]
    fn abs(self) -> F32 {
        F32::abs(self)
    }
    #[inline(always)]
    fn copysign(self, sign: F32) -> F32 {
        F32::copysign(self, sign)
    }
    #[inline(always)]
    fn is_nan(self) -> bool {
        F32::is_nan(self)
    }
    #[inline(always)]
    fn lt(self, other: F32) -> bool {
        F32::lt(self, other)
    }
    #[inline(always)]
    fn gt(self, other: F32) -> bool {
        F32::gt(self, other)
    }
    #[inline(always)]
    fn max(self, other: F32) -> F32 {
        F32::max(self, other)
    }
    #[inline(always)]
    fn from_u64(v: u64) -> F32 {
        F32::from_u64(v)
    }
}

/// The machine's binary32. Its NaN results keep the hardware's bits; the profile's
/// definitions return [`Binary32::NAN`] themselves at their early exits, and every value
/// written down is the one NaN (`step`'s chain values, the trainer's state).
#[cfg(feature = "std")]
impl Binary32 for f32 {
    const ZERO: f32 = 0.0;
    const ONE: f32 = 1.0;
    // Not `f32::NAN`, whose bits Rust does not promise.
    const NAN: f32 = f32::from_bits(0x7fc0_0000);
    const INFINITY: f32 = f32::INFINITY;
    const NEG_INFINITY: f32 = f32::NEG_INFINITY;
    #[inline(always)]
    fn from_bits(bits: u32) -> f32 {
        f32::from_bits(bits)
    }
    #[inline(always)]
    fn to_bits(self) -> u32 {
        f32::to_bits(self)
    }
    #[inline(always)]
    fn from_i32(i: i32) -> f32 {
        i as f32
    }
    #[inline(always)]
    fn mul_add(self, a: f32, b: f32) -> f32 {
        f32::mul_add(self, a, b)
    }
    #[inline(always)]
    fn sqrt(self) -> f32 {
        f32::sqrt(self)
    }
    #[inline(always)]
    fn round_ties_even(self) -> f32 {
        f32::round_ties_even(self)
    }
    #[inline(always)]
    fn abs(self) -> f32 {
        f32::abs(self)
    }
    #[inline(always)]
    fn copysign(self, sign: f32) -> f32 {
        f32::copysign(self, sign)
    }
    #[inline(always)]
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
    #[inline(always)]
    fn lt(self, other: f32) -> bool {
        self < other
    }
    #[inline(always)]
    fn gt(self, other: f32) -> bool {
        self > other
    }
    #[inline(always)]
    fn max(self, other: f32) -> f32 {
        match (self.is_nan(), other.is_nan()) {
            (true, true) => <f32 as Binary32>::NAN,
            (true, false) => other,
            (false, true) => self,
            // Equal values have equal bits but for ±0, whose AND is +0.
            (false, false) if self > other => self,
            (false, false) if other > self => other,
            (false, false) => f32::from_bits(self.to_bits() & other.to_bits()),
        }
    }
    #[inline(always)]
    fn from_u64(v: u64) -> f32 {
        v as f32
    }
}
