//! IEEE-754 binary32 arithmetic of the `repops` numerics profile in integer arithmetic only.
//!
//! pallet-contracts rejects Wasm floating-point instructions, so the contract that referees a
//! dispute recomputes the one disputed operation with [`F32`]: a binary32 value as its bits, with
//! every operation of the profile correctly rounded (round to nearest, ties to even; subnormals
//! kept) and the profile's fixed choices where IEEE-754 leaves one open (`REPOPS.md` §1): every
//! NaN an operation produces is [`F32::NAN`] (`0x7fc00000`), `max(+0, −0) = +0`,
//! `min(+0, −0) = −0`. [`functions`] holds the profile's transcendentals, defined once for any
//! [`Binary32`]: soft [`F32`], and the machine's `f32` with the `std` feature (the trainer's
//! path, `iollm_compute::repops`). [`merkle`] checks a committed value against a trace root as a
//! contract must. Bit-identity with hardware floats is tested on random and exhaustive inputs.
//!
//! Why our own soft float rather than a crate: the referee needs `+ − × /`, FMA, square root
//! and conversions, correctly rounded, with the profile's one NaN, in Wasm with no float type
//! anywhere. `rustc_apfloat` (LLVM's APFloat, which a DESIGN.md probe ran in an ink! contract)
//! has no square root, and its NaN results carry operand payloads as LLVM does, not one NaN;
//! `softfloat` (the `const_soft_float` fork) has no FMA and converts through native `f32`;
//! `machina-softfloat` (0.1) has every operation but is a new crate with a floating-point
//! environment (flags, rounding modes) the referee does not want. One rounding routine over
//! an exact `u128` significand is about 400 lines, tested against the hardware on all 2^32
//! inputs of every one-operand operation and hundreds of millions of random operands.
#![no_std]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod binary32;
pub mod commit;
mod float;
pub mod functions;
pub mod init;
pub mod merkle;
pub mod referee;
pub mod step;

pub use binary32::Binary32;
pub use float::F32;

/// Name of the numerics profile (`crates/compute/REPOPS.md`): written into every state header,
/// so a checkpoint or a game of another profile is refused.
pub const PROFILE: &str = "repops-v4";

/// `⌈a / b⌉` for `b > 0` (written out: the contracts' ink! linter builds with Rust 1.73, before
/// `div_ceil`).
pub fn ceil_div(a: u64, b: u64) -> u64 {
    a / b + (a % b).min(1)
}
