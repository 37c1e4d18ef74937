// SPDX-License-Identifier: MIT
// An AutoFormer supernet (the official Vision_TransformerSuper of microsoft/Cream): load it once
// from its official state_dict names, run any subnet of its space straight from the supernet
// weights (leading slices read in place, nothing copied), switch subnets between calls. The
// forward pass is in forward.hpp; every quirk of the official forward that it reproduces is listed
// in docs/autoformer.md.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "evit/core/error.hpp"
#include "evit/core/executor.hpp"
#include "evit/io/arch_text.hpp"
#include "evit/io/safetensors.hpp"
#include "evit/models/autoformer/cost.hpp"
#include "evit/models/autoformer/forward.hpp"
#include "evit/models/autoformer/space.hpp"
#include "evit/models/autoformer/weights.hpp"
#include "evit/simd/namespace.hpp"
#include "evit/space/validate.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace autoformer {

/// One AutoFormer supernet of space Space (tiny_space, small_space, base_space, or a user space of
/// the same family: one transformer_stage with head_dim<64> and num_heads<...>, patch_size and
/// num_classes constants).
/// @code
///   namespace af = evit::autoformer;
///   auto net = af::supernet<af::tiny_space>::load("supernet-T.safetensors");
///   af::forward_workspace ws;
///   std::vector<float> logits(batch * 1000);
///   net.forward(af::tiny_space::max_arch(), images, batch, logits.data(), ws);
/// @endcode
template <class Space = tiny_space>
class supernet {
 public:
  using workspace_type = forward_workspace;  ///< what forward() takes, for generic callers
  using options_type = forward_options;
  /// Loads the official state_dict names from a safetensors file (tools/convert_checkpoint.py
  /// turns a training checkpoint into one). Strict: every tensor the space's supernet needs that
  /// the file lacks, and every parameter tensor of the file the supernet does not use, is named in
  /// one evit::format_error, as is a tensor of a wrong dtype or shape.
  static supernet load(const std::string& path, const load_options& opts = load_options()) {
    return supernet(supernet_weights::load(Space::descriptor(), path, opts));
  }
  static supernet load(const io::safetensors_file& f, const load_options& opts = load_options()) {
    return supernet(supernet_weights::load(Space::descriptor(), f, opts));
  }
  /// A random supernet (deterministic for a seed) for tests and benchmarks.
  static supernet random(std::uint64_t seed) {
    return supernet(supernet_weights::random(Space::descriptor(), seed));
  }

  const supernet_weights& weights() const { return net_.weights(); }
  const network& engine() const { return net_; }
  const space_descriptor& space() const { return net_.space(); }
  int num_classes() const { return net_.num_classes(); }

  /// Logits of `batch` images (NCHW, 3 x R x R each, R = a.resolution()) into logits
  /// (batch x num_classes). Allocates nothing when `ws` already holds `batch` samples and the
  /// executor's workers (without keep_intermediates). Bit-identical logits for every executor.
  /// @throws evit::invalid_arch if `a` is not in the space; evit::invalid_argument for a bad
  ///         batch or a null pointer.
  void forward(const arch& a, const float* images, Index batch, float* logits,
               forward_workspace& ws, const forward_options& opts = forward_options()) const {
    net_.forward(a, images, batch, logits, ws, opts);
  }

  /// Convenience: returns the logits (same options).
  std::vector<float> forward(const arch& a, const std::vector<float>& images, Index batch,
                             forward_workspace& ws,
                             const forward_options& opts = forward_options()) const {
    const Index per = 3 * static_cast<Index>(a.resolution()) * a.resolution();
    if (batch < 1 || static_cast<Index>(images.size()) != batch * per)
      throw invalid_argument("forward: " + std::to_string(images.size()) +
                             " input values for a batch of " + std::to_string(batch) + " at " +
                             std::to_string(a.resolution()) + "x" + std::to_string(a.resolution()) +
                             " (expected " + std::to_string(batch * per) + ")");
    std::vector<float> out(static_cast<std::size_t>(batch * num_classes()));
    forward(a, images.data(), batch, out.data(), ws, opts);
    return out;
  }

  /// Writes subnet `a` as a standalone safetensors file: only the tensors and slices `a` reads,
  /// under the official names (pos_embed, cls_token, patch_embed_super.proj [:E]; per active block
  /// qkv.weight[:3Q, :E] with its rows still interleaved q, k, v, qkv.bias[:3Q] (read contiguous),
  /// the four relative-position tables whole, proj[:E, :Q], the LayerNorms [:E], fc1[:F, :E],
  /// fc2[:E, :F]; norm [:E], head[:, :E]); in the metadata "arch" (text), "space" (name) and
  /// "autoformer": a JSON object with every size the forward uses (format
  /// "evit.autoformer.subnet/1": resolution, patch, side, tokens, embed, depth, head_dim,
  /// max_relative, classes, norm_eps, scale, and per block heads, qkv and hidden). Read by
  /// tools/export_onnx.py.
  void export_subnet(const arch& a, const std::string& path) const {
    const space_descriptor& d = space();
    validate(d, a);
    const supernet_weights& w = weights();
    const supernet_dims& z = w.dims();
    using i64 = std::int64_t;
    const i64 E = a.width(0), Emax = z.embed, Qmax = z.qkv(), Fmax = z.hidden, hd = z.head_dim;
    const i64 p = z.patch, nc = z.classes;
    io::safetensors_writer out;
    std::vector<float> buf;
    // rows x cols leading block of a row-major tensor of row length ld.
    auto add = [&](const std::string& name, std::vector<i64> shape, i64 rows, i64 cols, i64 ld) {
      const float* src = w.tensor(name);
      buf.resize(static_cast<std::size_t>(rows * cols));
      for (i64 r = 0; r < rows; ++r)
        std::copy(src + r * ld, src + r * ld + cols, buf.data() + r * cols);
      out.add(name, std::move(shape), buf.data());
    };
    add("pos_embed", {1, z.tokens, E}, z.tokens, E, Emax);
    add("cls_token", {1, 1, E}, 1, E, Emax);
    add("patch_embed_super.proj.weight", {E, 3, p, p}, 1, E * 3 * p * p, 0);
    add("patch_embed_super.proj.bias", {E}, 1, E, 0);
    std::string layers;
    for (int i = 0; i < a.depth(0); ++i) {
      const layer_dims& l = a.layer(0, i);
      const i64 H = l.num_heads, Q = H * hd, F = l.mlp_ratio.floor_times(E);
      const std::string b = "blocks." + std::to_string(i) + ".";
      add(b + "attn.qkv.weight", {3 * Q, E}, 3 * Q, E, Emax);
      add(b + "attn.qkv.bias", {3 * Q}, 1, 3 * Q, 0);
      for (const char* kv : {"k", "v"})
        for (const char* axis : {"v", "h"})
          add(b + "attn.rel_pos_embed_" + kv + ".embeddings_table_" + axis, {z.rel_rows(), hd},
              z.rel_rows(), hd, hd);
      add(b + "attn.proj.weight", {E, Q}, E, Q, Qmax);
      add(b + "attn.proj.bias", {E}, 1, E, 0);
      for (const char* ln : {"attn_layer_norm", "ffn_layer_norm"})
        for (const char* s : {".weight", ".bias"}) add(b + ln + s, {E}, 1, E, 0);
      add(b + "fc1.weight", {F, E}, F, E, Emax);
      add(b + "fc1.bias", {F}, 1, F, 0);
      add(b + "fc2.weight", {E, F}, E, F, Fmax);
      add(b + "fc2.bias", {E}, 1, E, 0);
      layers += (i ? ", " : "") + std::string("{\"heads\": ") + std::to_string(H) +
                ", \"qkv\": " + std::to_string(Q) + ", \"hidden\": " + std::to_string(F) + "}";
    }
    add("norm.weight", {E}, 1, E, 0);
    add("norm.bias", {E}, 1, E, 0);
    add("head.weight", {nc, E}, nc, E, Emax);
    add("head.bias", {nc}, 1, nc, 0);
    char eps[32];
    std::snprintf(eps, sizeof eps, "%.9g", static_cast<double>(norm_eps));
    auto num = [](const char* key, i64 v) {
      return "\"" + std::string(key) + "\": " + std::to_string(v) + ", ";
    };
    const std::string text = evit::to_string(d, a);
    std::string json = "{\"format\": \"evit.autoformer.subnet/1\", \"space\": \"" + d.name +
                       "\", " + num("resolution", a.resolution()) + num("patch", p) +
                       num("side", z.side) + num("tokens", z.tokens) + num("embed", E) +
                       num("depth", a.depth(0)) + num("head_dim", hd) +
                       num("max_relative", z.max_relative) + num("classes", nc) +
                       "\"norm_eps\": " + eps + ", \"scale\": 0.125, \"layers\": [" + layers + "]}";
    out.set_metadata("arch", text);
    out.set_metadata("space", d.name);
    out.set_metadata("autoformer", json);
    out.write(path);
  }

 private:
  explicit supernet(supernet_weights w) : net_(std::move(w)) {}
  network net_;
};

}  // namespace autoformer
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
