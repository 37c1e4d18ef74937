// SPDX-License-Identifier: MIT
// Sliced linear layers on a row-major [out_max, in_max] supernet weight: the active rows are a
// block starting at row r0, the active inputs are always the first `in` columns
// (docs/elasticvit.md#weight-slicing).
// linear_blocks writes several row blocks of one weight into column ranges of one output, which
// is ElasticViT's qkv (Q, K and V row blocks) without concatenating anything. Built on
// kernels/gemm.hpp; read kernels/attention.hpp next.
#pragma once

#include <algorithm>
#include <type_traits>

#include "evit/core/index.hpp"
#include "evit/kernels/activation.hpp"
#include "evit/kernels/epilogue.hpp"
#include "evit/kernels/gemm.hpp"
#include "evit/simd/arch.hpp"
#include "evit/simd/isa.hpp"
#include "evit/simd/namespace.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace kernels {

/// y[rows, out] = act(x[rows, in] · W[r0 : r0 + out, 0 : in]ᵀ + bias[r0 : r0 + out])
/// (plus the old y when `accumulate`).
/// @param x,ldx    tokens, row-major, ldx >= in.
/// @param w,ldw    the whole supernet weight (ldw = in_max); rows r0..r0+out-1 and columns
///                 0..in-1 are read in place.
/// @param bias     the whole supernet bias (entries r0..r0+out-1 are read), or nullptr.
/// @param y,ldy    output, row-major, ldy >= out; must not overlap x or w.
/// No workspace; no allocation.
/// @code
///   // fc1 of an ElasticViT MLP: hidden = floor(ratio * C) rows of a [5 Cmax, Cmax] weight
///   evit::kernels::linear(N, C, hidden, x, C, fc1_w, Cmax, 0, fc1_b, h, hidden,
///                         evit::kernels::activation::hardswish);
/// @endcode
template <class Arch = simd::default_arch, class T>
void linear(Index rows, Index in, Index out, const T* x, Index ldx, const T* w, Index ldw, Index r0,
            const T* bias, T* y, Index ldy, activation act = activation::none,
            bool accumulate = false) {
  EVIT_ASSERT(rows >= 0 && in >= 0 && out >= 0 && r0 >= 0 && in <= ldw);
  epilogue<T> ep;
  ep.col_bias = bias ? bias + r0 : nullptr;
  ep.act = act;
  ep.accumulate = accumulate;
  gemm_nt<Arch>(rows, out, in, x, ldx, w + r0 * ldw, ldw, y, ldy, ep);
}

// ---- packed weights --------------------------------------------------------------------------
// A linear weight W [out_max, in_max] re-laid once (at load) as the column panels of its
// transpose: panel p holds Wᵀ[0 : in_max, 32 p : 32 p + 32] row after row (32 floats per input).
// Any slice W[r0 : r0 + out, 0 : in] is then the first `in` rows of a run of panels, read in
// place and contiguously, in the broadcast form of the GEMM (one token value against a vector of
// outputs, gemm_nn's tiles: no horizontal reduction per tile as in gemm_nt), which bench_kernels
// measured 1.6-2x faster at 16-256 tokens (linear_sliced vs linear_packed_panels, with 12-row
// tiles on AVX-512 then). The panel width is a multiple of every ISA's tile width.

/// Floats per row of a panel.
constexpr Index linear_panel_width = 32;

/// Floats a packed copy of an [out_max, in_max] weight takes (one panel's row of padding at the
/// end: a tile that starts inside the last panel reads, and ignores, up to a row past it).
constexpr Index packed_linear_size(Index out_max, Index in_max) {
  return (out_max + linear_panel_width - 1) / linear_panel_width * in_max * linear_panel_width +
         linear_panel_width;
}

/// Writes W [out_max, in_max] (row-major) into `dst` (packed_linear_size floats) as panels.
template <class T>
void pack_linear_weight(const T* w, Index out_max, Index in_max, T* dst) {
  constexpr Index P = linear_panel_width;
  const Index panels = (out_max + P - 1) / P;
  std::fill(dst, dst + packed_linear_size(out_max, in_max), T(0));
  for (Index p = 0; p < panels; ++p) {  // contiguous writes, P sequential read streams
    const Index cols = std::min(P, out_max - p * P);
    const T* rows = w + p * P * in_max;
    T* panel = dst + p * in_max * P;
    for (Index k = 0; k < in_max; ++k)
      for (Index c = 0; c < cols; ++c) panel[k * P + c] = rows[c * in_max + k];
  }
}

/// linear() on a weight packed by pack_linear_weight (`in_max` its input width): the same
/// result up to the order of the reduction's additions (each output sums its inputs in order).
/// Every output is computed the same way whatever [r0, r0 + out) it is asked in, so callers may
/// split the columns at multiples of 16.
/// With `groups`, the product runs on groups.count matrices of `rows` rows (a batch of samples'
/// tokens): each 32-column strip of the weights is read once and then reused from L1/L2 by
/// every group, rather than read again per sample; every output is computed as with one group.
/// Groups whose rows are not a multiple of nn_mr (up to 512 rows in all) run as one sequence of
/// rows whose tiles may span two groups (full tiles rather than each group's short ones).
/// The packed weights come from memory once per product: the first row tile prefetches its
/// panel ahead (gemm_tiles::nn_prefetch_rows), and the tiles of each panel request the next
/// panel between them while they compute (detail::line_stream). With 4 to 2 * nn_mr rows, no
/// groups, a long reduction and no activation or hardswish (the head at batch 4-12), each panel
/// runs in blocks of its rows instead (gemm_tiles::nn_block_k), the partial sums kept between
/// blocks: the same sums, the same bits.
///
/// This form takes a whole epilogue `ep` (its column terms indexed from output column 0, i.e.
/// supernet row r0): e.g. a 1x1 convolution on channels-last maps with its BatchNorm as
/// col_scale/col_bias (epilogue::channels_as_columns).
template <class Arch = simd::default_arch, class T>
void linear_packed(Index rows, Index in, Index out, const T* x, Index ldx, const T* wp,
                   Index in_max, Index r0, T* y, Index ldy, const epilogue<T>& ep,
                   row_groups groups = {}) {
  EVIT_ASSERT(rows >= 0 && in >= 0 && out >= 0 && r0 >= 0 && in <= in_max && groups.count >= 0);
  if (rows == 0 || out == 0 || groups.count == 0) return;
  using tiles = gemm_tiles<T, Arch>;
  constexpr Index P = linear_panel_width, NR = tiles::nn_nr;
  static_assert(P % NR == 0, "a panel holds whole tiles");
  const activation act = ep.act;
  constexpr Index MR = tiles::nn_mr, row_lines = (P * Index(sizeof(T)) + 63) / 64;
  // Groups whose rows do not split into whole MR-row tiles (4, 9, 16, 25 or 64 tokens per
  // sample at batch 8) run as one sequence of G x rows rows, gathered through a table of row
  // offsets, so that a tile may span two samples: full tiles instead of each group's short ones.
  // Up to 512 rows (8 KiB of offsets on the stack); larger groups (196 tokens) lose little to
  // their one short tile (evit_bench_kernels linear_packed_groups, one_matrix_frac).
  constexpr Index gather_max = 512;
  const bool gather = groups.count > 1 && rows % MR != 0 && groups.count * rows <= gather_max &&
                      !ep.row_scale && !ep.row_bias &&
                      (act == activation::none || act == activation::hardswish);
  Index x_rows[gather_max], y_rows[gather_max];  // the gathered rows' offsets from x and y
  if (gather)
    for (Index g = 0, v = 0; g < groups.count; ++g)
      for (Index r = 0; r < rows; ++r, ++v) {
        x_rows[v] = g * groups.x_stride + r * ldx;
        y_rows[v] = g * groups.y_stride + r * ldy;
      }
  detail::dispatch_epilogue_activation(act, [&](auto tag) {
    constexpr activation Act = decltype(tag)::value;
    // Columns [from, to) panel by panel, in tiles of MR rows x nn_nr columns: the groups one by
    // one, or (Gather) their rows as one sequence.
    auto by_panel = [&](Index from, Index to, auto gathered) {
      constexpr bool Gather = decltype(gathered)::value;
      const Index count = Gather ? 1 : groups.count,
                  group_rows = Gather ? rows * groups.count : rows;
      const Index tiles_per_strip = count * ((group_rows + MR - 1) / MR);
      for (Index j = from; j < to;) {
        const bool first = j == from;
        const Index panel = j / P, end = std::min(to, (panel + 1) * P);
        const T* base = wp + panel * in_max * P - panel * P;  // column c of the panel at base + c
        // With several row tiles, all tiles of a panel share the next panel's `in` rows between
        // them, and only the first tile of the product asks for its own panel's rows
        // nn_prefetch_rows ahead. With one (a few tokens: streaming the weights takes the whole
        // time), each panel's first tile asks for its own panel ahead, which ran faster.
        const Index strips = (end - j + NR - 1) / NR;
        const bool share_next = tiles_per_strip > 1;
        const bool own_ahead = first || !share_next;
        detail::line_stream ahead, next;
        if (own_ahead) {
          constexpr Index rows_ahead = tiles::nn_prefetch_rows;
          ahead.next = reinterpret_cast<const char*>(wp + panel * in_max * P + rows_ahead * P);
          ahead.lines_left = std::max<Index>(0, in - rows_ahead) * row_lines;
          ahead.per_tile = ahead.lines_left;
          ahead.per_step = row_lines;
        }
        if (share_next && end < to) {
          const Index sharing = std::max<Index>(1, strips * tiles_per_strip - (first ? 1 : 0));
          next.next = reinterpret_cast<const char*>(wp + (panel + 1) * in_max * P);
          next.lines_left = in * row_lines;
          next.per_tile = (next.lines_left + sharing - 1) / sharing;
          next.per_step = (next.per_tile + in - 1) / std::max<Index>(in, 1);
        }
        for (Index c = j; c < end; c += NR) {
          const Index ncols = std::min<Index>(NR, end - c);
          auto run = [&](Index g, Index row0, Index nrows, detail::line_stream* pf) {
            const detail::strided_rows<T> b{base + c, P};
            auto tiles_of = [&](const T* xg, auto ld_x, T* yg, auto ld_y) {
              // A strip of at most one vector (a width of 16 mod 32 on AVX-512: 48, 176, 240
              // channels) runs in a tile one vector wide and taller, rather than in the
              // two-vector tile whose second vector would be padding: each output is the same
              // sum and epilogue, the same bits.
              if (tiles::nn_nv > 1 && ncols <= tiles::lanes)
                detail::nn_rows<Arch, tiles::nn_narrow_mr, 1, Act, true>(
                    nrows, in, xg, ld_x, b, yg, ld_y, row0, c - r0, ncols, ep, pf);
              else
                detail::nn_rows<Arch, MR, tiles::nn_nv, Act, true>(nrows, in, xg, ld_x, b, yg, ld_y,
                                                                   row0, c - r0, ncols, ep, pf);
            };
            if constexpr (Gather)
              tiles_of(x, detail::row_table{x_rows + row0}, y + (c - r0),
                       detail::row_table{y_rows + row0});
            else
              tiles_of(x + g * groups.x_stride + row0 * ldx, ldx,
                       y + g * groups.y_stride + row0 * ldy + (c - r0), ldy);
          };
          Index g = 0;
          if (own_ahead && c == j) {  // the panel's first tile, then the rest of its group
            const Index head = std::min(group_rows, MR);
            run(0, 0, head, &ahead);
            run(0, head, group_rows - head, &next);
            g = 1;
          }
          for (; g < count; ++g) run(g, 0, group_rows, &next);
        }
        j = end;
      }
    };
    // One to nn_few_rows_max rows (the head's vector layers at batch 1 to 3; on AVX-512 also
    // the 4 tokens of a 2 x 2 map): a tile of one panel's strip holds too few accumulators
    // (rows x nn_nv) to hide the FMA latency while the weights stream in, so the whole panels
    // run in tiles as wide as several panels (tiles::nn_few_rows_nv); each output is the same
    // sum and epilogue as in any other tile.
    auto few_rows = [&](auto height) {
      constexpr int R = decltype(height)::value, NV = tiles::nn_few_rows_nv(R);
      constexpr Index width = NV * tiles::lanes, unit = std::max<Index>(width, P);
      const Index lo = std::min(r0 + out, (r0 + P - 1) / P * P);
      const Index hi = lo + (r0 + out - lo) / unit * unit;
      by_panel(r0, lo, std::false_type{});
      for (Index c = lo; c < hi; c += width)
        detail::nn_tile<Arch, R, NV, Act>(
            in, x, ldx, detail::panel_rows<T, P>{wp + c / P * in_max * P + c % P, in_max * P},
            y + (c - r0), ldy, 0, c - r0, width, ep);
      by_panel(hi, r0 + out, std::false_type{});
    };
    // 4 to 2 * MR rows against a long reduction: one or two row tiles per strip, each panel in
    // blocks of its rows, the partial sums kept in `sums` between blocks (tiles::nn_block_k).
    // Generic, so that only the activations that take this path (below) instantiate its tiles.
    auto k_blocked = [&](auto, Index from, Index to) {
      constexpr Index KB = tiles::nn_block_k, ahead = tiles::nn_block_ahead;
      alignas(64) T sums[2 * MR * P];
      const Index row_tiles = (rows + MR - 1) / MR;
      for (Index j = from; j < to;) {
        const Index panel = j / P, end = std::min(to, (panel + 1) * P);
        const T* base = wp + panel * in_max * P - panel * P;  // column c of the panel at base + c
        const Index tiles_here = (end - j + NR - 1) / NR * row_tiles;
        const bool next_panel = end < to;
        for (Index k0 = 0; k0 < in; k0 += KB) {
          const Index kl = std::min(KB, in - k0), lo = k0 + ahead, hi = k0 + kl + ahead;
          // The lines `ahead` rows past this block: the panel's own, then the next panel's.
          detail::line_stream pf;
          if (lo < in) {
            pf.next = reinterpret_cast<const char*>(wp + panel * in_max * P + lo * P);
            pf.lines_left = (std::min(hi, in) - lo) * row_lines;
          } else if (next_panel) {
            pf.next = reinterpret_cast<const char*>(wp + (panel + 1) * in_max * P + (lo - in) * P);
            pf.lines_left = (std::min(hi - in, in) - (lo - in)) * row_lines;
          }
          pf.per_tile = (std::max<Index>(pf.lines_left, 0) + tiles_here - 1) / tiles_here;
          pf.per_step = std::max<Index>(1, (pf.per_tile + kl - 1) / kl);
          const bool first = k0 == 0, last = k0 + kl == in;
          for (Index c = j; c < end; c += NR) {
            T* strip_sums = sums + (c - j) / NR * rows * NR;
            detail::nn_rows<Arch, MR, tiles::nn_nv, Act, true, true>(
                rows, kl, x + k0, ldx, detail::strided_rows<T>{base + c + k0 * P, P}, y + (c - r0),
                ldy, 0, c - r0, std::min<Index>(NR, end - c), ep, &pf, first ? nullptr : strip_sums,
                last ? nullptr : strip_sums);
          }
        }
        j = end;
      }
    };
    // Only the activations of the head and the transformer layers (none, hardswish) take the
    // blocked path and the gathered rows: the others run by_panel group by group, the same sums
    // and bits, without more sets of tiles to compile per ISA.
    constexpr bool blockable = Act == activation::none || Act == activation::hardswish;
    if constexpr (blockable) {
      if (gather) return by_panel(r0, r0 + out, std::true_type{});
      if (groups.count == 1 && rows >= 4 && rows <= 2 * MR && in >= tiles::nn_block_min_k)
        return k_blocked(tag, r0, r0 + out);
    }
    if (groups.count == 1 && rows <= tiles::nn_few_rows_max)
      detail::with_height<tiles::nn_few_rows_max>(rows, few_rows);
    else
      by_panel(r0, r0 + out, std::false_type{});
  });
}

/// linear_packed with linear()'s epilogue: bias[r0 : r0 + out] (or none), `act`, `accumulate`.
template <class Arch = simd::default_arch, class T>
void linear_packed(Index rows, Index in, Index out, const T* x, Index ldx, const T* wp,
                   Index in_max, Index r0, const T* bias, T* y, Index ldy,
                   activation act = activation::none, bool accumulate = false,
                   row_groups groups = {}) {
  epilogue<T> ep;
  ep.col_bias = bias ? bias + r0 : nullptr;
  ep.act = act;
  ep.accumulate = accumulate;
  linear_packed<Arch>(rows, in, out, x, ldx, wp, in_max, r0, y, ldy, ep, groups);
}

/// One row block of a stacked weight, written to a column range of the output.
struct row_block {
  Index w_row0 = 0;  ///< first supernet row of the block
  Index rows = 0;    ///< active rows (= output columns written)
  Index y_col0 = 0;  ///< first output column
};

/// For each block b: y[:, b.y_col0 : b.y_col0 + b.rows] = x · W[b.w_row0 : +b.rows, 0 : in]ᵀ
/// (+ bias[b.w_row0 : +b.rows]), restricted to the output columns [col_begin, col_end) (a caller
/// running pieces of the output in parallel passes its piece; the default is all of them).
/// ElasticViT's qkv is three blocks {0, h·dqk, 0}, {Cmax, h·dqk, h·dqk}, {2·Cmax, h·dv, 2·h·dqk}
/// (docs/elasticvit.md#attention); the output is never concatenated from pieces, each block's
/// product lands in its place.
/// @pre blocks write disjoint column ranges inside [0, ldy).
template <class Arch = simd::default_arch, class T>
void linear_blocks(Index rows, Index in, const T* x, Index ldx, const T* w, Index ldw,
                   const T* bias, const row_block* blocks, Index nblocks, T* y, Index ldy,
                   Index col_begin = 0, Index col_end = -1) {
  EVIT_ASSERT(nblocks >= 0 && (nblocks == 0 || blocks != nullptr));
  if (col_end < 0) col_end = ldy;
  for (Index b = 0; b < nblocks; ++b) {
    const row_block& blk = blocks[b];
    EVIT_ASSERT(blk.y_col0 >= 0 && blk.y_col0 + blk.rows <= ldy);
    const Index lo = std::max(col_begin, blk.y_col0);
    const Index hi = std::min(col_end, blk.y_col0 + blk.rows);
    if (lo < hi)
      linear<Arch>(rows, in, hi - lo, x, ldx, w, ldw, blk.w_row0 + (lo - blk.y_col0), bias, y + lo,
                   ldy);
  }
}

// The entry points for float: compiled once per ISA in a dispatching program (simd/isa.hpp),
// and run through simd::dispatch() when called with simd::dispatched.
#define EVIT_LINEAR_INSTANCES(EXTERN, A)                                                         \
  EXTERN template void linear<A, float>(Index, Index, Index, const float*, Index, const float*,  \
                                        Index, Index, const float*, float*, Index, activation,   \
                                        bool);                                                   \
  EXTERN template void linear_blocks<A, float>(Index, Index, const float*, Index, const float*,  \
                                               Index, const float*, const row_block*, Index,     \
                                               float*, Index, Index, Index);                     \
  EXTERN template void linear_packed<A, float>(Index, Index, Index, const float*, Index,         \
                                               const float*, Index, Index, const float*, float*, \
                                               Index, activation, bool, row_groups);             \
  EXTERN template void linear_packed<A, float>(Index, Index, Index, const float*, Index,         \
                                               const float*, Index, Index, float*, Index,        \
                                               const epilogue<float>&, row_groups);
EVIT_FOR_EACH_DISPATCH_ARCH(EVIT_LINEAR_INSTANCES)
#undef EVIT_LINEAR_INSTANCES

template <>
inline void linear<simd::dispatched, float>(Index rows, Index in, Index out, const float* x,
                                            Index ldx, const float* w, Index ldw, Index r0,
                                            const float* bias, float* y, Index ldy, activation act,
                                            bool accumulate) {
  simd::dispatch([&](auto arch) {
    linear<decltype(arch)>(rows, in, out, x, ldx, w, ldw, r0, bias, y, ldy, act, accumulate);
  });
}

template <>
inline void linear_packed<simd::dispatched, float>(Index rows, Index in, Index out, const float* x,
                                                   Index ldx, const float* wp, Index in_max,
                                                   Index r0, const float* bias, float* y, Index ldy,
                                                   activation act, bool accumulate,
                                                   row_groups groups) {
  simd::dispatch([&](auto arch) {
    linear_packed<decltype(arch)>(rows, in, out, x, ldx, wp, in_max, r0, bias, y, ldy, act,
                                  accumulate, groups);
  });
}

template <>
inline void linear_packed<simd::dispatched, float>(Index rows, Index in, Index out, const float* x,
                                                   Index ldx, const float* wp, Index in_max,
                                                   Index r0, float* y, Index ldy,
                                                   const epilogue<float>& ep, row_groups groups) {
  simd::dispatch([&](auto arch) {
    linear_packed<decltype(arch)>(rows, in, out, x, ldx, wp, in_max, r0, y, ldy, ep, groups);
  });
}

template <>
inline void linear_blocks<simd::dispatched, float>(Index rows, Index in, const float* x, Index ldx,
                                                   const float* w, Index ldw, const float* bias,
                                                   const row_block* blocks, Index nblocks, float* y,
                                                   Index ldy, Index col_begin, Index col_end) {
  simd::dispatch([&](auto arch) {
    linear_blocks<decltype(arch)>(rows, in, x, ldx, w, ldw, bias, blocks, nblocks, y, ldy,
                                  col_begin, col_end);
  });
}

}  // namespace kernels
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
