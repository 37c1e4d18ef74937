// SPDX-License-Identifier: MIT
// Measured latency of AutoFormer subnets on this machine (models/autoformer): the same cost model
// as cost::measured_latency (cost/measured_latency.hpp: warm-up, adaptive repeats until the
// median's interval is narrow enough, one measurement per subnet, sequential), run with
// autoformer::supernet's forward.
#pragma once

#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "evit/core/executor.hpp"
#include "evit/core/rng.hpp"
#include "evit/cost/measured_latency.hpp"
#include "evit/models/autoformer/supernet.hpp"
#include "evit/simd/namespace.hpp"
#include "evit/space/arch_map.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace cost {

/// The measured latency (ms, median) of subnets of one AutoFormer supernet on this machine.
/// @pre the supernet outlives the cost model.
/// @code
///   auto net = evit::autoformer::supernet<evit::autoformer::tiny_space>::random(1);
///   evit::cost::autoformer_measured_latency latency(net, evit::cost::timing().repeats(3, 10));
///   auto r = evit::evolutionary_search<evit::autoformer::tiny_space>(
///       my_objective, evit::cost::at_most(latency, 40.0), evit::presets::autoformer_search());
/// @endcode
template <class Space>
class autoformer_measured_latency {
 public:
  using space_type = Space;
  static constexpr bool monotone = false;
  static constexpr bool sequential = true;

  explicit autoformer_measured_latency(const autoformer::supernet<Space>& net, timing t = {})
      : s_(std::make_shared<state>(net, std::move(t))) {}

  /// The median latency in milliseconds (measured once per subnet).
  double operator()(const arch& a) const { return measure(a).median_ms; }
  /// The full measurement (cached).
  latency_stats measure(const arch& a) const {
    std::lock_guard<std::mutex> lock(s_->m);
    const std::uint64_t h = a.hash();
    if (const latency_stats* c = s_->cache.find(a, h)) return *c;
    const latency_stats r = s_->run(a);
    s_->cache.insert(a, h, r);
    return r;
  }
  /// Number of subnets measured.
  std::size_t size() const {
    std::lock_guard<std::mutex> lock(s_->m);
    return s_->cache.size();
  }

 private:
  struct state {
    state(const autoformer::supernet<Space>& n, timing tm) : net(&n), t(std::move(tm)) {
      t.check();
      const space_descriptor& d = net->space();
      const Index R = d.resolution.back();
      images.resize(static_cast<std::size_t>(t.batch() * 3 * R * R));
      rng g(t.seed());
      for (auto& x : images) x = static_cast<float>(2 * uniform_real(g) - 1);
      logits.resize(static_cast<std::size_t>(t.batch() * net->num_classes()));
      if (t.threads() > 1) pool = std::make_unique<thread_pool>(t.threads());
    }
    latency_stats run(const arch& a) {
      auto once = [&] {
        if (pool)
          net->forward(a, images.data(), t.batch(), logits.data(), ws,
                       autoformer::forward_options().executor(*pool));
        else
          net->forward(a, images.data(), t.batch(), logits.data(), ws);
      };
      return detail::time_adaptively(
          t, [] {}, once);
    }
    const autoformer::supernet<Space>* net;
    timing t;
    std::vector<float> images, logits;
    autoformer::forward_workspace ws;
    std::unique_ptr<thread_pool> pool;
    std::mutex m;
    arch_map<latency_stats> cache;
  };
  std::shared_ptr<state> s_;
};

template <class Space>
autoformer_measured_latency(const autoformer::supernet<Space>&, timing)
    -> autoformer_measured_latency<Space>;
template <class Space>
autoformer_measured_latency(const autoformer::supernet<Space>&)
    -> autoformer_measured_latency<Space>;

}  // namespace cost
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
