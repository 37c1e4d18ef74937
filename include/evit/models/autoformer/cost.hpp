// SPDX-License-Identifier: MIT
// MACs and parameters of an AutoFormer subnet (a pre-norm ViT): 16x16 patch embedding, a class
// token and absolute position embedding, transformer layers (qkv and proj with bias, q/k/v width
// heads * head_dim, MLP with floor(ratio * width) hidden units), final LayerNorm and a linear
// classifier. AutoFormer's optional relative-position encodings are not counted.
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

}  // namespace autoformer
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
