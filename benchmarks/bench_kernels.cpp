// SPDX-License-Identifier: MIT
// evit's kernels measured against this machine's own limits, all in one run so that ratios are
// meaningful on a noisy shared machine (docs/design.md#benchmarks):
//   peak_fma          independent FMA chains on the widest vector the build targets: the ceiling
//                     every compute-bound figure is divided by (counter peak_frac);
//   copy, memcpy      copy bandwidth, the ceiling of memory-bound ops (counter copy_frac: each op
//                     against a vector copy of the same bytes, same cache level, same run);
//   linear_*, mlp_*   ElasticViT shapes, sliced from a larger supernet weight vs a packed copy of
//                     the slice vs Eigen's product on the slice; linear_packed_stream: packed
//                     weights from memory, as at batch 1 (counter cached_frac: vs in cache);
//   attention         GFLOP/s and the time split (qkv, v_conv, scores, softmax, av, proj);
//   norms, softmax, activations, depthwise conv: GB/s.
// JSON: --benchmark_format=json. ctest smoke-runs it with --benchmark_min_time=0.01, which this
// program detects to register a reduced sweep (a few seconds in all).
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <Eigen/Core>
#include <benchmark/benchmark.h>

#include "evit/core/rng.hpp"
#include "evit/kernels/kernels.hpp"
#include "evit/nn/workspace.hpp"

#include "bench_common.hpp"

namespace {

using evit::Index;
using evit::kernels::activation;
using Arch = evit::simd::default_arch;
using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using clock_type = std::chrono::steady_clock;

bool g_smoke = false;
double g_peak_gflops = 0;  // measured once at start-up, single core

std::vector<float> random_vector(Index n, std::uint64_t seed, double lo = -1, double hi = 1) {
  evit::rng g(seed);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = static_cast<float>(lo + (hi - lo) * evit::uniform_real(g));
  return v;
}

// ---- machine limits --------------------------------------------------------------------------

// Lanes of the ISA the kernels run on (the dispatcher's choice).
Index lanes() { return evit::simd::lanes<float, Arch>(); }

double fma_loop(long iters) { return double(evit::kernels::fma_chains<Arch>(iters, 1.0f)); }

void BM_peak_fma(benchmark::State& st) {
  const long iters = 1 << 16;
  for (auto _ : st) {
    double r = fma_loop(iters);
    benchmark::DoNotOptimize(r);
  }
  const double flops = 2.0 * evit::kernels::probe_chains * double(lanes()) * double(iters);
  st.counters["GFLOPS"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  st.SetLabel(evit::simd::active_isa_name() + ", " + std::to_string(lanes()) + " lanes");
}

/// The copy every memory-bound op is compared with: a vector load/store loop (what an ideal
/// streaming kernel does, kernels/probe.hpp). glibc's memcpy is also benchmarked, but on this
/// machine its `rep movsb` path runs at ~3 GB/s when the destination sits just past the source
/// modulo 4 KiB (as two consecutive heap buffers do), far below what the hardware streams.
void vector_copy(const float* src, float* dst, Index n) {
  evit::kernels::vector_copy<Arch>(src, dst, n);
}

/// Seconds per copy of `bytes` (read + write; best of a few runs, same buffers reused, so the
/// same cache level as an op that reads and writes that many bytes).
double copy_seconds(std::size_t bytes) {
  const Index n = static_cast<Index>(bytes / 8);
  std::vector<float> a(n + 1, 1.f), b(n + 1, 2.f);
  double best = 1e9;
  const int reps =
      std::max(1, int((g_smoke ? 1 : 20) * (1 << 20) / std::max<std::size_t>(bytes, 1)));
  for (int t = 0; t < 5; ++t) {
    const auto t0 = clock_type::now();
    for (int r = 0; r < reps; ++r) {
      vector_copy(a.data(), b.data(), n);
      benchmark::ClobberMemory();
    }
    best = std::min(best, std::chrono::duration<double>(clock_type::now() - t0).count() / reps);
  }
  return best;
}

// args: bytes moved (read + write). copy = vector_copy, memcpy = glibc.
void BM_copy(benchmark::State& st) {
  const Index n = st.range(0) / 8;
  std::vector<float> a(n, 1.f), b(n, 2.f);
  for (auto _ : st) {
    vector_copy(a.data(), b.data(), n);
    benchmark::ClobberMemory();
  }
  st.counters["GBps"] =
      benchmark::Counter(double(st.range(0)) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_memcpy(benchmark::State& st) {
  const std::size_t bytes = static_cast<std::size_t>(st.range(0));
  std::vector<char> a(bytes / 2, 1), b(bytes / 2, 2);
  for (auto _ : st) {
    std::memcpy(b.data(), a.data(), bytes / 2);
    benchmark::ClobberMemory();
  }
  st.counters["GBps"] =
      benchmark::Counter(double(bytes) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

/// Common counters of compute-bound benchmarks.
void flop_counters(benchmark::State& st, double flops) {
  st.counters["GFLOPS"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  st.counters["peak_frac"] = benchmark::Counter(flops * 1e-9 / g_peak_gflops,
                                                benchmark::Counter::kIsIterationInvariantRate);
}

/// Common counters of memory-bound benchmarks: GB/s and the fraction of the speed of a vector
/// copy of as many bytes (copy_frac), measured right after the op.
void byte_counters(benchmark::State& st, double bytes) {
  const double t_copy = copy_seconds(static_cast<std::size_t>(bytes));
  st.counters["GBps"] =
      benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  st.counters["copy_frac"] =
      benchmark::Counter(t_copy, benchmark::Counter::kIsIterationInvariantRate);
}

// ---- linear and MLP --------------------------------------------------------------------------

// args: tokens N, active width C, output ratio (out = ratio * C). The supernet weight is
// [5 * 320, 320] (the widest ElasticViT fc1), the slice its top-left out x C block.
constexpr Index kCmax = 320, kHiddenMax = 5 * kCmax;

enum class variant { sliced, packed, eigen, packed_panels };

void linear_bench(benchmark::State& st, variant v) {
  const Index N = st.range(0), C = st.range(1), out = st.range(2) * C;
  const auto w = random_vector(kHiddenMax * kCmax, 1, -0.1, 0.1);
  const auto b = random_vector(kHiddenMax, 2);
  const auto x = random_vector(N * C, 3);
  std::vector<float> y(N * out);
  std::vector<float> packed(out * C);
  for (Index o = 0; o < out; ++o)
    std::copy(w.data() + o * kCmax, w.data() + o * kCmax + C, packed.data() + o * C);
  if (v == variant::packed_panels) {  // packed once as panels of Wᵀ, as the FFN runs
    std::vector<float> wp(
        static_cast<std::size_t>(evit::kernels::packed_linear_size(kHiddenMax, kCmax)));
    evit::kernels::pack_linear_weight(w.data(), kHiddenMax, kCmax, wp.data());
    for (auto _ : st) {
      evit::kernels::linear_packed<Arch>(N, C, out, x.data(), C, wp.data(), kCmax, 0, b.data(),
                                         y.data(), out);
      benchmark::DoNotOptimize(y.data());
      benchmark::ClobberMemory();
    }
  } else if (v == variant::eigen) {
    Eigen::Map<const RowMatrix> W(w.data(), kHiddenMax, kCmax), X(x.data(), N, C);
    RowMatrix Y(N, out);
    for (auto _ : st) {
      Y.noalias() = X * W.topLeftCorner(out, C).transpose();
      benchmark::DoNotOptimize(Y.data());
      benchmark::ClobberMemory();
    }
  } else {
    const float* wp = v == variant::sliced ? w.data() : packed.data();
    const Index ld = v == variant::sliced ? kCmax : C;
    for (auto _ : st) {
      evit::kernels::linear<Arch>(N, C, out, x.data(), C, wp, ld, 0, b.data(), y.data(), out);
      benchmark::DoNotOptimize(y.data());
      benchmark::ClobberMemory();
    }
  }
  flop_counters(st, 2.0 * double(N) * double(C) * double(out));
}

void BM_linear_sliced(benchmark::State& st) { linear_bench(st, variant::sliced); }
void BM_linear_packed(benchmark::State& st) { linear_bench(st, variant::packed); }
void BM_linear_eigen(benchmark::State& st) { linear_bench(st, variant::eigen); }
void BM_linear_packed_panels(benchmark::State& st) { linear_bench(st, variant::packed_panels); }

// args: tokens N, inputs, outputs. A packed linear layer whose weights come from memory, as in
// a forward at batch 1 (a subnet's weights, tens of MB, pass through the caches once per image):
// each iteration runs on the next of many packed copies (512 MiB in all, more than this
// machine's share of L3). cached_frac: the same product's time on one copy, whose weights stay
// in cache, over this time (1: the weights' stream costs nothing; the ratio of the minimum
// times, the two products alternating). linear_packed prefetches each next panel during the
// current one.
void BM_linear_packed_stream(benchmark::State& st) {
  const Index N = st.range(0), in = st.range(1), out = st.range(2);
  const Index size = evit::kernels::packed_linear_size(out, in);
  const Index copies = std::max<Index>(2, (g_smoke ? 16 : 512) * Index(1 << 20) / (4 * size));
  std::vector<float> wp(static_cast<std::size_t>(size * copies));
  evit::kernels::pack_linear_weight(random_vector(out * in, 1, -0.1, 0.1).data(), out, in,
                                    wp.data());
  for (Index c = 1; c < copies; ++c)
    std::copy(wp.begin(), wp.begin() + size, wp.begin() + c * size);
  const auto b = random_vector(out, 2);
  const auto x = random_vector(N * in, 3);
  std::vector<float> y(static_cast<std::size_t>(N * out));
  auto product = [&](Index copy) {
    evit::kernels::linear_packed<Arch>(N, in, out, x.data(), in, wp.data() + copy * size, in, 0,
                                       b.data(), y.data(), out, activation::hardswish);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  };
  auto seconds = [&](Index copy) {
    const auto t0 = clock_type::now();
    product(copy);
    return std::chrono::duration<double>(clock_type::now() - t0).count();
  };
  double streamed = 1e30, cached = 1e30;
  Index copy = 1;
  for (auto _ : st) {  // each streamed product followed by an untimed-for-the-rate cached one
    const double t = seconds(copy);
    st.SetIterationTime(t);
    streamed = std::min(streamed, t);
    cached = std::min(cached, seconds(0));
    copy = copy + 1 < copies ? copy + 1 : 1;
  }
  flop_counters(st, 2.0 * double(N) * double(in) * double(out));
  st.counters["cached_frac"] = cached / streamed;
}

// args: rows N, inputs, outputs. linear_packed's blocked path (4 to 12 rows against a long
// reduction: the head at batch 4-12) with its weights in cache (1632 x 64: 418 KB, in L2), so
// that the time is the tiles' arithmetic, not the weights' stream (linear_packed_stream's N:8
// rows are the same tiles on weights from memory).
void BM_linear_packed_blocked(benchmark::State& st) {
  const Index N = st.range(0), in = st.range(1), out = st.range(2);
  std::vector<float> wp(static_cast<std::size_t>(evit::kernels::packed_linear_size(out, in)));
  evit::kernels::pack_linear_weight(random_vector(out * in, 1, -0.1, 0.1).data(), out, in,
                                    wp.data());
  const auto b = random_vector(out, 2);
  const auto x = random_vector(N * in, 3);
  std::vector<float> y(static_cast<std::size_t>(N * out));
  for (auto _ : st) {
    evit::kernels::linear_packed<Arch>(N, in, out, x.data(), in, wp.data(), in, 0, b.data(),
                                       y.data(), out, activation::hardswish);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  flop_counters(st, 2.0 * double(N) * double(in) * double(out));
}

// args: tokens N per sample, samples G, width C, output ratio. A packed linear layer on a
// batch's token maps, each sample's map in its own buffer (row_groups, as the forward's
// workspace holds them), the weights in cache. one_matrix_frac: the time of the same G x N rows
// as one matrix over this time (the ratio of the minimum times, the two products alternating):
// below 1 where each group's last, short row tiles cost extra (on a Zen 4: 0.90 at 25 tokens
// and 0.94 at 49, whose groups end in tiles of 4 and 3 rows; 0.99-1.00 at 9 and 196). Running
// the groups' rows as one sequence of tiles (tiles spanning two samples) was measured there and
// not kept: 0.97-0.98 at 25 and 49 tokens, 0.96 at 9 and 196, and level in the model (README).
// On a Zen 2 (AVX2; 2026-12-06), group by group: 0.81 at 4 tokens (8 groups of one 4-row tile,
// 0.66 of peak), 0.87 at 9, 0.97-0.99 from 16 on; so groups of up to 9 rows now run as one
// sequence (linear_packed): 0.82 of the time at 4 tokens, 0.88 at 9, one_matrix_frac 0.98-0.99.
// On a Zen 5 held to AVX2 (2026-12-07), group by group: one_matrix_frac 0.95 at 16 tokens, 0.93
// at 25, 0.96 at 49; so every group size that is not a multiple of the 6-row tile (up to 512 rows
// in all) now runs as one sequence.
void BM_linear_packed_groups(benchmark::State& st) {
  const Index N = st.range(0), G = st.range(1), C = st.range(2), out = st.range(3) * C;
  const Index stride = (N * std::max(C, out) + 1023) / 1024 * 1024 + 1024;  // apart, as samples
  std::vector<float> wp(
      static_cast<std::size_t>(evit::kernels::packed_linear_size(kHiddenMax, kCmax)));
  evit::kernels::pack_linear_weight(random_vector(kHiddenMax * kCmax, 1, -0.1, 0.1).data(),
                                    kHiddenMax, kCmax, wp.data());
  const auto b = random_vector(kHiddenMax, 2);
  const auto x = random_vector(G * stride, 3);
  std::vector<float> y(static_cast<std::size_t>(G * stride));
  auto seconds = [&](bool groups) {
    const auto t0 = clock_type::now();
    if (groups)
      evit::kernels::linear_packed<Arch>(N, C, out, x.data(), C, wp.data(), kCmax, 0, b.data(),
                                         y.data(), out, activation::hardswish, false,
                                         evit::kernels::row_groups{G, stride, stride});
    else
      evit::kernels::linear_packed<Arch>(G * N, C, out, x.data(), C, wp.data(), kCmax, 0, b.data(),
                                         y.data(), out, activation::hardswish);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
    return std::chrono::duration<double>(clock_type::now() - t0).count();
  };
  double grouped = 1e30, one = 1e30;
  for (auto _ : st) {
    const double t = seconds(true);
    st.SetIterationTime(t);
    grouped = std::min(grouped, t);
    one = std::min(one, seconds(false));
  }
  flop_counters(st, 2.0 * double(G * N) * double(C) * double(out));
  st.counters["one_matrix_frac"] = one / grouped;
}

// args: tokens N, width C, mlp ratio.
void mlp_bench(benchmark::State& st, bool sliced) {
  const Index N = st.range(0), C = st.range(1),
              hidden = evit::kernels::mlp_hidden(double(st.range(2)), C);
  const auto w1 = random_vector(kHiddenMax * kCmax, 1, -0.1, 0.1),
             b1 = random_vector(kHiddenMax, 2);
  const auto w2 = random_vector(kCmax * kHiddenMax, 3, -0.05, 0.05), b2 = random_vector(kCmax, 4);
  std::vector<float> p1(hidden * C), p2(C * hidden);
  for (Index o = 0; o < hidden; ++o) std::copy(&w1[o * kCmax], &w1[o * kCmax] + C, &p1[o * C]);
  for (Index o = 0; o < C; ++o)
    std::copy(&w2[o * kHiddenMax], &w2[o * kHiddenMax] + hidden, &p2[o * hidden]);
  const evit::kernels::mlp_weights<float> w =
      sliced ? evit::kernels::mlp_weights<float>{w1.data(), kCmax,      b1.data(),
                                                 w2.data(), kHiddenMax, b2.data()}
             : evit::kernels::mlp_weights<float>{p1.data(), C,      b1.data(),
                                                 p2.data(), hidden, b2.data()};
  const auto x = random_vector(N * C, 5);
  std::vector<float> y(N * C);
  evit::nn::workspace<float> ws(evit::kernels::mlp_workspace_size(N, hidden));
  for (auto _ : st) {
    evit::kernels::mlp<Arch>(N, C, hidden, C, x.data(), C, w, activation::hardswish, y.data(), C,
                             false, ws.data(), ws.size());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  flop_counters(st, 4.0 * double(N) * double(C) * double(hidden));
}

void BM_mlp_sliced(benchmark::State& st) { mlp_bench(st, true); }
void BM_mlp_packed(benchmark::State& st) { mlp_bench(st, false); }

// Sliced vs packed, robust to a shared machine: each iteration times one sliced call and one
// packed call back to back, and the counters use the fastest of each (the run least disturbed by
// other processes). slice_ratio = best sliced time / best packed time (1.05 = 5% slower).
// args: tokens N, width C, ratio; `mlp` selects the whole MLP instead of one linear layer.
void slice_ratio_bench(benchmark::State& st, bool mlp) {
  const Index N = st.range(0), C = st.range(1);
  const Index out = mlp ? evit::kernels::mlp_hidden(double(st.range(2)), C) : st.range(2) * C;
  // Supernet tensors and packed copies alike live in nn::workspace buffers (huge pages for the
  // multi-MiB supernet tensors, as a model should hold them).
  auto to_buffer = [](const std::vector<float>& v) {
    evit::nn::workspace<float> b(Index(v.size()));
    std::copy(v.begin(), v.end(), b.data());
    return b;
  };
  const auto w1 = to_buffer(random_vector(kHiddenMax * kCmax, 1, -0.1, 0.1));
  const auto w2 = to_buffer(random_vector(kCmax * kHiddenMax, 3, -0.05, 0.05));
  const auto b1 = random_vector(kHiddenMax, 2), b2 = random_vector(kCmax, 4);
  evit::nn::workspace<float> p1(out * C), p2(C * out);
  for (Index o = 0; o < out; ++o)
    std::copy(w1.data() + o * kCmax, w1.data() + o * kCmax + C, p1.data() + o * C);
  for (Index o = 0; o < C; ++o)
    std::copy(w2.data() + o * kHiddenMax, w2.data() + o * kHiddenMax + out, p2.data() + o * out);
  const evit::kernels::mlp_weights<float> ws_sliced{w1.data(), kCmax,      b1.data(),
                                                    w2.data(), kHiddenMax, b2.data()};
  const evit::kernels::mlp_weights<float> ws_packed{p1.data(), C,   b1.data(),
                                                    p2.data(), out, b2.data()};
  const auto x = random_vector(N * C, 5);
  std::vector<float> y(N * std::max(out, C));
  evit::nn::workspace<float> ws(evit::kernels::mlp_workspace_size(N, out));
  auto call = [&](const evit::kernels::mlp_weights<float>& w) {
    if (mlp)
      evit::kernels::mlp<Arch>(N, C, out, C, x.data(), C, w, activation::hardswish, y.data(), C,
                               false, ws.data(), ws.size());
    else
      evit::kernels::linear<Arch>(N, C, out, x.data(), C, w.fc1, w.fc1_ld, 0, w.fc1_bias, y.data(),
                                  out);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  };
  double best_s = 1e9, best_p = 1e9;
  for (auto _ : st) {
    const auto t0 = clock_type::now();
    call(ws_sliced);
    const auto t1 = clock_type::now();
    call(ws_packed);
    const auto t2 = clock_type::now();
    best_s = std::min(best_s, std::chrono::duration<double>(t1 - t0).count());
    best_p = std::min(best_p, std::chrono::duration<double>(t2 - t1).count());
  }
  const double flops = (mlp ? 4.0 : 2.0) * double(N) * double(C) * double(out);
  st.counters["slice_ratio"] = best_s / best_p;
  st.counters["GFLOPS_sliced"] = flops / best_s * 1e-9;
  st.counters["GFLOPS_packed"] = flops / best_p * 1e-9;
  st.counters["peak_frac_sliced"] = flops / best_s * 1e-9 / g_peak_gflops;
}
void BM_linear_slice_ratio(benchmark::State& st) { slice_ratio_bench(st, false); }
void BM_mlp_slice_ratio(benchmark::State& st) { slice_ratio_bench(st, true); }

// ---- attention --------------------------------------------------------------------------------

// args: side (N = side²), C, v_scale, Cmax, Rmax. ElasticViT layer: interleaved heads, relative
// bias, V conv, Hardswish before proj.
void BM_attention(benchmark::State& st) {
  const Index side = st.range(0), C = st.range(1), v = st.range(2), c_max = st.range(3),
              r_max = st.range(4);
  const Index h_max = c_max / 16, dv_max = 64;
  const auto qkv = random_vector((2 * c_max + h_max * dv_max) * c_max, 1, -0.1, 0.1);
  const auto proj = random_vector(c_max * h_max * dv_max, 2, -0.05, 0.05);
  const auto pb = random_vector(c_max, 3);
  const auto rel = random_vector((2 * r_max - 1) * (2 * r_max - 1) * h_max, 4);
  const auto vc = random_vector(h_max * dv_max * 9, 5, -0.3, 0.3);
  auto w = evit::kernels::attention_weights<float>::elasticvit(qkv.data(), c_max, proj.data(),
                                                               h_max * dv_max, pb.data())
               .with_rel_bias(rel.data(), r_max, h_max)
               .with_v_conv(vc.data());
  const auto cfg = evit::kernels::attention_config::fixed_head_dim(side, C, 16, 1, v)
                       .with_pre_proj(activation::hardswish);
  const Index N = cfg.tokens, h = cfg.heads, dv = cfg.v_dim, hdv = h * dv;
  const auto x = random_vector(N * C, 6);
  std::vector<float> y(N * C);
  evit::nn::workspace<float> ws(evit::kernels::attention_workspace_size<Arch, float>(cfg));
  evit::kernels::attention_profile prof;
  for (auto _ : st) {
    evit::kernels::attention<Arch>(1, cfg, w, x.data(), C, y.data(), C, false, ws.data(), ws.size(),
                                   &prof);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  const double flops = 2.0 * N * C * cfg.qkv_width() + 2.0 * 9 * N * hdv + 2.0 * h * N * N * 16 +
                       2.0 * h * N * N * dv + 2.0 * N * hdv * C;
  flop_counters(st, flops);
  const double total = std::max(prof.total(), 1e-12);
  st.counters["t_qkv"] = prof.qkv / total;
  st.counters["t_vconv"] = prof.v_conv / total;
  st.counters["t_scores"] = prof.scores / total;
  st.counters["t_softmax"] = prof.softmax / total;
  st.counters["t_av"] = prof.av / total;
  st.counters["t_proj"] = prof.proj / total;
}

// ---- memory-bound ops -------------------------------------------------------------------------

// args: N, C.
void BM_sample_norm(benchmark::State& st) {
  const Index N = st.range(0), C = st.range(1);
  const auto x = random_vector(N * C, 1), g = random_vector(C, 2), b = random_vector(C, 3);
  std::vector<float> y(N * C);
  for (auto _ : st) {
    evit::kernels::sample_norm<Arch>(N, C, x.data(), C, g.data(), b.data(), 1e-5f, y.data(), C);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  byte_counters(st, 2.0 * 4.0 * double(N * C));
}

void BM_layer_norm(benchmark::State& st) {
  const Index N = st.range(0), C = st.range(1);
  const auto x = random_vector(N * C, 1), g = random_vector(C, 2), b = random_vector(C, 3);
  std::vector<float> y(N * C);
  for (auto _ : st) {
    evit::kernels::layer_norm_rows<Arch>(N, C, x.data(), C, g.data(), b.data(), 1e-5f, y.data(), C);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  byte_counters(st, 2.0 * 4.0 * double(N * C));
}

// args: rows, cols. A conv stage's planes into tokens (the forward's transposes at a
// reduction), against the bytes it moves.
void BM_transpose(benchmark::State& st) {
  const Index rows = st.range(0), cols = st.range(1);
  const auto x = random_vector(rows * cols, 1);
  std::vector<float> y(static_cast<std::size_t>(rows * cols));
  for (auto _ : st) {
    evit::kernels::transpose<Arch>(rows, cols, x.data(), y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  byte_counters(st, 2.0 * 4.0 * double(rows * cols));
}

// args: C, HW.
void BM_batch_norm_hswish(benchmark::State& st) {
  const Index C = st.range(0), HW = st.range(1);
  const auto x = random_vector(C * HW, 1), m = random_vector(C, 2),
             v = random_vector(C, 3, 0.5, 1.5);
  std::vector<float> y(C * HW);
  const evit::kernels::batch_norm_params<float> bn{m.data(), v.data(), nullptr, nullptr, 1e-5f};
  for (auto _ : st) {
    evit::kernels::batch_norm_nchw<Arch>(C, HW, x.data(), bn, y.data(), activation::hardswish);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  byte_counters(st, 2.0 * 4.0 * double(C * HW));
}

// args: N (rows and columns of the logits).
void BM_softmax(benchmark::State& st) {
  const Index N = st.range(0);
  const auto x0 = random_vector(N * N, 1, -5, 5);
  std::vector<float> x = x0;
  for (auto _ : st) {
    evit::kernels::softmax_rows<Arch>(N, N, x.data(), N);
    benchmark::DoNotOptimize(x.data());
    benchmark::ClobberMemory();
  }
  byte_counters(st, 2.0 * 4.0 * double(N * N));
}

// args: n elements; one benchmark per activation.
void activation_bench(benchmark::State& st, activation a) {
  const Index n = st.range(0);
  auto x = random_vector(n, 1, -4, 4);
  for (auto _ : st) {
    evit::kernels::activate<Arch>(a, x.data(), n);
    benchmark::DoNotOptimize(x.data());
    benchmark::ClobberMemory();
    // Hardswish maps [-4, 4] into itself, GELU too; ReLU converges to the positive part.
  }
  byte_counters(st, 2.0 * 4.0 * double(n));
}
void BM_hardswish(benchmark::State& st) { activation_bench(st, activation::hardswish); }
void BM_gelu_erf(benchmark::State& st) { activation_bench(st, activation::gelu_erf); }
void BM_gelu_tanh(benchmark::State& st) { activation_bench(st, activation::gelu_tanh); }

// args: C, side, k, stride. MBConv depthwise conv with fused BatchNorm + Hardswish; the k = 3
// kernels are cropped from 5x5 supernet kernels.
void BM_depthwise_conv(benchmark::State& st) {
  const Index C = st.range(0), H = st.range(1), k = st.range(2), s = st.range(3);
  const Index Ho = evit::kernels::conv_out_size(H, k, s, k / 2);
  const auto x = random_vector(C * H * H, 1), w = random_vector(C * 25, 2);
  const auto sc = random_vector(C, 3, 0.5, 1.5), sh = random_vector(C, 4);
  std::vector<float> y(C * Ho * Ho);
  evit::nn::workspace<float> ws(
      evit::kernels::depthwise_conv2d_workspace_size<Arch, float>(H, H, k, s));
  const auto ep = evit::kernels::epilogue<float>{}
                      .with_row_scale(sc.data())
                      .with_row_bias(sh.data())
                      .with_activation(activation::hardswish);
  for (auto _ : st) {
    evit::kernels::depthwise_conv2d<Arch>(C, H, H, x.data(), k, s, w.data(), 5, y.data(), ep,
                                          ws.data(), ws.size());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  byte_counters(st, 4.0 * double(C * H * H + C * Ho * Ho));
  flop_counters(st, 2.0 * double(C * Ho * Ho * k * k));
}

// The same on channels-last maps (the reductions after a transformer stage): the same args,
// bytes and FLOPs as depthwise_conv's row for the kernel on planes.
void BM_depthwise_conv_tokens(benchmark::State& st) {
  const Index C = st.range(0), H = st.range(1), k = st.range(2), s = st.range(3);
  const Index Ho = evit::kernels::conv_out_size(H, k, s, k / 2);
  const auto x = random_vector(C * H * H, 1), w = random_vector(C * 25, 2);
  const auto sc = random_vector(C, 3, 0.5, 1.5), sh = random_vector(C, 4);
  std::vector<float> y(C * Ho * Ho), taps(w.size());
  evit::kernels::pack_depthwise_taps(w.data(), C, 5, taps.data());
  const auto ep = evit::kernels::epilogue<float>{}
                      .with_row_scale(sc.data())
                      .with_row_bias(sh.data())
                      .with_activation(activation::hardswish);
  for (auto _ : st) {
    evit::kernels::depthwise_conv2d_tokens<Arch>(H, H, x.data(), C, k, s, taps.data(), 5, C,
                                                 y.data(), C, ep, 0, C);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  byte_counters(st, 4.0 * double(C * H * H + C * Ho * Ho));
  flop_counters(st, 2.0 * double(C * Ho * Ho * k * k));
}

// An MBConv's expansion (BN + Hardswish), depthwise (BN + Hardswish) and projection (BN) on one
// image: the three whole-map ops (band = 0), or kernels::mbconv_bands with bands of about 2^band
// expanded floats (the forward's: elasticvit::band_floats). Same bits; the ratio is what banding
// buys, and which band size does on this CPU's caches. args: in, expand ratio, H, k, stride, out,
// band.
void BM_mbconv(benchmark::State& st) {
  evit::kernels::mbconv_band_shape s;
  s.in = st.range(0);
  s.inner = st.range(0) * st.range(1);
  s.H = st.range(2);
  s.k = st.range(3);
  s.stride = st.range(4);
  s.out = st.range(5);
  const bool banded = st.range(6) != 0;
  const Index H = s.H, side = s.side(), inner = s.inner;
  s.rows = evit::kernels::mbconv_band_rows(inner, H, s.k, s.stride, Index(1) << st.range(6));
  const auto x = random_vector(s.in * H * H, 1), we = random_vector(inner * s.in, 2);
  const auto wd = random_vector(inner * 25, 3), wp = random_vector(s.out * inner, 4);
  const auto sc = random_vector(inner, 5, 0.5, 1.5), sh = random_vector(inner, 6);
  std::vector<float> e(inner * H * H), d(inner * side * side), y(s.out * side * side);
  const Index wsn =
      std::max(s.workspace_size<Arch, float>(),
               evit::kernels::depthwise_conv2d_workspace_size<Arch, float>(H, H, s.k, s.stride));
  evit::nn::workspace<float> ws(wsn);
  const auto ep = evit::kernels::epilogue<float>{}
                      .with_row_scale(sc.data())
                      .with_row_bias(sh.data())
                      .with_activation(activation::hardswish);
  const auto project_ep =
      evit::kernels::epilogue<float>{}.with_row_scale(sc.data()).with_row_bias(sh.data());
  const evit::kernels::mbconv_weights<float> w{we.data(), s.in, wd.data(), 5, wp.data(), inner};
  for (auto _ : st) {
    if (banded) {
      evit::kernels::mbconv_bands<Arch>(s, x.data(), w, ep, ep, project_ep, y.data(), e.data(),
                                        d.data(), ws.data(), ws.size());
    } else {
      evit::kernels::pointwise_conv<Arch>(inner, s.in, H * H, we.data(), s.in, x.data(), e.data(),
                                          ep, ws.data(), ws.size());
      evit::kernels::depthwise_conv2d<Arch>(inner, H, H, e.data(), s.k, s.stride, wd.data(), 5,
                                            d.data(), ep, ws.data(), ws.size());
      evit::kernels::pointwise_conv<Arch>(s.out, inner, side * side, wp.data(), inner, d.data(),
                                          y.data(), project_ep, ws.data(), ws.size());
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  st.counters["band_rows"] = double(s.rows);
  flop_counters(st, 2.0 * double(inner * (s.in * H * H + side * side * (s.k * s.k + s.out))));
}

// The first conv: 3x3 stride 2 from the RGB image (its taps read in place by the GEMM tiles),
// BatchNorm + Hardswish.
// args: out, R (the input side).
void BM_first_conv(benchmark::State& st) {
  const Index out = st.range(0), R = st.range(1), in = 3, k = 3;
  const Index Ro = evit::kernels::conv_out_size(R, k, 2, 1);
  const auto x = random_vector(in * R * R, 1), w = random_vector(out * in * k * k, 2);
  const auto sc = random_vector(out, 3, 0.5, 1.5), sh = random_vector(out, 4);
  std::vector<float> y(out * Ro * Ro);
  evit::nn::workspace<float> ws(
      evit::kernels::conv2d_workspace_size<Arch, float>(in, R, R, k, 2, 1));
  const auto ep = evit::kernels::epilogue<float>{}
                      .with_row_scale(sc.data())
                      .with_row_bias(sh.data())
                      .with_activation(activation::hardswish);
  for (auto _ : st) {
    evit::kernels::conv2d<Arch>(out, in, R, R, x.data(), k, 2, 1, w.data(), in * k * k, y.data(),
                                ep, ws.data(), ws.size());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  flop_counters(st, 2.0 * double(out * in * k * k * Ro * Ro));
}

// args: in, out, HW, and whether the epilogue applies BatchNorm and Hardswish (the forward's
// expansion) or nothing (a bare product).
void BM_pointwise_conv(benchmark::State& st) {
  const Index C = st.range(0), out = st.range(1), HW = st.range(2);
  const auto w = random_vector(out * C, 1), x = random_vector(C * HW, 2);
  const auto sc = random_vector(out, 3, 0.5, 1.5), sh = random_vector(out, 4);
  std::vector<float> y(out * HW);
  evit::nn::workspace<float> ws(evit::kernels::pointwise_conv_workspace_size<Arch, float>(C));
  evit::kernels::epilogue<float> ep;
  if (st.range(3)) {
    ep.row_scale = sc.data();
    ep.row_bias = sh.data();
    ep.act = activation::hardswish;
  }
  for (auto _ : st) {
    evit::kernels::pointwise_conv<Arch>(out, C, HW, w.data(), C, x.data(), y.data(), ep, ws.data(),
                                        ws.size());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  flop_counters(st, 2.0 * double(out * C * HW));
}

// The 1x1 convs of the last stages' small planes for a batch (images a workspace stride apart,
// BN + Hardswish): pointwise_conv image by image (32-pixel panels, mostly padding at 1-16
// pixels; the weights read again per image) vs pointwise_conv_small (the batch's pixels as the
// rows of one product). args: batch, in, out, HW.
enum class small_plane_variant { per_image, batched, packed };
void small_plane_bench(benchmark::State& st, small_plane_variant v) {
  const Index batch = st.range(0), in = st.range(1), out = st.range(2), hw = st.range(3);
  const Index stride = (in + out) * hw + 64;
  const auto w = random_vector(out * in, 1), x = random_vector(batch * stride, 2);
  std::vector<float> wp;
  if (v == small_plane_variant::packed) {
    wp.resize(static_cast<std::size_t>(evit::kernels::packed_linear_size(out, in)));
    evit::kernels::pack_linear_weight(w.data(), out, in, wp.data());
  }
  const auto sc = random_vector(out, 3, 0.5, 1.5), sh = random_vector(out, 4);
  std::vector<float> y(static_cast<std::size_t>(batch * stride));
  evit::nn::workspace<float> ws(
      std::max(evit::kernels::pointwise_conv_small_workspace_size(in, out),
               evit::kernels::pointwise_conv_workspace_size<Arch, float>(in)));
  const auto ep = evit::kernels::epilogue<float>{}
                      .with_row_scale(sc.data())
                      .with_row_bias(sh.data())
                      .with_activation(activation::hardswish);
  for (auto _ : st) {
    const evit::kernels::row_groups images{batch, stride, stride};
    if (v == small_plane_variant::batched)
      evit::kernels::pointwise_conv_small<Arch>(out, in, hw, w.data(), in, x.data(), y.data(),
                                                images, ep, 0, out, ws.data(), ws.size());
    else if (v == small_plane_variant::packed)
      evit::kernels::pointwise_conv_small_packed<Arch>(
          out, in, hw, wp.data(), in, x.data(), y.data(), images, ep, 0, out, ws.data(), ws.size());
    else
      for (Index i = 0; i < batch; ++i)
        evit::kernels::pointwise_conv<Arch>(out, in, hw, w.data(), in, x.data() + i * stride,
                                            y.data() + i * stride, ep, ws.data(), ws.size());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  flop_counters(st, 2.0 * double(batch * out * in * hw));
}
void BM_pointwise_conv_per_image(benchmark::State& st) {
  small_plane_bench(st, small_plane_variant::per_image);
}
void BM_pointwise_conv_small(benchmark::State& st) {
  small_plane_bench(st, small_plane_variant::batched);
}
void BM_pointwise_conv_small_packed(benchmark::State& st) {
  small_plane_bench(st, small_plane_variant::packed);
}

// The head's two vector layers (pooled eC -> hidden, hidden -> 1000 classes) for a batch: one
// product per sample (each reading the weights, megabytes, again), one product over the batch
// (rows a sample stride apart) on the row-major weights, or on the weights packed as panels (as
// the forward runs it, load_options::pack_weights). args: batch, eC, hidden.
enum class head_variant { per_sample, batched, packed };
void head_vectors_bench(benchmark::State& st, head_variant v) {
  const Index batch = st.range(0), ec = st.range(1), hid = st.range(2), classes = 1000;
  const Index ec_max = 6 * 320, stride = ec + hid + 64;  // rows a sample apart, as in a workspace
  const auto w1 = random_vector(2048 * ec_max, 1, -0.05, 0.05), b1 = random_vector(2048, 2);
  const auto w2 = random_vector(classes * hid, 3, -0.05, 0.05), b2 = random_vector(classes, 4);
  std::vector<float> p1, p2;
  if (v == head_variant::packed) {
    p1.resize(static_cast<std::size_t>(evit::kernels::packed_linear_size(2048, ec_max)));
    p2.resize(static_cast<std::size_t>(evit::kernels::packed_linear_size(classes, hid)));
    evit::kernels::pack_linear_weight(w1.data(), 2048, ec_max, p1.data());
    evit::kernels::pack_linear_weight(w2.data(), classes, hid, p2.data());
  }
  auto buf = random_vector(batch * stride, 5);
  std::vector<float> logits(static_cast<std::size_t>(batch * classes));
  for (auto _ : st) {
    if (v == head_variant::packed) {
      evit::kernels::linear_packed<Arch>(batch, ec, hid, buf.data(), stride, p1.data(), ec_max, 0,
                                         b1.data(), buf.data() + ec, stride, activation::hardswish);
      evit::kernels::linear_packed<Arch>(batch, hid, classes, buf.data() + ec, stride, p2.data(),
                                         hid, 0, b2.data(), logits.data(), classes);
    } else if (v == head_variant::batched) {
      evit::kernels::linear<Arch>(batch, ec, hid, buf.data(), stride, w1.data(), ec_max, 0,
                                  b1.data(), buf.data() + ec, stride, activation::hardswish);
      evit::kernels::linear<Arch>(batch, hid, classes, buf.data() + ec, stride, w2.data(), hid, 0,
                                  b2.data(), logits.data(), classes);
    } else {
      for (Index i = 0; i < batch; ++i) {
        float* x = buf.data() + i * stride;
        evit::kernels::linear<Arch>(1, ec, hid, x, ec, w1.data(), ec_max, 0, b1.data(), x + ec, hid,
                                    activation::hardswish);
        evit::kernels::linear<Arch>(1, hid, classes, x + ec, hid, w2.data(), hid, 0, b2.data(),
                                    logits.data() + i * classes, classes);
      }
    }
    benchmark::DoNotOptimize(logits.data());
    benchmark::ClobberMemory();
  }
  flop_counters(st, 2.0 * double(batch) * double(ec * hid + hid * classes));
}
void BM_head_per_sample(benchmark::State& st) { head_vectors_bench(st, head_variant::per_sample); }
void BM_head_batched(benchmark::State& st) { head_vectors_bench(st, head_variant::batched); }
void BM_head_packed(benchmark::State& st) { head_vectors_bench(st, head_variant::packed); }

// Squeeze-excite's two FCs (inner -> inner/4 -> inner) and its gating in a late reduction
// block for a batch: once per sample (each reading W1 and W2, megabytes, again) vs once over the
// batch (vectors and planes a sample stride apart) on the row-major weights (gemm_nt's dot-product
// tiles: the weights read again for every two samples) vs on packed weights (linear_packed: read
// once; as the forward runs a reduction with load_options::pack_weights). args: batch, inner, HW.
enum class se_variant { per_sample, batched, packed };
void squeeze_excite_bench(benchmark::State& st, se_variant variant) {
  const bool batched = variant != se_variant::per_sample;
  const Index batch = st.range(0), inner = st.range(1), hw = st.range(2), reduced = inner / 4;
  const Index inner_max = 1920, reduced_max = inner_max / 4;
  const Index stride = inner * hw + inner + reduced + 64;  // a sample's planes, then its vectors
  const auto w1 = random_vector(reduced_max * inner_max, 1, -0.05, 0.05);
  const auto w2 = random_vector(inner_max * reduced_max, 2, -0.05, 0.05);
  const auto b1 = random_vector(reduced_max, 3), b2 = random_vector(inner_max, 4);
  evit::kernels::squeeze_excite_weights<float> se{w1.data(), inner_max,   b1.data(),
                                                  w2.data(), reduced_max, b2.data()};
  std::vector<float> p1, p2;
  if (variant == se_variant::packed) {
    p1.resize(static_cast<std::size_t>(evit::kernels::packed_linear_size(reduced_max, inner_max)));
    p2.resize(static_cast<std::size_t>(evit::kernels::packed_linear_size(inner_max, reduced_max)));
    evit::kernels::pack_linear_weight(w1.data(), reduced_max, inner_max, p1.data());
    evit::kernels::pack_linear_weight(w2.data(), inner_max, reduced_max, p2.data());
    se.w1_packed = p1.data();
    se.w2_packed = p2.data();
  }
  const auto fresh = random_vector(batch * stride, 5, 0.9, 1.1);
  auto buf = fresh;
  float* pooled = buf.data() + inner * hw;  // sample 0's vectors
  float* squeezed = pooled + inner;
  for (auto _ : st) {
    // The gating scales the planes in place: fresh ones each time (in both variants), else they
    // shrink towards subnormals over the iterations.
    std::copy(fresh.begin(), fresh.end(), buf.begin());
    if (batched) {
      const evit::kernels::row_groups samples{batch, stride, stride};
      evit::kernels::squeeze_excite_squeeze<Arch>(inner, reduced, pooled, se, squeezed, 0, reduced,
                                                  samples);
      evit::kernels::squeeze_excite_scale<Arch>(inner, reduced, hw, buf.data(), se, squeezed,
                                                pooled, 0, inner, samples);
    } else {
      for (Index i = 0; i < batch; ++i) {
        evit::kernels::squeeze_excite_squeeze<Arch>(inner, reduced, pooled + i * stride, se,
                                                    squeezed + i * stride, 0, reduced);
        evit::kernels::squeeze_excite_scale<Arch>(inner, reduced, hw, buf.data() + i * stride, se,
                                                  squeezed + i * stride, pooled + i * stride, 0,
                                                  inner);
      }
    }
    benchmark::DoNotOptimize(buf.data());
    benchmark::ClobberMemory();
  }
  flop_counters(st, 4.0 * double(batch) * double(inner * reduced));
}
void BM_squeeze_excite_per_sample(benchmark::State& st) {
  squeeze_excite_bench(st, se_variant::per_sample);
}
void BM_squeeze_excite_batched(benchmark::State& st) {
  squeeze_excite_bench(st, se_variant::batched);
}
void BM_squeeze_excite_packed(benchmark::State& st) {
  squeeze_excite_bench(st, se_variant::packed);
}

void register_all() {
  using benchmark::RegisterBenchmark;
  RegisterBenchmark("peak_fma", BM_peak_fma);
  for (long kb : g_smoke ? std::vector<long>{64} : std::vector<long>{64, 1024, 16384}) {
    RegisterBenchmark("copy", BM_copy)->Arg(kb * 1024)->ArgName("bytes");
    RegisterBenchmark("memcpy", BM_memcpy)->Arg(kb * 1024)->ArgName("bytes");
  }

  const std::vector<long> tokens =
      g_smoke ? std::vector<long>{4, 64} : std::vector<long>{4, 16, 64, 256};
  const std::vector<long> widths =
      g_smoke ? std::vector<long>{48, 320} : std::vector<long>{48, 96, 160, 320};
  const std::vector<long> ratios = g_smoke ? std::vector<long>{4} : std::vector<long>{1, 4, 5};
  for (auto fn : {std::make_pair("linear_sliced", BM_linear_sliced),
                  std::make_pair("linear_packed", BM_linear_packed),
                  std::make_pair("linear_eigen", BM_linear_eigen),
                  std::make_pair("linear_packed_panels", BM_linear_packed_panels)})
    RegisterBenchmark(fn.first, fn.second)
        ->ArgsProduct({tokens, widths, ratios})
        ->ArgNames({"N", "C", "ratio"});
  // Token counts whose last row tile would be short (6-row tiles): elastic_T2's and S1's 3 x 3
  // last stage (9 rows: one tile of 5 and one of 4), a 5 x 5 grid (25 = 3 x 6 + 4 + 3).
  RegisterBenchmark("linear_packed_panels", BM_linear_packed_panels)
      ->ArgsProduct({g_smoke ? std::vector<long>{9} : std::vector<long>{9, 25}, {256}, {1, 4}})
      ->ArgNames({"N", "C", "ratio"});
  // A batch of 8 samples' token maps of 4, 9, 16, 25, 49 and 196 tokens (elastic_T1's last two
  // stages at 4 and 16; each sample's rows in one 4-row tile at 4 tokens, 5 + 4 at 9, 6 + 5 + 5
  // at 16, tiles of 6 and 5 rows from 25 on).
  RegisterBenchmark("linear_packed_groups", BM_linear_packed_groups)
      ->ArgsProduct({g_smoke ? std::vector<long>{9} : std::vector<long>{4, 9, 16, 25, 49, 196},
                     {8},
                     {256},
                     {1, 2}})
      ->ArgNames({"N", "G", "C", "ratio"})
      ->UseManualTime();
  for (long rows : g_smoke ? std::vector<long>{8} : std::vector<long>{4, 5, 6, 7, 8, 9, 12})
    RegisterBenchmark("linear_packed_blocked", BM_linear_packed_blocked)
        ->Args({rows, 1632, 64})
        ->ArgNames({"N", "in", "out"});
  // (N, in, out): fc1 and fc2 of a 320-wide ElasticViT MLP at 7 x 7 and 14 x 14 tokens, of a
  // 384-wide one at 4 x 4, the head's 1 x 1280 -> 1000, elastic_T1's head vector layers at
  // batch 8 (8 x 1632 -> 1984, 8 x 1984 -> 1000).
  std::vector<std::vector<long>> streamed = {{49, 320, 1280}, {49, 1280, 320}, {196, 192, 768},
                                             {196, 768, 192}, {16, 384, 1536}, {1, 1280, 1000},
                                             {8, 1632, 1984}, {8, 1984, 1000}};
  if (g_smoke) streamed = {{49, 320, 1280}};
  for (const auto& a : streamed)
    RegisterBenchmark("linear_packed_stream", BM_linear_packed_stream)
        ->Args(a)
        ->ArgNames({"N", "in", "out"})
        ->UseManualTime();
  RegisterBenchmark("linear_slice_ratio", BM_linear_slice_ratio)
      ->ArgsProduct({tokens, widths, ratios})
      ->ArgNames({"N", "C", "ratio"});
  RegisterBenchmark("mlp_slice_ratio", BM_mlp_slice_ratio)
      ->ArgsProduct({tokens, widths, {4}})
      ->ArgNames({"N", "C", "ratio"});
  for (auto fn :
       {std::make_pair("mlp_sliced", BM_mlp_sliced), std::make_pair("mlp_packed", BM_mlp_packed)})
    RegisterBenchmark(fn.first, fn.second)
        ->ArgsProduct({tokens, widths, {4}})
        ->ArgNames({"N", "C", "ratio"});

  // (side, C, v_scale, Cmax, Rmax) per ElasticViT transformer stage.
  std::vector<std::vector<long>> att = {
      {2, 320, 2, 320, 4},  {4, 320, 2, 320, 4}, {4, 192, 2, 288, 8}, {8, 192, 2, 288, 8},
      {8, 128, 2, 160, 16}, {16, 64, 2, 96, 16}, {16, 96, 4, 96, 16}};
  if (g_smoke) att = {{4, 192, 2, 288, 8}, {8, 128, 2, 160, 16}};
  for (const auto& a : att)
    RegisterBenchmark("attention", BM_attention)
        ->Args(a)
        ->ArgNames({"side", "C", "v", "Cmax", "Rmax"});

  const std::vector<std::vector<long>> norms =
      g_smoke ? std::vector<std::vector<long>>{{64, 96}}
              : std::vector<std::vector<long>>{{16, 320}, {64, 96}, {256, 64}};
  for (const auto& a : norms) {
    RegisterBenchmark("sample_norm", BM_sample_norm)->Args(a)->ArgNames({"N", "C"});
    RegisterBenchmark("layer_norm", BM_layer_norm)->Args(a)->ArgNames({"N", "C"});
  }
  // M's reduction at 224 pixels: its 48 x 28 x 28 input, its 64-channel 14 x 14 output.
  for (auto a : {std::vector<long>{48, 784}, std::vector<long>{64, 196}})
    RegisterBenchmark("transpose", BM_transpose)->Args(a)->ArgNames({"rows", "cols"});
  RegisterBenchmark("batch_norm_hswish", BM_batch_norm_hswish)
      ->Args({96, 56 * 56})
      ->ArgNames({"C", "HW"});
  for (long n : g_smoke ? std::vector<long>{64} : std::vector<long>{16, 64, 256})
    RegisterBenchmark("softmax", BM_softmax)->Arg(n)->ArgName("N");
  for (long n : g_smoke ? std::vector<long>{16384} : std::vector<long>{16384, 262144}) {
    RegisterBenchmark("hardswish", BM_hardswish)->Arg(n)->ArgName("n");
    RegisterBenchmark("gelu_erf", BM_gelu_erf)->Arg(n)->ArgName("n");
    RegisterBenchmark("gelu_tanh", BM_gelu_tanh)->Arg(n)->ArgName("n");
  }
  // (batch, eC, hidden): elastic_T1's head (e6 x 272, 1984) and elastic_L3's.
  std::vector<std::vector<long>> head = {
      {1, 1632, 1984}, {4, 1632, 1984}, {8, 1632, 1984}, {8, 1920, 1984}};
  if (g_smoke) head = {{2, 1632, 1984}};
  for (const auto& a : head)
    for (const auto& fn : {std::make_pair("head_per_sample", BM_head_per_sample),
                           std::make_pair("head_batched", BM_head_batched),
                           std::make_pair("head_packed", BM_head_packed)})
      RegisterBenchmark(fn.first, fn.second)->Args(a)->ArgNames({"batch", "eC", "hidden"});
  // (batch, inner, HW): elastic_T1's last reduction (176 x 6 channels at 2 x 2), a wider one.
  std::vector<std::vector<long>> se = {{8, 1056, 4}, {8, 1536, 4}, {1, 1152, 16}};
  if (g_smoke) se = {{2, 1056, 4}};
  for (const auto& a : se) {
    RegisterBenchmark("squeeze_excite_per_sample", BM_squeeze_excite_per_sample)
        ->Args(a)
        ->ArgNames({"batch", "inner", "HW"});
    RegisterBenchmark("squeeze_excite_batched", BM_squeeze_excite_batched)
        ->Args(a)
        ->ArgNames({"batch", "inner", "HW"});
    RegisterBenchmark("squeeze_excite_packed", BM_squeeze_excite_packed)
        ->Args(a)
        ->ArgNames({"batch", "inner", "HW"});
  }
  std::vector<std::vector<long>> dw = {{72, 56, 3, 1},
                                       {72, 56, 5, 2},
                                       {144, 28, 5, 1},
                                       {240, 14, 3, 2},
                                       {576, 7, 3, 1},
                                       {96, 56, 3, 1},
                                       {144, 28, 3, 1},
                                       {576, 10, 3, 2},
                                       {1056, 5, 3, 2},
                                       // M's stride-2 MBConvs (plane-wise), T2's (rows of
                                       // 80 and 40: halves of 40 and 20, partial vectors on
                                       // AVX-512) and T1's (64)
                                       {48, 112, 3, 2},
                                       {96, 56, 3, 2},
                                       {48, 80, 3, 2},
                                       {72, 40, 3, 2},
                                       {48, 64, 3, 2},
                                       // the depthwise of M's and L3's reductions on tokens
                                       {384, 14, 3, 1},
                                       {576, 14, 3, 2},
                                       {1152, 7, 3, 2},
                                       {1536, 8, 3, 2}};
  if (g_smoke) dw = {{72, 28, 3, 1}, {72, 28, 5, 2}};
  for (const auto& a : dw) {
    RegisterBenchmark("depthwise_conv", BM_depthwise_conv)
        ->Args(a)
        ->ArgNames({"C", "H", "k", "stride"});
    RegisterBenchmark("depthwise_conv_tokens", BM_depthwise_conv_tokens)
        ->Args(a)
        ->ArgNames({"C", "H", "k", "stride"});
  }
  // (in, expand, H, k, stride, out): the MBConvs that run in bands in elastic_L3 (16 -> 32 at
  // 128 -> 64, 32 -> 32 at 64), S2 (16 -> 24 at 112 -> 56), L1 (16 -> 24 at 128 -> 64, k 5) and
  // M (32 -> 48 at 56 -> 28: input rows whose half, 28, ends in a partial vector).
  std::vector<std::vector<long>> mb = {{16, 5, 128, 3, 2, 32}, {32, 5, 64, 3, 1, 32},
                                       {16, 3, 112, 3, 2, 24}, {16, 3, 128, 5, 2, 24},
                                       {24, 3, 64, 5, 1, 24},  {32, 3, 56, 3, 2, 48}};
  if (g_smoke) mb = {{16, 3, 40, 3, 2, 24}};
  for (const auto& a : mb)
    for (long band : {0, 15, 16, 17}) {
      auto args = a;
      args.push_back(band);
      RegisterBenchmark("mbconv", BM_mbconv)
          ->Args(args)
          ->ArgNames({"in", "e", "H", "k", "stride", "out", "band"});
    }
  // (out, R): the official space's first conv at its smallest and largest resolutions, and at
  // 160 and 224 (80 and 112 outputs a row: a last run of one vector on AVX-512).
  for (const auto& a :
       g_smoke ? std::vector<std::vector<long>>{{16, 128}}
               : std::vector<std::vector<long>>{{16, 128}, {16, 160}, {16, 224}, {24, 256}})
    RegisterBenchmark("first_conv", BM_first_conv)->Args(a)->ArgNames({"out", "R"});
  std::vector<std::vector<long>> pw = {
      {24, 144, 3136}, {144, 24, 3136}, {48, 288, 196}, {288, 288, 49}};
  // elastic_M's MBConv expansions (from 16-48 channels) and projections
  const std::vector<std::vector<long>> mbconv_pw = {{16, 48, 12544}, {32, 96, 3136},
                                                    {48, 144, 784},  {48, 32, 3136},
                                                    {96, 32, 3136},  {144, 48, 784}};
  pw.insert(pw.end(), mbconv_pw.begin(), mbconv_pw.end());
  // Expansions on planes of a multiple of 4 KiB (the rows of a panel read in place all in one L1
  // set): elastic_L3's at 128 x 128 and 64 x 64, elastic_S1's at 96 x 96, elastic_T1's at 64 x 64
  // and 32 x 32
  const std::vector<std::vector<long>> aliased_pw = {
      {16, 80, 16384}, {32, 160, 4096}, {16, 48, 9216}, {16, 48, 4096}, {24, 72, 1024}};
  pw.insert(pw.end(), aliased_pw.begin(), aliased_pw.end());
  if (g_smoke) pw = {{48, 288, 196}};
  for (const auto& a : pw)
    for (long bn_hswish : {0, 1})
      RegisterBenchmark("pointwise_conv", BM_pointwise_conv)
          ->Args({a[0], a[1], a[2], bn_hswish})
          ->ArgNames({"in", "out", "HW", "bn_hswish"});
  // (batch, in, out, HW): elastic_T1's last reduction (176 -> 1056 at 2x2 in, 1056 -> 272 at
  // 2x2 out), a 4x4 projection and a 1x1 map.
  std::vector<std::vector<long>> small = {{1, 176, 1056, 4},  {8, 176, 1056, 4},  {8, 1056, 272, 4},
                                          {8, 384, 96, 16},   {1, 1056, 272, 1},  {8, 1056, 272, 1},
                                          {1, 176, 1056, 16}, {8, 176, 1056, 16}, {8, 576, 176, 16},
                                          {1, 1056, 256, 9},  {8, 1056, 256, 9},  {8, 176, 256, 9},
                                          {8, 176, 1056, 25}, {8, 576, 176, 25}};
  if (g_smoke) small = {{2, 176, 1056, 4}};
  for (const auto& a : small) {
    RegisterBenchmark("pointwise_conv_per_image", BM_pointwise_conv_per_image)
        ->Args(a)
        ->ArgNames({"batch", "in", "out", "HW"});
    RegisterBenchmark("pointwise_conv_small", BM_pointwise_conv_small)
        ->Args(a)
        ->ArgNames({"batch", "in", "out", "HW"});
    RegisterBenchmark("pointwise_conv_small_packed", BM_pointwise_conv_small_packed)
        ->Args(a)
        ->ArgNames({"batch", "in", "out", "HW"});
  }
}

}  // namespace

int main(int argc, char** argv) {
  evit::bench::setup(argc, argv);
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const std::string key = "--benchmark_min_time=";
    if (a.rfind(key, 0) == 0 && std::atof(a.c_str() + key.size()) < 0.1) g_smoke = true;
  }
  if (std::getenv("EVIT_BENCH_SMOKE")) g_smoke = true;
  g_peak_gflops = evit::bench::peak_fma_gflops(g_smoke ? 0.02 : 0.3);
  benchmark::AddCustomContext("evit_peak_gflops", std::to_string(g_peak_gflops));
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
