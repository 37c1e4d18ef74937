// SPDX-License-Identifier: MIT
// evit::arch: one subnet as a run-time value, the same type for every search space.
// Its meaning (which stage is a conv stage, what is allowed) comes from the space: see
// space/search_space.hpp, which validates an arch, and io/arch_text.hpp for its formats.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>

#include "evit/core/error.hpp"
#include "evit/core/hash.hpp"
#include "evit/core/rational.hpp"

#ifndef EVIT_ARCH_MAX_STAGES
/// Most stages an arch can hold; raise it (consistently in every TU) for deeper macro designs.
#define EVIT_ARCH_MAX_STAGES 16
#endif
#ifndef EVIT_ARCH_MAX_LAYERS
/// Most layers (summed over stages) an arch can hold. The official ElasticViT space needs 37.
#define EVIT_ARCH_MAX_LAYERS 64
#endif

namespace evit {

/// The per-layer dimensions of one layer. A dimension that the layer's stage kind does not use
/// is 0 (canonical form: two equal subnets always compare equal).
struct layer_dims {
  int expand_ratio = 0;  ///< conv stages: MBConv expansion e (inner = cin * e)
  int kernel_size = 0;   ///< conv stages: depthwise (or plain) kernel k
  rational mlp_ratio{};  ///< transformer stages: hidden = floor(mlp_ratio * width)
  int num_heads = 0;     ///< transformer stages
  int qk_scale = 0;      ///< transformer stages: q/k head dim = head_dim * qk_scale
  int v_scale = 0;       ///< transformer stages: v head dim = head_dim * v_scale

  friend bool operator==(const layer_dims& a, const layer_dims& b) {
    return a.expand_ratio == b.expand_ratio && a.kernel_size == b.kernel_size &&
           a.mlp_ratio == b.mlp_ratio && a.num_heads == b.num_heads && a.qk_scale == b.qk_scale &&
           a.v_scale == b.v_scale;
  }
  friend bool operator!=(const layer_dims& a, const layer_dims& b) { return !(a == b); }
  friend bool operator<(const layer_dims& a, const layer_dims& b) {
    if (a.expand_ratio != b.expand_ratio) return a.expand_ratio < b.expand_ratio;
    if (a.kernel_size != b.kernel_size) return a.kernel_size < b.kernel_size;
    if (a.mlp_ratio != b.mlp_ratio) return a.mlp_ratio < b.mlp_ratio;
    if (a.num_heads != b.num_heads) return a.num_heads < b.num_heads;
    if (a.qk_scale != b.qk_scale) return a.qk_scale < b.qk_scale;
    return a.v_scale < b.v_scale;
  }
};

/// One subnet: input resolution, per-stage width and depth, per-layer dimensions.
///
/// A fixed-capacity value (no heap): cheap to copy, compare and hash, so samplers and searches
/// can create millions. Layers are stored flat, stage after stage; `layer(s, j)` is layer j of
/// stage s. The space it belongs to gives the fields their meaning and checks them
/// (`Space::validate(a)`); arch itself only guards its capacity.
/// @code
///   evit::arch a = evit::elasticvit::official_space::min_arch();
///   a.set_depth(5, 3);                 // stage 5 gets 3 layers (new ones copy the last one)
///   a.layer(5, 2).mlp_ratio = 4;
///   auto h = a.hash();                 // same value on every platform
/// @endcode
class arch {
 public:
  static constexpr int max_stages = EVIT_ARCH_MAX_STAGES;
  static constexpr int max_layers = EVIT_ARCH_MAX_LAYERS;

  arch() = default;

  int resolution() const { return resolution_; }
  void set_resolution(int r) { resolution_ = r; }

  int num_stages() const { return num_stages_; }
  /// Total number of layers over all stages.
  int num_layers() const { return num_layers_; }

  int width(int s) const { return stage(s).width; }
  void set_width(int s, int w) { stage(s).width = w; }
  int depth(int s) const { return stage(s).depth; }

  /// Appends a stage of `depth` layers, each equal to `fill`.
  void add_stage(int width, int depth, const layer_dims& fill = {}) {
    if (num_stages_ >= max_stages)
      throw invalid_arch("arch: more than " + std::to_string(max_stages) +
                         " stages (raise EVIT_ARCH_MAX_STAGES)");
    check_depth(num_stages_, depth);
    stages_[num_stages_] = stage_entry{width, depth, num_layers_};
    std::fill(layers_.begin() + num_layers_, layers_.begin() + num_layers_ + depth, fill);
    num_layers_ += depth;
    ++num_stages_;
  }

  /// Changes the depth of stage s. Added layers copy the stage's last layer (or `fill` when the
  /// stage had none); removed layers are the last ones. Later stages' layers move accordingly.
  void set_depth(int s, int depth, const layer_dims* fill = nullptr) {
    stage_entry& st = stage(s);
    check_depth(s, depth);
    const int delta = depth - st.depth;
    if (delta == 0) return;
    const int end = st.offset + st.depth;
    if (delta > 0) {
      std::copy_backward(layers_.begin() + end, layers_.begin() + num_layers_,
                         layers_.begin() + num_layers_ + delta);
      const layer_dims f = fill ? *fill : (st.depth > 0 ? layers_[end - 1] : layer_dims{});
      std::fill(layers_.begin() + end, layers_.begin() + end + delta, f);
    } else {
      std::copy(layers_.begin() + end, layers_.begin() + num_layers_,
                layers_.begin() + end + delta);
      std::fill(layers_.begin() + num_layers_ + delta, layers_.begin() + num_layers_, layer_dims{});
    }
    num_layers_ += delta;
    st.depth = depth;
    for (int t = s + 1; t < num_stages_; ++t) stages_[t].offset += delta;
  }

  /// Layer j of stage s.
  layer_dims& layer(int s, int j) { return layers_[layer_index(s, j)]; }
  const layer_dims& layer(int s, int j) const { return layers_[layer_index(s, j)]; }
  /// Index of layer j of stage s in the flat layer order.
  int layer_index(int s, int j) const {
    const stage_entry& st = stage(s);
    if (j < 0 || j >= st.depth)
      throw invalid_arch("arch: layer " + std::to_string(j) + " out of range for stage " +
                         std::to_string(s) + " of depth " + std::to_string(st.depth));
    return st.offset + j;
  }
  /// Layer i in the flat order (0 <= i < num_layers()).
  const layer_dims& flat_layer(int i) const { return layers_[checked_flat(i)]; }
  layer_dims& flat_layer(int i) { return layers_[checked_flat(i)]; }

  /// The layers of stage s, contiguous: stage_layers(s)[j] for 0 <= j < depth(s).
  const layer_dims* stage_layers(int s) const { return layers_.data() + stage(s).offset; }

  /// Sets every layer of stage s to `d` (block-wise spaces share one setting per stage).
  void set_stage_layers(int s, const layer_dims& d) {
    const stage_entry& st = stage(s);
    std::fill(layers_.begin() + st.offset, layers_.begin() + st.offset + st.depth, d);
  }

  friend bool operator==(const arch& a, const arch& b) {
    if (a.resolution_ != b.resolution_ || a.num_stages_ != b.num_stages_ ||
        a.num_layers_ != b.num_layers_)
      return false;
    for (int s = 0; s < a.num_stages_; ++s)
      if (a.stages_[s].width != b.stages_[s].width || a.stages_[s].depth != b.stages_[s].depth)
        return false;
    return std::equal(a.layers_.begin(), a.layers_.begin() + a.num_layers_, b.layers_.begin());
  }
  friend bool operator!=(const arch& a, const arch& b) { return !(a == b); }
  /// A strict total order (resolution, then stages, then layers), for sorted containers.
  friend bool operator<(const arch& a, const arch& b) {
    if (a.resolution_ != b.resolution_) return a.resolution_ < b.resolution_;
    if (a.num_stages_ != b.num_stages_) return a.num_stages_ < b.num_stages_;
    for (int s = 0; s < a.num_stages_; ++s) {
      if (a.stages_[s].width != b.stages_[s].width) return a.stages_[s].width < b.stages_[s].width;
      if (a.stages_[s].depth != b.stages_[s].depth) return a.stages_[s].depth < b.stages_[s].depth;
    }
    return std::lexicographical_compare(a.layers_.begin(), a.layers_.begin() + a.num_layers_,
                                        b.layers_.begin(), b.layers_.begin() + b.num_layers_);
  }

  /// A 64-bit hash of the values, identical on every platform and compiler.
  std::uint64_t hash() const {
    // Two 32-bit values per 64-bit word: lossless, and half the mixing work.
    auto pair = [](std::int32_t hi, std::int32_t lo) {
      return static_cast<std::int64_t>(
          (static_cast<std::uint64_t>(static_cast<std::uint32_t>(hi)) << 32) |
          static_cast<std::uint32_t>(lo));
    };
    hasher h;
    h.add(pair(resolution_, num_stages_));
    for (int s = 0; s < num_stages_; ++s) h.add(pair(stages_[s].width, stages_[s].depth));
    for (int i = 0; i < num_layers_; ++i) {
      const layer_dims& l = layers_[i];
      h.add(pair(l.expand_ratio, l.kernel_size)).add(pair(l.mlp_ratio.num(), l.mlp_ratio.den()));
      h.add(pair(l.num_heads, l.qk_scale)).add(l.v_scale);
    }
    return h.value();
  }

 private:
  struct stage_entry {
    int width = 0;
    int depth = 0;
    int offset = 0;  // index of the stage's first layer in layers_
  };

  stage_entry& stage(int s) { return stages_[checked_stage(s)]; }
  const stage_entry& stage(int s) const { return stages_[checked_stage(s)]; }
  int checked_stage(int s) const {
    if (s < 0 || s >= num_stages_)
      throw invalid_arch("arch: stage index " + std::to_string(s) + " out of range [0, " +
                         std::to_string(num_stages_) + ")");
    return s;
  }
  int checked_flat(int i) const {
    if (i < 0 || i >= num_layers_)
      throw invalid_arch("arch: layer index " + std::to_string(i) + " out of range [0, " +
                         std::to_string(num_layers_) + ")");
    return i;
  }
  void check_depth(int s, int depth) const {
    const int current = s < num_stages_ ? stages_[s].depth : 0;
    if (depth < 0 || num_layers_ - current + depth > max_layers)
      throw invalid_arch("arch: depth " + std::to_string(depth) + " for stage " +
                         std::to_string(s) + " is negative or exceeds the capacity of " +
                         std::to_string(max_layers) + " layers (raise EVIT_ARCH_MAX_LAYERS)");
  }

  int resolution_ = 0;
  int num_stages_ = 0;
  int num_layers_ = 0;
  std::array<stage_entry, max_stages> stages_{};
  std::array<layer_dims, max_layers> layers_{};
};

/// std::hash-compatible functor, e.g. std::unordered_map<evit::arch, double, evit::arch_hash>.
struct arch_hash {
  std::size_t operator()(const arch& a) const { return static_cast<std::size_t>(a.hash()); }
};

}  // namespace evit
