//! Matrix multiply, the one hot kernel, in the `repops-v4` order.
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
//! never stored. [`gemm_strided`] reads operands with gaps between rows (one attention head's
//! columns) and leaves out the work a causal mask makes zero ([`Causal`]).
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

/// An operand read where it is stored: row `r` of the stored row-major matrix starts at
/// `data[r·ld]` (`ld` is at least the stored row length), stored as `stored` says. Lets a
/// product read one head's columns out of a wider matrix without copying them out.
#[derive(Clone, Copy, Debug)]
pub struct Mat<'a> {
    /// The stored values, from the first element of the first row.
    pub data: &'a [f32],
    /// Distance between the starts of two stored rows.
    pub ld: usize,
    /// Whether the product uses the stored matrix or its transpose.
    pub stored: Stored,
}

/// Work a product leaves out because a causal mask makes it zero or unwanted (attention).
/// Rows go by groups of [`CAUSAL_GROUP`] (`g = ⌊i/8⌋` for row `i`), so what is left out does
/// not depend on the tile shape, and every instruction set gives the same bits.
///
/// For an `A` that is zero on the masked side, the terms left out are `fma(±0, b, acc)`; with
/// a finite `b` each of them returns `acc` (`acc + ±0`, and `+0 + ±0 = +0`; a chain from `+0`
/// that takes only such terms stays `+0`), so the result is then the full chain's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Causal {
    /// Every output, every term.
    No,
    /// Outputs `(i, j)` with `j > i` may be left unwritten.
    LowerOutputs,
    /// The chain of row `i` ends after term `p = 8g + 7` (for `A` zero at `p > i`).
    LowerA,
    /// The chain of row `i` starts at term `p = 8g` (for `A` zero at `p < i`; needs `m ≤ k`).
    UpperA,
}

/// The rows [`Causal`] treats alike: a multiple of every tile's row count, so a tile never
/// holds rows of two groups.
pub const CAUSAL_GROUP: usize = 8;
const _: () = assert!(CAUSAL_GROUP.is_multiple_of(AVX512_MR) && CAUSAL_GROUP.is_multiple_of(4));
const _: () = assert!(MC.is_multiple_of(CAUSAL_GROUP));

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
    let (a, b) = dense(a, Stored::Normal, b, Stored::Normal, c, m, k, n);
    let ops = Operands { a, b, ldc: n, bias: Some(bias), m, k, n, causal: Causal::No, simd };
    product(ops, c, parallel);
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
    let (a, b) = dense(a, la, b, lb, c, m, k, n);
    if parallel && la == Stored::Transposed && lb == Stored::Normal && n > m {
        // A weight gradient `xᵀ·dy` with fewer rows than columns: each row task would stream
        // all of the larger packed `B`. `cᵀ = bᵀ·aᵀ` packs the smaller operand as `B` instead,
        // then one transpose stores it. Same bits: each element is the same chain of `fma`s,
        // whose two factors only trade places.
        return with_scratch(&PRODUCT_T, m * n, |ct| {
            let (a, b) = (b.transposed(), a.transposed());
            let ops =
                Operands { a, b, ldc: m, bias: None, m: n, k, n: m, causal: Causal::No, simd };
            product(ops, ct, parallel);
            transpose_into(simd, ct, n, m, c);
        });
    }
    product(Operands { a, b, ldc: n, bias: None, m, k, n, causal: Causal::No, simd }, c, parallel);
}

/// The operands of a product of dense matrices, after checking that each holds exactly its
/// matrix.
#[allow(clippy::too_many_arguments)]
fn dense<'a>(
    a: &'a [f32],
    la: Stored,
    b: &'a [f32],
    lb: Stored,
    c: &[f32],
    m: usize,
    k: usize,
    n: usize,
) -> (Mat<'a>, Mat<'a>) {
    assert_eq!(a.len(), m * k, "gemm: a does not hold m·k values");
    assert_eq!(b.len(), k * n, "gemm: b does not hold k·n values");
    assert_eq!(c.len(), m * n, "gemm: c does not hold m·n values");
    let ld = |stored, rows, cols| if stored == Stored::Normal { cols } else { rows };
    (Mat { data: a, ld: ld(la, m, k), stored: la }, Mat { data: b, ld: ld(lb, k, n), stored: lb })
}

/// `c = op(a)·op(b)` with every operand where it is stored: row `i` of the `m×n` result is
/// `c[i·ldc..i·ldc + n]` (the rest of `c` is not touched), `a` and `b` as their [`Mat`] says,
/// leaving out what `causal` allows. Serial (attention runs many of these side by side).
/// Same chain per element as [`matmul`], same bits (for finite operands where `causal`
/// leaves terms out).
#[allow(clippy::too_many_arguments)]
pub fn gemm_strided(
    a: Mat,
    b: Mat,
    c: &mut [f32],
    ldc: usize,
    m: usize,
    k: usize,
    n: usize,
    causal: Causal,
    simd: Simd,
) {
    product(Operands { a, b, ldc, bias: None, m, k, n, causal, simd }, c, false);
}

impl Mat<'_> {
    /// The same stored values read as the transpose of this operand.
    fn transposed(self) -> Self {
        let stored = match self.stored {
            Stored::Normal => Stored::Transposed,
            Stored::Transposed => Stored::Normal,
        };
        Mat { stored, ..self }
    }

    /// Checks that the operand holds a `rows×cols` matrix (as the product uses it).
    fn check(&self, rows: usize, cols: usize, name: &str) {
        let (r, c) = if self.stored == Stored::Normal { (rows, cols) } else { (cols, rows) };
        assert!(self.ld >= c, "gemm: {name}'s rows are {} apart, fewer than {c}", self.ld);
        if r > 0 && c > 0 {
            let need = (r - 1) * self.ld + c;
            assert!(self.data.len() >= need, "gemm: {name} holds fewer than {need} values");
        }
    }

    /// Index in `data` of element `(r, j)` of what is stored.
    #[inline(always)]
    fn at(&self, r: usize, j: usize) -> usize {
        r * self.ld + j
    }
}

/// Checks the shapes and runs one product with the tile shape of its instruction set.
fn product(ops: Operands, c: &mut [f32], parallel: bool) {
    let Operands { m, k, n, ldc, .. } = ops;
    ops.a.check(m, k, "a");
    ops.b.check(k, n, "b");
    assert!(ldc >= n, "gemm: c's rows are {ldc} apart, fewer than {n}");
    assert!(ops.bias.is_none() || ops.causal == Causal::No, "gemm: a bias needs every term");
    assert!(ops.causal != Causal::UpperA || m <= k, "gemm: Causal::UpperA needs m ≤ k");
    // Row groups line up with tiles only when tasks start at multiples of `MC`.
    assert!(ops.causal == Causal::No || !parallel, "gemm: a causal product runs serially");
    if m == 0 || n == 0 {
        return;
    }
    let len = (m - 1) * ldc + n;
    assert!(c.len() >= len, "gemm: c holds fewer than {len} values");
    let c = &mut c[..len];
    if k == 0 {
        for row in c.chunks_mut(ldc) {
            row[..n].fill(0.0);
            if let Some(bias) = ops.bias {
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
    a: Mat<'a>,
    b: Mat<'a>,
    /// Distance between the starts of two rows of `C`.
    ldc: usize,
    /// Added to each row of the product as it is stored.
    bias: Option<&'a [f32]>,
    m: usize,
    k: usize,
    n: usize,
    /// What the causal mask lets the product leave out.
    causal: Causal,
    /// The instruction set (already clamped to the CPU), also used by the packing.
    simd: Simd,
}

thread_local! {
    static PACKED_A: Scratch = const { Cell::new(Vec::new()) };
    static PACKED_B: Scratch = const { Cell::new(Vec::new()) };
    static PRODUCT_T: Scratch = const { Cell::new(Vec::new()) };
}

/// A thread's reusable scratch buffers: a stack, one buffer per nesting level (a thread that
/// waits inside a parallel region may run another task that wants the same kind of buffer).
pub(crate) type Scratch = Cell<Vec<Vec<f32>>>;

/// Runs `f` on `len` floats of one of this thread's scratch buffers, starting on a 64-byte cache
/// line. Buffers are kept and reused across calls, so packing does not allocate after the first
/// steps; a buffer holds whatever its last user left in it.
pub(crate) fn with_scratch<R>(
    key: &'static LocalKey<Scratch>,
    len: usize,
    f: impl FnOnce(&mut [f32]) -> R,
) -> R {
    let mut stack = key.take();
    let mut buf = stack.pop().unwrap_or_default();
    key.set(stack);
    // Aligned, a 512-bit load of packed `B` never spans two lines: 2–5 % faster products.
    const LINE: usize = 64 / std::mem::size_of::<f32>();
    if buf.len() < len + LINE {
        buf.resize(len + LINE, 0.0);
    }
    let skip = buf.as_ptr().align_offset(64).min(LINE);
    let out = f(&mut buf[skip..skip + len]);
    let mut stack = key.take();
    stack.push(buf);
    key.set(stack);
    out
}

/// Packs all of `B` (`[p block][column panel][p][NR]`), then computes row blocks of `C`.
fn tiled<const MR: usize, const NR: usize>(ops: &Operands, c: &mut [f32], parallel: bool) {
    let (m, k) = (ops.m, ops.k);
    let panels = ops.n.div_ceil(NR);
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
            c.par_chunks_mut(rows_per_task * ops.ldc).enumerate().for_each(task);
        } else {
            c.chunks_mut(rows_per_task * ops.ldc).enumerate().for_each(task);
        }
    });
}

/// Packs rows `p0..p0+kc` and columns `j0..j0+NR` of `B` into one panel (`[p][NR]`, columns
/// past `n` zero; `kc` is the panel's length / `NR`).
fn pack_b_panel<const NR: usize>(ops: &Operands, p0: usize, j0: usize, panel: &mut [f32]) {
    let b = &ops.b;
    let kc = panel.len() / NR;
    let cols = NR.min(ops.n - j0);
    match b.stored {
        Stored::Normal => {
            for (p, row) in panel.chunks_exact_mut(NR).enumerate() {
                copy_prefix::<NR>(row, &b.data[b.at(p0 + p, j0)..], cols);
            }
        }
        Stored::Transposed => {
            // Groups of 8 columns of the panel are 8 rows of the stored `B`: 8×8 transposes.
            let groups = if cols == NR && NR.is_multiple_of(8) { NR / 8 } else { 0 };
            for g in 0..groups {
                let rows: [&[f32]; 8] =
                    std::array::from_fn(|j| &b.data[b.at(j0 + g * 8 + j, p0)..][..kc]);
                transpose_8_rows(ops.simd, rows, &mut panel[g * 8..], NR);
            }
            for j in groups * 8..cols {
                let col = &b.data[b.at(j0 + j, p0)..][..kc];
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
        let a = &ops.a;
        match a.stored {
            Stored::Normal => {
                for i in 0..mr {
                    let row = &a.data[a.at(i0 + i, p0)..][..kc];
                    for (p, &v) in row.iter().enumerate() {
                        panel[p * MR + i] = v;
                    }
                }
            }
            Stored::Transposed => {
                for (p, col) in panel.chunks_exact_mut(MR).enumerate() {
                    copy_prefix::<MR>(col, &a.data[a.at(p0 + p, i0)..], mr);
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
    let rows = (c.len() + ops.ldc - ops.n) / ops.ldc;
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
    let (k, n, ldc) = (ops.k, ops.n, ops.ldc);
    let rows = (c.len() + ldc - n) / ldc;
    let panels = n.div_ceil(NR);
    // Whole tiles of a row-major `A` are read where it is stored: packing them would transpose
    // every element once per product, which costs as much as the FMAs when `n` is small; only a
    // last, partial tile is packed (padded with zero rows). A transposed `A` is packed: its
    // panels are plain copies, and in place its rows lie a whole stored row apart, which
    // measured slower.
    let in_place = ops.a.stored == Stored::Normal;
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
                APanel { a: &ops.a.data[ops.a.at(r0 + i0, p0)..], rs: ops.a.ld, ps: 1, kc }
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
                // The terms `start..end` of this tile's chains, of which this block holds
                // `lo..hi` (all of it without a causal mask). Tiles start at multiples of
                // their row count from `r0`, a multiple of `MC`: one group per tile.
                let (first, last) = (r0 + i0, r0 + i0 + mr - 1);
                let group = first / CAUSAL_GROUP * CAUSAL_GROUP;
                let (start, end) = match ops.causal {
                    Causal::LowerOutputs if j0 > last => continue,
                    Causal::No | Causal::LowerOutputs => (0, k),
                    Causal::LowerA => (0, k.min(group + CAUSAL_GROUP)),
                    Causal::UpperA => (group, k),
                };
                let (lo, hi) = (start.max(p0), end.min(p0 + kc));
                if lo >= hi {
                    continue;
                }
                let mut acc = [[0.0f32; NR]; MR];
                if start < p0 {
                    for (i, row) in acc.iter_mut().enumerate().take(mr) {
                        copy_prefix::<NR>(row, &c[(i0 + i) * ldc + j0..], cols);
                    }
                }
                let a = a_panel(i0);
                let a = APanel { a: &a.a[(lo - p0) * a.ps..], kc: hi - lo, ..a };
                kernel(a, &b_panel[(lo - p0) * NR..], &mut acc);
                match (ops.bias, p0 + kc == k) {
                    (Some(bias), true) => {
                        let bias = &bias[j0..j0 + cols];
                        for (i, row) in acc.iter().enumerate().take(mr) {
                            let dst = &mut c[(i0 + i) * ldc + j0..][..cols];
                            for ((d, v), b) in dst.iter_mut().zip(row).zip(bias) {
                                *d = *v + *b;
                            }
                        }
                    }
                    _ => {
                        for (i, row) in acc.iter().enumerate().take(mr) {
                            copy_prefix::<NR>(&mut c[(i0 + i) * ldc + j0..], row, cols);
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
    // `black_box` hides that the row addresses are evenly spaced: seeing it, LLVM walks from
    // row to row with a chain of dependent adds (8 per step of `p`, as long as the FMAs take)
    // instead of keeping one base register per row.
    let rows: [*const f32; MR] =
        std::hint::black_box(std::array::from_fn(|i| a.a[i * a.rs..].as_ptr()));
    let step = |r: &mut [[__m512; 2]; MR], p: usize| {
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
    };
    for p in 0..a.kc {
        step(&mut r, p);
    }
    for (ri, row) in r.iter().zip(acc.iter_mut()) {
        // SAFETY: as for the loads.
        unsafe {
            _mm512_storeu_ps(row.as_mut_ptr(), ri[0]);
            _mm512_storeu_ps(row.as_mut_ptr().add(16), ri[1]);
        }
    }
}

/// Columns one task of [`matvec`] computes together: 8 AVX2 (4 AVX-512) accumulators.
const MATVEC_COLS: usize = 64;

/// `y = x·b` for one row `x` (`k` values) and a row-major `b: k×n`: the same chain per element
/// as [`matmul`], computed by columns, so a row gets the same bits alone (decoding one token)
/// as inside a product of many rows. Blocks of columns are split across the current rayon
/// pool when `parallel` is set: unlike [`gemm`], which splits rows, this keeps every thread
/// busy for a single row, and reads `b` once without packing it.
pub fn matvec(x: &[f32], b: &[f32], y: &mut [f32], k: usize, n: usize, simd: Simd, parallel: bool) {
    assert_eq!(x.len(), k, "matvec: x does not hold k values");
    assert_eq!(b.len(), k * n, "matvec: b does not hold k·n values");
    assert_eq!(y.len(), n, "matvec: y does not hold n values");
    let simd = simd.clamp_to_cpu();
    let threads = if parallel { rayon::current_num_threads() } else { 1 };
    let per_task = n.div_ceil(threads * 4).div_ceil(MATVEC_COLS).max(1) * MATVEC_COLS;
    let task = |(t, ys): (usize, &mut [f32])| matvec_columns(simd, x, b, n, t * per_task, ys);
    if parallel {
        y.par_chunks_mut(per_task).enumerate().for_each(task);
    } else {
        y.chunks_mut(per_task).enumerate().for_each(task);
    }
}

fma_dispatch! {
    /// `y[j − j0] = Σ_p x[p]·b[p][j]` (one FMA chain per column, ascending `p`, from `+0`) for
    /// the columns `j0..j0 + y.len()` of `b` (rows `n` apart).
    fn matvec_columns(x: &[f32], b: &[f32], n: usize, j0: usize, y: &mut [f32]) {
        let mut chunks = y.chunks_exact_mut(MATVEC_COLS);
        let mut j = j0;
        for out in &mut chunks {
            let mut acc = [0.0f32; MATVEC_COLS];
            for (p, &xv) in x.iter().enumerate() {
                let row: &[f32; MATVEC_COLS] =
                    b[p * n + j..p * n + j + MATVEC_COLS].try_into().expect("a full block");
                for (a, w) in acc.iter_mut().zip(row) {
                    *a = xv.mul_add(*w, *a);
                }
            }
            out.copy_from_slice(&acc);
            j += MATVEC_COLS;
        }
        for (c, out) in chunks.into_remainder().iter_mut().enumerate() {
            let mut acc = 0.0f32;
            for (p, &xv) in x.iter().enumerate() {
                acc = xv.mul_add(b[p * n + j + c], acc);
            }
            *out = acc;
        }
    }
}

/// `out = aᵀ` for row-major `a: rows×cols` (exact, no arithmetic).
pub fn transpose(a: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; a.len()];
    transpose_into(Simd::detect(), a, rows, cols, &mut out);
    out
}

/// `out = aᵀ` for row-major `a: rows×cols` into `out: cols×rows`, 8×8 blocks at a time, blocks
/// of 8 rows of `out` split across the current rayon pool (exact, no arithmetic).
fn transpose_into(simd: Simd, a: &[f32], rows: usize, cols: usize, out: &mut [f32]) {
    assert_eq!(a.len(), rows * cols, "transpose: a does not hold rows·cols values");
    assert_eq!(out.len(), a.len(), "transpose: out does not hold rows·cols values");
    let (simd, out_row) = (simd.clamp_to_cpu(), rows.max(1));
    out.par_chunks_mut(8 * out_row).enumerate().for_each(|(blk, dst)| {
        // Rows `j0..j0 + w` of `out` are columns `j0..j0 + w` of `a`.
        let (j0, w) = (blk * 8, dst.len() / out_row);
        let whole = if w == 8 { rows / 8 * 8 } else { 0 };
        for i0 in (0..whole).step_by(8) {
            let src = std::array::from_fn(|i| &a[(i0 + i) * cols + j0..][..8]);
            transpose_8_rows(simd, src, &mut dst[i0..], rows);
        }
        for i in whole..rows {
            for j in 0..w {
                dst[j * rows + i] = a[i * cols + j0 + j];
            }
        }
    });
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
    fn a_row_by_columns_gives_the_bits_of_the_product_of_many_rows() {
        for (m, k, n) in [(5, 576, 1536), (3, 7, 200), (9, 64, 64), (1, 1, 1), (4, 33, 63)] {
            let (a, b) = (fill(m * k, 1), fill(k * n, 2));
            let mut want = vec![0.0; m * n];
            matmul(&a, &b, &mut want, m, k, n, Simd::detect(), true);
            for simd in [Simd::Scalar, Simd::Avx2, Simd::Avx512] {
                for parallel in [false, true] {
                    for i in 0..m {
                        let mut y = vec![f32::NAN; n];
                        matvec(&a[i * k..][..k], &b, &mut y, k, n, simd, parallel);
                        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                        assert_eq!(bits(&y), bits(&want[i * n..][..n]), "{simd:?} {m}x{k}x{n}");
                    }
                }
            }
        }
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
    fn strided_and_causal_products_give_the_bits_of_the_dense_definition() {
        for &(m, k, n) in &[(5, 7, 33), (9, 300, 40), (33, 300, 70), (64, 64, 256), (130, 520, 37)]
        {
            let (lda, ldb, ldc) = (k + m + 3, k + n + 5, n + 7);
            for causal in [Causal::No, Causal::LowerOutputs, Causal::LowerA, Causal::UpperA] {
                // `A` with the zeros the mode promises (of both signs), as the product uses it.
                let mut a = fill(m * k, 6);
                for (i, row) in a.chunks_mut(k).enumerate() {
                    for (p, v) in row.iter_mut().enumerate() {
                        let zero = match causal {
                            Causal::LowerA => p > i,
                            Causal::UpperA => p < i,
                            _ => false,
                        };
                        if zero {
                            *v = if (i + p) % 3 == 0 { -0.0 } else { 0.0 };
                        }
                    }
                }
                let b = fill(k * n, 7);
                let mut want = vec![0.0; m * n];
                matmul(&a, &b, &mut want, m, k, n, Simd::Scalar, false);
                for (la, lb) in
                    [(Stored::Normal, Stored::Transposed), (Stored::Transposed, Stored::Normal)]
                {
                    // Stored with gaps: `A` (or `Aᵀ`) rows `lda` apart, `B` (or `Bᵀ`) `ldb` apart.
                    let (ar, ac) = if la == Stored::Normal { (m, k) } else { (k, m) };
                    let (br, bc) = if lb == Stored::Normal { (k, n) } else { (n, k) };
                    let mut sa = vec![f32::NAN; ar * lda];
                    let mut sb = vec![f32::NAN; br * ldb];
                    for i in 0..m {
                        for p in 0..k {
                            let at = if la == Stored::Normal { i * lda + p } else { p * lda + i };
                            sa[at] = a[i * k + p];
                        }
                    }
                    for p in 0..k {
                        for j in 0..n {
                            let at = if lb == Stored::Normal { p * ldb + j } else { j * ldb + p };
                            sb[at] = b[p * n + j];
                        }
                    }
                    let (sa, sb) = (&sa[..(ar - 1) * lda + ac], &sb[..(br - 1) * ldb + bc]);
                    for simd in [Simd::Scalar, Simd::Avx2, Simd::Avx512] {
                        let mut c = vec![-7.0f32; m * ldc];
                        let a = Mat { data: sa, ld: lda, stored: la };
                        let b = Mat { data: sb, ld: ldb, stored: lb };
                        gemm_strided(a, b, &mut c, ldc, m, k, n, causal, simd);
                        for i in 0..m {
                            for j in 0..ldc {
                                let got = c[i * ldc + j];
                                if j >= n {
                                    assert_eq!(got, -7.0, "{causal:?} wrote past row {i}'s end");
                                } else if causal != Causal::LowerOutputs || j <= i {
                                    let w = want[i * n + j];
                                    assert_eq!(
                                        got.to_bits(),
                                        w.to_bits(),
                                        "{simd:?} {causal:?} {la:?}/{lb:?} at ({i}, {j}) of {m}x{k}x{n}"
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn causal_products_leave_out_the_same_terms_on_every_path_even_for_infinities() {
        // Infinities in `B` meet masked zeros of `A`: `0·inf` is NaN where a term is taken,
        // so every path must take exactly the terms the row groups say.
        let (m, k, n) = (64, 300, 45);
        let mut a = fill(m * k, 8);
        for (i, row) in a.chunks_mut(k).enumerate() {
            row.iter_mut().enumerate().filter(|(p, _)| *p != i).for_each(|(_, v)| *v = 0.0);
        }
        let mut b = fill(k * n, 9);
        // Rows 49 and 53: inside the group of rows 48..56 but outside half of it, where a
        // tile of 4 rows would end or start.
        for p in [49, 53] {
            b[p * n..(p + 1) * n].iter_mut().step_by(2).for_each(|v| *v = f32::INFINITY);
        }
        for causal in [Causal::LowerA, Causal::UpperA] {
            let run = |simd| {
                let mut c = vec![0.0; m * n];
                let (a, b) = dense(&a, Stored::Normal, &b, Stored::Normal, &c, m, k, n);
                gemm_strided(a, b, &mut c, n, m, k, n, causal, simd);
                c.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            };
            let want = run(Simd::Scalar);
            assert!(want.iter().any(|v| f32::from_bits(*v).is_nan()), "the test needs NaNs");
            assert!(want.iter().any(|v| f32::from_bits(*v).is_finite()), "and finite values");
            for simd in [Simd::Avx2, Simd::Avx512] {
                assert_eq!(run(simd), want, "{simd:?} {causal:?} took other terms");
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
