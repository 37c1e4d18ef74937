// SPDX-License-Identifier: MIT
// The ElasticViT forward pass on a supernet's weights (docs/elasticvit.md): per-subnet BatchNorm
// statistics (bn_override), the workspace, and `network`, the engine that supernet<Space>
// (supernet.hpp, read that first) wraps.
//
// The forward pass runs layer by layer over the whole batch (so that BatchNorm recalibration can
// use batch statistics), each layer's per-sample work spread over the caller's executor; with
// fewer samples than workers, each op of a sample is also cut into pieces (output columns,
// channels, heads or image rows) that compute their elements exactly as the whole op does, so
// the result is the same bit for bit for any executor. With at least as many samples as
// workers, runs of MBConv-shaped blocks go sample by sample instead (detail/forward_impl.hpp,
// network::run: their feature maps stay in the caches), each op computing as before. All
// buffers come from a forward_workspace sized once for the space's largest subnet.
//
// ISA: network's heavy member templates take the SIMD architecture as a template parameter, so
// each ISA's forward pass is a symbol of its own; forward() and recalibrate() run the one
// simd::dispatch() picks (simd/isa.hpp). A program built with EVIT_DISPATCH compiles it once per
// ISA (cmake/evitDispatch.cmake); otherwise it is compiled, for the flags' ISA, where it is used.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "evit/core/error.hpp"
#include "evit/core/executor.hpp"
#include "evit/io/arch_text.hpp"
#include "evit/io/safetensors.hpp"
#include "evit/kernels/activation.hpp"
#include "evit/kernels/attention.hpp"
#include "evit/kernels/conv.hpp"
#include "evit/kernels/linear.hpp"
#include "evit/kernels/mbconv.hpp"
#include "evit/kernels/mlp.hpp"
#include "evit/kernels/norm.hpp"
#include "evit/kernels/transpose.hpp"
#include "evit/models/elasticvit/macs.hpp"
#include "evit/models/elasticvit/plan.hpp"
#include "evit/models/elasticvit/weights.hpp"
#include "evit/nn/workspace.hpp"
#include "evit/simd/isa.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace elasticvit {

using kernels::activation;

template <class Space>
class supernet;
class network;

/// Per-subnet BatchNorm statistics (docs/elasticvit.md#batchnorm-recalibration): running mean
/// and variance of every BatchNorm the subnet uses, for its active channels only, computed by
/// recalibration. The shared supernet is never modified; pass the override to forward() to use it.
class bn_override {
 public:
  struct stats {
    std::vector<float> mean, var;     ///< active channels
    std::vector<float> scale, shift;  ///< derived: gamma / sqrt(var + eps), beta - mean * scale
  };

  const arch& subnet() const { return arch_; }
  /// Number of calibration batches accumulated.
  int batches() const { return batches_; }
  /// Statistics of the BatchNorm called `name` (official name, e.g. "first_conv_bn").
  const stats& at(const std::string& name) const {
    auto it = by_name_.find(name);
    if (it == by_name_.end())
      throw invalid_argument("bn_override has no BatchNorm \"" + name + "\"");
    return it->second;
  }
  const std::map<std::string, stats>& all() const { return by_name_; }

  /// Saves as safetensors: "<bn name>.running_mean" / ".running_var" at the active sizes, the
  /// subnet (text form) and the batch count in the metadata.
  void save(const std::string& path) const {
    io::safetensors_writer w;
    for (const auto& kv : by_name_) {
      const auto n = static_cast<std::int64_t>(kv.second.mean.size());
      w.add(kv.first + ".running_mean", {n}, kv.second.mean.data());
      w.add(kv.first + ".running_var", {n}, kv.second.var.data());
    }
    w.set_metadata("arch", arch_text_);
    w.set_metadata("space", space_name_);
    w.set_metadata("batches", std::to_string(batches_));
    w.write(path);
  }

 private:
  friend class network;
  template <class Space>
  friend class supernet;
  arch arch_;
  std::string arch_text_, space_name_;
  int batches_ = 0;
  std::map<std::string, stats> by_name_;
};

/// Intermediate outputs of a forward pass, as the reference goldens store them: first_conv, stem
/// and stage0..1 in NCHW, stage2..5 as tokens (batch, r*r, C).
struct intermediates {
  struct tensor {
    std::vector<std::int64_t> shape;
    std::vector<float> values;
  };
  std::map<std::string, tensor> by_name;
};

/// Seconds spent per block kind, accumulated over the forwards whose forward_options point to it.
/// The forward keeps its order: where a run of blocks goes sample by sample (batch >= workers),
/// the run's wall time is split between the kinds by the workers' own per-block times.
struct forward_profile {
  double first_conv = 0, mbconv = 0, reduction = 0, attention = 0, ffn = 0, head = 0;
  double total() const { return first_conv + mbconv + reduction + attention + ffn + head; }
};

/// Options of a forward pass, with named setters (C++17: no designated initialisers):
/// @code
///   net.forward(a, images, batch, logits, ws,
///               evit::elasticvit::forward_options().executor(pool).bn(recalibrated));
/// @endcode
class forward_options {
 public:
  /// Runs the samples, and with fewer samples than workers the pieces of each op, on `exec`
  /// (default: the calling thread). The logits are the same for every executor. `exec` must
  /// outlive the call.
  forward_options& executor(executor_ref exec) {
    exec_ = exec;
    return *this;
  }
  /// BatchNorm statistics recalibrated for the subnet (default: the supernet's).
  forward_options& bn(const bn_override& o) {
    bn_ = &o;
    return *this;
  }
  /// Stores every stage's output here, as the reference goldens store them.
  forward_options& keep_intermediates(intermediates& into) {
    inter_ = &into;
    return *this;
  }
  /// Adds the time of each block kind to `into` (a clock read per block; see forward_profile).
  forward_options& profile(forward_profile& into) {
    profile_ = &into;
    return *this;
  }

  /// With at least as many samples as workers, takes each sample through the runs of conv
  /// blocks on its own (default: its feature maps stay in the caches from op to op); false runs
  /// every block op by op over the batch. The same logits either way.
  forward_options& sample_by_sample(bool on) {
    sample_by_sample_ = on;
    return *this;
  }

  executor_ref executor() const { return exec_; }
  bool sample_by_sample() const { return sample_by_sample_; }
  const bn_override* bn() const { return bn_; }
  intermediates* kept_intermediates() const { return inter_; }
  forward_profile* profiled() const { return profile_; }

 private:
  static sequential_executor& calling_thread() {
    static sequential_executor one;  // stateless: shared by every thread
    return one;
  }
  executor_ref exec_{calling_thread()};
  const bn_override* bn_ = nullptr;
  intermediates* inter_ = nullptr;
  forward_profile* profile_ = nullptr;
  bool sample_by_sample_ = true;
};

/// The attention call of an attention block (fixed head dimension, Hardswish before proj). The
/// forward pass and the workspace sizing both build it here.
inline kernels::attention_config attention_config_of(const block& b) {
  return kernels::attention_config::fixed_head_dim(b.side, b.cout, b.head_dim, b.qk_scale,
                                                   b.v_scale)
      .with_pre_proj(activation::hardswish);
}

/// The supernet tensors of a transformer layer's attention (stage head dimension `head_dim`), read
/// in place.
inline kernels::attention_weights<float> attention_weights_of(const transformer_tensors& t,
                                                              Index head_dim) {
  return kernels::attention_weights<float>::elasticvit(t.qkv, t.width_max, t.proj_w,
                                                       t.heads_max * head_dim * t.v_max, t.proj_b)
      .with_rel_bias(t.rel_bias, t.rel_side_max, t.heads_max)
      .with_v_conv(t.v_conv)
      .with_packed(t.qkv_packed, t.proj_packed);
}

/// The squeeze-excite FCs of an MBConv: the row-major slices, and the packed copies when the
/// supernet has them.
inline kernels::squeeze_excite_weights<float> squeeze_excite_weights_of(const mbconv_tensors& t) {
  kernels::squeeze_excite_weights<float> sw;
  sw.w1 = t.se1_w;
  sw.ld1 = t.inner_max;
  sw.b1 = t.se1_b;
  sw.w2 = t.se2_w;
  sw.ld2 = t.inner_max / model_fixed::se_divisor;
  sw.b2 = t.se2_b;
  sw.w1_packed = t.se1_packed;
  sw.w2_packed = t.se2_packed;
  return sw;
}

/// The supernet tensors of a transformer layer's FFN, read in place.
inline kernels::mlp_weights<float> mlp_weights_of(const transformer_tensors& t) {
  kernels::mlp_weights<float> mw;
  mw.fc1 = t.fc1_w;
  mw.fc1_ld = t.width_max;
  mw.fc1_bias = t.fc1_b;
  mw.fc2 = t.fc2_w;
  mw.fc2_ld = t.hidden_max;
  mw.fc2_bias = t.fc2_b;
  return mw;
}

/// Planes of fewer pixels than this (the 1x1 to 3x3 maps of the last stages) run their 1x1
/// convolutions as one product over the batch's pixels (kernels::pointwise_conv_small):
/// bench_kernels pointwise_conv_small, 0.05-0.2 of the time at 1-4 pixels; at 16 pixels the
/// image-by-image product (one-vector tiles) takes 0.7-0.85 of its time.
constexpr Index small_plane = 16;

/// MBConvs whose expanded map holds at least this many floats (1 MiB, at least a core's L2 on
/// the CPUs we see) run in bands of output rows (mbconv_in_bands); smaller maps stay in the
/// caches between whole-map ops, and bands only add per-call overhead there.
constexpr Index band_min_map = Index(1) << 18;

/// Expanded floats of one band at most (512 KiB): its rows and the depthwise rows made from them
/// stay in L2 until the projection reads them.
constexpr Index band_floats = Index(1) << 17;

/// Whether MBConv block `b` runs in bands of output rows, its expansion, depthwise and
/// projection a few rows at a time, when one worker takes a whole sample (a sample's ops cut in
/// pieces over several workers, and BatchNorm recalibration, run whole maps). The same bits
/// either way. Not with squeeze-excite, whose pooling needs the whole depthwise map before the
/// projection (banding only the expansion measured 1.03-1.05x slower). Maps at least 16 pixels
/// wide: plane-wise depthwise on every ISA (kernels::depthwise_channels_in_lanes is false).
inline bool mbconv_in_bands(const block& b) {
  return (b.kind == block_kind::conv || b.kind == block_kind::reduction) && b.has_pw && !b.se &&
         b.side >= 16 && Index(b.cin) * b.expand * b.side_in * b.side_in >= band_min_map;
}

/// Buffers of a forward pass, sized once for the largest subnet of a space and a batch capacity;
/// any later forward of any subnet with at most that batch allocates nothing.
class forward_workspace {
 public:
  forward_workspace() = default;

  /// Per-sample and per-worker sizes (floats) for the largest subnet of `d`.
  struct sizes {
    Index act = 0;      ///< a feature map (NCHW or tokens)
    Index expand = 0;   ///< an MBConv's expanded map at its input resolution
    Index inner = 0;    ///< an MBConv's depthwise output
    Index scratch = 0;  ///< per worker: the largest kernel workspace
    Index blocks = 0;   ///< blocks of the longest plan
  };

  /// The buffers one block of a plan uses (per sample; scratch per worker), at its supernet
  /// sizes: what the forward's step for `b` may touch besides the weights.
  static sizes size_for(const block& b) {
    sizes z;
    auto grow = [](Index& v, Index x) { v = std::max(v, x); };
    z.blocks = 1;
    const Index hw_in = Index(b.side_in) * b.side_in, hw = Index(b.side) * b.side;
    switch (b.kind) {
      case block_kind::first_conv:
        grow(z.act, Index(b.cout) * hw);
        grow(z.act, Index(b.cout) * hw_in);
        grow(z.scratch, kernels::conv2d_workspace_size(3, b.side_in, b.side_in, b.kernel, b.stride,
                                                       b.kernel / 2));
        break;
      case block_kind::conv:
      case block_kind::reduction: {
        const Index in = b.max.in, inner = in * b.expand;
        const Index squeezed = inner / model_fixed::se_divisor;
        grow(z.act, Index(b.cout) * hw);
        grow(z.act, in * hw_in);
        grow(z.expand, inner * hw_in);
        grow(z.inner, inner * hw);
        grow(z.scratch,
             kernels::depthwise_conv2d_workspace_size(b.side_in, b.side_in, b.kernel, b.stride));
        grow(z.scratch, kernels::pointwise_conv_workspace_size(inner));
        if (std::min(hw, hw_in) < small_plane) {
          const Index widest = std::max(inner, Index(b.cout));
          grow(z.scratch, kernels::pointwise_conv_small_workspace_size(widest, widest));
        }
        grow(z.scratch, kernels::squeeze_excite_workspace_size(inner, squeezed));
        grow(z.act, round(inner) + squeezed);  // the forward's squeeze-excite vectors
        break;
      }
      case block_kind::attention: {
        kernels::attention_config cfg = attention_config_of(b);
        cfg.heads = b.heads;
        grow(z.act, Index(b.cout) * hw);
        grow(z.scratch, kernels::attention_workspace_size(cfg, true));
        // The forward pass keeps a sample's attention buffers, which its pieces share, in the
        // sample's expand buffer.
        grow(z.expand, kernels::attention_shared<float>::size(cfg, true));
        break;
      }
      case block_kind::ffn:
        grow(z.act, Index(b.cout) * hw);
        grow(z.scratch, kernels::mlp_workspace_size(hw, b.hidden));
        grow(z.expand, hw * b.hidden);  // the FFN's hidden activations, in the expand buffer
        break;
      case block_kind::head: {
        const Index ec = Index(b.expand) * b.max.in;
        grow(z.act, hw * ec);
        grow(z.inner, round(ec) + b.hidden);  // the head's pooled and hidden vectors
        grow(z.scratch, kernels::batch_norm_rows_workspace_size(ec) + ec + b.hidden + b.classes);
        break;
      }
    }
    return z;
  }

  /// The largest buffers any block of the supernet's plan needs (which bounds every subnet's).
  static sizes size_for(const space_descriptor& d) {
    sizes z;
    auto grow = [](Index& v, Index x) { v = std::max(v, x); };
    // Visited, not stored: a forward calls this (through reserve) and must not allocate.
    for_each_supernet_block(d, [&](const block& b) {
      const sizes one = size_for(b);
      ++z.blocks;
      grow(z.act, one.act);
      grow(z.expand, one.expand);
      grow(z.inner, one.inner);
      grow(z.scratch, one.scratch);
    });
    return z;
  }

  /// Reserves buffers for `batch` samples and `workers` threads of space `d`.
  void reserve(const space_descriptor& d, Index batch, int workers) {
    const sizes z = size_for(d);
    if (batch <= batch_ && workers <= workers_ && z.act <= z_.act && z.expand <= z_.expand &&
        z.inner <= z_.inner && z.scratch <= z_.scratch &&
        z.blocks <= static_cast<Index>(plan_.capacity()))
      return;
    batch_ = std::max(batch_, batch);
    workers_ = std::max(workers_, workers);
    z_.act = std::max(z_.act, z.act);
    z_.expand = std::max(z_.expand, z.expand);
    z_.inner = std::max(z_.inner, z.inner);
    z_.scratch = std::max(z_.scratch, z.scratch);
    plan_.reserve(static_cast<std::size_t>(z.blocks));
    // Per sample: 4 feature maps (current, next, normed tokens, shortcut), expand, inner.
    per_sample_ = round(4 * z_.act + z_.expand + z_.inner);
    buffer_.reserve(batch_ * per_sample_ + workers_ * round(z_.scratch));
  }

  Index batch_capacity() const { return batch_; }
  int worker_capacity() const { return workers_; }
  /// Bytes held.
  Index bytes() const { return buffer_.size() * static_cast<Index>(sizeof(float)); }

  /// n rounded up to whole cache lines of floats (every buffer starts on one).
  static Index round(Index n) { return (n + 15) / 16 * 16; }

  float* act(Index b, int which) { return sample(b) + which * round(z_.act); }
  float* expand(Index b) { return sample(b) + 4 * round(z_.act); }
  float* inner(Index b) { return expand(b) + round(z_.expand); }
  float* scratch(int worker) {
    return buffer_.data() + batch_ * per_sample_ + worker * round(z_.scratch);
  }
  Index scratch_size() const { return z_.scratch; }
  /// `count` samples' buffers as row groups (every buffer of sample b + 1 lies one per-sample
  /// stride after sample b's), for the products that run on the whole batch at once.
  kernels::row_groups samples(Index count) const { return {count, per_sample_, per_sample_}; }

 private:
  friend class network;
  std::vector<block> plan_;  // the plan of the subnet being run (capacity reserved)
  float* sample(Index b) { return buffer_.data() + b * per_sample_; }

  sizes z_;
  Index batch_ = 0;
  int workers_ = 0;
  Index per_sample_ = 0;
  nn::workspace<float> buffer_;
};

/// The non-template engine of the forward pass: one supernet's weights plus precomputed BatchNorm
/// coefficients. Immutable after construction; any number of threads may run forwards on it at
/// once, each with its own forward_workspace.
class network {
 public:
  explicit network(supernet_weights w) : w_(std::move(w)) { build_bn_slots(); }

  const supernet_weights& weights() const { return w_; }
  const space_descriptor& space() const { return w_.space(); }
  int num_classes() const { return space().constants.num_classes; }

  /// See supernet<Space>::forward.
  void forward(const arch& a, const float* images, Index batch, float* logits,
               forward_workspace& ws, const forward_options& opts) const;

  /// Runs one block of a forward of one sample as forward() runs it (supernet BatchNorm
  /// statistics, one thread): its input in ws.act(0, slot) (planes, or tokens after a transformer
  /// stage; `images` for the first conv), its output left in the returned slot; the head writes
  /// `logits`. `ws` must be reserved for this space, one sample and one worker. The block profiler
  /// (cost/block_profiler.hpp) times the forward's own steps with it.
  int run_block(const block& b, const float* images, float* logits, forward_workspace& ws,
                int slot) const;
  /// The same on the workers of `exec` (its ops cut into pieces as a forward of one sample on
  /// that executor cuts them); `ws` reserved for one sample and exec.num_threads() workers.
  int run_block(const block& b, const float* images, float* logits, forward_workspace& ws, int slot,
                executor_ref exec) const;

  /// See supernet<Space>::recalibrate.
  bn_override recalibrate(const arch& a, const std::vector<std::vector<float>>& batches,
                          forward_workspace& ws, executor_ref exec) const;

  /// See supernet<Space>::load_override.
  bn_override load_override(const std::string& path) const {
    const auto f = io::safetensors_file::open(path);
    bn_override o;
    auto it = f.metadata().find("arch");
    if (it == f.metadata().end()) throw format_error(path + ": no \"arch\" in the metadata");
    o.arch_ = parse_arch(space(), it->second);
    o.arch_text_ = it->second;
    o.space_name_ = space().name;
    auto b = f.metadata().find("batches");
    o.batches_ = b == f.metadata().end() ? 0 : std::atoi(b->second.c_str());
    for (const auto& t : f.tensors()) {
      const std::string& n = t.name;
      const std::string suffix_mean = ".running_mean", suffix_var = ".running_var";
      if (n.size() > suffix_mean.size() &&
          n.compare(n.size() - suffix_mean.size(), suffix_mean.size(), suffix_mean) == 0)
        o.by_name_[n.substr(0, n.size() - suffix_mean.size())].mean = f.to_f32(t);
      else if (n.size() > suffix_var.size() &&
               n.compare(n.size() - suffix_var.size(), suffix_var.size(), suffix_var) == 0)
        o.by_name_[n.substr(0, n.size() - suffix_var.size())].var = f.to_f32(t);
      else
        throw format_error(path + ": unexpected tensor \"" + n + "\" in a BatchNorm override");
    }
    for (const auto& kv : o.by_name_)
      if (kv.second.mean.size() != kv.second.var.size() || bn_slot(kv.first) < 0)
        throw format_error(path + ": BatchNorm \"" + kv.first +
                           "\" is unknown or has mismatched mean and var");
    finish_override(o);
    return o;
  }

 private:
  // ---- BatchNorm sites -------------------------------------------------------------------
  struct bn_slot_info {
    std::string name;
    bn_tensors t;
    std::vector<float> scale, shift;  // at max size, from the supernet's running statistics
  };
  std::vector<bn_slot_info> slots_;
  std::map<std::string, int> slot_index_;
  std::map<const float*, int> slot_by_gamma_;

  void add_slot(const std::string& name, const bn_tensors& t, Index c) {
    bn_slot_info s{name, t, std::vector<float>(static_cast<std::size_t>(c)),
                   std::vector<float>(static_cast<std::size_t>(c))};
    for (Index i = 0; i < c; ++i) {
      const float sc = t.gamma[i] / std::sqrt(t.var[i] + model_fixed::norm_eps);
      s.scale[static_cast<std::size_t>(i)] = sc;
      s.shift[static_cast<std::size_t>(i)] = t.beta[i] - t.mean[i] * sc;
    }
    slot_index_[name] = static_cast<int>(slots_.size());
    slot_by_gamma_[t.gamma] = static_cast<int>(slots_.size());
    slots_.push_back(std::move(s));
  }
  void build_bn_slots() {
    for (const auto& spec : w_.specs()) {
      const std::string suffix = ".running_mean";
      const std::string& n = spec.name;
      if (n.size() <= suffix.size() || n.compare(n.size() - suffix.size(), suffix.size(), suffix))
        continue;
      const std::string base = n.substr(0, n.size() - suffix.size());
      bn_tensors t{w_.tensor(base + ".weight"), w_.tensor(base + ".bias"),
                   w_.tensor(base + ".running_mean"), w_.tensor(base + ".running_var")};
      add_slot(base, t, spec.shape[0]);
    }
  }
  int bn_slot(const std::string& name) const {
    auto it = slot_index_.find(name);
    return it == slot_index_.end() ? -1 : it->second;
  }
  int slot_of(const bn_tensors& t) const { return slot_by_gamma_.at(t.gamma); }

  void finish_override(bn_override& o) const {
    for (auto& kv : o.by_name_) {
      const int s = bn_slot(kv.first);
      auto& st = kv.second;
      const std::size_t c = st.mean.size();
      st.scale.resize(c);
      st.shift.resize(c);
      const bn_tensors& t = slots_[static_cast<std::size_t>(s)].t;
      for (std::size_t i = 0; i < c; ++i) {
        st.scale[i] = t.gamma[i] / std::sqrt(st.var[i] + model_fixed::norm_eps);
        st.shift[i] = t.beta[i] - st.mean[i] * st.scale[i];
      }
    }
  }

  /// How one forward treats BatchNorm: inference with supernet or override statistics, or
  /// calibration (batch statistics, accumulated into an override).
  struct bn_mode {
    const network* net;
    const bn_override* use;  // inference with these statistics (nullptr: the supernet's)
    bn_override* calibrate;  // calibration target, or nullptr

    bool calibrating() const { return calibrate != nullptr; }
    /// Scale and shift for C channels of BatchNorm `t` in inference.
    std::pair<const float*, const float*> coefficients(const bn_tensors& t, Index c) const {
      const int s = net->slot_of(t);
      const bn_slot_info& info = net->slots_[static_cast<std::size_t>(s)];
      if (use) {
        auto it = use->by_name_.find(info.name);
        if (it == use->by_name_.end() || static_cast<Index>(it->second.scale.size()) != c)
          throw invalid_argument("bn_override: no statistics for " + info.name + " with " +
                                 std::to_string(c) + " channels (made for another subnet?)");
        return {it->second.scale.data(), it->second.shift.data()};
      }
      return {info.scale.data(), info.shift.data()};
    }
    kernels::epilogue<float> epilogue(const bn_tensors& t, Index c, activation act) const {
      kernels::epilogue<float> ep;
      if (calibrating()) return ep;  // raw output; normalised after the batch statistics
      auto sc = coefficients(t, c);
      return ep.with_row_scale(sc.first).with_row_bias(sc.second).with_activation(act);
    }
  };

  /// Calibration: channel c of every sample's plane set x(b) (C planes of HW, plane stride
  /// `plane_ld`, channel stride `ch_ld`) gets normalised with the batch statistics, then `act`;
  /// the statistics accumulate into the override.

  using buffer_getter = std::function<float*(Index)>;

  /// Calibration: channel c of every sample's buffer x(b) (C channels `ch_stride` apart, `hw`
  /// elements `el_stride` apart) is normalised with the batch statistics, then `act`; the
  /// statistics accumulate into the override.
  template <class Arch>
  void calibrate_bn(const bn_mode& m, const bn_tensors& t, Index batch, Index c, Index hw,
                    Index ch_stride, Index el_stride, const buffer_getter& x, activation act,
                    executor_ref exec) const;

  /// How the ops of one forward spread over the executor: every sample of the batch, and with
  /// fewer samples than workers, `parts` pieces of each op per sample. Pieces write disjoint
  /// outputs and compute each element exactly as the whole op does, so results do not depend on
  /// the number of workers.
  /// An executor that runs every item on the calling thread as worker `worker` (a sample taken
  /// through the blocks by one worker of the forward's executor).
  struct single_worker {
    int worker;
    int num_threads() const { return 1; }
    template <class F>
    void parallel_for(Index n, F&& fn) const {
      for (Index i = 0; i < n; ++i) fn(i, worker);
    }
  };

  struct splitter {
    executor_ref exec;
    Index batch;
    Index parts;
    Index first = 0;  ///< the workspace index of its first sample
    /// When >= 0: the workspace index whose block-local buffers (expand, inner, act slots 2
    /// and 3) the MBConv blocks use for every sample (a worker's own, in run()'s
    /// sample-by-sample order); else each sample's.
    Index temps = -1;
    /// Calls fn(b, begin, end, worker) for each sample b and each non-empty piece [begin, end)
    /// of [0, n), pieces cut at multiples of `align`.
    template <class F>
    void pieces(Index n, Index align, F&& fn) const {
      const Index per = ((n + align - 1) / align + parts - 1) / parts * align;
      exec.parallel_for(batch * parts, [&](Index i, int worker) {
        const Index p = i % parts;
        const Index begin = std::min(n, p * per), end = std::min(n, begin + per);
        if (begin < end) fn(first + i / parts, begin, end, worker);
      });
    }
    /// Calls fn(b, worker) for each sample b.
    template <class F>
    void samples(F&& fn) const {
      exec.parallel_for(batch, [&](Index i, int worker) { fn(first + i, worker); });
    }
    /// Calls fn(begin, end, worker) for pieces of [0, n) cut at multiples of `align`, one per
    /// worker (for ops that take the whole batch at once).
    template <class F>
    void columns(Index n, Index align, F&& fn) const {
      const Index workers = std::max<Index>(1, exec.num_threads());
      const Index per = ((n + align - 1) / align + workers - 1) / workers * align;
      exec.parallel_for(workers, [&](Index p, int worker) {
        const Index begin = std::min(n, p * per), end = std::min(n, begin + per);
        if (begin < end) fn(begin, end, worker);
      });
    }
  };

  /// A 1x1 convolution y(b) [out, hw] = W[:out, :in] · x(b) [in, hw] on every sample, in
  /// pieces of output columns (large planes) or output channels (small ones); below
  /// small_plane pixels, one product over the whole batch in pieces of output channels, on
  /// W's `packed` panels when not null.
  template <class Arch>
  void pointwise(const splitter& sp, Index out, Index in, Index hw, const float* w, Index ldw,
                 const float* packed, const buffer_getter& x, const buffer_getter& y,
                 const kernels::epilogue<float>& ep, forward_workspace& ws) const;

  /// One MBConv block (a conv-stage layer or a reduction) on every sample: x(b) [cin,
  /// side_in^2] -> [cout, side^2] in the returned slot: y_slot, or x_slot where the projection
  /// added itself to an identity shortcut in place.
  template <class Arch>
  int mbconv(const bn_mode& m, const mbconv_tensors& t, const block& b, forward_workspace& ws,
             int x_slot, int y_slot, const splitter& sp) const;

  /// Whether reduction `b` runs on tokens (mbconv_tokens): its 1x1 weights are packed, no
  /// BatchNorm is being recalibrated, and its input arrives as tokens, or as a conv stage's
  /// planes whose expanded map stays in the caches (under band_min_map): transposed first, its
  /// cin channels the block's smallest map. The block's forward time on tokens, batch 1, Zen 4
  /// AVX-512: 0.95 of the plane-wise time at 28 x 28 in (M), 0.97 at 20 x 20 (T2), 1.03 at
  /// 32 x 32 (L3, whose expanded map is over band_min_map).
  bool reduction_on_tokens(const bn_mode& m, const mbconv_tensors& t, const block& b) const {
    const bool small_map = Index(b.cin) * b.expand * b.side_in * b.side_in < band_min_map;
    return b.kind == block_kind::reduction && (b.tokens_in || small_map) && !m.calibrating() &&
           t.has_pw && t.pw_packed && t.dw_taps && t.pwl_packed && t.shortcut_packed &&
           (!b.se || (t.se1_packed && t.se2_packed));
  }

  /// An MBConv (a reduction, see reduction_on_tokens) on channels-last maps: x tokens
  /// [side_in^2, cin] -> tokens [side^2, cout] in the returned slot (y_slot, or x_slot where the
  /// projection added itself to an identity shortcut), with no transposes: the 1x1s as
  /// linear_packed over every sample's pixels (BatchNorm as column terms), the depthwise and
  /// squeeze-excite on tokens.
  template <class Arch>
  int mbconv_tokens(const bn_mode& m, const mbconv_tensors& t, const block& b,
                    forward_workspace& ws, int x_slot, int y_slot, const splitter& sp) const;

  /// One block of the plan on every sample: its input in act slot `cur` (the images for the first
  /// conv), its output in the returned slot; the head writes the logits.
  template <class Arch>
  int run_block(const block& b, const float* images, float* logits, forward_workspace& ws, int cur,
                const bn_mode& m, const splitter& sp) const;

  /// tokens [N, C] <-> planes [C, N].
  template <class Arch>
  void run(const arch& a, const float* images, Index batch, float* logits, forward_workspace& ws,
           const bn_override* use, intermediates* inter, forward_profile* profile,
           bn_override* calib, executor_ref exec, bool sample_by_sample = true) const;

  supernet_weights w_;
};

}  // namespace elasticvit
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit

#include "evit/models/elasticvit/detail/forward_impl.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace elasticvit {

// The forward pass per ISA: compiled once per ISA in a dispatching program (simd/isa.hpp).
#define EVIT_FORWARD_INSTANCES(EXTERN, A)                                                         \
  EXTERN template void network::run<A>(const arch&, const float*, Index, float*,                  \
                                       forward_workspace&, const bn_override*, intermediates*,    \
                                       forward_profile*, bn_override*, executor_ref, bool) const; \
  EXTERN template int network::run_block<A>(const block&, const float*, float*,                   \
                                            forward_workspace&, int, const bn_mode&,              \
                                            const splitter&) const;
EVIT_FOR_EACH_DISPATCH_ARCH(EVIT_FORWARD_INSTANCES)
#undef EVIT_FORWARD_INSTANCES

inline void network::forward(const arch& a, const float* images, Index batch, float* logits,
                             forward_workspace& ws, const forward_options& opts) const {
  simd::dispatch([&](auto arch) {
    run<decltype(arch)>(a, images, batch, logits, ws, opts.bn(), opts.kept_intermediates(),
                        opts.profiled(), nullptr, opts.executor(), opts.sample_by_sample());
  });
}

inline int network::run_block(const block& b, const float* images, float* logits,
                              forward_workspace& ws, int slot) const {
  sequential_executor one;
  return run_block(b, images, logits, ws, slot, one);
}

inline int network::run_block(const block& b, const float* images, float* logits,
                              forward_workspace& ws, int slot, executor_ref exec) const {
  const bn_mode m{this, nullptr, nullptr};
  const splitter sp{exec, 1, std::max<Index>(1, exec.num_threads())};
  return simd::dispatch(
      [&](auto arch) { return run_block<decltype(arch)>(b, images, logits, ws, slot, m, sp); });
}

inline bn_override network::recalibrate(const arch& a,
                                        const std::vector<std::vector<float>>& batches,
                                        forward_workspace& ws, executor_ref exec) const {
  bn_override o;
  o.arch_ = a;
  o.arch_text_ = evit::to_string(space(), a);
  o.space_name_ = space().name;
  const Index per = 3 * static_cast<Index>(a.resolution()) * a.resolution();
  std::vector<float> logits;
  for (const auto& images : batches) {
    if (images.empty() || images.size() % static_cast<std::size_t>(per) != 0)
      throw invalid_argument("recalibrate: a batch of " + std::to_string(images.size()) +
                             " values is not a whole number of 3x" +
                             std::to_string(a.resolution()) + "x" + std::to_string(a.resolution()) +
                             " images");
    const Index batch = static_cast<Index>(images.size()) / per;
    logits.resize(static_cast<std::size_t>(batch * num_classes()));
    ++o.batches_;
    simd::dispatch([&](auto arch) {
      run<decltype(arch)>(a, images.data(), batch, logits.data(), ws, nullptr, nullptr, nullptr, &o,
                          exec);
    });
  }
  finish_override(o);
  return o;
}

}  // namespace elasticvit
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
