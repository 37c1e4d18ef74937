// SPDX-License-Identifier: MIT
// Question: how cheap are the per-subnet operations that samplers and searches call millions of
// times? The official MACs count must take under 2 microseconds per subnet.
#include <vector>

#include <benchmark/benchmark.h>

#include <evit/evit.hpp>

#include "bench_common.hpp"

namespace ev = evit::elasticvit;
using S = ev::official_space;

namespace {
std::vector<evit::arch> random_archs(int n) {
  evit::rng g(1);
  std::vector<evit::arch> v;
  for (int i = 0; i < n; ++i) v.push_back(S::sample(g));
  return v;
}

void BM_macs_official_validated(benchmark::State& st) {
  const auto archs = random_archs(256);
  const auto& d = S::descriptor();
  std::size_t i = 0;
  for (auto _ : st) {
    double m = ev::macs(d, archs[i++ & 255]);
    benchmark::DoNotOptimize(m);
  }
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_macs_official_validated);

void BM_macs_official_unchecked(benchmark::State& st) {
  const auto archs = random_archs(256);
  const auto& d = S::descriptor();
  std::size_t i = 0;
  for (auto _ : st) {
    double m = ev::macs_unchecked(d, archs[i++ & 255]);
    benchmark::DoNotOptimize(m);
  }
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_macs_official_unchecked);

void BM_validate(benchmark::State& st) {
  const auto archs = random_archs(256);
  std::size_t i = 0;
  for (auto _ : st) {
    S::validate(archs[i++ & 255]);
    benchmark::ClobberMemory();
  }
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_validate);

void BM_sample_per_dimension(benchmark::State& st) {
  evit::rng g(2);
  for (auto _ : st) {
    evit::arch a = S::sample(g);
    benchmark::DoNotOptimize(a);
  }
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_sample_per_dimension);

void BM_arch_hash(benchmark::State& st) {
  const auto archs = random_archs(256);
  std::size_t i = 0;
  for (auto _ : st) {
    std::uint64_t h = archs[i++ & 255].hash();
    benchmark::DoNotOptimize(h);
  }
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_arch_hash);

void BM_text_round_trip(benchmark::State& st) {
  const auto archs = random_archs(256);
  std::size_t i = 0;
  for (auto _ : st) {
    evit::arch a = evit::parse<S>(evit::to_string<S>(archs[i++ & 255]));
    benchmark::DoNotOptimize(a);
  }
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_text_round_trip);
}  // namespace

EVIT_BENCHMARK_MAIN()
