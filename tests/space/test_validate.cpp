// SPDX-License-Identifier: MIT
// Every dimension, rule and structural mistake gives evit::invalid_arch with a message naming the
// stage, layer, dimension, value and what was allowed.
#include <string>

#include "evit/models/autoformer/space.hpp"
#include "evit/models/elasticvit/released.hpp"
#include "evit/models/elasticvit/space.hpp"

#include "catch.hpp"

namespace ev = evit::elasticvit;
namespace af = evit::autoformer;
using S = ev::official_space;

namespace {
// The message of the invalid_arch that `a` raises in space Space ("" when it is valid).
template <class Space = S>
std::string why(const evit::arch& a) {
  try {
    Space::validate(a);
  } catch (const evit::invalid_arch& e) {
    return e.what();
  }
  return "";
}
evit::arch t1() { return ev::released("elastic_T1"); }
}  // namespace

TEST_CASE("validate: the released models and min/max are valid", "[space][validate]") {
  for (const auto& m : ev::released_models()) CHECK(why(m.arch_value).empty());
  CHECK(why(S::min_arch()).empty());
  CHECK(why(S::max_arch()).empty());
}

TEST_CASE("validate: each dimension names stage, layer, value and the allowed set",
          "[space][validate]") {
  evit::arch a = t1();
  SECTION("resolution") {
    a.set_resolution(200);
    CHECK(why(a) == "resolution 200 not in {128, 160, 176, 192, 224, 256}");
  }
  SECTION("width") {
    a.set_width(5, 72);
    CHECK(why(a) == "stage T3: width 72 not in {80..160 step 16}");
  }
  SECTION("depth") {
    a.set_depth(6, 7);
    CHECK(why(a) == "stage T4: depth 7 not in {1..6}");
  }
  SECTION("expand_ratio") {
    a.layer(2, 0).expand_ratio = 2;
    CHECK(why(a) == "stage C0 layer 0: expand_ratio 2 not in {3, 4, 5, 6}");
  }
  SECTION("kernel_size") {
    a.layer(1, 0).kernel_size = 7;
    CHECK(why(a) == "stage stem layer 0: kernel_size 7 not in {3, 5}");
  }
  SECTION("first conv kernel") {
    a.layer(0, 0).kernel_size = 5;
    CHECK(why(a) == "stage first_conv layer 0: kernel_size 5 not in {3}");
  }
  SECTION("mlp_ratio") {
    a.layer(7, 0).mlp_ratio = evit::rational(7, 2);
    CHECK(why(a) == "stage T5 layer 0: mlp_ratio 7/2 not in {2, 3, 4, 5}");
  }
  SECTION("v_scale") {
    a.layer(4, 0).v_scale = 1;
    CHECK(why(a) == "stage T2 layer 0: v_scale 1 not in {2, 3, 4}");
  }
  SECTION("qk_scale") {
    a.layer(4, 0).qk_scale = 2;
    CHECK(why(a) == "stage T2 layer 0: qk_scale 2 not in {1}");
  }
  SECTION("num_heads follow the width") {
    a.layer(6, 0).num_heads = 10;
    CHECK(why(a) == "stage T4 layer 0: num_heads 10 must be width / head_dim = 176 / 16 = 11");
  }
  SECTION("a dimension the stage kind does not have") {
    a.layer(4, 0).kernel_size = 3;
    CHECK(why(a) ==
          "stage T2 layer 0: kernel_size 3 given, but a transformer_stage has no kernel_size (it "
          "must be 0)");
  }
  SECTION("expansion on the stem is fixed at 1") {
    a.layer(1, 0).expand_ratio = 3;
    CHECK(why(a) == "stage stem layer 0: expand_ratio 3 not in {1}");
  }
}

TEST_CASE("validate: cross-stage rules", "[space][validate]") {
  evit::arch a = t1();
  SECTION("non-decreasing widths") {
    a.set_width(3, 16);  // C1 below C0's 24
    CHECK(why(a) == "stage C1: width 16 is below stage C0's width 24 (rule non_decreasing_width)");
  }
  SECTION("stem width equals first conv width") {
    a.set_width(0, 24);
    CHECK(why(a) ==
          "stage stem: width 16 must equal stage first_conv's width 24 (rule same_width)");
  }
  SECTION("block-wise: all layers of a stage share their choices") {
    a.layer(3, 2).kernel_size = 5;
    CHECK(why(a) ==
          "stage C1 layer 2: differs from layer 0, but the space is block-wise (all layers of a "
          "stage share their choices)");
  }
  SECTION("layer-wise spaces accept differing layers") {
    evit::arch b = af::tiny_space::min_arch();
    b.layer(0, 3).num_heads = 4;
    b.layer(0, 5).mlp_ratio = 4;
    CHECK(why<af::tiny_space>(b).empty());
    b.layer(0, 5).num_heads = 5;
    CHECK(why<af::tiny_space>(b) == "stage blocks layer 5: num_heads 5 not in {3, 4}");
  }
}

TEST_CASE("validate: structure", "[space][validate]") {
  evit::arch a = t1();
  evit::arch wrong;
  wrong.set_resolution(128);
  wrong.add_stage(16, 1);
  CHECK(why(wrong) == "arch has 1 stages; space elasticvit-official has 8");
  // An arch of another space.
  CHECK(why<ev::mini_space>(a) == "stage T2: width 64 not in {32, 48}");
  CHECK(!S::is_valid(af::tiny_space::min_arch()));
  CHECK(S::is_valid(a));
}
