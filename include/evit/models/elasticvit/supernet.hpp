// SPDX-License-Identifier: MIT
// ElasticViT's supernet: load it once, run any subnet of its space straight from the max-size
// weights (spec §2), switch subnets between calls without copying a weight, recalibrate BatchNorm
// statistics per subnet (spec §2.4) without touching the shared weights, and export one subnet as
// a standalone file.
//
// The forward pass runs layer by layer over the whole batch (so that BatchNorm recalibration can
// use batch statistics), each layer's per-sample work spread over the caller's executor. All
// buffers come from a forward_workspace sized once for the space's largest subnet.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
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
#include "evit/kernels/mlp.hpp"
#include "evit/kernels/norm.hpp"
#include "evit/models/elasticvit/macs.hpp"
#include "evit/models/elasticvit/weights.hpp"
#include "evit/nn/workspace.hpp"

namespace evit {
namespace elasticvit {

using kernels::activation;

/// Per-subnet BatchNorm statistics (spec §2.4): running mean and variance of every BatchNorm the
/// subnet uses, for its active channels only, computed by recalibration. The shared supernet is
/// never modified; pass the override to forward() to use it.
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

/// Seconds spent per block type, accumulated over forwards when a forward_workspace points to it.
struct forward_profile {
  double first_conv = 0, mbconv = 0, reduction = 0, attention = 0, ffn = 0, head = 0;
  double total() const { return first_conv + mbconv + reduction + attention + ffn + head; }
};

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
  };

  static sizes size_for(const space_descriptor& d) {
    sizes z;
    const Index R = d.resolution.back();
    Index side = R;
    Index prev_width = 3;
    auto grow = [](Index& v, Index x) { v = std::max(v, x); };
    for (int s = 0; s < d.num_stages(); ++s) {
      const stage_descriptor& st = d.stages[s];
      const Index side_in = side;
      if (st.stride == 2) side = (side + 1) / 2;
      const Index c = st.max_width;
      const Index in = std::max<Index>(c, prev_width);
      grow(z.act, c * side * side);
      grow(z.act, in * side_in * side_in);
      if (st.kind == stage_kind::input_conv) {
        const Index k = st.kernel_size.back();
        grow(z.scratch, kernels::conv2d_workspace_size(3, R, R, k, st.stride, k / 2));
      } else {
        const Index e = st.is_conv() ? st.expand_ratio.back() : 6;
        const Index k = st.is_conv() ? st.kernel_size.back() : 3;
        grow(z.expand, in * e * side_in * side_in);
        grow(z.inner, in * e * side * side);
        grow(z.scratch, kernels::depthwise_conv2d_workspace_size(side_in, side_in, k, st.stride));
        grow(z.scratch, kernels::pointwise_conv_workspace_size(in * e));
        grow(z.scratch, kernels::squeeze_excite_workspace_size(in * e, in * e / 4));
      }
      if (st.is_transformer()) {
        const Index h = st.max_heads;
        const Index hidden = st.mlp_ratio.back().floor_times(c);
        kernels::attention_config cfg = kernels::attention_config::fixed_head_dim(
            side, c, st.head_dim, st.qk_scale.back(), st.v_scale.back());
        cfg.heads = h;
        grow(z.scratch, kernels::attention_workspace_size(cfg, true));
        grow(z.scratch, kernels::mlp_workspace_size(side * side, hidden));
      }
      prev_width = c;
    }
    const Index c = d.stages.back().max_width, e = d.constants.head_expand;
    grow(z.act, side * side * e * c);
    grow(z.scratch, kernels::batch_norm_rows_workspace_size(e * c) + e * c +
                        d.constants.head_hidden + d.constants.num_classes);
    return z;
  }

  /// Reserves buffers for `batch` samples and `workers` threads of space `d`.
  void reserve(const space_descriptor& d, Index batch, int workers) {
    const sizes z = size_for(d);
    if (batch <= batch_ && workers <= workers_ && z.act <= z_.act && z.expand <= z_.expand &&
        z.inner <= z_.inner && z.scratch <= z_.scratch)
      return;
    batch_ = std::max(batch_, batch);
    workers_ = std::max(workers_, workers);
    z_.act = std::max(z_.act, z.act);
    z_.expand = std::max(z_.expand, z.expand);
    z_.inner = std::max(z_.inner, z.inner);
    z_.scratch = std::max(z_.scratch, z.scratch);
    // Per sample: 4 feature maps (current, next, normed tokens, shortcut), expand, inner.
    per_sample_ = round(4 * z_.act + z_.expand + z_.inner);
    buffer_.reserve(batch_ * per_sample_ + workers_ * round(z_.scratch));
  }

  Index batch_capacity() const { return batch_; }
  int worker_capacity() const { return workers_; }
  /// Bytes held.
  Index bytes() const { return buffer_.size() * static_cast<Index>(sizeof(float)); }

  float* act(Index b, int which) { return sample(b) + which * round(z_.act); }
  float* expand(Index b) { return sample(b) + 4 * round(z_.act); }
  float* inner(Index b) { return expand(b) + round(z_.expand); }
  float* scratch(int worker) {
    return buffer_.data() + batch_ * per_sample_ + worker * round(z_.scratch);
  }
  Index scratch_size() const { return z_.scratch; }

  /// When set, forwards accumulate their time per block type here (adds clock reads).
  forward_profile* profile = nullptr;

 private:
  static Index round(Index n) { return (n + 15) / 16 * 16; }
  float* sample(Index b) { return buffer_.data() + b * per_sample_; }

  sizes z_;
  Index batch_ = 0;
  int workers_ = 0;
  Index per_sample_ = 0;
  nn::workspace<float> buffer_;
};

/// One ElasticViT supernet of space Space.
/// @code
///   using space = evit::elasticvit::official_space;
///   auto net = evit::elasticvit::supernet<space>::load("elasticvit.safetensors");
///   evit::elasticvit::forward_workspace ws;
///   std::vector<float> logits(batch * 1000);
///   net.forward(evit::elasticvit::released("elastic_T1"), images, batch, logits.data(), ws);
/// @endcode
template <class Space = official_space>
class supernet {
 public:
  /// Loads the official state_dict names from a safetensors file (names, dtypes and shapes are
  /// checked against the space: see weights.hpp).
  static supernet load(const std::string& path) {
    return supernet(supernet_weights::load(Space::descriptor(), path));
  }
  static supernet load(const io::safetensors_file& f) {
    return supernet(supernet_weights::load(Space::descriptor(), f));
  }
  /// A random supernet (deterministic for a seed) for tests and benchmarks.
  static supernet random(std::uint64_t seed) {
    return supernet(supernet_weights::random(Space::descriptor(), seed));
  }

  const supernet_weights& weights() const { return w_; }
  /// The space this supernet serves: Space's, or for a standalone subnet a space with only that
  /// subnet's choices.
  const space_descriptor& space() const { return w_.space(); }
  int num_classes() const { return space().constants.num_classes; }

  /// Logits of `batch` images (NCHW, 3 x R x R each, R = a.resolution()) into logits
  /// (batch x num_classes). Uses `bn` statistics when given (recalibrated for `a`), else the
  /// supernet's. Allocates nothing when `ws` already holds `batch` samples and the executor's
  /// workers (forward_workspace::reserve).
  /// @throws evit::invalid_arch if `a` is not in the space; evit::invalid_argument for a bad
  ///         batch or an override made for another subnet.
  template <class Executor = sequential_executor>
  void forward(const arch& a, const float* images, Index batch, float* logits,
               forward_workspace& ws, const bn_override* bn = nullptr,
               intermediates* inter = nullptr, Executor&& exec = Executor()) const {
    run(a, images, batch, logits, ws, bn, inter, nullptr, exec);
  }

  /// Convenience: returns the logits.
  std::vector<float> forward(const arch& a, const std::vector<float>& images, Index batch,
                             forward_workspace& ws, const bn_override* bn = nullptr,
                             intermediates* inter = nullptr) const {
    const Index per = 3 * static_cast<Index>(a.resolution()) * a.resolution();
    if (batch < 1 || static_cast<Index>(images.size()) != batch * per)
      throw invalid_argument("forward: " + std::to_string(images.size()) +
                             " input values for a batch of " + std::to_string(batch) + " at " +
                             std::to_string(a.resolution()) + "x" + std::to_string(a.resolution()) +
                             " (expected " + std::to_string(batch * per) + ")");
    std::vector<float> out(static_cast<std::size_t>(batch * num_classes()));
    forward(a, images.data(), batch, out.data(), ws, bn, inter);
    return out;
  }

  /// BatchNorm recalibration (spec §2.4): runs `a` on each calibration batch with BatchNorm in
  /// training mode (normalising with the batch's own statistics) and accumulates every BatchNorm's
  /// batch mean and unbiased variance as a cumulative average over batches (PyTorch's momentum =
  /// None). Continues `into` when given (more batches), else starts a new override.
  template <class Executor = sequential_executor>
  bn_override recalibrate(const arch& a, const std::vector<std::vector<float>>& batches,
                          forward_workspace& ws, Executor&& exec = Executor()) const {
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
                               std::to_string(a.resolution()) + "x" +
                               std::to_string(a.resolution()) + " images");
      const Index batch = static_cast<Index>(images.size()) / per;
      logits.resize(static_cast<std::size_t>(batch * num_classes()));
      ++o.batches_;
      run(a, images.data(), batch, logits.data(), ws, nullptr, nullptr, &o, exec);
    }
    finish_override(o);
    return o;
  }

  /// Writes subnet `a` as a standalone safetensors file: only what `a` uses, sliced in place
  /// order (first channels, the centre of 5x5 kernels, the Q/K/V row blocks, the relative-position
  /// entries of its token grid), laid out as the supernet of a space whose only subnet is `a`; the
  /// subnet (text form) and the space name go in the metadata. With `bn`, its recalibrated
  /// statistics replace the supernet's. load_standalone() runs the file.
  void export_subnet(const arch& a, const std::string& path,
                     const bn_override* bn = nullptr) const {
    const space_descriptor& d = space();
    validate(d, a);
    if (bn && bn->arch_ != a)
      throw invalid_argument("export_subnet: the bn_override was made for " + bn->arch_text_);
    const space_descriptor single = single_subnet_space(d, a);
    io::safetensors_writer out;
    std::vector<float> buf;
    for (const tensor_spec& t : expected_tensors(single)) {
      const tensor_spec& full = w_.spec(t.name);
      const float* src = w_.tensor(t.name);
      buf.assign(static_cast<std::size_t>(t.numel()), 0.f);
      slice_into(t, full, src, d, single, buf.data());
      if (bn) override_stats(*bn, t, buf);
      out.add(t.name, t.shape, buf.data());
    }
    out.set_metadata("arch", evit::to_string(d, a));
    out.set_metadata("space", d.name);
    out.write(path);
  }

  /// Loads a file written by export_subnet: a supernet whose space holds only that subnet.
  static supernet load_standalone(const std::string& path) {
    const auto f = io::safetensors_file::open(path);
    auto it = f.metadata().find("arch");
    if (it == f.metadata().end()) throw format_error(path + ": no \"arch\" in the metadata");
    auto sp = f.metadata().find("space");
    if (sp == f.metadata().end() || sp->second != Space::descriptor().name)
      throw format_error(path + ": metadata \"space\" is not \"" + Space::descriptor().name + "\"");
    const arch a = parse_arch(Space::descriptor(), it->second);
    auto single = std::make_shared<space_descriptor>(single_subnet_space(Space::descriptor(), a));
    supernet net(supernet_weights::load(*single, f));
    net.own_space_ = std::move(single);
    return net;
  }

  /// The space whose only subnet is `a` (every choice list reduced to `a`'s value, every
  /// supernet size to `a`'s size).
  static space_descriptor single_subnet_space(const space_descriptor& d, const arch& a) {
    validate(d, a);
    if (!d.blockwise) throw invalid_argument("single_subnet_space: needs a block-wise space");
    space_descriptor r = d;
    r.name = d.name + " subnet";
    r.resolution = {a.resolution()};
    for (int s = 0; s < d.num_stages(); ++s) {
      stage_descriptor& st = r.stages[static_cast<std::size_t>(s)];
      const layer_dims& l = a.stage_layers(s)[0];
      auto only = [](auto& v, auto x) {
        if (!v.empty()) v = {x};
      };
      if (st.is_conv() && st.expand_ratio.back() > 1 && l.expand_ratio == 1)
        throw invalid_argument("single_subnet_space: stage " + st.name +
                               " with expansion 1 in a stage that can expand is not supported");
      st.width = {a.width(s)};
      st.depth = {a.depth(s)};
      only(st.expand_ratio, l.expand_ratio);
      only(st.kernel_size, l.kernel_size);
      only(st.mlp_ratio, l.mlp_ratio);
      only(st.qk_scale, l.qk_scale);
      only(st.v_scale, l.v_scale);
      st.max_width = a.width(s);
      st.max_depth = a.depth(s);
      st.max_heads = st.is_transformer() ? l.num_heads : 0;
    }
    return r;
  }

  /// Loads an override saved by bn_override::save and checks it against this supernet.
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
  explicit supernet(supernet_weights w) : w_(std::move(w)) { build_bn_slots(); }

  /// Copies the part of supernet tensor `full` (values `src`) that a subnet tensor `t` holds.
  static void slice_into(const tensor_spec& t, const tensor_spec& full, const float* src,
                         const space_descriptor& d, const space_descriptor& single, float* dst) {
    const std::string& n = t.name;
    auto ends_with = [&n](const char* suffix) {
      const std::string x(suffix);
      return n.size() >= x.size() && n.compare(n.size() - x.size(), x.size(), x) == 0;
    };
    if (ends_with(".qkv.weight")) {
      // Three row blocks at (0, Cmax, 2 Cmax) in the supernet, (0, C, 2 C) in the subnet.
      const std::int64_t c = t.shape[1], cmax = full.shape[1];
      const std::int64_t q = c, v = t.shape[0] - 2 * c;
      const std::int64_t rows[3][3] = {{0, 0, q}, {cmax, c, q}, {2 * cmax, 2 * c, v}};
      for (const auto& blk : rows)
        for (std::int64_t r = 0; r < blk[2]; ++r)
          std::copy(src + (blk[0] + r) * cmax, src + (blk[0] + r) * cmax + c,
                    dst + (blk[1] + r) * c);
      return;
    }
    if (ends_with(".attention_bias")) {
      // Re-index relative offsets from the supernet's Rmax to the subnet's side.
      const auto side_of = [](std::int64_t rows) {
        return (static_cast<std::int64_t>(std::lround(std::sqrt(double(rows)))) + 1) / 2;
      };
      const std::int64_t r = side_of(t.shape[0]), rmax = side_of(full.shape[0]);
      const std::int64_t h = t.shape[1], hmax = full.shape[1];
      for (std::int64_t dy = -(r - 1); dy <= r - 1; ++dy)
        for (std::int64_t dx = -(r - 1); dx <= r - 1; ++dx) {
          const std::int64_t to = (dy + r - 1) * (2 * r - 1) + (dx + r - 1);
          const std::int64_t from = (dy + rmax - 1) * (2 * rmax - 1) + (dx + rmax - 1);
          std::copy(src + from * hmax, src + from * hmax + h, dst + to * h);
        }
      return;
    }
    (void)d;
    (void)single;
    // Everything else: the first entries of every dimension, except that a k x k kernel is the
    // centre of the supernet's larger one.
    const std::size_t rank = t.shape.size();
    std::vector<std::int64_t> offset(rank, 0), stride_full(rank, 1), stride_sub(rank, 1);
    if (rank == 4 && t.shape[2] < full.shape[2]) {
      offset[2] = offset[3] = (full.shape[2] - t.shape[2]) / 2;
    }
    for (std::size_t i = rank; i-- > 1;) {
      stride_full[i - 1] = stride_full[i] * full.shape[i];
      stride_sub[i - 1] = stride_sub[i] * t.shape[i];
    }
    const std::int64_t total = t.numel();
    for (std::int64_t k = 0; k < total; ++k) {
      std::int64_t rem = k, at = 0;
      for (std::size_t i = 0; i < rank; ++i) {
        const std::int64_t idx = rem / stride_sub[i];
        rem %= stride_sub[i];
        at += (idx + offset[i]) * stride_full[i];
      }
      dst[k] = src[at];
    }
  }

  /// Replaces BatchNorm running statistics by the override's.
  static void override_stats(const bn_override& bn, const tensor_spec& t, std::vector<float>& buf) {
    for (const char* suffix : {".running_mean", ".running_var"}) {
      const std::string x(suffix);
      if (t.name.size() <= x.size() || t.name.compare(t.name.size() - x.size(), x.size(), x))
        continue;
      const auto it = bn.by_name_.find(t.name.substr(0, t.name.size() - x.size()));
      if (it == bn.by_name_.end()) return;
      const auto& v = x == ".running_mean" ? it->second.mean : it->second.var;
      std::copy(v.begin(), v.begin() + std::min(v.size(), buf.size()), buf.begin());
    }
  }

  std::shared_ptr<space_descriptor> own_space_;  // a standalone subnet's space

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
      const float sc = t.gamma[i] / std::sqrt(t.var[i] + 1e-5f);
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
        st.scale[i] = t.gamma[i] / std::sqrt(st.var[i] + 1e-5f);
        st.shift[i] = t.beta[i] - st.mean[i] * st.scale[i];
      }
    }
  }

  /// How one forward treats BatchNorm: inference with supernet or override statistics, or
  /// calibration (batch statistics, accumulated into an override).
  struct bn_mode {
    const supernet* net;
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
  template <class Get, class Executor>
  void calibrate_bn(const bn_mode& m, const bn_tensors& t, Index batch, Index c, Index hw,
                    Index ch_stride, Index el_stride, Get&& x, activation act,
                    Executor& exec) const {
    const bn_slot_info& info = slots_[static_cast<std::size_t>(slot_of(t))];
    std::vector<double> sum(static_cast<std::size_t>(c), 0.0), sq(static_cast<std::size_t>(c), 0.0);
    for (Index b = 0; b < batch; ++b) {
      const float* p = x(b);
      for (Index ch = 0; ch < c; ++ch) {
        double s1 = 0, s2 = 0;
        for (Index i = 0; i < hw; ++i) {
          const double v = p[ch * ch_stride + i * el_stride];
          s1 += v;
          s2 += v * v;
        }
        sum[static_cast<std::size_t>(ch)] += s1;
        sq[static_cast<std::size_t>(ch)] += s2;
      }
    }
    const double n = static_cast<double>(batch * hw);
    auto& st = m.calibrate->by_name_[info.name];
    if (st.mean.empty()) {
      st.mean.assign(static_cast<std::size_t>(c), 0.f);
      st.var.assign(static_cast<std::size_t>(c), 0.f);
    } else if (static_cast<Index>(st.mean.size()) != c) {
      throw invalid_argument("recalibrate: BatchNorm " + info.name + " changed width");
    }
    const double k = m.calibrate->batches_;  // cumulative average over batches
    std::vector<float> scale(static_cast<std::size_t>(c)), shift(static_cast<std::size_t>(c));
    for (Index ch = 0; ch < c; ++ch) {
      const auto i = static_cast<std::size_t>(ch);
      const double mean = sum[i] / n;
      const double var = std::max(0.0, sq[i] / n - mean * mean);  // biased: used to normalise
      const double unbiased = n > 1 ? var * n / (n - 1) : var;    // accumulated, as PyTorch
      st.mean[i] = static_cast<float>(st.mean[i] + (mean - st.mean[i]) / k);
      st.var[i] = static_cast<float>(st.var[i] + (unbiased - st.var[i]) / k);
      const double sc = t.gamma[ch] / std::sqrt(var + 1e-5);
      scale[i] = static_cast<float>(sc);
      shift[i] = static_cast<float>(t.beta[ch] - mean * sc);
    }
    exec.parallel_for(batch, [&](Index b, int) {
      float* p = const_cast<float*>(x(b));
      for (Index ch = 0; ch < c; ++ch)
        for (Index i = 0; i < hw; ++i) {
          float& v = p[ch * ch_stride + i * el_stride];
          v = v * scale[static_cast<std::size_t>(ch)] + shift[static_cast<std::size_t>(ch)];
        }
      if (act != activation::none)
        for (Index ch = 0; ch < c; ++ch)
          for (Index i = 0; i < hw; ++i) {
            float* v = &p[ch * ch_stride + i * el_stride];
            kernels::activate(act, v, 1);
          }
    });
  }

  // ---- The forward pass ------------------------------------------------------------------

  /// One MBConv block on every sample: x(b) [cin, side_in^2] -> y(b) [c, side^2].
  template <class Executor>
  void mbconv(const bn_mode& m, const mbconv_tensors& t, Index batch, Index cin, Index c, Index e,
              Index k, bool se, Index stride, Index side_in, forward_workspace& ws, int x_slot,
              int y_slot, Executor& exec) const {
    const Index side = stride == 2 ? (side_in + 1) / 2 : side_in;
    const Index hw_in = side_in * side_in, hw = side * side;
    const Index inner = cin * e;
    // 1x1 expansion (+ BN + Hardswish); the stem (max expansion 1) has none.
    if (t.has_pw) {
      exec.parallel_for(batch, [&](Index b, int wk) {
        kernels::pointwise_conv(inner, cin, hw_in, t.pw, t.in_max, ws.act(b, x_slot), ws.expand(b),
                                m.epilogue(t.pw_bn, inner, activation::hardswish), ws.scratch(wk),
                                ws.scratch_size());
      });
      if (m.calibrating())
        calibrate_bn(
            m, t.pw_bn, batch, inner, hw_in, hw_in, 1, [&](Index b) { return ws.expand(b); },
            activation::hardswish, exec);
    }
    // k x k depthwise (centre crop of the supernet kernel) + BN + Hardswish.
    exec.parallel_for(batch, [&](Index b, int wk) {
      const float* src = t.has_pw ? ws.expand(b) : ws.act(b, x_slot);
      kernels::depthwise_conv2d(inner, side_in, side_in, src, k, stride, t.dw, t.kernel_max,
                                ws.inner(b), m.epilogue(t.dw_bn, inner, activation::hardswish),
                                ws.scratch(wk), ws.scratch_size());
    });
    if (m.calibrating())
      calibrate_bn(
          m, t.dw_bn, batch, inner, hw, hw, 1, [&](Index b) { return ws.inner(b); },
          activation::hardswish, exec);
    // Squeeze-excite on the expanded channels (reduction inner / 4).
    if (se) {
      kernels::squeeze_excite_weights<float> sw;
      sw.w1 = t.se1_w;
      sw.ld1 = t.inner_max;
      sw.b1 = t.se1_b;
      sw.w2 = t.se2_w;
      sw.ld2 = t.inner_max / 4;
      sw.b2 = t.se2_b;
      exec.parallel_for(batch, [&](Index b, int wk) {
        kernels::squeeze_excite(inner, inner / 4, hw, ws.inner(b), sw, ws.scratch(wk),
                                ws.scratch_size());
      });
    }
    // 1x1 projection + BN, into y.
    exec.parallel_for(batch, [&](Index b, int wk) {
      kernels::pointwise_conv(c, inner, hw, t.pwl, t.inner_max, ws.inner(b), ws.act(b, y_slot),
                              m.epilogue(t.pwl_bn, c, activation::none), ws.scratch(wk),
                              ws.scratch_size());
    });
    if (m.calibrating())
      calibrate_bn(
          m, t.pwl_bn, batch, c, hw, hw, 1, [&](Index b) { return ws.act(b, y_slot); },
          activation::none, exec);
    // Residual: identity; or average pool (stride 2) and/or 1x1 conv without BN (cin != c).
    exec.parallel_for(batch, [&](Index b, int wk) {
      const float* x = ws.act(b, x_slot);
      float* y = ws.act(b, y_slot);
      float* sc = ws.act(b, 3);
      const float* src = x;
      if (stride == 2) {
        kernels::avg_pool_2x2(cin, side_in, side_in, x, sc);
        src = sc;
      }
      if (cin != c) {
        kernels::pointwise_conv(c, cin, hw, t.shortcut, t.in_max, src, y,
                                kernels::epilogue<float>{}.with_accumulate(true), ws.scratch(wk),
                                ws.scratch_size());
      } else {
        for (Index i = 0; i < c * hw; ++i) y[i] += src[i];
      }
    });
  }

  /// tokens [N, C] <-> planes [C, N].
  static void transpose(const float* x, Index rows, Index cols, float* y) {
    for (Index r = 0; r < rows; ++r)
      for (Index col = 0; col < cols; ++col) y[col * rows + r] = x[r * cols + col];
  }

  template <class Executor>
  void run(const arch& a, const float* images, Index batch, float* logits, forward_workspace& ws,
           const bn_override* use, intermediates* inter, bn_override* calib, Executor& exec) const {
    const space_descriptor& d = space();
    validate(d, a);
    if (batch < 1) throw invalid_argument("forward: batch " + std::to_string(batch) + " < 1");
    if (images == nullptr || logits == nullptr)
      throw invalid_argument("forward: null input or output");
    if (use && use->arch_ != a)
      throw invalid_argument("forward: the bn_override was made for " + use->arch_text_ +
                             ", not for this subnet");
    ws.reserve(d, batch, exec.num_threads());
    const bn_mode m{this, use, calib};
    using clock = std::chrono::steady_clock;
    auto mark = clock::now();
    auto account = [&](double forward_profile::*field) {
      if (!ws.profile) return;
      const auto now = clock::now();
      ws.profile->*field += std::chrono::duration<double>(now - mark).count();
      mark = now;
    };
    const Index R = a.resolution();
    auto keep = [&](const std::string& name, int slot, Index c, Index side, bool tokens) {
      if (!inter) return;
      intermediates::tensor t;
      const Index n = c * side * side;
      t.shape = tokens ? std::vector<std::int64_t>{batch, side * side, c}
                       : std::vector<std::int64_t>{batch, c, side, side};
      t.values.resize(static_cast<std::size_t>(batch * n));
      for (Index b = 0; b < batch; ++b)
        std::copy(ws.act(b, slot), ws.act(b, slot) + n, t.values.data() + b * n);
      inter->by_name[name] = std::move(t);
    };

    // First conv 3x3 stride 2 (+ BN + Hardswish) -> slot 0.
    const Index cf = a.width(0);
    const Index k0 = a.stage_layers(0)[0].kernel_size;
    const Index kmax0 = d.stages[0].kernel_size.back();
    Index side = (R + 1) / 2;
    exec.parallel_for(batch, [&](Index b, int wk) {
      kernels::conv2d(cf, 3, R, R, images + b * 3 * R * R, k0, 2, k0 / 2, w_.first_conv,
                      3 * kmax0 * kmax0, ws.act(b, 0),
                      m.epilogue(w_.first_bn, cf, activation::hardswish), ws.scratch(wk),
                      ws.scratch_size());
    });
    if (m.calibrating())
      calibrate_bn(
          m, w_.first_bn, batch, cf, side * side, side * side, 1,
          [&](Index b) { return ws.act(b, 0); }, activation::hardswish, exec);
    account(&forward_profile::first_conv);
    keep("first_conv", 0, cf, side, false);

    int cur = 0;  // slot holding the current feature map
    Index cin = cf;
    bool tokens = false;  // current map is tokens [N, C] (after the first transformer stage)
    int main_stage = 0;
    for (int s = 1; s < d.num_stages(); ++s) {
      const stage_descriptor& st = d.stages[s];
      const Index c = a.width(s);
      const layer_dims* layers = a.stage_layers(s);
      if (st.is_conv()) {
        for (int j = 0; j < a.depth(s); ++j) {
          const Index stride = j == 0 ? st.stride : 1;
          const int next = 1 - cur;
          mbconv(m, w_.conv_layers[static_cast<std::size_t>(s)][static_cast<std::size_t>(j)], batch,
                 cin, c, layers[j].expand_ratio, layers[j].kernel_size, st.squeeze_excite, stride,
                 side, ws, cur, next, exec);
          if (stride == 2) side = (side + 1) / 2;
          cur = next;
          cin = c;
        }
        account(&forward_profile::mbconv);
      } else {
        // Layer 0's reduction MBConv (e6, k3, SE) runs on planes.
        const Index stride = st.stride;
        const Index side_out = stride == 2 ? (side + 1) / 2 : side;
        if (tokens) {  // tokens [N, C] -> planes [C, N]
          const int planes = 1 - cur;
          exec.parallel_for(batch, [&](Index b, int) {
            transpose(ws.act(b, cur), side * side, cin, ws.act(b, planes));
          });
          cur = planes;
        }
        const int out = 1 - cur;
        mbconv(m, w_.reduction[static_cast<std::size_t>(s)], batch, cin, c, 6, 3, true, stride,
               side, ws, cur, out, exec);
        side = side_out;
        exec.parallel_for(batch, [&](Index b, int) {  // planes [C, N] -> tokens [N, C]
          transpose(ws.act(b, out), c, side * side, ws.act(b, cur));
        });
        tokens = true;
        account(&forward_profile::reduction);
        const Index n = side * side;
        for (int j = 0; j < a.depth(s); ++j) {
          const transformer_tensors& t =
              w_.transformer_layers[static_cast<std::size_t>(s)][static_cast<std::size_t>(j)];
          const layer_dims& l = layers[j];
          kernels::attention_config cfg = kernels::attention_config::fixed_head_dim(
              side, c, st.head_dim, l.qk_scale, l.v_scale);
          cfg.pre_proj = activation::hardswish;
          auto aw = kernels::attention_weights<float>::elasticvit(
                        t.qkv, t.width_max, t.proj_w, t.heads_max * st.head_dim * t.v_max, t.proj_b)
                        .with_rel_bias(t.rel_bias, t.rel_side_max, t.heads_max)
                        .with_v_conv(t.v_conv);
          const Index hidden = l.mlp_ratio.floor_times(c);
          kernels::mlp_weights<float> mw;
          mw.fc1 = t.fc1_w;
          mw.fc1_ld = t.width_max;
          mw.fc1_bias = t.fc1_b;
          mw.fc2 = t.fc2_w;
          mw.fc2_ld = t.hidden_max;
          mw.fc2_bias = t.fc2_b;
          exec.parallel_for(batch, [&](Index b, int wk) {
            float* x = ws.act(b, cur);
            float* normed = ws.act(b, 2);
            kernels::sample_norm(n, c, x, c, t.norm1_gamma, t.norm1_beta, 1e-5f, normed, c);
            kernels::attention(1, cfg, aw, normed, c, x, c, /*accumulate=*/true, ws.scratch(wk),
                               ws.scratch_size());
          });
          account(&forward_profile::attention);
          exec.parallel_for(batch, [&](Index b, int wk) {
            float* x = ws.act(b, cur);
            float* normed = ws.act(b, 2);
            kernels::sample_norm(n, c, x, c, t.norm2_gamma, t.norm2_beta, 1e-5f, normed, c);
            kernels::mlp(n, c, hidden, c, normed, c, mw, activation::hardswish, x, c,
                         /*accumulate=*/true, ws.scratch(wk), ws.scratch_size());
          });
          account(&forward_profile::ffn);
        }
        cin = c;
      }
      if (s >= 2) {
        keep("stage" + std::to_string(main_stage), cur, c, side, tokens);
        ++main_stage;
      } else {
        keep("stem", cur, c, side, false);
      }
    }

    // Head: per-token Linear C -> eC + BN1d + Hardswish, mean over tokens, Linear -> hidden +
    // Hardswish, classifier.
    const Index c = cin, e = d.constants.head_expand, ec = e * c;
    const Index hid = d.constants.head_hidden, classes = d.constants.num_classes;
    const Index n = side * side;
    const Index c_max = d.stages.back().max_width;
    if (!tokens) throw error("space " + d.name + ": the head needs a transformer stage before it");
    exec.parallel_for(batch, [&](Index b, int) {
      kernels::linear(n, c, ec, ws.act(b, cur), c, w_.head0_w, c_max, 0, w_.head0_b, ws.act(b, 2),
                      ec);
    });
    if (m.calibrating()) {
      calibrate_bn(
          m, w_.head_bn, batch, ec, n, 1, ec, [&](Index b) { return ws.act(b, 2); },
          activation::hardswish, exec);
    }
    exec.parallel_for(batch, [&](Index b, int wk) {
      float* h = ws.act(b, 2);
      float* scratch = ws.scratch(wk);
      if (!m.calibrating()) {
        auto sc = m.coefficients(w_.head_bn, ec);
        for (Index r = 0; r < n; ++r)
          for (Index i = 0; i < ec; ++i) {
            float& v = h[r * ec + i];
            v = v * sc.first[i] + sc.second[i];
          }
        kernels::activate(activation::hardswish, h, n * ec);
      }
      float* pooled = scratch;
      float* hidden = scratch + ec;
      kernels::mean_rows(n, ec, h, ec, pooled);
      kernels::linear(1, ec, hid, pooled, ec, w_.head1_w, e * c_max, 0, w_.head1_b, hidden, hid,
                      activation::hardswish);
      kernels::linear(1, hid, classes, hidden, hid, w_.classifier_w, hid, 0, w_.classifier_b,
                      logits + b * classes, classes);
    });
    account(&forward_profile::head);
  }

  supernet_weights w_;
};

}  // namespace elasticvit
}  // namespace evit
