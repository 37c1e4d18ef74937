// SPDX-License-Identifier: MIT
// A subnet's plan: its blocks in forward order, each with its kind, geometry (input and output
// sides, channels, stride), its chosen dimensions, and the supernet sizes of the tensors it slices
// (docs/elasticvit.md). Built once from (space descriptor, arch), it is the one walk over a
// subnet: the forward pass runs it block by block, the MACs and parameter counts, the memory
// footprint, the workspace sizes, the supernet's tensor list, the latency tables' keys and the
// block profiler all read it. Read macs.hpp next (what each block costs).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "evit/core/error.hpp"
#include "evit/core/rational.hpp"
#include "evit/simd/namespace.hpp"
#include "evit/space/arch.hpp"
#include "evit/space/descriptor.hpp"
#include "evit/space/validate.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace elasticvit {

/// ElasticViT's fixed numbers, named once (docs/elasticvit.md).
struct model_fixed {
  static constexpr int reduction_expand = 6;  ///< a transformer stage's layer-0 reduction MBConv
  static constexpr int reduction_kernel = 3;
  static constexpr int se_divisor = 4;      ///< squeeze-excite width: expanded channels / 4
  static constexpr int v_conv_kernel = 3;   ///< the depthwise conv on V
  static constexpr float norm_eps = 1e-5f;  ///< every BatchNorm and the per-sample norms
};

/// The block kinds of ElasticViT, in the order a forward meets them.
enum class block_kind : std::uint8_t { first_conv, conv, reduction, attention, ffn, head };

constexpr const char* block_kind_name(block_kind k) noexcept {
  switch (k) {
    case block_kind::first_conv:
      return "first_conv";
    case block_kind::conv:
      return "mbconv";
    case block_kind::reduction:
      return "reduction";
    case block_kind::attention:
      return "attention";
    case block_kind::ffn:
      return "ffn";
    case block_kind::head:
      return "head";
  }
  return "?";
}

/// One block of a subnet. Shapes are per sample: NCHW planes up to and including a transformer
/// stage's reduction MBConv, tokens [side * side, C] after it.
struct block {
  block_kind kind = block_kind::conv;
  int stage = -1;  ///< stage index in the space (-1 for the head)
  int layer = 0;   ///< layer within the stage
  bool last_in_stage = false;
  bool tokens_in = false;  ///< the input arrives as tokens (a reduction after a transformer stage)
  int side_in = 0;         ///< input feature-map side
  int side = 0;            ///< output feature-map side
  int cin = 0;             ///< input channels
  int cout = 0;            ///< output channels (C for attention and FFN; classes for the head)
  int stride = 1;          ///< first conv, MBConv
  int kernel = 0;          ///< first conv and depthwise kernel
  int expand = 0;          ///< MBConv expansion; the head's per-token expansion
  bool has_pw = false;     ///< MBConv 1x1 expansion (absent when the stage cannot expand)
  bool se = false;         ///< MBConv squeeze-excite
  int heads = 0;           ///< attention
  int head_dim = 0;        ///< attention: q/k/v per-head unit
  int qk_scale = 0;        ///< attention
  int v_scale = 0;         ///< attention
  rational mlp_ratio{};    ///< FFN
  int hidden = 0;          ///< FFN: floor(mlp_ratio * C); head: hidden width
  int classes = 0;         ///< head

  /// The supernet sizes of the tensors the block slices (their leading dimensions).
  struct supernet_sizes {
    int in = 0;        ///< MBConv input channels (max over the stage and the one before)
    int inner = 0;     ///< MBConv expanded channels
    int out = 0;       ///< output channels / transformer width
    int kernel = 0;    ///< depthwise / first conv kernel
    int heads = 0;     ///< attention
    int qk_scale = 0;  ///< attention
    int v_scale = 0;   ///< attention
    int rel_side = 0;  ///< attention: side of the relative-bias table's grid (Rmax)
    int hidden = 0;    ///< FFN hidden
  } max;

  int inner() const { return cin * expand; }          ///< MBConv expanded channels
  int qk_dim() const { return head_dim * qk_scale; }  ///< attention q/k per-head dim
  int v_dim() const { return head_dim * v_scale; }    ///< attention v per-head dim
  int tokens() const { return side * side; }

  /// The numeric fields of the latency-table key, in key order.
  std::array<std::int32_t, 8> fields() const {
    std::array<std::int32_t, 8> f{};
    f.fill(-1);
    switch (kind) {
      case block_kind::first_conv:
        f = {side_in, 3, cout, stride, kernel, -1, -1, -1};
        break;
      case block_kind::conv:
        f = {side_in, cin, cout, expand, stride, kernel, se ? 1 : 0, -1};
        break;
      case block_kind::reduction:
        f = {side_in, cin, cout, stride, expand, -1, -1, -1};
        break;
      case block_kind::attention:
        f = {side, cout, v_scale, -1, -1, -1, -1, -1};
        break;
      case block_kind::ffn:
        f = {side, cout, mlp_ratio.num(), mlp_ratio.den(), -1, -1, -1, -1};
        break;
      case block_kind::head:
        f = {side, cin, hidden, expand, -1, -1, -1, -1};
        break;
    }
    return f;
  }

  /// The block's key in nn-Meter's latency-table format (the official phone tables; grammar:
  /// docs/elasticvit.md#phone-latency-tables).
  std::string key() const {
    const std::string i = "_";
    auto s = [](int v) { return std::to_string(v); };
    switch (kind) {
      case block_kind::first_conv:
        return "firstconv_" + s(side_in) + "_3_" + s(cout) + i + s(stride) + i + s(kernel);
      case block_kind::conv:
        return "conv_" + s(side_in) + i + s(cin) + i + s(cout) + i + s(expand) + i + s(stride) +
               "_hard_swish_" + s(kernel) + (se ? "_se" : "_nose");
      case block_kind::reduction:
        return "transds_" + s(side_in) + i + s(cin) + i + s(cout) + i + s(stride) + i + s(expand);
      case block_kind::attention:
        return "transattn_" + s(side) + i + s(cout) + "_hard_swish_" + s(v_scale) + "_ln";
      case block_kind::ffn:
        return "transffn_" + s(side) + i + s(cout) + i + mlp_text() + "_hard_swish_ln";
      case block_kind::head:
        return "mbpool_" + s(side) + i + s(cin) + i + s(hidden) + i + s(expand) + "_hard_swish";
    }
    return "?";
  }

 private:
  std::string mlp_text() const {
    if (mlp_ratio.is_integer()) return std::to_string(mlp_ratio.num());
    std::ostringstream os;  // nn-Meter writes Python floats: 3.5
    os << mlp_ratio.to_double();
    return os.str();
  }
};

/// How each block of an ElasticViT-family space is made: its geometry and supernet sizes from the
/// stage it belongs to. The plan builders below and the block profiler's enumeration of every
/// possible block (cost/block_profiler.hpp) both make blocks only here.
namespace blocks {

/// Output side of a stage of stride `stride` on an input of side `side_in`.
constexpr int side_out(int side_in, int stride) {
  return stride == 2 ? (side_in + 1) / 2 : side_in;
}

/// The first conv: 3 -> cout channels, k x k, the first stage's stride, on an R x R image.
inline block first_conv(const space_descriptor& d, int R, int cout, int kernel) {
  const stage_descriptor& st = d.stages[0];
  block b;
  b.kind = block_kind::first_conv;
  b.stage = 0;
  b.last_in_stage = true;
  b.side_in = R;
  b.stride = st.stride;
  b.side = side_out(R, b.stride);
  b.cin = 3;
  b.cout = cout;
  b.kernel = kernel;
  b.max.out = st.max_width;
  b.max.kernel = st.kernel_size.back();
  return b;
}

/// The MBConv input width of the supernet's tensors of stage s: the larger of its own and the
/// previous stage's widths (layer 0 reads the previous stage's output).
inline int mbconv_in_max(const space_descriptor& d, int s) {
  return std::max(d.stages[s].max_width, d.stages[s - 1].max_width);
}

/// Layer j of conv stage s: cin -> cout, expansion e, k x k depthwise; stride on layer 0 only.
inline block mbconv(const space_descriptor& d, int s, int j, int side_in, int cin, int cout, int e,
                    int k) {
  const stage_descriptor& st = d.stages[s];
  block b;
  b.kind = block_kind::conv;
  b.stage = s;
  b.layer = j;
  b.stride = j == 0 ? st.stride : 1;
  b.side_in = side_in;
  b.side = side_out(side_in, b.stride);
  b.cin = cin;
  b.cout = cout;
  b.expand = e;
  b.kernel = k;
  b.has_pw = st.expand_ratio.back() > 1;  // the stem (max expansion 1) has no 1x1 expansion
  b.se = st.squeeze_excite;
  b.max.in = mbconv_in_max(d, s);
  b.max.inner = b.max.in * st.expand_ratio.back();
  b.max.out = st.max_width;
  b.max.kernel = st.kernel_size.back();
  return b;
}

/// Transformer stage s's layer-0 reduction MBConv: expansion 6, 3x3, SE, the stage's stride.
inline block reduction(const space_descriptor& d, int s, int side_in, int cin, int cout) {
  const stage_descriptor& st = d.stages[s];
  block b;
  b.kind = block_kind::reduction;
  b.stage = s;
  b.tokens_in = d.stages[s - 1].is_transformer();
  b.stride = st.stride;
  b.side_in = side_in;
  b.side = side_out(side_in, st.stride);
  b.cin = cin;
  b.cout = cout;
  b.expand = model_fixed::reduction_expand;
  b.kernel = model_fixed::reduction_kernel;
  b.has_pw = true;
  b.se = true;
  b.max.in = mbconv_in_max(d, s);
  b.max.inner = b.max.in * model_fixed::reduction_expand;
  b.max.out = st.max_width;
  b.max.kernel = model_fixed::reduction_kernel;
  return b;
}

/// Layer j's attention in transformer stage s, width c, on a side x side token grid.
inline block attention(const space_descriptor& d, int s, int j, int side, int c, int heads,
                       int qk_scale, int v_scale) {
  const stage_descriptor& st = d.stages[s];
  block b;
  b.kind = block_kind::attention;
  b.stage = s;
  b.layer = j;
  b.side_in = b.side = side;
  b.cin = b.cout = c;
  b.heads = heads;
  b.head_dim = st.head_dim;
  b.qk_scale = qk_scale;
  b.v_scale = v_scale;
  b.max.out = st.max_width;
  b.max.heads = st.max_heads;
  b.max.qk_scale = st.qk_scale.back();
  b.max.v_scale = st.v_scale.back();
  b.max.rel_side = d.max_side_after(s);
  return b;
}

/// Layer j's FFN in transformer stage s, width c, hidden floor(mlp_ratio * c).
inline block ffn(const space_descriptor& d, int s, int j, int side, int c, rational mlp_ratio) {
  const stage_descriptor& st = d.stages[s];
  block b;
  b.kind = block_kind::ffn;
  b.stage = s;
  b.layer = j;
  b.side_in = b.side = side;
  b.cin = b.cout = c;
  b.mlp_ratio = mlp_ratio;
  b.hidden = static_cast<int>(mlp_ratio.floor_times(c));
  b.max.out = st.max_width;
  b.max.hidden = static_cast<int>(st.mlp_ratio.back().floor_times(st.max_width));
  return b;
}

/// The MobileNetV3 head on the last stage's cin channels at side x side tokens.
inline block head(const space_descriptor& d, int side, int cin) {
  block b;
  b.kind = block_kind::head;
  b.last_in_stage = true;
  b.side_in = b.side = side;
  b.cin = cin;
  b.cout = d.constants.num_classes;
  b.expand = d.constants.head_expand;
  b.hidden = d.constants.head_hidden;
  b.classes = d.constants.num_classes;
  b.max.in = d.stages.back().max_width;
  b.max.out = d.constants.num_classes;
  return b;
}

}  // namespace blocks

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

/// Calls f(block) for every block of subnet `a` of space `d`, in forward order: the first conv;
/// every conv-stage layer; per transformer stage its reduction MBConv and every layer's attention
/// and FFN; the head. The one walk over a subnet; it allocates nothing.
/// @pre `a` is valid in `d` and `d` is an ElasticViT-family space (not checked, for speed).
template <class F>
void for_each_block(const space_descriptor& d, const arch& a, F&& f) {
  block b = blocks::first_conv(d, a.resolution(), a.width(0), a.stage_layers(0)[0].kernel_size);
  int side = b.side, cin = b.cout;
  f(static_cast<const block&>(b));
  for (int s = 1; s < d.num_stages(); ++s) {
    const stage_descriptor& st = d.stages[s];
    const int c = a.width(s);
    const layer_dims* layers = a.stage_layers(s);
    const int depth = a.depth(s);
    if (st.is_transformer()) {
      b = blocks::reduction(d, s, side, cin, c);
      side = b.side;
      f(static_cast<const block&>(b));
    }
    for (int j = 0; j < depth; ++j) {
      const layer_dims& l = layers[j];
      if (st.is_transformer()) {
        b = blocks::attention(d, s, j, side, c, l.num_heads, l.qk_scale, l.v_scale);
        f(static_cast<const block&>(b));
        b = blocks::ffn(d, s, j, side, c, l.mlp_ratio);
      } else {
        b = blocks::mbconv(d, s, j, side, cin, c, l.expand_ratio, l.kernel_size);
        side = b.side;
      }
      b.last_in_stage = j == depth - 1;
      f(static_cast<const block&>(b));
      cin = c;
    }
    cin = c;
  }
  f(static_cast<const block&>(blocks::head(d, side, cin)));
}

/// The blocks of subnet `a` into `out` (its capacity reused: no allocation once it has held a
/// plan as long). @pre as for_each_block.
inline void build_plan(const space_descriptor& d, const arch& a, std::vector<block>& out) {
  out.clear();
  for_each_block(d, a, [&](const block& b) { out.push_back(b); });
}

/// The supernet's own subnet: every stage at its supernet width and depth, every dimension at its
/// largest choice, the largest resolution. Not a member of the space when the supernet is wider
/// than the searched choices; its plan bounds every subnet's.
inline arch supernet_arch(const space_descriptor& d) {
  check_elasticvit_family(d);
  auto largest = [](const auto& choices, auto none) {
    return choices.empty() ? none : choices.back();
  };
  arch a;
  a.set_resolution(d.resolution.back());
  for (const stage_descriptor& st : d.stages) {
    layer_dims l;
    l.expand_ratio = largest(st.expand_ratio, 0);
    l.kernel_size = largest(st.kernel_size, 0);
    l.mlp_ratio = largest(st.mlp_ratio, rational{});
    l.num_heads = st.max_heads;
    l.qk_scale = largest(st.qk_scale, 1);
    l.v_scale = largest(st.v_scale, 1);
    a.add_stage(st.max_width, std::max(1, st.max_depth), l);
  }
  return a;
}

/// Calls f(block) for every block of the supernet's own plan (supernet_arch's). Its blocks name
/// every tensor of the supernet (weights.hpp) and bound every buffer a forward of any subnet
/// needs (forward.hpp): their `max` sizes are the tensors' shapes. Allocates nothing.
/// @throws evit::error if `d` is not an ElasticViT-family space.
template <class F>
void for_each_supernet_block(const space_descriptor& d, F&& f) {
  for_each_block(d, supernet_arch(d), std::forward<F>(f));
}

/// The supernet's own plan into `out` (for_each_supernet_block).
inline void build_supernet_plan(const space_descriptor& d, std::vector<block>& out) {
  out.clear();
  for_each_supernet_block(d, [&](const block& b) { out.push_back(b); });
}

/// A subnet's plan as a value: the arch and its blocks.
/// @code
///   const auto p = evit::elasticvit::plan::of(space::descriptor(), a);
///   for (const auto& b : p.blocks()) std::cout << b.key() << "\n";
/// @endcode
class plan {
 public:
  /// @throws evit::invalid_arch if `a` is not in `d`, evit::error if `d` is not an ElasticViT
  ///         family space.
  static plan of(const space_descriptor& d, const arch& a) {
    check_elasticvit_family(d);
    validate(d, a);
    plan p;
    p.arch_ = a;
    build_plan(d, a, p.blocks_);
    return p;
  }
  /// The supernet's own plan (build_supernet_plan).
  static plan of_supernet(const space_descriptor& d) {
    plan p;
    build_supernet_plan(d, p.blocks_);
    return p;
  }
  const arch& subnet() const { return arch_; }
  const std::vector<block>& blocks() const { return blocks_; }

 private:
  arch arch_;
  std::vector<block> blocks_;
};

}  // namespace elasticvit
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
