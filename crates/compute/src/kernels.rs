//! Matrix multiply, the one hot kernel, in the `repops-v1` order.
//!
//! `C = A·B` (`A: m×k`, `B: k×n`) defines every output element as the FMA chain
//! `c = fma(a[i][k-1], b[k-1][j], … fma(a[i][0], b[0][j], +0.0))` — products taken in ascending
//! `p`, starting from `+0.0`, one rounding per step. Blocking, packing, SIMD width and the row
//! split across threads only decide *which elements are computed together* and where operands
//! are read from, never the order of the chain of one element, so every code path gives the
//! same bits.
//!
//! The layout is the one of BLIS/GotoBLAS: `B` is packed once into `KC × NR` panels, each
//! thread reads its rows of a row-major `A` where they are stored (a transposed `A` it packs
//! into `MR × KC` panels), and a register tile of `MR × NR` accumulators continues the chains
//! of its elements over one `KC` block of `p` at a time (blocks in ascending order; the next
//! block starts from the values the previous one left).
//! Packing also reads transposed operands ([`Stored::Transposed`]), so `A·Bᵀ` and `Aᵀ·B` never
//! build a transposed copy. Edge tiles are padded with zeros that only feed outputs which are
//! never stored.
//!
//! The SIMD paths are the same generic Rust code compiled inside functions that enable AVX-512F
//! or AVX2+FMA (`#[target_feature]`), picked by run-time CPU detection, with a tile shape that
//! fits each register file. Vector lanes hold *different* output columns, so no reduction is
//! ever reassociated.
//
// `unsafe` is allowed here, and only here, because calling a `#[target_feature]` function is
// unsafe: each call is guarded by `is_x86_feature_detected!` for exactly the features enabled.
#![allow(unsafe_code)]

use rayon::prelude::*;
use std::cell::Cell;
use std::thread::LocalKey;

/// Which instruction set the kernels use. All give identical bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Simd {
    /// Portable code; `mul_add` is the platform's correctly rounded `fmaf`.
    Scalar,
    /// AVX2 + FMA3 (x86-64).
    Avx2,
    /// AVX-512F (x86-64).
    Avx512,
}

impl Simd {
    /// The best level this CPU supports.
    pub fn detect() -> Simd {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("fma") {
                return Simd::Avx512;
            }
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                return Simd::Avx2;
            }
        }
        Simd::Scalar
    }

    /// `self` if this CPU supports it, else the best supported lower level.
    pub fn clamp_to_cpu(self) -> Simd {
        let best = Simd::detect();
        match (self, best) {
            (Simd::Scalar, _) => Simd::Scalar,
            (Simd::Avx2, Simd::Scalar) => Simd::Scalar,
            (Simd::Avx2, _) => Simd::Avx2,
            (Simd::Avx512, b) => b,
        }
    }
}

/// Defines `fn $name(simd: Simd, args…)` (with the given visibility) that runs `$body`
/// compiled with FMA enabled — with AVX-512F (`#[target_feature(enable = "avx512f,fma")]`) for `Simd::Avx512`, with
/// AVX2 + FMA for `Simd::Avx2` — when the CPU has it, else as portable code. Every lane does the
/// same IEEE operations whatever the vector width, and `mul_add` is the same correctly rounded
/// operation either way, so the result bits do not change.
macro_rules! fma_dispatch {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$m])*
        // The unsafe here is the target-feature call, guarded by run-time detection (see above).
        #[allow(unsafe_code)]
        $vis fn $name(simd: Simd, $($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn imp($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,fma")]
            unsafe fn avx512($($arg: $ty),*) $(-> $ret)? { imp($($arg),*) }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2($($arg: $ty),*) $(-> $ret)? { imp($($arg),*) }
            match simd.clamp_to_cpu() {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `clamp_to_cpu` is Avx512 only if avx512f and fma were detected.
                Simd::Avx512 => unsafe { avx512($($arg),*) },
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `clamp_to_cpu` is Avx2 only if avx2 and fma were detected.
                Simd::Avx2 => unsafe { avx2($($arg),*) },
                _ => imp($($arg),*),
            }
        }
    };
}
pub(crate) use fma_dispatch;

/// How an operand of [`gemm`] is stored (row-major either way).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    /// As the product uses it: `A` is stored `m×k`, `B` is stored `k×n`.
    Normal,
    /// Stored transposed: `A` as `k×m`, `B` as `n×k` (so `gemm` computes `Aᵀ·B` or `A·Bᵀ`
    /// of what is stored).
    Transposed,
}

/// Depth of one block of `p`: a `KC × NR` panel of packed `B` stays in L1 while the register
/// tiles of a row block stream past it.
const KC: usize = 256;
/// Most rows one task packs and computes at a time (packed `A` of `MC × KC` stays in L2).
const MC: usize = 128;
/// Rows of the AVX-512 register tile (`8 × 32` outputs: 16 of the 32 `zmm` registers). A
/// `12 × 32` tile compiles without spills but measured 8–20 % slower at the model's shapes.
const AVX512_MR: usize = 8;

/// `c = a·b` (overwrites `c`), `a: m×k`, `b: k×n`, all row-major and dense.
/// Rows of `c` are split across the current rayon pool when `parallel` is set.
pub fn matmul(
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    m: usize,
    k: usize,
    n: usize,
    simd: Simd,
    parallel: bool,
) {
    gemm(a, Stored::Normal, b, Stored::Normal, c, m, k, n, simd, parallel);
}

/// `c = a·b + bias` (overwrites `c`): [`matmul`], then `bias[j]` added to every element of
/// column `j` (one rounding, after the chain) as the tiles are stored, so `c` is written once.
#[allow(clippy::too_many_arguments)]
pub fn matmul_bias(
    a: &[f32],
    b: &[f32],
    bias: &[f32],
    c: &mut [f32],
    m: usize,
    k: usize,
    n: usize,
    simd: Simd,
    parallel: bool,
) {
    assert_eq!(bias.len(), n, "matmul_bias: bias does not hold n values");
    let (la, lb) = (Stored::Normal, Stored::Normal);
    product(Operands { a, la, b, lb, bias: Some(bias), m, k, n, simd }, c, parallel);
}

/// `c = op(a)·op(b)` (overwrites `c`, `m×n`): the product is `m×k` times `k×n`, and each operand
/// is stored as its [`Stored`] says. Same chain per element as [`matmul`], same bits.
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    a: &[f32],
    la: Stored,
    b: &[f32],
    lb: Stored,
    c: &mut [f32],
    m: usize,
    k: usize,
    n: usize,
    simd: Simd,
    parallel: bool,
) {
    product(Operands { a, la, b, lb, bias: None, m, k, n, simd }, c, parallel);
}

/// Checks the shapes and runs one product with the tile shape of its instruction set.
fn product(ops: Operands, c: &mut [f32], parallel: bool) {
    let Operands { a, b, m, k, n, .. } = ops;
    assert_eq!(a.len(), m * k, "gemm: a does not hold m·k values");
    assert_eq!(b.len(), k * n, "gemm: b does not hold k·n values");
    assert_eq!(c.len(), m * n, "gemm: c does not hold m·n values");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        c.fill(0.0);
        if let Some(bias) = ops.bias {
            for row in c.chunks_exact_mut(n) {
                for (v, b) in row.iter_mut().zip(bias) {
                    *v += *b;
                }
            }
        }
        return;
    }
    let ops = Operands { simd: ops.simd.clamp_to_cpu(), ..ops };
    match ops.simd {
        // The tile shape of `tile_avx512`.
        Simd::Avx512 => tiled::<AVX512_MR, 32>(&ops, c, parallel),
        Simd::Avx2 | Simd::Scalar => tiled::<4, 16>(&ops, c, parallel),
    }
}

/// The operands of one product and their shapes.
#[derive(Clone, Copy)]
struct Operands<'a> {
    a: &'a [f32],
    la: Stored,
    b: &'a [f32],
    lb: Stored,
    /// Added to each row of the product as it is stored.
    bias: Option<&'a [f32]>,
    m: usize,
    k: usize,
    n: usize,
    /// The instruction set (already clamped to the CPU), also used by the packing.
    simd: Simd,
}

thread_local! {
    static PACKED_A: Scratch = const { Cell::new(Vec::new()) };
    static PACKED_B: Scratch = const { Cell::new(Vec::new()) };
}

/// A thread's reusable scratch buffers: a stack, one buffer per nesting level (a thread that
/// waits inside a parallel region may run another task that wants the same kind of buffer).
pub(crate) type Scratch = Cell<Vec<Vec<f32>>>;

/// Runs `f` on one of this thread's scratch buffers of at least `len` floats. Buffers are kept
/// and reused across calls, so packing does not allocate after the first steps; a buffer holds
/// whatever its last user left in it.
pub(crate) fn with_scratch<R>(
    key: &'static LocalKey<Scratch>,
    len: usize,
    f: impl FnOnce(&mut [f32]) -> R,
) -> R {
    let mut stack = key.take();
    let mut buf = stack.pop().unwrap_or_default();
    key.set(stack);
    if buf.len() < len {
        buf.resize(len, 0.0);
    }
    let out = f(&mut buf[..len]);
    let mut stack = key.take();
    stack.push(buf);
    key.set(stack);
    out
}

/// Packs all of `B` (`[p block][column panel][p][NR]`), then computes row blocks of `C`.
fn tiled<const MR: usize, const NR: usize>(ops: &Operands, c: &mut [f32], parallel: bool) {
    let (m, k, n) = (ops.m, ops.k, ops.n);
    let panels = n.div_ceil(NR);
    with_scratch(&PACKED_B, k * panels * NR, |packed_b| {
        let block_len = KC * panels * NR;
        if parallel {
            packed_b.par_chunks_mut(block_len).enumerate().for_each(|(blk, dst)| {
                let kc = KC.min(k - blk * KC);
                dst.par_chunks_mut(kc * NR)
                    .enumerate()
                    .for_each(|(jp, panel)| pack_b_panel::<NR>(ops, blk * KC, jp * NR, panel))
            });
        } else {
            for (blk, dst) in packed_b.chunks_mut(block_len).enumerate() {
                let kc = KC.min(k - blk * KC);
                for (jp, panel) in dst.chunks_mut(kc * NR).enumerate() {
                    pack_b_panel::<NR>(ops, blk * KC, jp * NR, panel);
                }
            }
        }
        let packed_b: &[f32] = packed_b;
        let rows_per_task = if parallel {
            m.div_ceil(2 * rayon::current_num_threads())
                .next_multiple_of(MR)
                .clamp(MR, MC / MR * MR)
        } else {
            MC / MR * MR
        };
        let task = |(t, rows): (usize, &mut [f32])| {
            row_block::<MR, NR>(ops, packed_b, t * rows_per_task, rows);
        };
        if parallel && m > rows_per_task {
            c.par_chunks_mut(rows_per_task * n).enumerate().for_each(task);
        } else {
            c.chunks_mut(rows_per_task * n).enumerate().for_each(task);
        }
    });
}

/// Packs rows `p0..p0+kc` and columns `j0..j0+NR` of `B` into one panel (`[p][NR]`, columns
/// past `n` zero; `kc` is the panel's length / `NR`).
fn pack_b_panel<const NR: usize>(ops: &Operands, p0: usize, j0: usize, panel: &mut [f32]) {
    let (k, n) = (ops.k, ops.n);
    let kc = panel.len() / NR;
    let cols = NR.min(n - j0);
    match ops.lb {
        Stored::Normal => {
            for (p, row) in panel.chunks_exact_mut(NR).enumerate() {
                copy_prefix::<NR>(row, &ops.b[(p0 + p) * n + j0..], cols);
            }
        }
        Stored::Transposed => {
            // Groups of 8 columns of the panel are 8 rows of the stored `B`: 8×8 transposes.
            let groups = if cols == NR && NR.is_multiple_of(8) { NR / 8 } else { 0 };
            for g in 0..groups {
                let rows: [&[f32]; 8] =
                    std::array::from_fn(|j| &ops.b[(j0 + g * 8 + j) * k + p0..][..kc]);
                transpose_8_rows(ops.simd, rows, &mut panel[g * 8..], NR);
            }
            for j in groups * 8..cols {
                let col = &ops.b[(j0 + j) * k + p0..][..kc];
                for (p, &v) in col.iter().enumerate() {
                    panel[p * NR + j] = v;
                }
            }
        }
    }
    if cols < NR {
        panel.chunks_exact_mut(NR).for_each(|row| row[cols..].fill(0.0));
    }
}

/// `dst[..len] = src[..len]` where `len` is at most `W`, the width of a tile: a full width
/// is a fixed-size copy the compiler turns into a few vector moves, not a `memcpy` call.
#[inline(always)]
fn copy_prefix<const W: usize>(dst: &mut [f32], src: &[f32], len: usize) {
    if len == W {
        let dst: &mut [f32; W] = (&mut dst[..W]).try_into().expect("W values");
        *dst = src[..W].try_into().expect("W values");
    } else {
        dst[..len].copy_from_slice(&src[..len]);
    }
}

/// Packs rows `r0..r0+rows` of `A`, columns `p0..p0+kc`, into row panels (`[panel][p][MR]`,
/// rows past the block zero).
fn pack_a<const MR: usize>(
    ops: &Operands,
    r0: usize,
    rows: usize,
    p0: usize,
    kc: usize,
    dst: &mut [f32],
) {
    for (ip, panel) in dst.chunks_exact_mut(kc * MR).enumerate() {
        let i0 = r0 + ip * MR;
        let mr = MR.min(r0 + rows - i0);
        match ops.la {
            Stored::Normal => {
                for i in 0..mr {
                    let row = &ops.a[(i0 + i) * ops.k + p0..][..kc];
                    for (p, &v) in row.iter().enumerate() {
                        panel[p * MR + i] = v;
                    }
                }
            }
            Stored::Transposed => {
                for (p, col) in panel.chunks_exact_mut(MR).enumerate() {
                    copy_prefix::<MR>(col, &ops.a[(p0 + p) * ops.m + i0..], mr);
                }
            }
        }
        if mr < MR {
            panel.chunks_exact_mut(MR).for_each(|col| col[mr..].fill(0.0));
        }
    }
}

/// `dst[p·stride + i] = rows[i][p]` for 8 rows of equal length: the transpose that packing a
/// transposed `B` needs (and the interleaved row sums of `ops`), done in 8×8 blocks in
/// registers when the CPU has AVX. Exact data movement, no arithmetic.
pub(crate) fn transpose_8_rows(simd: Simd, rows: [&[f32]; 8], dst: &mut [f32], stride: usize) {
    let len = rows[0].len();
    let mut p = 0;
    #[cfg(target_arch = "x86_64")]
    if simd != Simd::Scalar {
        while p + 8 <= len {
            let block = rows.map(|r| -> &[f32; 8] { r[p..p + 8].try_into().expect("8 values") });
            let out = &mut dst[p * stride..][..7 * stride + 8];
            // SAFETY: `gemm` clamps `simd` to the CPU: Avx2 and Avx512 both imply AVX.
            unsafe { transpose_8x8_avx(block, out, stride) };
            p += 8;
        }
    }
    let _ = simd;
    for p in p..len {
        for (i, row) in rows.iter().enumerate() {
            dst[p * stride + i] = row[p];
        }
    }
}

/// One 8×8 block of [`transpose_8_rows`]: 8 loads, 24 shuffles, 8 stores.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn transpose_8x8_avx(rows: [&[f32; 8]; 8], dst: &mut [f32], stride: usize) {
    use std::arch::x86_64::*;
    // SAFETY: each row holds 8 floats, one unaligned 256-bit load.
    let r = rows.map(|row| unsafe { _mm256_loadu_ps(row.as_ptr()) });
    let t = [
        _mm256_unpacklo_ps(r[0], r[1]),
        _mm256_unpackhi_ps(r[0], r[1]),
        _mm256_unpacklo_ps(r[2], r[3]),
        _mm256_unpackhi_ps(r[2], r[3]),
        _mm256_unpacklo_ps(r[4], r[5]),
        _mm256_unpackhi_ps(r[4], r[5]),
        _mm256_unpacklo_ps(r[6], r[7]),
        _mm256_unpackhi_ps(r[6], r[7]),
    ];
    let s = [
        _mm256_shuffle_ps::<0x44>(t[0], t[2]),
        _mm256_shuffle_ps::<0xEE>(t[0], t[2]),
        _mm256_shuffle_ps::<0x44>(t[1], t[3]),
        _mm256_shuffle_ps::<0xEE>(t[1], t[3]),
        _mm256_shuffle_ps::<0x44>(t[4], t[6]),
        _mm256_shuffle_ps::<0xEE>(t[4], t[6]),
        _mm256_shuffle_ps::<0x44>(t[5], t[7]),
        _mm256_shuffle_ps::<0xEE>(t[5], t[7]),
    ];
    for q in 0..4 {
        let lo = _mm256_permute2f128_ps::<0x20>(s[q], s[q + 4]);
        let hi = _mm256_permute2f128_ps::<0x31>(s[q], s[q + 4]);
        // SAFETY: each destination is sliced to 8 floats, one unaligned 256-bit store.
        unsafe {
            _mm256_storeu_ps(dst[q * stride..][..8].as_mut_ptr(), lo);
            _mm256_storeu_ps(dst[(q + 4) * stride..][..8].as_mut_ptr(), hi);
        }
    }
}

/// Computes rows `r0..` of `C` (`c` holds whole rows) against the packed `B`.
fn row_block<const MR: usize, const NR: usize>(
    ops: &Operands,
    packed_b: &[f32],
    r0: usize,
    c: &mut [f32],
) {
    let rows = c.len() / ops.n;
    let len = rows.div_ceil(MR) * KC.min(ops.k) * MR;
    with_scratch(&PACKED_A, len, |packed_a| match ops.simd {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `gemm` picks Avx512 only when `clamp_to_cpu` detected avx512f and fma.
        Simd::Avx512 => unsafe { row_block_avx512(ops, packed_b, r0, c, packed_a) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `gemm` picks Avx2 only when `clamp_to_cpu` detected avx2 and fma.
        Simd::Avx2 => unsafe { row_block_avx2::<MR, NR>(ops, packed_b, r0, c, packed_a) },
        _ => row_block_generic::<MR, NR>(ops, packed_b, r0, c, packed_a, |a, b, acc| {
            tile::<MR, NR>(a, b, acc)
        }),
    });
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn row_block_avx512(
    ops: &Operands,
    packed_b: &[f32],
    r0: usize,
    c: &mut [f32],
    packed_a: &mut [f32],
) {
    // SAFETY: this function is only entered with avx512f and fma detected.
    row_block_generic::<AVX512_MR, 32>(ops, packed_b, r0, c, packed_a, |a, b, acc| unsafe {
        tile_avx512(a, b, acc)
    })
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn row_block_avx2<const MR: usize, const NR: usize>(
    ops: &Operands,
    packed_b: &[f32],
    r0: usize,
    c: &mut [f32],
    packed_a: &mut [f32],
) {
    row_block_generic::<MR, NR>(ops, packed_b, r0, c, packed_a, |a, b, acc| {
        tile::<MR, NR>(a, b, acc)
    })
}

#[inline(always)]
fn row_block_generic<const MR: usize, const NR: usize>(
    ops: &Operands,
    packed_b: &[f32],
    r0: usize,
    c: &mut [f32],
    packed_a: &mut [f32],
    kernel: impl Fn(APanel, &[f32], &mut [[f32; NR]; MR]),
) {
    let (k, n) = (ops.k, ops.n);
    let rows = c.len() / n;
    let panels = n.div_ceil(NR);
    // Whole tiles of a row-major `A` are read where it is stored: packing them would transpose
    // every element once per product, which costs as much as the FMAs when `n` is small; only a
    // last, partial tile is packed (padded with zero rows). A transposed `A` is packed: its
    // panels are plain copies, and in place its rows lie a whole stored row apart, which
    // measured slower.
    let in_place = ops.la == Stored::Normal;
    let whole = rows / MR * MR;
    for p0 in (0..k).step_by(KC) {
        let kc = KC.min(k - p0);
        let packed_a = &mut packed_a[..rows.div_ceil(MR) * kc * MR];
        if !in_place {
            pack_a::<MR>(ops, r0, rows, p0, kc, packed_a);
        } else if whole < rows {
            pack_a::<MR>(ops, r0 + whole, rows - whole, p0, kc, &mut packed_a[..kc * MR]);
        }
        let a_panel = |i0: usize| -> APanel {
            if !in_place {
                APanel { a: &packed_a[i0 / MR * kc * MR..][..kc * MR], rs: 1, ps: MR, kc }
            } else if i0 < whole {
                APanel { a: &ops.a[(r0 + i0) * k + p0..], rs: k, ps: 1, kc }
            } else {
                APanel { a: &packed_a[..kc * MR], rs: 1, ps: MR, kc }
            }
        };
        let b_block = &packed_b[p0 * panels * NR..][..kc * panels * NR];
        for (jp, b_panel) in b_block.chunks_exact(kc * NR).enumerate() {
            let j0 = jp * NR;
            let cols = NR.min(n - j0);
            for i0 in (0..rows).step_by(MR) {
                let mr = MR.min(rows - i0);
                let mut acc = [[0.0f32; NR]; MR];
                if p0 > 0 {
                    for (i, row) in acc.iter_mut().enumerate().take(mr) {
                        copy_prefix::<NR>(row, &c[(i0 + i) * n + j0..], cols);
                    }
                }
                kernel(a_panel(i0), b_panel, &mut acc);
                match (ops.bias, p0 + kc == k) {
                    (Some(bias), true) => {
                        let bias = &bias[j0..j0 + cols];
                        for (i, row) in acc.iter().enumerate().take(mr) {
                            let dst = &mut c[(i0 + i) * n + j0..][..cols];
                            for ((d, v), b) in dst.iter_mut().zip(row).zip(bias) {
                                *d = *v + *b;
                            }
                        }
                    }
                    _ => {
                        for (i, row) in acc.iter().enumerate().take(mr) {
                            copy_prefix::<NR>(&mut c[(i0 + i) * n + j0..], row, cols);
                        }
                    }
                }
            }
        }
    }
}

/// The `A` side of one register tile: element `(i, p)` (row `i < MR` of the tile, `p < kc`
/// of the block) is `a[i·rs + p·ps]` — a packed panel (`rs = 1`, `ps = MR`) or `A` in place.
#[derive(Clone, Copy)]
struct APanel<'a> {
    a: &'a [f32],
    rs: usize,
    ps: usize,
    kc: usize,
}

impl APanel<'_> {
    /// Checks that every element of an `mr`-row tile lies inside `a` (the tiles index
    /// unchecked).
    #[inline(always)]
    fn assert_holds(&self, mr: usize) {
        assert!(self.kc > 0 && (mr - 1) * self.rs + (self.kc - 1) * self.ps < self.a.len());
    }
}

/// One `MR×NR` register tile: continues the FMA chain of each element over the `kc` products of
/// an `A` panel and a packed `B` panel (`[p][NR]`).
#[inline(always)]
fn tile<const MR: usize, const NR: usize>(a: APanel, b: &[f32], acc: &mut [[f32; NR]; MR]) {
    a.assert_holds(MR);
    let mut r = *acc;
    for (p, bp) in b.chunks_exact(NR).take(a.kc).enumerate() {
        let bp: &[f32; NR] = bp.try_into().expect("NR values");
        let ap: [f32; MR] = std::array::from_fn(|i| a.a[i * a.rs + p * a.ps]);
        for (row, av) in r.iter_mut().zip(ap) {
            for (x, &bv) in row.iter_mut().zip(bp) {
                *x = av.mul_add(bv, *x);
            }
        }
    }
    *acc = r;
}

/// [`tile`] for `MR×32` with AVX-512 intrinsics: `2·MR` accumulator registers, two `B` loads
/// and `MR` broadcasts of `A` per step of `p`; `_mm512_fmadd_ps` rounds once, like `mul_add`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn tile_avx512<const MR: usize>(a: APanel, b: &[f32], acc: &mut [[f32; 32]; MR]) {
    use std::arch::x86_64::*;
    a.assert_holds(MR);
    assert!(b.len() >= a.kc * 32);
    let mut r = [[_mm512_setzero_ps(); 2]; MR];
    for (ri, row) in r.iter_mut().zip(acc.iter()) {
        // SAFETY: `row` holds 32 floats: two unaligned 16-float loads stay inside it.
        unsafe {
            ri[0] = _mm512_loadu_ps(row.as_ptr());
            ri[1] = _mm512_loadu_ps(row.as_ptr().add(16));
        }
    }
    let rows: [*const f32; MR] = std::array::from_fn(|i| a.a[i * a.rs..].as_ptr());
    for p in 0..a.kc {
        // SAFETY: `b` holds `kc` rows of 32 floats (asserted), read as two 16-float vectors.
        let (b0, b1) = unsafe {
            let bp = b.as_ptr().add(p * 32);
            (_mm512_loadu_ps(bp), _mm512_loadu_ps(bp.add(16)))
        };
        for (ri, row) in r.iter_mut().zip(rows) {
            // SAFETY: `assert_holds(MR)`: `i·rs + p·ps < a.len()` for every row `i`, `p < kc`.
            let av = _mm512_set1_ps(unsafe { *row.add(p * a.ps) });
            ri[0] = _mm512_fmadd_ps(av, b0, ri[0]);
            ri[1] = _mm512_fmadd_ps(av, b1, ri[1]);
        }
    }
    for (ri, row) in r.iter().zip(acc.iter_mut()) {
        // SAFETY: as for the loads.
        unsafe {
            _mm512_storeu_ps(row.as_mut_ptr(), ri[0]);
            _mm512_storeu_ps(row.as_mut_ptr().add(16), ri[1]);
        }
    }
}

/// `out = aᵀ` for row-major `a: rows×cols` (exact, no arithmetic).
pub fn transpose(a: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    const BS: usize = 16;
    let mut out = vec![0.0f32; a.len()];
    for i0 in (0..rows).step_by(BS) {
        for j0 in (0..cols).step_by(BS) {
            for i in i0..(i0 + BS).min(rows) {
                for j in j0..(j0 + BS).min(cols) {
                    out[j * rows + i] = a[i * cols + j];
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s % 2001) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn matmul_bias_is_the_product_then_one_add() {
        for &(m, k, n) in &[(1, 1, 1), (9, 64, 96), (33, 17, 70), (130, 520, 37), (7, 0, 3)] {
            let (a, b, bias) = (fill(m * k, 3), fill(k * n, 4), fill(n, 5));
            let mut want = vec![0.0; m * n];
            matmul(&a, &b, &mut want, m, k, n, Simd::Scalar, false);
            for row in want.chunks_mut(n) {
                for (v, bb) in row.iter_mut().zip(&bias) {
                    *v += *bb;
                }
            }
            for simd in [Simd::Scalar, Simd::Avx2, Simd::Avx512] {
                for parallel in [false, true] {
                    let mut c = vec![f32::NAN; m * n];
                    matmul_bias(&a, &b, &bias, &mut c, m, k, n, simd, parallel);
                    let same = c.iter().zip(&want).all(|(x, y)| x.to_bits() == y.to_bits());
                    assert!(same, "{simd:?} parallel={parallel} differs at {m}x{k}x{n}");
                }
            }
        }
    }

    #[test]
    fn every_path_and_layout_gives_the_same_bits_as_the_definition() {
        for &(m, k, n) in &[
            (1, 1, 1),
            (5, 7, 33),
            (9, 64, 96),
            (33, 17, 70),
            (64, 64, 256),
            (13, 300, 40),
            (130, 520, 37),
            (7, 0, 3),
        ] {
            let a = fill(m * k, 1);
            let b = fill(k * n, 2);
            let mut want = vec![0.0; m * n];
            for i in 0..m {
                for j in 0..n {
                    let mut s = 0.0f32;
                    for p in 0..k {
                        s = a[i * k + p].mul_add(b[p * n + j], s);
                    }
                    want[i * n + j] = s;
                }
            }
            let at = transpose(&a, m, k);
            let bt = transpose(&b, k, n);
            for simd in [Simd::Scalar, Simd::Avx2, Simd::Avx512] {
                for parallel in [false, true] {
                    for (la, lb) in [
                        (Stored::Normal, Stored::Normal),
                        (Stored::Transposed, Stored::Normal),
                        (Stored::Normal, Stored::Transposed),
                        (Stored::Transposed, Stored::Transposed),
                    ] {
                        let aa = if la == Stored::Normal { &a } else { &at };
                        let bb = if lb == Stored::Normal { &b } else { &bt };
                        let mut c = vec![f32::NAN; m * n];
                        gemm(aa, la, bb, lb, &mut c, m, k, n, simd, parallel);
                        let same = c.iter().zip(&want).all(|(x, y)| x.to_bits() == y.to_bits());
                        assert!(
                            same,
                            "{simd:?} parallel={parallel} {la:?}/{lb:?} differs at {m}x{k}x{n}"
                        );
                    }
                }
            }
        }
    }
}
