// SPDX-License-Identifier: MIT
// MACs and parameters of an AutoFormer subnet (a pre-norm ViT): 16x16 patch embedding, a class
// token and absolute position embedding, transformer layers (qkv and proj with bias, q/k/v width
// heads * head_dim, MLP with floor(ratio * width) hidden units), final LayerNorm and a linear
// classifier. AutoFormer's optional relative-position encodings are not counted by macs() and
// params(); official_params() and official_flops() are the official code's counts
// (get_sampled_params_numel, get_complexity) with the relative-position tables, quirks included,
// and macs_corrected() is what evit's forward of the official model computes.
#pragma once

#include <cstdint>

#include "evit/core/error.hpp"
#include "evit/simd/namespace.hpp"
#include "evit/space/arch.hpp"
#include "evit/space/descriptor.hpp"
#include "evit/space/validate.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace autoformer {

/// M of the official model's relative-position tables (max_relative_position = 14: 2M + 2 = 30
/// rows of 64 per table, four tables per block).
inline constexpr int official_max_relative_position = 14;

namespace detail {
inline void check_family(const space_descriptor& d) {
  if (d.num_stages() != 1 || d.stages[0].kind != stage_kind::transformer ||
      d.stages[0].heads != head_semantics::chosen_fixed_dim || d.constants.patch_size <= 0 ||
      d.constants.num_classes <= 0)
    throw error("space " + d.name +
                " is not an AutoFormer-family space (one transformer_stage with head_dim<D> and "
                "num_heads<...>, and patch_size, num_classes constants)");
}
inline std::int64_t count(const space_descriptor& d, const arch& a, bool params) {
  using i64 = std::int64_t;
  check_family(d);
  validate(d, a);
  const i64 p = d.constants.patch_size, cls = d.constants.num_classes;
  const i64 e = a.width(0), hd = d.stages[0].head_dim;
  const i64 side = a.resolution() / p;
  const i64 n = side * side + 1;  // patches + class token
  i64 total = params ? (3 * p * p * e + e) + e + n * e : side * side * 3 * p * p * e;
  for (int j = 0; j < a.depth(0); ++j) {
    const layer_dims& l = a.layer(0, j);
    const i64 q = l.num_heads * hd;  // q, k and v width
    const i64 hidden = l.mlp_ratio.floor_times(e);
    if (params) {
      total += 2 * e + e * 3 * q + 3 * q + q * e + e;         // LN, qkv, proj
      total += 2 * e + e * hidden + hidden + hidden * e + e;  // LN, fc1, fc2
    } else {
      total += n * e * 3 * q + 2 * n * n * q + n * q * e;  // qkv, QK^T and AV, proj
      total += 2 * n * e * hidden;                         // fc1, fc2
    }
  }
  total += params ? 2 * e + e * cls + cls : e * cls;  // final LN, classifier on the class token
  return total;
}
}  // namespace detail

/// MACs of `a` in an AutoFormer-family space `d`.
inline double macs(const space_descriptor& d, const arch& a) {
  return static_cast<double>(detail::count(d, a, false));
}
/// Parameters `a` touches in an AutoFormer-family space `d`.
inline double params(const space_descriptor& d, const arch& a) {
  return static_cast<double>(detail::count(d, a, true));
}

/// The official parameter count, `get_sampled_params_numel(config)` of Vision_TransformerSuper
/// (what the official evolution's parameter limits use): params() plus, per active block, the
/// four relative-position tables counted whole (4 x (2M + 2) x head_dim).
inline double official_params(const space_descriptor& d, const arch& a) {
  const std::int64_t rel = 4 * (2 * official_max_relative_position + 2) * d.stages[0].head_dim;
  return params(d, a) + static_cast<double>(a.depth(0) * rel);
}

/// The official FLOPs count, `get_complexity(sequence_length)` of Vision_TransformerSuper called
/// with the number of patches (196 at 224), off-by-ones copied: the patch embedding `E + P 3p²E`
/// (P patches), the position embedding `(P + 1) E / 2`, per block with t = P + 2 tokens (the model
/// passes P + 1 and the block adds 1 again) `2tE + 3tQE + 2t²Q + tEQ + (Mt² + t²/2) + (Mt² + tQ/2)
/// + 2tFE`, and the classifier on every token `(P + 1) nc E`; the final norm is not counted.
inline double official_flops(const space_descriptor& d, const arch& a) {
  detail::check_family(d);
  validate(d, a);
  const double p = d.constants.patch_size, nc = d.constants.num_classes;
  const double e = a.width(0), hd = d.stages[0].head_dim, m = official_max_relative_position;
  const double side = a.resolution() / d.constants.patch_size, np = side * side;
  double total = e + np * 3 * p * p * e + (np + 1) * e / 2;
  const double t = np + 2;
  for (int j = 0; j < a.depth(0); ++j) {
    const layer_dims& l = a.layer(0, j);
    const double q = l.num_heads * hd, f = static_cast<double>(l.mlp_ratio.floor_times(a.width(0)));
    total += 2 * t * e + 3 * t * q * e + 2 * t * t * q + t * e * q + (m * t * t + t * t / 2) +
             (m * t * t + t * q / 2) + 2 * t * f * e;
  }
  return total + (np + 1) * nc * e;
}

/// The multiply-accumulates evit's forward of the official model performs: macs() plus, per
/// block, the relative-position terms on keys and values (2 N² Q with N = P + 1 tokens: q against
/// every key's table row, and the probabilities against every value's), with the classifier on
/// the pooled vector (E nc, as macs() counts it).
inline double macs_corrected(const space_descriptor& d, const arch& a) {
  const double side = a.resolution() / d.constants.patch_size, n = side * side + 1;
  double rel = 0;
  for (int j = 0; j < a.depth(0); ++j)
    rel += 2 * n * n * a.layer(0, j).num_heads * static_cast<double>(d.stages[0].head_dim);
  return macs(d, a) + rel;
}

}  // namespace autoformer
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
