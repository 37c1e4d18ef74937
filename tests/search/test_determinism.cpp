// SPDX-License-Identifier: MIT
// Same seed, same result on every platform: small seeded searches (evolutionary, NSGA-II, random)
// over the official space, their results pinned as literal constants. The objectives are exact
// integer counts (official parameters and MACs, exact in double), so any difference on another
// platform, compiler or standard library comes from the searches' own draws and decisions.
// Together with tests/sample/test_golden.cpp (the samplers' first draws) and the rng tests, run
// with the tag [determinism] on a second platform (aarch64 under qemu) to prove the claim.
// To re-pin after an intended change: EVIT_GOLDEN_OUT=/tmp/golden.txt evit_test_search
// "[determinism]" appends the new values to that file.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "evit/cost/constraint.hpp"
#include "evit/io/arch_text.hpp"
#include "evit/models/elasticvit/macs.hpp"
#include "evit/search/evolutionary.hpp"
#include "evit/search/nsga2.hpp"
#include "evit/search/random.hpp"

#include "catch.hpp"

namespace ev = evit::elasticvit;
using space = ev::official_space;

// A named namespace: the module's test files compile as one unit (unity build).
namespace determinism_test {

constexpr std::uint64_t seed = 2024;

struct pinned {
  std::uint64_t evaluations;
  std::size_t ranked;                // size of the result list
  std::vector<std::string> subnets;  // the first ranked subnets, text form
  std::vector<double> values;        // their first objective values
  std::vector<double> history_best;  // best value after each iteration (evolution only)
};

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// Compares the first subnets of `r` (and its counts and history) with the pinned ones; with
// EVIT_GOLDEN_OUT set, appends the first five of them to that file instead.
void check_pinned(const evit::search_result& r, const pinned& want, bool with_history) {
  REQUIRE(r.ok());
  const char* out = std::getenv("EVIT_GOLDEN_OUT");
  const std::size_t n = out ? std::min<std::size_t>(5, r.ranked.size()) : want.subnets.size();
  REQUIRE(r.ranked.size() >= n);
  std::string listing =
      std::to_string(r.evaluations) + ", " + std::to_string(r.ranked.size()) + ",\n{\n";
  for (std::size_t i = 0; i < n; ++i)
    listing += "\"" + evit::to_string<space>(r.ranked[i].subnet) + "\",\n";
  listing += "},\n{";
  for (std::size_t i = 0; i < n; ++i) listing += (i ? ", " : "") + number(r.ranked[i].values[0]);
  listing += "},\n{";
  if (with_history)
    for (std::size_t i = 0; i < r.history.size(); ++i)
      listing += (i ? ", " : "") + number(r.history[i].best);
  listing += "}\n";
  CAPTURE(listing);
  if (out) {
    std::ofstream(out, std::ios::app) << listing << "--\n";
    return;
  }
  REQUIRE(want.values.size() == n);
  CHECK(r.evaluations == want.evaluations);
  CHECK(r.ranked.size() == want.ranked);
  for (std::size_t i = 0; i < n; ++i) {
    CAPTURE(i);
    CHECK(evit::to_string<space>(r.ranked[i].subnet) == want.subnets[i]);
    CHECK(r.ranked[i].values[0] == want.values[i]);
  }
  if (with_history) {
    REQUIRE(r.history.size() == want.history_best.size());
    for (std::size_t i = 0; i < r.history.size(); ++i)
      CHECK(r.history[i].best == want.history_best[i]);
  }
}

// Maximise the parameters a subnet touches with 200 to 300 official MMACs.
double params(const evit::arch& a) { return ev::params<space>(a); }
auto window() { return evit::cost::within(ev::macs_model<space>{}, 200e6, 300e6, "MACs"); }

}  // namespace determinism_test

namespace dt = determinism_test;

TEST_CASE("determinism: evolutionary_search, seed 2024, pinned result",
          "[search][evolution][determinism]") {
  evit::evolution_options opts = evit::presets::elasticvit_search();
  opts.population(32).parents(8).mutations(8).crossovers(8).iterations(4);
  const auto r = evit::evolutionary_search<space>(dt::params, dt::window(), opts, dt::seed);
  dt::check_pinned(r,
                   {96,
                    8,
                    {
                        "r128 first_conv=16x1:k3 stem=16x2:e1k3 C0=24x4:e4k3 C1=40x6:e5k3 "
                        "T2=80x4:m2h5q1v3 T3=160x2:m2h10q1v2 T4=224x3:m3h14q1v3 T5=304x6:m5h19q1v4",
                        "r128 first_conv=16x1:k3 stem=16x1:e1k3 C0=24x4:e4k3 C1=40x6:e5k3 "
                        "T2=80x4:m2h5q1v3 T3=160x2:m2h10q1v2 T4=224x2:m3h14q1v3 T5=304x6:m5h19q1v4",
                        "r128 first_conv=24x1:k3 stem=24x1:e1k3 C0=24x4:e4k3 C1=40x6:e3k3 "
                        "T2=80x4:m2h5q1v3 T3=160x2:m2h10q1v2 T4=224x2:m3h14q1v3 T5=304x6:m5h19q1v4",
                        "r160 first_conv=16x1:k3 stem=16x1:e1k3 C0=16x4:e4k3 C1=16x6:e5k3 "
                        "T2=80x4:m2h5q1v3 T3=96x2:m2h6q1v2 T4=224x2:m4h14q1v3 T5=304x6:m5h19q1v4",
                        "r128 first_conv=16x1:k3 stem=16x2:e1k3 C0=24x4:e6k3 C1=40x6:e6k3 "
                        "T2=80x4:m2h5q1v4 T3=160x2:m2h10q1v4 T4=224x3:m4h14q1v3 T5=304x6:m5h19q1v2",
                    },
                    {23453816.0, 22742138.0, 22634810.0, 21854222.0, 21847744.0},
                    {18393131.0, 21847744.0, 21847744.0, 22742138.0, 23453816.0}},
                   true);
}

TEST_CASE("determinism: nsga2_search, seed 2024, pinned front", "[search][nsga2][determinism]") {
  const auto r = evit::nsga2_search<space>(
      evit::objectives(evit::maximize(dt::params, "params"),
                       evit::minimize(ev::macs_model<space>{}, "MACs")),
      evit::cost::unconstrained(), evit::nsga2_options().population(16).generations(4), dt::seed);
  dt::check_pinned(r,
                   {80,
                    16,
                    {
                        "r128 first_conv=16x1:k3 stem=16x1:e1k5 C0=16x5:e3k5 C1=32x6:e3k5 "
                        "T2=80x3:m2h5q1v3 T3=144x6:m4h9q1v2 T4=288x6:m4h18q1v4 T5=320x5:m4h20q1v2",
                        "r128 first_conv=16x1:k3 stem=16x2:e1k3 C0=16x2:e3k5 C1=32x6:e6k3 "
                        "T2=80x3:m5h5q1v4 T3=144x2:m2h9q1v2 T4=288x6:m4h18q1v4 T5=320x5:m2h20q1v3",
                        "r128 first_conv=16x1:k3 stem=16x1:e1k3 C0=16x4:e6k5 C1=32x6:e4k5 "
                        "T2=80x3:m2h5q1v3 T3=144x2:m4h9q1v4 T4=288x6:m2h18q1v4 T5=320x5:m3h20q1v2",
                        "r128 first_conv=16x1:k3 stem=16x1:e1k3 C0=24x2:e3k3 C1=32x6:e4k5 "
                        "T2=80x3:m5h5q1v3 T3=144x2:m2h9q1v4 T4=288x6:m4h18q1v2 T5=320x5:m3h20q1v2",
                        "r128 first_conv=24x1:k3 stem=24x2:e1k3 C0=32x3:e6k3 C1=32x4:e4k3 "
                        "T2=48x4:m2h3q1v3 T3=112x5:m3h7q1v2 T4=272x5:m2h17q1v2 T5=320x6:m3h20q1v3",
                    },
                    {28531921.0, 26419697.0, 24541481.0, 24453241.0, 22907252.0},
                    {}},
                   false);
}

TEST_CASE("determinism: random_search, seed 2024, pinned result", "[search][random][determinism]") {
  const auto r = evit::random_search<space>(dt::params, dt::window(),
                                            evit::random_options().evaluations(100), dt::seed);
  dt::check_pinned(r,
                   {100,
                    100,
                    {
                        "r160 first_conv=16x1:k3 stem=16x2:e1k5 C0=16x4:e4k3 C1=24x5:e5k3 "
                        "T2=48x5:m3h3q1v2 T3=112x1:m4h7q1v2 T4=256x2:m5h16q1v4 T5=304x5:m5h19q1v4",
                        "r128 first_conv=24x1:k3 stem=24x2:e1k5 C0=32x2:e4k5 C1=48x5:e5k3 "
                        "T2=96x4:m2h6q1v4 T3=112x3:m4h7q1v2 T4=256x2:m2h16q1v3 T5=304x6:m4h19q1v3",
                        "r128 first_conv=16x1:k3 stem=16x2:e1k5 C0=32x5:e5k5 C1=48x2:e3k3 "
                        "T2=80x1:m2h5q1v3 T3=96x6:m2h6q1v4 T4=256x5:m4h16q1v3 T5=288x4:m4h18q1v4",
                        "r128 first_conv=16x1:k3 stem=16x1:e1k3 C0=16x2:e4k5 C1=48x5:e4k5 "
                        "T2=48x1:m2h3q1v2 T3=80x5:m4h5q1v2 T4=288x4:m5h18q1v3 T5=304x2:m5h19q1v3",
                        "r160 first_conv=16x1:k3 stem=16x1:e1k5 C0=24x3:e4k5 C1=24x4:e4k3 "
                        "T2=64x3:m2h4q1v2 T3=96x6:m2h6q1v2 T4=240x1:m4h15q1v3 T5=304x6:m3h19q1v4",
                    },
                    {21314357.0, 21101783.0, 21050501.0, 19324874.0, 19310037.0},
                    {}},
                   false);
}
