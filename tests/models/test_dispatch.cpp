// SPDX-License-Identifier: MIT
// The forward pass on every ISA this CPU runs, switched in one process through the dispatcher:
// the released elastic_L3 of a random official supernet gives the same logits on each, within
// 1e-5 (float sums in another order; a wrong kernel is off by the logits' size).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "evit/core/rng.hpp"
#include "evit/models/elasticvit/released.hpp"
#include "evit/models/elasticvit/supernet.hpp"
#include "evit/simd/isa.hpp"

#include "catch.hpp"
#include "skip.hpp"

namespace ev = evit::elasticvit;
namespace simd = evit::simd;

TEST_CASE("dispatch: elastic_L3 gives the same logits on every ISA this CPU runs",
          "[models][dispatch]") {
  const auto net = ev::supernet<ev::official_space>::random(5);
  const evit::arch& a = ev::released("elastic_L3");
  const int r = a.resolution(), batch = 2;
  evit::rng g(9);
  std::vector<float> images(static_cast<std::size_t>(batch * 3 * r * r));
  for (auto& x : images) x = static_cast<float>(2 * evit::uniform_real(g) - 1);
  const simd::isa before = simd::active_isa();
  std::vector<std::pair<simd::isa, std::vector<float>>> runs;
  std::string not_run;
  for (simd::isa i : simd::dispatch_isas) {
    const std::string lacks = simd::cpu_lacks(i);
    if (!lacks.empty()) {
      not_run += std::string(" ") + simd::isa_name(i) + " (CPU lacks " + lacks + ")";
      continue;
    }
    simd::set_isa(i);
    ev::forward_workspace ws;
    runs.emplace_back(i, net.forward(a, images, batch, ws));
  }
  simd::set_isa(before);
  if (runs.size() < 2) EVIT_SKIP_TEST("one ISA only on this CPU; not run:" << not_run);
  if (!not_run.empty()) WARN("not run:" << not_run);
  const std::vector<float>& first = runs.front().second;
  double scale = 0;
  for (float v : first) scale = std::max(scale, double(std::fabs(v)));
  for (std::size_t k = 1; k < runs.size(); ++k) {
    double worst = 0;
    for (std::size_t j = 0; j < first.size(); ++j)
      worst = std::max(worst, std::fabs(double(runs[k].second[j]) - double(first[j])));
    INFO(simd::isa_name(runs[k].first)
         << " vs " << simd::isa_name(runs.front().first) << ": max |difference| " << worst
         << ", max |logit| " << scale);
    CHECK(worst <= 1e-5);
    CHECK(scale > 1e-3);  // logits that could show a difference
  }
}
