// SPDX-License-Identifier: MIT
// Question: how well does this machine's block latency table (cost/block_profiler.hpp, blocks
// timed as the forward runs them, calibrated by cost/calibration.hpp) predict whole subnets, and
// do the winners of a search under a budget, confirmed on a measured shortlist
// (search/confirm.hpp), meet their budgets? The goals: median |error| <= 5% and p90 <=
// 10% on 100 random subnets of the official space, one thread and two; every winner's measured
// median within its budget.
//
// Per thread count (1 and 2; --threads N for one): the table calibrated on --calibrate random
// subnets (default 32, other seeds than the test subnets), then N random subnets (--subnets N,
// default 100) predicted (plain sum and calibrated) against the median of whole measured
// forwards; then --budgets searches (default 3, geometric between the smallest and the largest
// subnet's prediction; MMACs as the objective, a short ElasticViT-preset search) whose shortlist
// (5) is measured, re-searching under a tightened budget when none fits, as search_subnet does:
// budget, the winner's prediction and measured median with its interval.
// Prints the CPU, ISA and the load average (a shared machine makes every figure noisier). A
// smoke run (ctest) uses the mini space, 3 subnets, 8 for calibration and one budget.
// Re-measure on a quiet machine with:  evit_bench_latency --benchmark_filter=NONE
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "evit/core/rng.hpp"
#include "evit/cost/block_profiler.hpp"
#include "evit/cost/calibration.hpp"
#include "evit/cost/constraint.hpp"
#include "evit/cost/latency_table.hpp"
#include "evit/cost/measured_latency.hpp"
#include "evit/cost/memory.hpp"
#include "evit/io/arch_text.hpp"
#include "evit/models/elasticvit/macs.hpp"
#include "evit/models/elasticvit/released.hpp"
#include "evit/models/elasticvit/supernet.hpp"
#include "evit/search/confirm.hpp"
#include "evit/search/evolutionary.hpp"
#include "evit/search/options.hpp"

#include "bench_common.hpp"

namespace ev = evit::elasticvit;

namespace {

bool smoke = false;
struct goals_options {
  int subnets = 100, calibrate = 32, budgets = 3, threads = 0;  // threads 0: 1 and 2
} g_opts;

std::string load_average() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a.empty() ? "unknown" : a + " " + b + " " + c;
}

template <class Space>
void goals(int threads, int n, int n_cal, int n_budgets) {
  const auto t_start = std::chrono::steady_clock::now();
  const auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  };
  const auto net = ev::supernet<Space>::random(1);
  auto shared = std::make_shared<evit::cost::block_profiler<Space>>(
      net, evit::cost::block_profiler<Space>::default_timing().threads(threads));
  evit::cost::block_profiler<Space>& prof = *shared;
  evit::cost::measured_latency<Space> whole(
      net, evit::cost::timing().threads(threads).repeats(9, 60).target(0.02));
  std::printf(
      "This machine's block table against measured whole subnets: %s space, %d thread%s, batch "
      "1, random weights; %s; cpu %s, isa %s; load average %s\n",
      Space::descriptor().name.c_str(), threads, threads == 1 ? "" : "s",
      prof.table().key().method.c_str(), evit::cost::cpu_model().c_str(),
      prof.table().key().isa.c_str(), load_average().c_str());
  const evit::cost::table_calibration c = evit::cost::calibrate(prof, whole, n_cal, 99);
  std::printf("  calibration on %d subnets (%d held out): scales", c.fit_n + c.heldout_n,
              c.heldout_n);
  for (int k = 0; k < evit::cost::table_calibration::kinds; ++k)
    std::printf(" %s %.3f", ev::block_kind_name(static_cast<ev::block_kind>(k)),
                c.scale[static_cast<std::size_t>(k)]);
  std::printf(
      ", constant %+.3f ms; held-out median |error| %.1f%% -> %.1f%%, p90 %.1f%% -> "
      "%.1f%%\n",
      c.constant_ms, 100 * c.raw_median, 100 * c.heldout_median, 100 * c.raw_p90,
      100 * c.heldout_p90);
  evit::rng g(2024);
  std::vector<double> raw, cal;
  double measuring = 0;
  for (int i = 0; i < n; ++i) {
    const evit::arch a = Space::sample(g);
    const double p = prof.predict(a);
    const double s = prof.table().sum(Space::descriptor(), a);
    const auto t0 = std::chrono::steady_clock::now();
    const auto m = whole.measure(a);
    measuring += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    raw.push_back((s - m.median_ms) / m.median_ms);
    cal.push_back((p - m.median_ms) / m.median_ms);
    if (i < 5 || smoke)
      std::printf(
          "  %3d  sum %8.3f ms  calibrated %8.3f ms  measured %8.3f ms (+-%4.1f%%)  %+6.1f%%\n", i,
          s, p, m.median_ms, 100 * m.rel_ci(), 100 * cal.back());
  }
  const evit::cost::error_summary r = evit::cost::abs_error_summary(raw);
  const evit::cost::error_summary e = evit::cost::abs_error_summary(cal);
  std::printf(
      "  %d random subnets: sum of blocks      median |error| %5.1f%%, p90 %5.1f%%, mean signed "
      "%+5.1f%%\n"
      "  %d random subnets: calibrated table   median |error| %5.1f%% (goal <= 5%%), p90 %5.1f%% "
      "(goal <= 10%%), mean signed %+5.1f%%\n"
      "  %zu blocks profiled in %.1f s, %d subnets measured in %.1f s\n",
      n, 100 * r.median, 100 * r.p90, 100 * r.mean_signed, n, 100 * e.median, 100 * e.p90,
      100 * e.mean_signed, prof.profiled(), prof.seconds(), n, measuring);

  // Winners: short searches under budgets from the smallest subnet's latency to the largest's.
  const evit::cost::local_latency<Space> lat(shared);  // sequential: profiles on demand
  const auto objective = [](const evit::arch& a) { return ev::macs<Space>(a) * 1e-6; };
  const double lo = lat(Space::min_arch()), hi = lat(Space::max_arch());
  evit::evolution_options opts = evit::presets::by_name("elasticvit");
  opts.population(smoke ? 8 : 64)
      .parents(smoke ? 4 : 16)
      .mutations(smoke ? 2 : 24)
      .crossovers(smoke ? 2 : 24)
      .iterations(smoke ? 1 : 20);
  int within = 0;
  for (int k = 1; k <= n_budgets; ++k) {
    const double budget = lo * std::pow(hi / lo, static_cast<double>(k) / (n_budgets + 1));
    const auto measure = [&](const evit::arch& a) { return whole.measure(a); };
    const auto search = [&](double b) {
      auto evo = evit::make_evolution<Space>(objective, evit::cost::at_most(lat, b, "ms"), opts,
                                             static_cast<std::uint64_t>(k));
      return evo.run();
    };
    // As search_subnet does: when no shortlisted subnet fits, search again (twice at most)
    // under a budget tightened by the shortlist's worst underestimate.
    const evit::budget_search bs =
        evit::search_within_budget(search, budget, 5, measure, evit::budget_rule::median, 2);
    const evit::confirmation& conf = bs.confirmed;
    const double search_budget = bs.search_budget;
    if (conf.ok()) {
      const evit::shortlist_entry& w = conf.winner();
      ++within;
      std::printf(
          "  budget %7.2f ms (searched under %7.2f): winner rank %d of %zu, predicted %7.2f ms, "
          "measured %7.2f ms [%.2f, %.2f] (%+.1f%% of budget)\n",
          budget, search_budget, conf.chosen + 1, conf.shortlist.size(), w.predicted_ms,
          w.measured.median_ms, w.measured.lo_ms, w.measured.hi_ms,
          100 * (w.measured.median_ms / budget - 1));
    } else {
      std::printf("  budget %7.2f ms: %s\n", budget, conf.message.c_str());
    }
  }
  std::printf(
      "  winners within budget: %d of %d (shortlist 5, rule median, up to 2 re-searches); %.0f s "
      "in all\n\n",
      within, n_budgets, elapsed());
  std::fflush(stdout);
}

void BM_phone_table_predict(benchmark::State& st) {
  // The repository's phone tables (data/mobile-lut; benchmarks/CMakeLists.txt sets the path).
  const auto lat = evit::cost::mobile_latency(EVIT_DATA_DIR "/mobile-lut", "pixel6");
  const evit::arch& a = ev::released("elastic_M");
  for (auto _ : st) {
    double ms = lat(a);
    benchmark::DoNotOptimize(ms);
  }
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_phone_table_predict);

void BM_peak_memory(benchmark::State& st) {
  const evit::cost::peak_memory<> mem;
  const evit::arch& a = ev::released("elastic_M");
  for (auto _ : st) {
    double b = mem(a);
    benchmark::DoNotOptimize(b);
  }
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_peak_memory);

void BM_measured_latency_released(benchmark::State& st) {
  // One whole measurement (warm-up + adaptive repeats) of a mini-space subnet.
  static const auto net = ev::supernet<ev::mini_space>::random(1);
  for (auto _ : st) {
    evit::cost::measured_latency<ev::mini_space> lat(net, evit::cost::timing().repeats(5, 20));
    double ms = lat(ev::mini_space::max_arch());
    benchmark::DoNotOptimize(ms);
  }
}
BENCHMARK(BM_measured_latency_released)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  evit::bench::setup(argc, argv);
  smoke = evit::bench::is_smoke_run(argc, argv);
  for (int i = 1; i + 1 < argc;) {  // take --subnets, --calibrate, --budgets, --threads N
    int* v = std::strcmp(argv[i], "--subnets") == 0     ? &g_opts.subnets
             : std::strcmp(argv[i], "--calibrate") == 0 ? &g_opts.calibrate
             : std::strcmp(argv[i], "--budgets") == 0   ? &g_opts.budgets
             : std::strcmp(argv[i], "--threads") == 0   ? &g_opts.threads
                                                        : nullptr;
    if (v == nullptr) {
      ++i;
      continue;
    }
    *v = std::atoi(argv[i + 1]);
    for (int j = i; j + 2 <= argc; ++j) argv[j] = argv[j + 2];
    argc -= 2;
  }
  if (smoke) {
    goals<ev::mini_space>(1, 3, 8, 1);
  } else {
    for (int t : {1, 2})
      if (g_opts.threads == 0 || g_opts.threads == t)
        goals<ev::official_space>(t, std::max(2, g_opts.subnets), std::max(8, g_opts.calibrate),
                                  std::max(0, g_opts.budgets));
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
