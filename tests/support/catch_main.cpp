// SPDX-License-Identifier: MIT
// The one Catch2 main of all test programs (compiled here rather than linking Debian's x86
// libCatch2WithMain.a, so the same test sources also cross-build for aarch64). Before any test it
// applies the ISA the run asks for (--isa <name> or EVIT_ISA, support/test_isa.hpp): a CPU that
// lacks it skips the whole program ("not run: CPU lacks avx512f"). A program whose test cases
// were skipped (EVIT_SKIP_TEST, support/skip.hpp) and none failed exits with skip_exit_code,
// which ctest reports as "Skipped".
#define CATCH_CONFIG_RUNNER
#include <iostream>
#include <string>

#include "catch.hpp"
#include "skip.hpp"
#include "test_isa.hpp"

int main(int argc, char* argv[]) {
  evit::test::take_isa_argument(argc, argv);
  try {
    std::string why_not;
    if (!evit::test::apply_requested_isa(why_not)) {
      std::cout << "SKIPPED: " << why_not << std::endl;
      return evit::test::skip_exit_code;
    }
  } catch (const std::exception& e) {
    std::cerr << "test main: " << e.what() << std::endl;
    return 2;
  }
  const int failed = Catch::Session().run(argc, argv);
  if (failed == 0 && !evit::test::skipped_reasons().empty()) return evit::test::skip_exit_code;
  return failed;
}
