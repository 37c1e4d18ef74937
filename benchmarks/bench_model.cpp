// SPDX-License-Identifier: MIT
// Question: how fast does a released ElasticViT subnet run from the full official supernet, batch
// 1, one thread, compared with a dense GEMM on this machine in the same run; where does the time
// go; and does switching subnets between calls cost anything?
// Counters: MMACs (official count), GFLOPs (2 x corrected MACs / s), frac_of_peak and
// frac_of_gemm (that rate over BM_peak_fma's and BM_dense_gemm's) and mem_floor_ms (the subnet's
// weights over one core's memory read rate, BM_memory_read). The three limits are also what
// benchmarks/ort/compare.sh divides its times by (its "limits" table). Set EVIT_BENCH_PROFILE=1 to
// print the per-block split. BM_threads: batch 1 on a thread_pool against one thread.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>

#include <evit/evit.hpp>
#include <evit/simd/compat.hpp>

#include "bench_common.hpp"

namespace ev = evit::elasticvit;
using S = ev::official_space;

namespace {
const ev::supernet<S>& net() {
  static const auto n = std::make_unique<ev::supernet<S>>(ev::supernet<S>::random(1));
  return *n;
}
// The same weights without the packed copies: the forward reads the row-major slices.
const ev::supernet<S>& net_in_place() {
  static const auto n = std::make_unique<ev::supernet<S>>(
      ev::supernet<S>::random(1, ev::load_options().pack_weights(false)));
  return *n;
}
std::vector<float> images(int r) {
  evit::rng g(2);
  std::vector<float> v(static_cast<std::size_t>(3 * r * r));
  for (auto& x : v) x = static_cast<float>(2 * evit::uniform_real(g) - 1);
  return v;
}
// A dense GEMM with evit's fastest kernel (the packed-panel linear the forward runs its
// transformer linears with) at a typical transformer shape (196 x 192 x 768): the rate a whole
// model would reach if every op ran at GEMM speed. Measured once, best of 5 rounds.
double dense_gemm_gflops() {
  static const double rate = [] {
    const evit::Index m = 196, k = 192, n = 768;
    std::vector<float> x(static_cast<std::size_t>(m * k), 0.5f),
        w(static_cast<std::size_t>(n * k), 0.25f), y(static_cast<std::size_t>(m * n)),
        packed(static_cast<std::size_t>(evit::kernels::packed_linear_size(n, k)));
    evit::kernels::pack_linear_weight(w.data(), n, k, packed.data());
    double best = 0;
    for (int round = 0; round < 5; ++round) {
      const int reps = 20;
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < reps; ++i) {
        evit::kernels::linear_packed(m, k, n, x.data(), k, packed.data(), k, 0,
                                     static_cast<const float*>(nullptr), y.data(), n);
        benchmark::DoNotOptimize(y.data());
      }
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      best = std::max(best, 2.0 * m * k * n * reps / s * 1e-9);
    }
    return best;
  }();
  return rate;
}

// One core's read bandwidth from memory (GB/s): a 256 MB buffer, far beyond the last-level
// cache, summed with vector loads, best of 3. A batch-1 forward reads every weight its subnet
// touches once and the supernet does not fit the cache, so params x 4 bytes / this rate is the
// time below which a forward cannot go on one core (counter mem_floor_ms).
double memory_read_gbps() {
  static const double rate = [] {
    const std::size_t n = std::size_t(64) << 20;  // floats
    std::vector<float> v(n, 1.0f);
    double best = 0;
    for (int round = 0; round < 3; ++round) {
      const auto t0 = std::chrono::steady_clock::now();
      float sum = evit::kernels::vector_sum(v.data(), static_cast<evit::Index>(n));
      benchmark::DoNotOptimize(sum);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      best = std::max(best, static_cast<double>(n * sizeof(float)) / s * 1e-9);
    }
    return best;
  }();
  return rate;
}

void BM_memory_read(benchmark::State& st) {
  for (auto _ : st) benchmark::DoNotOptimize(memory_read_gbps());
  st.counters["GBps"] = memory_read_gbps();
}
BENCHMARK(BM_memory_read)->Iterations(1);

// One core's FMA peak with the kernels' ISA (bench_common.hpp), measured once.
double peak_gflops() {
  static const double rate = evit::bench::peak_fma_gflops(0.3);
  return rate;
}

void BM_peak_fma(benchmark::State& st) {
  for (auto _ : st) benchmark::DoNotOptimize(peak_gflops());
  st.counters["GFLOPs"] = peak_gflops();
}
BENCHMARK(BM_peak_fma)->Iterations(1);

void BM_dense_gemm(benchmark::State& st) {
  for (auto _ : st) benchmark::DoNotOptimize(dense_gemm_gflops());
  st.counters["GFLOPs"] = dense_gemm_gflops();
}
BENCHMARK(BM_dense_gemm)->Iterations(1);

// Batch 1 and 8 (per-image time in the counter ms_per_image), packed linear weights (the
// default) and the row-major slices read in place, interleaved in one run.
void BM_batch(benchmark::State& st, const char* name) {
  const evit::arch& a = ev::released(name);
  const evit::Index batch = st.range(0);
  const auto& n = st.range(1) ? net() : net_in_place();
  const auto img = images(a.resolution());
  std::vector<float> many(static_cast<std::size_t>(batch) * img.size());
  for (evit::Index i = 0; i < batch; ++i)
    std::copy(img.begin(), img.end(), many.begin() + static_cast<std::ptrdiff_t>(i * img.size()));
  std::vector<float> logits(static_cast<std::size_t>(batch) * 1000);
  ev::forward_workspace ws;
  ev::forward_profile prof;
  const bool profile = std::getenv("EVIT_BENCH_PROFILE") != nullptr;
  ev::forward_options opts;
  if (profile) opts.profile(prof);
  n.forward(a, many.data(), batch, logits.data(), ws, opts);
  prof = {};
  for (auto _ : st) {
    n.forward(a, many.data(), batch, logits.data(), ws, opts);
    benchmark::DoNotOptimize(logits.data());
  }
  if (profile && prof.total() > 0) {  // ms per image per block kind
    const double k = 1e3 / (static_cast<double>(st.iterations()) * static_cast<double>(batch));
    std::printf(
        "%-11s batch %d packed %d, ms per image: first_conv %.3f  mbconv %.3f  reduction %.3f  "
        "attention %.3f  ffn %.3f  head %.3f\n",
        name, static_cast<int>(batch), static_cast<int>(st.range(1)), k * prof.first_conv,
        k * prof.mbconv, k * prof.reduction, k * prof.attention, k * prof.ffn, k * prof.head);
  }
  st.counters["ms_per_image"] =
      benchmark::Counter(double(batch) * 1e3, benchmark::Counter::kIsIterationInvariantRate |
                                                  benchmark::Counter::kInvert);
}
BENCHMARK_CAPTURE(BM_batch, T1, "elastic_T1")
    ->ArgsProduct({{1, 8}, {0, 1}})
    ->ArgNames({"batch", "packed"})
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_batch, T2, "elastic_T2")
    ->ArgsProduct({{1, 8}, {0, 1}})
    ->ArgNames({"batch", "packed"})
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_batch, S2, "elastic_S2")
    ->ArgsProduct({{1, 8}, {0, 1}})
    ->ArgNames({"batch", "packed"})
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_batch, M, "elastic_M")
    ->ArgsProduct({{1, 8}, {0, 1}})
    ->ArgNames({"batch", "packed"})
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_batch, L3, "elastic_L3")
    ->ArgsProduct({{1, 8}, {0, 1}})
    ->ArgNames({"batch", "packed"})
    ->Unit(benchmark::kMillisecond);

// Batch 8 taken through the blocks sample by sample (the default when there are at least as many
// samples as workers) against op by op over the batch (forward_options().sample_by_sample(false)),
// interleaved forward by forward in one run. Counters: medians in ms per image, and their ratio.
void BM_batch_order(benchmark::State& st, const char* name) {
  const evit::arch& a = ev::released(name);
  const evit::Index batch = st.range(0);
  const auto img = images(a.resolution());
  std::vector<float> many(static_cast<std::size_t>(batch) * img.size());
  for (evit::Index i = 0; i < batch; ++i)
    std::copy(img.begin(), img.end(), many.begin() + static_cast<std::ptrdiff_t>(i * img.size()));
  std::vector<float> by_sample(static_cast<std::size_t>(batch) * 1000), by_op(by_sample.size());
  ev::forward_workspace ws;
  const auto op_by_op = ev::forward_options().sample_by_sample(false);
  net().forward(a, many.data(), batch, by_sample.data(), ws);
  net().forward(a, many.data(), batch, by_op.data(), ws, op_by_op);
  if (by_sample != by_op) st.SkipWithError("the two orders gave different logits");
  std::vector<double> sample_ms, op_ms;
  using clock = std::chrono::steady_clock;
  for (auto _ : st) {
    const auto t0 = clock::now();
    net().forward(a, many.data(), batch, by_sample.data(), ws);
    const auto t1 = clock::now();
    net().forward(a, many.data(), batch, by_op.data(), ws, op_by_op);
    const auto t2 = clock::now();
    sample_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count() / batch);
    op_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count() / batch);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  st.counters["by_sample_ms"] = median(sample_ms);
  st.counters["by_op_ms"] = median(op_ms);
  st.counters["ratio"] = median(sample_ms) / median(op_ms);
}
BENCHMARK_CAPTURE(BM_batch_order, T1, "elastic_T1")
    ->Arg(8)
    ->ArgName("batch")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_batch_order, S2, "elastic_S2")
    ->Arg(8)
    ->ArgName("batch")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_batch_order, M, "elastic_M")
    ->Arg(8)
    ->ArgName("batch")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_batch_order, L3, "elastic_L3")
    ->Arg(8)
    ->ArgName("batch")
    ->Unit(benchmark::kMillisecond);

void BM_released(benchmark::State& st, const char* name) {
  const evit::arch& a = ev::released(name);
  const auto img = images(a.resolution());
  std::vector<float> logits(1000);
  ev::forward_workspace ws;
  ev::forward_profile prof;
  const bool profile = std::getenv("EVIT_BENCH_PROFILE") != nullptr;
  ev::forward_options opts;
  if (profile) opts.profile(prof);
  net().forward(a, img.data(), 1, logits.data(), ws, opts);  // warm-up, sizes the workspace
  prof = {};
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : st) {
    net().forward(a, img.data(), 1, logits.data(), ws, opts);
    benchmark::DoNotOptimize(logits.data());
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double macs = ev::macs(a), real = ev::macs_corrected(a);
  const double gflops = 2 * real * static_cast<double>(st.iterations()) / secs * 1e-9;
  st.counters["MMACs"] = macs / 1e6;
  st.counters["GFLOPs"] = gflops;
  st.counters["frac_of_peak"] = gflops / peak_gflops();
  st.counters["frac_of_gemm"] = gflops / dense_gemm_gflops();
  st.counters["mem_floor_ms"] = ev::params(a) * sizeof(float) / (memory_read_gbps() * 1e9) * 1e3;
  if (profile && prof.total() > 0) {
    const double t = prof.total();
    std::printf(
        "%-13s first_conv %4.1f%%  mbconv %4.1f%%  reduction %4.1f%%  attention %4.1f%%  "
        "ffn %4.1f%%  head %4.1f%%\n",
        name, 100 * prof.first_conv / t, 100 * prof.mbconv / t, 100 * prof.reduction / t,
        100 * prof.attention / t, 100 * prof.ffn / t, 100 * prof.head / t);
  }
}
BENCHMARK_CAPTURE(BM_released, T1, "elastic_T1")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_released, T2, "elastic_T2")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_released, S1, "elastic_S1")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_released, S2, "elastic_S2")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_released, M, "elastic_M")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_released, L1, "elastic_L1")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_released, L1_5, "elastic_L1.5")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_released, L2, "elastic_L2")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_released, L3, "elastic_L3")->Unit(benchmark::kMillisecond);

// Intra-op parallelism: batch 1 on a thread_pool of `threads` workers (each op of the sample cut
// into pieces) against one thread, alternating forward by forward so that both see the same
// machine load. Counters: medians in ms and their ratio.
void BM_threads(benchmark::State& st, const char* name) {
  const int threads = static_cast<int>(st.range(0));
  const evit::arch& a = ev::released(name);
  const auto img = images(a.resolution());
  std::vector<float> logits(1000);
  ev::forward_workspace ws1, wsn;
  evit::thread_pool pool(threads);
  net().forward(a, img.data(), 1, logits.data(), ws1);
  net().forward(a, img.data(), 1, logits.data(), wsn, ev::forward_options().executor(pool));
  std::vector<double> one, many;
  using clock = std::chrono::steady_clock;
  for (auto _ : st) {
    auto t0 = clock::now();
    net().forward(a, img.data(), 1, logits.data(), ws1);
    auto t1 = clock::now();
    net().forward(a, img.data(), 1, logits.data(), wsn, ev::forward_options().executor(pool));
    auto t2 = clock::now();
    one.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    many.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
    benchmark::DoNotOptimize(logits.data());
  }
  auto median = [](std::vector<double> v) {
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
    return v[v.size() / 2];
  };
  st.counters["ms_1_thread"] = median(one);
  st.counters["ms_pool"] = median(many);
  st.counters["speedup"] = median(one) / median(many);
}
void thread_counts(benchmark::internal::Benchmark* b) {
  b->Arg(2);
  const int hc = static_cast<int>(std::thread::hardware_concurrency());
  if (hc > 2) b->Arg(hc);
}
BENCHMARK_CAPTURE(BM_threads, T1, "elastic_T1")
    ->Apply(thread_counts)
    ->ArgName("threads")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_threads, S2, "elastic_S2")
    ->Apply(thread_counts)
    ->ArgName("threads")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_threads, L3, "elastic_L3")
    ->Apply(thread_counts)
    ->ArgName("threads")
    ->Unit(benchmark::kMillisecond);

// Switching: a pair of forwards alternating two subnets of the same resolution (S2 and M, both
// 224) against the mean of the same-subnet pairs (S2, S2) and (M, M), which run the same work
// (M has 31% more MACs than S2, so (S2, S2) alone would understate it); equal times mean
// switching costs nothing. The three pairs interleave in every iteration, so they see the same
// machine load; an untimed forward of its first subnet precedes each pair, so the one switch
// timed is the one inside (S2, M). Times are the thread's CPU time (a shared machine's other
// processes delay the wall clock, not it). Counters: CPU ms per pair of each; switch_cost_pct =
// (S2, M) over the mean of the other two, minus 1, in %; switch_cost_wall_pct, the same on the
// wall clock.
double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}
void BM_switch(benchmark::State& st) {
  const evit::arch& a = ev::released("elastic_S2");
  const evit::arch& b = ev::released("elastic_M");
  const auto img = images(224);
  std::vector<float> logits(1000);
  ev::forward_workspace ws;
  net().forward(b, img.data(), 1, logits.data(), ws);
  using clock = std::chrono::steady_clock;
  struct totals {
    double cpu = 0, wall = 0;
  } aa, bb, ab;
  auto pair = [&](const evit::arch& x, const evit::arch& y, totals& t) {
    net().forward(x, img.data(), 1, logits.data(), ws);
    const auto w0 = clock::now();
    const double c0 = thread_cpu_seconds();
    net().forward(x, img.data(), 1, logits.data(), ws);
    net().forward(y, img.data(), 1, logits.data(), ws);
    benchmark::DoNotOptimize(logits.data());
    t.cpu += thread_cpu_seconds() - c0;
    t.wall += std::chrono::duration<double>(clock::now() - w0).count();
  };
  for (auto _ : st) {
    pair(a, a, aa);
    pair(a, b, ab);
    pair(b, b, bb);
  }
  const double n = static_cast<double>(st.iterations());
  st.counters["S2_S2_ms"] = 1e3 * aa.cpu / n;
  st.counters["M_M_ms"] = 1e3 * bb.cpu / n;
  st.counters["S2_M_ms"] = 1e3 * ab.cpu / n;
  st.counters["switch_cost_pct"] = 100 * (ab.cpu / ((aa.cpu + bb.cpu) / 2) - 1);
  st.counters["switch_cost_wall_pct"] = 100 * (ab.wall / ((aa.wall + bb.wall) / 2) - 1);
}
BENCHMARK(BM_switch)->Unit(benchmark::kMillisecond);
}  // namespace

EVIT_BENCHMARK_MAIN()
