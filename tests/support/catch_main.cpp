// SPDX-License-Identifier: MIT
// The one Catch2 main of all test programs (compiled here rather than linking Debian's x86
// libCatch2WithMain.a, so the same test sources also cross-build for aarch64). A program whose
// test cases were skipped (EVIT_SKIP_TEST, support/skip.hpp) and none failed exits with
// skip_exit_code, which ctest reports as "Skipped".
#define CATCH_CONFIG_RUNNER
#include "catch.hpp"
#include "skip.hpp"

int main(int argc, char* argv[]) {
  const int failed = Catch::Session().run(argc, argv);
  if (failed == 0 && !evit::test::skipped_reasons().empty()) return evit::test::skip_exit_code;
  return failed;
}
