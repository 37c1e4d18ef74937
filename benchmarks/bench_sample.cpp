// SPDX-License-Identifier: MIT
// One question: how many in-level draws per second does the complexity-aware sampler give at each
// official level (100 ... 1200 MMACs, window [L, L + 20 MMACs]) with the official MACs count, on
// one core? Plain uniform rejection is the baseline (it accepts ~0.3% of draws at 100 MMACs).
// Results and the machine they came from: benchmarks/RESULTS-sample.md.
#include <cstdint>
#include <vector>

#include <benchmark/benchmark.h>

#include "evit/core/rng.hpp"
#include "evit/models/elasticvit/macs.hpp"
#include "evit/models/elasticvit/space.hpp"
#include "evit/sample/complexity_aware.hpp"
#include "evit/sample/performance_aware.hpp"

#include "bench_common.hpp"

namespace {

namespace ev = evit::elasticvit;
using space = ev::official_space;

// The official MACs count (ev::macs_unchecked: the same count, without re-validating the subnets
// the sampler builds), declared monotone.
struct official_macs {
  static constexpr bool monotone = true;
  double operator()(const evit::arch& a) const {
    return ev::macs_unchecked(space::descriptor(), a);
  }
};

template <class Cost>
evit::complexity_aware_sampler<space, Cost>& sampler() {
  static evit::complexity_aware_sampler<space, Cost> s(Cost{}, evit::complexity_options().seed(1));
  return s;
}

template <class Cost>
void in_level_draws(benchmark::State& st) {
  auto& ca = sampler<Cost>();
  const int level = static_cast<int>(st.range(0));
  const evit::draw_stats before = ca.stats();
  for (auto _ : st) {
    evit::arch a = ca.draw_in_level(level);
    benchmark::DoNotOptimize(a);
  }
  const evit::draw_stats after = ca.stats();
  const double n = static_cast<double>(after.draws - before.draws);
  st.SetItemsProcessed(st.iterations());
  st.counters["level_mmacs"] = ca.level_value(level) / 1e6;
  st.counters["cost_evals_per_draw"] =
      static_cast<double>(after.cost_evaluations - before.cost_evaluations) / n;
  st.counters["by_rejection"] = static_cast<double>(after.by_rejection - before.by_rejection) / n;
  st.counters["constructed"] = static_cast<double>(after.constructed - before.constructed) / n;
}

// With ev::macs_unchecked (the official count, no validation).
void BM_in_level_draw(benchmark::State& st) { in_level_draws<official_macs>(st); }
BENCHMARK(BM_in_level_draw)->DenseRange(0, 7)->ArgName("level");

// With ev::macs_model<> (the official count; validates every subnet it is given).
void BM_in_level_draw_validating(benchmark::State& st) {
  in_level_draws<ev::macs_model<space>>(st);
}
BENCHMARK(BM_in_level_draw_validating)->DenseRange(0, 7)->ArgName("level");

// Baseline: plain uniform rejection (unbounded), per accepted draw.
void BM_uniform_rejection(benchmark::State& st) {
  const auto& ca = sampler<official_macs>();
  const int level = static_cast<int>(st.range(0));
  const auto w = ca.window_of(level);
  evit::rng g(3);
  std::uint64_t tries = 0;
  for (auto _ : st) {
    for (;;) {
      ++tries;
      evit::arch a = space::sample(g);
      const double c = official_macs{}(a);
      if (c >= w.first && c <= w.second) {
        benchmark::DoNotOptimize(a);
        break;
      }
    }
  }
  st.SetItemsProcessed(st.iterations());
  st.counters["tries_per_draw"] = static_cast<double>(tries) / static_cast<double>(st.iterations());
}
BENCHMARK(BM_uniform_rejection)->Arg(0)->Arg(4)->Arg(7)->ArgName("level");

// Building the sampler: feasibility and every level's smallest subnet (once per training run).
void BM_complexity_sampler_build(benchmark::State& st) {
  for (auto _ : st) {
    evit::complexity_aware_sampler<space, official_macs> s(official_macs{});
    benchmark::DoNotOptimize(s);
  }
}
BENCHMARK(BM_complexity_sampler_build)->Unit(benchmark::kMillisecond);

// A performance-aware draw at 300 MMACs with a full bank at epoch 0 (p_exploit = 0.2; exploring
// compares 5 in-level candidates by the preference).
void BM_performance_aware_draw(benchmark::State& st) {
  using pa_t = evit::performance_aware_sampler<space, official_macs>;
  static pa_t pa = [] {
    pa_t p(official_macs{}, evit::complexity_options().seed(2));
    while (!p.bank(2).full()) {
      const evit::level_draw d = p.draw_at(2);
      p.report(d, -static_cast<double>(d.subnet.hash() % 1000) / 100.0);
    }
    return p;
  }();
  for (auto _ : st) {
    evit::level_draw d = pa.draw_at(2);
    benchmark::DoNotOptimize(d);
  }
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_performance_aware_draw);

}  // namespace

EVIT_BENCHMARK_MAIN()
