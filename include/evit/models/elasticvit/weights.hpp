// SPDX-License-Identifier: MIT
// The tensors of an ElasticViT supernet: their official state_dict names and max-size shapes for
// a given space, used in place in a safetensors file's memory (those that need a conversion, and
// random ones, in one immutable, 64-byte aligned buffer), with a structured index of pointers that
// the forward pass slices in place.
// Next: models/elasticvit/supernet.hpp (the forward pass).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "evit/core/error.hpp"
#include "evit/core/rng.hpp"
#include "evit/io/safetensors.hpp"
#include "evit/kernels/conv.hpp"
#include "evit/kernels/linear.hpp"
#include "evit/models/elasticvit/macs.hpp"
#include "evit/models/elasticvit/plan.hpp"
#include "evit/simd/namespace.hpp"
#include "evit/space/descriptor.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace elasticvit {

/// One expected tensor: official name, shape, and whether PyTorch counts it as a parameter (BN
/// running statistics are buffers).
struct tensor_spec {
  std::string name;
  std::vector<std::int64_t> shape;
  bool parameter = true;
  /// Kind of initial value for random supernets.
  enum class init {
    weight,
    gamma,
    beta,
    running_mean,
    running_var,
    bias_table
  } fill = init::weight;
  std::int64_t numel() const {
    std::int64_t n = 1;
    for (auto s : shape) n *= s;
    return n;
  }
};

/// BatchNorm tensors of a layer (max size; slices take the first C entries).
struct bn_tensors {
  const float* gamma = nullptr;
  const float* beta = nullptr;
  const float* mean = nullptr;
  const float* var = nullptr;
};

/// One MBConv block at its supernet size.
struct mbconv_tensors {
  int in_max = 0, inner_max = 0, out_max = 0, kernel_max = 0;
  bool has_pw = false, has_se = false;
  const float* pw = nullptr;  ///< [inner_max, in_max]
  bn_tensors pw_bn;
  const float* dw = nullptr;  ///< [inner_max, kernel_max, kernel_max]
  bn_tensors dw_bn;
  const float* se1_w = nullptr;  ///< [inner_max / 4, inner_max]
  const float* se1_b = nullptr;
  const float* se2_w = nullptr;  ///< [inner_max, inner_max / 4]
  const float* se2_b = nullptr;
  const float* pwl = nullptr;  ///< [out_max, inner_max]
  bn_tensors pwl_bn;
  const float* shortcut = nullptr;  ///< [out_max, in_max]
  /// A reduction's 1x1 weights packed as panels (kernels::pack_linear_weight), which its
  /// convolutions on maps under small_plane pixels read when present (null with
  /// load_options().pack_weights(false), and in the conv stages).
  const float* pw_packed = nullptr;
  const float* pwl_packed = nullptr;
  const float* shortcut_packed = nullptr;
  /// A reduction's squeeze-excite FCs packed likewise, which its squeeze-excite reads when
  /// present (at batch 8, each weight read once instead of once per two samples).
  const float* se1_packed = nullptr;
  const float* se2_packed = nullptr;
  /// A reduction's depthwise kernels tap-major (kernels::pack_depthwise_taps, [kernel_max^2,
  /// inner_max]), which it reads when it runs on tokens (after a transformer stage).
  const float* dw_taps = nullptr;
};

/// One transformer layer (attention + FFN) at its supernet size.
struct transformer_tensors {
  int width_max = 0, heads_max = 0, qk_max = 0, v_max = 0, rel_side_max = 0, hidden_max = 0;
  const float* norm1_gamma = nullptr;  ///< attention's pre-norm
  const float* norm1_beta = nullptr;
  const float* qkv = nullptr;       ///< [Cmax * (2 qk_max + v_max), Cmax]
  const float* rel_bias = nullptr;  ///< [(2 rel_side_max - 1)^2, heads_max]
  const float* v_conv = nullptr;    ///< [heads_max * 16 v_max, 3, 3]
  const float* proj_w = nullptr;    ///< [Cmax, heads_max * 16 v_max]
  const float* proj_b = nullptr;
  const float* norm2_gamma = nullptr;  ///< FFN's pre-norm
  const float* norm2_beta = nullptr;
  const float* fc1_w = nullptr;  ///< [hidden_max, Cmax]
  const float* fc1_b = nullptr;
  const float* fc2_w = nullptr;  ///< [Cmax, hidden_max]
  const float* fc2_b = nullptr;
  int qkv_rows_max = 0, proj_in_max = 0;  ///< rows of qkv, columns of proj
  /// The linear weights packed once as panels (kernels::pack_linear_weight), which the forward
  /// reads when present (null with load_options().pack_weights(false)).
  const float* qkv_packed = nullptr;
  const float* proj_packed = nullptr;
  const float* fc1_packed = nullptr;
  const float* fc2_packed = nullptr;
};

/// The official module name of a block of the supernet's plan (its tensors' common prefix):
/// "first_conv", "conv_stem.layers.<j>.0" (stage 1), "feature_exactor.<s - 2>.layers.<j>.0"
/// (conv stages), "...layers.0.reduction", "...layers.<2j>" (attention), "...layers.<2j + 1>"
/// (FFN), "pre_head" (the head).
inline std::string module_name(const block& b) {
  if (b.kind == block_kind::first_conv) return "first_conv";
  if (b.kind == block_kind::head) return "pre_head";
  const std::string stage =
      b.stage == 1 ? "conv_stem" : "feature_exactor." + std::to_string(b.stage - 2);
  switch (b.kind) {
    case block_kind::conv:
      return stage + ".layers." + std::to_string(b.layer) + ".0";
    case block_kind::reduction:
      return stage + ".layers.0.reduction";
    case block_kind::attention:
      return stage + ".layers." + std::to_string(2 * b.layer);
    default:  // ffn
      return stage + ".layers." + std::to_string(2 * b.layer + 1);
  }
}

/// The official names and max shapes of every tensor of the supernet of space `d`, block by block
/// of the supernet's plan.
inline std::vector<tensor_spec> expected_tensors(const space_descriptor& d) {
  std::vector<block> plan;
  build_supernet_plan(d, plan);
  std::vector<tensor_spec> out;
  using init = tensor_spec::init;
  using i64 = std::int64_t;
  auto add = [&](const std::string& name, std::vector<i64> shape, init fill = init::weight,
                 bool parameter = true) {
    out.push_back({name, std::move(shape), parameter, fill});
  };
  auto bn = [&](const std::string& prefix, i64 c) {
    add(prefix + ".weight", {c}, init::gamma);
    add(prefix + ".bias", {c}, init::beta);
    add(prefix + ".running_mean", {c}, init::running_mean, false);
    add(prefix + ".running_var", {c}, init::running_var, false);
  };
  for (const block& b : plan) {
    const std::string p = module_name(b);
    switch (b.kind) {
      case block_kind::first_conv:
        add("first_conv.weight", {b.max.out, 3, b.max.kernel, b.max.kernel});
        bn("first_conv_bn", b.max.out);
        break;
      case block_kind::conv:
      case block_kind::reduction: {
        const i64 in = b.max.in, inner = b.max.inner, c = b.max.out, k = b.max.kernel;
        const i64 squeezed = inner / model_fixed::se_divisor;
        if (b.has_pw) {
          add(p + ".pw_conv.weight", {inner, in, 1, 1});
          bn(p + ".pw_bn", inner);
        }
        add(p + ".dw_conv.weight", {inner, 1, k, k});
        bn(p + ".dw_bn", inner);
        if (b.se) {
          add(p + ".se_conv1.weight", {squeezed, inner, 1, 1});
          add(p + ".se_conv1.bias", {squeezed}, init::beta);
          add(p + ".se_conv2.weight", {inner, squeezed, 1, 1});
          add(p + ".se_conv2.bias", {inner}, init::beta);
        }
        add(p + ".pwl_conv.weight", {c, inner, 1, 1});
        bn(p + ".pwl_bn", c);
        add(p + ".shortcut_conv.weight", {c, in, 1, 1});
        break;
      }
      case block_kind::attention: {
        const i64 c = b.max.out, h = b.max.heads, span = 2 * i64(b.max.rel_side) - 1;
        const i64 dq = i64(b.head_dim) * b.max.qk_scale, dv = i64(b.head_dim) * b.max.v_scale;
        const i64 vk = model_fixed::v_conv_kernel;
        add(p + ".attention_bias", {span * span, h}, init::bias_table);
        add(p + ".qkv.weight", {h * (2 * dq + dv), c});
        add(p + ".proj.weight", {c, h * dv});
        add(p + ".proj.bias", {c}, init::beta);
        add(p + ".dw_v_conv.weight", {h * dv, 1, vk, vk});
        add(p + ".norm1.weight", {c}, init::gamma);
        add(p + ".norm1.bias", {c}, init::beta);
        break;
      }
      case block_kind::ffn: {
        const i64 c = b.max.out, hidden = b.max.hidden;
        add(p + ".norm1.weight", {c}, init::gamma);
        add(p + ".norm1.bias", {c}, init::beta);
        add(p + ".fc1.weight", {hidden, c});
        add(p + ".fc1.bias", {hidden}, init::beta);
        add(p + ".fc2.weight", {c, hidden});
        add(p + ".fc2.bias", {c}, init::beta);
        break;
      }
      case block_kind::head: {
        const i64 c = b.max.in, ec = i64(b.expand) * c;
        add("pre_head_0.weight", {ec, c});
        add("pre_head_0.bias", {ec}, init::beta);
        bn("pre_head_norm_0", ec);
        add("pre_head_1.weight", {b.hidden, ec});
        add("pre_head_1.bias", {b.hidden}, init::beta);
        add("classifer.weight", {b.classes, b.hidden});  // (sic) the official name
        add("classifer.bias", {b.classes}, init::beta);
        break;
      }
    }
  }
  return out;
}

/// Number of PyTorch parameters (not buffers) of the supernet of space `d`.
inline std::int64_t supernet_parameter_count(const space_descriptor& d) {
  std::int64_t n = 0;
  for (const auto& t : expected_tensors(d))
    if (t.parameter) n += t.numel();
  return n;
}

/// Options of supernet_weights::load and supernet<Space>::load, with named setters.
/// @code
///   auto net = evit::elasticvit::supernet<space>::load(
///       "checkpoint.safetensors", evit::elasticvit::load_options().allow_extra_tensors(true));
/// @endcode
class load_options {
 public:
  /// Accept parameter tensors of the file that the space does not use, and ignore them. Off by
  /// default: such tensors usually mean that the space lacks a block the checkpoint was trained
  /// with (squeeze-excite on a stage, a deeper stage), and every subnet's outputs would be wrong.
  load_options& allow_extra_tensors(bool on) {
    allow_extra_tensors_ = on;
    return *this;
  }
  bool allow_extra_tensors() const { return allow_extra_tensors_; }

  /// Use the file's F32 tensors in place, in its memory (on by default: no copy, the load takes
  /// milliseconds and the memory is the file's). Off: copy every tensor into the weights' own
  /// buffer, each tensor 64-byte aligned, and let go of the file: the weights no longer depend on
  /// it, and a forward runs faster where the file's tensors are not 64-byte aligned (safetensors
  /// aligns them to 4 bytes only): 5-10% faster on AVX-512 for an official-size supernet file,
  /// no difference measured on AVX2 (benchmarks/bench_load.cpp). A mapped file's pages leave
  /// memory as their tensors are copied, so the peak stays about one copy of the weights (a file
  /// read into memory, open_options().memory_map(false), is held whole until the load ends).
  load_options& in_place(bool on) {
    in_place_ = on;
    return *this;
  }
  bool in_place() const { return in_place_; }

  /// Keep a copy of every transformer layer's linear weights, of the reductions' 1x1
  /// convolutions and squeeze-excite FCs and of the head's three layers packed as panels
  /// (kernels::pack_linear_weight), which the forward reads 2-3x faster than the row-major slices
  /// (the head's vector layers at batch 4-8: 0.5-0.7x the time; at batch 1 the same), and of the
  /// reductions' depthwise kernels tap-major (kernels::pack_depthwise_taps), with which a
  /// reduction after a transformer stage runs on its tokens (on by default; the copy is about the
  /// size of those tensors, most of an official supernet's weights). Off: the forward reads the
  /// row-major tensors in place, those reductions on planes; the logits agree within float
  /// rounding.
  load_options& pack_weights(bool on) {
    pack_weights_ = on;
    return *this;
  }
  bool pack_weights() const { return pack_weights_; }

 private:
  bool pack_weights_ = true;
  bool allow_extra_tensors_ = false;
  bool in_place_ = true;
};

/// The checks of a file against a space, and their messages.
namespace checkpoint {

inline bool ends_with(const std::string& s, const char* suffix) {
  const std::size_t n = std::char_traits<char>::length(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

/// True for a file tensor that is a buffer, not a parameter, and so never makes a file unfit for
/// the space when the space does not use it:
///  - integer and bool tensors: PyTorch parameters are floating point, so these are buffers
///    (BatchNorm's num_batches_tracked, the attention's relative_position_index);
///  - "num_batches_tracked": BatchNorm's count of training batches, read only by training;
///  - "relative_position_index": the attention's index table, a function of the stage's largest
///    token side that the forward computes itself; its size follows the attention_bias table's,
///    whose shape is checked;
///  - "running_mean", "running_var": BatchNorm statistics. Those of the space's BatchNorms are
///    expected tensors (loaded and checked like parameters); an unused one belongs to a BatchNorm
///    the space lacks, whose weight and bias (parameters: every ElasticViT BatchNorm is affine)
///    are reported, so listing its statistics too would only lengthen the message.
/// (The names are matched in float tensors too, for converters that cast every tensor to F32.)
/// Any other tensor the space does not use counts as a parameter.
inline bool is_buffer(const io::tensor_info& t) {
  if (t.type != io::dtype::f64 && t.type != io::dtype::f32 && t.type != io::dtype::f16 &&
      t.type != io::dtype::bf16)
    return true;
  return ends_with(t.name, ".num_batches_tracked") ||
         ends_with(t.name, ".relative_position_index") || ends_with(t.name, ".running_mean") ||
         ends_with(t.name, ".running_var");
}

inline std::string shape_text(const std::vector<std::int64_t>& s) {
  std::string t = "[";
  for (std::size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + "]";
}

/// Where an official tensor name sits in the model (stage, layer, module), as far as it can tell.
struct tensor_site {
  int stage = -1;           ///< index in the space's stages (may be >= its count); -1: none
  int layer = -1;           ///< MBConv layer j, or transformer layer j (file layers 2j, 2j + 1)
  bool conv_layer = false;  ///< an MBConv layer's tensor (".layers.J.0.")
  bool attn_layer = false;  ///< a transformer layer's tensor (".layers.J.<module>")
  std::string module;       ///< "se_conv1", "pw_conv", "qkv", "reduction", "first_conv", ...
};

inline int parse_index(const std::string& s) {
  if (s.empty() || s.size() > 6) return -1;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

/// Parses the official names: first_conv*, conv_stem.layers.J.0.<m>.*,
/// feature_exactor.K.layers.J.0.<m>.* (MBConv), feature_exactor.K.layers.J.<m>.* (transformer:
/// J = 2j attention, 2j + 1 FFN), pre_head_*, classifer.*.
inline tensor_site site_of(const std::string& name) {
  std::vector<std::string> p;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= name.size(); ++i)
    if (i == name.size() || name[i] == '.') {
      p.push_back(name.substr(start, i - start));
      start = i + 1;
    }
  tensor_site t;
  t.module = p[0];
  if (p[0] == "first_conv" || p[0] == "first_conv_bn") {
    t.stage = 0;
    return t;
  }
  std::size_t at = 0;  // index of "layers"
  if (p[0] == "conv_stem" && p.size() > 1) {
    t.stage = 1;
    at = 1;
  } else if (p[0] == "feature_exactor" && p.size() > 2 && parse_index(p[1]) >= 0) {
    t.stage = parse_index(p[1]) + 2;
    at = 2;
  } else {
    return t;
  }
  if (p.size() < at + 3 || p[at] != "layers" || parse_index(p[at + 1]) < 0) return t;
  const int j = parse_index(p[at + 1]);
  if (p[at + 2] == "0" && p.size() >= at + 5) {
    t.conv_layer = true;
    t.layer = j;
    t.module = p[at + 3];
  } else {
    t.attn_layer = true;
    t.layer = j / 2;
    t.module = p[at + 2];
  }
  return t;
}

/// The stage's display name, or the file's name of a stage the space does not have.
inline std::string stage_label(const space_descriptor& d, int s) {
  if (s >= 0 && s < d.num_stages()) return d.stages[s].name;
  return "feature_exactor." + std::to_string(s - 2);
}

/// Levenshtein distance, or limit + 1 once it exceeds `limit`.
inline int edit_distance(const std::string& a, const std::string& b, int limit) {
  const int n = static_cast<int>(a.size()), m = static_cast<int>(b.size());
  if (std::abs(n - m) > limit) return limit + 1;
  std::vector<int> prev(m + 1), cur(m + 1);
  for (int j = 0; j <= m; ++j) prev[j] = j;
  for (int i = 1; i <= n; ++i) {
    cur[0] = i;
    int best = cur[0];
    for (int j = 1; j <= m; ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
      best = std::min(best, cur[j]);
    }
    if (best > limit) return limit + 1;
    std::swap(prev, cur);
  }
  return prev[m];
}

/// Appends `text` to `hints` unless it is there already.
inline void add_hint(std::vector<std::string>& hints, const std::string& text) {
  if (std::find(hints.begin(), hints.end(), text) == hints.end()) hints.push_back(text);
}

/// What the file holds per stage: its depth (largest layer index + 1) and which modules.
struct file_stage_summary {
  int depth = 0;
  bool any = false, se = false, pw = false, conv_layers = false, attn_layers = false;
};

inline std::map<int, file_stage_summary> summarize_file(const io::safetensors_file& f) {
  std::map<int, file_stage_summary> out;
  for (const auto& t : f.tensors()) {
    const tensor_site site = site_of(t.name);
    if (site.stage < 0) continue;
    file_stage_summary& s = out[site.stage];
    s.any = true;
    if (site.layer >= 0) s.depth = std::max(s.depth, site.layer + 1);
    s.conv_layers = s.conv_layers || site.conv_layer;
    s.attn_layers = s.attn_layers || site.attn_layer;
    if (site.conv_layer) {
      s.se = s.se || site.module == "se_conv1" || site.module == "se_conv2";
      s.pw = s.pw || site.module == "pw_conv" || site.module == "pw_bn";
    }
  }
  return out;
}

inline std::string depth_hint(const space_descriptor& d, int s, int file_depth) {
  return "stage " + stage_label(d, s) + ": the file has " + std::to_string(file_depth) +
         " layers there, the space's supernet " + std::to_string(d.stages[s].max_depth) +
         "; does the space need a max depth of " + std::to_string(file_depth) +
         " on that stage (its depth choices, or max_depth<" + std::to_string(file_depth) + ">)?";
}

/// The space options that would use the unused tensor `name`, as hints.
inline void unused_hints(const space_descriptor& d, const std::string& name,
                         const std::map<int, file_stage_summary>& file,
                         std::vector<std::string>& hints) {
  const tensor_site site = site_of(name);
  if (site.stage < 0) return;
  if (site.stage >= d.num_stages()) {
    add_hint(hints, "the file has a stage " + stage_label(d, site.stage) +
                        " after the space's last stage (" + d.stages.back().name +
                        "); does the space lack a stage?");
    return;
  }
  const stage_descriptor& st = d.stages[site.stage];
  const std::string label = "stage " + st.name;
  if (site.attn_layer && !st.is_transformer()) {
    add_hint(hints, label + ": the file has transformer layers there (" + site.module +
                        "); the space makes it a " + kind_name(st.kind) + ".");
    return;
  }
  if (site.conv_layer && st.is_transformer()) {
    add_hint(hints, label + ": the file has MBConv layers there (" + site.module +
                        "); the space makes it a transformer_stage.");
    return;
  }
  if (site.layer >= st.max_depth) {
    auto it = file.find(site.stage);
    add_hint(hints,
             depth_hint(d, site.stage, it == file.end() ? site.layer + 1 : it->second.depth));
    return;
  }
  if (site.conv_layer && st.is_conv() && !st.squeeze_excite &&
      (site.module == "se_conv1" || site.module == "se_conv2"))
    add_hint(hints, label +
                        ": the file has squeeze-excite weights (se_conv1, se_conv2) there; does "
                        "the space need squeeze_excite<true> on that stage?");
  if (site.conv_layer && st.is_conv() && (site.module == "pw_conv" || site.module == "pw_bn") &&
      (st.expand_ratio.empty() || st.expand_ratio.back() <= 1))
    add_hint(hints, label +
                        ": the file has expanding 1x1 convs (pw_conv) there; does the space need "
                        "expansion ratios above 1 on that stage?");
}

/// Hints for the expected tensor `name` that the file lacks.
inline void missing_hints(const space_descriptor& d, const std::string& name,
                          const std::map<int, file_stage_summary>& file,
                          std::vector<std::string>& hints) {
  const tensor_site site = site_of(name);
  if (site.stage < 1 || site.stage >= d.num_stages()) return;
  const stage_descriptor& st = d.stages[site.stage];
  const std::string label = "stage " + st.name;
  auto it = file.find(site.stage);
  if (it == file.end() || !it->second.any) {
    add_hint(hints, label + ": the file has no tensors of it (" +
                        (site.stage == 1 ? std::string("conv_stem")
                                         : "feature_exactor." + std::to_string(site.stage - 2)) +
                        "); does the checkpoint have fewer stages?");
    return;
  }
  const file_stage_summary& fs = it->second;
  if (st.is_transformer() && fs.conv_layers && !fs.attn_layers) {
    add_hint(hints, label +
                        ": the file has MBConv layers there; the space makes it a "
                        "transformer_stage.");
    return;
  }
  if (st.is_conv() && fs.attn_layers && !fs.conv_layers) {
    add_hint(hints, label + ": the file has transformer layers there; the space makes it a " +
                        kind_name(st.kind) + ".");
    return;
  }
  if (site.layer >= fs.depth) {
    add_hint(hints, depth_hint(d, site.stage, fs.depth));
    return;
  }
  if (site.conv_layer && (site.module == "se_conv1" || site.module == "se_conv2") && !fs.se)
    add_hint(hints, label +
                        ": the file has no squeeze-excite weights there; does the space need "
                        "squeeze_excite<false> (the default) on that stage?");
  if (site.conv_layer && (site.module == "pw_conv" || site.module == "pw_bn") && !fs.pw)
    add_hint(hints, label +
                        ": the file has no expanding 1x1 convs (pw_conv) there; does the space "
                        "need expansion<1> on that stage?");
}

/// At most this many tensors are listed in one message; the rest are counted.
inline constexpr std::size_t max_listed_tensors = 16;

/// Checks the names: every expected tensor is in the file, and (unless allowed) every parameter
/// tensor of the file is expected. Throws one message that lists them all (up to
/// max_listed_tensors, then a count) with hints at the space options that would fit the file.
inline void check_tensor_names(const space_descriptor& d, const std::vector<tensor_spec>& specs,
                               const io::safetensors_file& f, const load_options& opts) {
  std::map<std::string, const tensor_spec*> expected;
  for (const auto& s : specs) expected[s.name] = &s;
  std::vector<const tensor_spec*> missing;
  for (const auto& s : specs)
    if (!f.find(s.name)) missing.push_back(&s);
  std::vector<const io::tensor_info*> unused;
  for (const auto& t : f.tensors())
    if (!expected.count(t.name) && !is_buffer(t)) unused.push_back(&t);
  if (missing.empty() && (unused.empty() || opts.allow_extra_tensors())) return;

  const auto file = summarize_file(f);
  std::vector<std::string> hints;
  std::string msg = f.origin() + ": ";
  auto more = [](std::size_t total) {
    return total > max_listed_tensors
               ? "\n  ... and " + std::to_string(total - max_listed_tensors) + " more"
               : std::string();
  };
  // A file tensor close to a missing name: a renamed or mistyped tensor.
  auto close_unused = [&](const std::string& name) -> std::string {
    const int limit = std::max<int>(2, static_cast<int>(name.size()) / 12);
    int best = limit + 1;
    std::string found;
    for (const io::tensor_info* t : unused) {
      const int e = edit_distance(name, t->name, limit);
      if (e < best) {
        best = e;
        found = t->name;
      }
    }
    return found.empty() ? found : " (the file has \"" + found + "\": renamed?)";
  };
  if (!missing.empty()) {
    if (missing.size() == 1) {
      msg += "tensor \"" + missing[0]->name + "\" is missing (expected shape " +
             shape_text(missing[0]->shape) + " for space " + d.name + ")" +
             close_unused(missing[0]->name);
    } else {
      msg += std::to_string(missing.size()) + " tensors the supernet of space " + d.name +
             " needs are missing:";
      for (std::size_t i = 0; i < missing.size() && i < max_listed_tensors; ++i)
        msg += "\n  \"" + missing[i]->name + "\" " + shape_text(missing[i]->shape) +
               close_unused(missing[i]->name);
      msg += more(missing.size());
    }
    for (const tensor_spec* s : missing) missing_hints(d, s->name, file, hints);
  }
  if (!unused.empty()) {
    msg += missing.empty() ? "" : "\n";
    msg += std::to_string(unused.size()) + " parameter tensor" + (unused.size() == 1 ? "" : "s") +
           " of the file " + (unused.size() == 1 ? "is" : "are") +
           " not used by the supernet of space " + d.name + ":";
    for (std::size_t i = 0; i < unused.size() && i < max_listed_tensors; ++i)
      msg += "\n  \"" + unused[i]->name + "\" " + shape_text(unused[i]->shape);
    msg += more(unused.size());
    for (const io::tensor_info* t : unused) unused_hints(d, t->name, file, hints);
  }
  for (const auto& h : hints) msg += "\n" + h;
  if (missing.empty())
    msg +=
        "\n(load_options().allow_extra_tensors(true) ignores them, if the space is meant to "
        "use only part of the checkpoint.)";
  throw format_error(msg);
}

/// The message for a relative-position bias table whose size differs from the space's: the
/// table covers the stage's largest token grid, which the strides of the stages up to it and the
/// space's largest resolution set.
inline std::string bias_table_message(const space_descriptor& d, int s, const std::string& origin,
                                      const std::string& name,
                                      const std::vector<std::int64_t>& found,
                                      const std::vector<std::int64_t>& want) {
  const std::string label = d.stages[s].name;
  std::string msg = origin + ": stage " + label + ": tensor \"" + name + "\" has shape " +
                    shape_text(found) + "; the space expects " + shape_text(want) + ".\n";
  // rows = (2 R - 1)^2 for a largest token side R.
  int file_side = -1;
  if (!found.empty() && found[0] > 0) {
    const auto q = static_cast<std::int64_t>(std::llround(std::sqrt(double(found[0]))));
    if (q * q == found[0] && q % 2 == 1) file_side = static_cast<int>((q + 1) / 2);
  }
  const int side = d.max_side_after(s);
  const int res =
      d.resolution.empty() ? 0 : *std::max_element(d.resolution.begin(), d.resolution.end());
  std::string strides;
  for (int t = 0; t <= s; ++t)
    strides += (t ? ", " : "") + d.stages[t].name + " " + std::to_string(d.stages[t].stride);
  const std::string grid_space = std::to_string(side) + "x" + std::to_string(side);
  if (file_side > 0) {
    msg += "The relative-position bias table covers the stage's largest token grid: " +
           std::to_string(file_side) + "x" + std::to_string(file_side) + " in the file, " +
           grid_space + " in the space";
  } else {
    msg += "The relative-position bias table covers the stage's largest token grid, " + grid_space +
           " in the space";
  }
  msg += " (resolution " + std::to_string(res) + " through the strides " + strides + ").\n";
  // The previous transformer stage's tables matched, so the difference is after it.
  int first = 0;
  for (int t = s - 1; t >= 0; --t)
    if (d.stages[t].is_transformer()) {
      first = t + 1;
      break;
    }
  // What would give the file's grid: one stage's stride flipped (grouped by the new stride), or,
  // for the first transformer stage, another largest resolution.
  std::vector<std::string> fixes;
  if (file_side > 0) {
    std::map<int, std::string> by_stride;
    for (int t = first; t <= s; ++t) {
      space_descriptor alt = d;
      const int flipped = alt.stages[t].stride == 2 ? 1 : 2;
      alt.stages[t].stride = flipped;
      if (alt.max_side_after(s) != file_side) continue;
      std::string& names = by_stride[flipped];
      names += (names.empty() ? "stride<" + std::to_string(flipped) + "> on stage " : " or ") +
               d.stages[t].name;
    }
    for (const auto& f : by_stride) fixes.push_back(f.second);
    if (first == 0) {
      space_descriptor alt = d;
      int lo = 0, hi = 0;
      for (int r = 1; r <= 8192; ++r) {
        alt.resolution = {r};
        if (alt.max_side_after(s) != file_side) continue;
        if (!lo) lo = r;
        hi = r;
      }
      if (lo)
        fixes.push_back("a largest resolution " + (lo == hi ? "of " + std::to_string(lo)
                                                            : "between " + std::to_string(lo) +
                                                                  " and " + std::to_string(hi)));
    }
  }
  if (first == s) {
    msg += "The stride (downsampling) of stage " + label + " likely differs from the checkpoint's";
  } else {
    msg +=
        "The stride (downsampling) of stage " + label + " or of a stage before it" +
        (first == 0 ? ", or the space's largest resolution (" + std::to_string(res) + ")," : "") +
        " likely differs from the checkpoint's";
  }
  if (!fixes.empty()) {
    msg += ": ";
    for (std::size_t i = 0; i < fixes.size(); ++i)
      msg += (i ? (i + 1 == fixes.size() ? ", or " : ", ") : "") + fixes[i];
    msg += fixes.size() > 1 ? ", would give " : " would give ";
    msg += std::to_string(file_side) + "x" + std::to_string(file_side);
  }
  return msg + ".";
}

}  // namespace checkpoint

/// All tensors of one supernet, immutable: in place in the file they were loaded from, or in one
/// aligned buffer of their own; with a structured index.
class supernet_weights {
 public:
  /// Loads from a safetensors file with the official names. Every expected tensor must be present
  /// with a floating dtype (F32, F16, BF16) and exactly its expected shape, and every parameter
  /// tensor of the file must be one the space uses, unless opts.allow_extra_tensors(true). Buffers
  /// (num_batches_tracked, relative_position_index, integer tensors, the statistics of a
  /// BatchNorm the space lacks: checkpoint::is_buffer) are never required to be used.
  /// @throws evit::format_error naming every missing and every unused tensor, with the space
  ///         options that would fit the file where it can tell; or naming the first tensor of a
  ///         wrong dtype or shape, its shape and the expected shape (and, for a relative-position
  ///         bias table, the stride or resolution that likely differs).
  ///
  /// Memory: the F32 tensors of the file are used in place, without a copy
  /// (io::safetensors_file::f32_in_place: mapped, or in the one buffer the file was read into);
  /// the weights share the file's bytes, which stay alive as long as the weights (and any
  /// supernet moved from them) do. Only the other tensors (F16, BF16, or F32 not 4-byte aligned)
  /// are converted into a buffer the weights own; with opts.in_place(false), every tensor is.
  /// See io::safetensors_file for what happens when the file changes after it was opened.
  static supernet_weights load(const space_descriptor& d, const io::safetensors_file& f,
                               const load_options& opts = load_options()) {
    supernet_weights w(d, false);
    checkpoint::check_tensor_names(d, w.specs_, f, opts);
    std::vector<const io::tensor_info*> found(w.specs_.size());
    for (std::size_t i = 0; i < w.specs_.size(); ++i) {
      const tensor_spec& s = w.specs_[i];
      const io::tensor_info* t = found[i] = f.find(s.name);
      if (t->type != io::dtype::f32 && t->type != io::dtype::f16 && t->type != io::dtype::bf16)
        throw format_error(f.origin() + ": tensor \"" + s.name + "\" has dtype " +
                           io::dtype_name(t->type) + "; expected F32, F16 or BF16");
      if (t->shape != s.shape) {
        const checkpoint::tensor_site site = checkpoint::site_of(s.name);
        if (site.module == "attention_bias" && site.stage > 0 && site.stage < d.num_stages() &&
            t->shape.size() == 2 && t->shape[0] != s.shape[0])
          throw format_error(
              checkpoint::bias_table_message(d, site.stage, f.origin(), s.name, t->shape, s.shape));
        throw format_error(f.origin() + ": tensor \"" + s.name + "\" has shape " +
                           shape_text(t->shape) + "; the supernet of space " + d.name + " needs " +
                           shape_text(s.shape));
      }
    }
    std::vector<bool> copy(w.specs_.size());
    for (std::size_t i = 0; i < copy.size(); ++i)
      copy[i] = !opts.in_place() || !f.f32_in_place(*found[i]);
    w.allocate(copy);
    for (std::size_t i = 0; i < copy.size(); ++i) {
      if (copy[i]) {
        f.copy_f32(*found[i], w.buffer_.get() + w.offsets_[i]);
        if (!opts.in_place()) f.release(*found[i]);
      } else {
        w.where_[i] = f.f32_in_place(*found[i]);
        w.file_ = f.keep_alive();
      }
    }
    w.build_index();
    if (opts.pack_weights()) w.pack_linear_weights();
    return w;
  }
  static supernet_weights load(const space_descriptor& d, const std::string& path,
                               const load_options& opts = load_options()) {
    return load(d, io::safetensors_file::open(path), opts);
  }

  /// A random supernet: weights ~ N(0, 1/fan_in)-scaled uniform, BN statistics near identity, so
  /// that activations stay in range through any subnet. Deterministic for a seed. `pack`: as
  /// load_options::pack_weights.
  static supernet_weights random(const space_descriptor& d, std::uint64_t seed, bool pack = true) {
    supernet_weights w(d, true);
    rng g(seed);
    for (std::size_t i = 0; i < w.specs_.size(); ++i) {
      const tensor_spec& s = w.specs_[i];
      float* p = w.buffer_.get() + w.offsets_[i];
      const std::int64_t n = s.numel();
      const std::int64_t fan_in = s.shape.size() >= 2 ? n / s.shape[0] : 1;
      const double bound = std::sqrt(3.0 / static_cast<double>(std::max<std::int64_t>(fan_in, 1)));
      for (std::int64_t k = 0; k < n; ++k) {
        const double u = 2 * uniform_real(g) - 1;  // [-1, 1)
        double v = 0;
        switch (s.fill) {
          case tensor_spec::init::weight:
            v = bound * u;
            break;
          case tensor_spec::init::gamma:
            v = 1 + 0.1 * u;
            break;
          case tensor_spec::init::beta:
            v = 0.05 * u;
            break;
          case tensor_spec::init::running_mean:
            v = 0.05 * u;
            break;
          case tensor_spec::init::running_var:
            v = 1 + 0.25 * (u + 1);
            break;
          case tensor_spec::init::bias_table:
            v = 0.02 * u;
            break;
        }
        p[k] = static_cast<float>(v);
      }
    }
    w.build_index();
    if (pack) w.pack_linear_weights();
    return w;
  }

  supernet_weights(supernet_weights&&) noexcept = default;
  supernet_weights& operator=(supernet_weights&&) noexcept = default;

  const space_descriptor& space() const { return *space_; }
  const std::vector<tensor_spec>& specs() const { return specs_; }
  /// The tensor called `name` (max size, row-major); throws evit::invalid_argument if unknown.
  const float* tensor(const std::string& name) const {
    auto it = index_.find(name);
    if (it == index_.end()) throw invalid_argument("supernet has no tensor \"" + name + "\"");
    return where_[it->second];
  }
  const tensor_spec& spec(const std::string& name) const {
    auto it = index_.find(name);
    if (it == index_.end()) throw invalid_argument("supernet has no tensor \"" + name + "\"");
    return specs_[it->second];
  }
  /// Floats in the weights' own buffer: every tensor of a random supernet; of a loaded one, the
  /// tensors converted or copied from the file (the others are used in place: in_place()).
  std::int64_t size() const { return total_; }
  /// Floats of the packed copies of the linear weights (kernels::pack_linear_weight) made at
  /// load (0 with load_options().pack_weights(false)): the forward reads their slices in the
  /// GEMM's broadcast form, 2-3x the speed of the row-major slices on AVX-512.
  std::int64_t packed_size() const { return packed_total_; }
  /// The weights' own buffer (for zero-copy checks).
  const float* data() const { return buffer_.get(); }
  /// The file bytes whose tensors the weights use in place, or null when they use none.
  const std::shared_ptr<const void>& file_bytes() const { return file_; }
  /// Whether the tensor called `name` is used in place in the file's bytes.
  bool in_place(const std::string& name) const {
    auto it = index_.find(name);
    if (it == index_.end()) throw invalid_argument("supernet has no tensor \"" + name + "\"");
    return offsets_[it->second] < 0;
  }

  // Structured index (pointers into the buffer or the file's bytes).
  const float* first_conv = nullptr;  ///< [Cf_max, 3, 3, 3]
  bn_tensors first_bn;
  /// Per stage after the first conv (index s - 1), per layer: MBConv blocks for conv stages.
  std::vector<std::vector<mbconv_tensors>> conv_layers;
  /// Per stage, the layer-0 reduction block of a transformer stage.
  std::vector<mbconv_tensors> reduction;
  /// Per stage, per layer: transformer layers.
  std::vector<std::vector<transformer_tensors>> transformer_layers;
  const float* head0_w = nullptr;  ///< [e*C, C]
  const float* head0_b = nullptr;
  const float* head0_packed = nullptr;  ///< head0_w packed (pack_linear_weights), or null
  bn_tensors head_bn;
  const float* head1_w = nullptr;  ///< [hidden, e*C]
  const float* head1_b = nullptr;
  const float* head1_packed = nullptr;  ///< head1_w packed (pack_linear_weights), or null
  const float* classifier_w = nullptr;  ///< [classes, hidden]
  const float* classifier_b = nullptr;
  const float* classifier_packed = nullptr;  ///< classifier_w packed, or null

 private:
  struct release {
    void operator()(float* p) const noexcept { ::operator delete(p, std::align_val_t(64)); }
  };

  supernet_weights(const space_descriptor& d, bool own_all)
      : space_(&d), specs_(expected_tensors(d)) {
    for (std::size_t i = 0; i < specs_.size(); ++i) index_[specs_[i].name] = i;
    if (own_all) allocate(std::vector<bool>(specs_.size(), true));
  }

  /// One zeroed buffer for the tensors i with own[i], each starting 64-byte aligned; the others
  /// stay null until load() points them into the file.
  void allocate(const std::vector<bool>& own) {
    std::int64_t pos = 0;
    offsets_.assign(specs_.size(), -1);
    for (std::size_t i = 0; i < specs_.size(); ++i) {
      if (!own[i]) continue;
      offsets_[i] = pos;
      pos += (specs_[i].numel() + 15) / 16 * 16;  // every tensor starts 64-byte aligned
    }
    total_ = pos;
    buffer_.reset(static_cast<float*>(
        ::operator new(static_cast<std::size_t>(std::max<std::int64_t>(pos, 16)) * sizeof(float),
                       std::align_val_t(64))));
    std::fill(buffer_.get(), buffer_.get() + pos, 0.0f);
    where_.assign(specs_.size(), nullptr);
    for (std::size_t i = 0; i < specs_.size(); ++i)
      if (own[i]) where_[i] = buffer_.get() + offsets_[i];
  }

  static std::string shape_text(const std::vector<std::int64_t>& s) {
    return checkpoint::shape_text(s);
  }

  bn_tensors bn(const std::string& p) const {
    return {tensor(p + ".weight"), tensor(p + ".bias"), tensor(p + ".running_mean"),
            tensor(p + ".running_var")};
  }
  mbconv_tensors mbconv(const std::string& p, bool has_pw, bool se) const {
    mbconv_tensors m;
    const tensor_spec& pwl = spec(p + ".pwl_conv.weight");
    const tensor_spec& dw = spec(p + ".dw_conv.weight");
    const tensor_spec& sc = spec(p + ".shortcut_conv.weight");
    m.out_max = static_cast<int>(pwl.shape[0]);
    m.inner_max = static_cast<int>(pwl.shape[1]);
    m.in_max = static_cast<int>(sc.shape[1]);
    m.kernel_max = static_cast<int>(dw.shape[2]);
    m.has_pw = has_pw;
    m.has_se = se;
    if (has_pw) {
      m.pw = tensor(p + ".pw_conv.weight");
      m.pw_bn = bn(p + ".pw_bn");
    }
    m.dw = tensor(p + ".dw_conv.weight");
    m.dw_bn = bn(p + ".dw_bn");
    if (se) {
      m.se1_w = tensor(p + ".se_conv1.weight");
      m.se1_b = tensor(p + ".se_conv1.bias");
      m.se2_w = tensor(p + ".se_conv2.weight");
      m.se2_b = tensor(p + ".se_conv2.bias");
    }
    m.pwl = tensor(p + ".pwl_conv.weight");
    m.pwl_bn = bn(p + ".pwl_bn");
    m.shortcut = tensor(p + ".shortcut_conv.weight");
    return m;
  }

  void build_index() {
    const space_descriptor& d = *space_;
    conv_layers.assign(static_cast<std::size_t>(d.num_stages()), {});
    reduction.assign(static_cast<std::size_t>(d.num_stages()), {});
    transformer_layers.assign(static_cast<std::size_t>(d.num_stages()), {});
    std::vector<block> plan;
    build_supernet_plan(d, plan);
    transformer_tensors t;
    for (const block& b : plan) {
      const std::string p = module_name(b);
      const auto s = static_cast<std::size_t>(b.stage);
      switch (b.kind) {
        case block_kind::first_conv:
          first_conv = tensor("first_conv.weight");
          first_bn = bn("first_conv_bn");
          break;
        case block_kind::conv:
          conv_layers[s].push_back(mbconv(p, b.has_pw, b.se));
          break;
        case block_kind::reduction:
          reduction[s] = mbconv(p, b.has_pw, b.se);
          break;
        case block_kind::attention:
          t = transformer_tensors();
          t.width_max = b.max.out;
          t.heads_max = b.max.heads;
          t.qk_max = b.max.qk_scale;
          t.v_max = b.max.v_scale;
          t.rel_side_max = b.max.rel_side;
          t.norm1_gamma = tensor(p + ".norm1.weight");
          t.norm1_beta = tensor(p + ".norm1.bias");
          t.qkv = tensor(p + ".qkv.weight");
          t.rel_bias = tensor(p + ".attention_bias");
          t.v_conv = tensor(p + ".dw_v_conv.weight");
          t.proj_w = tensor(p + ".proj.weight");
          t.proj_b = tensor(p + ".proj.bias");
          t.qkv_rows_max = static_cast<int>(spec(p + ".qkv.weight").shape[0]);
          t.proj_in_max = static_cast<int>(spec(p + ".proj.weight").shape[1]);
          break;
        case block_kind::ffn:  // completes the layer its attention started
          t.hidden_max = b.max.hidden;
          t.norm2_gamma = tensor(p + ".norm1.weight");
          t.norm2_beta = tensor(p + ".norm1.bias");
          t.fc1_w = tensor(p + ".fc1.weight");
          t.fc1_b = tensor(p + ".fc1.bias");
          t.fc2_w = tensor(p + ".fc2.weight");
          t.fc2_b = tensor(p + ".fc2.bias");
          transformer_layers[s].push_back(t);
          break;
        case block_kind::head:
          head0_w = tensor("pre_head_0.weight");
          head0_b = tensor("pre_head_0.bias");
          head_bn = bn("pre_head_norm_0");
          head1_w = tensor("pre_head_1.weight");
          head1_b = tensor("pre_head_1.bias");
          classifier_w = tensor("classifer.weight");
          classifier_b = tensor("classifer.bias");
          break;
      }
    }
  }

  /// One aligned buffer with the packed linear weights (qkv, proj, fc1, fc2) of every
  /// transformer layer, the reductions' 1x1 convolutions and squeeze-excite FCs, and the head's
  /// three layers; and the reductions' depthwise kernels tap-major.
  void pack_linear_weights() {
    struct job {
      const float* w;
      Index out_max, in_max;
      const float** into;
      bool taps = false;    // a depthwise weight [out_max channels, in_max^2 taps], tap-major
      Index size() const {  // whole cache lines, so that the panels after it stay aligned
        return taps ? (out_max * in_max * in_max + 15) / 16 * 16
                    : kernels::packed_linear_size(out_max, in_max);
      }
    };
    std::vector<job> jobs;
    for (auto& stage : transformer_layers)
      for (transformer_tensors& t : stage) {
        jobs.push_back({t.qkv, t.qkv_rows_max, t.width_max, &t.qkv_packed});
        jobs.push_back({t.proj_w, t.width_max, t.proj_in_max, &t.proj_packed});
        jobs.push_back({t.fc1_w, t.hidden_max, t.width_max, &t.fc1_packed});
        jobs.push_back({t.fc2_w, t.width_max, t.hidden_max, &t.fc2_packed});
      }
    for (mbconv_tensors& r : reduction) {
      if (r.pwl == nullptr) continue;  // a stage without a reduction
      if (r.has_pw) jobs.push_back({r.pw, r.inner_max, r.in_max, &r.pw_packed});
      jobs.push_back({r.pwl, r.out_max, r.inner_max, &r.pwl_packed});
      jobs.push_back({r.shortcut, r.out_max, r.in_max, &r.shortcut_packed});
      jobs.push_back({r.dw, r.inner_max, r.kernel_max, &r.dw_taps, true});
      if (r.has_se) {
        const Index reduced_max = r.inner_max / model_fixed::se_divisor;
        jobs.push_back({r.se1_w, reduced_max, r.inner_max, &r.se1_packed});
        jobs.push_back({r.se2_w, r.inner_max, reduced_max, &r.se2_packed});
      }
    }
    const tensor_spec& h0 = spec("pre_head_0.weight");
    jobs.push_back({head0_w, h0.shape[0], h0.shape[1], &head0_packed});
    const tensor_spec& h1 = spec("pre_head_1.weight");
    jobs.push_back({head1_w, h1.shape[0], h1.shape[1], &head1_packed});
    const tensor_spec& cl = spec("classifer.weight");
    jobs.push_back({classifier_w, cl.shape[0], cl.shape[1], &classifier_packed});
    packed_total_ = 0;
    for (const job& j : jobs) packed_total_ += j.size();
    packed_.reset(static_cast<float*>(::operator new(
        static_cast<std::size_t>(std::max<std::int64_t>(packed_total_, 16)) * sizeof(float),
        std::align_val_t(64))));
    float* at = packed_.get();
    for (const job& j : jobs) {
      if (j.taps)
        kernels::pack_depthwise_taps(j.w, j.out_max, j.in_max, at);
      else
        kernels::pack_linear_weight(j.w, j.out_max, j.in_max, at);
      *j.into = at;
      at += j.size();
    }
  }

  const space_descriptor* space_ = nullptr;
  std::vector<tensor_spec> specs_;
  std::vector<std::int64_t> offsets_;
  std::map<std::string, std::size_t> index_;
  std::int64_t total_ = 0;
  std::unique_ptr<float, release> buffer_;
  std::int64_t packed_total_ = 0;
  std::unique_ptr<float, release> packed_;  ///< packed linear weights (pack_linear_weights)
  std::vector<const float*> where_;         ///< each tensor: in buffer_ or in the file's bytes
  std::shared_ptr<const void> file_;        ///< the file's bytes, while a tensor is used in place
};

}  // namespace elasticvit
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
