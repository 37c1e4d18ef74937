// SPDX-License-Identifier: MIT
// The uniform sampler: every dimension uniform among the choices the space's rules leave (the
// official "uniform" mode, docs/elasticvit.md#uniform-sampling), or every subnet equally likely.
// A seed gives the same subnets on every platform (evit's own distributions, space/sample.hpp);
// to_json/from_json save and resume the sequence.
// Next: sample/sandwich.hpp, sample/complexity_aware.hpp.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "evit/core/error.hpp"
#include "evit/core/rng.hpp"
#include "evit/sample/detail/checks.hpp"
#include "evit/sample/detail/state_json.hpp"
#include "evit/space/arch.hpp"
#include "evit/space/search_space.hpp"

namespace evit {

/// What "uniform" means.
enum class uniform_mode {
  per_dimension,  ///< every dimension uniform, in order (official; Space::sample)
  per_subnet,     ///< every distinct subnet equally likely (Space::sample_uniform)
};

/// "per_dimension" or "per_subnet".
inline const char* uniform_mode_name(uniform_mode m) {
  return m == uniform_mode::per_subnet ? "per_subnet" : "per_dimension";
}

/// The mode named `name` (the names of uniform_mode_name); throws evit::invalid_argument
/// otherwise.
inline uniform_mode parse_uniform_mode(const std::string& name) {
  for (uniform_mode m : {uniform_mode::per_dimension, uniform_mode::per_subnet})
    if (name == uniform_mode_name(m)) return m;
  throw invalid_argument("uniform mode \"" + name + "\": expected per_dimension or per_subnet");
}

namespace sample {
namespace detail {
/// The fields every uniform-based sampler saves: space, mode and engine.
template <class Space, class Engine>
nlohmann::json uniform_state(const char* format, uniform_mode mode, const Engine& g) {
  nlohmann::json j = {{"format", format},
                      {"version", 1},
                      {"space", Space::descriptor().name},
                      {"mode", uniform_mode_name(mode)}};
  engine_to_json(j, g);
  return j;
}

/// Checks the header and mode of what uniform_state wrote (the caller then checks its own fields
/// and restores the engine last, so that a bad state changes nothing).
template <class Space>
void check_uniform_state(const state_reader& r, const nlohmann::json& j, uniform_mode mode) {
  r.header(j, Space::descriptor());
  r.same(j, "mode", uniform_mode_name(mode));
}
}  // namespace detail
}  // namespace sample

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
  const Engine& engine() const { return engine_; }

  // --- save and resume ------------------------------------------------------------------------
  /// The sampler's position as JSON: space, mode, and the engine's state when it is evit::rng.
  /// from_json() on a sampler built with the same mode continues the same sequence.
  nlohmann::json to_json() const {
    return sample::detail::uniform_state<Space>(format_name, mode_, engine_);
  }
  /// Loads what to_json() wrote; nothing changes unless all of it is valid.
  /// @throws evit::format_error naming the field (wrong format, space or mode, a bad engine).
  void from_json(const nlohmann::json& j) {
    const sample::detail::state_reader r(format_name);
    sample::detail::check_uniform_state<Space>(r, j, mode_);
    sample::detail::engine_from_json(r, j, engine_);
  }

  static constexpr const char* format_name = "evit.uniform_sampler";

 private:
  Engine engine_;
  uniform_mode mode_;
};

}  // namespace evit
