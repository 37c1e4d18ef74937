// SPDX-License-Identifier: MIT
// The tensors of an AutoFormer supernet (the official Vision_TransformerSuper, microsoft/Cream):
// their official state_dict names and supernet shapes for a space of the AutoFormer family, used in
// place in a safetensors file's memory (or in one aligned buffer of their own: random supernets,
// F16/BF16 files), with a structured index of pointers that the forward pass slices in place.
// The names are checked strictly, as for ElasticViT: every missing, mistyped or unused tensor is
// named (elasticvit::checkpoint::check_tensor_names).
// Next: models/autoformer/forward.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "evit/core/error.hpp"
#include "evit/core/rng.hpp"
#include "evit/io/safetensors.hpp"
#include "evit/models/autoformer/cost.hpp"
#include "evit/models/elasticvit/weights.hpp"
#include "evit/simd/namespace.hpp"
#include "evit/space/descriptor.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace autoformer {

using elasticvit::load_options;
using elasticvit::tensor_spec;

/// The supernet sizes of an AutoFormer-family space (the shapes of its tensors).
struct supernet_dims {
  int embed = 0;         ///< E_max: the supernet's embedding width (T: 256)
  int depth = 0;         ///< blocks (T: 14)
  int heads = 0;         ///< H_max (T: 4)
  int head_dim = 0;      ///< 64: q/k/v width per head
  int hidden = 0;        ///< F_max = floor(max mlp ratio * E_max) (T: 1024)
  int patch = 0;         ///< patch size (16)
  int side = 0;          ///< patches per side at the largest resolution (14)
  int tokens = 0;        ///< side² + 1 (197): rows of pos_embed
  int classes = 0;       ///< num_classes
  int max_relative = 0;  ///< M of the relative position tables (2 M + 2 rows)
  int qkv() const { return heads * head_dim; }  ///< Q_max
  int rel_rows() const { return 2 * max_relative + 2; }

  /// The supernet sizes of space `d` (AutoFormer family: detail::check_family).
  static supernet_dims of(const space_descriptor& d) {
    detail::check_family(d);
    const stage_descriptor& st = d.stages[0];
    supernet_dims z;
    z.embed = st.max_width;
    z.depth = st.max_depth;
    z.heads = st.max_heads;
    z.head_dim = st.head_dim;
    rational r = st.mlp_ratio.empty() ? rational(4) : st.mlp_ratio[0];
    for (const rational& m : st.mlp_ratio) r = std::max(r, m);
    z.hidden = static_cast<int>(r.floor_times(z.embed));
    z.patch = d.constants.patch_size;
    const int res = *std::max_element(d.resolution.begin(), d.resolution.end());
    z.side = res / z.patch;
    z.tokens = z.side * z.side + 1;
    z.classes = d.constants.num_classes;
    z.max_relative = official_max_relative_position;
    return z;
  }
};

/// One transformer block's tensors at supernet size (official names under "blocks.<i>.").
struct block_tensors {
  const float* qkv_w = nullptr;      ///< attn.qkv.weight [3 Q_max, E_max], rows interleaved q, k, v
  const float* qkv_b = nullptr;      ///< attn.qkv.bias [3 Q_max], read as contiguous q | k | v
  const float* rel_k_v = nullptr;    ///< attn.rel_pos_embed_k.embeddings_table_v [2M + 2, 64]
  const float* rel_k_h = nullptr;    ///< attn.rel_pos_embed_k.embeddings_table_h
  const float* rel_v_v = nullptr;    ///< attn.rel_pos_embed_v.embeddings_table_v
  const float* rel_v_h = nullptr;    ///< attn.rel_pos_embed_v.embeddings_table_h
  const float* proj_w = nullptr;     ///< attn.proj.weight [E_max, Q_max]
  const float* proj_b = nullptr;     ///< attn.proj.bias [E_max]
  const float* ln_attn_g = nullptr;  ///< attn_layer_norm.weight [E_max]
  const float* ln_attn_b = nullptr;
  const float* ln_ffn_g = nullptr;  ///< ffn_layer_norm.weight [E_max]
  const float* ln_ffn_b = nullptr;
  const float* fc1_w = nullptr;  ///< fc1.weight [F_max, E_max]
  const float* fc1_b = nullptr;
  const float* fc2_w = nullptr;  ///< fc2.weight [E_max, F_max]
  const float* fc2_b = nullptr;
};

/// The official names and supernet shapes of every tensor of the supernet of space `d`, in the
/// official state_dict order.
inline std::vector<tensor_spec> expected_tensors(const space_descriptor& d) {
  const supernet_dims z = supernet_dims::of(d);
  using init = tensor_spec::init;
  using i64 = std::int64_t;
  std::vector<tensor_spec> out;
  auto add = [&](const std::string& name, std::vector<i64> shape, init fill = init::weight) {
    out.push_back({name, std::move(shape), true, fill});
  };
  const i64 e = z.embed, q = z.qkv(), f = z.hidden, p = z.patch, hd = z.head_dim;
  add("pos_embed", {1, z.tokens, e}, init::bias_table);
  add("cls_token", {1, 1, e}, init::bias_table);
  add("patch_embed_super.proj.weight", {e, 3, p, p});
  add("patch_embed_super.proj.bias", {e}, init::beta);
  for (int i = 0; i < z.depth; ++i) {
    const std::string b = "blocks." + std::to_string(i) + ".";
    add(b + "attn.qkv.weight", {3 * q, e});
    add(b + "attn.qkv.bias", {3 * q}, init::beta);
    for (const char* kv : {"k", "v"})
      for (const char* axis : {"v", "h"})
        add(b + "attn.rel_pos_embed_" + kv + ".embeddings_table_" + axis, {z.rel_rows(), hd},
            init::bias_table);
    add(b + "attn.proj.weight", {e, q});
    add(b + "attn.proj.bias", {e}, init::beta);
    add(b + "attn_layer_norm.weight", {e}, init::gamma);
    add(b + "attn_layer_norm.bias", {e}, init::beta);
    add(b + "ffn_layer_norm.weight", {e}, init::gamma);
    add(b + "ffn_layer_norm.bias", {e}, init::beta);
    add(b + "fc1.weight", {f, e});
    add(b + "fc1.bias", {f}, init::beta);
    add(b + "fc2.weight", {e, f});
    add(b + "fc2.bias", {e}, init::beta);
  }
  add("norm.weight", {e}, init::gamma);
  add("norm.bias", {e}, init::beta);
  add("head.weight", {z.classes, e});
  add("head.bias", {z.classes}, init::beta);
  return out;
}

/// All tensors of one AutoFormer supernet, immutable: in place in the file they were loaded from,
/// or in one 64-byte aligned buffer of their own; with a structured index.
class supernet_weights {
 public:
  /// Loads from a safetensors file with the official names. Every expected tensor must be present
  /// with a floating dtype (F32, F16, BF16) and exactly its expected shape, and every parameter
  /// tensor of the file must be one the space uses, unless opts.allow_extra_tensors(true).
  /// @throws evit::format_error naming every missing and every unused tensor, or the first tensor
  ///         of a wrong dtype or shape with its shape and the expected one.
  static supernet_weights load(const space_descriptor& d, const io::safetensors_file& f,
                               const load_options& opts = load_options()) {
    supernet_weights w(d);
    elasticvit::checkpoint::check_tensor_names(d, w.specs_, f, opts);
    std::vector<const io::tensor_info*> found(w.specs_.size());
    for (std::size_t i = 0; i < w.specs_.size(); ++i) {
      const tensor_spec& s = w.specs_[i];
      const io::tensor_info* t = found[i] = f.find(s.name);
      if (t->type != io::dtype::f32 && t->type != io::dtype::f16 && t->type != io::dtype::bf16)
        throw format_error(f.origin() + ": tensor \"" + s.name + "\" has dtype " +
                           io::dtype_name(t->type) + "; expected F32, F16 or BF16");
      if (t->shape != s.shape)
        throw format_error(f.origin() + ": tensor \"" + s.name + "\" has shape " +
                           elasticvit::checkpoint::shape_text(t->shape) +
                           "; the supernet of space " + d.name + " needs " +
                           elasticvit::checkpoint::shape_text(s.shape));
    }
    std::vector<bool> copy(w.specs_.size());
    for (std::size_t i = 0; i < copy.size(); ++i)
      copy[i] = !opts.in_place() || !f.f32_in_place(*found[i]);
    w.allocate(copy);
    for (std::size_t i = 0; i < copy.size(); ++i) {
      if (copy[i]) {
        f.copy_f32(*found[i], w.buffer_.get() + w.offsets_[i]);
      } else {
        w.where_[i] = f.f32_in_place(*found[i]);
        w.file_ = f.keep_alive();
      }
    }
    w.build_index();
    return w;
  }
  static supernet_weights load(const space_descriptor& d, const std::string& path,
                               const load_options& opts = load_options()) {
    return load(d, io::safetensors_file::open(path), opts);
  }

  /// A random supernet, deterministic for a seed: weights uniform with variance 1 / fan_in
  /// (fan_in of the supernet tensor), biases 0.1-scale, LayerNorm gains near 1, position
  /// embeddings and relative-position tables 0.5-scale, so that every subnet's activations stay in
  /// range and every quirk (biases, tables, class token) changes the outputs visibly.
  static supernet_weights random(const space_descriptor& d, std::uint64_t seed) {
    supernet_weights w(d);
    w.allocate(std::vector<bool>(w.specs_.size(), true));
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
          case tensor_spec::init::gamma:
            v = 1 + 0.1 * u;
            break;
          case tensor_spec::init::beta:
            v = 0.1 * u;
            break;
          case tensor_spec::init::bias_table:
            v = 0.5 * u;
            break;
          default:
            v = bound * u;
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
  const supernet_dims& dims() const { return dims_; }
  const std::vector<tensor_spec>& specs() const { return specs_; }
  /// The tensor called `name` (supernet size, row-major); throws evit::invalid_argument if unknown.
  const float* tensor(const std::string& name) const { return where_[index_of(name)]; }
  const tensor_spec& spec(const std::string& name) const { return specs_[index_of(name)]; }
  /// Whether the tensor called `name` is used in place in the file's bytes.
  bool in_place(const std::string& name) const { return offsets_[index_of(name)] < 0; }
  /// Floats in the weights' own buffer (0 for a file of F32 tensors used in place).
  std::int64_t size() const { return total_; }

  // Structured index (pointers into the buffer or the file's bytes).
  const float* pos_embed = nullptr;  ///< [tokens, E_max]
  const float* cls_token = nullptr;  ///< [E_max]
  const float* patch_w = nullptr;    ///< [E_max, 3, p, p]
  const float* patch_b = nullptr;    ///< [E_max]
  std::vector<block_tensors> blocks;
  const float* norm_g = nullptr;  ///< [E_max]
  const float* norm_b = nullptr;
  const float* head_w = nullptr;  ///< [classes, E_max]
  const float* head_b = nullptr;  ///< [classes]

 private:
  struct release {
    void operator()(float* p) const noexcept { ::operator delete(p, std::align_val_t(64)); }
  };

  explicit supernet_weights(const space_descriptor& d)
      : space_(&d), dims_(supernet_dims::of(d)), specs_(expected_tensors(d)) {
    for (std::size_t i = 0; i < specs_.size(); ++i) index_[specs_[i].name] = i;
  }

  std::size_t index_of(const std::string& name) const {
    auto it = index_.find(name);
    if (it == index_.end())
      throw invalid_argument("AutoFormer supernet has no tensor \"" + name + "\"");
    return it->second;
  }

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

  void build_index() {
    pos_embed = tensor("pos_embed");
    cls_token = tensor("cls_token");
    patch_w = tensor("patch_embed_super.proj.weight");
    patch_b = tensor("patch_embed_super.proj.bias");
    blocks.assign(static_cast<std::size_t>(dims_.depth), {});
    for (int i = 0; i < dims_.depth; ++i) {
      const std::string b = "blocks." + std::to_string(i) + ".";
      block_tensors& t = blocks[static_cast<std::size_t>(i)];
      t.qkv_w = tensor(b + "attn.qkv.weight");
      t.qkv_b = tensor(b + "attn.qkv.bias");
      t.rel_k_v = tensor(b + "attn.rel_pos_embed_k.embeddings_table_v");
      t.rel_k_h = tensor(b + "attn.rel_pos_embed_k.embeddings_table_h");
      t.rel_v_v = tensor(b + "attn.rel_pos_embed_v.embeddings_table_v");
      t.rel_v_h = tensor(b + "attn.rel_pos_embed_v.embeddings_table_h");
      t.proj_w = tensor(b + "attn.proj.weight");
      t.proj_b = tensor(b + "attn.proj.bias");
      t.ln_attn_g = tensor(b + "attn_layer_norm.weight");
      t.ln_attn_b = tensor(b + "attn_layer_norm.bias");
      t.ln_ffn_g = tensor(b + "ffn_layer_norm.weight");
      t.ln_ffn_b = tensor(b + "ffn_layer_norm.bias");
      t.fc1_w = tensor(b + "fc1.weight");
      t.fc1_b = tensor(b + "fc1.bias");
      t.fc2_w = tensor(b + "fc2.weight");
      t.fc2_b = tensor(b + "fc2.bias");
    }
    norm_g = tensor("norm.weight");
    norm_b = tensor("norm.bias");
    head_w = tensor("head.weight");
    head_b = tensor("head.bias");
  }

  const space_descriptor* space_ = nullptr;
  supernet_dims dims_;
  std::vector<tensor_spec> specs_;
  std::vector<std::int64_t> offsets_;
  std::map<std::string, std::size_t> index_;
  std::int64_t total_ = 0;
  std::unique_ptr<float, release> buffer_;
  std::vector<const float*> where_;
  std::shared_ptr<const void> file_;
};

}  // namespace autoformer
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
