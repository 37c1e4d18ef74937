// SPDX-License-Identifier: MIT
// evit's own register-blocked xsimd GEMMs, in the two forms elastic layers need:
//   gemm_nt  C = A · Bᵀ, both operands contiguous along the reduction (linear layers: X · Wᵀ with
//            W a row-major [out_max, in_max] slice; no packing, no workspace);
//   gemm_nn  C = A · B, B contiguous along the output columns (1x1 convolutions W · X on NCHW
//            images, attention P · V; workspace only for the ragged right edge).
// Both fuse the epilogue of kernels/epilogue.hpp. Read kernels/linear.hpp next.
//
// Why not Eigen's GEMM (docs/design.md#why-evit-has-its-own-gemm): Eigen 3.4 heap-allocates
// its blocking buffers on every product, and it packs (copies and transposes) the weight slice
// on every call, which at
// ElasticViT's token counts (N = 4..256) costs as much as the product itself. Both forms here
// read the operands in place through (pointer, leading dimension) views:
//   * gemm_nt vectorises along the reduction: an MR x L tile of accumulators (MR tokens times L
//     weight rows, L = lanes) is reduced by one transposing horizontal add into L contiguous
//     outputs per token, so a weight slice is read directly from the supernet buffer.
//   * gemm_nn broadcasts A (the weights, read in place) against K x (NV*L) panels of B (the
//     activations), each copied once into a small workspace (read in place where the reduction
//     is short), with an MR x (NV*L) register tile.
//     Its tiles take B's rows through an accessor (strided_rows, or table_rows: conv2d's taps,
//     each a run of the input read in place), and linear_packed runs them on packed weights.
// Neither blocks the reduction dimension: ElasticViT's widest reduction is 1920 (the head), so a
// whole reduction fits in L2, and an unsplit reduction lets the epilogue run exactly once.
#pragma once

#include <algorithm>
#include <tuple>
#include <type_traits>
#include <utility>

#include <xsimd/xsimd.hpp>

#include "evit/core/index.hpp"
#include "evit/kernels/activation.hpp"
#include "evit/kernels/epilogue.hpp"
#include "evit/simd/arch.hpp"
#include "evit/simd/compat.hpp"
#include "evit/simd/isa.hpp"
#include "evit/simd/namespace.hpp"

/// Full unrolling of the register-tile loops, so that arrays of batches become registers.
#if defined(__clang__)
#define EVIT_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define EVIT_UNROLL _Pragma("GCC unroll 32")
#else
#define EVIT_UNROLL
#endif

/// Whether unrolled() unrolls in the source, its calls forced inline: in optimised builds. In
/// unoptimised or sanitised builds it is a plain loop (the same operations: the same results),
/// since there the unrolled form only costs compile time and memory (an AddressSanitizer build of
/// an ISA unit took over twice the time and 3x the memory with it).
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define EVIT_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define EVIT_SANITIZED 1
#endif
#if defined(__GNUC__) && defined(__OPTIMIZE__) && !defined(EVIT_SANITIZED)
#define EVIT_UNROLL_IN_SOURCE 1
#define EVIT_ALWAYS_INLINE __attribute__((always_inline))
#else
#define EVIT_UNROLL_IN_SOURCE 0
#define EVIT_ALWAYS_INLINE
#endif

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace kernels {

/// Several matrices of the same shape at a fixed distance from each other, e.g. the token maps
/// or images of the samples of a batch, each in its own buffer: matrix g of an input x starts at
/// x + g * x_stride, of an output y at y + g * y_stride (linear_packed, pointwise_conv_small).
struct row_groups {
  Index count = 1;
  Index x_stride = 0;
  Index y_stride = 0;
};

/// Register-tile sizes of the GEMMs for element type T on Arch (compile-time: the only non-type
/// template parameters outside space/, docs/design.md#compile-time-kinds-run-time-sizes).
template <class T, class Arch>
struct gemm_tiles {
  static constexpr int lanes = static_cast<int>(simd::lanes_v<T, Arch>);
  static constexpr int regs = simd::vector_registers_v<Arch>;
  /// gemm_nt: a tile of nt_tm tokens x nt_tn weight rows: nt_tm * nt_tn accumulators (at least
  /// 12 with 16 registers: FMA latency 4 x 2 FMAs per cycle needs 8 independent chains, and 12
  /// leave slack) plus nt_tm + 1 operand registers. Tokens share every weight load and weights
  /// every token load, which keeps the loop FMA-bound rather than load-bound.
  static constexpr int nt_tn = lanes >= 16 ? 8 : 4;
  static constexpr int nt_tm = regs >= 32 ? (lanes >= 16 ? 2 : 4) : 3;
  /// gemm_nt prefetches the weight rows ahead only when each row's run (K elements) is at most
  /// this long: with 1-4 tokens, rows of <= 176 floats ran 10-25% faster with the prefetch and
  /// rows of >= 1088 floats 15-25% slower (the head's 1248-1984, where the hardware streams
  /// suffice); 384 floats (1.5 KiB) sits between (bench_kernels: head_batched, linear_sliced).
  static constexpr int nt_prefetch_max_k = 1536 / static_cast<int>(sizeof(T));
  /// gemm_nn: rows per tile and vectors per row (accumulators: nn_mr * nn_nv). Six rows; eight
  /// on AVX-512, whose 32 registers hold 8 x 2 accumulators with room to spare: the spaces'
  /// channel counts are multiples of 8, so 32, 48, 80, 96 rows run in whole 8-row tiles instead
  /// of 6- and 5-row ones (Zen 4: whole forwards 0.95-0.995 of the 6-row time, README). NEON's
  /// 32 registers of 4 lanes were not measured and keep six. Not 12 on AVX-512: on a Zen 4 the
  /// 6-row tile ran linear_packed_panels at 0.95-0.97 and pointwise_conv at 0.94-0.96 of the
  /// 12-row tile's time, and run_subnet at 0.89-1.00 (batch 1 and 8).
  static constexpr int nn_nv = 2;
  static constexpr int nn_mr = lanes >= 16 ? 8 : 6;
  static constexpr int nn_nr = nn_nv * lanes;
  /// gemm_nn's last panel when it is at most one vector wide: rows per tile of one vector.
  static constexpr int nn_narrow_mr = regs >= 32 ? 28 : 12;
  /// Of n columns run in nn_nr-wide panels, how many form a last panel of at most one vector,
  /// run in the one-vector tile (else 0).
  static constexpr Index nn_narrow_tail(Index n) { return n % nn_nr <= lanes ? n % nn_nr : 0; }
  /// linear_packed streams its packed weights from memory once per product (the head at
  /// batch 8, every layer at batch 1): the first row tile of its first panel prefetches that
  /// panel this many rows ahead (64 rows of 32 floats: 8 KiB; a one-off stream of 62 panels of
  /// 1632 x 32 floats with an 8-row tile ran 0.68x the time with it, 0.80x at 16 rows ahead),
  /// and the tiles of every panel request the next one (detail::line_stream).
  static constexpr int nn_prefetch_rows = 64;
  /// linear_packed with 4 to 2 * nn_mr rows (the head and squeeze-excite at batch 4-12) runs
  /// each panel in blocks of this many rows of its weights, every row tile on a block before
  /// the next, and requests the lines nn_block_ahead rows past the block while it computes.
  /// The whole panel per tile left the memory idle while the second and later tiles reread it
  /// from L2: the head at batch 8 took 0.65-0.75x the time blocked (Zen 2: 128 and 128; 64 or
  /// 256 rows per block, or two panels at once, were no faster).
  static constexpr int nn_block_k = 128;
  static constexpr int nn_block_ahead = 128;
  /// ... when the reduction is at least this long (a panel of 128 KiB of floats or more, read
  /// from memory): with 4 rows of 320 the blocks ran 1.07-1.09x the time (the weights in cache).
  static constexpr int nn_block_min_k = 1024;
  /// linear_packed with 1 to nn_few_rows_max rows: vectors per tile, spanning several panels
  /// where a panel has fewer (8-20 independent accumulators instead of 2-10).
  static constexpr int nn_few_rows_nv(int rows) {
    return rows == 1 ? 8 : (rows == 2 || regs >= 32) ? 4 : 2;
  }
  /// ... up to this many rows: 3, and 5 on AVX-512 (4 x 4 and 5 x 4 vectors in its 32
  /// registers; elastic_T1's last stage has 4 tokens). Zen 4, one panel-packed product of C =
  /// 96 or 320 inputs and 4C outputs, weights in cache, best of 9 runs: 4 rows 0.62 -> 0.75 of
  /// the FMA peak at C = 96 and 0.48 -> 0.53 at 320, 5 rows 0.86 -> 0.89-0.95.
  static constexpr int nn_few_rows_max = regs >= 32 && lanes >= 16 ? 5 : 3;
  /// gemm_nn reads B's panels in place, without the copy, when the reduction is at most this
  /// long (the MBConv expansions from 16-32 channels): so few rows a plane apart stay within
  /// the TLB, and the copy was a tenth of the product (Zen 2, AVX2: pointwise_conv 16 -> 48 at
  /// 112 x 112 and 32 -> 96 at 56 x 56 in 0.96-0.97 of the time; 24 -> 144 0.98-0.99; from 48
  /// channels on 1.00-1.01).
  static constexpr int nn_in_place_max_k = 32;
  /// ... except where more than 8 of those rows fall in one L1 set (rows a multiple of 4 KiB
  /// apart: planes of 32 x 32, 64 x 64, 96 x 96, 128 x 128) and evict each other between the
  /// row tiles: then the panel is copied. On 256- and 512-bit vectors, where it was measured to
  /// pay. AVX-512 on a Zen 5: pointwise_conv 16 -> 80 at 128 x 128 and 32 -> 160 at 64 x 64 in
  /// 0.49-0.55 of the time, run_subnet elastic_L3 batch 1 0.91. AVX2 on the same Zen 5:
  /// pointwise_conv on these planes 0.57-0.79, run_subnet T1 batch 8, L3 batch 1 and 8, L2
  /// batch 1, L1 and S1 batch 8 0.93-0.97 (medians of 5-12 rounds); on a Zen 2 an earlier form
  /// (more than 16 rows) ran L3 batch 1 in 1.02x the time, T1 batch 8 in 0.99x. Not measured
  /// on 128-bit vectors (SSE2, NEON), which read such panels in place.
  static constexpr bool nn_copy_set_aliased = lanes * sizeof(T) >= 32;
};

namespace detail {

/// f(std::integral_constant<int, I>{}) for I = 0 .. N - 1, unrolled in the source: a register
/// tile indexed only by these constants stays in registers. With loops unrolled by pragma the
/// compiler kept gemm_nn's accumulator array in memory (zeroed on the stack before the
/// reduction, stored after it and reloaded by the epilogue: 48 vector stores per 6 x 4 tile, a
/// third of the tile's time at a reduction of 16, perf annotate).
template <class F, int... I>
EVIT_ALWAYS_INLINE inline void unrolled_impl(F& f, std::integer_sequence<int, I...>) {
  (f(std::integral_constant<int, I>{}), ...);
}
template <int N, class F>
EVIT_ALWAYS_INLINE inline void unrolled(F&& f) {
#if EVIT_UNROLL_IN_SOURCE
  unrolled_impl(f, std::make_integer_sequence<int, N>{});
#else
  for (int i = 0; i < N; ++i) f(i);
#endif
}

// ---- gemm_nt ---------------------------------------------------------------------------------

/// One TM x TN tile of gemm_nt at token rows `arow` and weight rows `brow` (pointers clamped to
/// valid rows past the edges: the tile recomputes them and stores only mvalid x nvalid results).
/// `cbp` is the column-bias pattern of the tile (cbp[t * TN + r] = col_bias[j + r]).
template <class Arch, int TM, int TN, activation Act, class T>
inline void nt_tile(Index K, const T* const* arow, const T* const* brow, T* c, Index ldc, Index i,
                    Index mvalid, Index nvalid, const T* cbp, const epilogue<T>& ep,
                    Index prefetch_offset = 0) noexcept {
  using B = xsimd::batch<T, Arch>;
  constexpr int L = static_cast<int>(B::size);
  constexpr int NA = TM * TN, G = (NA + L - 1) / L;
  B acc[NA];
  EVIT_UNROLL
  for (int q = 0; q < NA; ++q) acc[q] = B(T(0));
  Index k = 0;
  for (; k < K - K % L; k += L) {
    B av[TM];
    EVIT_UNROLL
    for (int t = 0; t < TM; ++t) av[t] = B::load_unaligned(arow[t] + k);
    EVIT_UNROLL
    for (int r = 0; r < TN; ++r) {
      if (prefetch_offset) simd::prefetch(brow[r] + prefetch_offset + k);
      B bv = B::load_unaligned(brow[r] + k);
      simd::pin_register(bv);
      EVIT_UNROLL
      for (int t = 0; t < TM; ++t) acc[t * TN + r] = simd::fma(av[t], bv, acc[t * TN + r]);
    }
  }
  alignas(64) T out[G * L];
  for (int g = 0; g < G; ++g) {
    // A copy, so that `acc` itself never has its address taken and stays in registers; the last
    // group is padded with zeros when the tile is not a multiple of the lanes.
    B grp[L];
    EVIT_UNROLL
    for (int q = 0; q < L; ++q) grp[q] = g * L + q < NA ? acc[g * L + q] : B(T(0));
    simd::transpose_add(grp).store_aligned(out + g * L);
  }
  if (k < K) {  // reduction tail: fewer than L elements
    for (int t = 0; t < TM; ++t)
      for (int r = 0; r < TN; ++r) {
        T s = T(0);
        for (Index kk = k; kk < K; ++kk) s += arow[t][kk] * brow[r][kk];
        out[t * TN + r] += s;
      }
  }
  // Epilogue on whole vectors of the flat (token, row) tile, then one contiguous copy per token.
  alignas(64) T rsp[G * L], rbp[G * L], cin[G * L];
  if (ep.row_scale || ep.row_bias)
    for (int t = 0; t < TM; ++t)
      for (int r = 0; r < TN; ++r) {
        const Index row = i + std::min<Index>(t, mvalid - 1);
        rsp[t * TN + r] = ep.row_scale ? ep.row_scale[row] : T(1);
        rbp[t * TN + r] = ep.row_bias ? ep.row_bias[row] : T(0);
      }
  const bool full = nvalid == TN;
  if (ep.accumulate)
    for (int t = 0; t < TM && t < mvalid; ++t) {
      if (full)
        std::copy(c + t * ldc, c + t * ldc + TN, cin + t * TN);
      else
        std::copy(c + t * ldc, c + t * ldc + nvalid, cin + t * TN);
    }
  for (int g = 0; g < G; ++g) {
    B v = B::load_aligned(out + g * L) * B(ep.alpha);
    if (ep.row_scale) v = v * B::load_aligned(rsp + g * L);
    if (ep.row_bias) v = v + B::load_aligned(rbp + g * L);
    if (ep.col_bias) v = v + B::load_unaligned(cbp + g * L);
    v = apply_vector<Act>(v, ep.act);
    if (ep.accumulate) v = v + B::load_aligned(cin + g * L);
    v.store_aligned(out + g * L);
  }
  for (int t = 0; t < TM && t < mvalid; ++t) {
    if (full)
      std::copy(out + t * TN, out + t * TN + TN, c + t * ldc);
    else
      std::copy(out + t * TN, out + t * TN + nvalid, c + t * ldc);
  }
}

/// A leftover tile of `rows` < TM tokens: instantiates nt_tile for that height.
template <class Arch, int TM, int TN, activation Act, class T>
inline void nt_leftover(Index rows, Index K, const T* const* arow, const T* const* brow, T* c,
                        Index ldc, Index i, Index nvalid, const T* cbp,
                        const epilogue<T>& ep) noexcept {
  if constexpr (TM > 1) {
    if (rows == TM - 1)
      nt_tile<Arch, TM - 1, TN, Act>(K, arow, brow, c, ldc, i, rows, nvalid, cbp, ep);
    else
      nt_leftover<Arch, TM - 1, TN, Act>(rows, K, arow, brow, c, ldc, i, nvalid, cbp, ep);
  }
}

/// Rows [i0, i1) of gemm_nt: TM x TN tiles, then one shorter tile for the leftover rows inside
/// the same sweep over the weights (each block of TN weight rows is read once from L2 and reused
/// from L1 by every token tile).
template <class Arch, int TM, int TN, activation Act, class T>
inline void nt_panel(Index i0, Index i1, Index N, Index K, const T* A, Index lda, const T* Bm,
                     Index ldb, T* C, Index ldc, const epilogue<T>& ep) noexcept {
  constexpr int L = static_cast<int>(xsimd::batch<T, Arch>::size);
  alignas(64) T cbp[(TM * TN + L - 1) / L * L] = {};
  const Index i_full = i0 + (i1 - i0) / TM * TM;
  for (Index j = 0; j < N; j += TN) {
    const Index nvalid = std::min<Index>(TN, N - j);
    const T* brow[TN];
    for (int r = 0; r < TN; ++r) brow[r] = Bm + std::min<Index>(j + r, N - 1) * ldb;
    if (ep.col_bias)
      for (int t = 0; t < TM; ++t)
        for (int r = 0; r < TN; ++r) cbp[t * TN + r] = ep.col_bias[std::min<Index>(j + r, N - 1)];
    const T* arow[TM];
    for (Index i = i0; i < i_full; i += TM) {
      for (int t = 0; t < TM; ++t) arow[t] = A + (i + t) * lda;
      // The first token tile of each weight block prefetches the block after next: a slice's
      // rows are short runs `ldb` apart, which the hardware stream prefetchers do not follow
      // (sliced weights ran 10-25% behind packed copies at 4 tokens without this). Long rows
      // they do follow, and there the extra requests only compete with theirs.
      const bool short_rows = K <= gemm_tiles<T, Arch>::nt_prefetch_max_k;
      const Index pf = (short_rows && i == i0 && j + 2 * TN <= N) ? 2 * TN * ldb : 0;
      nt_tile<Arch, TM, TN, Act>(K, arow, brow, C + i * ldc + j, ldc, i, TM, nvalid, cbp, ep, pf);
    }
    if (i_full < i1) {
      for (Index t = 0; t < i1 - i_full; ++t) arow[t] = A + (i_full + t) * lda;
      nt_leftover<Arch, TM, TN, Act>(i1 - i_full, K, arow, brow, C + i_full * ldc + j, ldc, i_full,
                                     nvalid, cbp, ep);
    }
  }
}

template <class Arch, activation Act, class T>
void gemm_nt_impl(Index M, Index N, Index K, const T* A, Index lda, const T* Bm, Index ldb, T* C,
                  Index ldc, const epilogue<T>& ep) noexcept {
  using tiles = gemm_tiles<T, Arch>;
  constexpr int TM = tiles::nt_tm, TN = tiles::nt_tn, L = tiles::lanes;
  if (M < TM) {
    // A matrix-vector product (or two): one token against max(L, 8) weight rows, so that the
    // tile still has enough independent accumulators.
    for (Index i = 0; i < M; ++i)
      nt_panel<Arch, 1, (L >= 8 ? L : 8), Act>(i, i + 1, N, K, A, lda, Bm, ldb, C, ldc, ep);
    return;
  }
  // Token blocks whose rows stay in L1/L2 while a block of TN weight rows is swept over them.
  const Index mb = std::max<Index>(TM, (Index(16384) / std::max<Index>(K, 1)) / TM * TM);
  for (Index i0 = 0; i0 < M; i0 += mb)
    nt_panel<Arch, TM, TN, Act>(i0, std::min(M, i0 + mb), N, K, A, lda, Bm, ldb, C, ldc, ep);
}

// ---- gemm_nn ---------------------------------------------------------------------------------

/// The rows of gemm_nn's B: row k at b + k * ld (a matrix, or a packed panel).
template <class T>
struct strided_rows {
  const T* b;
  Index ld;
  const T* operator()(Index k) const noexcept { return b + k * ld; }
  /// Where the tile's vector v (of `lanes` elements) starts in a row.
  static constexpr Index vector_offset(int v, Index lanes) noexcept { return v * lanes; }
};

/// The rows of gemm_nn's B when a tile spans several consecutive packed panels of P columns
/// (linear_packed with a few rows): row k of each panel at k * P, the panels `panel_stride`
/// elements apart.
template <class T, Index P>
struct panel_rows {
  const T* b;
  Index panel_stride;
  const T* operator()(Index k) const noexcept { return b + k * P; }
  Index vector_offset(int v, Index lanes) const noexcept {
    return v * lanes / P * panel_stride + v * lanes % P;
  }
};

template <class Rows>
struct is_panel_rows : std::false_type {};
template <class T, Index P>
struct is_panel_rows<panel_rows<T, P>> : std::true_type {};

/// The rows of gemm_nn's B anywhere: row k at table[k] + offset (conv2d's taps, each a run of
/// its input's pixels, read in place).
template <class T>
struct table_rows {
  const T* const* table;
  Index offset;
  const T* operator()(Index k) const noexcept { return table[k] + offset; }
  static constexpr Index vector_offset(int v, Index lanes) noexcept { return v * lanes; }
};

/// Cache lines that gemm_nn's tiles request ahead of their use, a share per tile, one or a few
/// per step of the reduction. linear_packed streams its packed weights from memory: while the
/// tiles of one panel compute, each asks for its share of the next panel, so that reading the
/// weights overlaps the arithmetic instead of stalling the first tile of every panel (a panel
/// of 320 rows against 49 tokens, weights from memory: bench_kernels linear_packed_stream).
struct line_stream {
  const char* next = nullptr;  ///< the first line not yet requested
  Index lines_left = 0;        ///< lines from `next` on still to request
  Index per_tile = 0;          ///< lines each tile takes from the stream
  Index per_step = 1;          ///< lines requested per step of the reduction
  /// Takes a tile's share: its first line and count.
  std::pair<const char*, Index> take() noexcept {
    const Index n = std::min(per_tile, lines_left);
    const char* first = next;
    next += n * 64;
    lines_left -= n;
    return {first, n};
  }
};

/// Where the rows of a tile's A and C lie: row r of a matrix at base + r * ld (an Index), or
/// at base + offsets[r] (row_table: linear_packed's rows gathered across row groups, so that
/// a tile may take the last rows of one sample and the first of the next).
struct row_table {
  const Index* offsets;
};
inline Index row_offset(Index ld, Index r) noexcept { return r * ld; }
inline Index row_offset(row_table t, Index r) noexcept { return t.offsets[r]; }
/// The rows from row r on: their base's shift and their layout.
inline Index base_shift(Index ld, Index r) noexcept { return r * ld; }
inline Index base_shift(row_table, Index) noexcept { return 0; }
inline Index rows_from(Index ld, Index) noexcept { return ld; }
inline row_table rows_from(row_table t, Index r) noexcept { return {t.offsets + r}; }

/// One MR x (NV lanes) tile of gemm_nn, B's rows given by `b` (strided_rows, table_rows), each
/// readable for NV whole vectors. With Stream, the tile also requests its share of `pf`'s
/// lines into L2 (pf->per_step per step of the reduction; into L2 rather than L1: a panel of
/// weights is up to 240 KiB, and L1 ran 1-4% slower in the bench's linear_packed_stream rows).
/// With Partial, a reduction may run in blocks of K (linear_packed's few rows): the accumulators
/// then start from `sums_in` and/or end in `sums_out` (MR x NV vectors, row-major) where these
/// are given, instead of starting at zero and going through the epilogue. Each sum is the same
/// chain of FMAs either way. (A compile-time choice: the tests on the other tiles' paths cost
/// linear_packed_panels 8-12%.)
template <class Arch, int MR, int NV, activation Act, bool Stream = false, bool Partial = false,
          class T, class Rows, class ALd, class CLd>
inline void nn_tile(Index K, const T* a, ALd lda, Rows b, T* c, CLd ldc, Index i, Index j,
                    Index ncols, const epilogue<T>& ep, line_stream* pf = nullptr,
                    const T* sums_in = nullptr, T* sums_out = nullptr) noexcept {
  using B = xsimd::batch<T, Arch>;
  constexpr Index L = static_cast<Index>(B::size);
  B acc[MR][NV];
  unrolled<MR>([&](auto r) EVIT_ALWAYS_INLINE {
    unrolled<NV>([&](auto v) EVIT_ALWAYS_INLINE {
      acc[r][v] = Partial && sums_in ? B::load_unaligned(sums_in + (r * NV + v) * L) : B(T(0));
    });
  });
  [[maybe_unused]] const char* pf_line = nullptr;
  [[maybe_unused]] Index pf_left = 0, pf_step = 0;
  if constexpr (Stream) {
    std::tie(pf_line, pf_left) = pf->take();
    pf_step = pf->per_step;
  }
  // One step of the reduction: B's row k against the tile's rows of A.
  auto step = [&](Index k) EVIT_ALWAYS_INLINE {
    B bv[NV];
    const T* row = b(k);
    unrolled<NV>(
        [&](auto v) EVIT_ALWAYS_INLINE { bv[v] = B::load_unaligned(row + b.vector_offset(v, L)); });
    unrolled<MR>([&](auto r) EVIT_ALWAYS_INLINE {
      const B av(a[row_offset(lda, r) + k]);
      unrolled<NV>([&](auto v) EVIT_ALWAYS_INLINE { acc[r][v] = simd::fma(av, bv[v], acc[r][v]); });
    });
  };
  Index k = 0;
  if constexpr (Stream) {
    // The tile's share of the stream: `per` lines with each step while whole steps last, the
    // rest with the next step. The usual counts (one or two lines) are compile-time constants:
    // a loop that tested the lines left at every line took a tenth of the streamed tiles' time.
    auto streamed_steps = [&](auto per) EVIT_ALWAYS_INLINE {
      const Index steps = std::min(K, pf_left / per);
      for (; k < steps; ++k) {
        for (Index q = 0; q < per; ++q) simd::prefetch_l2(pf_line + q * 64);
        pf_line += per * 64;
        step(k);
      }
      pf_left -= steps * per;
    };
    if (pf_step == 1)
      streamed_steps(std::integral_constant<Index, 1>{});
    else if (pf_step == 2)
      streamed_steps(std::integral_constant<Index, 2>{});
    else if (pf_step > 2)
      streamed_steps(pf_step);
    if (k < K && pf_step > 0)
      for (; pf_left > 0; --pf_left, pf_line += 64) simd::prefetch_l2(pf_line);
  }
  for (; k < K; ++k) step(k);
  if (Partial && sums_out) {
    unrolled<MR>([&](auto r) EVIT_ALWAYS_INLINE {
      unrolled<NV>([&](auto v) EVIT_ALWAYS_INLINE {
        acc[r][v].store_unaligned(sums_out + (r * NV + v) * L);
      });
    });
    return;
  }
  // A local copy of the epilogue: the stores into c cannot alias it, so its fields stay in
  // registers instead of being reloaded after every store. A whole tile stores whole vectors;
  // the ragged right edge stores the first lanes of the same vectors (masked loads and stores),
  // so that a column gets the same bits wherever the panels are cut. Products that feed an
  // addition are explicit FMAs (see dw_tile).
  const epilogue<T> e = ep;
  const B one(T(1));
  const bool whole = ncols == NV * L;
  // Row r's scale and bias (zero when absent).
  auto row_terms = [&](int r) EVIT_ALWAYS_INLINE {
    T s = e.alpha;
    if (e.row_scale) s *= e.row_scale[i + r];
    return std::pair<B, B>(B(s), B(e.row_bias ? e.row_bias[i + r] : T(0)));
  };
  // One output vector of `n` lanes at column `col` (n == L but at the ragged edge): row terms,
  // column terms (a BatchNorm over columns is one rounding, as over rows), activation, residual.
  // The terms and n come either as compile-time constants (whole tiles in the usual
  // combinations: no test is left in the unrolled code) or as run-time values (the rest).
  auto finish = [&](B x, const std::pair<B, B>& row, Index col, auto n, T* out, auto has_col_scale,
                    auto has_col_bias, auto add) EVIT_ALWAYS_INLINE {
    auto load = [&](const T* p) EVIT_ALWAYS_INLINE {
      return n == L ? B::load_unaligned(p) : simd::load_partial<Arch>(p, int(n));
    };
    x = simd::fma(x, row.first, row.second);
    if (has_col_scale)
      x = simd::fma(x, load(e.col_scale + col), has_col_bias ? load(e.col_bias + col) : B(T(0)));
    else if (has_col_bias)
      x = x + load(e.col_bias + col);
    x = apply_vector<Act>(x, e.act);
    if (add) x = simd::fma(x, one, load(out));
    if (n == L)
      x.store_unaligned(out);
    else
      simd::store_partial(x, out, int(n));
  };
  auto whole_tile = [&](auto has_col_scale, auto has_col_bias, auto add) EVIT_ALWAYS_INLINE {
    unrolled<MR>([&](auto r) EVIT_ALWAYS_INLINE {
      const auto row = row_terms(r);
      unrolled<NV>([&](auto v) EVIT_ALWAYS_INLINE {
        finish(acc[r][v], row, j + v * L, std::integral_constant<int, int(L)>{},
               c + row_offset(ldc, r) + v * L, has_col_scale, has_col_bias, add);
      });
    });
  };
  // Only the combinations that occur take a path of their own (each is a copy of the tile's
  // code to compile): the linear layers' bias, their residual (no activation) and a BatchNorm
  // over channels as columns; the 1x1 convolutions' BatchNorm over rows.
  using no = std::false_type;
  using yes = std::true_type;
  if constexpr (Stream || is_panel_rows<Rows>::value) {
    if (whole && !e.accumulate && !e.col_scale && e.col_bias) return whole_tile(no{}, yes{}, no{});
    if constexpr (Act == activation::none)
      if (whole && e.accumulate && !e.col_scale && e.col_bias)
        return whole_tile(no{}, yes{}, yes{});
    if (whole && !e.accumulate && e.col_scale && e.col_bias) return whole_tile(yes{}, yes{}, no{});
  } else {
    if (whole && !e.accumulate && !e.col_scale && !e.col_bias) return whole_tile(no{}, no{}, no{});
  }
  // Everything else (the ragged right edge, rarer combinations) takes the accumulators through
  // memory in plain loops, which keeps this path small to compile.
  T tile[MR][NV * L];
  unrolled<MR>([&](auto r) EVIT_ALWAYS_INLINE {
    unrolled<NV>([&](auto v) EVIT_ALWAYS_INLINE { acc[r][v].store_unaligned(&tile[r][v * L]); });
  });
  for (int r = 0; r < MR; ++r) {
    const auto row = row_terms(r);
    for (int v = 0; v < NV; ++v) {
      const int n = whole ? int(L) : int(std::clamp<Index>(ncols - v * L, 0, L));
      if (n == 0) break;
      finish(B::load_unaligned(&tile[r][v * L]), row, j + v * L, n, c + row_offset(ldc, r) + v * L,
             e.col_scale != nullptr, e.col_bias != nullptr, e.accumulate);
    }
  }
}

/// f(std::integral_constant<int, h>) for a run-time h in [1, H].
template <int H, class F>
inline void with_height(Index h, F&& f) {
  if constexpr (H > 1) {
    if (h < H) return with_height<H - 1>(h, f);
  }
  f(std::integral_constant<int, H>{});
}

/// Rows [0, rows) of A against one panel of B: MR-row tiles, then smaller tiles for the rest
/// (each output is the same sum whatever tile computes it).
/// With Stream, every tile takes its share of `pf`'s lines. `sums_in` / `sums_out`: the rows'
/// partial sums (rows x NV vectors, row-major), as in nn_tile.
template <class Arch, int MR, int NV, activation Act, bool Stream = false, bool Partial = false,
          class T, class Rows, class ALd, class CLd>
inline void nn_rows(Index rows, Index K, const T* a, ALd lda, Rows b, T* c, CLd ldc, Index i,
                    Index j, Index ncols, const epilogue<T>& ep, line_stream* pf = nullptr,
                    const T* sums_in = nullptr, T* sums_out = nullptr) noexcept {
  constexpr Index row_sums = NV * static_cast<Index>(xsimd::batch<T, Arch>::size);
  auto in_at = [&](Index r) { return sums_in ? sums_in + r * row_sums : nullptr; };
  auto out_at = [&](Index r) { return sums_out ? sums_out + r * row_sums : nullptr; };
  // Rows r, r + 1, ... of A and C.
  auto a_at = [&](Index r) { return a + base_shift(lda, r); };
  auto c_at = [&](Index r) { return c + base_shift(ldc, r); };
  // Each output is the same sum and epilogue whatever its tile: the same bits. Rows that split
  // into tiles of MR and MR - 1 rows only do (100 tokens as 15 x 6 + 2 x 5 rather than 16 x 6 +
  // 4, 25 as 5 x 5 rather than 3 x 6 + 4 + 3): a tile one row short still has the accumulators
  // to cover the FMA latency, a shorter one has not.
  if constexpr (MR > 3) {
    const Index tiles = (rows + MR - 1) / MR;
    if (tiles * (MR - 1) <= rows) {
      Index r = 0;
      for (const Index full = (rows - tiles * (MR - 1)) * MR; r < full; r += MR)
        nn_tile<Arch, MR, NV, Act, Stream, Partial>(K, a_at(r), rows_from(lda, r), b, c_at(r),
                                                    rows_from(ldc, r), i + r, j, ncols, ep, pf,
                                                    in_at(r), out_at(r));
      for (; r < rows; r += MR - 1)
        nn_tile<Arch, MR - 1, NV, Act, Stream, Partial>(K, a_at(r), rows_from(lda, r), b, c_at(r),
                                                        rows_from(ldc, r), i + r, j, ncols, ep, pf,
                                                        in_at(r), out_at(r));
      return;
    }
  }
  // Otherwise the rows past the full MR-row tiles run in tiles of at most `most` rows, as even
  // as they go, and 1-3 of them (with MR > 3) take the last full tile back: 9 tokens (elastic_T2's
  // and S1's last stage) as 5 + 4 rows rather than 6 + 2 + 1 or 8 + 1, whose short tiles wait on
  // the FMA latency of their few accumulators (evit_bench_kernels linear_packed_panels N:9).
  constexpr int most = MR < 8 ? MR : 8;
  Index r = 0, full = rows / MR * MR;
  if constexpr (MR > 3)
    if (full > 0 && rows - full >= 1 && rows - full <= 3) full -= MR;
  for (; r < full; r += MR)
    nn_tile<Arch, MR, NV, Act, Stream, Partial>(K, a_at(r), rows_from(lda, r), b, c_at(r),
                                                rows_from(ldc, r), i + r, j, ncols, ep, pf,
                                                in_at(r), out_at(r));
  for (Index rest = rows - r; rest > 0; rest = rows - r) {
    const Index tiles = (rest + most - 1) / most, height = (rest + tiles - 1) / tiles;
    with_height<most>(height, [&](auto h) {
      constexpr int H = decltype(h)::value;
      nn_tile<Arch, H, NV, Act, Stream, Partial>(K, a_at(r), rows_from(lda, r), b, c_at(r),
                                                 rows_from(ldc, r), i + r, j, ncols, ep, pf,
                                                 in_at(r), out_at(r));
      r += H;
    });
  }
}

/// Columns [j0, N) of gemm_nn in panels of NV vectors, MR x NV tiles.
template <class Arch, int MR, int NV, activation Act, class T>
void nn_columns(Index j0, Index M, Index N, Index K, const T* A, Index lda, const T* Bm, Index ldb,
                T* C, Index ldc, const epilogue<T>& ep, T* ws) noexcept {
  using B = xsimd::batch<T, Arch>;
  constexpr int L = static_cast<int>(B::size), NR = NV * L;
  // Every K x NR panel of B is copied once into the workspace (contiguous, zero-padded at the
  // ragged edge) and then swept by all row tiles of A: B's rows are one image plane apart, and
  // reading them in place costs a TLB miss per row. A whole panel of a short reduction is read
  // in place (gemm_tiles::nn_in_place_max_k) unless its rows crowd one L1 set
  // (gemm_tiles::nn_copy_set_aliased): the same sums, the same bits.
  using tiles = gemm_tiles<T, Arch>;
  const bool set_aliased = K > 8 && (ldb * Index(sizeof(T))) % 4096 == 0;
  const bool in_place =
      K <= tiles::nn_in_place_max_k && !(tiles::nn_copy_set_aliased && set_aliased);
  for (Index j = j0; j < N; j += NR) {
    const Index nc = std::min<Index>(NR, N - j);
    if (nc == NR && in_place) {
      // A call of its own: one call for both panels, B chosen at run time, ran 0.4-0.9% slower
      // (run_subnet T1 batch 8, M batch 1, T2 batch 8).
      nn_rows<Arch, MR, NV, Act>(M, K, A, lda, strided_rows<T>{Bm + j, ldb}, C + j, ldc, 0, j, nc,
                                 ep);
      continue;
    }
    if (nc == NR) {
      for (Index k = 0; k < K; ++k)
        for (int v = 0; v < NV; ++v)
          B::load_unaligned(Bm + k * ldb + j + v * L).store_unaligned(ws + k * NR + v * L);
    } else {
      for (Index k = 0; k < K; ++k)
        for (int v = 0; v < NV; ++v) {
          const int n = int(std::clamp<Index>(nc - v * L, 0, L));
          simd::load_partial<Arch>(Bm + k * ldb + j + v * L, n)
              .store_unaligned(ws + k * NR + v * L);
        }
    }
    nn_rows<Arch, MR, NV, Act>(M, K, A, lda, strided_rows<T>{ws, NR}, C + j, ldc, 0, j, nc, ep);
  }
}

template <class Arch, activation Act, class T>
void gemm_nn_impl(Index M, Index N, Index K, const T* A, Index lda, const T* Bm, Index ldb, T* C,
                  Index ldc, const epilogue<T>& ep, T* ws) noexcept {
  using tiles = gemm_tiles<T, Arch>;
  // A last panel of at most one vector (16-pixel planes on AVX-512: the late stages' 4 x 4 maps)
  // runs in a tile one vector wide, rather than in the two-vector tile whose second vector
  // would be all padding.
  const Index narrow = tiles::nn_narrow_tail(N);
  nn_columns<Arch, tiles::nn_mr, tiles::nn_nv, Act>(0, M, N - narrow, K, A, lda, Bm, ldb, C, ldc,
                                                    ep, ws);
  if (narrow > 0)
    nn_columns<Arch, tiles::nn_narrow_mr, 1, Act>(N - narrow, M, N, K, A, lda, Bm, ldb, C, ldc, ep,
                                                  ws);
}

}  // namespace detail

/// C[M, N] = epilogue(A[M, K] · B[N, K]ᵀ). Element (i, k) of A is `A[i * lda + k]`, element
/// (j, k) of B is `B[j * ldb + k]`: a linear layer Y = X · Wᵀ passes the tokens as A and the
/// weight slice `W + r0 * in_max` (ld = in_max) as B. Reads exactly rows [0, M) x [0, K) of A
/// and [0, N) x [0, K) of B; writes (and, with `ep.accumulate`, reads) [0, M) x [0, N) of C.
/// No workspace, no allocation.
/// @pre M, N, K >= 0; lda, ldb >= K; ldc >= N; C does not overlap A or B.
template <class Arch = simd::default_arch, class T>
void gemm_nt(Index M, Index N, Index K, const T* A, Index lda, const T* B, Index ldb, T* C,
             Index ldc, const epilogue<T>& ep = {}) {
  EVIT_ASSERT(M >= 0 && N >= 0 && K >= 0);
  EVIT_ASSERT(lda >= K && ldb >= K && ldc >= N);
  if (M == 0 || N == 0) return;
  EVIT_ASSERT(C != nullptr && (K == 0 || (A != nullptr && B != nullptr)));
  EVIT_ASSERT(ep.col_scale == nullptr);  // the dot-product tiles have no column scale
  detail::dispatch_epilogue_activation(ep.act, [&](auto tag) {
    detail::gemm_nt_impl<Arch, decltype(tag)::value>(M, N, K, A, lda, B, ldb, C, ldc, ep);
  });
}

/// Workspace (elements of T) that gemm_nn needs for a reduction of length K (one packed K x nn_nr
/// panel of B).
template <class Arch = simd::default_arch, class T = float>
constexpr Index gemm_nn_workspace_size(Index K) {
  return K * gemm_tiles<T, Arch>::nn_nr;
}

/// C[M, N] = epilogue(A[M, K] · B[K, N]). Element (i, k) of A is `A[i * lda + k]`, element (k, j)
/// of B is `B[k * ldb + j]`: a 1x1 convolution on an NCHW image passes the weight slice as A and
/// the image (ld = H*W) as B. Reads exactly [0, M) x [0, K) of A and [0, K) x [0, N) of B. Each
/// K x nn_nr panel of B (activations, never weights) is copied into `ws` before use, but for
/// whole panels of a short reduction (K <= gemm_tiles::nn_in_place_max_k), read in place where
/// its rows do not crowd one L1 set (gemm_tiles::nn_copy_set_aliased).
/// @param ws,ws_size workspace of at least gemm_nn_workspace_size<Arch, T>(K) elements.
/// @pre M, N, K >= 0; lda >= K; ldb, ldc >= N; C does not overlap A, B or ws.
template <class Arch = simd::default_arch, class T>
void gemm_nn(Index M, Index N, Index K, const T* A, Index lda, const T* B, Index ldb, T* C,
             Index ldc, const epilogue<T>& ep, T* ws, Index ws_size) {
  EVIT_ASSERT(M >= 0 && N >= 0 && K >= 0);
  EVIT_ASSERT(lda >= K && ldb >= N && ldc >= N);
  if (M == 0 || N == 0) return;
  EVIT_ASSERT(C != nullptr && (K == 0 || (A != nullptr && B != nullptr)));
  EVIT_ASSERT((K == 0 || (ws != nullptr && ws_size >= gemm_nn_workspace_size<Arch, T>(K))));
  (void)ws_size;
  detail::dispatch_epilogue_activation(ep.act, [&](auto tag) {
    detail::gemm_nn_impl<Arch, decltype(tag)::value>(M, N, K, A, lda, B, ldb, C, ldc, ep, ws);
  });
}

// The entry points for float: compiled once per ISA in a dispatching program (simd/isa.hpp),
// and run through simd::dispatch() when called with simd::dispatched.
#define EVIT_GEMM_INSTANCES(EXTERN, A)                                                           \
  EXTERN template void gemm_nt<A, float>(Index, Index, Index, const float*, Index, const float*, \
                                         Index, float*, Index, const epilogue<float>&);          \
  EXTERN template void gemm_nn<A, float>(Index, Index, Index, const float*, Index, const float*, \
                                         Index, float*, Index, const epilogue<float>&, float*,   \
                                         Index);
EVIT_FOR_EACH_DISPATCH_ARCH(EVIT_GEMM_INSTANCES)
#undef EVIT_GEMM_INSTANCES

template <>
inline void gemm_nt<simd::dispatched, float>(Index M, Index N, Index K, const float* A, Index lda,
                                             const float* B, Index ldb, float* C, Index ldc,
                                             const epilogue<float>& ep) {
  simd::dispatch([&](auto arch) { gemm_nt<decltype(arch)>(M, N, K, A, lda, B, ldb, C, ldc, ep); });
}

template <>
inline void gemm_nn<simd::dispatched, float>(Index M, Index N, Index K, const float* A, Index lda,
                                             const float* B, Index ldb, float* C, Index ldc,
                                             const epilogue<float>& ep, float* ws, Index ws_size) {
  simd::dispatch([&](auto arch) {
    gemm_nn<decltype(arch)>(M, N, K, A, lda, B, ldb, C, ldc, ep, ws, ws_size);
  });
}

}  // namespace kernels
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
