// SPDX-License-Identifier: MIT
// Search quality on a synthetic problem over the official space whose constrained optimum and
// Pareto front are known exactly (synthetic.hpp: dynamic programming over the width chain).
#include <vector>

#include "evit/models/elasticvit/space.hpp"
#include "evit/search/evolutionary.hpp"
#include "evit/search/hypervolume.hpp"
#include "evit/search/nsga2.hpp"
#include "evit/search/random.hpp"

#include "catch.hpp"
#include "synthetic.hpp"

using space = evit::elasticvit::official_space;

namespace {
const evit_test::synthetic_problem& solved_problem() {
  static const evit_test::synthetic_problem p = [] {
    evit_test::synthetic_problem q(space::descriptor());
    q.solve();
    return q;
  }();
  return p;
}
}  // namespace

TEST_CASE("synthetic problem: the DP optimum is a valid subnet with the claimed value and cost",
          "[search][quality]") {
  const auto& p = solved_problem();
  for (int lo : {20, 60, 150, 300}) {
    evit::arch a;
    const double best = p.optimum(lo, lo + 10, &a);
    CAPTURE(lo);
    REQUIRE(space::is_valid(a));
    CHECK_THAT(p.value(a), Catch::Matchers::WithinRel(best, 1e-12));
    CHECK(p.cost(a) >= lo);
    CHECK(p.cost(a) <= lo + 10);
  }
  // The worst feasible subnet of a window (the bottom of normalised scores), likewise.
  for (int lo : {20, 60, 150, 300}) {
    evit::arch a;
    const double worst = p.pessimum(lo, lo + 10, &a);
    CAPTURE(lo);
    REQUIRE(space::is_valid(a));
    CHECK_THAT(p.value(a), Catch::Matchers::WithinRel(worst, 1e-12));
    CHECK(p.cost(a) >= lo);
    CHECK(p.cost(a) <= lo + 10);
    CHECK(worst < p.optimum(lo, lo + 10));
    CHECK(p.normalised(worst, lo, lo + 10) == 0);
    CHECK(p.normalised(p.optimum(lo, lo + 10), lo, lo + 10) == 1);
  }
  // The optimum dominates every random feasible subnet, and every one is above the worst.
  evit::rng g(5);
  const double best = p.optimum(150, 160), worst = p.pessimum(150, 160);
  int feasible = 0;
  for (int i = 0; i < 3000; ++i) {
    const evit::arch a = space::sample(g);
    const int c = p.cost(a);
    if (c >= 150 && c <= 160) {
      REQUIRE(p.value(a) <= best + 1e-9);
      REQUIRE(p.value(a) >= worst - 1e-9);
      ++feasible;
    }
  }
  CHECK(feasible > 0);
  // The front is a strict staircase.
  const auto f = p.front();
  REQUIRE(f.size() > 100);
  for (std::size_t i = 1; i < f.size(); ++i) {
    CHECK(f[i].first > f[i - 1].first);
    CHECK(f[i].second > f[i - 1].second);
  }
}

TEST_CASE(
    "evolutionary_search: the ElasticViT preset reaches >= 99% of the exact optimum (also of the "
    "window's feasible range) and beats random search with as many evaluations",
    "[search][quality][slow]") {
  const auto& p = solved_problem();
  // A window of 10 cost units at a mid budget (the space's costs span 8 .. 418). At the lowest
  // budgets the preset does not reach 99% in its 10,752 evaluations (L = 40 and 60: 97.3% and
  // 97.5% over 5 seeds; from L = 100 up: >= 99.6%): benchmarks/bench_search.cpp prints the table.
  const int lo = 150, hi = 160;
  const double best = p.optimum(lo, hi);
  const auto con = evit::cost::within(p.cost_fn(), lo, hi, "synthetic cost");
  const auto r =
      evit::evolutionary_search<space>(p.value_fn(), con, evit::presets::elasticvit_search(), 1);
  REQUIRE(r.ok());
  CHECK(r.evaluations == 512 + 40 * 256);
  const double found = r.best().value();
  CAPTURE(found, best);
  CHECK(found >= 0.99 * best);
  CHECK(found <= best + 1e-9);
  CHECK(p.cost(r.best().subnet) >= lo);
  CHECK(p.cost(r.best().subnet) <= hi);
  // Normalised over the window's feasible range, (v - v_min) / (v_opt - v_min), which does not
  // credit the value every feasible subnet has (v_min / v_opt = 0.31 here): >= 99% as well
  // (5 seeds: >= 99.88%, benchmarks/bench_search.cpp).
  const double normalised = p.normalised(found, lo, hi);
  CAPTURE(normalised);
  CHECK(normalised >= 0.99);
  CHECK(normalised <= 1 + 1e-12);
  const auto rr = evit::random_search<space>(
      p.value_fn(), con, evit::random_options().evaluations(static_cast<int>(r.evaluations)), 1);
  REQUIRE(rr.evaluations == r.evaluations);
  CAPTURE(rr.best().value(), p.normalised(rr.best().value(), lo, hi));
  CHECK(rr.best().value() < found);
  CHECK(p.normalised(rr.best().value(), lo, hi) < normalised);
}

TEST_CASE("nsga2_search: the front reaches >= 95% of the true hypervolume and beats random search",
          "[search][quality][slow]") {
  const auto& p = solved_problem();
  // Minimised form: (-value, cost); the reference is the min subnet's value and max cost + 1.
  const std::vector<double> ref = {-p.value(space::min_arch()),
                                   static_cast<double>(p.max_cost() + 1)};
  std::vector<std::vector<double>> truth;
  for (const auto& x : p.front()) truth.push_back({-x.second, static_cast<double>(x.first)});
  const double true_hv = evit::hypervolume(truth, ref);
  auto s = evit::make_nsga2<space>(
      evit::objectives(evit::maximize(p.value_fn(), "value"), evit::minimize(p.cost_fn(), "cost")),
      evit::cost::unconstrained(), evit::nsga2_options().population(100).generations(60), 1);
  const auto r = s.run();
  REQUIRE(r.ok());
  std::vector<std::vector<double>> front;
  for (const auto& e : r.ranked) front.push_back(s.minimised(e));
  const double hv = evit::hypervolume(front, ref);
  // Every front point is a real subnet with the recorded values.
  for (const auto& e : r.ranked) {
    REQUIRE(space::is_valid(e.subnet));
    REQUIRE(e.values[0] == p.value(e.subnet));
    REQUIRE(e.values[1] == p.cost(e.subnet));
  }
  const auto rr = evit::random_search<space>(
      p.value_fn(), evit::cost::unconstrained(),
      evit::random_options().evaluations(static_cast<int>(r.evaluations)).keep(1 << 20), 1);
  std::vector<std::vector<double>> rfront;
  for (const auto& e : rr.ranked) rfront.push_back({-e.values[0], double(p.cost(e.subnet))});
  const double rhv = evit::hypervolume(rfront, ref);
  CAPTURE(hv / true_hv, rhv / true_hv, r.evaluations);
  CHECK(hv >= 0.95 * true_hv);
  CHECK(hv <= true_hv * (1 + 1e-12));
  CHECK(rhv < hv);
}
