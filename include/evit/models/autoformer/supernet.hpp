// SPDX-License-Identifier: MIT
// An AutoFormer supernet (the official Vision_TransformerSuper of microsoft/Cream): load it once
// from its official state_dict names, run any subnet of its space straight from the supernet
// weights (leading slices read in place, nothing copied), switch subnets between calls. The
// forward pass is in forward.hpp; every quirk of the official forward that it reproduces is listed
// in docs/autoformer.md.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "evit/core/error.hpp"
#include "evit/core/executor.hpp"
#include "evit/io/safetensors.hpp"
#include "evit/models/autoformer/cost.hpp"
#include "evit/models/autoformer/forward.hpp"
#include "evit/models/autoformer/space.hpp"
#include "evit/models/autoformer/weights.hpp"
#include "evit/simd/namespace.hpp"

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

 private:
  explicit supernet(supernet_weights w) : net_(std::move(w)) {}
  network net_;
};

}  // namespace autoformer
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
