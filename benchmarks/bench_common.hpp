// SPDX-License-Identifier: MIT
// What the benchmark programs share: whether this is a smoke run, and the ISA they run (the
// dispatcher's choice, or --isa sse2|avx2|avx512|neon), printed and recorded in the JSON context
// with the CPU model, and the probe of the machine's FMA peak that compute figures are divided by.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

#include <benchmark/benchmark.h>

#include "evit/kernels/probe.hpp"
#include "evit/simd/arch.hpp"
#include "evit/simd/isa.hpp"

namespace evit::bench {

/// A smoke run is what ctest starts: --benchmark_min_time below 0.1 s, unless EVIT_BENCH_FULL=1
/// asks for the full run. Programs whose tables take minutes shrink them in a smoke run.
inline bool is_smoke_run(int argc, char** argv) {
  bool smoke = false;
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--benchmark_min_time=", 21) == 0)
      smoke = std::atof(argv[i] + 21) < 0.1;
  if (const char* full = std::getenv("EVIT_BENCH_FULL"))
    if (std::string(full) == "1") smoke = false;
  return smoke;
}

/// The CPU model, from /proc/cpuinfo ("unknown" elsewhere).
inline std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos)
      return line.substr(line.find(':') + 2);
  return "unknown";
}

/// One core's FMA peak (GFLOP/s) with the ISA the kernels run on: probe_chains independent FMA
/// chains in registers (kernels/probe.hpp), the best rate over about `seconds`.
inline double peak_fma_gflops(double seconds) {
  using clock = std::chrono::steady_clock;
  using Arch = simd::default_arch;
  const double lanes = static_cast<double>(simd::lanes<float, Arch>());
  long iters = 1 << 16;
  double best = 0;
  const auto end = clock::now() + std::chrono::duration<double>(seconds);
  while (clock::now() < end) {
    const auto t0 = clock::now();
    volatile float sink = kernels::fma_chains<Arch>(iters, 1.0f);
    (void)sink;
    const double dt = std::chrono::duration<double>(clock::now() - t0).count();
    best = std::max(best, 2.0 * kernels::probe_chains * lanes * double(iters) / dt * 1e-9);
    if (dt < 1e-3) iters *= 2;
  }
  return best;
}

/// Takes `--isa <name>` out of argv and applies it (exits with a message when the CPU lacks it),
/// then prints "isa: ..." and records the ISA and the CPU in the benchmark's context.
inline void setup(int& argc, char** argv) {
  try {
    for (int i = 1; i + 1 < argc; ++i)
      if (std::strcmp(argv[i], "--isa") == 0) {
        simd::set_isa(simd::parse_isa(argv[i + 1]));
        for (int j = i; j + 2 <= argc; ++j) argv[j] = argv[j + 2];
        argc -= 2;
        break;
      }
    const std::string isa = simd::isa_description(simd::active_isa());
    std::cout << "isa: " << isa << "\ncpu: " << cpu_model() << std::endl;
    benchmark::AddCustomContext("evit_isa", isa);
    benchmark::AddCustomContext("cpu_model", cpu_model());
  } catch (const std::exception& e) {
    std::cerr << argv[0] << ": " << e.what() << "\n";
    std::exit(2);
  }
}

}  // namespace evit::bench

/// BENCHMARK_MAIN() plus evit::bench::setup().
#define EVIT_BENCHMARK_MAIN()                                         \
  int main(int argc, char** argv) {                                   \
    evit::bench::setup(argc, argv);                                   \
    benchmark::Initialize(&argc, argv);                               \
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1; \
    benchmark::RunSpecifiedBenchmarks();                              \
    benchmark::Shutdown();                                            \
    return 0;                                                         \
  }
