// SPDX-License-Identifier: MIT
// Question: how close do evit's searches get to the exact optimum, against random search with the
// same number of evaluations, and what does a search cost?
//
// First prints the quality table on the synthetic problem of tests/search/synthetic.hpp (official
// space; exact constrained optimum and Pareto front by dynamic programming): for cost windows
// across the space's range, the ElasticViT preset's best value as % of the optimum (mean and min
// over seeds) and random search's; and, since every feasible subnet of a window scores far from
// zero, the same as a normalised score: (v - v_min) / (v_opt - v_min) in % of the window's
// feasible range (v_min: the worst feasible subnet, also by dynamic programming; 100% is the
// optimum, 0% the worst); then NSGA-II's front hypervolume as % of the true front's.
// Then times the searches and operators with Google Benchmark.
// A smoke run (--benchmark_min_time below 0.1 s, as ctest runs it) shrinks the table to one
// window and one seed; EVIT_BENCH_FULL=1 forces the full table.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "evit/core/rng.hpp"
#include "evit/models/elasticvit/space.hpp"
#include "evit/search/evolutionary.hpp"
#include "evit/search/hypervolume.hpp"
#include "evit/search/nsga2.hpp"
#include "evit/search/random.hpp"

#include "../tests/search/synthetic.hpp"
#include "bench_common.hpp"

using space = evit::elasticvit::official_space;

namespace {

bool smoke = false;

const evit_test::synthetic_problem& problem() {
  static const evit_test::synthetic_problem p = [] {
    evit_test::synthetic_problem q(space::descriptor());
    q.solve();
    return q;
  }();
  return p;
}

void quality_table() {
  const auto& p = problem();
  const std::vector<int> windows =
      smoke ? std::vector<int>{150} : std::vector<int>{40, 60, 100, 150, 250, 350};
  const int seeds = smoke ? 1 : 5;
  struct entry {
    const char* name;
    evit::evolution_options opts;
  };
  std::vector<entry> presets = {{"elasticvit", evit::presets::elasticvit_search()}};
  if (!smoke) {
    presets.push_back({"autoformer", evit::presets::autoformer_search()});
    presets.push_back({"hat", evit::presets::hat_search()});
  }
  std::printf(
      "Search quality on the synthetic problem (official space; synthetic costs %d .. %d; "
      "window [L, L + 10]; %d seed%s)\n"
      "%% opt: best value as %% of the optimum; %% range: (v - v_min) / (v_opt - v_min) over the "
      "window's feasible subnets\n",
      p.cost(space::min_arch()), p.max_cost(), seeds, seeds > 1 ? "s" : "");
  std::printf("%-5s %-11s %7s %9s %9s %12s %9s %10s %12s %10s\n", "L", "preset", "evals",
              "v_min/opt", "% opt", "(min)", "% range", "(min)", "random % opt", "% range");
  for (int lo : windows) {
    const double best = p.optimum(lo, lo + 10), worst = p.pessimum(lo, lo + 10);
    for (const auto& e : presets) {
      double sum = 0, mn = 1e9, rsum = 0, nsum = 0, nmn = 1e9, rnsum = 0;
      std::uint64_t evals = 0;
      for (int s = 1; s <= seeds; ++s) {
        const auto con = evit::cost::within(p.cost_fn(), lo, lo + 10);
        const auto r = evit::evolutionary_search<space>(p.value_fn(), con, e.opts,
                                                        static_cast<std::uint64_t>(s));
        const auto rr = evit::random_search<space>(
            p.value_fn(), con, evit::random_options().evaluations(static_cast<int>(r.evaluations)),
            static_cast<std::uint64_t>(s));
        const double q = 100 * r.best().value() / best;
        const double nq = 100 * p.normalised(r.best().value(), lo, lo + 10);
        sum += q;
        mn = std::min(mn, q);
        nsum += nq;
        nmn = std::min(nmn, nq);
        rsum += 100 * rr.best().value() / best;
        rnsum += 100 * p.normalised(rr.best().value(), lo, lo + 10);
        evals = r.evaluations;
      }
      std::printf("%-5d %-11s %7llu %9.3f %9.2f %12.2f %9.2f %10.2f %12.2f %10.2f\n", lo, e.name,
                  static_cast<unsigned long long>(evals), worst / best, sum / seeds, mn,
                  nsum / seeds, nmn, rsum / seeds, rnsum / seeds);
    }
  }
  // NSGA-II: hypervolume of (max value, min cost) against the true front's.
  const std::vector<double> ref = {-p.value(space::min_arch()),
                                   static_cast<double>(p.max_cost() + 1)};
  std::vector<std::vector<double>> truth;
  for (const auto& x : p.front()) truth.push_back({-x.second, static_cast<double>(x.first)});
  const double thv = evit::hypervolume(truth, ref);
  const int gens = smoke ? 10 : 60;
  double hv_sum = 0, hv_min = 1e9, r_sum = 0;
  std::uint64_t evals = 0;
  std::size_t front = 0;
  for (int s = 1; s <= seeds; ++s) {
    auto n = evit::make_nsga2<space>(
        evit::objectives(evit::maximize(p.value_fn()), evit::minimize(p.cost_fn())),
        evit::cost::unconstrained(), evit::nsga2_options().population(100).generations(gens),
        static_cast<std::uint64_t>(s));
    const auto r = n.run();
    std::vector<std::vector<double>> pts;
    for (const auto& e : r.ranked) pts.push_back(n.minimised(e));
    const double q = 100 * evit::hypervolume(pts, ref) / thv;
    hv_sum += q;
    hv_min = std::min(hv_min, q);
    const auto rr = evit::random_search<space>(
        p.value_fn(), evit::cost::unconstrained(),
        evit::random_options().evaluations(static_cast<int>(r.evaluations)).keep(1 << 30),
        static_cast<std::uint64_t>(s));
    std::vector<std::vector<double>> rp;
    for (const auto& e : rr.ranked) rp.push_back({-e.values[0], double(p.cost(e.subnet))});
    r_sum += 100 * evit::hypervolume(rp, ref) / thv;
    evals = r.evaluations;
    front = r.ranked.size();
  }
  std::printf(
      "NSGA-II (population 100, %d generations, %llu evaluations): front of %zu points, "
      "hypervolume %.2f%% of the true front's (min %.2f%%); random search %.2f%%\n\n",
      gens, static_cast<unsigned long long>(evals), front, hv_sum / seeds, hv_min, r_sum / seeds);
}

void BM_evolution_elasticvit_preset(benchmark::State& st) {
  const auto& p = problem();
  auto opts = evit::presets::elasticvit_search();
  if (smoke) opts.iterations(2);
  std::uint64_t seed = 1, evals = 0;
  for (auto _ : st) {
    auto r = evit::evolutionary_search<space>(
        p.value_fn(), evit::cost::within(p.cost_fn(), 150, 160), opts, seed++);
    evals += r.evaluations;
    benchmark::DoNotOptimize(r);
  }
  st.counters["evaluations/s"] =
      benchmark::Counter(static_cast<double>(evals), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_evolution_elasticvit_preset)->Unit(benchmark::kMillisecond);

void BM_evolution_threads(benchmark::State& st) {
  // A slow objective (~50 us), where a thread pool pays off.
  const auto& p = problem();
  auto slow = [&p](const evit::arch& a) {
    double v = p.value(a);
    for (int i = 0; i < 2000; ++i) v = std::sqrt(v * v + 1e-9);
    return v;
  };
  evit::thread_pool pool(static_cast<int>(st.range(0)));
  auto opts =
      evit::presets::elasticvit_search().population(128).parents(32).mutations(32).crossovers(32);
  opts.iterations(smoke ? 1 : 5);
  std::uint64_t evals = 0;
  for (auto _ : st) {
    auto r = evit::evolutionary_search<space>(slow, evit::cost::within(p.cost_fn(), 150, 160), opts,
                                              1, pool);
    evals += r.evaluations;
    benchmark::DoNotOptimize(r);
  }
  st.counters["evaluations/s"] =
      benchmark::Counter(static_cast<double>(evals), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_evolution_threads)->Arg(1)->Arg(2)->ArgName("threads")->Unit(benchmark::kMillisecond);

void BM_nsga2(benchmark::State& st) {
  const auto& p = problem();
  const int gens = smoke ? 2 : 60;
  for (auto _ : st) {
    auto r = evit::nsga2_search<space>(
        evit::objectives(evit::maximize(p.value_fn()), evit::minimize(p.cost_fn())),
        evit::cost::unconstrained(), evit::nsga2_options().population(100).generations(gens), 1);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_nsga2)->Unit(benchmark::kMillisecond);

void BM_mutate(benchmark::State& st) {
  evit::rng g(1);
  const auto& d = space::descriptor();
  const evit::arch a = space::sample(g);
  const auto params = evit::presets::elasticvit_search().mutation();
  for (auto _ : st) {
    evit::arch m = evit::mutate(d, space::chains(), a, params, g);
    benchmark::DoNotOptimize(m);
  }
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_mutate);

void BM_crossover(benchmark::State& st) {
  evit::rng g(1);
  const auto& d = space::descriptor();
  const evit::arch a = space::sample(g), b = space::sample(g);
  for (auto _ : st) {
    evit::arch c = evit::crossover(d, a, b, g);
    benchmark::DoNotOptimize(c);
  }
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_crossover);

void BM_hypervolume_3d(benchmark::State& st) {
  evit::rng g(2);
  std::vector<std::vector<double>> pts;
  for (int i = 0; i < st.range(0); ++i) {
    const double x = evit::uniform_real(g), y = evit::uniform_real(g);
    pts.push_back({x, y, 2 - x - y});
  }
  for (auto _ : st) {
    double hv = evit::hypervolume(pts, {1.1, 1.1, 2.1});
    benchmark::DoNotOptimize(hv);
  }
}
BENCHMARK(BM_hypervolume_3d)->Arg(50)->Arg(200);

}  // namespace

int main(int argc, char** argv) {
  evit::bench::setup(argc, argv);
  smoke = evit::bench::is_smoke_run(argc, argv);
  quality_table();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
