// SPDX-License-Identifier: MIT
// evit's kernels against oneDNN's primitives on the same ElasticViT shapes, one thread, in one
// run (issue: say why evit's kernel or oneDNN's is used). Each shape has three rows:
//   evit            evit's elastic kernel, its weights sliced in place from a supernet tensor
//                   twice as wide (as the forward runs it: no copy, any subnet per call);
//   onednn_plain    oneDNN on evit's layouts (NCHW maps, row-major tokens), its weights a dense
//                   copy with the BatchNorm scale folded in;
//   onednn_blocked  oneDNN in the layouts it picks itself (format "any": NCHWc-blocked maps,
//                   pre-packed weights), the reorders into them done once, outside the timing:
//                   the best case of a static runtime that keeps a whole network blocked.
// Epilogues are the forward's: 1x1 and depthwise convs with BatchNorm + Hardswish, linears with
// bias. The program ends with a table `shape evit_us plain_us blocked_us evit/best`.
// Built only when CMake finds oneDNN (Debian: libdnnl-dev); oneDNN runs on one OpenMP thread.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include <benchmark/benchmark.h>

#include "evit/core/rng.hpp"
#include "evit/kernels/kernels.hpp"
#include "evit/nn/workspace.hpp"

#include "../bench_common.hpp"

extern "C" void omp_set_num_threads(int);  // libgomp, which oneDNN links

namespace {

using evit::Index;
using evit::kernels::activation;
using Arch = evit::simd::default_arch;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

std::vector<float> random_vector(Index n, std::uint64_t seed, double lo = -1, double hi = 1) {
  evit::rng g(seed);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = static_cast<float>(lo + (hi - lo) * evit::uniform_real(g));
  return v;
}

void flop_counters(benchmark::State& st, double flops) {
  st.counters["GFLOPS"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

// One oneDNN primitive with its arguments, the inputs reordered once into the layouts it chose.
struct onednn_op {
  dnnl::primitive prim;
  std::vector<dnnl::memory> owned;  // keeps the buffers alive
  std::unordered_map<int, dnnl::memory> args;

  // `user` memory (plain layout) reordered into `want` when the primitive chose another layout.
  dnnl::memory bind(int arg, const dnnl::memory::desc& want, dnnl::memory user, dnnl::stream& s) {
    dnnl::memory m = user;
    if (want != user.get_desc()) {
      m = dnnl::memory(want, engine());
      dnnl::reorder(user, m).execute(s, user, m);
      s.wait();
    }
    owned.push_back(user);
    owned.push_back(m);
    args[arg] = m;
    return m;
  }
  void run(benchmark::State& st) {
    dnnl::stream s(engine());
    for (auto _ : st) {
      prim.execute(s, args);
      s.wait();
    }
  }
};

dnnl::primitive_attr hardswish_attr() {
  dnnl::post_ops po;
  po.append_eltwise(1.f, dnnl::algorithm::eltwise_hardswish, 0.f, 0.f);
  dnnl::primitive_attr attr;
  attr.set_post_ops(po);
  return attr;
}

// ---- convolutions ----------------------------------------------------------------------------

// A conv with BatchNorm (scale folded into the weights, shift as bias) + Hardswish, on NCHW
// maps (plain) or the layouts oneDNN picks (blocked). Groups = C for a depthwise conv.
void onednn_conv(benchmark::State& st, bool blocked, Index in, Index out, Index groups, Index H,
                 Index k, Index stride, double flops) {
  const Index pad = k / 2, Ho = (H + 2 * pad - k) / stride + 1;
  const dnnl::memory::dims src_d{1, in, H, H}, dst_d{1, out, Ho, Ho}, bias_d{out};
  const dnnl::memory::dims w_d = groups == 1
                                     ? dnnl::memory::dims{out, in, k, k}
                                     : dnnl::memory::dims{groups, out / groups, in / groups, k, k};
  const tag w_plain = groups == 1 ? tag::oihw : tag::goihw;
  const auto x = random_vector(in * H * H, 2);
  auto w = random_vector(out * (in / groups) * k * k, 1);
  const auto scale = random_vector(out, 3, 0.5, 1.5), shift = random_vector(out, 4);
  const Index per_out = (in / groups) * k * k;
  for (Index o = 0; o < out; ++o)
    for (Index i = 0; i < per_out; ++i) w[o * per_out + i] *= scale[o];
  std::vector<float> y(out * Ho * Ho);

  const auto any = [&](const dnnl::memory::dims& d, tag plain) {
    return dnnl::memory::desc(d, dt::f32, blocked ? tag::any : plain);
  };
  const dnnl::convolution_forward::desc d(
      dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
      any(src_d, tag::nchw), any(w_d, w_plain), dnnl::memory::desc(bias_d, dt::f32, tag::x),
      any(dst_d, tag::nchw), {stride, stride}, {pad, pad}, {pad, pad});
  const dnnl::convolution_forward::primitive_desc pd(d, hardswish_attr(), engine());
  st.SetLabel(pd.impl_info_str());
  dnnl::stream s(engine());
  onednn_op op{dnnl::convolution_forward(pd), {}, {}};
  op.bind(DNNL_ARG_SRC, pd.src_desc(),
          dnnl::memory({src_d, dt::f32, tag::nchw}, engine(), const_cast<float*>(x.data())), s);
  op.bind(DNNL_ARG_WEIGHTS, pd.weights_desc(),
          dnnl::memory({w_d, dt::f32, w_plain}, engine(), w.data()), s);
  op.bind(DNNL_ARG_BIAS, pd.bias_desc(),
          dnnl::memory({bias_d, dt::f32, tag::x}, engine(), const_cast<float*>(shift.data())), s);
  if (pd.dst_desc() == dnnl::memory::desc(dst_d, dt::f32, tag::nchw))
    op.args[DNNL_ARG_DST] = dnnl::memory(pd.dst_desc(), engine(), y.data());
  else
    op.args[DNNL_ARG_DST] = dnnl::memory(pd.dst_desc(), engine());
  op.run(st);
  flop_counters(st, flops);
}

// args: in, out, HW. evit reads the weight slice [out, in] in place from an [out, 2 in] tensor.
void pointwise(benchmark::State& st, int impl) {
  const Index in = st.range(0), out = st.range(1), HW = st.range(2);
  const double flops = 2.0 * double(out * in * HW);
  Index side = 1;
  while (side * side < HW) ++side;
  if (impl != 0) return onednn_conv(st, impl == 2, in, out, 1, side, 1, 1, flops);
  const Index ldw = 2 * in;
  const auto w = random_vector(out * ldw, 1), x = random_vector(in * HW, 2);
  const auto sc = random_vector(out, 3, 0.5, 1.5), sh = random_vector(out, 4);
  std::vector<float> y(out * HW);
  evit::nn::workspace<float> ws(evit::kernels::pointwise_conv_workspace_size<Arch, float>(in));
  const auto ep = evit::kernels::epilogue<float>{}
                      .with_row_scale(sc.data())
                      .with_row_bias(sh.data())
                      .with_activation(activation::hardswish);
  for (auto _ : st) {
    evit::kernels::pointwise_conv<Arch>(out, in, HW, w.data(), ldw, x.data(), y.data(), ep,
                                        ws.data(), ws.size());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  flop_counters(st, flops);
}

// args: C, H, k, stride. evit crops its k x k kernels from the supernet's 5 x 5.
void depthwise(benchmark::State& st, int impl) {
  const Index C = st.range(0), H = st.range(1), k = st.range(2), s = st.range(3);
  const Index Ho = evit::kernels::conv_out_size(H, k, s, k / 2);
  const double flops = 2.0 * double(C * Ho * Ho * k * k);
  if (impl != 0) return onednn_conv(st, impl == 2, C, C, C, H, k, s, flops);
  const auto x = random_vector(C * H * H, 2), w = random_vector(C * 25, 1);
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
  flop_counters(st, flops);
}

// ---- linear ----------------------------------------------------------------------------------

// args: rows N, in, out. y = x W^T + b. evit: linear_packed on panels packed once from a
// supernet weight [2 out, 2 in] (any top-left slice readable in place). oneDNN plain: W^T a
// strided view of a dense [out, in] weight; blocked: weights pre-packed by oneDNN.
void linear(benchmark::State& st, int impl) {
  const Index N = st.range(0), in = st.range(1), out = st.range(2);
  const double flops = 2.0 * double(N * in * out);
  const auto x = random_vector(N * in, 3), b = random_vector(out, 2);
  std::vector<float> y(N * out);
  if (impl == 0) {
    const Index in_max = 2 * in, out_max = 2 * out;
    const auto w = random_vector(out_max * in_max, 1, -0.1, 0.1);
    std::vector<float> wp(
        static_cast<std::size_t>(evit::kernels::packed_linear_size(out_max, in_max)));
    evit::kernels::pack_linear_weight(w.data(), out_max, in_max, wp.data());
    for (auto _ : st) {
      evit::kernels::linear_packed<Arch>(N, in, out, x.data(), in, wp.data(), in_max, 0, b.data(),
                                         y.data(), out);
      benchmark::DoNotOptimize(y.data());
      benchmark::ClobberMemory();
    }
    return flop_counters(st, flops);
  }
  const bool blocked = impl == 2;
  auto w = random_vector(out * in, 1, -0.1, 0.1);
  const dnnl::memory::desc src_md({N, in}, dt::f32, tag::ab), dst_md({N, out}, dt::f32, tag::ab);
  const dnnl::memory::desc w_user({in, out}, dt::f32, tag::ba);  // W^T over W's rows
  const dnnl::memory::desc b_md({1, out}, dt::f32, tag::ab);
  const dnnl::matmul::desc d(
      src_md, blocked ? dnnl::memory::desc({in, out}, dt::f32, tag::any) : w_user, b_md, dst_md);
  const dnnl::matmul::primitive_desc pd(d, engine());
  st.SetLabel(pd.impl_info_str());
  dnnl::stream s(engine());
  onednn_op op{dnnl::matmul(pd), {}, {}};
  op.bind(DNNL_ARG_SRC, pd.src_desc(), dnnl::memory(src_md, engine(), const_cast<float*>(x.data())),
          s);
  op.bind(DNNL_ARG_WEIGHTS, pd.weights_desc(), dnnl::memory(w_user, engine(), w.data()), s);
  op.bind(DNNL_ARG_BIAS, pd.bias_desc(), dnnl::memory(b_md, engine(), const_cast<float*>(b.data())),
          s);
  op.args[DNNL_ARG_DST] = dnnl::memory(dst_md, engine(), y.data());
  op.run(st);
  flop_counters(st, flops);
}

// ---- the summary table -----------------------------------------------------------------------

// Collects each row's time per iteration, keyed by (shape, impl), for the closing table.
class summary_reporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& r : runs) {
      if (r.error_occurred || r.run_type != Run::RT_Iteration) continue;
      // name: family/impl/args...
      const std::string name = r.benchmark_name();
      const auto a = name.find('/'), b = name.find('/', a + 1);
      if (a == std::string::npos || b == std::string::npos) continue;
      const std::string shape = name.substr(0, a) + name.substr(b);
      times_[shape][name.substr(a + 1, b - a - 1)] = r.GetAdjustedRealTime();  // ns
      if (std::find(order_.begin(), order_.end(), shape) == order_.end()) order_.push_back(shape);
    }
  }
  void print_table() const {
    std::printf("\n%-52s %9s %9s %9s %10s\n", "shape", "evit_us", "plain_us", "blocked_us",
                "evit/best");
    double worst = 0;
    for (const auto& shape : order_) {
      const auto& t = times_.at(shape);
      const auto get = [&](const char* k) {
        const auto it = t.find(k);
        return it == t.end() ? 0.0 : it->second * 1e-3;
      };
      const double e = get("evit"), p = get("onednn_plain"), bl = get("onednn_blocked");
      const double best = p > 0 && bl > 0 ? std::min(p, bl) : std::max(p, bl);
      const double ratio = best > 0 ? e / best : 0;
      worst = std::max(worst, ratio);
      std::printf("%-52s %9.1f %9.1f %9.1f %10.2f\n", shape.c_str(), e, p, bl, ratio);
    }
    std::printf("worst evit/oneDNN: %.2f\n", worst);
  }

 private:
  std::map<std::string, std::map<std::string, double>> times_;
  std::vector<std::string> order_;
};

void register_all(bool smoke) {
  const char* impls[] = {"evit", "onednn_plain", "onednn_blocked"};
  // (in, out, HW): MBConv expansions / projections at 56x56 .. 7x7, elastic_T1's 32x32 one.
  std::vector<std::vector<long>> pw = {{16, 48, 1024}, {24, 144, 3136}, {144, 24, 3136},
                                       {48, 288, 196}, {288, 48, 196},  {288, 288, 49}};
  // (C, H, k, stride)
  std::vector<std::vector<long>> dw = {{48, 64, 3, 2},  {72, 56, 3, 1},  {72, 56, 5, 2},
                                       {144, 28, 5, 1}, {240, 14, 3, 2}, {576, 7, 3, 1}};
  // (N, in, out): FFN fc1 / fc2 at 16..256 tokens, a qkv projection, the head at batch 8.
  std::vector<std::vector<long>> lin = {{256, 96, 384}, {256, 384, 96},  {64, 160, 640},
                                        {64, 640, 160}, {16, 320, 1280}, {16, 1280, 320},
                                        {64, 192, 576}, {8, 1632, 1984}};
  if (smoke) {
    pw = {{48, 288, 196}};
    dw = {{72, 28, 3, 1}};
    lin = {{64, 160, 640}};
  }
  // Per shape, the three rows one after the other, so that they see the same machine state.
  const auto add = [&](const char* family, const std::vector<long>& args,
                       std::vector<std::string> names, void (*fn)(benchmark::State&, int)) {
    for (int impl = 0; impl < 3; ++impl)
      benchmark::RegisterBenchmark((std::string(family) + "/" + impls[impl]).c_str(),
                                   [fn, impl](benchmark::State& st) { fn(st, impl); })
          ->Args(args)
          ->ArgNames(names);
  };
  for (const auto& a : pw) add("pointwise_conv", a, {"in", "out", "HW"}, pointwise);
  for (const auto& a : dw) add("depthwise_conv", a, {"C", "H", "k", "stride"}, depthwise);
  for (const auto& a : lin) add("linear", a, {"N", "in", "out"}, linear);
}

}  // namespace

int main(int argc, char** argv) {
  omp_set_num_threads(1);
  const bool smoke = evit::bench::is_smoke_run(argc, argv);
  evit::bench::setup(argc, argv);
  benchmark::AddCustomContext("onednn_version", std::to_string(dnnl::version()->major) + "." +
                                                    std::to_string(dnnl::version()->minor) + "." +
                                                    std::to_string(dnnl::version()->patch));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_all(smoke);
  summary_reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.print_table();
  benchmark::Shutdown();
  return 0;
}
