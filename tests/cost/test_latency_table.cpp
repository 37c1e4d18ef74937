// SPDX-License-Identifier: MIT
// The phone latency predictor on data/mobile-lut and the table format.
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "evit/core/rng.hpp"
#include "evit/cost/adaptors.hpp"
#include "evit/cost/latency_table.hpp"
#include "evit/models/elasticvit/official_list.hpp"
#include "evit/models/elasticvit/released.hpp"

#include "catch.hpp"
#include "test_data.hpp"

namespace ev = evit::elasticvit;
using space = ev::official_space;

TEST_CASE("lut_blocks: the documented walk for elastic_T1", "[cost][lut]") {
  std::vector<std::string> keys;
  for (const auto& b : evit::cost::lut_blocks(space::descriptor(), ev::released("elastic_T1")))
    keys.push_back(b.key());
  const std::vector<std::string> expected = {"firstconv_128_3_16_2_3",
                                             "conv_64_16_16_1_1_hard_swish_3_nose",
                                             "conv_64_16_24_3_2_hard_swish_3_nose",
                                             "conv_32_24_24_3_1_hard_swish_3_nose",
                                             "conv_32_24_32_3_2_hard_swish_3_se",
                                             "conv_16_32_32_3_1_hard_swish_3_se",
                                             "conv_16_32_32_3_1_hard_swish_3_se",
                                             "transds_16_32_64_2_6",
                                             "transattn_8_64_hard_swish_2_ln",
                                             "transffn_8_64_2_hard_swish_ln",
                                             "transds_8_64_96_1_6",
                                             "transattn_8_96_hard_swish_2_ln",
                                             "transffn_8_96_2_hard_swish_ln",
                                             "transds_8_96_176_2_6",
                                             "transattn_4_176_hard_swish_2_ln",
                                             "transffn_4_176_3_hard_swish_ln",
                                             "transds_4_176_272_2_6",
                                             "transattn_2_272_hard_swish_2_ln",
                                             "transffn_2_272_4_hard_swish_ln",
                                             "mbpool_2_272_1984_6_hard_swish"};
  CHECK(keys == expected);
}

TEST_CASE(
    "mobile_latency: reproduces the README's predictions for the 9 released models on the "
    "4 phones to 0.01 ms",
    "[cost][lut]") {
  const std::string dir = evit::test::phone_table_dir();
  // docs/elasticvit.md#phone-latency-tables, "Expected predictions for the released models".
  const std::map<std::string, std::vector<double>> expected = {
      {"elastic_T1", {13.42, 6.82, 4.44, 6.32}},
      {"elastic_T2", {23.94, 11.85, 7.62, 11.73}},
      {"elastic_S1", {42.56, 21.10, 13.58, 20.81}},
      {"elastic_S2", {61.45, 30.94, 19.67, 30.06}},
      {"elastic_M", {78.64, 38.80, 25.02, 38.99}},
      {"elastic_L1", {107.04, 53.06, 34.23, 52.45}},
      {"elastic_L1.5", {121.42, 60.11, 38.89, 60.70}},
      {"elastic_L2", {136.49, 68.63, 43.86, 68.28}},
      {"elastic_L3", {156.93, 78.85, 50.62, 79.36}}};
  const auto& devices = evit::cost::phone_devices();
  REQUIRE(devices == std::vector<std::string>{"pixel1", "pixel4", "pixel6", "xiaomi11"});
  for (std::size_t k = 0; k < devices.size(); ++k) {
    const auto lat = evit::cost::mobile_latency(dir, devices[k]);
    CHECK(lat.table().size() == 12116);
    CHECK(lat.device() == devices[k]);
    for (const auto& m : ev::released_models()) {
      const double ms = lat(m.arch_value);
      CAPTURE(devices[k], m.name, ms);
      CHECK(std::abs(ms - expected.at(m.name)[k]) <= 0.005 + 1e-9);
    }
  }
}

TEST_CASE("mobile_latency: every subnet of the reference list is covered on every phone",
          "[cost][lut]") {
  const std::string dir = evit::test::phone_table_dir();
  const auto j = nlohmann::json::parse(
      evit::test::read_file(evit::test::data_path("elasticvit-full/full_space_flops.json")));
  std::vector<evit::arch> archs;
  auto collect = [&](const nlohmann::json& x, auto&& self) -> void {
    if (x.is_object() && x.contains("arch")) {
      archs.push_back(ev::from_official_list(space::descriptor(), x.at("arch")));
      return;
    }
    if (x.is_object() || x.is_array())
      for (const auto& y : x) self(y, self);
  };
  collect(j, collect);
  REQUIRE(archs.size() == 311);
  for (const auto& dev : evit::cost::phone_devices()) {
    const auto lat = evit::cost::mobile_latency(dir, dev);
    for (const auto& a : archs) {
      CAPTURE(dev);
      REQUIRE(lat.table().missing(space::descriptor(), a).empty());
      CHECK(lat(a) > 0);
    }
  }
}

TEST_CASE("latency_table: a missing block is an error naming the key and the device",
          "[cost][lut]") {
  evit::cost::latency_table t("my-phone");
  const evit::arch& t1 = ev::released("elastic_T1");
  for (const auto& b : evit::cost::lut_blocks(space::descriptor(), t1))
    if (b.kind != evit::cost::block_kind::head) t.set(b, 1.0);
  const evit::cost::table_latency<> lat(t);
  try {
    (void)lat(t1);
    FAIL("no error");
  } catch (const evit::cost::missing_block& e) {
    CHECK(e.key() == "mbpool_2_272_1984_6_hard_swish");
    CHECK(e.device() == "my-phone");
    CHECK(std::string(e.what()) ==
          "latency table of device \"my-phone\" has no block \"mbpool_2_272_1984_6_hard_swish\"");
  }
  CHECK(t.missing(space::descriptor(), t1) ==
        std::vector<std::string>{"mbpool_2_272_1984_6_hard_swish"});
  // With the head, the sum of 20 blocks of 1 ms; a fallback covers the missing case.
  evit::cost::latency_table full = t;
  full.set("mbpool_2_272_1984_6_hard_swish", 1.0);
  CHECK(evit::cost::table_latency<>(full)(t1) == 20.0);
  evit::cost::fallback fb(lat, [](const evit::arch&) { return -1.0; });
  CHECK(fb(t1) == -1.0);
  CHECK(fb.fallbacks() == 1);
  // A subnet of another space is rejected, not summed.
  evit::arch bad = t1;
  bad.set_width(7, 100);
  CHECK_THROWS_AS(evit::cost::table_latency<>(full)(bad), evit::invalid_arch);
}

TEST_CASE("latency_table: JSON round trip; a new device is a new file", "[cost][lut]") {
  evit::cost::latency_table t("lab-board");
  t.set("firstconv_128_3_16_2_3", 0.25);
  t.set("transffn_4_176_3_hard_swish_ln", 0.125);
  t.set("some_other_key", 3.0);  // kept and saved, even outside the grammar
  const std::string path = "evit_test_lut_roundtrip.json";
  t.save(path);
  const auto back = evit::cost::latency_table::load(path);
  std::remove(path.c_str());
  CHECK(back.device() == "evit_test_lut_roundtrip");
  CHECK(back.entries() == t.entries());
  CHECK(back.at("some_other_key") == 3.0);
  evit::cost::lut_block b;
  b.kind = evit::cost::block_kind::ffn;
  b.side = 4;
  b.cout = 176;
  b.mlp_ratio = 3;
  CHECK(back.at(b) == 0.125);
  CHECK_THROWS_AS(evit::cost::latency_table::load("/nonexistent/x.json"), evit::format_error);
  {
    std::ofstream f(path);
    f << "{\"conv_1\": \"fast\"}";
  }
  CHECK_THROWS_WITH(evit::cost::latency_table::load(path),
                    Catch::Matchers::Contains("entry \"conv_1\" is not a number"));
  std::remove(path.c_str());
}
