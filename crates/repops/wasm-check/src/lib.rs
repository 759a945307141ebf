//! Exports every [`F32`] operation and function on raw bits, and the step program's chain step
//! (what the referee recomputes) and a chunk of the initial state, so the Wasm module contains
//! all of their code and nothing else.
#![no_std]

extern crate alloc;

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicUsize, Ordering};
use iollm_repops::commit::ElementProof;
use iollm_repops::merkle::{Hash, Hasher};
use iollm_repops::referee::{self, Input, Leaf};
use iollm_repops::step::{self, StepConfig, Tensor};
use iollm_repops::{functions, F32};

/// A bump allocator over a static arena (never frees), as a contract's is: the step program is a
/// `Vec` of ops.
struct Bump {
    arena: UnsafeCell<[u8; 1 << 20]>,
    next: AtomicUsize,
}

// SAFETY: Wasm here is single-threaded; `next` hands out disjoint ranges of the arena.
unsafe impl Sync for Bump {}

// SAFETY: every range handed out is inside the arena, aligned, and never handed out twice.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let base = self.arena.get() as usize;
        let start = (base + self.next.load(Ordering::Relaxed)).next_multiple_of(layout.align());
        let end = start + layout.size();
        if end > base + (1 << 20) {
            return core::ptr::null_mut();
        }
        self.next.store(end - base, Ordering::Relaxed);
        start as *mut u8
    }
    unsafe fn dealloc(&self, _: *mut u8, _: Layout) {}
}

#[global_allocator]
static ALLOC: Bump = Bump { arena: UnsafeCell::new([0; 1 << 20]), next: AtomicUsize::new(0) };

extern "C" {
    /// The host's input element (`tensor` 0 state, 1 header, 2 corpus, 3 + i op `i`).
    fn input(tensor: u32, index: u32) -> u32;
    /// The host's SHA-256 of `len` bytes at `data`, written to `out`.
    fn sha256(data: *const u8, len: u32, out: *mut u8);
}

/// SHA-256 from the host, as a contract's `hash_bytes`.
struct HostSha;

impl Hasher for HostSha {
    fn hash(parts: &[&[u8]]) -> Hash {
        let bytes: alloc::vec::Vec<u8> = parts.concat();
        let mut out = [0u8; 32];
        // SAFETY: a host import reading `len` bytes from a live buffer and writing 32.
        unsafe { sha256(bytes.as_ptr(), bytes.len() as u32, out.as_mut_ptr()) };
        out
    }
}

/// The referee's replay of one chain step with one proven input of the output of op `op`
/// (root, path and chunk at fixed addresses a host would fill): the Merkle checks and the soft
/// float step together.
#[no_mangle]
pub extern "C" fn referee_replay(n_embd: u32, op: u32, e: u32, pos: u32, acc: u64) -> u64 {
    let prog = step::program(&config(n_embd));
    let leaf = Leaf {
        program: &prog,
        agreed_root: [0; 32],
        op: op as usize,
        element: e as usize,
        pos: pos as usize,
        acc,
        corpus: ([0; 32], 1 << 16),
    };
    let element =
        ElementProof { index: u64::from(e), chunk: alloc::vec![0; 4], path: alloc::vec![[0; 32]] };
    let inputs = [Input::Op { op: 0, root: [0; 32], path: alloc::vec![[0; 32]], element }];
    referee::replay::<F32, HostSha>(&leaf, &inputs).unwrap_or(u64::MAX)
}

/// A 2-layer, 2-head model of width `n_embd` with decay: every kind of op in its program.
fn config(n_embd: u32) -> StepConfig {
    StepConfig {
        n_layer: 2,
        n_head: 2,
        n_embd: n_embd as usize,
        n_ctx: 16,
        batch: 4,
        corpus_len: 1 << 16,
        lr: 0x3b44_9ba6,
        beta1: 0x3f66_6666,
        beta2: 0x3f7d_70a4,
        eps: 0x322b_cc77,
        weight_decay: 0x3c23_d70a,
        warmup_steps: 2,
    }
}

/// Chain step `pos` of element `e` of op `op` of the step program of [`config`] — every kind
/// of op's definition, on soft floats.
#[no_mangle]
pub extern "C" fn chain_step(n_embd: u32, op: u32, e: u32, pos: u32, acc: u64) -> u64 {
    let prog = step::program(&config(n_embd));
    let read = |t: Tensor, i: usize| {
        let tensor = match t {
            Tensor::State => 0,
            Tensor::Header => 1,
            Tensor::Corpus => 2,
            Tensor::Op(k) => 3 + k as u32,
        };
        // SAFETY: a plain host import taking and returning integers.
        unsafe { input(tensor, i as u32) }
    };
    prog.ops[op as usize].chain_step::<F32>(e as usize, pos as usize, acc, &read)
}

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

/// The word `w` of chunk `c` of the initial state of a model of width `n_embd` (what an
/// initial game's referee recomputes).
#[no_mangle]
pub extern "C" fn initial_chunk_word(n_embd: u32, seed: u64, c: u64, w: u32) -> u32 {
    let layout = step::ParamLayout::new(&config(n_embd));
    let chunk = iollm_repops::init::chunk::<F32>(&layout, seed, c).unwrap_or_default();
    chunk.get(w as usize).copied().unwrap_or(0)
}
