// SPDX-License-Identifier: MIT
// The phone latency predictor on data/mobile-lut and the table format.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
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

TEST_CASE("latency_table: JSON round trip, a new device is a new file", "[cost][lut]") {
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

namespace {
/// Sets (or, with nullptr, unsets) EVIT_MOBILE_LUT_DIR for one scope.
struct lut_dir_env {
  explicit lut_dir_env(const char* value) {
    if (const char* old = std::getenv("EVIT_MOBILE_LUT_DIR")) saved = old, had = true;
    if (value)
      ::setenv("EVIT_MOBILE_LUT_DIR", value, 1);
    else
      ::unsetenv("EVIT_MOBILE_LUT_DIR");
  }
  ~lut_dir_env() {
    if (had)
      ::setenv("EVIT_MOBILE_LUT_DIR", saved.c_str(), 1);
    else
      ::unsetenv("EVIT_MOBILE_LUT_DIR");
  }
  std::string saved;
  bool had = false;
};
}  // namespace

TEST_CASE("mobile_latency(device): finds the package's tables without a path", "[cost][lut]") {
  const lut_dir_env none(nullptr);
  // evit's own build: the compile definition names the source tree's data/mobile-lut (an
  // installed package names its share/evit/mobile-lut: tests/install checks that).
  REQUIRE(evit::cost::mobile_lut_dirs() == std::vector<std::string>{evit::test::phone_table_dir()});
  const auto pixel6 = evit::cost::mobile_latency("pixel6");
  CHECK(pixel6.device() == "pixel6");
  CHECK(pixel6.table().size() == 12116);
  CHECK(std::abs(pixel6(ev::released("elastic_T1")) - 4.44) <= 0.005);
  CHECK(std::abs(pixel6(ev::released("elastic_M")) - 25.02) <= 0.005);
  CHECK(pixel6(ev::released("elastic_L3")) ==
        evit::cost::mobile_latency(evit::test::phone_table_dir(),
                                   "pixel6")(ev::released("elastic_L3")));
}

TEST_CASE("mobile_latency(device): a missing table names the device, the folders, the devices",
          "[cost][lut]") {
  const lut_dir_env none(nullptr);
  const std::string dir = evit::test::phone_table_dir();
  CHECK_THROWS_MATCHES(
      evit::cost::mobile_latency("pixel9"), evit::invalid_argument,
      Catch::Matchers::Message("mobile_latency: no latency table for device \"pixel9\"; searched " +
                               dir +
                               " (set EVIT_MOBILE_LUT_DIR, or pass the folder: mobile_latency(dir, "
                               "device)); known devices: pixel1, pixel4, pixel6, xiaomi11"));
  // A name with a folder in it is not a device.
  CHECK_THROWS_AS(evit::cost::mobile_latency("../mobile-lut/pixel6"), evit::invalid_argument);
}

TEST_CASE("mobile_latency(device): EVIT_MOBILE_LUT_DIR comes first and adds devices",
          "[cost][lut]") {
  const std::string dir = "evit_test_lut_env";
  std::filesystem::create_directories(dir);
  evit::cost::latency_table board("board");
  const evit::arch& t1 = ev::released("elastic_T1");
  for (const auto& b : evit::cost::lut_blocks(space::descriptor(), t1)) board.set(b, 0.5);
  board.save(dir + "/board.json");
  board.save(dir + "/pixel6.json");  // shadows the package's pixel6
  {
    const lut_dir_env env(dir.c_str());
    CHECK(evit::cost::mobile_lut_dirs() ==
          std::vector<std::string>{dir, evit::test::phone_table_dir()});
    CHECK(evit::cost::mobile_latency("board")(t1) == 10.0);   // 20 blocks of 0.5 ms
    CHECK(evit::cost::mobile_latency("pixel6")(t1) == 10.0);  // the variable's folder first
    CHECK(std::abs(evit::cost::mobile_latency("pixel4")(t1) - 6.82) <= 0.005);  // then the package
    CHECK_THROWS_WITH(
        evit::cost::mobile_latency("pixel9"),
        Catch::Matchers::EndsWith("known devices: board, pixel1, pixel4, pixel6, xiaomi11"));
  }
  std::filesystem::remove_all(dir);
}
