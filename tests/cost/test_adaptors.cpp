// SPDX-License-Identifier: MIT
#include <atomic>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "evit/core/executor.hpp"
#include "evit/core/rng.hpp"
#include "evit/cost/adaptors.hpp"
#include "evit/cost/constraint.hpp"
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
