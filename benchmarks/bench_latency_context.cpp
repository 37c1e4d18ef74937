// SPDX-License-Identifier: MIT
// Question: why does a table of blocks timed alone underestimate whole subnets, and does timing
// blocks as the forward runs them (cost/block_profiler.hpp's in-context mode) fix it?
//
// For N random subnets of the official space (random weights, batch 1, 1 thread, the thread's CPU
// clock) it times, interleaved in one process so that the machine's load affects every method
// alike:
//   alone     each block by itself, as the old profiler did (weights and buffers flushed from
//             the caches, input freshly written): profile_mode::alone
//   context   each block as the new profiler does (profile_mode::context)
//   in-forward each block inside whole forwards of the subnet (the forward's own block steps run
//             in sequence on one workspace, a clock read between blocks), and the whole forward
//             (cost::measured_latency)
// and prints per block kind the ratio in-forward / alone and in-forward / context, then per
// method the sum of blocks against the measured whole forward (median, p90 and mean signed
// error). N = 24 by default (--subnets N); a smoke run (ctest) uses the mini space and 2 subnets.
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "evit/core/rng.hpp"
#include "evit/cost/block_profiler.hpp"
#include "evit/cost/measured_latency.hpp"
#include "evit/io/arch_text.hpp"
#include "evit/models/elasticvit/supernet.hpp"

#include "bench_common.hpp"

namespace ev = evit::elasticvit;
namespace cost = evit::cost;

namespace {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
}

// Per-block medians of `runs` whole sequences of the subnet's blocks, run as the forward runs
// them (its own block steps, one workspace, thread CPU clock), and the median total.
template <class Space>
std::vector<double> in_forward(const ev::supernet<Space>& net,
                               const std::vector<cost::lut_block>& p, int runs, double& total_ms) {
  const evit::space_descriptor& d = Space::descriptor();
  ev::forward_workspace ws;
  ws.reserve(d, 1, 1);
  const int R = d.resolution.back();
  std::vector<float> images(static_cast<std::size_t>(3 * R * R), 0.25f);
  std::vector<float> logits(static_cast<std::size_t>(d.constants.num_classes));
  std::vector<std::vector<double>> t(p.size());
  std::vector<double> totals;
  for (int r = -2; r < runs; ++r) {
    int slot = 0;
    double sum = 0;
    for (std::size_t i = 0; i < p.size(); ++i) {
      const double t0 = cost::detail::now_ms(cost::clock_kind::thread_cpu);
      slot = net.engine().run_block(p[i], images.data(), logits.data(), ws, slot);
      const double ms = cost::detail::now_ms(cost::clock_kind::thread_cpu) - t0;
      if (r >= 0) t[i].push_back(ms);
      sum += ms;
    }
    if (r >= 0) totals.push_back(sum);
  }
  total_ms = median(totals);
  std::vector<double> out;
  for (auto& v : t) out.push_back(median(v));
  return out;
}

template <class Space>
void compare(int n) {
  const auto net = ev::supernet<Space>::random(1);
  const evit::space_descriptor& d = Space::descriptor();
  cost::block_profiler<Space> alone(net, cost::block_profiler<Space>::default_timing(), "alone",
                                    cost::profile_mode::alone);
  cost::block_profiler<Space> context(net, cost::block_profiler<Space>::default_timing(), "context",
                                      cost::profile_mode::context);
  cost::measured_latency<Space> whole(net, cost::timing().repeats(9, 40).target(0.02));
  std::printf(
      "Blocks timed alone, in context and inside whole forwards (%s space, %d random subnets, "
      "random weights, batch 1, 1 thread, thread CPU clock; methods interleaved per subnet)\n",
      d.name.c_str(), n);
  constexpr int kinds = 6;
  std::array<double, kinds> sum_alone{}, sum_ctx{}, sum_fwd{};
  std::array<int, kinds> count{};
  std::vector<double> err_alone, err_ctx, err_fwd;
  evit::rng g(2024);
  for (int i = 0; i < n; ++i) {
    const evit::arch a = Space::sample(g);
    const std::vector<cost::lut_block> p = cost::lut_blocks(d, a);
    const double pa = alone.predict(a);
    const double pc = context.predict(a);
    double fwd_total = 0;
    const std::vector<double> f = in_forward(net, p, 9, fwd_total);
    const double m = whole.measure(a).median_ms;
    for (std::size_t k = 0; k < p.size(); ++k) {
      const int kind = static_cast<int>(p[k].kind);
      sum_alone[kind] += alone.table().at(p[k]);
      sum_ctx[kind] += context.table().at(p[k]);
      sum_fwd[kind] += f[k];
      ++count[kind];
    }
    err_alone.push_back((pa - m) / m);
    err_ctx.push_back((pc - m) / m);
    err_fwd.push_back((fwd_total - m) / m);
    std::printf(
        "  %2d  whole %7.2f ms  alone %+6.1f%%  context %+6.1f%%  in-forward sum %+6.1f%%\n", i, m,
        100 * err_alone.back(), 100 * err_ctx.back(), 100 * err_fwd.back());
  }
  std::printf("\n  %-10s %6s %12s %12s %12s %14s %14s\n", "kind", "blocks", "alone ms",
              "context ms", "in-fwd ms", "in-fwd/alone", "in-fwd/context");
  for (int k = 0; k < kinds; ++k) {
    if (count[k] == 0) continue;
    std::printf("  %-10s %6d %12.2f %12.2f %12.2f %14.3f %14.3f\n",
                ev::block_kind_name(static_cast<ev::block_kind>(k)), count[k], sum_alone[k],
                sum_ctx[k], sum_fwd[k], sum_fwd[k] / sum_alone[k], sum_fwd[k] / sum_ctx[k]);
  }
  auto line = [](const char* what, const std::vector<double>& e) {
    std::vector<double> a;
    double mean = 0;
    for (double x : e) {
      a.push_back(std::fabs(x));
      mean += x;
    }
    mean /= static_cast<double>(e.size());
    std::printf("  %-34s median |err| %5.1f%%  p90 |err| %5.1f%%  mean signed %+6.1f%%\n", what,
                100 * median(a), 100 * quantile(a, 0.9), 100 * mean);
  };
  std::printf("\n  sum of blocks vs measured whole forward (%d subnets):\n", n);
  line("alone (old profiler)", err_alone);
  line("context (new profiler)", err_ctx);
  line("in-forward block times", err_fwd);
  std::printf("  profiling: alone %.1f s, context %.1f s\n\n", alone.seconds(), context.seconds());
}

void BM_context_block(benchmark::State& st) {
  static const auto net = ev::supernet<ev::mini_space>::random(1);
  cost::block_profiler<ev::mini_space> prof(net, cost::timing().warmup(0).repeats(1), "context",
                                            cost::profile_mode::context);
  const auto blocks = cost::lut_blocks(ev::mini_space::descriptor(), ev::mini_space::max_arch());
  for (auto _ : st) {
    prof.table() = cost::latency_table("context");
    double ms = prof.block_ms(blocks[blocks.size() / 2]);
    benchmark::DoNotOptimize(ms);
  }
}
BENCHMARK(BM_context_block)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  evit::bench::setup(argc, argv);
  int n = 24;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--subnets") == 0) {
      n = std::max(2, std::atoi(argv[i + 1]));
      for (int j = i; j + 2 <= argc; ++j) argv[j] = argv[j + 2];
      argc -= 2;
      break;
    }
  if (evit::bench::is_smoke_run(argc, argv))
    compare<ev::mini_space>(2);
  else
    compare<ev::official_space>(n);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
