// SPDX-License-Identifier: MIT
// Saving and resuming the uniform, sandwich, best-of-k and complexity-aware samplers (the
// performance-aware one: test_performance_aware.cpp).
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "evit/core/error.hpp"
#include "evit/io/arch_json.hpp"
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

// Calls load(j) and checks that it throws evit::format_error whose message holds `needle`.
template <class Load>
void expect_format_error(Load&& load, const nlohmann::json& j, const std::string& needle) {
  try {
    load(j);
    FAIL("no exception for " << needle);
  } catch (const evit::format_error& e) {
    CAPTURE(e.what());
    CHECK(std::string(e.what()).find(needle) != std::string::npos);
  }
}

double hash_score(const evit::arch& a) { return static_cast<double>(a.hash() % 1000); }

}  // namespace

TEST_CASE("uniform_sampler: to_json/from_json resume the same sequence", "[sample][state]") {
  for (evit::uniform_mode mode :
       {evit::uniform_mode::per_dimension, evit::uniform_mode::per_subnet}) {
    evit::uniform_sampler<official> a(7, mode);
    for (int k = 0; k < 13; ++k) a.next();
    const std::string text = a.to_json().dump();
    evit::uniform_sampler<official> b(12345, mode);  // another seed: the saved state wins
    b.from_json(nlohmann::json::parse(text));
    for (int k = 0; k < 50; ++k) REQUIRE(a.next() == b.next());
    CHECK(a.to_json() == b.to_json());
  }
  CHECK(evit::parse_uniform_mode("per_subnet") == evit::uniform_mode::per_subnet);
  CHECK_THROWS_AS(evit::parse_uniform_mode("per_layer"), evit::invalid_argument);
}

TEST_CASE("sandwich_sampler and best_of_k_sampler: to_json/from_json resume the same sequence",
          "[sample][state]") {
  evit::sandwich_sampler<official> a(2, 5);
  for (int k = 0; k < 7; ++k) a.sandwich_step();
  evit::sandwich_sampler<official> b(2, 99);
  b.from_json(a.to_json());
  for (int k = 0; k < 20; ++k) REQUIRE(a.sandwich_step() == b.sandwich_step());

  evit::best_of_k_sampler<official> c(3, 5);
  for (int k = 0; k < 7; ++k) c.next(hash_score);
  evit::best_of_k_sampler<official> d(3, 99);
  d.from_json(nlohmann::json::parse(c.to_json().dump()));
  for (int k = 0; k < 20; ++k) {
    const evit::scored_arch x = c.next(hash_score), y = d.next(hash_score);
    REQUIRE(x.subnet == y.subnet);
    REQUIRE(x.score == y.score);
  }
}

TEST_CASE("complexity_aware_sampler: to_json/from_json resume the same sequence, every walk",
          "[sample][state][complexity_aware]") {
  for (evit::level_walk w : {evit::level_walk::adjacent_step, evit::level_walk::random,
                             evit::level_walk::adjacent, evit::level_walk::cyclic}) {
    CAPTURE(evit::walk_name(w));
    const auto opts = evit::complexity_options().walk(w).seed(3);
    evit_test::ca_sampler a(fast_macs{}, opts);
    for (int k = 0; k < 25; ++k) a.next();
    // A replaced smallest subnet is part of the state.
    a.set_smallest(2, official::min_arch());
    const std::string text = a.to_json().dump();
    evit_test::ca_sampler b(fast_macs{}, evit::complexity_options().walk(w).seed(77));
    b.from_json(nlohmann::json::parse(text));
    CHECK(b.level() == a.level());
    CHECK(b.smallest(2) == official::min_arch());
    for (int k = 0; k < 40; ++k) {
      REQUIRE(a.next() == b.next());
      REQUIRE(a.level() == b.level());
    }
    CHECK(a.sandwich_step() == b.sandwich_step());
    CHECK(a.to_json() == b.to_json());
  }
}

TEST_CASE(
    "complexity_aware_sampler: a mismatched or malformed state is a format error naming "
    "the field, and changes nothing",
    "[sample][state][complexity_aware]") {
  auto a = evit_test::official_ca(4);
  for (int k = 0; k < 5; ++k) a.next();
  const nlohmann::json good = a.to_json();
  auto b = evit_test::official_ca(4);
  const nlohmann::json before = b.to_json();
  auto load = [&](const nlohmann::json& j) { b.from_json(j); };
  nlohmann::json j = good;
  j["format"] = "evit.uniform_sampler";
  expect_format_error(load, j, "format");
  j = good;
  j["version"] = 2;
  expect_format_error(load, j, "version");
  j = good;
  j["space"] = "elasticvit-mini";
  expect_format_error(load, j, "space");
  j = good;
  j["levels"][3] = 450e6;
  expect_format_error(load, j, "levels");
  j = good;
  j["window"] = 30e6;
  expect_format_error(load, j, "window");
  j = good;
  j["walk"] = "cyclic";
  expect_format_error(load, j, "walk");
  j = good;
  j["tries"] = 3;
  expect_format_error(load, j, "tries");
  j = good;
  j.erase("restarts");
  expect_format_error(load, j, "restarts");
  j = good;
  j["level"] = 8;
  expect_format_error(load, j, "level");
  j = good;
  j["level"] = "2";
  expect_format_error(load, j, "level");
  j = good;
  j["smallest"].erase(0);
  expect_format_error(load, j, "smallest");
  j = good;
  j["smallest"][1]["resolution"] = 100;
  expect_format_error(load, j, "smallest\"[1]");
  j = good;
  j["engine"] = {1, 2, 3};
  expect_format_error(load, j, "engine");
  j = good;
  j["engine"] = {1, 2, -3, 4};
  expect_format_error(load, j, "engine");
  j = good;
  j["engine"] = {0, 0, 0, 0};  // xoshiro's fixed point: draws would never end
  expect_format_error(load, j, "engine");
  expect_format_error(load, nlohmann::json::array(), "object");
  CHECK(b.to_json() == before);
  b.from_json(good);
  CHECK(b.to_json() == good);
}

TEST_CASE("uniform-based samplers: a mismatched state is a format error naming the field",
          "[sample][state]") {
  evit::sandwich_sampler<official> a(2, 5);
  const nlohmann::json good = a.to_json();
  evit::sandwich_sampler<official> b(3, 5);
  expect_format_error([&](const nlohmann::json& j) { b.from_json(j); }, good, "\"k\"");
  evit::sandwich_sampler<official> c(2, 5, evit::uniform_mode::per_subnet);
  expect_format_error([&](const nlohmann::json& j) { c.from_json(j); }, good, "mode");
  evit::best_of_k_sampler<official> d(2, 5);
  expect_format_error([&](const nlohmann::json& j) { d.from_json(j); }, good, "format");
  evit::uniform_sampler<evit::elasticvit::mini_space> e(5);
  nlohmann::json j = evit::uniform_sampler<official>(5).to_json();
  expect_format_error([&](const nlohmann::json& x) { e.from_json(x); }, j, "space");
  j = e.to_json();
  j["engine"][2] = "x";
  expect_format_error([&](const nlohmann::json& x) { e.from_json(x); }, j, "engine");
}

TEST_CASE("performance_aware_sampler: an all-zero engine or a non-finite schedule is refused",
          "[sample][state][performance_aware]") {
  evit_test::pa_sampler a(fast_macs{});
  nlohmann::json j = a.to_json();
  j["engine"] = {0, 0, 0, 0};
  expect_format_error([&](const nlohmann::json& x) { a.from_json(x); }, j, "engine");
  CHECK_THROWS_AS(evit_test::pa_sampler(fast_macs{}, evit::complexity_options(),
                                        evit::performance_options().exploit_schedule(NAN, 0.1, 10)),
                  evit::invalid_argument);
  CHECK_THROWS_AS(
      evit_test::pa_sampler(fast_macs{}, evit::complexity_options(),
                            evit::performance_options().exploit_schedule(0.2, 1e300, 10)),
      evit::invalid_argument);
}
