// SPDX-License-Identifier: MIT
// The rest of evit on AutoFormer: sampling its spaces, and a constrained evolutionary search over
// the T space under a latency budget measured with AutoFormer's own forward on this machine.
#include "evit/cost/autoformer_latency.hpp"
#include "evit/cost/constraint.hpp"
#include "evit/models/autoformer/cost.hpp"
#include "evit/models/autoformer/supernet.hpp"
#include "evit/search/evolutionary.hpp"

#include "catch.hpp"

TEST_CASE("autoformer: evolutionary search over the T space under a measured-latency budget",
          "[models][af][search]") {
  namespace af = evit::autoformer;
  using S = af::tiny_space;
  const auto net = af::supernet<S>::random(4);
  // The median of 3 runs: with the mean of 2, one slow run on a loaded CI machine made the smallest
  // subnet measure slower than the largest.
  evit::cost::measured_latency latency(net, evit::cost::timing().warmup(1).repeats(3));
  const double lo = latency(S::min_arch()), hi = latency(S::max_arch());
  REQUIRE(lo < hi);
  const double budget = lo + 0.5 * (hi - lo);
  // Objective: a proxy, the official FLOPs (the most capacity the budget buys).
  auto flops = [](const evit::arch& a) { return af::official_flops(S::descriptor(), a); };
  const auto opts = evit::presets::autoformer_search()
                        .population(6)
                        .parents(3)
                        .mutations(3)
                        .crossovers(3)
                        .iterations(1);
  const evit::search_result r =
      evit::evolutionary_search<S>(flops, evit::cost::at_most(latency, budget), opts, 7);
  REQUIRE(r.ok());
  const evit::arch& best = r.best().subnet;
  CHECK_NOTHROW(evit::validate(S::descriptor(), best));
  CHECK(latency(best) <= budget);
  CHECK(flops(best) > flops(S::min_arch()));
  CHECK(latency.size() >= 6);
}
