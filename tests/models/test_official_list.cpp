// SPDX-License-Identifier: MIT
#include <string>

#include <nlohmann/json.hpp>

#include "evit/models/elasticvit/official_list.hpp"
#include "evit/models/elasticvit/released.hpp"

#include "catch.hpp"
#include "test_data.hpp"

namespace ev = evit::elasticvit;
using json = nlohmann::json;

namespace {
std::string error_of(const std::string& text) {
  try {
    ev::from_official_list(text);
  } catch (const evit::parse_error& e) {
    return e.what();
  } catch (const evit::invalid_arch& e) {
    return std::string("invalid_arch: ") + e.what();
  }
  return "";
}
const std::string t1 =
    "[128,[16,24,32,64,96,176,272],[1,2,3,1,1,1,1],[1,3,3,3,3,3],[3,3,3,3,3,3],[2,2,3,4],[4,6,"
    "11,17],[1,1,1,1],[1,1,1,1],[2,2,2,2]]";
}  // namespace

TEST_CASE("official list: round-trips all 311 reference archs", "[models][official_list]") {
  const json cases = json::parse(
      evit::test::read_file(evit::test::data_path("elasticvit-full/full_space_flops.json")));
  REQUIRE(cases.size() == 311);
  for (const auto& c : cases) {
    CAPTURE(c["name"].get<std::string>());
    CHECK(ev::to_official_list(ev::from_official_list(c["arch"])) == c["arch"]);
  }
  const json mini =
      json::parse(evit::test::read_file(evit::test::data_path("elasticvit-mini/cases.json")));
  REQUIRE(mini["cases"].size() == 16);
  for (const auto& c : mini["cases"])
    CHECK(ev::to_official_list<ev::mini_space>(ev::from_official_list<ev::mini_space>(c["arch"])) ==
          c["arch"]);
}

TEST_CASE("official list: the documented elastic_T1 example", "[models][official_list]") {
  const evit::arch a = ev::from_official_list(t1);
  CHECK(a == ev::released("elastic_T1"));
  CHECK(a.width(0) == 16);  // the first conv takes the stem's width
  CHECK(a.depth(3) == 3);
  CHECK(a.layer(7, 0).num_heads == 17);
}

TEST_CASE("official list: bad lists name the element", "[models][official_list]") {
  CHECK(error_of("[1,2]") == "official arch list: expected 10 elements, got 2");
  CHECK(error_of("{\"a\":1}") == "official arch list: expected an array, got object {\"a\":1}");
  CHECK(error_of("[128,[16,24]") == "official arch list: not valid JSON: [128,[16,24]");
  CHECK(error_of("[128,[16,24,32,64,96,176],[1,2,3,1,1,1,1],[],[],[],[],[],[],[]]") ==
        "official arch list element 1 (channels): expected 7 elements, got 6");
  CHECK(error_of("[\"128\",[16,24,32,64,96,176,272],[1,2,3,1,1,1,1],[],[],[],[],[],[],[]]") ==
        "official arch list element 0 (resolution): expected an integer, got string \"128\"");
  CHECK(error_of("[128,[16,24,32,64,96,176,272],[1,2,3,1,1,1,-1],[],[],[],[],[],[],[]]") ==
        "official arch list element 2 (depths)[6]: -1 is out of range [0, 1048576]");
  CHECK(error_of("[128,[16,24,32,64,96,176,272],[1,2,3,1,1,1,1],[1,3,3,3,3],[3,3,3,3,3,3],[2,2,3,"
                 "4],[4,6,11,17],[1,1,1,1],[1,1,1,1],[2,2,2,2]]") ==
        "official arch list element 3 (conv_ratio): expected 6 elements, got 5");
  CHECK(error_of("[128,[16,24,32,64,96,176,272],[1,2,3,1,1,1,1],[1,3,3,3,3,3],[3,3,3,3,3,3],[2,2,3,"
                 "4],[4,6,11,17],[1,1,2,1],[1,1,1,1],[2,2,2,2]]") ==
        "official arch list element 7 (window)[2]: window 2 not supported; ElasticViT attention "
        "is global (window 1)");
  CHECK(error_of("[128,[16,24,32,64,96,176,272],[1,2,3,1,1,1,1],[1,3,3,3,3,3],[3,3,3,3,3,3],[2,2,3,"
                 "4],[4,6,11,16],[1,1,1,1],[1,1,1,1],[2,2,2,2]]") ==
        "invalid_arch: stage T5 layer 0: num_heads 16 must be width / head_dim = 272 / 16 = 17");
  CHECK(error_of("[128,[16,24,32,64,96,176,272],[1,2,3,1,1,1,100000],[1,3,3,3,3,3],[3,3,3,3,3,3],"
                 "[2,2,3,4],[4,6,11,17],[1,1,1,1],[1,1,1,1],[2,2,2,2]]") ==
        "official arch list element 2 (depths)[6]: depth 100000 exceeds 64");
}
