// SPDX-License-Identifier: MIT
#include <string>
#include <vector>

#include "evit/core/rng.hpp"
#include "evit/models/elasticvit/macs.hpp"
#include "evit/sample/best_of_k.hpp"
#include "evit/sample/sandwich.hpp"
#include "evit/sample/uniform.hpp"

#include "catch.hpp"
#include "sample_support.hpp"

namespace ev = evit::elasticvit;
using evit_test::official;

TEST_CASE("uniform_sampler: valid, seeded, and the space's own distributions",
          "[sample][uniform_sampler]") {
  evit::uniform_sampler<official> u(7), v(7);
  evit::uniform_sampler<official> w(7, evit::uniform_mode::per_subnet);
  evit::rng g(7), h(7);
  for (int k = 0; k < 200; ++k) {
    const evit::arch a = u.next();
    CHECK(official::is_valid(a));
    CHECK(a == v.next());
    CHECK(a == official::sample(g));
    CHECK(w.next() == official::sample_uniform(h));
  }
  CHECK(u.mode() == evit::uniform_mode::per_dimension);
}

TEST_CASE("sandwich_sampler: the largest, the smallest, then k uniform subnets",
          "[sample][sandwich_sampler]") {
  evit::sandwich_sampler<official> sw(2, 5);
  evit::rng g(5);
  for (int s = 0; s < 20; ++s) {
    const auto sub = sw.sandwich_step();
    REQUIRE(sub.size() == 4);
    CHECK(sub[0] == official::max_arch());
    CHECK(sub[1] == official::min_arch());
    CHECK(sub[2] == official::sample(g));
    CHECK(sub[3] == official::sample(g));
  }
  CHECK(evit::sandwich_sampler<official>(0).sandwich_step().size() == 2);
  CHECK_THROWS_AS(evit::sandwich_sampler<official>(-1), evit::invalid_argument);
}

TEST_CASE("best_of: returns the lowest-score candidate (the first of equals)",
          "[sample][best_of_k]") {
  const std::vector<double> scores{3.0, 1.0, 2.0, 1.0, 5.0};
  std::vector<evit::arch> cands;
  evit::rng g(1);
  for (std::size_t i = 0; i < scores.size(); ++i) cands.push_back(official::sample(g));
  std::size_t next = 0, scored = 0;
  const evit::scored_arch r = evit::best_of(
      5, [&] { return cands[next++]; },
      [&](const evit::arch& a) {
        CHECK(a == cands[scored]);
        return scores[scored++];
      });
  CHECK(r.subnet == cands[1]);
  CHECK(r.score == 1.0);
  CHECK(next == 5);
  CHECK(scored == 5);
  CHECK_THROWS_AS(evit::best_of(
                      0, [&] { return cands[0]; }, [](const evit::arch&) { return 0.0; }),
                  evit::invalid_argument);
  CHECK_THROWS_AS(evit::best_of(
                      2, [&] { return cands[0]; }, [](const evit::arch&) { return std::nan(""); }),
                  evit::invalid_argument);
}

TEST_CASE("best_of_k_sampler: the lowest-score of k uniform candidates", "[sample][best_of_k]") {
  evit::best_of_k_sampler<official> bk(3, 9);
  evit::rng g(9);
  auto macs = [](const evit::arch& a) { return ev::macs(official::descriptor(), a); };
  for (int k = 0; k < 200; ++k) {
    const evit::scored_arch r = bk.next(macs);
    double lowest = 0;
    evit::arch best;
    for (int c = 0; c < 3; ++c) {
      const evit::arch a = official::sample(g);
      if (c == 0 || macs(a) < lowest) {
        lowest = macs(a);
        best = a;
      }
    }
    CHECK(r.subnet == best);
    CHECK(r.score == lowest);
  }
  // With a complexity-aware source: AttentiveNAS's FLOPs-conditioned BestUp.
  auto ca = evit_test::official_ca(3);
  const evit::scored_arch r = evit::best_of(
      3, [&] { return ca.draw_in_level(2); },
      [](const evit::arch& a) { return static_cast<double>(a.hash() % 17); });
  CHECK(ca.in_window(2, ca.cost(r.subnet)));
  CHECK_THROWS_AS(evit::best_of_k_sampler<official>(0), evit::invalid_argument);
}

TEST_CASE("make_complexity_aware_sampler / make_performance_aware_sampler: deduce the cost model",
          "[sample][complexity_aware][performance_aware]") {
  auto ca = evit::make_complexity_aware_sampler<official>(
      [](const evit::arch& a) { return ev::macs(official::descriptor(), a); },
      evit::complexity_options().levels(evit::levels_mmacs{200, 400}).seed(3));
  CHECK(ca.num_levels() == 2);
  const evit::arch drawn = ca.next();  // first: next() moves the level (argument order is free)
  CHECK(ca.in_window(ca.level(), ca.cost(drawn)));
  auto pa = evit::make_performance_aware_sampler<official>(evit_test::fast_macs{});
  const evit::level_draw d = pa.next();
  CHECK(pa.complexity().in_window(d.level, pa.complexity().cost(d.subnet)));
}
