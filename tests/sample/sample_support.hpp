// SPDX-License-Identifier: MIT
// Shared helpers of the sampler tests: cost models and samplers built once per test program
// (building a complexity-aware sampler searches every level's smallest subnet).
#pragma once

#include <cstdint>

#include "evit/models/elasticvit/macs.hpp"
#include "evit/models/elasticvit/space.hpp"
#include "evit/sample/complexity_aware.hpp"
#include "evit/sample/performance_aware.hpp"

namespace evit_test {

using official = evit::elasticvit::official_space;

/// The official MACs count without validation, declared monotone (what the benchmarks use).
struct fast_macs {
  static constexpr bool monotone = true;
  double operator()(const evit::arch& a) const {
    return evit::elasticvit::macs_unchecked(official::descriptor(), a);
  }
};

using ca_sampler = evit::complexity_aware_sampler<official, fast_macs>;
using pa_sampler = evit::performance_aware_sampler<official, fast_macs>;

/// A sampler with the official options, seeded with `seed` (copied from one built once).
inline ca_sampler official_ca(std::uint64_t seed) {
  static const ca_sampler proto(fast_macs{}, evit::complexity_options());
  ca_sampler s = proto;
  s.engine() = evit::rng(seed);
  return s;
}

}  // namespace evit_test
