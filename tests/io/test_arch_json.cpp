// SPDX-License-Identifier: MIT
#include <string>

#include "evit/core/rng.hpp"
#include "evit/io/arch_json.hpp"
#include "evit/models/autoformer/space.hpp"
#include "evit/models/elasticvit/released.hpp"

#include "catch.hpp"

namespace ev = evit::elasticvit;
namespace af = evit::autoformer;
using S = ev::official_space;
using json = nlohmann::json;

namespace {
std::string error_of(const json& j) {
  try {
    evit::from_json<S>(j);
  } catch (const evit::parse_error& e) {
    return e.what();
  } catch (const evit::invalid_arch& e) {
    return std::string("invalid_arch: ") + e.what();
  }
  return "";
}
json t1() { return evit::to_json<S>(ev::released("elastic_T1")); }
}  // namespace

TEST_CASE("arch JSON: exact round trip of random subnets", "[io][arch_json]") {
  evit::rng g(4);
  for (int i = 0; i < 200; ++i) {
    const evit::arch a = S::sample(g);
    CHECK(evit::from_json<S>(evit::to_json<S>(a)) == a);
    const evit::arch b = af::base_space::sample(g);
    CHECK(evit::from_json<af::base_space>(json::parse(evit::to_json<af::base_space>(b).dump())) ==
          b);
  }
  const json j = t1();
  CHECK(j["space"] == "elasticvit-official");
  CHECK(j["stages"][4]["layers"][0] ==
        json{{"mlp_ratio", 2}, {"num_heads", 4}, {"qk_scale", 1}, {"v_scale", 2}});
  // Fractions: as strings or exact binary fractions.
  json b = evit::to_json<af::tiny_space>(af::tiny_space::min_arch());
  CHECK(b["stages"][0]["layers"][0]["mlp_ratio"] == "7/2");
  b["stages"][0]["layers"][0]["mlp_ratio"] = 3.5;
  CHECK(evit::from_json<af::tiny_space>(b) == af::tiny_space::min_arch());
}

TEST_CASE("arch JSON: bad input names the field", "[io][arch_json]") {
  json j = t1();
  SECTION("not an object") {
    CHECK(error_of(json::array()) == "arch JSON: expected an object, got array []");
  }
  SECTION("missing field") {
    j.erase("stages");
    CHECK(error_of(j) == "arch JSON: missing field \"stages\"");
  }
  SECTION("unknown field") {
    j["colour"] = "red";
    CHECK(error_of(j) ==
          "arch JSON: unknown field \"colour\" (allowed: space, resolution, stages)");
  }
  SECTION("wrong space") {
    j["space"] = "elasticvit-mini";
    CHECK(error_of(j) ==
          "arch JSON: space: \"elasticvit-mini\" but reading for space \"elasticvit-official\"");
  }
  SECTION("wrong type") {
    j["resolution"] = "224";
    CHECK(error_of(j) == "arch JSON: resolution: expected an integer, got string \"224\"");
  }
  SECTION("float where an integer belongs") {
    j["stages"][2]["width"] = 24.5;
    CHECK(error_of(j) == "arch JSON: stages[2].width: expected an integer, got number 24.5");
  }
  SECTION("negative number") {
    j["stages"][2]["depth"] = -2;
    CHECK(error_of(j) == "arch JSON: stages[2].depth: -2 is out of range [0, 1048576]");
  }
  SECTION("huge number") {
    j["stages"][2]["width"] = 18446744073709551615ULL;
    CHECK(error_of(j) ==
          "arch JSON: stages[2].width: 18446744073709551615 is out of range [0, 1048576]");
  }
  SECTION("extra stage") {
    j["stages"].push_back(j["stages"][7]);
    CHECK(error_of(j) == "arch JSON: stages: expected 8 elements, got 9");
  }
  SECTION("wrong stage name") {
    j["stages"][3]["name"] = "C9";
    CHECK(error_of(j) == "arch JSON: stages[3].name: expected \"C1\", got \"C9\"");
  }
  SECTION("layers list shorter than the depth") {
    j["stages"][3]["depth"] = 4;
    CHECK(error_of(j) == "arch JSON: stages[3].layers: expected 4 elements, got 3");
  }
  SECTION("unknown layer field") {
    j["stages"][5]["layers"][0]["window"] = 1;
    CHECK(error_of(j) ==
          "arch JSON: stages[5].layers[0]: unknown field \"window\" (allowed: expand_ratio, "
          "kernel_size, mlp_ratio, num_heads, qk_scale, v_scale)");
  }
  SECTION("bad fraction") {
    j["stages"][5]["layers"][0]["mlp_ratio"] = "7/0";
    CHECK(error_of(j) ==
          "arch JSON: stages[5].layers[0].mlp_ratio: \"7/0\" has a zero "
          "denominator");
  }
  SECTION("valid JSON, invalid arch") {
    j["stages"][5]["width"] = 72;
    j["stages"][5]["layers"][0]["num_heads"] = 4;
    CHECK(error_of(j) == "invalid_arch: stage T3: width 72 not in {80..160 step 16}");
  }
  SECTION("text that is not JSON") {
    CHECK_THROWS_AS(evit::from_json_text(S::descriptor(), "{\"resolution\": 128,"),
                    evit::parse_error);
  }
}
