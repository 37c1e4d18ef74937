// SPDX-License-Identifier: MIT
// Elastic multi-head self-attention on sliced supernet weights (docs/elasticvit.md#attention):
//   qkv      three row blocks of one weight, first `in` columns, each written into its column
//            range of one [N, h (2 dqk + dv)] buffer (kernels/linear.hpp, linear_blocks);
//   heads    ElasticViT's interleaved split (head i = columns [i S, (i + 1) S), S = 2 dqk + dv,
//            as q | k | v) or the standard blocked split (per-head prefixes of the Q, K, V
//            blocks, AutoFormer);
//   V conv   optional 3x3 depthwise conv of V over the token grid, channel i * dv + t;
//   logits   q kᵀ / sqrt(dqk) + optional relative-position bias (table indexed with Rmax, the
//            first h columns), softmax over keys;
//   output   o = concat_i(P v_i), optional activation (Hardswish), proj W_p[:out, :h dv] + b_p.
// Everything runs per sample from a caller-provided workspace (attention_workspace_size): no
// allocation, no weight copy. Read kernels/mlp.hpp next.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>

#include "evit/core/index.hpp"
#include "evit/kernels/activation.hpp"
#include "evit/kernels/conv.hpp"
#include "evit/kernels/epilogue.hpp"
#include "evit/kernels/gemm.hpp"
#include "evit/kernels/linear.hpp"
#include "evit/kernels/softmax.hpp"
#include "evit/kernels/transpose.hpp"
#include "evit/simd/arch.hpp"
#include "evit/simd/isa.hpp"
#include "evit/simd/namespace.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace kernels {

/// How the qkv output splits into heads.
enum class qkv_layout {
  interleaved,  ///< ElasticViT: view y as (N, h, 2 dqk + dv); head i = q_i | k_i | v_i
  blocked,      ///< standard: q_i, k_i, v_i are the i-th head_dim slices of the Q, K, V blocks
};

/// The supernet tensors of one attention layer, read in place. A layer with `in` active inputs
/// reads the first `in` columns of `qkv`; rows come from the three blocks below.
template <class T>
struct attention_weights {
  const T* qkv = nullptr;       ///< row-major [rows_max, in_max]
  Index qkv_ld = 0;             ///< in_max
  Index q_row0 = 0;             ///< first row of the Q block (0)
  Index k_row0 = 0;             ///< first row of the K block (ElasticViT: Cmax)
  Index v_row0 = 0;             ///< first row of the V block (ElasticViT: 2 Cmax)
  const T* qkv_bias = nullptr;  ///< supernet qkv bias (same row indexing) or nullptr
  const T* proj = nullptr;      ///< row-major [out_max, hdv_max]
  Index proj_ld = 0;            ///< hdv_max
  const T* proj_bias = nullptr;
  const T* rel_bias = nullptr;  ///< [(2 Rmax - 1)², Hmax] row-major, or nullptr
  Index rel_side_max = 0;       ///< Rmax: the stage's largest token-grid side
  Index rel_heads_max = 0;      ///< Hmax: columns of the table
  const T* v_conv = nullptr;    ///< depthwise weight [hdv_max, 1, 3, 3], or nullptr
  /// qkv and proj packed by pack_linear_weight (kernels/linear.hpp), or nullptr: when set, the
  /// products read them (linear_packed) instead of the row-major tensors.
  const T* qkv_packed = nullptr;
  const T* proj_packed = nullptr;

  /// ElasticViT's qkv blocks: Q rows from 0, K rows from Cmax, V rows from 2 Cmax, no bias.
  static attention_weights elasticvit(const T* qkv_w, Index c_max, const T* proj_w,
                                      Index proj_in_max, const T* proj_b) {
    attention_weights a;
    a.qkv = qkv_w;
    a.qkv_ld = c_max;
    a.q_row0 = 0;
    a.k_row0 = c_max;
    a.v_row0 = 2 * c_max;
    a.proj = proj_w;
    a.proj_ld = proj_in_max;
    a.proj_bias = proj_b;
    return a;
  }
  attention_weights& with_rel_bias(const T* table, Index side_max, Index heads_max) {
    rel_bias = table;
    rel_side_max = side_max;
    rel_heads_max = heads_max;
    return *this;
  }
  attention_weights& with_v_conv(const T* w) {
    v_conv = w;
    return *this;
  }
  attention_weights& with_packed(const T* qkv_p, const T* proj_p) {
    qkv_packed = qkv_p;
    proj_packed = proj_p;
    return *this;
  }
};

/// Active sizes of one attention call.
struct attention_config {
  Index tokens = 0;  ///< N per sample
  Index side = 0;    ///< token-grid side (side² = N); needed by rel_bias and v_conv
  Index in = 0;      ///< active input width C
  Index heads = 0;   ///< h
  Index qk_dim = 0;  ///< per-head q/k width dqk
  Index v_dim = 0;   ///< per-head v width dv
  Index out = 0;     ///< proj output width (normally C)
  qkv_layout layout = qkv_layout::interleaved;
  activation pre_proj = activation::none;  ///< ElasticViT: hardswish

  /// Fixed head dimension (ElasticViT): h = C / head_dim, dqk = head_dim * qk_scale,
  /// dv = head_dim * v_scale.
  static attention_config fixed_head_dim(Index side, Index C, Index head_dim, Index qk_scale = 1,
                                         Index v_scale = 1) {
    attention_config c;
    c.tokens = side * side;
    c.side = side;
    c.in = C;
    c.out = C;
    c.heads = C / head_dim;
    c.qk_dim = head_dim * qk_scale;
    c.v_dim = head_dim * v_scale;
    return c;
  }
  /// Fixed qkv width (heads vary, head_dim = qkv_width / heads; standard ViT / AutoFormer).
  static attention_config fixed_qkv_width(Index tokens, Index C, Index heads, Index qkv_width) {
    attention_config c;
    c.tokens = tokens;
    c.in = C;
    c.out = C;
    c.heads = heads;
    c.qk_dim = qkv_width / heads;
    c.v_dim = qkv_width / heads;
    c.layout = qkv_layout::blocked;
    return c;
  }
  attention_config& with_layout(qkv_layout l) {
    layout = l;
    return *this;
  }
  attention_config& with_pre_proj(activation a) {
    pre_proj = a;
    return *this;
  }
  /// Width of the qkv output: h (2 dqk + dv).
  Index qkv_width() const { return heads * (2 * qk_dim + v_dim); }
  /// Columns of head i's q, k, v inside the qkv output.
  Index q_col(Index i) const {
    return layout == qkv_layout::interleaved ? i * (2 * qk_dim + v_dim) : i * qk_dim;
  }
  Index k_col(Index i) const {
    return layout == qkv_layout::interleaved ? i * (2 * qk_dim + v_dim) + qk_dim
                                             : heads * qk_dim + i * qk_dim;
  }
  Index v_col(Index i) const {
    return layout == qkv_layout::interleaved ? i * (2 * qk_dim + v_dim) + 2 * qk_dim
                                             : 2 * heads * qk_dim + i * v_dim;
  }
};

/// Seconds spent per phase, accumulated over calls when a pointer is passed to attention().
struct attention_profile {
  double qkv = 0, v_conv = 0, scores = 0, softmax = 0, av = 0, proj = 0;
  double total() const { return qkv + v_conv + scores + softmax + av + proj; }
};

namespace detail {
/// Elements rounded up to 64 bytes, so that every carved buffer starts cache-line aligned
/// when the workspace does.
template <class T>
constexpr Index round_up64(Index n) {
  constexpr Index q = Index(64 / sizeof(T)) > 0 ? Index(64 / sizeof(T)) : 1;
  return (n + q - 1) / q * q;
}
}  // namespace detail

/// Per-sample buffers that the phases of one sample's attention share: the qkv output [N, S],
/// the V conv output [N, h dv] (when there is a V conv) and the head outputs [N, h dv].
template <class T>
struct attention_shared {
  T* qkv = nullptr;
  T* v_conv = nullptr;
  T* heads = nullptr;

  /// Elements of T that carve() takes for `cfg`.
  static constexpr Index size(const attention_config& cfg, bool with_v_conv = true) {
    const Index N = cfg.tokens, hdv = cfg.heads * cfg.v_dim;
    using detail::round_up64;
    return round_up64<T>(N * cfg.qkv_width()) + (with_v_conv ? round_up64<T>(N * hdv) : 0) +
           round_up64<T>(N * hdv);
  }
  /// Carves the buffers out of `buf` (size() elements).
  static attention_shared carve(const attention_config& cfg, bool with_v_conv, T* buf) {
    using detail::round_up64;
    const Index N = cfg.tokens, hdv = cfg.heads * cfg.v_dim;
    attention_shared s;
    s.qkv = buf;
    s.v_conv = with_v_conv ? buf + round_up64<T>(N * cfg.qkv_width()) : nullptr;
    s.heads = buf + round_up64<T>(N * cfg.qkv_width()) + (with_v_conv ? round_up64<T>(N * hdv) : 0);
    return s;
  }
};

/// Workspace (elements of T) of attention_heads() for `cfg`: one head's kᵀ, logits (rows in
/// whole vectors) and their 1 / sum, and the GEMM / V conv / bias-rows scratch. Each worker running
/// heads needs its own.
template <class Arch = simd::default_arch, class T = float>
constexpr Index attention_heads_workspace_size(const attention_config& cfg) {
  const Index N = cfg.tokens, side = cfg.side, grid = 2 * side - 1;
  using detail::round_up64;
  return round_up64<T>(cfg.qk_dim * N) + round_up64<T>(N * detail::whole_vectors<Arch, T>(N)) +
         round_up64<T>(N) +
         round_up64<T>(std::max({gemm_nn_workspace_size<Arch, T>(std::max(N, cfg.qk_dim)),
                                 depthwise_conv3x3_tokens_workspace_size(cfg.v_dim),
                                 side * grid * side + simd::lanes_v<T, Arch> + grid * grid}));
}

/// Workspace (elements of T) of attention() for `cfg`; independent of the batch size.
template <class Arch = simd::default_arch, class T = float>
constexpr Index attention_workspace_size(const attention_config& cfg, bool with_v_conv = true) {
  return attention_shared<T>::size(cfg, with_v_conv) + attention_heads_workspace_size<Arch, T>(cfg);
}

// The three phases of attention() on one sample. A caller that spreads one sample over several
// threads runs each phase in pieces (disjoint column or head ranges, any split gives the same
// result bit for bit) with a barrier between phases; attention() runs them whole.

/// Phase 1: columns [col_begin, col_end) of the qkv output sh.qkv [N, S] of one sample; with
/// `groups`, of groups.count samples at once (sample g's tokens at x + g * groups.x_stride, its
/// qkv output at sh.qkv + g * groups.y_stride): packed weights are then read once for all of
/// them (linear_packed), the same values as sample by sample.
template <class Arch = simd::default_arch, class T>
void attention_qkv(const attention_config& cfg, const attention_weights<T>& w, const T* x,
                   Index ldx, const attention_shared<T>& sh, Index col_begin, Index col_end,
                   row_groups groups = {}) {
  const Index h = cfg.heads, dqk = cfg.qk_dim, hdv = h * cfg.v_dim;
  EVIT_ASSERT(ldx >= cfg.in && cfg.in <= w.qkv_ld);
  EVIT_ASSERT(0 <= col_begin && col_begin <= col_end && col_end <= cfg.qkv_width());
  const row_block blocks[3] = {
      {w.q_row0, h * dqk, 0}, {w.k_row0, h * dqk, h * dqk}, {w.v_row0, hdv, 2 * h * dqk}};
  if (!w.qkv_packed) {
    for (Index g = 0; g < groups.count; ++g)
      linear_blocks<Arch>(cfg.tokens, cfg.in, x + g * groups.x_stride, ldx, w.qkv, w.qkv_ld,
                          w.qkv_bias, blocks, 3, sh.qkv + g * groups.y_stride, cfg.qkv_width(),
                          col_begin, col_end);
    return;
  }
  for (const row_block& blk : blocks) {
    const Index lo = std::max(col_begin, blk.y_col0), hi = std::min(col_end, blk.y_col0 + blk.rows);
    if (lo < hi)
      linear_packed<Arch>(cfg.tokens, cfg.in, hi - lo, x, ldx, w.qkv_packed, w.qkv_ld,
                          blk.w_row0 + (lo - blk.y_col0), w.qkv_bias, sh.qkv + lo, cfg.qkv_width(),
                          activation::none, false, groups);
  }
}

/// Phase 2: heads [head_begin, head_end) of one sample: V conv, logits, bias, softmax, P · V and
/// the pre-projection activation, into the heads' columns of sh.heads.
/// @param ws,ws_size this worker's attention_heads_workspace_size<Arch, T>(cfg) elements.
template <class Arch = simd::default_arch, class T>
void attention_heads(const attention_config& cfg, const attention_weights<T>& w,
                     const attention_shared<T>& sh, Index head_begin, Index head_end, T* ws,
                     Index ws_size, attention_profile* prof = nullptr) {
  const Index N = cfg.tokens, h = cfg.heads, dqk = cfg.qk_dim, dv = cfg.v_dim;
  const Index S = cfg.qkv_width(), hdv = h * dv;
  EVIT_ASSERT(N >= 1 && h >= 1 && dqk >= 1 && dv >= 1 && hdv <= w.proj_ld);
  EVIT_ASSERT((!w.rel_bias && !w.v_conv) || cfg.side * cfg.side == N);
  EVIT_ASSERT(!w.rel_bias || (cfg.side <= w.rel_side_max && h <= w.rel_heads_max));
  EVIT_ASSERT(0 <= head_begin && head_begin <= head_end && head_end <= h);
  EVIT_ASSERT(!w.v_conv || sh.v_conv != nullptr);
  EVIT_ASSERT((ws_size >= attention_heads_workspace_size<Arch, T>(cfg)));
  (void)ws_size;
  using detail::round_up64;
  const Index ldp = detail::whole_vectors<Arch, T>(N);  // logits rows in whole vectors
  const T* y = sh.qkv;
  T* kt = ws;                            // one head's kᵀ [dqk, N]
  T* sc = kt + round_up64<T>(dqk * N);   // one head's logits [N, ldp]
  T* inv = sc + round_up64<T>(N * ldp);  // 1 / sum of each row's exponentials [N]
  T* aux = inv + round_up64<T>(N);
  const Index side = cfg.side, grid = 2 * side - 1;
  const Index aux_size =
      round_up64<T>(std::max({gemm_nn_workspace_size<Arch, T>(std::max(N, dqk)),
                              depthwise_conv3x3_tokens_workspace_size(dv),
                              side * grid * side + simd::lanes_v<T, Arch> + grid * grid}));
  const T scale = T(1.0 / std::sqrt(double(dqk)));
  using clock = std::chrono::steady_clock;
  auto t0 = prof ? clock::now() : clock::time_point{};
  auto lap = [&](double attention_profile::*slot) {
    if (!prof) return;
    const auto t1 = clock::now();
    prof->*slot += std::chrono::duration<double>(t1 - t0).count();
    t0 = t1;
  };
  const Index R = w.rel_side_max, rel_w = 2 * R - 1;
  for (Index i = head_begin; i < head_end; ++i) {
    if (w.v_conv) {
      depthwise_conv3x3_tokens<Arch>(side, dv, y + cfg.v_col(i), S, w.v_conv + i * dv * 9,
                                     sh.v_conv + i * dv, hdv, aux, aux_size);
      lap(&attention_profile::v_conv);
    }
    // logits = (q_i · k_iᵀ) / sqrt(dqk): kᵀ is copied (dqk x N, activations only) so that the
    // product runs on gemm_nn's broadcast tile instead of 16-long dot products; in L x L blocks
    // (element by element, the copy was a fifth of this function's own time, perf).
    transpose<Arch>(N, dqk, y + cfg.k_col(i), S, kt, N);
    gemm_nn<Arch>(N, N, dqk, y + cfg.q_col(i), S, kt, N, sc, ldp, epilogue<T>{}.with_alpha(scale),
                  aux, aux_size);
    lap(&attention_profile::scores);
    // B_i[p, q] = table[(y1 - y2 + R - 1) (2R - 1) + (x1 - x2 + R - 1), i]. Only offsets
    // |y1 - y2|, |x1 - x2| < side occur: gather them once, flipped, into a grid
    // g[(y2 - y1 + side - 1) grid + (x2 - x1 + side - 1)], then copy, for each query column x1,
    // the side-wide windows g[a][side - 1 - x1 ..] of all rows a into G_x1 [grid, side]: the
    // bias of query (y1, x1) is then the contiguous run G_x1[side - 1 - y1 ..][..] of N values,
    // added to its logits as one vector stream.
    T* rows = aux;                                             // G_x1 for x1 = 0 .. side - 1
    T* g = aux + side * grid * side + simd::lanes_v<T, Arch>;  // after the rows' over-read
    if (w.rel_bias) {
      const Index hm = w.rel_heads_max;
      for (Index a = 0; a < grid; ++a)
        for (Index c = 0; c < grid; ++c)
          g[a * grid + c] =
              w.rel_bias[((side - 1 - a + R - 1) * rel_w + (side - 1 - c + R - 1)) * hm + i];
      for (Index x1 = 0; x1 < side; ++x1)
        for (Index a = 0; a < grid; ++a)
          std::copy(g + a * grid + side - 1 - x1, g + a * grid + 2 * side - 1 - x1,
                    rows + (x1 * grid + a) * side);
    }
    for (Index q = 0; q < N; ++q) {
      const T* bias =
          w.rel_bias ? rows + ((q % side) * grid + side - 1 - q / side) * side : nullptr;
      inv[q] = detail::softmax_row_unnormalised<Arch>(sc + q * ldp, bias, N);
    }
    lap(&attention_profile::softmax);
    // P · v_i, each row scaled by its 1 / sum in the epilogue (before the activation).
    const T* v = w.v_conv ? sh.v_conv + i * dv : y + cfg.v_col(i);
    const Index ldv = w.v_conv ? hdv : S;
    gemm_nn<Arch>(N, dv, N, sc, ldp, v, ldv, sh.heads + i * dv, hdv,
                  epilogue<T>{}.with_row_scale(inv).with_activation(cfg.pre_proj), aux, aux_size);
    lap(&attention_profile::av);
  }
}

/// Phase 3: output columns [col_begin, col_end) of one sample: out = [accumulate ? out : 0] +
/// proj(sh.heads); with `groups`, of groups.count samples at once (sample g's head outputs at
/// sh.heads + g * groups.x_stride, its output at out + g * groups.y_stride).
template <class Arch = simd::default_arch, class T>
void attention_proj(const attention_config& cfg, const attention_weights<T>& w,
                    const attention_shared<T>& sh, T* out, Index ldo, bool accumulate,
                    Index col_begin, Index col_end, row_groups groups = {}) {
  const Index hdv = cfg.heads * cfg.v_dim;
  EVIT_ASSERT(ldo >= cfg.out && hdv <= w.proj_ld);
  EVIT_ASSERT(0 <= col_begin && col_begin <= col_end && col_end <= cfg.out);
  if (w.proj_packed) {
    linear_packed<Arch>(cfg.tokens, hdv, col_end - col_begin, sh.heads, hdv, w.proj_packed,
                        w.proj_ld, col_begin, w.proj_bias, out + col_begin, ldo, activation::none,
                        accumulate, groups);
    return;
  }
  for (Index g = 0; g < groups.count; ++g)
    linear<Arch>(cfg.tokens, hdv, col_end - col_begin, sh.heads + g * groups.x_stride, hdv, w.proj,
                 w.proj_ld, col_begin, w.proj_bias, out + g * groups.y_stride + col_begin, ldo,
                 activation::none, accumulate);
}

/// Multi-head self-attention of `batch` samples of cfg.tokens tokens each:
/// out[b] = [accumulate ? out[b] : 0] + proj(act(concat_i softmax(q_i k_iᵀ / sqrt(dqk) + B_i)
/// v_i)).
/// @param x,ldx    input tokens, batch * N rows, ldx >= cfg.in.
/// @param out,ldo  output, batch * N rows, ldo >= cfg.out; may be the same buffer as x (each
///                 sample's inputs are consumed before its outputs are written).
/// @param ws,ws_size workspace of attention_workspace_size<Arch, T>(cfg, w.v_conv != nullptr).
/// @param prof     optional per-phase timing (adds clock reads; nullptr for none).
/// @pre cfg sizes >= 1; side * side == tokens if w.rel_bias or w.v_conv; side <= rel_side_max
///      and heads <= rel_heads_max with a bias table.
template <class Arch = simd::default_arch, class T>
void attention(Index batch, const attention_config& cfg, const attention_weights<T>& w, const T* x,
               Index ldx, T* out, Index ldo, bool accumulate, T* ws, Index ws_size,
               attention_profile* prof = nullptr) {
  const Index N = cfg.tokens;
  EVIT_ASSERT(batch >= 0 && N >= 1 && cfg.heads >= 1 && cfg.in >= 1);
  EVIT_ASSERT((ws_size >= attention_workspace_size<Arch, T>(cfg, w.v_conv != nullptr)));
  const bool vc = w.v_conv != nullptr;
  const auto sh = attention_shared<T>::carve(cfg, vc, ws);
  T* heads_ws = ws + attention_shared<T>::size(cfg, vc);
  const Index heads_ws_size = ws_size - attention_shared<T>::size(cfg, vc);
  using clock = std::chrono::steady_clock;
  for (Index b = 0; b < batch; ++b) {
    auto t0 = prof ? clock::now() : clock::time_point{};
    attention_qkv<Arch>(cfg, w, x + b * N * ldx, ldx, sh, 0, cfg.qkv_width());
    if (prof) prof->qkv += std::chrono::duration<double>(clock::now() - t0).count();
    attention_heads<Arch>(cfg, w, sh, 0, cfg.heads, heads_ws, heads_ws_size, prof);
    if (prof) t0 = clock::now();
    attention_proj<Arch>(cfg, w, sh, out + b * N * ldo, ldo, accumulate, 0, cfg.out);
    if (prof) prof->proj += std::chrono::duration<double>(clock::now() - t0).count();
  }
}

// The entry points for float: compiled once per ISA in a dispatching program (simd/isa.hpp),
// and run through simd::dispatch() when called with simd::dispatched.
#define EVIT_ATTENTION_INSTANCES(EXTERN, A)                                                     \
  EXTERN template void attention<A, float>(                                                     \
      Index, const attention_config&, const attention_weights<float>&, const float*, Index,     \
      float*, Index, bool, float*, Index, attention_profile*);                                  \
  EXTERN template void attention_qkv<A, float>(                                                 \
      const attention_config&, const attention_weights<float>&, const float*, Index,            \
      const attention_shared<float>&, Index, Index, row_groups);                                \
  EXTERN template void attention_heads<A, float>(                                               \
      const attention_config&, const attention_weights<float>&, const attention_shared<float>&, \
      Index, Index, float*, Index, attention_profile*);                                         \
  EXTERN template void attention_proj<A, float>(                                                \
      const attention_config&, const attention_weights<float>&, const attention_shared<float>&, \
      float*, Index, bool, Index, Index, row_groups);
EVIT_FOR_EACH_DISPATCH_ARCH(EVIT_ATTENTION_INSTANCES)
#undef EVIT_ATTENTION_INSTANCES

template <>
inline void attention<simd::dispatched, float>(Index batch, const attention_config& cfg,
                                               const attention_weights<float>& w, const float* x,
                                               Index ldx, float* out, Index ldo, bool accumulate,
                                               float* ws, Index ws_size, attention_profile* prof) {
  simd::dispatch([&](auto arch) {
    attention<decltype(arch)>(batch, cfg, w, x, ldx, out, ldo, accumulate, ws, ws_size, prof);
  });
}

template <>
inline void attention_qkv<simd::dispatched, float>(
    const attention_config& cfg, const attention_weights<float>& w, const float* x, Index ldx,
    const attention_shared<float>& sh, Index col_begin, Index col_end, row_groups groups) {
  simd::dispatch([&](auto arch) {
    attention_qkv<decltype(arch)>(cfg, w, x, ldx, sh, col_begin, col_end, groups);
  });
}

template <>
inline void attention_heads<simd::dispatched, float>(const attention_config& cfg,
                                                     const attention_weights<float>& w,
                                                     const attention_shared<float>& sh,
                                                     Index head_begin, Index head_end, float* ws,
                                                     Index ws_size, attention_profile* prof) {
  simd::dispatch([&](auto arch) {
    attention_heads<decltype(arch)>(cfg, w, sh, head_begin, head_end, ws, ws_size, prof);
  });
}

template <>
inline void attention_proj<simd::dispatched, float>(const attention_config& cfg,
                                                    const attention_weights<float>& w,
                                                    const attention_shared<float>& sh, float* out,
                                                    Index ldo, bool accumulate, Index col_begin,
                                                    Index col_end, row_groups groups) {
  simd::dispatch([&](auto arch) {
    attention_proj<decltype(arch)>(cfg, w, sh, out, ldo, accumulate, col_begin, col_end, groups);
  });
}

}  // namespace kernels
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
