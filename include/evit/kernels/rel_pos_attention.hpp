// SPDX-License-Identifier: MIT
// Attention heads with a 2-D relative position encoding on both the keys and the values
// (AutoFormer's RelativePosition2D, docs/autoformer.md): a class token followed by a square grid of
// s x s patch tokens; tokens i, j (0-based among the patches) get the table rows
//   iv = clamp(j / s - i / s, -M, M) + M + 1,   ih = clamp(j % s - i % s, -M, M) + M + 1,
// and any pair with the class token gets row 0 in both tables (rows 1 and 2M + 1 are reachable only
// on grids wider than M). With R[i, j] = T_v[iv] + T_h[ih]:
//   logits  A[i, j] = (q_i · k_j + q_i · Rk[i, j]) * scale, softmax over j;
//   output  o_i = sum_j A[i, j] (v_j + Rv[i, j]).
// The (N, N, d) tensors R are never formed: q_i · Rk[i, j] = (q_i · Tk_v)[iv] + (q_i · Tk_h)[ih]
// (two [N, rows] products), and sum_j A[i, j] Rv[i, j] = Sv_i · Tv_v + Sh_i · Tv_h with Sv[i, r]
// the sum of A[i, j] over the keys j whose row is r (two [N, rows] x [rows, d] products). Only the
// rows that occur are read (0 and those of offsets up to s - 1): rows 1 and 2M + 1 of a 14 x 14
// grid with M = 14 never are. Per sample, per head, from a caller-provided workspace: no
// allocation, no weight copy.
#pragma once

#include <algorithm>

#include "evit/core/index.hpp"
#include "evit/kernels/epilogue.hpp"
#include "evit/kernels/gemm.hpp"
#include "evit/kernels/softmax.hpp"
#include "evit/simd/arch.hpp"
#include "evit/simd/isa.hpp"
#include "evit/simd/namespace.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace kernels {

/// One relative position encoding (keys or values): the vertical and horizontal tables, each
/// [2 M + 2, ld] row-major, of which the first `head_dim` columns are read.
template <class T>
struct rel_pos_tables {
  const T* vertical = nullptr;
  const T* horizontal = nullptr;
  Index ld = 0;            ///< row length of the tables (>= head_dim)
  Index max_relative = 0;  ///< M: offsets are clamped to [-M, M]
  Index rows() const { return 2 * max_relative + 2; }
};

/// Sizes of one call of rel_pos_attention_heads.
struct rel_pos_attention_config {
  Index tokens = 0;    ///< N = 1 + s * s (class token first)
  Index side = 0;      ///< s
  Index head_dim = 0;  ///< d (q, k and v width per head)
  Index heads = 0;     ///< h
  float scale = 1;     ///< applied to both logit terms
  /// Columns of head i's q, k, v in the qkv buffer: q at q_col0 + i d, k at k_col0 + i d, v at
  /// v_col0 + i d.
  Index q_col0 = 0, k_col0 = 0, v_col0 = 0;
};

/// Table row of query token i and key token j along one axis: 0 with the class token, else the
/// clamped offset of the patches' coordinates (a = i's, b = j's) plus M + 1.
inline Index rel_pos_row(Index i, Index j, Index a, Index b, Index max_relative) {
  if (i == 0 || j == 0) return 0;
  return std::min(std::max(b - a, -max_relative), max_relative) + max_relative + 1;
}

/// Workspace (elements of T) of rel_pos_attention_heads for `cfg` and tables of `rows` rows.
template <class Arch = simd::default_arch, class T = float>
constexpr Index rel_pos_attention_workspace_size(const rel_pos_attention_config& cfg, Index rows) {
  const Index N = cfg.tokens, d = cfg.head_dim;
  auto r16 = [](Index n) { return (n + 15) / 16 * 16; };
  return r16(d * N) + r16(N * N) + 4 * r16(N * rows) +
         r16(gemm_nn_workspace_size<Arch, T>(std::max({N, d, rows})));
}

/// Heads [head_begin, head_end) of one sample: out[:, i d : (i + 1) d] = the head's output, from
/// its q, k, v in `qkv` (N rows, ld ldqkv) and the key and value tables.
/// @param ws,ws_size this worker's rel_pos_attention_workspace_size(cfg, rows) elements.
/// @pre tokens == 1 + side², tables' ld >= head_dim, out does not overlap qkv or ws.
template <class Arch = simd::default_arch, class T>
void rel_pos_attention_heads(const rel_pos_attention_config& cfg, const T* qkv, Index ldqkv,
                             const rel_pos_tables<T>& rk, const rel_pos_tables<T>& rv,
                             Index head_begin, Index head_end, T* out, Index ldo, T* ws,
                             Index ws_size) {
  const Index N = cfg.tokens, d = cfg.head_dim, s = cfg.side, M = rk.max_relative;
  const Index rows = rk.rows();
  EVIT_ASSERT(N == 1 + s * s && d >= 1 && rk.ld >= d && rv.ld >= d && rv.rows() == rows);
  EVIT_ASSERT(0 <= head_begin && head_begin <= head_end && head_end <= cfg.heads);
  EVIT_ASSERT((ws_size >= rel_pos_attention_workspace_size<Arch, T>(cfg, rows)));
  (void)ws_size;
  auto r16 = [](Index n) { return (n + 15) / 16 * 16; };
  T* kt = ws;                   // kᵀ [d, N]
  T* sc = kt + r16(d * N);      // logits, then probabilities [N, N]
  T* qv = sc + r16(N * N);      // q · Tk_vᵀ [N, rows]
  T* qh = qv + r16(N * rows);   // q · Tk_hᵀ
  T* sv = qh + r16(N * rows);   // probabilities summed per vertical row [N, rows]
  T* sh = sv + r16(N * rows);   // ... per horizontal row
  T* aux = sh + r16(N * rows);  // gemm_nn scratch
  const Index aux_size = gemm_nn_workspace_size<Arch, T>(std::max({N, d, rows}));
  const T scale = static_cast<T>(cfg.scale);
  // Rows that patch pairs reach: offsets -(s - 1) .. s - 1, clamped to [-M, M].
  const Index lo = std::max<Index>(1, M + 1 - (s - 1)), hi = std::min<Index>(2 * M + 1, M + s);
  for (Index h = head_begin; h < head_end; ++h) {
    const T* q = qkv + cfg.q_col0 + h * d;
    const T* k = qkv + cfg.k_col0 + h * d;
    const T* v = qkv + cfg.v_col0 + h * d;
    for (Index n = 0; n < N; ++n)
      for (Index c = 0; c < d; ++c) kt[c * N + n] = k[n * ldqkv + c];
    gemm_nn<Arch>(N, N, d, q, ldqkv, kt, N, sc, N, epilogue<T>{}.with_alpha(scale), aux, aux_size);
    // Only the rows that occur: 0 (class token) and lo..hi.
    for (const T* table : {rk.vertical, rk.horizontal}) {
      T* dst = table == rk.vertical ? qv : qh;
      gemm_nt<Arch>(N, 1, d, q, ldqkv, table, rk.ld, dst, rows, epilogue<T>{}.with_alpha(scale));
      gemm_nt<Arch>(N, hi - lo + 1, d, q, ldqkv, table + lo * rk.ld, rk.ld, dst + lo, rows,
                    epilogue<T>{}.with_alpha(scale));
    }
    // Each row's softmax right after its bias, while the row is still in L1.
    for (Index i = 0; i < N; ++i) {
      T* row = sc + i * N;
      const T* a = qv + i * rows;
      const T* b = qh + i * rows;
      if (i == 0) {
        const T t = a[0] + b[0];
        for (Index j = 0; j < N; ++j) row[j] += t;
      } else {
        row[0] += a[0] + b[0];
        const Index yi = (i - 1) / s, xi = (i - 1) % s;
        for (Index yj = 0; yj < s; ++yj) {
          const T av = a[rel_pos_row(i, 1, yi, yj, M)];
          T* r = row + 1 + yj * s;
          for (Index xj = 0; xj < s; ++xj) r[xj] += av + b[rel_pos_row(i, 1, xi, xj, M)];
        }
      }
      detail::softmax_row<Arch>(row, N);
    }
    T* o = out + h * d;
    gemm_nn<Arch>(N, d, N, sc, N, v, ldqkv, o, ldo, epilogue<T>{}, aux, aux_size);
    // Probabilities summed per table row, keys in order.
    std::fill(sv, sv + N * rows, T(0));
    std::fill(sh, sh + N * rows, T(0));
    for (Index i = 0; i < N; ++i) {
      const T* p = sc + i * N;
      T* a = sv + i * rows;
      T* b = sh + i * rows;
      if (i == 0) {
        T t = 0;
        for (Index j = 0; j < N; ++j) t += p[j];
        a[0] = t;
        b[0] = t;
        continue;
      }
      a[0] += p[0];
      b[0] += p[0];
      const Index yi = (i - 1) / s, xi = (i - 1) % s;
      for (Index yj = 0; yj < s; ++yj) {
        const T* r = p + 1 + yj * s;
        T& av = a[rel_pos_row(i, 1, yi, yj, M)];
        for (Index xj = 0; xj < s; ++xj) {
          av += r[xj];
          b[rel_pos_row(i, 1, xi, xj, M)] += r[xj];
        }
      }
    }
    const auto acc = epilogue<T>{}.with_accumulate(true);
    for (const T* table : {rv.vertical, rv.horizontal}) {
      const T* sums = table == rv.vertical ? sv : sh;
      gemm_nn<Arch>(N, d, 1, sums, rows, table, rv.ld, o, ldo, acc, aux, aux_size);
      gemm_nn<Arch>(N, d, hi - lo + 1, sums + lo, rows, table + lo * rv.ld, rv.ld, o, ldo, acc, aux,
                    aux_size);
    }
  }
}

// The entry point for float: compiled once per ISA in a dispatching program (simd/isa.hpp), and
// run through simd::dispatch() when called with simd::dispatched.
#define EVIT_REL_POS_ATTENTION_INSTANCES(EXTERN, A)                                       \
  EXTERN template void rel_pos_attention_heads<A, float>(                                 \
      const rel_pos_attention_config&, const float*, Index, const rel_pos_tables<float>&, \
      const rel_pos_tables<float>&, Index, Index, float*, Index, float*, Index);
EVIT_FOR_EACH_DISPATCH_ARCH(EVIT_REL_POS_ATTENTION_INSTANCES)
#undef EVIT_REL_POS_ATTENTION_INSTANCES

template <>
inline void rel_pos_attention_heads<simd::dispatched, float>(
    const rel_pos_attention_config& cfg, const float* qkv, Index ldqkv,
    const rel_pos_tables<float>& rk, const rel_pos_tables<float>& rv, Index head_begin,
    Index head_end, float* out, Index ldo, float* ws, Index ws_size) {
  simd::dispatch([&](auto arch) {
    rel_pos_attention_heads<decltype(arch)>(cfg, qkv, ldqkv, rk, rv, head_begin, head_end, out, ldo,
                                            ws, ws_size);
  });
}

}  // namespace kernels
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
