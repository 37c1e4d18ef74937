// SPDX-License-Identifier: MIT
// Locates the test data shipped in this repository: tests/data (the official code's goldens and
// MACs, see tests/data/README.md) and data/mobile-lut (the phone latency tables). The folders come
// from compile definitions that tests/CMakeLists.txt gives every test program. The data is part of
// the repository, so a missing file is a test failure naming the path, never a skip.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

#include "catch.hpp"

#ifndef EVIT_TEST_DATA_DIR
#error "EVIT_TEST_DATA_DIR must name the repository's tests/data folder (tests/CMakeLists.txt)"
#endif
#ifndef EVIT_DATA_DIR
#error "EVIT_DATA_DIR must name the repository's data folder (tests/CMakeLists.txt)"
#endif

namespace evit {
namespace test {

/// The repository's tests/data folder.
inline std::string data_dir() { return EVIT_TEST_DATA_DIR; }

/// The path of `file` (relative to tests/data, e.g. "elasticvit-mini/cases.json"); fails the
/// current test, naming the path, when the file is not there.
inline std::string data_path(const std::string& file) {
  const std::string path = data_dir() + "/" + file;
  if (!std::ifstream(path, std::ios::binary).good())
    FAIL("test data file not found: " << path << " (it ships in the repository: see " << data_dir()
                                      << "/README.md)");
  return path;
}

/// The repository's phone latency tables (data/mobile-lut), checked like data_path().
inline std::string phone_table_dir() {
  const std::string dir = std::string(EVIT_DATA_DIR) + "/mobile-lut";
  if (!std::ifstream(dir + "/pixel6.json", std::ios::binary).good())
    FAIL("phone latency tables not found: " << dir << "/pixel6.json");
  return dir;
}

/// The whole content of `path`; fails the current test, naming the path, when it cannot be read.
inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f.good()) FAIL("cannot read " << path);
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}

}  // namespace test
}  // namespace evit
