// SPDX-License-Identifier: MIT
// evit_isa_guard <isa> <program> [args...]: runs <program> only when this CPU has <isa>; else
// prints "SKIPPED: not run: CPU lacks <feature>" and exits 77 (ctest: Skipped). For test programs
// compiled entirely with one ISA's flags (tests/simd), whose very start-up may use instructions
// the CPU lacks, so that they cannot check for themselves.
#include <iostream>
#include <string>
#include <unistd.h>

#include "evit/simd/isa.hpp"

int main(int argc, char* argv[]) {
  if (argc < 3) {
    std::cerr << "usage: evit_isa_guard <isa> <program> [args...]\n";
    return 2;
  }
  try {
    const std::string lacks = evit::simd::cpu_lacks(evit::simd::parse_isa(argv[1]));
    if (!lacks.empty()) {
      std::cout << "SKIPPED: not run: CPU lacks " << lacks << " (" << argv[1] << ")" << std::endl;
      return 77;
    }
  } catch (const std::exception& e) {
    std::cerr << "evit_isa_guard: " << e.what() << "\n";
    return 2;
  }
  execv(argv[2], argv + 2);
  std::cerr << "evit_isa_guard: cannot run " << argv[2] << "\n";
  return 2;
}
