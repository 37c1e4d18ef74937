// SPDX-License-Identifier: MIT
// search_autoformer: a constrained evolutionary search over the AutoFormer-T space (AutoFormer's
// preset) for the subnet with the most official FLOPs (a proxy objective; not accuracy) whose
// latency, measured on this machine with evit's AutoFormer forward, fits a budget. The budget
// defaults to the middle of the smallest and largest subnets' measured latencies.
//   search_autoformer [--weights supernet-T.safetensors] [--budget-ms 60] [--iterations 4]
#include <algorithm>
#include <cstdio>
#include <string>

#include <evit/evit.hpp>

#include "cli.hpp"

namespace af = evit::autoformer;

int main(int argc, char** argv) {
  std::string weights;
  double budget = 0;
  int population = 16, iterations = 4, threads = 1;
  long long seed = 7;
  CLI::App app(
      "Evolutionary search over the AutoFormer-T space under a latency budget measured on this "
      "machine; objective: the official FLOPs (a proxy, not accuracy).",
      "search_autoformer");
  app.option_defaults()->always_capture_default();
  app.add_option("--weights", weights,
                 "AutoFormer-T supernet (safetensors, official names, 1000 classes); default: a "
                 "random supernet");
  app.add_option("--budget-ms", budget,
                 "latency budget in ms (default: midway between the smallest and largest subnet)");
  app.add_option("--population", population, "population (AutoFormer: 50)")
      ->check(example::integer_in(4, 1000));
  app.add_option("--iterations", iterations, "generations (AutoFormer: 20)")
      ->check(example::integer_in(1, 1000));
  app.add_option("--threads", threads, "threads of each measured forward")
      ->check(example::integer_in(1, 256));
  app.add_option("--seed", seed, "search seed")->check(example::integer_in(0, 1LL << 40));
  example::add_isa_option(app);
  return example::run(app, argc, argv, 2, [&] {
    using S = af::tiny_space;
    const auto net = weights.empty() ? af::supernet<S>::random(1) : af::supernet<S>::load(weights);
    evit::cost::measured_latency latency(
        net, evit::cost::timing().threads(threads).warmup(1).repeats(3, 15));
    const double lo = latency(S::min_arch()), hi = latency(S::max_arch());
    if (budget <= 0) budget = (lo + hi) / 2;
    std::printf("isa: %s\nmeasured: smallest subnet %.2f ms, largest %.2f ms; budget %.2f ms\n",
                evit::simd::isa_description(evit::simd::active_isa()).c_str(), lo, hi, budget);
    const auto& d = S::descriptor();
    auto flops = [&d](const evit::arch& a) { return af::official_flops(d, a); };
    const int parents = std::max(2, population / 5);
    const auto opts = evit::presets::autoformer_search()
                          .population(population)
                          .parents(parents)
                          .mutations(population / 2)
                          .crossovers(population / 2)
                          .iterations(iterations);
    const evit::search_result r =
        evit::evolutionary_search<S>(flops, evit::cost::at_most(latency, budget, "latency ms"),
                                     opts, static_cast<std::uint64_t>(seed));
    if (!r.ok()) {
      std::printf("no subnet within %.2f ms: %s\n", budget, r.message.c_str());
      return 1;
    }
    const evit::arch& best = r.best().subnet;
    std::printf("best:     %s\n", evit::to_string<S>(best).c_str());
    std::printf(
        "          %.2f MFLOPs (official get_complexity), %.3f M params (official), "
        "%.2f ms measured (budget %.2f); %llu subnets evaluated, %zu measured, in %.1f s\n",
        flops(best) / 1e6, af::official_params(d, best) / 1e6, latency(best), budget,
        static_cast<unsigned long long>(r.evaluations), latency.size(), r.seconds);
    return 0;
  });
}
