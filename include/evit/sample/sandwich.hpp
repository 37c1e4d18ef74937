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

#include <nlohmann/json.hpp>

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
  uniform_mode mode() const { return uniform_.mode(); }
  Engine& engine() { return uniform_.engine(); }
  const Engine& engine() const { return uniform_.engine(); }

  // --- save and resume ------------------------------------------------------------------------
  /// The sampler's position as JSON (space, mode, k, engine); from_json() on a sampler built with
  /// the same k and mode continues the same sequence.
  nlohmann::json to_json() const {
    nlohmann::json j = sample::detail::uniform_state<Space>(format_name, mode(), engine());
    j["k"] = k_;
    return j;
  }
  /// Loads what to_json() wrote; nothing changes unless all of it is valid.
  /// @throws evit::format_error naming the field.
  void from_json(const nlohmann::json& j) {
    const sample::detail::state_reader r(format_name);
    sample::detail::check_uniform_state<Space>(r, j, mode());
    r.same(j, "k", k_);
    sample::detail::engine_from_json(r, j, engine());
  }

  static constexpr const char* format_name = "evit.sandwich_sampler";

 private:
  int k_;
  uniform_sampler<Space, Engine> uniform_;
  arch max_, min_;
};

}  // namespace evit
