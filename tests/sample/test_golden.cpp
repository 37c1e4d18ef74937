// SPDX-License-Identifier: MIT
// Reproducibility: the first 20 subnets of every sampler for seed 2024, pinned by their exact text
// forms (io/arch_text.hpp). Any change to an engine, a distribution, a sampler's order of draws
// or the search space shows up here; on a failure, the test prints the subnets' text forms.
// Tagged [determinism]: run on a second platform (aarch64 under qemu), they prove that a seed
// gives the same draws everywhere (tests/search/test_determinism.cpp pins seeded searches).
// To re-pin after an intended change: EVIT_GOLDEN_OUT=/tmp/golden.txt evit_test_sample "[golden]"
// appends the new lists to that file.
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "evit/io/arch_text.hpp"
#include "evit/sample/best_of_k.hpp"
#include "evit/sample/complexity_aware.hpp"
#include "evit/sample/performance_aware.hpp"
#include "evit/sample/sandwich.hpp"
#include "evit/sample/uniform.hpp"

#include "catch.hpp"
#include "sample_support.hpp"

using evit_test::fast_macs;
using evit_test::official;

namespace {

constexpr std::uint64_t golden_seed = 2024;

void check_golden(const std::vector<evit::arch>& got, const std::vector<std::string>& want) {
  REQUIRE(got.size() == 20);
  std::string listing;
  for (const evit::arch& a : got) listing += "\"" + evit::to_string<official>(a) + "\",\n";
  CAPTURE(listing);
  if (const char* out = std::getenv("EVIT_GOLDEN_OUT")) {
    std::ofstream(out, std::ios::app) << listing << "--\n";
    return;
  }
  REQUIRE(want.size() == 20);
  for (std::size_t i = 0; i < 20; ++i) {
    CAPTURE(i);
    CHECK(evit::to_string<official>(got[i]) == want[i]);
  }
}

// A stand-in for a loss that depends on nothing but the official MACs count.
double fake_score(const evit::arch& a) {
  return -static_cast<double>(static_cast<std::int64_t>(fast_macs{}(a)) % 1000) / 100.0;
}

}  // namespace

TEST_CASE("golden: uniform_sampler, first 20 subnets of seed 2024",
          "[sample][golden][determinism]") {
  evit::uniform_sampler<official> u(golden_seed);
  std::vector<evit::arch> got;
  for (int k = 0; k < 20; ++k) got.push_back(u.next());
  check_golden(got, {
                        "r128 first_conv=24x1:k3 stem=24x1:e1k3 C0=32x2:e5k5 C1=48x3:e6k3 "
                        "T2=48x4:m5h3q1v3 T3=96x2:m3h6q1v2 T4=224x2:m4h14q1v4 T5=272x1:m2h17q1v4",
                        "r128 first_conv=24x1:k3 stem=24x2:e1k3 C0=24x3:e5k3 C1=48x4:e4k3 "
                        "T2=48x4:m5h3q1v3 T3=112x5:m2h7q1v2 T4=224x6:m5h14q1v2 T5=320x6:m3h20q1v2",
                        "r224 first_conv=16x1:k3 stem=16x2:e1k3 C0=32x2:e4k5 C1=48x5:e5k3 "
                        "T2=48x3:m2h3q1v2 T3=80x1:m4h5q1v3 T4=240x2:m5h15q1v2 T5=240x4:m5h15q1v2",
                        "r176 first_conv=16x1:k3 stem=16x2:e1k3 C0=24x3:e3k3 C1=24x2:e4k3 "
                        "T2=96x3:m4h6q1v3 T3=160x4:m3h10q1v4 T4=256x4:m2h16q1v3 T5=288x6:m5h18q1v3",
                        "r160 first_conv=16x1:k3 stem=16x1:e1k3 C0=32x5:e3k3 C1=32x3:e5k5 "
                        "T2=64x1:m5h4q1v3 T3=128x4:m2h8q1v2 T4=208x6:m2h13q1v4 T5=240x5:m3h15q1v3",
                        "r192 first_conv=16x1:k3 stem=16x2:e1k5 C0=24x2:e4k5 C1=24x4:e5k3 "
                        "T2=48x2:m2h3q1v4 T3=160x4:m2h10q1v4 T4=288x4:m2h18q1v2 T5=288x2:m3h18q1v3",
                        "r176 first_conv=16x1:k3 stem=16x1:e1k3 C0=24x2:e4k5 C1=32x2:e5k3 "
                        "T2=80x1:m3h5q1v4 T3=80x6:m2h5q1v3 T4=224x5:m4h14q1v4 T5=224x3:m3h14q1v4",
                        "r176 first_conv=24x1:k3 stem=24x1:e1k5 C0=24x5:e5k3 C1=32x5:e4k5 "
                        "T2=96x2:m5h6q1v4 T3=112x4:m2h7q1v2 T4=224x5:m4h14q1v4 T5=224x1:m5h14q1v4",
                        "r128 first_conv=16x1:k3 stem=16x1:e1k3 C0=16x4:e3k3 C1=48x6:e5k3 "
                        "T2=80x1:m3h5q1v4 T3=112x3:m2h7q1v2 T4=160x6:m3h10q1v4 T5=192x4:m4h12q1v3",
                        "r176 first_conv=24x1:k3 stem=24x2:e1k3 C0=32x5:e6k3 C1=32x3:e3k3 "
                        "T2=48x5:m3h3q1v3 T3=112x5:m4h7q1v3 T4=144x6:m5h9q1v2 T5=272x6:m3h17q1v4",
                        "r128 first_conv=24x1:k3 stem=24x1:e1k3 C0=32x2:e6k5 C1=32x4:e4k5 "
                        "T2=48x3:m2h3q1v3 T3=112x4:m4h7q1v2 T4=272x6:m2h17q1v2 T5=272x1:m3h17q1v3",
                        "r224 first_conv=16x1:k3 stem=16x1:e1k5 C0=24x3:e4k3 C1=48x3:e6k5 "
                        "T2=48x3:m4h3q1v4 T3=144x2:m3h9q1v2 T4=288x4:m3h18q1v2 T5=320x2:m4h20q1v4",
                        "r224 first_conv=16x1:k3 stem=16x2:e1k3 C0=24x5:e5k3 C1=40x4:e5k5 "
                        "T2=64x3:m4h4q1v3 T3=80x5:m4h5q1v2 T4=144x6:m4h9q1v4 T5=176x6:m3h11q1v3",
                        "r224 first_conv=16x1:k3 stem=16x1:e1k5 C0=24x3:e3k5 C1=40x4:e4k3 "
                        "T2=48x3:m4h3q1v3 T3=144x5:m2h9q1v2 T4=192x3:m5h12q1v4 T5=256x6:m5h16q1v3",
                        "r160 first_conv=16x1:k3 stem=16x2:e1k5 C0=24x4:e3k3 C1=32x2:e3k3 "
                        "T2=96x2:m2h6q1v2 T3=128x1:m4h8q1v4 T4=160x1:m4h10q1v3 T5=176x2:m4h11q1v2",
                        "r192 first_conv=16x1:k3 stem=16x2:e1k3 C0=24x5:e4k5 C1=32x5:e6k3 "
                        "T2=80x4:m4h5q1v3 T3=144x1:m2h9q1v4 T4=288x5:m3h18q1v2 T5=320x4:m5h20q1v2",
                        "r192 first_conv=24x1:k3 stem=24x2:e1k5 C0=24x2:e5k3 C1=40x6:e6k5 "
                        "T2=80x3:m5h5q1v4 T3=128x1:m4h8q1v2 T4=160x6:m3h10q1v2 T5=160x4:m5h10q1v3",
                        "r192 first_conv=16x1:k3 stem=16x2:e1k5 C0=16x3:e5k3 C1=24x4:e5k3 "
                        "T2=96x5:m3h6q1v2 T3=128x5:m2h8q1v4 T4=176x2:m3h11q1v2 T5=272x4:m4h17q1v4",
                        "r192 first_conv=24x1:k3 stem=24x2:e1k3 C0=32x4:e6k3 C1=48x3:e3k3 "
                        "T2=48x1:m3h3q1v4 T3=80x1:m5h5q1v4 T4=192x2:m3h12q1v4 T5=192x5:m5h12q1v3",
                        "r160 first_conv=24x1:k3 stem=24x1:e1k3 C0=24x3:e3k3 C1=48x6:e5k3 "
                        "T2=96x3:m2h6q1v4 T3=144x1:m5h9q1v4 T4=240x5:m4h15q1v2 T5=288x6:m2h18q1v4",
                    });
}

TEST_CASE("golden: sandwich_sampler, first 20 subnets of seed 2024",
          "[sample][golden][determinism]") {
  evit::sandwich_sampler<official> sw(2, golden_seed);
  std::vector<evit::arch> got;
  while (got.size() < 20)
    for (const evit::arch& a : sw.sandwich_step()) got.push_back(a);
  check_golden(got, {
                        "r256 first_conv=24x1:k3 stem=24x2:e1k5 C0=32x5:e6k5 C1=48x6:e6k5 "
                        "T2=96x5:m5h6q1v4 T3=160x6:m5h10q1v4 T4=288x6:m5h18q1v4 T5=320x6:m5h20q1v4",
                        "r128 first_conv=16x1:k3 stem=16x1:e1k3 C0=16x2:e3k3 C1=16x2:e3k3 "
                        "T2=48x1:m2h3q1v2 T3=80x1:m2h5q1v2 T4=144x1:m2h9q1v2 T5=160x1:m2h10q1v2",
                        "r128 first_conv=24x1:k3 stem=24x1:e1k3 C0=32x2:e5k5 C1=48x3:e6k3 "
                        "T2=48x4:m5h3q1v3 T3=96x2:m3h6q1v2 T4=224x2:m4h14q1v4 T5=272x1:m2h17q1v4",
                        "r128 first_conv=24x1:k3 stem=24x2:e1k3 C0=24x3:e5k3 C1=48x4:e4k3 "
                        "T2=48x4:m5h3q1v3 T3=112x5:m2h7q1v2 T4=224x6:m5h14q1v2 T5=320x6:m3h20q1v2",
                        "r256 first_conv=24x1:k3 stem=24x2:e1k5 C0=32x5:e6k5 C1=48x6:e6k5 "
                        "T2=96x5:m5h6q1v4 T3=160x6:m5h10q1v4 T4=288x6:m5h18q1v4 T5=320x6:m5h20q1v4",
                        "r128 first_conv=16x1:k3 stem=16x1:e1k3 C0=16x2:e3k3 C1=16x2:e3k3 "
                        "T2=48x1:m2h3q1v2 T3=80x1:m2h5q1v2 T4=144x1:m2h9q1v2 T5=160x1:m2h10q1v2",
                        "r224 first_conv=16x1:k3 stem=16x2:e1k3 C0=32x2:e4k5 C1=48x5:e5k3 "
                        "T2=48x3:m2h3q1v2 T3=80x1:m4h5q1v3 T4=240x2:m5h15q1v2 T5=240x4:m5h15q1v2",
                        "r176 first_conv=16x1:k3 stem=16x2:e1k3 C0=24x3:e3k3 C1=24x2:e4k3 "
                        "T2=96x3:m4h6q1v3 T3=160x4:m3h10q1v4 T4=256x4:m2h16q1v3 T5=288x6:m5h18q1v3",
                        "r256 first_conv=24x1:k3 stem=24x2:e1k5 C0=32x5:e6k5 C1=48x6:e6k5 "
                        "T2=96x5:m5h6q1v4 T3=160x6:m5h10q1v4 T4=288x6:m5h18q1v4 T5=320x6:m5h20q1v4",
                        "r128 first_conv=16x1:k3 stem=16x1:e1k3 C0=16x2:e3k3 C1=16x2:e3k3 "
                        "T2=48x1:m2h3q1v2 T3=80x1:m2h5q1v2 T4=144x1:m2h9q1v2 T5=160x1:m2h10q1v2",
                        "r160 first_conv=16x1:k3 stem=16x1:e1k3 C0=32x5:e3k3 C1=32x3:e5k5 "
                        "T2=64x1:m5h4q1v3 T3=128x4:m2h8q1v2 T4=208x6:m2h13q1v4 T5=240x5:m3h15q1v3",
                        "r192 first_conv=16x1:k3 stem=16x2:e1k5 C0=24x2:e4k5 C1=24x4:e5k3 "
                        "T2=48x2:m2h3q1v4 T3=160x4:m2h10q1v4 T4=288x4:m2h18q1v2 T5=288x2:m3h18q1v3",
                        "r256 first_conv=24x1:k3 stem=24x2:e1k5 C0=32x5:e6k5 C1=48x6:e6k5 "
                        "T2=96x5:m5h6q1v4 T3=160x6:m5h10q1v4 T4=288x6:m5h18q1v4 T5=320x6:m5h20q1v4",
                        "r128 first_conv=16x1:k3 stem=16x1:e1k3 C0=16x2:e3k3 C1=16x2:e3k3 "
                        "T2=48x1:m2h3q1v2 T3=80x1:m2h5q1v2 T4=144x1:m2h9q1v2 T5=160x1:m2h10q1v2",
                        "r176 first_conv=16x1:k3 stem=16x1:e1k3 C0=24x2:e4k5 C1=32x2:e5k3 "
                        "T2=80x1:m3h5q1v4 T3=80x6:m2h5q1v3 T4=224x5:m4h14q1v4 T5=224x3:m3h14q1v4",
                        "r176 first_conv=24x1:k3 stem=24x1:e1k5 C0=24x5:e5k3 C1=32x5:e4k5 "
                        "T2=96x2:m5h6q1v4 T3=112x4:m2h7q1v2 T4=224x5:m4h14q1v4 T5=224x1:m5h14q1v4",
                        "r256 first_conv=24x1:k3 stem=24x2:e1k5 C0=32x5:e6k5 C1=48x6:e6k5 "
                        "T2=96x5:m5h6q1v4 T3=160x6:m5h10q1v4 T4=288x6:m5h18q1v4 T5=320x6:m5h20q1v4",
                        "r128 first_conv=16x1:k3 stem=16x1:e1k3 C0=16x2:e3k3 C1=16x2:e3k3 "
                        "T2=48x1:m2h3q1v2 T3=80x1:m2h5q1v2 T4=144x1:m2h9q1v2 T5=160x1:m2h10q1v2",
                        "r128 first_conv=16x1:k3 stem=16x1:e1k3 C0=16x4:e3k3 C1=48x6:e5k3 "
                        "T2=80x1:m3h5q1v4 T3=112x3:m2h7q1v2 T4=160x6:m3h10q1v4 T5=192x4:m4h12q1v3",
                        "r176 first_conv=24x1:k3 stem=24x2:e1k3 C0=32x5:e6k3 C1=32x3:e3k3 "
                        "T2=48x5:m3h3q1v3 T3=112x5:m4h7q1v3 T4=144x6:m5h9q1v2 T5=272x6:m3h17q1v4",
                    });
}

TEST_CASE("golden: best_of_k_sampler, first 20 subnets of seed 2024",
          "[sample][golden][determinism]") {
  evit::best_of_k_sampler<official> bk(3, golden_seed);
  std::vector<evit::arch> got;
  for (int k = 0; k < 20; ++k) got.push_back(bk.next(fake_score).subnet);
  check_golden(got, {
                        "r128 first_conv=24x1:k3 stem=24x2:e1k3 C0=24x3:e5k3 C1=48x4:e4k3 "
                        "T2=48x4:m5h3q1v3 T3=112x5:m2h7q1v2 T4=224x6:m5h14q1v2 T5=320x6:m3h20q1v2",
                        "r192 first_conv=16x1:k3 stem=16x2:e1k5 C0=24x2:e4k5 C1=24x4:e5k3 "
                        "T2=48x2:m2h3q1v4 T3=160x4:m2h10q1v4 T4=288x4:m2h18q1v2 T5=288x2:m3h18q1v3",
                        "r128 first_conv=16x1:k3 stem=16x1:e1k3 C0=16x4:e3k3 C1=48x6:e5k3 "
                        "T2=80x1:m3h5q1v4 T3=112x3:m2h7q1v2 T4=160x6:m3h10q1v4 T5=192x4:m4h12q1v3",
                        "r224 first_conv=16x1:k3 stem=16x1:e1k5 C0=24x3:e4k3 C1=48x3:e6k5 "
                        "T2=48x3:m4h3q1v4 T3=144x2:m3h9q1v2 T4=288x4:m3h18q1v2 T5=320x2:m4h20q1v4",
                        "r224 first_conv=16x1:k3 stem=16x1:e1k5 C0=24x3:e3k5 C1=40x4:e4k3 "
                        "T2=48x3:m4h3q1v3 T3=144x5:m2h9q1v2 T4=192x3:m5h12q1v4 T5=256x6:m5h16q1v3",
                        "r192 first_conv=16x1:k3 stem=16x2:e1k5 C0=16x3:e5k3 C1=24x4:e5k3 "
                        "T2=96x5:m3h6q1v2 T3=128x5:m2h8q1v4 T4=176x2:m3h11q1v2 T5=272x4:m4h17q1v4",
                        "r160 first_conv=24x1:k3 stem=24x1:e1k3 C0=24x3:e3k3 C1=48x6:e5k3 "
                        "T2=96x3:m2h6q1v4 T3=144x1:m5h9q1v4 T4=240x5:m4h15q1v2 T5=288x6:m2h18q1v4",
                        "r192 first_conv=24x1:k3 stem=24x1:e1k3 C0=32x2:e5k5 C1=48x3:e3k5 "
                        "T2=96x3:m4h6q1v4 T3=112x4:m2h7q1v3 T4=224x6:m4h14q1v3 T5=256x6:m5h16q1v3",
                        "r224 first_conv=16x1:k3 stem=16x1:e1k3 C0=32x2:e4k5 C1=48x5:e6k5 "
                        "T2=64x5:m3h4q1v4 T3=80x3:m4h5q1v3 T4=192x6:m4h12q1v2 T5=240x6:m4h15q1v2",
                        "r160 first_conv=16x1:k3 stem=16x1:e1k5 C0=24x2:e6k5 C1=48x4:e3k3 "
                        "T2=80x5:m5h5q1v4 T3=160x2:m2h10q1v4 T4=160x6:m5h10q1v3 T5=192x2:m5h12q1v3",
                        "r160 first_conv=16x1:k3 stem=16x1:e1k3 C0=32x5:e3k3 C1=40x4:e3k5 "
                        "T2=64x1:m3h4q1v3 T3=80x6:m4h5q1v2 T4=288x6:m2h18q1v4 T5=288x6:m3h18q1v3",
                        "r176 first_conv=24x1:k3 stem=24x1:e1k5 C0=32x5:e4k3 C1=32x3:e4k5 "
                        "T2=96x4:m2h6q1v4 T3=128x6:m5h8q1v4 T4=272x1:m5h17q1v4 T5=320x2:m3h20q1v2",
                        "r128 first_conv=24x1:k3 stem=24x2:e1k3 C0=32x3:e5k5 C1=48x6:e6k3 "
                        "T2=48x5:m3h3q1v2 T3=128x2:m5h8q1v4 T4=160x3:m3h10q1v2 T5=176x1:m2h11q1v4",
                        "r160 first_conv=24x1:k3 stem=24x2:e1k3 C0=32x3:e5k3 C1=40x5:e6k5 "
                        "T2=64x5:m5h4q1v4 T3=112x6:m5h7q1v4 T4=176x1:m2h11q1v2 T5=240x2:m3h15q1v2",
                        "r176 first_conv=24x1:k3 stem=24x1:e1k3 C0=24x5:e4k3 C1=32x2:e4k3 "
                        "T2=48x3:m3h3q1v2 T3=128x6:m5h8q1v4 T4=256x6:m2h16q1v3 T5=320x6:m3h20q1v2",
                        "r192 first_conv=24x1:k3 stem=24x2:e1k5 C0=32x4:e4k3 C1=40x5:e3k5 "
                        "T2=80x2:m4h5q1v3 T3=96x2:m5h6q1v4 T4=160x1:m2h10q1v4 T5=240x5:m5h15q1v2",
                        "r192 first_conv=16x1:k3 stem=16x2:e1k5 C0=16x2:e6k5 C1=24x6:e4k5 "
                        "T2=64x5:m3h4q1v3 T3=144x4:m4h9q1v3 T4=256x5:m3h16q1v2 T5=304x1:m3h19q1v3",
                        "r192 first_conv=24x1:k3 stem=24x2:e1k5 C0=24x2:e5k3 C1=48x3:e6k5 "
                        "T2=64x3:m5h4q1v3 T3=96x5:m2h6q1v2 T4=240x4:m5h15q1v4 T5=272x5:m5h17q1v4",
                        "r256 first_conv=24x1:k3 stem=24x1:e1k3 C0=24x4:e6k5 C1=24x6:e6k5 "
                        "T2=96x5:m5h6q1v4 T3=128x4:m3h8q1v3 T4=224x3:m5h14q1v2 T5=256x3:m5h16q1v4",
                        "r256 first_conv=24x1:k3 stem=24x1:e1k5 C0=32x3:e4k5 C1=40x5:e6k5 "
                        "T2=80x1:m4h5q1v2 T3=160x2:m3h10q1v4 T4=240x6:m2h15q1v2 T5=256x3:m2h16q1v4",
                    });
}

TEST_CASE("golden: complexity_aware_sampler, first 20 subnets of seed 2024",
          "[sample][golden][determinism]") {
  evit_test::ca_sampler ca(fast_macs{}, evit::complexity_options().seed(golden_seed));
  std::vector<evit::arch> got;
  for (int k = 0; k < 20; ++k) got.push_back(ca.next());
  check_golden(got, {
                        "r128 first_conv=16x1:k3 stem=16x2:e1k3 C0=24x3:e3k5 C1=32x5:e5k3 "
                        "T2=80x1:m3h5q1v2 T3=96x2:m2h6q1v4 T4=224x2:m2h14q1v4 T5=256x1:m2h16q1v4",
                        "r128 first_conv=16x1:k3 stem=16x1:e1k3 C0=16x4:e4k5 C1=16x3:e6k5 "
                        "T2=96x4:m4h6q1v2 T3=128x3:m4h8q1v3 T4=256x3:m4h16q1v2 T5=256x1:m2h16q1v4",
                        "r128 first_conv=16x1:k3 stem=16x1:e1k5 C0=16x4:e4k5 C1=32x3:e6k3 "
                        "T2=48x2:m4h3q1v4 T3=144x3:m3h9q1v2 T4=272x3:m3h17q1v3 T5=320x6:m5h20q1v2",
                        "r160 first_conv=16x1:k3 stem=16x1:e1k5 C0=32x4:e4k3 C1=32x2:e6k3 "
                        "T2=80x3:m3h5q1v4 T3=96x6:m4h6q1v3 T4=208x1:m4h13q1v4 T5=224x1:m3h14q1v3",
                        "r128 first_conv=16x1:k3 stem=16x1:e1k3 C0=32x5:e4k5 C1=48x3:e4k5 "
                        "T2=64x1:m2h4q1v2 T3=144x6:m5h9q1v2 T4=256x2:m5h16q1v3 T5=288x1:m4h18q1v4",
                        "r160 first_conv=16x1:k3 stem=16x1:e1k3 C0=24x5:e3k5 C1=32x3:e5k3 "
                        "T2=64x4:m2h4q1v4 T3=128x6:m4h8q1v4 T4=160x4:m4h10q1v4 T5=208x1:m4h13q1v3",
                        "r192 first_conv=24x1:k3 stem=24x2:e1k5 C0=24x2:e3k3 C1=32x5:e4k5 "
                        "T2=80x1:m4h5q1v3 T3=144x3:m3h9q1v3 T4=160x2:m5h10q1v3 T5=208x5:m4h13q1v2",
                        "r160 first_conv=16x1:k3 stem=16x1:e1k5 C0=32x5:e6k5 C1=40x2:e4k5 "
                        "T2=48x1:m5h3q1v2 T3=160x1:m3h10q1v4 T4=272x4:m5h17q1v4 T5=288x6:m4h18q1v4",
                        "r224 first_conv=24x1:k3 stem=24x2:e1k5 C0=24x3:e5k3 C1=24x5:e3k3 "
                        "T2=80x3:m3h5q1v2 T3=96x3:m4h6q1v2 T4=208x6:m5h13q1v3 T5=304x4:m2h19q1v2",
                        "r256 first_conv=16x1:k3 stem=16x1:e1k5 C0=16x4:e4k5 C1=32x2:e6k5 "
                        "T2=80x1:m4h5q1v2 T3=112x3:m5h7q1v4 T4=192x5:m2h12q1v2 T5=240x1:m4h15q1v3",
                        "r176 first_conv=24x1:k3 stem=24x2:e1k3 C0=32x4:e5k5 C1=48x6:e3k5 "
                        "T2=96x5:m4h6q1v4 T3=112x2:m3h7q1v2 T4=256x6:m5h16q1v3 T5=272x1:m2h17q1v2",
                        "r192 first_conv=16x1:k3 stem=16x2:e1k5 C0=32x4:e3k5 C1=48x4:e3k5 "
                        "T2=80x2:m2h5q1v3 T3=160x2:m2h10q1v3 T4=288x6:m5h18q1v2 T5=288x3:m4h18q1v2",
                        "r256 first_conv=16x1:k3 stem=16x1:e1k5 C0=24x3:e5k5 C1=40x5:e4k3 "
                        "T2=64x1:m3h4q1v3 T3=96x4:m4h6q1v2 T4=288x5:m2h18q1v3 T5=288x1:m3h18q1v2",
                        "r224 first_conv=16x1:k3 stem=16x2:e1k3 C0=32x4:e3k5 C1=32x5:e3k3 "
                        "T2=64x5:m5h4q1v2 T3=80x1:m4h5q1v2 T4=288x5:m2h18q1v4 T5=288x2:m2h18q1v4",
                        "r224 first_conv=16x1:k3 stem=16x2:e1k3 C0=32x3:e5k5 C1=40x4:e5k5 "
                        "T2=80x2:m5h5q1v4 T3=128x5:m3h8q1v4 T4=144x6:m4h9q1v3 T5=288x2:m5h18q1v3",
                        "r176 first_conv=16x1:k3 stem=16x2:e1k3 C0=24x4:e3k3 C1=40x4:e5k5 "
                        "T2=48x1:m2h3q1v3 T3=128x5:m3h8q1v3 T4=288x5:m5h18q1v4 T5=304x5:m4h19q1v2",
                        "r224 first_conv=24x1:k3 stem=24x1:e1k5 C0=32x4:e4k5 C1=32x2:e6k3 "
                        "T2=80x5:m4h5q1v2 T3=112x2:m2h7q1v4 T4=240x3:m2h15q1v3 T5=288x2:m5h18q1v2",
                        "r256 first_conv=16x1:k3 stem=16x2:e1k3 C0=32x5:e6k3 C1=48x6:e6k3 "
                        "T2=96x2:m4h6q1v2 T3=112x2:m3h7q1v3 T4=176x2:m2h11q1v4 T5=192x1:m3h12q1v2",
                        "r256 first_conv=16x1:k3 stem=16x2:e1k3 C0=24x5:e6k3 C1=32x3:e3k3 "
                        "T2=80x2:m5h5q1v2 T3=128x3:m4h8q1v4 T4=240x3:m2h15q1v2 T5=304x1:m2h19q1v2",
                        "r256 first_conv=24x1:k3 stem=24x2:e1k3 C0=32x5:e6k5 C1=32x6:e5k5 "
                        "T2=48x5:m5h3q1v4 T3=128x3:m5h8q1v4 T4=192x1:m5h12q1v2 T5=240x4:m3h15q1v4",
                    });
}

TEST_CASE("golden: complexity_aware_sampler's ElasticViT sandwich, first 20 subnets of seed 2024",
          "[sample][golden][determinism]") {
  evit_test::ca_sampler ca(fast_macs{}, evit::complexity_options().seed(golden_seed));
  std::vector<evit::arch> got;
  while (got.size() < 20)
    for (const evit::arch& a : ca.sandwich_step()) got.push_back(a);
  check_golden(got, {
                        "r128 first_conv=16x1:k3 stem=16x2:e1k3 C0=24x3:e3k5 C1=32x5:e5k3 "
                        "T2=80x1:m3h5q1v2 T3=96x2:m2h6q1v4 T4=224x2:m2h14q1v4 T5=256x1:m2h16q1v4",
                        "r128 first_conv=16x1:k3 stem=16x2:e1k5 C0=24x2:e3k3 C1=32x2:e6k3 "
                        "T2=64x2:m2h4q1v3 T3=96x6:m2h6q1v2 T4=160x5:m2h10q1v2 T5=176x1:m2h11q1v2",
                        "r128 first_conv=16x1:k3 stem=16x1:e1k5 C0=32x3:e3k3 C1=32x2:e3k3 "
                        "T2=96x1:m4h6q1v2 T3=96x1:m2h6q1v2 T4=272x1:m3h17q1v3 T5=288x3:m2h18q1v3",
                        "r128 first_conv=16x1:k3 stem=16x2:e1k5 C0=16x2:e6k5 C1=16x6:e6k5 "
                        "T2=48x1:m5h3q1v3 T3=80x1:m5h5q1v4 T4=256x1:m5h16q1v4 T5=320x1:m5h20q1v4",
                        "r128 first_conv=16x1:k3 stem=16x2:e1k5 C0=32x5:e4k5 C1=48x3:e6k5 "
                        "T2=48x5:m3h3q1v2 T3=144x1:m5h9q1v4 T4=144x6:m4h9q1v3 T5=192x5:m4h12q1v2",
                        "r160 first_conv=16x1:k3 stem=16x1:e1k5 C0=24x3:e3k5 C1=48x5:e3k5 "
                        "T2=64x3:m5h4q1v3 T3=80x3:m4h5q1v4 T4=208x1:m2h13q1v3 T5=208x3:m3h13q1v3",
                        "r128 first_conv=24x1:k3 stem=24x2:e1k5 C0=24x4:e4k3 C1=32x3:e4k5 "
                        "T2=96x5:m3h6q1v3 T3=96x4:m4h6q1v2 T4=208x3:m4h13q1v2 T5=304x1:m3h19q1v2",
                        "r128 first_conv=16x1:k3 stem=16x2:e1k5 C0=16x5:e6k5 C1=24x6:e6k5 "
                        "T2=48x5:m5h3q1v4 T3=128x1:m5h8q1v4 T4=288x1:m5h18q1v4 T5=320x5:m5h20q1v4",
                        "r160 first_conv=16x1:k3 stem=16x2:e1k3 C0=16x4:e5k3 C1=32x3:e3k5 "
                        "T2=64x2:m5h4q1v4 T3=96x1:m4h6q1v4 T4=192x4:m3h12q1v2 T5=224x5:m5h14q1v3",
                        "r160 first_conv=16x1:k3 stem=16x1:e1k3 C0=16x2:e5k3 C1=16x5:e4k3 "
                        "T2=48x1:m3h3q1v3 T3=160x3:m2h10q1v2 T4=208x1:m2h13q1v3 T5=304x3:m2h19q1v2",
                        "r128 first_conv=24x1:k3 stem=24x2:e1k5 C0=24x4:e4k5 C1=48x5:e5k5 "
                        "T2=64x1:m5h4q1v2 T3=80x6:m5h5q1v3 T4=176x3:m3h11q1v4 T5=288x5:m2h18q1v2",
                        "r128 first_conv=16x1:k3 stem=16x2:e1k5 C0=16x5:e6k5 C1=24x6:e6k5 "
                        "T2=48x5:m5h3q1v4 T3=128x1:m5h8q1v4 T4=288x1:m5h18q1v4 T5=320x5:m5h20q1v4",
                        "r160 first_conv=16x1:k3 stem=16x1:e1k3 C0=16x2:e3k3 C1=16x2:e3k3 "
                        "T2=96x1:m2h6q1v2 T3=144x1:m2h9q1v3 T4=144x1:m2h9q1v3 T5=160x3:m2h10q1v2",
                        "r128 first_conv=16x1:k3 stem=16x2:e1k3 C0=16x2:e3k3 C1=32x2:e3k3 "
                        "T2=96x2:m3h6q1v2 T3=96x1:m5h6q1v2 T4=224x3:m2h14q1v2 T5=272x6:m3h17q1v2",
                        "r128 first_conv=24x1:k3 stem=24x1:e1k3 C0=24x3:e3k3 C1=24x2:e3k3 "
                        "T2=80x3:m2h5q1v2 T3=128x2:m2h8q1v2 T4=144x1:m3h9q1v2 T5=240x4:m4h15q1v4",
                        "r128 first_conv=16x1:k3 stem=16x2:e1k5 C0=16x2:e6k5 C1=16x6:e6k5 "
                        "T2=48x1:m5h3q1v3 T3=80x1:m5h5q1v4 T4=256x1:m5h16q1v4 T5=320x1:m5h20q1v4",
                        "r128 first_conv=24x1:k3 stem=24x1:e1k5 C0=24x2:e6k5 C1=40x2:e6k5 "
                        "T2=64x1:m4h4q1v4 T3=96x2:m4h6q1v3 T4=176x1:m2h11q1v2 T5=304x1:m2h19q1v2",
                        "r128 first_conv=16x1:k3 stem=16x1:e1k5 C0=16x4:e6k3 C1=16x4:e3k3 "
                        "T2=48x2:m3h3q1v2 T3=96x6:m2h6q1v3 T4=160x1:m2h10q1v2 T5=272x1:m2h17q1v2",
                        "r128 first_conv=16x1:k3 stem=16x2:e1k3 C0=16x2:e3k3 C1=48x2:e6k3 "
                        "T2=48x2:m3h3q1v2 T3=80x4:m2h5q1v4 T4=272x2:m2h17q1v2 T5=304x1:m5h19q1v3",
                        "r128 first_conv=16x1:k3 stem=16x2:e1k5 C0=16x2:e6k5 C1=16x6:e6k5 "
                        "T2=48x1:m5h3q1v3 T3=80x1:m5h5q1v4 T4=256x1:m5h16q1v4 T5=320x1:m5h20q1v4",
                    });
}

TEST_CASE("golden: performance_aware_sampler, first 20 subnets of seed 2024",
          "[sample][golden][determinism]") {
  // Small banks and a late epoch, so that the 20 draws explore, compare candidates and exploit.
  evit_test::pa_sampler pa(fast_macs{}, evit::complexity_options().seed(golden_seed),
                           evit::performance_options().capacity(4, 4, 500e6));
  pa.set_epoch(300);
  std::vector<evit::arch> got;
  int exploited = 0;
  for (int k = 0; k < 20; ++k) {
    if (k % 2 == 0) pa.step();
    const evit::level_draw d = pa.draw();
    exploited += d.origin == evit::draw_origin::exploited;
    pa.report(d, fake_score(d.subnet));
    got.push_back(d.subnet);
  }
  CHECK(exploited > 0);
  check_golden(got, {
                        "r128 first_conv=16x1:k3 stem=16x1:e1k3 C0=16x2:e3k3 C1=16x2:e3k3 "
                        "T2=80x1:m2h5q1v2 T3=80x3:m2h5q1v2 T4=256x4:m2h16q1v3 T5=272x1:m2h17q1v3",
                        "r128 first_conv=16x1:k3 stem=16x2:e1k5 C0=32x2:e3k5 C1=32x3:e3k3 "
                        "T2=64x2:m4h4q1v3 T3=96x1:m4h6q1v2 T4=160x5:m2h10q1v3 T5=288x2:m3h18q1v4",
                        "r160 first_conv=24x1:k3 stem=24x2:e1k3 C0=24x2:e3k3 C1=24x2:e3k3 "
                        "T2=48x1:m2h3q1v2 T3=80x1:m2h5q1v3 T4=160x1:m3h10q1v3 T5=256x2:m5h16q1v4",
                        "r128 first_conv=16x1:k3 stem=16x2:e1k5 C0=32x2:e3k5 C1=32x3:e3k3 "
                        "T2=64x2:m4h4q1v3 T3=96x1:m4h6q1v2 T4=160x5:m2h10q1v3 T5=288x2:m3h18q1v4",
                        "r160 first_conv=24x1:k3 stem=24x2:e1k3 C0=24x2:e3k3 C1=24x2:e3k3 "
                        "T2=48x1:m2h3q1v2 T3=80x1:m2h5q1v3 T4=160x1:m3h10q1v3 T5=256x2:m5h16q1v4",
                        "r128 first_conv=24x1:k3 stem=24x2:e1k5 C0=24x2:e3k3 C1=24x6:e5k3 "
                        "T2=64x1:m5h4q1v4 T3=128x1:m2h8q1v2 T4=288x1:m3h18q1v4 T5=288x1:m5h18q1v2",
                        "r128 first_conv=24x1:k3 stem=24x1:e1k5 C0=32x2:e4k3 C1=48x4:e5k3 "
                        "T2=80x4:m2h5q1v3 T3=96x3:m3h6q1v4 T4=288x2:m5h18q1v2 T5=304x1:m5h19q1v4",
                        "r176 first_conv=16x1:k3 stem=16x2:e1k3 C0=16x2:e5k3 C1=24x2:e6k3 "
                        "T2=64x4:m4h4q1v2 T3=112x1:m4h7q1v4 T4=208x2:m3h13q1v3 T5=240x1:m5h15q1v3",
                        "r128 first_conv=24x1:k3 stem=24x2:e1k5 C0=24x2:e3k3 C1=24x6:e5k3 "
                        "T2=64x1:m5h4q1v4 T3=128x1:m2h8q1v2 T4=288x1:m3h18q1v4 T5=288x1:m5h18q1v2",
                        "r128 first_conv=24x1:k3 stem=24x2:e1k5 C0=24x2:e3k3 C1=24x6:e5k3 "
                        "T2=64x1:m5h4q1v4 T3=128x1:m2h8q1v2 T4=288x1:m3h18q1v4 T5=288x1:m5h18q1v2",
                        "r128 first_conv=24x1:k3 stem=24x2:e1k5 C0=24x2:e3k3 C1=24x6:e5k3 "
                        "T2=64x1:m5h4q1v4 T3=128x1:m2h8q1v2 T4=288x1:m3h18q1v4 T5=288x1:m5h18q1v2",
                        "r128 first_conv=24x1:k3 stem=24x2:e1k5 C0=24x2:e3k3 C1=24x6:e5k3 "
                        "T2=64x1:m5h4q1v4 T3=128x1:m2h8q1v2 T4=288x1:m3h18q1v4 T5=288x1:m5h18q1v2",
                        "r128 first_conv=16x1:k3 stem=16x1:e1k3 C0=32x2:e3k3 C1=40x3:e6k5 "
                        "T2=96x1:m2h6q1v2 T3=96x1:m5h6q1v2 T4=176x2:m5h11q1v3 T5=288x2:m2h18q1v2",
                        "r128 first_conv=24x1:k3 stem=24x2:e1k5 C0=24x2:e3k3 C1=24x6:e5k3 "
                        "T2=64x1:m5h4q1v4 T3=128x1:m2h8q1v2 T4=288x1:m3h18q1v4 T5=288x1:m5h18q1v2",
                        "r128 first_conv=24x1:k3 stem=24x2:e1k5 C0=24x2:e3k3 C1=24x6:e5k3 "
                        "T2=64x1:m5h4q1v4 T3=128x1:m2h8q1v2 T4=288x1:m3h18q1v4 T5=288x1:m5h18q1v2",
                        "r128 first_conv=16x1:k3 stem=16x2:e1k3 C0=24x4:e3k5 C1=24x2:e3k3 "
                        "T2=80x2:m3h5q1v4 T3=112x1:m4h7q1v4 T4=176x3:m3h11q1v2 T5=272x1:m4h17q1v3",
                        "r128 first_conv=24x1:k3 stem=24x2:e1k5 C0=24x2:e3k3 C1=24x6:e5k3 "
                        "T2=64x1:m5h4q1v4 T3=128x1:m2h8q1v2 T4=288x1:m3h18q1v4 T5=288x1:m5h18q1v2",
                        "r128 first_conv=16x1:k3 stem=16x2:e1k3 C0=32x3:e3k3 C1=40x2:e3k3 "
                        "T2=48x2:m2h3q1v3 T3=160x1:m2h10q1v3 T4=176x1:m2h11q1v3 T5=304x1:m5h19q1v2",
                        "r128 first_conv=24x1:k3 stem=24x2:e1k5 C0=24x2:e3k3 C1=24x6:e5k3 "
                        "T2=64x1:m5h4q1v4 T3=128x1:m2h8q1v2 T4=288x1:m3h18q1v4 T5=288x1:m5h18q1v2",
                        "r128 first_conv=24x1:k3 stem=24x2:e1k5 C0=24x2:e3k3 C1=24x6:e5k3 "
                        "T2=64x1:m5h4q1v4 T3=128x1:m2h8q1v2 T4=288x1:m3h18q1v4 T5=288x1:m5h18q1v2",
                    });
}
