// SPDX-License-Identifier: MIT
// ElasticViT cost counts: the official MACs count (quirks included: it defines the FLOPs levels
// and search windows; docs/elasticvit.md#the-official-macs-count), the count of what a subnet
// really computes, and the number of parameters a subnet touches. All follow the space they are
// given (official or mini).
#pragma once

#include <cstdint>
#include <string>

#include "evit/core/error.hpp"
#include "evit/models/elasticvit/space.hpp"
#include "evit/simd/namespace.hpp"
#include "evit/space/arch.hpp"
#include "evit/space/descriptor.hpp"
#include "evit/space/search_space.hpp"
#include "evit/space/validate.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace elasticvit {

/// Throws evit::error unless `d` has ElasticViT's structure: one input_conv, then conv stages,
/// then transformer stages with a fixed head dim (num_heads = width / head_dim).
inline void check_elasticvit_family(const space_descriptor& d) {
  bool ok = d.num_stages() >= 2 && d.stages[0].kind == stage_kind::input_conv;
  bool seen_transformer = false;
  for (int s = 1; ok && s < d.num_stages(); ++s) {
    const stage_descriptor& st = d.stages[s];
    if (st.kind == stage_kind::input_conv) ok = false;
    if (st.kind == stage_kind::transformer) {
      seen_transformer = true;
      ok = st.heads == head_semantics::width_over_dim;
    } else if (seen_transformer) {
      ok = false;  // a conv stage after a transformer stage
    }
  }
  if (!ok || d.constants.head_expand <= 0 || d.constants.head_hidden <= 0 ||
      d.constants.num_classes <= 0)
    throw error("space " + d.name +
                " is not an ElasticViT-family space (input_conv, conv stages, transformer stages "
                "with head_dim<D>, and head_expand, head_hidden, num_classes constants)");
}

namespace detail {

enum class count_kind { official, corrected, params };

/// One walk over the subnet for all three counts, so their structures cannot drift apart.
inline std::int64_t count(const space_descriptor& d, const arch& a, count_kind kind) {
  using i64 = std::int64_t;
  const bool official = kind == count_kind::official;
  const bool params = kind == count_kind::params;
  const int R = a.resolution();
  i64 total = 0;

  // First conv: 3 -> Cf, k x k, stride 2 (+ BN affine for params).
  const int cf = a.width(0);
  const i64 k0 = a.stage_layers(0)[0].kernel_size;
  i64 side = d.stages[0].stride == 2 ? (R + 1) / 2 : R;
  total += params ? (3 * cf * k0 * k0 + 2 * cf) : (3 * cf * side * side * k0 * k0);

  // One MBConv layer: cin -> inner = cin * e -> c, k x k depthwise, stride, side_in -> side_out.
  auto mbconv = [&](i64 cin, i64 c, i64 e, i64 k, bool has_pw, bool se, int stride, i64 side_in,
                    i64 side_out, bool reduction_block) {
    const i64 inner = cin * e;
    const i64 n_out = side_out * side_out;
    // The official count assumes the reduction block's input side is exactly 2r (or r).
    const i64 pw_side = (official && reduction_block) ? (stride == 2 ? 2 * side_out : side_out)
                        : (official && stride == 2)   ? 2 * side_out
                                                      : side_in;
    if (params) {
      i64 p = inner * k * k + 2 * inner + inner * c + 2 * c;
      if (has_pw) p += cin * inner + 2 * inner;
      if (se) p += 2 * inner * (inner / 4) + inner / 4 + inner;
      if (cin != c) p += c * cin;
      return p;
    }
    i64 m = inner * k * k * n_out + inner * c * n_out;
    if (has_pw) m += cin * inner * pw_side * pw_side;
    if (official) {
      // Quirks: the reduction block's SE and shortcut are not counted; an MBConv layer counts a
      // cin x c shortcut whenever it has stride 2, even when cin == c.
      if (se && !reduction_block) m += 2 * inner * (inner / 4);
      if (stride == 2 && !reduction_block) m += cin * c * n_out;
    } else {
      if (se) m += 2 * inner * (inner / 4) + 2 * inner * n_out;  // pool, fc1, fc2, scale
      if (stride == 2) m += 4 * cin * n_out;                     // 2x2 average pool
      if (cin != c) m += cin * c * n_out;                        // 1x1 shortcut conv
    }
    return m;
  };

  i64 cin = cf;
  for (int s = 1; s < d.num_stages(); ++s) {
    const stage_descriptor& st = d.stages[s];
    const i64 c = a.width(s);
    const i64 side_in = side;
    if (st.stride == 2) side = (side + 1) / 2;  // as space_descriptor::side_after
    const i64 n = side * side;
    const layer_dims* layers = a.stage_layers(s);
    for (int j = 0; j < a.depth(s); ++j) {
      const layer_dims& l = layers[j];
      const int stride = j == 0 ? st.stride : 1;
      const i64 layer_in_side = j == 0 ? side_in : side;
      if (st.kind == stage_kind::conv) {
        // The 1x1 expansion exists only when the stage can expand (the stem's max is 1).
        const bool has_pw = st.expand_ratio.back() > 1;
        total += mbconv(cin, c, l.expand_ratio, l.kernel_size, has_pw, st.squeeze_excite, stride,
                        layer_in_side, side, false);
      } else {
        if (j == 0)  // layer 0's reduction MBConv: expansion 6, 3x3, SE
          total += mbconv(cin, c, 6, 3, true, true, stride, layer_in_side, side, true);
        const i64 h = l.num_heads;
        const i64 dqk = static_cast<i64>(st.head_dim) * l.qk_scale;
        const i64 dv = static_cast<i64>(st.head_dim) * l.v_scale;
        const i64 hidden = l.mlp_ratio.floor_times(c);
        if (params) {
          const i64 span = 2 * side - 1;  // relative offsets touched on a side x side grid
          total += 2 * c + (2 * h * dqk + h * dv) * c + h * dv * 9 + span * span * h + c * h * dv +
                   c;                                             // attention
          total += 2 * c + c * hidden + hidden + hidden * c + c;  // FFN
        } else {
          total += h * n * n * dqk + h * n * n + h * dv * n * n;     // QK^T, softmax, AV
          total += c * n * (2 * h * dqk + h * dv) + n * h * dv * c;  // qkv, proj
          total += official ? n * h * dv : 9 * n * h * dv;           // 3x3 depthwise conv on V
          total += 2 * c * hidden * n;                               // FFN
        }
      }
      cin = c;
    }
  }

  // MBv3 head: per-token Linear c -> e*c + BN + Hardswish, mean over tokens, Linear -> hidden,
  // Hardswish, Linear -> classes.
  const i64 c = a.width(d.num_stages() - 1);
  const i64 e = d.constants.head_expand, hid = d.constants.head_hidden,
            cls = d.constants.num_classes;
  const i64 n = side * side;
  if (params) {
    total += c * e * c + e * c + 2 * e * c + e * c * hid + hid + hid * cls + cls;
  } else {
    total += c * e * c * n + e * c * hid + hid * cls;
    if (!official) total += e * c * n;  // mean pool
  }
  return total;
}

}  // namespace detail

/// The official MACs count (the official code calls it FLOPs), quirks included: the
/// depthwise conv on V counted without its x9, the reduction block's SE and shortcut not counted,
/// a stride-2 MBConv's shortcut counted even when widths match, the reduction block's input side
/// taken as 2r. Equal to the official `compute_flops` (times 1e6) for every subnet.
/// @throws evit::invalid_arch if `a` is not in the space.
inline double macs(const space_descriptor& d, const arch& a) {
  check_elasticvit_family(d);
  validate(d, a);
  return static_cast<double>(detail::count(d, a, detail::count_kind::official));
}

/// What the subnet really computes, in MACs: the depthwise conv on V with its x9; SE (pool, two
/// 1x1 convs, scale), the stride-2 average pool and the 1x1 shortcut conv of every MBConv,
/// including the reduction blocks, at their real input sides; the head's mean pool. Norms,
/// activations, bias and residual adds are not counted.
inline double macs_corrected(const space_descriptor& d, const arch& a) {
  check_elasticvit_family(d);
  validate(d, a);
  return static_cast<double>(detail::count(d, a, detail::count_kind::corrected));
}

/// The number of parameters the subnet's sliced forward pass touches: weights, biases, BN/LN
/// affine parameters (not running statistics), and the relative-position bias entries of its
/// token grid ((2r - 1)^2 per head).
inline double params(const space_descriptor& d, const arch& a) {
  check_elasticvit_family(d);
  validate(d, a);
  return static_cast<double>(detail::count(d, a, detail::count_kind::params));
}

/// The official MACs count without validating `a` (for samplers that only create valid archs and
/// call it millions of times). @pre `a` is valid in `d` and `d` is an ElasticViT-family space.
inline double macs_unchecked(const space_descriptor& d, const arch& a) {
  return static_cast<double>(detail::count(d, a, detail::count_kind::official));
}

/// The official MACs count of `a` in space Space (the official space by default).
template <class Space = official_space>
double macs(const arch& a) {
  return macs(Space::descriptor(), a);
}
/// The corrected MACs count of `a` in space Space.
template <class Space = official_space>
double macs_corrected(const arch& a) {
  return macs_corrected(Space::descriptor(), a);
}
/// The parameters `a` touches in space Space.
template <class Space = official_space>
double params(const arch& a) {
  return params(Space::descriptor(), a);
}

/// The official MACs count as a cost model object: callable as double(const arch&), monotone
/// (a larger choice in any dimension never lowers it), of space Space (a search or sampler over
/// another space does not compile: cost/cost_model.hpp).
template <class Space = official_space>
struct macs_model {
  using space_type = Space;
  static constexpr bool monotone = true;
  double operator()(const arch& a) const { return macs(Space::descriptor(), a); }
};
/// The parameter count as a monotone cost model object.
template <class Space = official_space>
struct params_model {
  using space_type = Space;
  static constexpr bool monotone = true;
  double operator()(const arch& a) const { return params(Space::descriptor(), a); }
};

}  // namespace elasticvit
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
