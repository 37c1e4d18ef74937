// SPDX-License-Identifier: MIT
// Locates ../shared/reference for the parity tests. The folder comes from the environment
// variable EVIT_REFERENCE_DIR (ctest sets it from the CMake cache variable of the same name).
// Where it is absent, tests skip with the reason, except under CI (CI=true), where its absence
// is a failure.
#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "catch.hpp"
#include "skip.hpp"

namespace evit {
namespace test {

/// The reference folder, or "" when it is absent (then the caller returns: skipped or failed).
inline std::string reference_dir() {
  const char* env = std::getenv("EVIT_REFERENCE_DIR");
  std::string dir = env ? env : "";
  std::ifstream probe(dir + "/README.md");
  if (!dir.empty() && probe) return dir;
  const char* ci = std::getenv("CI");
  if (ci && std::string(ci) == "true") {
    FAIL("reference data not found (EVIT_REFERENCE_DIR=" + dir + "); under CI it must be present");
  }
  evit::test::note_skip(
      "reference data not found (EVIT_REFERENCE_DIR=" + dir +
      "); set EVIT_REFERENCE_DIR to the shared/reference folder to run this test");
  return "";
}

inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE(f.good());
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}

}  // namespace test
}  // namespace evit
