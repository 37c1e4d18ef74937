// SPDX-License-Identifier: MIT
// ElasticViT's supernet: load it once, run any subnet of its space straight from the max-size
// weights (docs/elasticvit.md#weight-slicing), switch subnets between calls without copying a
// weight, recalibrate BatchNorm statistics per subnet (docs/elasticvit.md#batchnorm-recalibration)
// without touching the shared weights, and export one subnet as a standalone file. The forward pass
// itself is in forward.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "evit/core/error.hpp"
#include "evit/core/executor.hpp"
#include "evit/io/arch_text.hpp"
#include "evit/io/safetensors.hpp"
#include "evit/models/elasticvit/forward.hpp"
#include "evit/models/elasticvit/macs.hpp"
#include "evit/models/elasticvit/plan_json.hpp"
#include "evit/models/elasticvit/weights.hpp"
#include "evit/simd/namespace.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace elasticvit {

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
  using workspace_type = forward_workspace;  ///< what forward() takes, for generic callers
  using options_type = forward_options;
  /// Loads the official state_dict names from a safetensors file. Names, dtypes and shapes are
  /// checked against the space (see supernet_weights::load): a tensor the space needs that the
  /// file lacks, and a parameter tensor of the file that the space does not use, are errors that
  /// name them all; `opts` may allow the unused ones:
  /// @code
  ///   auto net = supernet<space>::load(path, load_options().allow_extra_tensors(true));
  /// @endcode
  static supernet load(const std::string& path, const load_options& opts = load_options()) {
    return supernet(supernet_weights::load(Space::descriptor(), path, opts));
  }
  static supernet load(const io::safetensors_file& f, const load_options& opts = load_options()) {
    return supernet(supernet_weights::load(Space::descriptor(), f, opts));
  }
  /// A random supernet (deterministic for a seed) for tests and benchmarks; `opts.pack_weights`
  /// as for load (the other load options do not apply).
  static supernet random(std::uint64_t seed, const load_options& opts = load_options()) {
    return supernet(supernet_weights::random(Space::descriptor(), seed, opts.pack_weights()));
  }

  const supernet_weights& weights() const { return net_.weights(); }
  /// The non-template engine (forward.hpp).
  const network& engine() const { return net_; }
  /// The space this supernet serves: Space's, or for a standalone subnet a space with only that
  /// subnet's choices.
  const space_descriptor& space() const { return net_.space(); }
  int num_classes() const { return space().constants.num_classes; }

  /// Logits of `batch` images (NCHW, 3 x R x R each, R = a.resolution()) into logits
  /// (batch x num_classes). `opts` (forward_options): the executor that runs the samples, and
  /// with fewer samples than workers the pieces of each op, in parallel (the logits are the same
  /// for every executor); BatchNorm statistics recalibrated for `a` (default: the supernet's);
  /// where to keep the stages' outputs and the time per block kind. Allocates nothing when `ws`
  /// already holds `batch` samples and the executor's workers (forward_workspace::reserve).
  /// @throws evit::invalid_arch if `a` is not in the space; evit::invalid_argument for a bad
  ///         batch or an override made for another subnet.
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

  /// BatchNorm recalibration (docs/elasticvit.md#batchnorm-recalibration): runs `a` on each
  /// calibration batch with BatchNorm in training mode (normalising with the batch's own
  /// statistics) and accumulates every BatchNorm's batch mean and unbiased variance as a cumulative
  /// average over batches (PyTorch's momentum = None). Continues `into` when given (more batches),
  /// else starts a new override.
  template <class Executor = sequential_executor>
  bn_override recalibrate(const arch& a, const std::vector<std::vector<float>>& batches,
                          forward_workspace& ws, Executor&& exec = Executor()) const {
    return net_.recalibrate(a, batches, ws, executor_ref(exec));
  }

  /// Writes subnet `a` as a standalone safetensors file: only what `a` uses, sliced in place
  /// order (first channels, the centre of 5x5 kernels, the Q/K/V row blocks, the relative-position
  /// entries of its token grid), laid out as the supernet of a space whose only subnet is `a`; the
  /// subnet (text form), the space name and the subnet's plan (plan_json() of the file's own
  /// single-subnet space: every block's geometry, module name and tensor sizes; read by
  /// tools/export_onnx.py) go in the metadata. With `bn`, its recalibrated statistics replace the
  /// supernet's. load_standalone() runs the file.
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
      const tensor_spec& full = weights().spec(t.name);
      const float* src = weights().tensor(t.name);
      buf.assign(static_cast<std::size_t>(t.numel()), 0.f);
      slice_into(t, full, src, d, single, buf.data());
      if (bn) override_stats(*bn, t, buf);
      out.add(t.name, t.shape, buf.data());
    }
    out.set_metadata("arch", evit::to_string(d, a));
    out.set_metadata("space", d.name);
    out.set_metadata("plan", plan_json(single, a));
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
  bn_override load_override(const std::string& path) const { return net_.load_override(path); }

 private:
  explicit supernet(supernet_weights w) : net_(std::move(w)) {}

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
  network net_;
};

}  // namespace elasticvit
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
