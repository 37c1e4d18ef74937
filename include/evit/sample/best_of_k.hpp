// SPDX-License-Identifier: MIT
// AttentiveNAS-style best-of-k ("BestUp"): draw k candidate subnets and train the one with the
// lowest caller-supplied score (e.g. its loss on the current batch). best_of() works with any
// source of candidates (uniform, in-level draws of a complexity-aware sampler, ...);
// best_of_k_sampler is the uniform version. For "WorstUp", score with minus the loss.
// Next: sample/complexity_aware.hpp.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>

#include <nlohmann/json.hpp>

#include "evit/core/error.hpp"
#include "evit/core/rng.hpp"
#include "evit/sample/detail/checks.hpp"
#include "evit/sample/uniform.hpp"
#include "evit/space/arch.hpp"

namespace evit {

/// A subnet with its score.
struct scored_arch {
  arch subnet;
  double score = 0;
};

/// Among k candidates from draw(), the one with the lowest score(candidate); the first of equal
/// lowest. Calls draw() and score() k times each, alternately.
/// @throws evit::invalid_argument if k < 1 or a score is NaN.
/// @code
///   auto pick = evit::best_of(3, [&] { return ca.draw_in_level(L); },
///                             [&](const evit::arch& a) { return loss_on_batch(a); });
/// @endcode
template <class Draw, class Score>
scored_arch best_of(int k, Draw&& draw, Score&& score) {
  sample::detail::check_score_fn<std::decay_t<Score>>();
  static_assert(std::is_convertible_v<decltype(draw()), arch>,
                "evit::best_of: draw must be callable as `evit::arch()`");
  if (k < 1) throw invalid_argument("best_of: k = " + std::to_string(k) + " must be >= 1");
  scored_arch best;
  for (int i = 0; i < k; ++i) {
    arch a = draw();
    const double s = static_cast<double>(score(static_cast<const arch&>(a)));
    if (std::isnan(s))
      throw invalid_argument("best_of: candidate " + std::to_string(i) + " scored NaN");
    if (i == 0 || s < best.score) {
      best.subnet = a;
      best.score = s;
    }
  }
  return best;
}

/// Uniform candidates, the lowest-scoring of k kept (AttentiveNAS: k = 3).
/// @code
///   evit::best_of_k_sampler<evit::elasticvit::official_space> bk(/*k*/ 3, /*seed*/ 7);
///   evit::scored_arch s = bk.next([&](const evit::arch& a) { return loss_on_batch(a); });
/// @endcode
template <class Space, class Engine = rng>
class best_of_k_sampler {
  EVIT_DETAIL_SAMPLER_CHECKS(Space, Engine);

 public:
  using space_type = Space;
  using engine_type = Engine;

  explicit best_of_k_sampler(int k = 3, std::uint64_t seed = 0,
                             uniform_mode mode = uniform_mode::per_dimension)
      : best_of_k_sampler(k, Engine(seed), mode) {}
  best_of_k_sampler(int k, Engine engine, uniform_mode mode = uniform_mode::per_dimension)
      : k_(k), uniform_(std::move(engine), mode) {
    if (k < 1)
      throw invalid_argument("best_of_k_sampler: k = " + std::to_string(k) + " must be >= 1");
  }

  /// The lowest-scoring of k uniform candidates.
  template <class Score>
  scored_arch next(Score&& score) {
    return best_of(
        k_, [this] { return uniform_.next(); }, std::forward<Score>(score));
  }

  int k() const { return k_; }
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

  static constexpr const char* format_name = "evit.best_of_k_sampler";

 private:
  int k_;
  uniform_sampler<Space, Engine> uniform_;
};

}  // namespace evit
