// SPDX-License-Identifier: MIT
// search_autoformer: a constrained evolutionary search over the AutoFormer-T space (AutoFormer's
// preset) for the subnet with the most official FLOPs (a proxy objective; not accuracy) whose
// latency on this machine, with evit's AutoFormer forward, fits a budget. By default the search
// screens with this machine's block table (profiled once, calibrated on measured subnets, cached
// in a file) and measures its shortlist whole, keeping the best subnet whose measurement fits
// (--latency measured: every candidate is measured whole). The budget defaults to the middle of
// the smallest and largest subnets' measured latencies (--budget-at: another point between them).
//   search_autoformer [--weights supernet-T.safetensors] [--budget-ms 60 | --budget-at 0.5]
//                     [--latency table]
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include <evit/evit.hpp>

#include "cli.hpp"

namespace af = evit::autoformer;

int main(int argc, char** argv) {
  std::string weights, latency_mode = "table", table_path;
  double budget = 0, budget_at = 0.5;
  int population = 16, iterations = 4, threads = 1, calibrate = 24, shortlist = 3;
  long long seed = 7;
  CLI::App app(
      "Evolutionary search over the AutoFormer-T space under a latency budget on this machine "
      "(screened with this machine's block table, confirmed by measuring whole forwards); "
      "objective: the official FLOPs (a proxy, not accuracy).",
      "search_autoformer");
  app.option_defaults()->always_capture_default();
  app.add_option("--weights", weights,
                 "AutoFormer-T supernet (safetensors, official names, 1000 classes); default: a "
                 "random supernet");
  app.add_option("--budget-ms", budget,
                 "latency budget in ms (default: --budget-at between the smallest and largest "
                 "subnet)");
  app.add_option("--budget-at", budget_at,
                 "without --budget-ms, the budget's place between the smallest (0) and the largest "
                 "(1) subnet's measured latency")
      ->check(example::fraction());
  app.add_option("--latency", latency_mode,
                 "table: screen with this machine's block table, measure the shortlist; "
                 "measured: measure every candidate whole")
      ->check(CLI::IsMember({"table", "measured"}));
  app.add_option("--table", table_path,
                 "this machine's block table, reused when keyed for this machine (default: "
                 "this_machine_af_lut-<isa>-<threads>t.json in the current folder)");
  app.add_option("--calibrate", calibrate,
                 "random subnets measured to calibrate the table (once; 0: the plain sum)")
      ->check(example::integer_in(0, 10000));
  app.add_option("--shortlist", shortlist, "table: subnets measured to confirm the winner")
      ->check(example::integer_in(1, 100));
  app.add_option("--population", population, "population (AutoFormer: 50)")
      ->check(example::integer_in(4, 1000));
  app.add_option("--iterations", iterations, "generations (AutoFormer: 20)")
      ->check(example::integer_in(1, 1000));
  app.add_option("--threads", threads, "threads of each forward")
      ->check(example::integer_in(1, 256));
  app.add_option("--seed", seed, "search seed")->check(example::integer_in(0, 1LL << 40));
  example::add_isa_option(app);
  return example::run(app, argc, argv, 2, [&] {
    using S = af::tiny_space;
    const auto net = weights.empty() ? af::supernet<S>::random(1) : af::supernet<S>::load(weights);
    const std::string isa = evit::simd::isa_name(evit::simd::active_isa());
    evit::cost::measured_latency measured(
        net, evit::cost::timing().threads(threads).warmup(1).repeats(3, 15));
    const double lo = measured(S::min_arch()), hi = measured(S::max_arch());
    if (budget <= 0) budget = lo + budget_at * (hi - lo);
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
    const auto print_best = [&](const evit::arch& best, double predicted,
                                unsigned long long evaluations, double seconds) {
      std::printf("best:     %s\n", evit::to_string<S>(best).c_str());
      std::printf(
          "          %.2f MFLOPs (official get_complexity), %.3f M params (official), %.2f ms "
          "measured",
          flops(best) / 1e6, af::official_params(d, best) / 1e6, measured(best));
      if (predicted > 0) std::printf(" (table: %.2f)", predicted);
      std::printf(" within %.2f; %llu subnets evaluated, %zu measured, search %.1f s\n", budget,
                  evaluations, measured.size(), seconds);
    };
    if (latency_mode == "measured") {
      const evit::search_result r =
          evit::evolutionary_search<S>(flops, evit::cost::at_most(measured, budget, "latency ms"),
                                       opts, static_cast<std::uint64_t>(seed));
      if (!r.ok()) {
        std::printf("no subnet within %.2f ms: %s\n", budget, r.message.c_str());
        return 1;
      }
      print_best(r.best().subnet, 0, static_cast<unsigned long long>(r.evaluations), r.seconds);
      return 0;
    }
    // This machine's block table: every block of the space (18 for T) profiled once and cached,
    // calibrated on measured random subnets (a quarter held out), then a cost model.
    if (table_path.empty())
      table_path = "this_machine_af_lut-" + isa + "-" + std::to_string(threads) + "t.json";
    const auto profiler = evit::cost::cached_profiler(
        net, table_path, evit::cost::autoformer_profiler<S>::default_timing().threads(threads),
        true);
    evit::cost::ensure_calibrated(*profiler, measured, calibrate, table_path, true);
    const evit::cost::table_calibration& c = profiler->table().calibration();
    std::printf("table:    %zu blocks (%s)", profiler->table().size(), table_path.c_str());
    if (c.fitted)
      std::printf(
          "; calibrated on %d subnets, held-out %d: median |error| %.1f%% (plain sum "
          "%.1f%%), p90 %.1f%% (%.1f%%)",
          c.fit_n, c.heldout_n, 100 * c.heldout_median, 100 * c.raw_median, 100 * c.heldout_p90,
          100 * c.raw_p90);
    std::printf("\n");
    const evit::cost::local_latency table(profiler);
    const evit::budget_search s = evit::search_within_budget(
        [&](double b) {
          return evit::evolutionary_search<S>(flops, evit::cost::at_most(table, b, "latency ms"),
                                              opts, static_cast<std::uint64_t>(seed));
        },
        budget, shortlist, [&](const evit::arch& a) { return measured.measure(a); },
        evit::budget_rule::median, 1,
        [](const evit::confirmation& f) {
          std::printf("confirm:  %s; searching again under a tightened budget\n",
                      f.message.c_str());
        });
    if (!s.confirmed.ok()) {
      std::printf("no subnet within %.2f ms: %s\n", budget, s.confirmed.message.c_str());
      return 1;
    }
    const evit::shortlist_entry& w = s.confirmed.winner();
    std::printf("confirm:  %zu shortlisted subnets measured, #%d is the best within the budget\n",
                s.confirmed.shortlist.size(), s.confirmed.chosen + 1);
    print_best(w.subnet, w.predicted_ms, static_cast<unsigned long long>(s.result.evaluations),
               s.result.seconds + s.extra_seconds);
    return 0;
  });
}
