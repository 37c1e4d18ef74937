// SPDX-License-Identifier: MIT
// Question: what does loading the official-size supernet (40,488,174 parameters, a 162 MB
// safetensors file) cost, in time and in peak memory, with the file mapped and with it read; and
// what does using the weights cost the first time, when a mapped file's pages come in; and what
// does a forward pay for weights in place, which the file aligns to 4 bytes only (BM_forward)?
// Results: benchmarks/RESULTS-load.md.
// The file: a random official supernet (seed 1), written once by this program to
// $EVIT_BENCH_LOAD_FILE (kept, and reused while its size fits) or to a temporary file in the
// working folder (removed at exit).
// Peak memory needs a process that does nothing else:
//   evit_bench_load --write FILE      (writes the file)
//   evit_bench_load --peak FILE [--read] [--copy] [--touch] [--no-pack]
// loads FILE once (mapped, or read with --read; tensors in place, or copied into the weights' own
// aligned buffer with --copy: load_options().in_place(false)), optionally reads every weight once
// (--touch: what the first forward of the largest subnet does), and prints the times, the peak
// resident set (getrusage) and the resident set's file-backed and anonymous parts
// (/proc/self/status).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <sys/resource.h>
#include <vector>

#include <benchmark/benchmark.h>

#include <evit/evit.hpp>

#include "bench_common.hpp"

namespace ev = evit::elasticvit;
using S = ev::official_space;

namespace {

std::string file_path() {
  static const std::string path = [] {
    const char* env = std::getenv("EVIT_BENCH_LOAD_FILE");
    return std::string(env && *env ? env : "evit_bench_load.safetensors");
  }();
  return path;
}

/// The bytes a random official supernet takes as a safetensors file.
void write_supernet(const std::string& path) {
  const auto net = ev::supernet<S>::random(1);
  evit::io::safetensors_writer w;
  for (const auto& s : net.weights().specs()) w.add(s.name, s.shape, net.weights().tensor(s.name));
  w.write(path);
}

/// The benchmark file, written on first use unless there.
const std::string& bench_file() {
  static const std::string path = [] {
    const std::string p = file_path();
    const std::int64_t floats = [] {
      std::int64_t n = 0;
      for (const auto& s : ev::expected_tensors(S::descriptor())) n += s.numel();
      return n;
    }();
    std::ifstream in(p, std::ios::binary | std::ios::ate);
    if (!in || static_cast<std::int64_t>(in.tellg()) < 4 * floats) write_supernet(p);
    if (!std::getenv("EVIT_BENCH_LOAD_FILE")) std::atexit([] { std::remove(file_path().c_str()); });
    return p;
  }();
  return path;
}

evit::io::open_options mode(bool read) { return evit::io::open_options().memory_map(!read); }

/// Reads every weight once; returns their sum (so that nothing is optimised away).
double touch(const ev::supernet<S>& net) {
  double sum = 0;
  for (const auto& s : net.weights().specs()) {
    const float* p = net.weights().tensor(s.name);
    for (std::int64_t i = 0; i < s.numel(); i += 1024 / 4) sum += p[i];  // one read per KB
  }
  return sum;
}

ev::load_options copy(bool on) { return ev::load_options().in_place(!on); }
std::string label(bool read, bool copied) {
  return std::string(read ? "read" : "mapped") + (copied ? ", copied" : ", in place");
}

// Args: read (0: mapped, 1: read), copy (0: tensors in place, 1: copied, aligned).
void BM_load(benchmark::State& state) {
  const std::string& path = bench_file();
  const bool read = state.range(0) == 1, copied = state.range(1) == 1;
  std::size_t bytes = 0;
  for (auto _ : state) {
    const auto f = evit::io::safetensors_file::open(path, mode(read));
    bytes = f.size_bytes();
    auto net = ev::supernet<S>::load(f, copy(copied));
    benchmark::DoNotOptimize(net.weights().first_conv);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes) * state.iterations());
  state.SetLabel(label(read, copied));
}
BENCHMARK(BM_load)->Args({0, 0})->Args({1, 0})->Args({0, 1})->Unit(benchmark::kMillisecond);

// Load, then read every weight once (the page faults a mapped file pays on first use).
void BM_load_and_touch(benchmark::State& state) {
  const std::string& path = bench_file();
  const bool read = state.range(0) == 1, copied = state.range(1) == 1;
  for (auto _ : state) {
    auto net =
        ev::supernet<S>::load(evit::io::safetensors_file::open(path, mode(read)), copy(copied));
    benchmark::DoNotOptimize(touch(net));
  }
  state.SetLabel(label(read, copied));
}
BENCHMARK(BM_load_and_touch)
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({0, 1})
    ->Unit(benchmark::kMillisecond);

// A forward of the largest subnet, batch 1, one thread, from weights in place in the mapped file
// (arg 0) or copied into their own 64-byte aligned buffer (arg 1): what the file's 4-byte
// alignment costs the kernels.
void BM_forward(benchmark::State& state) {
  const bool copied = state.range(0) == 1;
  static const auto in_place =
      std::make_unique<ev::supernet<S>>(ev::supernet<S>::load(bench_file()));
  static const auto own = std::make_unique<ev::supernet<S>>(
      ev::supernet<S>::load(bench_file(), ev::load_options().in_place(false)));
  const ev::supernet<S>& net = copied ? *own : *in_place;
  const evit::arch a = S::max_arch();
  const int r = a.resolution();
  const std::vector<float> image(static_cast<std::size_t>(3 * r * r), 0.1f);
  ev::forward_workspace ws;
  std::vector<float> logits;
  for (auto _ : state) {
    logits = net.forward(a, image, 1, ws);
    benchmark::DoNotOptimize(logits.data());
  }
  state.SetLabel(copied ? "copied, 64-byte aligned" : "in place");
}
BENCHMARK(BM_forward)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

std::string status_line(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) {
      std::string v = line.substr(std::strlen(key) + 1);
      return v.substr(v.find_first_not_of(" \t"));
    }
  return "?";
}

double peak_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // kB on Linux
}

int peak(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s --peak FILE [--read] [--copy] [--touch] [--no-pack]\n",
                 argv[0]);
    return 2;
  }
  bool read = false, copied = false, do_touch = false, pack = true;
  for (int i = 3; i < argc; ++i) {
    read = read || std::strcmp(argv[i], "--read") == 0;
    copied = copied || std::strcmp(argv[i], "--copy") == 0;
    do_touch = do_touch || std::strcmp(argv[i], "--touch") == 0;
    pack = pack && std::strcmp(argv[i], "--no-pack") != 0;
  }
  using clock = std::chrono::steady_clock;
  std::printf("start: peak RSS %.1f MiB\n", peak_mb());
  const auto t0 = clock::now();
  const auto net = ev::supernet<S>::load(evit::io::safetensors_file::open(argv[2], mode(read)),
                                         copy(copied).pack_weights(pack));
  const double load_s = std::chrono::duration<double>(clock::now() - t0).count();
  std::printf("load (%s%s): %.3f s; peak RSS %.1f MiB; RssFile %s, RssAnon %s\n",
              label(read, copied).c_str(), pack ? ", packed" : "", load_s, peak_mb(),
              status_line("RssFile:").c_str(), status_line("RssAnon:").c_str());
  if (do_touch) {
    const auto t1 = clock::now();
    const double sum = touch(net);
    const double touch_s = std::chrono::duration<double>(clock::now() - t1).count();
    std::printf("touch every weight: %.3f s (sum %g); peak RSS %.1f MiB; RssFile %s, RssAnon %s\n",
                touch_s, sum, peak_mb(), status_line("RssFile:").c_str(),
                status_line("RssAnon:").c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--write") == 0 && argc > 2) {
    write_supernet(argv[2]);
    return 0;
  }
  if (argc > 1 && std::strcmp(argv[1], "--peak") == 0) return peak(argc, argv);
  evit::bench::setup(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
