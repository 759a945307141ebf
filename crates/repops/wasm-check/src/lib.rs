//! Exports every [`F32`] operation and function on raw bits, so the Wasm module contains all of
//! their code and nothing else.
#![no_std]

use iollm_repops::{functions, F32};

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

macro_rules! export {
    ($($name:ident($($arg:ident),*) => $body:expr;)*) => {
        $(
            /// One operation on raw bits.
            #[no_mangle]
            pub extern "C" fn $name($($arg: u32),*) -> u32 {
                $(let $arg = F32($arg);)*
                u32::from($body)
            }
        )*
    };
}

export! {
    add(a, b) => a + b;
    sub(a, b) => a - b;
    mul(a, b) => a * b;
    div(a, b) => a / b;
    fma(a, b, c) => a.mul_add(b, c);
    sqrt(a) => a.sqrt();
    round_ties_even(a) => a.round_ties_even();
    max(a, b) => a.max(b);
    min(a, b) => a.min(b);
    lt(a, b) => F32(u32::from(a.lt(b)));
    exp(a) => functions::exp(a);
    ln(a) => functions::ln(a);
    tanh(a) => functions::tanh(a);
    rsqrt(a) => functions::rsqrt(a);
    gelu(a) => functions::gelu(a);
    gelu_grad(a) => functions::gelu_grad(a);
}

/// Conversions on raw integers.
#[no_mangle]
pub extern "C" fn from_i32(v: i32) -> u32 {
    F32::from_i32(v).to_bits()
}

/// Truncation to an integer.
#[no_mangle]
pub extern "C" fn to_i32(a: u32) -> i32 {
    F32(a).to_i32()
}
