// SPDX-License-Identifier: MIT
#include "evit/cost/cost_model.hpp"
#include "evit/models/elasticvit/macs.hpp"
#include "evit/models/elasticvit/released.hpp"

#include "catch.hpp"

namespace ev = evit::elasticvit;

TEST_CASE("cost model: lambdas and evit's counts are called the same way", "[cost]") {
  const evit::arch& t1 = ev::released("elastic_T1");
  auto mmacs = evit::make_cost_model<true>([](const evit::arch& a) { return ev::macs(a) / 1e6; });
  CHECK(std::abs(mmacs(t1) - 62.91512) < 1e-9);
  CHECK(decltype(mmacs)::monotone);
  ev::macs_model<> model;
  CHECK(model(t1) == ev::macs(t1));
  ev::params_model<ev::official_space> p;
  CHECK(p(t1) == ev::params(t1));
}
