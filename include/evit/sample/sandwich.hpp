// SPDX-License-Identifier: MIT
// The sandwich rule (slimmable networks, BigNAS, AttentiveNAS): every training step trains the
// largest subnet, the smallest, and k random ones. ElasticViT's variant (3 in-level subnets plus
// the level's smallest, no largest) is complexity_aware_sampler::sandwich_step and
// performance_aware_sampler::sandwich_step.
// Next: sample/best_of_k.hpp.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "evit/core/error.hpp"
#include "evit/core/rng.hpp"
#include "evit/sample/uniform.hpp"
#include "evit/space/arch.hpp"

namespace evit {

/// Max, min and k uniform subnets per step.
/// @code
///   evit::sandwich_sampler<evit::elasticvit::official_space> sw(/*k*/ 2, /*seed*/ 7);
///   for (const evit::arch& a : sw.sandwich_step()) train(a);   // max, min, 2 random
/// @endcode
template <class Space, class Engine = rng>
class sandwich_sampler {
  EVIT_DETAIL_SAMPLER_CHECKS(Space, Engine);

 public:
  using space_type = Space;
  using engine_type = Engine;

  /// @param k  random subnets per step (BigNAS and AttentiveNAS: 2).
  explicit sandwich_sampler(int k = 2, std::uint64_t seed = 0,
                            uniform_mode mode = uniform_mode::per_dimension)
      : sandwich_sampler(k, Engine(seed), mode) {}
  sandwich_sampler(int k, Engine engine, uniform_mode mode = uniform_mode::per_dimension)
      : k_(k), uniform_(std::move(engine), mode), max_(Space::max_arch()), min_(Space::min_arch()) {
    if (k < 0) throw invalid_argument("sandwich_sampler: k = " + std::to_string(k) + " < 0");
  }

  /// One step's subnets: the largest, the smallest, then k uniform ones.
  std::vector<arch> sandwich_step() {
    std::vector<arch> out;
    out.reserve(static_cast<std::size_t>(k_) + 2);
    out.push_back(max_);
    out.push_back(min_);
    for (int j = 0; j < k_; ++j) out.push_back(uniform_.next());
    return out;
  }

  int k() const { return k_; }
  const arch& largest() const { return max_; }
  const arch& smallest() const { return min_; }
  Engine& engine() { return uniform_.engine(); }

 private:
  int k_;
  uniform_sampler<Space, Engine> uniform_;
  arch max_, min_;
};

}  // namespace evit
