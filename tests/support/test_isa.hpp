// SPDX-License-Identifier: MIT
// The ISA a test run asks for: `--isa <name>` on a test program's command line (ctest registers
// the kernel, parity and forward tests once per ISA this way, tests/CMakeLists.txt), or EVIT_ISA
// in the environment; the test main applies it through the dispatcher before any test runs.
#pragma once

#include <cstring>
#include <string>

#include "evit/simd/isa.hpp"

namespace evit::test {

/// The ISA named by --isa, or "" when the run did not name one.
inline std::string& requested_isa() {
  static std::string isa;
  return isa;
}

/// Removes `--isa <name>` from argv (Catch2 does not know it) and remembers the name.
inline void take_isa_argument(int& argc, char** argv) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--isa") == 0) {
      requested_isa() = argv[i + 1];
      for (int j = i; j + 2 <= argc; ++j) argv[j] = argv[j + 2];
      argc -= 2;
      return;
    }
}

/// Applies the requested ISA (--isa, else EVIT_ISA). Returns false with `why_not` ("not run: CPU
/// lacks avx512f") when this CPU cannot run it; throws evit::invalid_argument for a name that is
/// no ISA.
inline bool apply_requested_isa(std::string& why_not) {
  std::string name = requested_isa();
  if (name.empty()) {
    const char* env = std::getenv("EVIT_ISA");
    if (env == nullptr || *env == '\0') return true;
    name = env;
  }
  const simd::isa i = simd::parse_isa(name);
  const std::string lacks = simd::cpu_lacks(i);
  if (!lacks.empty()) {
    why_not = "not run: CPU lacks " + lacks + " (" + name + ")";
    return false;
  }
  simd::set_isa(i);
  return true;
}

}  // namespace evit::test
