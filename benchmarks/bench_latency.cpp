// SPDX-License-Identifier: MIT
// Question: how well does this machine's block latency table (cost/block_profiler.hpp) predict
// the measured latency of whole subnets, and what do the latency cost models cost per call?
//
// First prints the table: for N random subnets of the official space (random supernet weights),
// the sum of their blocks' profiled latencies against the median of whole measured forwards
// (cost/measured_latency.hpp): median and 90th-percentile absolute relative error, mean signed
// error, and the time spent profiling and measuring. N = 100 for a real run; a smoke run
// (--benchmark_min_time below 0.1 s, as ctest runs it) uses the mini space and 3 subnets;
// EVIT_BENCH_FULL=1 forces the full run. One thread, batch 1.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "evit/core/rng.hpp"
#include "evit/cost/block_profiler.hpp"
#include "evit/cost/latency_table.hpp"
#include "evit/cost/measured_latency.hpp"
#include "evit/cost/memory.hpp"
#include "evit/io/arch_text.hpp"
#include "evit/models/elasticvit/released.hpp"
#include "evit/models/elasticvit/supernet.hpp"

#include "bench_common.hpp"

namespace ev = evit::elasticvit;

namespace {

bool smoke = false;

template <class Space>
void accuracy_table(int n) {
  const auto t_load = std::chrono::steady_clock::now();
  const auto net = ev::supernet<Space>::random(1);
  evit::cost::block_profiler<Space> prof(net);
  evit::cost::measured_latency<Space> whole(net, evit::cost::timing().repeats(9, 60).target(0.02));
  std::printf(
      "This machine's block table against measured whole subnets (%s space, %d random "
      "subnets, random weights, batch 1, 1 thread; supernet ready in %.1f s)\n",
      Space::descriptor().name.c_str(), n,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count());
  evit::rng g(2024);
  std::vector<double> err, abs_err;
  double measuring = 0;
  for (int i = 0; i < n; ++i) {
    const evit::arch a = Space::sample(g);
    const double p = prof.predict(a);
    const auto t0 = std::chrono::steady_clock::now();
    const auto m = whole.measure(a);
    measuring += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double e = (p - m.median_ms) / m.median_ms;
    err.push_back(e);
    abs_err.push_back(std::fabs(e));
    if (i < 10 || smoke)
      std::printf("  %3d  table %8.3f ms  measured %8.3f ms (+-%4.1f%%, %2d runs)  %+6.1f%%  %s\n",
                  i, p, m.median_ms, 100 * m.rel_ci(), m.repeats, 100 * e,
                  evit::to_string<Space>(a).substr(0, 60).c_str());
  }
  std::sort(abs_err.begin(), abs_err.end());
  double mean = 0;
  for (double e : err) mean += e;
  mean /= static_cast<double>(err.size());
  const auto pct = [&](double q) {
    return abs_err[std::min(abs_err.size() - 1, static_cast<std::size_t>(q * abs_err.size()))];
  };
  std::printf(
      "  median |error| %.1f%% (goal <= 10%%), p90 |error| %.1f%%, mean signed error "
      "%+.1f%%; %zu blocks profiled in %.1f s, %d subnets measured in %.1f s\n\n",
      100 * pct(0.5), 100 * pct(0.9), 100 * mean, prof.profiled(), prof.seconds(), n, measuring);
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
  if (smoke)
    accuracy_table<ev::mini_space>(3);
  else
    accuracy_table<ev::official_space>(100);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
