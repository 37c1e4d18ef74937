// SPDX-License-Identifier: MIT
// The uniform sampler: every dimension uniform among the choices the space's rules leave (the
// official "uniform" mode, docs/elasticvit.md#uniform-sampling), or every subnet equally likely.
// A seed gives the same subnets on every platform (evit's own distributions, space/sample.hpp).
// Next: sample/sandwich.hpp, sample/complexity_aware.hpp.
#pragma once

#include <cstdint>
#include <utility>

#include "evit/core/rng.hpp"
#include "evit/sample/detail/checks.hpp"
#include "evit/space/arch.hpp"
#include "evit/space/search_space.hpp"

namespace evit {

/// What "uniform" means.
enum class uniform_mode {
  per_dimension,  ///< every dimension uniform, in order (official; Space::sample)
  per_subnet,     ///< every distinct subnet equally likely (Space::sample_uniform)
};

/// Uniform subnets of Space.
/// @code
///   evit::uniform_sampler<evit::elasticvit::official_space> u(/*seed*/ 7);
///   evit::arch a = u.next();
/// @endcode
template <class Space, class Engine = rng>
class uniform_sampler {
  EVIT_DETAIL_SAMPLER_CHECKS(Space, Engine);

 public:
  using space_type = Space;
  using engine_type = Engine;

  explicit uniform_sampler(std::uint64_t seed = 0, uniform_mode mode = uniform_mode::per_dimension)
      : uniform_sampler(Engine(seed), mode) {}
  explicit uniform_sampler(Engine engine, uniform_mode mode = uniform_mode::per_dimension)
      : engine_(std::move(engine)), mode_(mode) {
    sample::detail::check_space<Space>();
    sample::detail::check_engine<Engine>();
  }

  /// One subnet.
  arch next() {
    return mode_ == uniform_mode::per_dimension ? Space::sample(engine_)
                                                : Space::sample_uniform(engine_);
  }

  uniform_mode mode() const { return mode_; }
  Engine& engine() { return engine_; }

 private:
  Engine engine_;
  uniform_mode mode_;
};

}  // namespace evit
