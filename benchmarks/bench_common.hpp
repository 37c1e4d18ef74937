// SPDX-License-Identifier: MIT
// What the benchmark programs share: whether this is a smoke run.
#pragma once

#include <cstdlib>
#include <cstring>
#include <string>

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

}  // namespace evit::bench
