// SPDX-License-Identifier: MIT
#include <string>

#include "evit/core/rng.hpp"
#include "evit/io/arch_text.hpp"
#include "evit/models/autoformer/space.hpp"
#include "evit/models/elasticvit/released.hpp"

#include "catch.hpp"

namespace ev = evit::elasticvit;
namespace af = evit::autoformer;
using S = ev::official_space;

namespace {
std::string parse_error_of(const std::string& text) {
  try {
    evit::parse<S>(text);
  } catch (const evit::parse_error& e) {
    return e.what();
  } catch (const evit::invalid_arch& e) {
    return std::string("invalid_arch: ") + e.what();
  }
  return "";
}
const std::string t1_text =
    "r128 first_conv=16x1:k3 stem=16x1:e1k3 C0=24x2:e3k3 C1=32x3:e3k3 T2=64x1:m2h4q1v2 "
    "T3=96x1:m2h6q1v2 T4=176x1:m3h11q1v2 T5=272x1:m4h17q1v2";
}  // namespace

TEST_CASE("arch text: the released T1 reads and writes as documented", "[io][arch_text]") {
  CHECK(evit::to_string<S>(ev::released("elastic_T1")) == t1_text);
  CHECK(evit::parse<S>(t1_text) == ev::released("elastic_T1"));
  // Heads follow the width in ElasticViT, so they may be omitted; extra spaces are fine.
  CHECK(evit::parse<S>("  r128  first_conv=16x1:k3 stem=16x1:e1k3 C0=24x2:e3k3 C1=32x3:e3k3 "
                       "T2=64x1:m2q1v2 T3=96x1:m2q1v2 T4=176x1:m3q1v2 T5=272x1:m4q1v2 ") ==
        ev::released("elastic_T1"));
}

TEST_CASE("arch text: exact round trip of random subnets of every space", "[io][arch_text]") {
  evit::rng g(3);
  for (int i = 0; i < 300; ++i) {
    const evit::arch a = S::sample(g);
    CHECK(evit::parse<S>(evit::to_string<S>(a)) == a);
    const evit::arch b = af::small_space::sample(g);  // layer-wise, fractional mlp ratios
    const std::string tb = evit::to_string<af::small_space>(b);
    CHECK(evit::parse<af::small_space>(tb) == b);
  }
  const std::string af_min = evit::to_string<af::tiny_space>(af::tiny_space::min_arch());
  CHECK(af_min == "r224 blocks=192x12:m7/2h3q1v1");
}

TEST_CASE("arch text: malformed text names the position and the problem", "[io][arch_text]") {
  CHECK(parse_error_of("") ==
        "arch text, position 0: expected 'r' (the text starts with the "
        "resolution, e.g. r224) (at the end)");
  CHECK(parse_error_of("x128") ==
        "arch text, position 0: expected 'r' (the text starts with the resolution, e.g. r224) "
        "(at \"x128\")");
  CHECK(parse_error_of("r-128") ==
        "arch text, position 1: expected a non-negative integer for resolution (at \"-128\")");
  CHECK(parse_error_of("r99999999999") ==
        "arch text, position 7: resolution is out of range [0, 1048576] (at \"99999\")");
  CHECK(parse_error_of("r128") ==
        "arch text, position 4: expected a space, then stage first_conv (at the end)");
  CHECK(parse_error_of("r128 stem=16x1:k3") ==
        "arch text, position 9: stage 0 must be 'first_conv', got 'stem' (at \"=16x1:k3\")");
  CHECK(parse_error_of("r128 first_conv=16:k3") ==
        "arch text, position 18 (stage first_conv): expected 'x' between width and depth (at "
        "\":k3\")");
  CHECK(parse_error_of("r128 first_conv=16x1:k3k5") ==
        "arch text, position 23 (stage first_conv): dimension 'k' given twice in one layer (at "
        "\"k5\")");
  CHECK(parse_error_of("r128 first_conv=16x1:z3") ==
        "arch text, position 21 (stage first_conv): unexpected character 'z' (dimension letters "
        "are e k m h q v) (at \"z3\")");
  CHECK(parse_error_of(t1_text + " T6=320x1:m2") ==
        "arch text, position 137: text continues after the last stage (8 stages in space "
        "elasticvit-official) (at \"T6=320x1:m2\")");
  CHECK(parse_error_of("r128 first_conv=16x1:k3 stem=16x3:e1k3,e1k3") ==
        "arch text, position 43 (stage stem): 2 layer groups for depth 3 (give 1 for all layers "
        "or one per layer) (at the end)");
  CHECK(parse_error_of("r128 first_conv=16x99:k3") ==
        "arch text, position 21 (stage first_conv): depth 99 exceeds the capacity of 64 layers "
        "(at \":k3\")");
  CHECK(parse_error_of("r128 first_conv=16x1:k3 stem=16x1:e1k3 C0=24x2:e3k3 C1=32x3:e3k3 "
                       "T2=64x1:m2/0") ==
        "arch text, position 77 (stage T2): mlp_ratio has a zero denominator (at the end)");
  // Well-formed text of an arch outside the space is an invalid_arch, not a parse error.
  CHECK(parse_error_of("r129" + t1_text.substr(4)) ==
        "invalid_arch: resolution 129 not in {128, 160, 176, 192, 224, 256}");
}
