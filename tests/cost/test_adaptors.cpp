// SPDX-License-Identifier: MIT
#include <atomic>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "evit/core/executor.hpp"
#include "evit/core/rng.hpp"
#include "evit/cost/adaptors.hpp"
#include "evit/cost/constraint.hpp"
#include "evit/cost/latency_table.hpp"
#include "evit/models/elasticvit/macs.hpp"
#include "evit/models/elasticvit/released.hpp"

#include "catch.hpp"

namespace ev = evit::elasticvit;
using space = ev::official_space;

TEST_CASE("cost::cached: computes once per subnet, copies share, thread-safe", "[cost][adaptors]") {
  std::atomic<int> calls{0};
  auto slow = [&calls](const evit::arch& a) {
    ++calls;
    return ev::macs(a);
  };
  evit::cost::cached<decltype(slow)> c(slow);
  const evit::arch& t1 = ev::released("elastic_T1");
  CHECK(c(t1) == ev::macs(t1));
  CHECK(c(t1) == ev::macs(t1));
  CHECK(calls.load() == 1);
  CHECK(c.hits() == 1);
  CHECK(c.misses() == 1);
  auto copy = c;
  (void)copy(t1);
  CHECK(calls.load() == 1);
  CHECK(c.hits() == 2);
  // Many threads, few distinct subnets.
  std::vector<evit::arch> archs;
  evit::rng g(1);
  for (int i = 0; i < 20; ++i) archs.push_back(space::sample(g));
  evit::thread_pool pool(4);
  std::vector<double> out(400);
  pool.parallel_for(400, [&](evit::Index i, int) {
    out[static_cast<std::size_t>(i)] = copy(archs[static_cast<std::size_t>(i % 20)]);
  });
  for (int i = 0; i < 400; ++i)
    REQUIRE(out[static_cast<std::size_t>(i)] == ev::macs(archs[static_cast<std::size_t>(i % 20)]));
  CHECK(c.size() == 21);
  CHECK(calls.load() <= 21 + 4);  // a race may compute a value twice, never store it twice
  CHECK(evit::cost::cached<ev::macs_model<>>::monotone);
  CHECK(!decltype(c)::monotone);
  c.clear();
  CHECK(c.size() == 0);
}

TEST_CASE("cost::weighted_sum, sum: values and monotonicity", "[cost][adaptors]") {
  const ev::macs_model<> macs;
  const ev::params_model<> params;
  const evit::arch& m = ev::released("elastic_M");
  const auto s = evit::cost::sum(macs, params);
  CHECK(s(m) == ev::macs(m) + ev::params(m));
  CHECK(decltype(s)::monotone);
  const evit::cost::weighted_sum<ev::macs_model<>, ev::params_model<>> w({1e-6, 2.0}, macs, params);
  CHECK(w(m) == 1e-6 * ev::macs(m) + 2.0 * ev::params(m));
  CHECK_THROWS_AS(
      (evit::cost::weighted_sum<ev::macs_model<>, ev::params_model<>>({1, -1}, macs, params)),
      evit::invalid_argument);
  auto lambda = [](const evit::arch& a) { return double(a.resolution()); };
  const evit::cost::weighted_sum<ev::macs_model<>, decltype(lambda)> mixed({1, -1}, macs, lambda);
  CHECK(!decltype(mixed)::monotone);
  CHECK(mixed(m) == ev::macs(m) - 224);
}

TEST_CASE("cost::fallback: the secondary model when the primary throws or gives NaN",
          "[cost][adaptors]") {
  auto primary = [](const evit::arch& a) {
    if (a.resolution() == 128) throw evit::error("no table entry");
    if (a.resolution() == 160) return std::numeric_limits<double>::quiet_NaN();
    return 1.0;
  };
  auto secondary = [](const evit::arch&) { return 2.0; };
  evit::cost::fallback f(primary, secondary);
  CHECK(f(ev::released("elastic_T1")) == 2.0);  // r128
  CHECK(f(ev::released("elastic_T2")) == 2.0);  // r160
  CHECK(f(ev::released("elastic_M")) == 1.0);
  CHECK(f.fallbacks() == 2);
  // Other exceptions are not swallowed.
  auto broken = [](const evit::arch&) -> double { throw std::logic_error("bug"); };
  evit::cost::fallback g(broken, secondary);
  CHECK_THROWS_AS(g(ev::released("elastic_M")), std::logic_error);
}

TEST_CASE("cost constraints: bounds, violations, descriptions", "[cost][constraint]") {
  const ev::macs_model<> macs;
  const auto up = evit::cost::at_most(macs, 300e6, "MACs");
  CHECK(decltype(up)::monotone);
  CHECK(up.describe() == "MACs <= 3e+08");
  CHECK(up.satisfied(300e6));
  CHECK(!up.satisfied(301e6));
  CHECK(up.violation(250e6) == 0);
  CHECK_THAT(up.violation(330e6), Catch::Matchers::WithinRel(0.1, 1e-12));
  const auto lo = evit::cost::at_least(macs, 100e6, "MACs");
  CHECK(lo.describe() == "MACs >= 1e+08");
  CHECK_THAT(lo.violation(50e6), Catch::Matchers::WithinRel(0.5, 1e-12));
  const auto win = evit::cost::within(macs, 300e6, 320e6, "MACs");
  CHECK(win.describe() == "3e+08 <= MACs <= 3.2e+08");
  CHECK_THAT(win.violation(330e6),
             Catch::Matchers::WithinRel(0.5, 1e-12));  // 10e6 over a 20e6 window
  CHECK(std::isinf(win.violation(std::numeric_limits<double>::quiet_NaN())));
  CHECK_THROWS_AS(evit::cost::within(macs, 2, 1), evit::invalid_argument);
  const auto none = evit::cost::unconstrained();
  CHECK(none.describe() == "no constraint");
  CHECK(none.violation(none.cost(space::max_arch())) == 0);
  const auto both = evit::cost::all_of(up, lo);
  double costs[2];
  both.evaluate(ev::released("elastic_M"), costs);
  CHECK(costs[0] == ev::macs(ev::released("elastic_M")));
  CHECK(both.violation(costs) > 0);  // 415.6 M > 300 M
  CHECK(both.describe(1) == "MACs >= 1e+08");
  CHECK(both.monotone_at(0));
  CHECK(evit::cost::is_constraint_v<decltype(both)>);
  CHECK(!evit::cost::is_constraint_v<ev::macs_model<>>);
}

namespace {
struct timed {  // declares sequential, as measured latency does
  static constexpr bool sequential = true;
  double operator()(const evit::arch&) const { return 1.0; }
};
}  // namespace

TEST_CASE("cost::any_cost: one type for any model, its traits kept", "[cost][adaptors][any_cost]") {
  using mini = ev::mini_space;
  const evit::arch& m = ev::released("elastic_M");
  // Monotone, of the official space: kept as values (std::function keeps neither).
  const evit::cost::any_cost macs = ev::macs_model<>{};
  CHECK(macs(m) == ev::macs(m));
  CHECK(macs.traits().monotone);
  CHECK(!macs.traits().sequential);
  CHECK(macs.traits().space == &space::descriptor());
  // A plain lambda declares nothing.
  const evit::cost::any_cost res = [](const evit::arch& a) { return double(a.resolution()); };
  CHECK(res(m) == 224);
  CHECK(!res.traits().monotone);
  CHECK(res.traits().space == nullptr);
  // A sequential model (measured latency, a profiled table) stays sequential.
  CHECK(evit::cost::traits_of(evit::cost::any_cost(timed{})).sequential);
  // Through the adaptors: cached, sums, constraints read the erased model's traits.
  CHECK(evit::cost::traits_of(evit::cost::cached(macs)).monotone);
  CHECK(evit::cost::traits_of(evit::cost::cached(macs)).space == &space::descriptor());
  CHECK(evit::cost::traits_of(evit::cost::sum(macs, ev::params_model<>{})).monotone);
  CHECK(!evit::cost::traits_of(evit::cost::sum(macs, res)).monotone);
  CHECK(!evit::cost::traits_of(evit::cost::weighted_sum<evit::cost::any_cost, ev::params_model<>>(
                                   {-1.0, 1.0}, macs, ev::params_model<>{}))
             .monotone);  // a negative weight
  CHECK(evit::cost::at_most(macs, 1e9).monotone_at(0));
  CHECK(evit::cost::at_most(macs, 1e9).is_monotone());
  CHECK(!evit::cost::all_of(evit::cost::at_most(macs, 1e9)).is_monotone());
  CHECK(!evit::cost::traits_of(evit::cost::fallback(macs, macs)).monotone);
  // An any_cost around an adaptor around an any_cost: the same model, the same traits.
  const evit::cost::any_cost again = evit::cost::cached(macs);
  CHECK(again.traits().monotone);
  CHECK(again(m) == ev::macs(m));
  // Empty: an error when called.
  const evit::cost::any_cost empty;
  CHECK(!empty);
  CHECK_THROWS_AS(empty(m), evit::invalid_argument);
  // Of another space.
  const evit::cost::any_cost mini_macs = ev::macs_model<mini>{};
  CHECK(mini_macs.traits().space == &mini::descriptor());
  CHECK_THROWS_WITH(evit::cost::fallback(macs, mini_macs),
                    "evit::cost::fallback: its cost models are of different spaces "
                    "(\"elasticvit-official\" and \"elasticvit-mini\")");
}

TEST_CASE("cost models declare their space, adaptors keep it", "[cost][adaptors]") {
  using mini = ev::mini_space;
  STATIC_REQUIRE(std::is_same_v<evit::cost_space_t<ev::macs_model<>>, space>);
  STATIC_REQUIRE(std::is_same_v<evit::cost_space_t<ev::params_model<mini>>, mini>);
  STATIC_REQUIRE(std::is_same_v<evit::cost_space_t<evit::cost::table_latency<>>, space>);
  STATIC_REQUIRE(
      std::is_same_v<evit::cost_space_t<evit::cost::cached<ev::macs_model<mini>>>, mini>);
  auto lambda = [](const evit::arch&) { return 1.0; };
  STATIC_REQUIRE(std::is_void_v<evit::cost_space_t<decltype(lambda)>>);
  STATIC_REQUIRE(
      std::is_same_v<evit::cost_space_t<decltype(evit::cost::sum(lambda, ev::macs_model<mini>{}))>,
                     mini>);
  STATIC_REQUIRE(
      std::is_same_v<evit::cost_space_t<decltype(evit::cost::at_most(ev::macs_model<>{}, 1.0))>,
                     space>);
  STATIC_REQUIRE(evit::cost_space_matches_v<mini, decltype(lambda)>);
  STATIC_REQUIRE(evit::cost_space_matches_v<mini, ev::macs_model<mini>>);
  STATIC_REQUIRE(!evit::cost_space_matches_v<mini, ev::macs_model<>>);
  STATIC_REQUIRE(!evit::cost_spaces_agree_v<ev::macs_model<>, ev::macs_model<mini>>);
  STATIC_REQUIRE(std::is_void_v<evit::cost_space_t<evit::cost::any_cost>>);  // run time only
  // Traits of declared types, as values.
  CHECK(evit::cost::traits_of(ev::params_model<mini>{}).space == &mini::descriptor());
  CHECK(evit::cost::traits_of(ev::params_model<mini>{}).monotone);
  CHECK(evit::cost::traits_of(lambda).space == nullptr);
}
