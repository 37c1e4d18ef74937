// SPDX-License-Identifier: MIT
#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "evit/core/rng.hpp"
#include "evit/cost/adaptors.hpp"
#include "evit/cost/cost_model.hpp"
#include "evit/io/arch_text.hpp"
#include "evit/models/autoformer/cost.hpp"
#include "evit/models/autoformer/space.hpp"
#include "evit/models/elasticvit/macs.hpp"
#include "evit/sample/complexity_aware.hpp"
#include "evit/space/detail/moves.hpp"

#include "catch.hpp"
#include "sample_support.hpp"

namespace ev = evit::elasticvit;
namespace af = evit::autoformer;
using evit_test::fast_macs;
using evit_test::official;

TEST_CASE("complexity_aware_sampler: every in-level draw lies in its level's window",
          "[sample][complexity_aware]") {
  auto ca = evit_test::official_ca(11);
  REQUIRE(ca.num_levels() == 8);
  for (int i = 0; i < ca.num_levels(); ++i) {
    const auto w = ca.window_of(i);
    CHECK(w.second - w.first == 20e6);
    for (int k = 0; k < 150; ++k) {
      const evit::arch a = ca.draw_in_level(i);
      const double c = ev::macs(official::descriptor(), a);  // validates too
      CAPTURE(i, k, c, evit::to_string<official>(a));
      REQUIRE(c >= w.first);
      REQUIRE(c <= w.second);
    }
  }
  // The official levels in MACs: 100 MMACs is 1e8.
  CHECK(ca.level_value(0) == 100e6);
  CHECK(ca.level_value(7) == 1200e6);
  const auto& st = ca.stats();
  CHECK(st.draws == 8 * 150);
  CHECK(st.by_rejection + st.constructed + st.fallback == st.draws);
}

TEST_CASE("complexity_aware_sampler: draws of every walk lie in the window of the step's level",
          "[sample][complexity_aware]") {
  for (evit::level_walk w : {evit::level_walk::adjacent_step, evit::level_walk::random,
                             evit::level_walk::adjacent, evit::level_walk::cyclic}) {
    evit_test::ca_sampler ca(fast_macs{}, evit::complexity_options().walk(w).seed(3));
    CAPTURE(evit::walk_name(w));
    for (int k = 0; k < 100; ++k) {
      const evit::arch a = ca.next();
      REQUIRE(ca.in_window(ca.level(), ca.cost(a)));
    }
  }
}

TEST_CASE("complexity_aware_sampler: consecutive steps differ by at most one level",
          "[sample][complexity_aware]") {
  auto ca = evit_test::official_ca(5);
  int prev = ca.level();
  CHECK(prev == 0);  // the official walk starts at the lowest level
  int moved = 0;
  for (int k = 0; k < 100000; ++k) {
    const int l = ca.step();
    REQUIRE(std::abs(l - prev) <= 1);
    moved += l != prev;
    prev = l;
  }
  CHECK(moved > 50000);  // it does move (inside: 2/3 of the steps; at the ends: 1/3)

  // The per-draw variant.
  evit::level_walker walker(8, evit::level_walk::adjacent);
  evit::rng g(9);
  prev = walker.level();
  for (int k = 0; k < 100000; ++k) {
    const int l = walker.on_draw(g);
    REQUIRE(std::abs(l - prev) <= 1);
    prev = l;
  }
}

TEST_CASE(
    "complexity_aware_sampler: over 1e5 steps every level is visited 1/8 of the time +-2 "
    "percentage points",
    "[sample][complexity_aware]") {
  // The walk is symmetric and doubly stochastic, so its stationary law is uniform; with seed 2024
  // the largest deviation over 1e5 steps is 0.6 percentage points (adjacent_step).
  for (evit::level_walk w : {evit::level_walk::adjacent_step, evit::level_walk::random,
                             evit::level_walk::adjacent, evit::level_walk::cyclic}) {
    evit_test::ca_sampler ca = evit_test::official_ca(2024);
    evit::level_walker walker(8, w);  // the same walk the sampler runs (step() and draw())
    evit::rng g(2024);
    std::vector<int> visits(8, 0);
    const int n = 100000;
    for (int k = 0; k < n; ++k) {
      int l;
      if (w == evit::level_walk::adjacent_step) {
        l = ca.step();  // the sampler itself, as in training
      } else {
        walker.on_step(g);
        l = walker.on_draw(g);
      }
      visits[static_cast<std::size_t>(l)]++;
    }
    for (int i = 0; i < 8; ++i) {
      const double f = static_cast<double>(visits[static_cast<std::size_t>(i)]) / n;
      CAPTURE(evit::walk_name(w), i, f);
      CHECK(std::abs(f - 0.125) <= 0.02);
    }
    if (w == evit::level_walk::cyclic)
      for (int v : visits) CHECK(v == n / 8);
  }
}

TEST_CASE("complexity_aware_sampler: the walks move as specified", "[sample][complexity_aware]") {
  evit::rng g(1);
  // cyclic: descending, starting at the highest level.
  evit::level_walker cyc(4, evit::level_walk::cyclic);
  std::vector<int> seq;
  for (int k = 0; k < 6; ++k) seq.push_back(cyc.on_step(g));
  CHECK(seq == std::vector<int>{3, 2, 1, 0, 3, 2});
  CHECK(cyc.on_draw(g) == 2);  // no move per draw
  // adjacent_step at the ends: stays with probability 2/3.
  evit::level_walker low(8, evit::level_walk::adjacent_step, 0);
  int stay = 0;
  for (int k = 0; k < 30000; ++k) {
    low.set_level(0);
    stay += low.on_step(g) == 0;
    CHECK(low.on_draw(g) == low.level());
  }
  CHECK(std::abs(stay / 30000.0 - 2.0 / 3.0) < 0.02);
  // random: moves per draw only.
  evit::level_walker rnd(8, evit::level_walk::random);
  CHECK(rnd.on_step(g) == 0);
  CHECK(evit::parse_walk("adjacent_step") == evit::level_walk::adjacent_step);
  CHECK_THROWS_AS(evit::parse_walk("sideways"), evit::invalid_argument);
}

TEST_CASE(
    "complexity_aware_sampler: each level's smallest subnet is in the window and no single "
    "step down stays in it",
    "[sample][complexity_aware]") {
  auto ca = evit_test::official_ca(1);
  evit::detail::move_set ms(official::descriptor());
  std::vector<evit::detail::site> sites;
  for (int i = 0; i < ca.num_levels(); ++i) {
    const evit::arch& m = ca.smallest(i);
    CAPTURE(i, evit::to_string<official>(m));
    REQUIRE(official::is_valid(m));
    const double c = ca.cost(m);
    REQUIRE(ca.in_window(i, c));
    ms.sites(m, sites);
    for (const auto& p : sites) {
      const int t = ms.nearest_target(m, p, -1);
      if (t < 0) continue;
      evit::arch b = m;
      ms.apply(b, p, t);
      REQUIRE(official::is_valid(b));
      CHECK(ca.cost(b) < ca.window_of(i).first);
    }
  }
  // The space_min policy and a user-supplied one.
  evit_test::ca_sampler sm(fast_macs{},
                           evit::complexity_options().smallest(evit::smallest_policy::space_min));
  CHECK(sm.smallest(3) == official::min_arch());
  sm.set_smallest(3, official::max_arch());
  CHECK(sm.smallest(3) == official::max_arch());
  CHECK_THROWS_AS(sm.set_smallest(3, evit::arch()), evit::invalid_arch);
}

TEST_CASE(
    "complexity_aware_sampler: sandwich_step gives k in-level subnets, then the level's "
    "smallest",
    "[sample][complexity_aware]") {
  auto ca = evit_test::official_ca(4);
  for (int s = 0; s < 20; ++s) {
    const auto sub = ca.sandwich_step();
    REQUIRE(sub.size() == 4);
    for (int j = 0; j < 3; ++j) CHECK(ca.in_window(ca.level(), ca.cost(sub[j])));
    CHECK(sub[3] == ca.smallest(ca.level()));
  }
  CHECK(ca.sandwich_step(0).size() == 1);
  CHECK_THROWS_AS(ca.sandwich_step(-1), evit::invalid_argument);
}

TEST_CASE("complexity_aware_sampler: an unreachable level is an error at construction",
          "[sample][complexity_aware]") {
  // The official space spans 37365024 to 3191458816 MACs.
  try {
    evit_test::ca_sampler ca(fast_macs{},
                             evit::complexity_options().levels(evit::levels_mmacs{10, 100}));
    FAIL("no exception");
  } catch (const evit::infeasible& e) {
    const std::string msg = e.what();
    CAPTURE(msg);
    CHECK(msg.find("level 0") != std::string::npos);
    CHECK(msg.find("10000000") != std::string::npos);
    CHECK(msg.find("[37365024, 3191458816]") != std::string::npos);
  }
  CHECK_THROWS_AS(evit_test::ca_sampler(fast_macs{}, evit::complexity_options().levels(
                                                         evit::levels_mmacs{100, 5000})),
                  evit::infeasible);
  // Reachable: the extremes themselves.
  CHECK_NOTHROW(evit_test::ca_sampler(
      fast_macs{},
      evit::complexity_options().levels(evit::cost_levels{37365024, 3191458816}).window(0)));
  // A non-monotone model cannot bound the range: the search reports what it saw.
  auto plain = [](const evit::arch& a) { return ev::macs_unchecked(official::descriptor(), a); };
  try {
    evit::complexity_aware_sampler<official, decltype(plain)> ca(
        plain, evit::complexity_options().levels(evit::levels_mmacs{5000}));
    FAIL("no exception");
  } catch (const evit::infeasible& e) {
    CHECK(std::string(e.what()).find("no subnet found") != std::string::npos);
  }
}

TEST_CASE("complexity_aware_sampler: bad options are errors naming the value",
          "[sample][complexity_aware]") {
  using evit::complexity_options;
  CHECK_THROWS_AS(
      evit_test::ca_sampler(fast_macs{}, complexity_options().levels(evit::levels_mmacs{200, 100})),
      evit::invalid_argument);
  CHECK_THROWS_AS(
      evit_test::ca_sampler(fast_macs{}, complexity_options().levels(evit::cost_levels{})),
      evit::invalid_argument);
  CHECK_THROWS_AS(evit_test::ca_sampler(fast_macs{}, complexity_options().window(-1)),
                  evit::invalid_argument);
  CHECK_THROWS_AS(evit_test::ca_sampler(fast_macs{}, complexity_options().tries(-1)),
                  evit::invalid_argument);
  CHECK_THROWS_AS(evit_test::ca_sampler(fast_macs{}, complexity_options().start_level(8)),
                  evit::invalid_argument);
  auto ca = evit_test::official_ca(1);
  CHECK_THROWS_AS(ca.draw_in_level(8), evit::invalid_argument);
  CHECK_THROWS_AS(ca.draw_in_level(-1), evit::invalid_argument);
}

TEST_CASE("complexity_aware_sampler: the same seed gives the same draws, any 64-bit engine works",
          "[sample][complexity_aware]") {
  auto a = evit_test::official_ca(77), b = evit_test::official_ca(77);
  for (int k = 0; k < 30; ++k) CHECK(a.next() == b.next());
  evit::complexity_aware_sampler<official, fast_macs, std::mt19937_64> m(
      fast_macs{}, evit::complexity_options().seed(5));
  for (int k = 0; k < 30; ++k) {
    const evit::arch x = m.next();  // moves the level first, then draws in it
    CHECK(m.in_window(m.level(), m.cost(x)));
  }
}

TEST_CASE(
    "complexity_aware_sampler: without tries or restarts every draw is constructed or "
    "falls back, still in the window",
    "[sample][complexity_aware]") {
  evit_test::ca_sampler ca(fast_macs{}, evit::complexity_options().tries(0).restarts(0).seed(8));
  for (int i = 0; i < ca.num_levels(); ++i)
    for (int k = 0; k < 20; ++k) CHECK(ca.in_window(i, ca.cost(ca.draw_in_level(i))));
  CHECK(ca.stats().by_rejection == 0);
}

TEST_CASE("complexity_aware_sampler: any cost model, any space", "[sample][complexity_aware]") {
  SECTION("an undeclared (so: not known monotone) lambda") {
    auto plain = [](const evit::arch& a) { return ev::macs_unchecked(official::descriptor(), a); };
    evit::complexity_aware_sampler<official, decltype(plain)> ca(
        plain, evit::complexity_options().seed(2));
    CHECK(!ca.monotone());
    for (int i = 0; i < ca.num_levels(); ++i)
      for (int k = 0; k < 15; ++k) CHECK(ca.in_window(i, ca.cost(ca.draw_in_level(i))));
  }
  SECTION("a validating monotone cost model object: elasticvit::params_model") {
    evit::complexity_aware_sampler<official, ev::params_model<official>> ca(
        ev::params_model<official>{},
        evit::complexity_options().levels(evit::cost_levels{8e6, 10e6, 12e6}).window(0.25e6));
    for (int i = 0; i < ca.num_levels(); ++i)
      for (int k = 0; k < 20; ++k) CHECK(ca.in_window(i, ca.cost(ca.draw_in_level(i))));
  }
  SECTION("a non-monotone cost: distance to 600 MMACs") {
    auto dist = [](const evit::arch& a) {
      return std::abs(ev::macs_unchecked(official::descriptor(), a) - 600e6);
    };
    evit::complexity_aware_sampler<official, decltype(dist)> ca(
        dist, evit::complexity_options().levels(evit::cost_levels{0, 100e6, 400e6}).window(10e6));
    for (int i = 0; i < ca.num_levels(); ++i)
      for (int k = 0; k < 20; ++k) CHECK(ca.in_window(i, ca.cost(ca.draw_in_level(i))));
  }
  SECTION("the mini space") {
    using mini = ev::mini_space;
    auto m = evit::make_cost_model<true>(
        [](const evit::arch& a) { return ev::macs_unchecked(mini::descriptor(), a); });
    const double lo = m(mini::min_arch()), hi = m(mini::max_arch());
    evit::complexity_aware_sampler<mini, decltype(m)> ca(
        m, evit::complexity_options()
               .levels(evit::cost_levels{lo, lo + (hi - lo) / 3, lo + 2 * (hi - lo) / 3})
               .window((hi - lo) / 50));
    for (int i = 0; i < ca.num_levels(); ++i)
      for (int k = 0; k < 20; ++k) {
        const evit::arch a = ca.draw_in_level(i);
        CHECK(mini::is_valid(a));
        CHECK(ca.in_window(i, ca.cost(a)));
      }
  }
  SECTION("a layer-wise space with chosen heads: AutoFormer") {
    using S = af::base_space;
    auto m = evit::make_cost_model<true>(
        [](const evit::arch& a) { return af::macs(S::descriptor(), a); });
    const double lo = m(S::min_arch()), hi = m(S::max_arch());
    evit::complexity_aware_sampler<S, decltype(m)> ca(
        m, evit::complexity_options()
               .levels(evit::cost_levels{lo + (hi - lo) / 4, lo + (hi - lo) / 2})
               .window((hi - lo) / 100));
    for (int i = 0; i < ca.num_levels(); ++i)
      for (int k = 0; k < 20; ++k) {
        const evit::arch a = ca.draw_in_level(i);
        CHECK(S::is_valid(a));
        CHECK(ca.in_window(i, ca.cost(a)));
      }
  }
}

TEST_CASE("complexity_aware_sampler: in-level draws are varied", "[sample][complexity_aware]") {
  auto ca = evit_test::official_ca(6);
  for (int i : {0, 4, 7}) {
    std::vector<std::uint64_t> h;
    std::vector<int> res;
    for (int k = 0; k < 100; ++k) {
      const evit::arch a = ca.draw_in_level(i);
      h.push_back(a.hash());
      res.push_back(a.resolution());
    }
    std::sort(h.begin(), h.end());
    CHECK(std::unique(h.begin(), h.end()) - h.begin() >= 95);
    std::sort(res.begin(), res.end());
    CHECK(std::unique(res.begin(), res.end()) - res.begin() >= 2);
  }
}

TEST_CASE(
    "complexity_aware_sampler: in-level draws are close to the space's own distribution "
    "conditioned on the window",
    "[sample][complexity_aware][slow]") {
  // Reference: plain rejection from official::sample (exact, ~3% acceptance at 300 MMACs).
  // Compared: marginals of the resolution and of the total depth, by total variation distance.
  // With 6000 draws each, two exact samples differ by about 0.01-0.03; with 16 tries the sampler
  // measured 0.01-0.03 and 0.03-0.04 (benchmarks/RESULTS-sample.md), without tries 0.20, 0.17.
  const int level = 2, n = 6000;
  auto ca = evit_test::official_ca(5);
  const auto w = ca.window_of(level);
  std::map<int, double> res, depth;
  auto total_depth = [](const evit::arch& a) {
    int d = 0;
    for (int s = 0; s < a.num_stages(); ++s) d += a.depth(s);
    return d;
  };
  evit::rng g(6);
  for (int accepted = 0; accepted < n;) {
    const evit::arch a = official::sample(g);
    const double c = ca.cost(a);
    if (c < w.first || c > w.second) continue;
    ++accepted;
    res[a.resolution()] += 1.0 / n;
    depth[total_depth(a)] += 1.0 / n;
  }
  for (int k = 0; k < n; ++k) {
    const evit::arch a = ca.draw_in_level(level);
    res[a.resolution()] -= 1.0 / n;
    depth[total_depth(a)] -= 1.0 / n;
  }
  auto tv = [](const std::map<int, double>& m) {
    double s = 0;
    for (const auto& p : m) s += std::abs(p.second);
    return s / 2;
  };
  CAPTURE(tv(res), tv(depth));
  CHECK(tv(res) < 0.06);
  CHECK(tv(depth) < 0.07);
}

TEST_CASE("complexity_aware_sampler: a monotone model stays monotone through any_cost",
          "[sample][complexity_aware][any_cost]") {
  const evit::cost::any_cost mono = ev::macs_model<official>{};
  const evit::cost::any_cost plain = [](const evit::arch& a) { return ev::macs(a); };
  using erased = evit::complexity_aware_sampler<official, evit::cost::any_cost>;
  // Behind any_cost the model is still known monotone: the exact range, not the costs seen.
  try {
    erased ca(mono, evit::complexity_options().levels(evit::levels_mmacs{10, 100}));
    FAIL("no exception");
  } catch (const evit::infeasible& e) {
    CHECK_THAT(e.what(), Catch::Matchers::Contains(
                             "the cost model's reachable range is [37365024, 3191458816]"));
  }
  try {
    erased ca(plain, evit::complexity_options().levels(evit::levels_mmacs{10, 100}));
    FAIL("no exception");
  } catch (const evit::infeasible& e) {
    CHECK_THAT(e.what(), Catch::Matchers::Contains("no subnet found in the window"));
  }
  // The same draws, with the same number of cost evaluations, as the model itself.
  const auto opts = evit::complexity_options().seed(3);
  evit::complexity_aware_sampler<official, ev::macs_model<official>> direct(
      ev::macs_model<official>{}, opts);
  erased through(mono, opts);
  CHECK(direct.monotone());
  CHECK(through.monotone());
  CHECK(!erased(plain, opts).monotone());
  for (int k = 0; k < 30; ++k) CHECK(direct.draw() == through.draw());
  CHECK(direct.stats().cost_evaluations == through.stats().cost_evaluations);
  // A model of another space, hidden behind any_cost, is refused at run time (declared, it
  // would not compile: tests/fail).
  CHECK_THROWS_MATCHES((evit::complexity_aware_sampler<ev::mini_space, evit::cost::any_cost>(mono)),
                       evit::invalid_argument,
                       Catch::Matchers::Message("complexity_aware_sampler over space "
                                                "\"elasticvit-mini\": a cost model is of another "
                                                "space (\"elasticvit-official\")"));
}
