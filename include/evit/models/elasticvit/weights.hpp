// SPDX-License-Identifier: MIT
// The tensors of an ElasticViT supernet: their official state_dict names and max-size shapes for
// a given space, loaded from safetensors (or random) into one immutable, 64-byte aligned buffer,
// with a structured index of pointers that the forward pass slices in place.
// Next: models/elasticvit/supernet.hpp (the forward pass).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "evit/core/error.hpp"
#include "evit/core/rng.hpp"
#include "evit/io/safetensors.hpp"
#include "evit/models/elasticvit/macs.hpp"
#include "evit/space/descriptor.hpp"
#include "evit/simd/namespace.hpp"

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
};

/// The official names and max shapes of every tensor of the supernet of space `d`.
inline std::vector<tensor_spec> expected_tensors(const space_descriptor& d) {
  check_elasticvit_family(d);
  std::vector<tensor_spec> out;
  using init = tensor_spec::init;
  auto add = [&](const std::string& name, std::vector<std::int64_t> shape, init fill = init::weight,
                 bool parameter = true) {
    out.push_back({name, std::move(shape), parameter, fill});
  };
  auto bn = [&](const std::string& prefix, std::int64_t c) {
    add(prefix + ".weight", {c}, init::gamma);
    add(prefix + ".bias", {c}, init::beta);
    add(prefix + ".running_mean", {c}, init::running_mean, false);
    add(prefix + ".running_var", {c}, init::running_var, false);
  };
  auto mbconv = [&](const std::string& p, std::int64_t in, std::int64_t inner, std::int64_t c,
                    std::int64_t k, bool has_pw, bool se) {
    if (has_pw) {
      add(p + ".pw_conv.weight", {inner, in, 1, 1});
      bn(p + ".pw_bn", inner);
    }
    add(p + ".dw_conv.weight", {inner, 1, k, k});
    bn(p + ".dw_bn", inner);
    if (se) {
      add(p + ".se_conv1.weight", {inner / 4, inner, 1, 1});
      add(p + ".se_conv1.bias", {inner / 4}, init::beta);
      add(p + ".se_conv2.weight", {inner, inner / 4, 1, 1});
      add(p + ".se_conv2.bias", {inner}, init::beta);
    }
    add(p + ".pwl_conv.weight", {c, inner, 1, 1});
    bn(p + ".pwl_bn", c);
    add(p + ".shortcut_conv.weight", {c, in, 1, 1});
  };

  const stage_descriptor& first = d.stages[0];
  add("first_conv.weight",
      {first.max_width, 3, first.kernel_size.back(), first.kernel_size.back()});
  bn("first_conv_bn", first.max_width);
  std::int64_t prev_max = first.max_width;
  int main_stage = 0;  // index in feature_exactor (stages after the stem)
  for (int s = 1; s < d.num_stages(); ++s) {
    const stage_descriptor& st = d.stages[s];
    const std::int64_t c = st.max_width;
    const std::int64_t in = std::max<std::int64_t>(c, prev_max);
    const bool is_stem = s == 1;
    const std::string base =
        is_stem ? "conv_stem" : "feature_exactor." + std::to_string(main_stage);
    if (st.is_conv()) {
      const std::int64_t e = st.expand_ratio.back();
      for (int j = 0; j < st.max_depth; ++j)
        mbconv(base + ".layers." + std::to_string(j) + ".0", in, in * e, c, st.kernel_size.back(),
               e > 1, st.squeeze_excite);
    } else {
      const std::int64_t h = st.max_heads, hd = st.head_dim;
      const std::int64_t dq = hd * st.qk_scale.back(), dv = hd * st.v_scale.back();
      const std::int64_t rmax = d.max_side_after(s);
      const std::int64_t hidden = st.mlp_ratio.back().floor_times(c);
      for (int j = 0; j < st.max_depth; ++j) {
        const std::string a = base + ".layers." + std::to_string(2 * j);
        const std::string f = base + ".layers." + std::to_string(2 * j + 1);
        if (j == 0) mbconv(a + ".reduction", in, in * 6, c, 3, true, true);
        add(a + ".attention_bias", {(2 * rmax - 1) * (2 * rmax - 1), h}, init::bias_table);
        add(a + ".qkv.weight", {h * (2 * dq + dv), c});
        add(a + ".proj.weight", {c, h * dv});
        add(a + ".proj.bias", {c}, init::beta);
        add(a + ".dw_v_conv.weight", {h * dv, 1, 3, 3});
        add(a + ".norm1.weight", {c}, init::gamma);
        add(a + ".norm1.bias", {c}, init::beta);
        add(f + ".norm1.weight", {c}, init::gamma);
        add(f + ".norm1.bias", {c}, init::beta);
        add(f + ".fc1.weight", {hidden, c});
        add(f + ".fc1.bias", {hidden}, init::beta);
        add(f + ".fc2.weight", {c, hidden});
        add(f + ".fc2.bias", {c}, init::beta);
      }
    }
    if (!is_stem) ++main_stage;
    prev_max = c;
  }
  const std::int64_t c = d.stages.back().max_width, e = d.constants.head_expand;
  add("pre_head_0.weight", {e * c, c});
  add("pre_head_0.bias", {e * c}, init::beta);
  bn("pre_head_norm_0", e * c);
  add("pre_head_1.weight", {d.constants.head_hidden, e * c});
  add("pre_head_1.bias", {d.constants.head_hidden}, init::beta);
  add("classifer.weight", {d.constants.num_classes, d.constants.head_hidden});  // (sic) official
  add("classifer.bias", {d.constants.num_classes}, init::beta);
  return out;
}

/// Number of PyTorch parameters (not buffers) of the supernet of space `d`.
inline std::int64_t supernet_parameter_count(const space_descriptor& d) {
  std::int64_t n = 0;
  for (const auto& t : expected_tensors(d))
    if (t.parameter) n += t.numel();
  return n;
}

/// All tensors of one supernet in one immutable, aligned buffer, with a structured index.
class supernet_weights {
 public:
  /// Loads from a safetensors file with the official names. Every expected tensor must be present
  /// with a floating dtype (F32, F16, BF16) and exactly its expected shape; extra tensors (such as
  /// num_batches_tracked or relative_position_index) are ignored.
  /// @throws evit::format_error naming the tensor, its shape and the expected shape.
  static supernet_weights load(const space_descriptor& d, const io::safetensors_file& f) {
    supernet_weights w(d);
    for (std::size_t i = 0; i < w.specs_.size(); ++i) {
      const tensor_spec& s = w.specs_[i];
      const io::tensor_info* t = f.find(s.name);
      if (!t)
        throw format_error(f.origin() + ": tensor \"" + s.name + "\" is missing (expected shape " +
                           shape_text(s.shape) + " for space " + d.name + ")");
      if (t->type != io::dtype::f32 && t->type != io::dtype::f16 && t->type != io::dtype::bf16)
        throw format_error(f.origin() + ": tensor \"" + s.name + "\" has dtype " +
                           io::dtype_name(t->type) + "; expected F32, F16 or BF16");
      if (t->shape != s.shape)
        throw format_error(f.origin() + ": tensor \"" + s.name + "\" has shape " +
                           shape_text(t->shape) + "; the supernet of space " + d.name + " needs " +
                           shape_text(s.shape));
      f.copy_f32(*t, w.buffer_.get() + w.offsets_[i]);
    }
    w.build_index();
    return w;
  }
  static supernet_weights load(const space_descriptor& d, const std::string& path) {
    return load(d, io::safetensors_file::open(path));
  }

  /// A random supernet: weights ~ N(0, 1/fan_in)-scaled uniform, BN statistics near identity, so
  /// that activations stay in range through any subnet. Deterministic for a seed.
  static supernet_weights random(const space_descriptor& d, std::uint64_t seed) {
    supernet_weights w(d);
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
    return buffer_.get() + offsets_[it->second];
  }
  const tensor_spec& spec(const std::string& name) const {
    auto it = index_.find(name);
    if (it == index_.end()) throw invalid_argument("supernet has no tensor \"" + name + "\"");
    return specs_[it->second];
  }
  /// Total floats held.
  std::int64_t size() const { return total_; }
  /// The whole buffer (for zero-copy checks).
  const float* data() const { return buffer_.get(); }

  // Structured index (pointers into the buffer).
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
  bn_tensors head_bn;
  const float* head1_w = nullptr;  ///< [hidden, e*C]
  const float* head1_b = nullptr;
  const float* classifier_w = nullptr;  ///< [classes, hidden]
  const float* classifier_b = nullptr;

 private:
  struct release {
    void operator()(float* p) const noexcept { ::operator delete(p, std::align_val_t(64)); }
  };

  explicit supernet_weights(const space_descriptor& d) : space_(&d), specs_(expected_tensors(d)) {
    std::int64_t pos = 0;
    for (std::size_t i = 0; i < specs_.size(); ++i) {
      offsets_.push_back(pos);
      index_[specs_[i].name] = i;
      pos += (specs_[i].numel() + 15) / 16 * 16;  // every tensor starts 64-byte aligned
    }
    total_ = pos;
    buffer_.reset(static_cast<float*>(
        ::operator new(static_cast<std::size_t>(std::max<std::int64_t>(pos, 16)) * sizeof(float),
                       std::align_val_t(64))));
    std::fill(buffer_.get(), buffer_.get() + pos, 0.0f);
  }

  static std::string shape_text(const std::vector<std::int64_t>& s) {
    std::string t = "[";
    for (std::size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
    return t + "]";
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
    first_conv = tensor("first_conv.weight");
    first_bn = bn("first_conv_bn");
    conv_layers.assign(static_cast<std::size_t>(d.num_stages()), {});
    reduction.assign(static_cast<std::size_t>(d.num_stages()), {});
    transformer_layers.assign(static_cast<std::size_t>(d.num_stages()), {});
    int main_stage = 0;
    for (int s = 1; s < d.num_stages(); ++s) {
      const stage_descriptor& st = d.stages[s];
      const bool is_stem = s == 1;
      const std::string base =
          is_stem ? "conv_stem" : "feature_exactor." + std::to_string(main_stage);
      if (st.is_conv()) {
        for (int j = 0; j < st.max_depth; ++j)
          conv_layers[s].push_back(mbconv(base + ".layers." + std::to_string(j) + ".0",
                                          st.expand_ratio.back() > 1, st.squeeze_excite));
      } else {
        for (int j = 0; j < st.max_depth; ++j) {
          const std::string a = base + ".layers." + std::to_string(2 * j);
          const std::string f = base + ".layers." + std::to_string(2 * j + 1);
          if (j == 0) reduction[s] = mbconv(a + ".reduction", true, true);
          transformer_tensors t;
          t.width_max = st.max_width;
          t.heads_max = st.max_heads;
          t.qk_max = st.qk_scale.back();
          t.v_max = st.v_scale.back();
          t.rel_side_max = d.max_side_after(s);
          t.hidden_max = static_cast<int>(spec(f + ".fc1.weight").shape[0]);
          t.norm1_gamma = tensor(a + ".norm1.weight");
          t.norm1_beta = tensor(a + ".norm1.bias");
          t.qkv = tensor(a + ".qkv.weight");
          t.rel_bias = tensor(a + ".attention_bias");
          t.v_conv = tensor(a + ".dw_v_conv.weight");
          t.proj_w = tensor(a + ".proj.weight");
          t.proj_b = tensor(a + ".proj.bias");
          t.norm2_gamma = tensor(f + ".norm1.weight");
          t.norm2_beta = tensor(f + ".norm1.bias");
          t.fc1_w = tensor(f + ".fc1.weight");
          t.fc1_b = tensor(f + ".fc1.bias");
          t.fc2_w = tensor(f + ".fc2.weight");
          t.fc2_b = tensor(f + ".fc2.bias");
          transformer_layers[s].push_back(t);
        }
      }
      if (!is_stem) ++main_stage;
    }
    head0_w = tensor("pre_head_0.weight");
    head0_b = tensor("pre_head_0.bias");
    head_bn = bn("pre_head_norm_0");
    head1_w = tensor("pre_head_1.weight");
    head1_b = tensor("pre_head_1.bias");
    classifier_w = tensor("classifer.weight");
    classifier_b = tensor("classifer.bias");
  }

  const space_descriptor* space_ = nullptr;
  std::vector<tensor_spec> specs_;
  std::vector<std::int64_t> offsets_;
  std::map<std::string, std::size_t> index_;
  std::int64_t total_ = 0;
  std::unique_ptr<float, release> buffer_;
};

}  // namespace elasticvit
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
