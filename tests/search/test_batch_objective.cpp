// SPDX-License-Identifier: MIT
// Batch objectives (evit::is_batch_cost_model_v, search/objective.hpp): a search hands each
// generation's new feasible subnets to evaluate_batch once, in candidate order, and the result is
// the one of the same objective called subnet by subnet (how evit/mpi/ plugs in).
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "evit/core/executor.hpp"
#include "evit/cost/constraint.hpp"
#include "evit/models/elasticvit/macs.hpp"
#include "evit/search/evolutionary.hpp"
#include "evit/search/nsga2.hpp"

#include "catch.hpp"

// A named namespace, test cases included: the search tests build as one unity translation unit.
namespace batch_objective_test {

namespace ev = evit::elasticvit;
using space = ev::mini_space;

double mmacs(const evit::arch& a) { return ev::macs<space>(a) / 1e6; }

// MMACs, per subnet or per batch; every batch is logged.
struct batch_mmacs {
  std::shared_ptr<std::vector<std::vector<evit::arch>>> log =
      std::make_shared<std::vector<std::vector<evit::arch>>>();
  std::size_t drop = 0;  // values left off the end of each batch (a broken model)
  double operator()(const evit::arch& a) const { return mmacs(a); }
  std::vector<double> evaluate_batch(const std::vector<evit::arch>& subnets) const {
    log->push_back(subnets);
    std::vector<double> v;
    for (const evit::arch& a : subnets) v.push_back(mmacs(a));
    v.resize(v.size() - std::min(drop, v.size()));
    return v;
  }
};

struct mmacs_model {
  double operator()(const evit::arch& a) const { return mmacs(a); }
};

static_assert(evit::is_batch_cost_model_v<batch_mmacs>, "evaluate_batch is detected");
static_assert(!evit::is_batch_cost_model_v<mmacs_model>, "a plain cost model is not batch");
static_assert(!evit::is_batch_cost_model_v<evit::objective<mmacs_model>>,
              "an objective has evaluate_batch only when its model has");
static_assert(evit::objective<batch_mmacs>::batch && !evit::objective<mmacs_model>::batch,
              "objective<F>::batch follows F");

evit::evolution_options small() {
  return evit::presets::elasticvit_search()
      .population(16)
      .parents(4)
      .mutations(6)
      .crossovers(6)
      .iterations(4);
}

TEST_CASE("batch objective: one call per generation, in candidate order, the per-subnet result",
          "[search][evolution][batch]") {
  const auto constraint = evit::cost::at_most(mmacs_model{}, 150.0);
  batch_mmacs batched;
  auto got = evit::make_evolution<space>(batched, constraint, small(), 9);
  auto want = evit::make_evolution<space>(mmacs_model{}, constraint, small(), 9);
  got.run(evit::thread_pool(2));
  want.run();
  REQUIRE(got.records().size() == want.records().size());
  for (std::size_t i = 0; i < got.records().size(); ++i) {
    CAPTURE(i);
    CHECK(got.records()[i].subnet == want.records()[i].subnet);
    CHECK(got.records()[i].values == want.records()[i].values);
  }
  CHECK(got.parents() == want.parents());
  // One batch per generation: the initial population and each iteration.
  REQUIRE(batched.log->size() == 5);
  // The batches, concatenated, are the feasible records in order.
  std::vector<evit::arch> seen;
  for (const auto& b : *batched.log) seen.insert(seen.end(), b.begin(), b.end());
  std::vector<evit::arch> feasible;
  for (const auto& r : got.records())
    if (r.feasible()) feasible.push_back(r.subnet);
  CHECK(seen == feasible);
  CHECK(batched.log->front().size() == 16);
}

TEST_CASE("batch objective: next to a per-subnet one in NSGA-II, the same front",
          "[search][nsga2][batch]") {
  const auto opts = evit::nsga2_options().population(12).generations(3);
  batch_mmacs batched;
  const auto params = [](const evit::arch& a) { return ev::params<space>(a) / 1e6; };
  const auto got =
      evit::nsga2_search<space>(evit::objectives(evit::maximize(batched), evit::minimize(params)),
                                evit::cost::unconstrained(), opts, 3);
  const auto want = evit::nsga2_search<space>(
      evit::objectives(evit::maximize(mmacs_model{}), evit::minimize(params)),
      evit::cost::unconstrained(), opts, 3);
  REQUIRE(got.ranked.size() == want.ranked.size());
  for (std::size_t i = 0; i < got.ranked.size(); ++i) {
    CAPTURE(i);
    CHECK(got.ranked[i].subnet == want.ranked[i].subnet);
    CHECK(got.ranked[i].values == want.ranked[i].values);
  }
  CHECK(batched.log->size() == 4);
}

TEST_CASE("batch objective: a batch of the wrong size stops the search with the sizes",
          "[search][evolution][batch]") {
  batch_mmacs broken;
  broken.drop = 1;
  auto evo = evit::make_evolution<space>(broken, evit::cost::unconstrained(), small(), 1);
  try {
    evo.step();
    FAIL("no error");
  } catch (const evit::error& e) {
    CHECK(std::string(e.what()) ==
          "search: objective 0's evaluate_batch returned 15 values for 16 subnets");
  }
}

}  // namespace batch_objective_test
