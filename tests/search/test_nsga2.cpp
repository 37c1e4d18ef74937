// SPDX-License-Identifier: MIT
#include <string>
#include <vector>

#include "evit/core/executor.hpp"
#include "evit/core/rng.hpp"
#include "evit/cost/constraint.hpp"
#include "evit/models/elasticvit/macs.hpp"
#include "evit/search/hypervolume.hpp"
#include "evit/search/nsga2.hpp"
#include "evit/space/arch_map.hpp"

#include "catch.hpp"
#include "synthetic.hpp"

namespace ev = evit::elasticvit;
using space = ev::official_space;

namespace {
const evit_test::synthetic_problem& nsga_problem() {
  static const evit_test::synthetic_problem p(space::descriptor());
  return p;
}
auto two_objectives() {
  return evit::objectives(evit::maximize(nsga_problem().value_fn(), "value"),
                          evit::minimize(nsga_problem().cost_fn(), "cost"));
}
evit::nsga2_options small_nsga() { return evit::nsga2_options().population(24).generations(5); }

void require_same_front(const evit::search_result& a, const evit::search_result& b) {
  REQUIRE(a.evaluations == b.evaluations);
  REQUIRE(a.ranked.size() == b.ranked.size());
  for (std::size_t i = 0; i < a.ranked.size(); ++i) {
    REQUIRE(a.ranked[i].subnet == b.ranked[i].subnet);
    REQUIRE(a.ranked[i].values == b.ranked[i].values);
  }
  REQUIRE(a.history.size() == b.history.size());
  for (std::size_t i = 0; i < a.history.size(); ++i)
    REQUIRE(a.history[i].to_json() == b.history[i].to_json());
}
}  // namespace

TEST_CASE("hypervolume: exact in 1, 2 and 3 dimensions", "[search][hypervolume]") {
  CHECK(evit::hypervolume({{1.0}, {3.0}}, {4.0}) == 3.0);
  // Two points in 2-D: union of [1,4]x[2,4] and [2,4]x[1,4] = 6 + 6 - 4 = 8.
  CHECK(evit::hypervolume({{1, 2}, {2, 1}}, {4, 4}) == 8.0);
  // A dominated point, a duplicate and a point outside the reference change nothing.
  CHECK(evit::hypervolume({{1, 2}, {2, 1}, {3, 3}, {1, 2}, {5, 0}}, {4, 4}) == 8.0);
  CHECK(evit::hypervolume({}, {1, 1}) == 0.0);
  // 3-D against counting unit cells on an integer grid.
  evit::rng g(3);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<std::vector<double>> pts;
    const int n = 1 + static_cast<int>(evit::uniform_below(g, 8));
    for (int i = 0; i < n; ++i)
      pts.push_back({double(evit::uniform_below(g, 6)), double(evit::uniform_below(g, 6)),
                     double(evit::uniform_below(g, 6))});
    const std::vector<double> ref = {6, 6, 6};
    int cells = 0;
    for (int x = 0; x < 6; ++x)
      for (int y = 0; y < 6; ++y)
        for (int z = 0; z < 6; ++z) {
          bool in = false;
          for (const auto& p : pts) in = in || (p[0] <= x && p[1] <= y && p[2] <= z);
          cells += in ? 1 : 0;
        }
    CAPTURE(trial, n);
    CHECK(evit::hypervolume(pts, ref) == double(cells));
  }
  CHECK_THROWS_AS(evit::hypervolume({{1, 2, 3}}, {4, 4}), evit::invalid_argument);
}

TEST_CASE("pareto_front: the non-dominated points", "[search][hypervolume]") {
  const std::vector<std::vector<double>> pts = {{1, 5}, {2, 2}, {3, 3}, {5, 1}, {2, 2}, {0, 9}};
  CHECK(evit::pareto_front(pts) == std::vector<std::size_t>{0, 1, 3, 5});
  CHECK(evit::dominates({1, 1}, {1, 2}));
  CHECK(!evit::dominates({1, 1}, {1, 1}));
  CHECK(!evit::dominates({0, 3}, {1, 2}));
}

TEST_CASE("nsga2_search: a front of valid, mutually non-dominated, evaluated-once subnets",
          "[search][nsga2]") {
  auto s = evit::make_nsga2<space>(two_objectives(), evit::cost::unconstrained(), small_nsga(), 2);
  const auto r = s.run();
  REQUIRE(r.ok());
  CHECK(r.evaluations <= small_nsga().max_evaluations());
  CHECK(r.history.size() == 6);
  std::vector<std::vector<double>> pts;
  for (const auto& e : r.ranked) {
    REQUIRE(space::is_valid(e.subnet));
    pts.push_back(s.minimised(e));
  }
  CHECK(evit::pareto_front(pts).size() == pts.size());
  for (std::size_t i = 1; i < r.ranked.size(); ++i)
    CHECK(r.ranked[i - 1].values[0] >= r.ranked[i].values[0]);
  // Every record is distinct.
  evit::arch_map<int> seen;
  for (const auto& e : s.records()) {
    REQUIRE(seen.find(e.subnet) == nullptr);
    seen.insert(e.subnet, 0);
  }
}

TEST_CASE("nsga2_search: constrained domination keeps the front feasible", "[search][nsga2]") {
  const ev::macs_model<> macs;
  const auto r = evit::nsga2_search<space>(
      two_objectives(), evit::cost::at_most(macs, 250e6, "MACs"), small_nsga(), 3);
  REQUIRE(r.ok());
  for (const auto& e : r.ranked) {
    CHECK(e.feasible());
    CHECK(e.costs[0] <= 250e6);
  }
  const auto none = evit::nsga2_search<space>(
      two_objectives(), evit::cost::at_most(macs, 1e6, "MACs"), small_nsga(), 3);
  CHECK(none.status == evit::search_status::infeasible);
  CHECK_THROWS_AS(none.best(), evit::infeasible);
}

TEST_CASE("nsga2: bit-identical for any thread count, save and resume", "[search][nsga2]") {
  const auto con = evit::cost::at_most(nsga_problem().cost_fn(), 300, "cost");
  const auto r1 = evit::nsga2_search<space>(two_objectives(), con, small_nsga(), 5);
  evit::thread_pool pool(2);
  const auto r2 = evit::nsga2_search<space>(two_objectives(), con, small_nsga(), 5, pool);
  require_same_front(r1, r2);
  auto first = evit::make_nsga2<space>(two_objectives(), con, small_nsga(), 5);
  first.step();
  first.step();
  const std::string saved = first.state().dump();
  auto second = evit::make_nsga2<space>(two_objectives(), con, evit::nsga2_options(), 1);
  second.restore(nlohmann::json::parse(saved));
  require_same_front(r1, second.run(pool));
  CHECK_THROWS_AS(second.restore(nlohmann::json::parse("[]")), evit::parse_error);
}
