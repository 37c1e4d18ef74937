// SPDX-License-Identifier: MIT
// Real skips for the Catch2 tests: EVIT_SKIP_TEST(reason) ends the current test case, prints
// "SKIPPED: <reason>", and makes the program exit with evit::test::skip_exit_code (77) unless a
// test failed; ctest (SKIP_RETURN_CODE 77, set by tests/CMakeLists.txt) then reports the test as
// "Skipped" instead of "Passed". Catch2 v2 has no SKIP() of its own.
#pragma once

#include <iostream>
#include <sstream>
#include <string>

#include "catch.hpp"

namespace evit::test {

/// The exit code of a test program whose tests were skipped (and none failed): CTest's and
/// Automake's convention.
inline constexpr int skip_exit_code = 77;

/// Reasons of the test cases skipped so far in this process (read by the test main).
inline std::string& skipped_reasons() {
  static std::string r;
  return r;
}

inline void note_skip(const std::string& reason) {
  skipped_reasons() += reason + "\n";
  std::cout << "SKIPPED: " << reason << std::endl;
}

}  // namespace evit::test

/// Ends the current test case as skipped, with `reason` (a streamable expression).
#define EVIT_SKIP_TEST(reason)                  \
  do {                                          \
    std::ostringstream evit_skip_os_;           \
    evit_skip_os_ << reason;                    \
    evit::test::note_skip(evit_skip_os_.str()); \
    return;                                     \
  } while (0)
