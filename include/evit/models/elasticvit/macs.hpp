// SPDX-License-Identifier: MIT
// ElasticViT cost counts: the official MACs count (quirks included: it defines the FLOPs levels
// and search windows; docs/elasticvit.md#the-official-macs-count), the count of what a subnet
// really computes, and the number of parameters a subnet touches. All follow the space they are
// given (official or mini).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "evit/core/error.hpp"
#include "evit/models/elasticvit/plan.hpp"
#include "evit/models/elasticvit/space.hpp"
#include "evit/simd/namespace.hpp"
#include "evit/space/arch.hpp"
#include "evit/space/descriptor.hpp"
#include "evit/space/search_space.hpp"
#include "evit/space/validate.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace elasticvit {

namespace detail {

enum class count_kind { official, corrected, params };

/// MACs (official or corrected) or parameters of one MBConv layer or reduction block.
inline std::int64_t mbconv_count(const block& b, count_kind kind) {
  using i64 = std::int64_t;
  const bool official = kind == count_kind::official;
  const bool reduction = b.kind == block_kind::reduction;
  const i64 cin = b.cin, c = b.cout, k = b.kernel, inner = i64(b.cin) * b.expand;
  const i64 squeezed = inner / model_fixed::se_divisor;
  if (kind == count_kind::params) {
    i64 p = inner * k * k + 2 * inner + inner * c + 2 * c;
    if (b.has_pw) p += cin * inner + 2 * inner;
    if (b.se) p += 2 * inner * squeezed + squeezed + inner;
    if (cin != c) p += c * cin;
    return p;
  }
  const i64 n_out = i64(b.side) * b.side;
  // The official count assumes the reduction block's input side is exactly 2r (or r), and every
  // stride-2 MBConv's too.
  const i64 pw_side = (official && reduction)       ? (b.stride == 2 ? 2 * b.side : b.side)
                      : (official && b.stride == 2) ? 2 * b.side
                                                    : b.side_in;
  i64 m = inner * k * k * n_out + inner * c * n_out;
  if (b.has_pw) m += cin * inner * pw_side * pw_side;
  if (official) {
    // Quirks: the reduction block's SE and shortcut are not counted; an MBConv layer counts a
    // cin x c shortcut whenever it has stride 2, even when cin == c.
    if (b.se && !reduction) m += 2 * inner * squeezed;
    if (b.stride == 2 && !reduction) m += cin * c * n_out;
  } else {
    if (b.se) m += 2 * inner * squeezed + 2 * inner * n_out;  // pool, fc1, fc2, scale
    if (b.stride == 2) m += 4 * cin * n_out;                  // 2x2 average pool
    if (cin != c) m += cin * c * n_out;                       // 1x1 shortcut conv
  }
  return m;
}

/// MACs (official or corrected) or parameters of one block.
inline std::int64_t block_count(const block& b, count_kind kind) {
  using i64 = std::int64_t;
  const bool official = kind == count_kind::official;
  const bool params = kind == count_kind::params;
  const i64 n = i64(b.side) * b.side;
  switch (b.kind) {
    case block_kind::first_conv: {  // 3 -> Cf, k x k (+ BN affine for params)
      const i64 k = b.kernel, cf = b.cout;
      return params ? 3 * cf * k * k + 2 * cf : 3 * cf * n * k * k;
    }
    case block_kind::conv:
    case block_kind::reduction:
      return mbconv_count(b, kind);
    case block_kind::attention: {
      const i64 c = b.cout, h = b.heads, dqk = b.qk_dim(), dv = b.v_dim();
      const i64 vk = model_fixed::v_conv_kernel * model_fixed::v_conv_kernel;
      if (params) {
        const i64 span = 2 * i64(b.side) - 1;  // relative offsets touched on a side x side grid
        return 2 * c + (2 * h * dqk + h * dv) * c + h * dv * vk + span * span * h + c * h * dv + c;
      }
      return h * n * n * dqk + h * n * n + h * dv * n * n       // QK^T, softmax, AV
             + c * n * (2 * h * dqk + h * dv) + n * h * dv * c  // qkv, proj
             + (official ? n * h * dv : vk * n * h * dv);  // depthwise conv on V (official: no x9)
    }
    case block_kind::ffn: {
      const i64 c = b.cout, hidden = b.hidden;
      return params ? 2 * c + c * hidden + hidden + hidden * c + c : 2 * c * hidden * n;
    }
    case block_kind::head: {  // per-token Linear c -> e*c + BN + Hardswish, mean, Linear, Linear
      const i64 c = b.cin, e = b.expand, hid = b.hidden, cls = b.classes;
      if (params) return c * e * c + e * c + 2 * e * c + e * c * hid + hid + hid * cls + cls;
      return c * e * c * n + e * c * hid + hid * cls + (official ? 0 : e * c * n);  // + mean pool
    }
  }
  return 0;
}

/// The three counts over the subnet's plan (one walk, so they cannot drift apart).
inline std::int64_t count(const space_descriptor& d, const arch& a, count_kind kind) {
  std::int64_t total = 0;
  for_each_block(d, a, [&](const block& b) { total += block_count(b, kind); });
  return total;
}

}  // namespace detail

/// The official MACs count of one block of a plan (their sum is elasticvit::macs).
inline double block_macs(const block& b) {
  return static_cast<double>(detail::block_count(b, detail::count_kind::official));
}
/// What one block really computes, in MACs (their sum is elasticvit::macs_corrected).
inline double block_macs_corrected(const block& b) {
  return static_cast<double>(detail::block_count(b, detail::count_kind::corrected));
}
/// The parameters one block touches (their sum is elasticvit::params).
inline double block_params(const block& b) {
  return static_cast<double>(detail::block_count(b, detail::count_kind::params));
}

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

/// A plan as a table: one row per block with its kind, stage/layer, input and output shapes, its
/// dimensions, official MMACs and parameters, and a total row (equal to elasticvit::macs and
/// elasticvit::params of the subnet). What `run_subnet --plan` prints.
inline std::string plan_table(const plan& p) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-3s %-10s %-6s %-16s %-16s %-28s %10s %9s\n", "#", "block",
                "stage", "input", "output", "dims", "MMACs", "params K");
  out += line;
  double macs_sum = 0, params_sum = 0;
  int i = 0;
  for (const block& b : p.blocks()) {
    auto shape = [](bool tokens, int c, int side) {
      return tokens ? std::to_string(side * side) + "x" + std::to_string(c)
                    : std::to_string(c) + "x" + std::to_string(side) + "x" + std::to_string(side);
    };
    bool tokens_in = b.tokens_in, tokens_out = false;
    std::string dims;
    switch (b.kind) {
      case block_kind::first_conv:
        dims = "k" + std::to_string(b.kernel) + " s" + std::to_string(b.stride);
        break;
      case block_kind::conv:
      case block_kind::reduction:
        dims = "e" + std::to_string(b.expand) + " k" + std::to_string(b.kernel) + " s" +
               std::to_string(b.stride) + (b.se ? " se" : "");
        tokens_out = b.kind == block_kind::reduction;
        break;
      case block_kind::attention:
        dims = "h" + std::to_string(b.heads) + " dqk" + std::to_string(b.qk_dim()) + " dv" +
               std::to_string(b.v_dim());
        tokens_in = tokens_out = true;
        break;
      case block_kind::ffn:
        dims = "hidden " + std::to_string(b.hidden);
        tokens_in = tokens_out = true;
        break;
      case block_kind::head:
        dims = "e" + std::to_string(b.expand) + " hidden " + std::to_string(b.hidden);
        tokens_in = true;
        break;
    }
    const std::string in = shape(tokens_in, b.cin, b.side_in);
    const std::string outs =
        b.kind == block_kind::head ? std::to_string(b.classes) : shape(tokens_out, b.cout, b.side);
    const std::string where =
        b.stage < 0 ? "-" : std::to_string(b.stage) + "." + std::to_string(b.layer);
    const double m = block_macs(b) / 1e6, k = block_params(b) / 1e3;
    macs_sum += m;
    params_sum += k;
    std::snprintf(line, sizeof line, "%-3d %-10s %-6s %-16s %-16s %-28s %10.3f %9.1f\n", i++,
                  block_kind_name(b.kind), where.c_str(), in.c_str(), outs.c_str(), dims.c_str(), m,
                  k);
    out += line;
  }
  std::snprintf(line, sizeof line, "%-3s %-10s %-6s %-16s %-16s %-28s %10.3f %9.1f\n", "", "total",
                "", "", "", "", macs_sum, params_sum);
  out += line;
  return out;
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
