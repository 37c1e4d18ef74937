// SPDX-License-Identifier: MIT
#include <atomic>
#include <functional>
#include <limits>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "evit/core/executor.hpp"
#include "evit/cost/adaptors.hpp"
#include "evit/cost/constraint.hpp"
#include "evit/io/arch_text.hpp"
#include "evit/models/elasticvit/macs.hpp"
#include "evit/search/evolutionary.hpp"
#include "evit/search/random.hpp"

#include "catch.hpp"
#include "synthetic.hpp"

namespace ev = evit::elasticvit;
using space = ev::official_space;

namespace {

const evit_test::synthetic_problem& problem() {
  static const evit_test::synthetic_problem p(space::descriptor());
  return p;
}

// A small search for the mechanics tests.
evit::evolution_options small() {
  return evit::presets::elasticvit_search()
      .population(48)
      .parents(12)
      .mutations(12)
      .crossovers(12)
      .iterations(6);
}

auto window() { return evit::cost::within(problem().cost_fn(), 120, 140, "synthetic cost"); }

void require_same(const evit::search_result& a, const evit::search_result& b) {
  REQUIRE(a.status == b.status);
  REQUIRE(a.evaluations == b.evaluations);
  REQUIRE(a.ranked.size() == b.ranked.size());
  for (std::size_t i = 0; i < a.ranked.size(); ++i) {
    REQUIRE(a.ranked[i].subnet == b.ranked[i].subnet);
    REQUIRE(a.ranked[i].values == b.ranked[i].values);
    REQUIRE(a.ranked[i].costs == b.ranked[i].costs);
  }
  REQUIRE(a.history.size() == b.history.size());
  for (std::size_t i = 0; i < a.history.size(); ++i)
    REQUIRE(a.history[i].to_json() == b.history[i].to_json());
  REQUIRE(a.counters.to_json() == b.counters.to_json());
}

}  // namespace

TEST_CASE("evolutionary_search: every result satisfies the constraint and is evaluated once",
          "[search][evolution]") {
  std::atomic<int> calls{0};
  auto objective = [&calls](const evit::arch& a) {
    ++calls;
    return problem().value(a);
  };
  const auto r = evit::evolutionary_search<space>(objective, window(), small(), 3);
  REQUIRE(r.ok());
  CHECK(static_cast<std::uint64_t>(calls.load()) == r.evaluations);
  CHECK(r.evaluations <= small().max_evaluations());
  CHECK(r.ranked.size() == 12);
  for (std::size_t i = 0; i < r.ranked.size(); ++i) {
    const auto& e = r.ranked[i];
    REQUIRE(space::is_valid(e.subnet));
    REQUIRE(e.feasible());
    REQUIRE(e.costs[0] >= 120);
    REQUIRE(e.costs[0] <= 140);
    REQUIRE(e.values[0] == problem().value(e.subnet));
    if (i > 0) REQUIRE(r.ranked[i - 1].values[0] >= e.values[0]);
  }
  // The history is monotone in evaluations and best value (elitist).
  REQUIRE(r.history.size() == 7);
  for (std::size_t i = 1; i < r.history.size(); ++i) {
    CHECK(r.history[i].evaluations > r.history[i - 1].evaluations);
    CHECK(r.history[i].best >= r.history[i - 1].best);
  }
}

TEST_CASE("evolutionary_search: bit-identical for a seed whatever the thread count",
          "[search][evolution]") {
  const auto r1 = evit::evolutionary_search<space>(problem().value_fn(), window(), small(), 9);
  evit::thread_pool pool2(2), pool3(3);
  const auto r2 =
      evit::evolutionary_search<space>(problem().value_fn(), window(), small(), 9, pool2);
  const auto r3 =
      evit::evolutionary_search<space>(problem().value_fn(), window(), small(), 9, pool3);
  require_same(r1, r2);
  require_same(r1, r3);
  // The call shape of the design document: a temporary pool.
  const auto r4 = evit::evolutionary_search<space>(problem().value_fn(), window(), small(), 9,
                                                   evit::thread_pool(2));
  require_same(r1, r4);
  const auto other = evit::evolutionary_search<space>(problem().value_fn(), window(), small(), 10);
  CHECK(other.ranked.front().subnet != r1.ranked.front().subnet);
}

TEST_CASE("evolution: save and resume give the uninterrupted result", "[search][evolution]") {
  const auto straight =
      evit::evolutionary_search<space>(problem().value_fn(), window(), small(), 4);
  auto first = evit::make_evolution<space>(problem().value_fn(), window(), small(), 4);
  for (int i = 0; i < 3; ++i) REQUIRE(first.step());
  CHECK(first.iteration() == 2);
  const std::string saved = first.state().dump();
  // A new search (as in a new process) with the same objective and constraint.
  std::atomic<int> calls{0};
  auto counting = [&calls](const evit::arch& a) {
    ++calls;
    return problem().value(a);
  };
  auto second = evit::make_evolution<space>(counting, window(), evit::presets::hat_search(), 999);
  second.restore(nlohmann::json::parse(saved));
  CHECK(second.options().to_json() == small().to_json());
  const auto resumed = second.run();
  require_same(straight, resumed);
  // Only the subnets of the remaining iterations were evaluated after the resume.
  CHECK(static_cast<std::uint64_t>(calls.load()) ==
        resumed.evaluations - first.result().evaluations);
  // Malformed or foreign states are parse errors.
  CHECK_THROWS_AS(second.restore(nlohmann::json::parse("{\"format\": 1}")), evit::parse_error);
  auto bad = nlohmann::json::parse(saved);
  bad["core"]["space"] = "elasticvit-mini";
  CHECK_THROWS_AS(second.restore(bad), evit::parse_error);
}

TEST_CASE("evolution: the progress callback sees every iteration", "[search][evolution]") {
  std::vector<evit::search_progress> seen;
  std::vector<std::string> best;
  auto opts = small().on_progress([&](const evit::search_progress& p) {
    seen.push_back(p);
    best.push_back(p.best ? evit::to_string<space>(*p.best) : "");
  });
  const auto r = evit::evolutionary_search<space>(problem().value_fn(), window(), opts, 2);
  REQUIRE(seen.size() == 7);
  for (std::size_t i = 0; i < seen.size(); ++i) {
    CHECK(seen[i].iteration == static_cast<int>(i));
    CHECK(seen[i].iterations == 6);
    CHECK(!best[i].empty());
    if (i) CHECK(seen[i].evaluations > seen[i - 1].evaluations);
  }
  CHECK(seen.back().best_score == r.best().value());
  CHECK(best.back() == evit::to_string<space>(r.best().subnet));
}

TEST_CASE("evolution: an infeasible constraint is an explicit result, never a hang",
          "[search][evolution][infeasible]") {
  const ev::macs_model<> macs;
  // Monotone: decided up front from the min and max subnets.
  const auto low = evit::evolutionary_search<space>(problem().value_fn(),
                                                    evit::cost::at_most(macs, 1e6, "MACs"));
  CHECK(low.status == evit::search_status::infeasible);
  CHECK(low.evaluations == 0);
  CHECK_THAT(low.message, Catch::Matchers::Contains("smallest subnet already costs"));
  CHECK_THROWS_AS(low.best(), evit::infeasible);
  const auto high = evit::evolutionary_search<space>(problem().value_fn(),
                                                     evit::cost::at_least(macs, 1e12, "MACs"));
  CHECK_THAT(high.message, Catch::Matchers::Contains("largest subnet costs only"));
  // Not monotone, and no subnet in the window: bounded draws with repair, then a message.
  auto parity = [](const evit::arch& a) { return static_cast<double>(a.resolution() % 7); };
  const auto none = evit::evolutionary_search<space>(
      problem().value_fn(), evit::cost::within(parity, 6.5, 6.6, "parity"), small(), 1);
  CHECK(none.status == evit::search_status::infeasible);
  CHECK_THAT(none.message, Catch::Matchers::Contains("was found in 480 random draws"));
  // A satisfiable but hard window (one cost unit) still works, by repair.
  const auto narrow = evit::evolutionary_search<space>(
      problem().value_fn(), evit::cost::within(problem().cost_fn(), 200, 200), small(), 1);
  REQUIRE(narrow.ok());
  CHECK(narrow.best().costs[0] == 200);
  CHECK(narrow.counters.repaired > 0);
}

TEST_CASE("evolution: without repair, children that break the constraint are rejected",
          "[search][evolution]") {
  const auto r =
      evit::evolutionary_search<space>(problem().value_fn(), window(), small().repair(false), 5);
  REQUIRE(r.ok());
  CHECK(r.counters.repairs == 0);
  CHECK(r.counters.rejected > 0);
  for (const auto& e : r.ranked) CHECK(e.feasible());
}

TEST_CASE("evolution: minimise an objective, several constraints", "[search][evolution]") {
  const ev::macs_model<> macs;
  // The smallest MACs with synthetic cost >= 200 and MACs <= 900 M.
  const auto con = evit::cost::all_of(evit::cost::at_least(problem().cost_fn(), 200, "cost"),
                                      evit::cost::at_most(macs, 900e6, "MACs"));
  const auto r = evit::evolutionary_search<space>(evit::minimize(macs), con, small(), 6);
  REQUIRE(r.ok());
  CHECK(r.best().costs.size() == 2);
  for (const auto& e : r.ranked) {
    CHECK(e.costs[0] >= 200);
    CHECK(e.costs[1] <= 900e6);
  }
  CHECK(r.ranked.front().values[0] <= r.ranked.back().values[0]);
}

namespace {
// An objective that must not run concurrently (as measured latency).
struct sequential_objective {
  static constexpr bool sequential = true;
  std::thread::id* owner;
  std::atomic<int>* wrong;
  double operator()(const evit::arch& a) const {
    if (std::this_thread::get_id() != *owner) ++*wrong;
    return problem().value(a);
  }
};
}  // namespace

TEST_CASE("evolution: sequential objectives run on the search's own thread",
          "[search][evolution]") {
  std::thread::id me = std::this_thread::get_id();
  std::atomic<int> wrong{0};
  evit::thread_pool pool(2);
  const auto r = evit::evolutionary_search<space>(sequential_objective{&me, &wrong}, window(),
                                                  small(), 1, pool);
  REQUIRE(r.ok());
  CHECK(wrong.load() == 0);
  const auto plain = evit::evolutionary_search<space>(problem().value_fn(), window(), small(), 1);
  require_same(r, plain);
}

TEST_CASE("evolution: a monotone constraint stays monotone through any_cost",
          "[search][evolution][any_cost]") {
  // Monotone behind the type erasure: infeasibility still decided up front, with no evaluation.
  const evit::cost::any_cost macs = ev::macs_model<>{};
  CHECK(evit::cost::traits_of(macs).monotone);
  CHECK(evit::cost::traits_of(macs).space == &space::descriptor());
  const auto low = evit::evolutionary_search<space>(problem().value_fn(),
                                                    evit::cost::at_most(macs, 1e6, "MACs"));
  CHECK(low.status == evit::search_status::infeasible);
  CHECK(low.evaluations == 0);
  CHECK_THAT(low.message, Catch::Matchers::Contains("smallest subnet already costs"));
  // Behind a std::function the claim is gone: the search can only draw and give up.
  const std::function<double(const evit::arch&)> f = ev::macs_model<>{};
  CHECK(!evit::cost::traits_of(f).monotone);
  const auto blind = evit::evolutionary_search<space>(
      problem().value_fn(), evit::cost::at_most(f, 1e6, "MACs"),
      small().population(4).parents(2).mutations(2).crossovers(2), 1);
  CHECK(blind.status == evit::search_status::infeasible);
  CHECK_THAT(blind.message, Catch::Matchers::Contains("was found in 40 random draws"));
  // A feasible search: the same result as with the model itself (the same repair moves).
  const auto con = [](auto m) { return evit::cost::within(m, 300e6, 320e6, "MACs"); };
  const evit::cost::any_cost cost = problem().cost_fn();
  require_same(
      evit::evolutionary_search<space>(problem().value_fn(), con(ev::macs_model<>{}), small(), 2),
      evit::evolutionary_search<space>(problem().value_fn(), con(macs), small(), 2));
  require_same(evit::evolutionary_search<space>(problem().value_fn(),
                                                evit::cost::within(cost, 120, 140), small(), 3),
               evit::evolutionary_search<space>(problem().value_fn(), window(), small(), 3));
}

TEST_CASE("evolution: any_cost keeps sequential objectives on the search's own thread",
          "[search][evolution][any_cost]") {
  std::thread::id me = std::this_thread::get_id();
  std::atomic<int> wrong{0};
  evit::thread_pool pool(2);
  const evit::cost::any_cost objective = sequential_objective{&me, &wrong};
  CHECK(evit::cost::traits_of(objective).sequential);
  const auto r = evit::evolutionary_search<space>(objective, window(), small(), 1, pool);
  REQUIRE(r.ok());
  CHECK(wrong.load() == 0);
  require_same(r, evit::evolutionary_search<space>(problem().value_fn(), window(), small(), 1));
}

TEST_CASE("searches: a type-erased cost model of another space is refused at run time",
          "[search][any_cost]") {
  // Declared (macs_model<> is of the official space), it would not compile (tests/fail).
  const evit::cost::any_cost official_macs = ev::macs_model<>{};
  using mini = ev::mini_space;
  CHECK_THROWS_MATCHES(
      evit::evolutionary_search<mini>(official_macs, evit::cost::unconstrained(), small(), 1),
      evit::invalid_argument,
      Catch::Matchers::Message("search over space \"elasticvit-mini\": the objective's cost "
                               "model is of another space (\"elasticvit-official\")"));
  CHECK_THROWS_MATCHES(
      evit::random_search<mini>([](const evit::arch&) { return 1.0; },
                                evit::cost::at_most(official_macs, 1e9)),
      evit::invalid_argument,
      Catch::Matchers::Message("search over space \"elasticvit-mini\": the constraint's cost "
                               "model is of another space (\"elasticvit-official\")"));
  // Two erased models of different spaces cannot even be combined.
  const evit::cost::any_cost mini_macs = ev::macs_model<mini>{};
  CHECK_THROWS_AS(evit::cost::sum(official_macs, mini_macs), evit::invalid_argument);
  CHECK_THROWS_AS(evit::cost::all_of(evit::cost::at_most(official_macs, 1.0),
                                     evit::cost::at_most(mini_macs, 1.0)),
                  evit::invalid_argument);
  // Of the right space, or of none, they run.
  CHECK(evit::random_search<mini>(mini_macs, evit::cost::unconstrained(),
                                  evit::random_options().evaluations(20), 1)
            .ok());
}

TEST_CASE("random_search: distinct feasible subnets, best first, same for any thread count",
          "[search][random]") {
  const auto r = evit::evolutionary_search<space>(problem().value_fn(), window(), small(), 1);
  const auto a = evit::random_search<space>(problem().value_fn(), window(),
                                            evit::random_options().evaluations(300), 8);
  evit::thread_pool pool(2);
  const auto b = evit::random_search<space>(problem().value_fn(), window(),
                                            evit::random_options().evaluations(300), 8, pool);
  require_same(a, b);
  CHECK(a.evaluations == 300);
  CHECK(a.ranked.size() == 100);
  std::set<std::uint64_t> hashes;
  for (std::size_t i = 0; i < a.ranked.size(); ++i) {
    CHECK(a.ranked[i].feasible());
    hashes.insert(a.ranked[i].subnet.hash());
    if (i) CHECK(a.ranked[i - 1].values[0] >= a.ranked[i].values[0]);
  }
  CHECK(hashes.size() == a.ranked.size());
  (void)r;
}
