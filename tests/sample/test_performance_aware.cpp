// SPDX-License-Identifier: MIT
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "evit/core/rng.hpp"
#include "evit/io/arch_text.hpp"
#include "evit/sample/detail/fixed_exp.hpp"
#include "evit/sample/memory_bank.hpp"
#include "evit/sample/performance_aware.hpp"

#include "catch.hpp"
#include "sample_support.hpp"

namespace ev = evit::elasticvit;
using evit_test::fast_macs;
using evit_test::official;
using evit_test::pa_sampler;

namespace {
// A deterministic stand-in for "minus the loss on the batch".
// A cost model whose output a test can shift after the banks are filled.
struct shifted {
  static constexpr bool monotone = true;
  const double* shift;
  double operator()(const evit::arch& a) const {
    return ev::macs_unchecked(official::descriptor(), a) + *shift;
  }
};

double bank_fake_score(const evit::arch& a) {
  return -static_cast<double>(a.hash() % 1000) / 100.0;
}

// The official options with small banks, so that tests reach the half-full thresholds quickly.
pa_sampler small_banks(std::uint64_t seed, int capacity = 6, int candidates = 5) {
  return pa_sampler(
      fast_macs{}, evit::complexity_options().seed(seed),
      evit::performance_options().capacity(capacity, capacity, 500e6).candidates(candidates));
}
}  // namespace

TEST_CASE("memory_bank: keeps the top-K scores of everything inserted", "[sample][memory_bank]") {
  evit::memory_bank bank(50);
  evit::rng g(3);
  std::vector<double> inserted;
  const evit::arch a = official::min_arch();
  for (int k = 0; k < 3000; ++k) {
    // Integer-valued scores, so that ties happen too.
    const double s = static_cast<double>(evit::uniform_int(g, -500, 500));
    inserted.push_back(s);
    bank.insert(a, s);
    REQUIRE(bank.size() == std::min(k + 1, 50));
  }
  std::sort(inserted.rbegin(), inserted.rend());
  inserted.resize(50);
  std::vector<double> kept;
  for (const auto& e : bank.entries()) kept.push_back(e.score);
  std::sort(kept.rbegin(), kept.rend());
  CHECK(kept == inserted);
  CHECK(bank.best().score == inserted.front());
  CHECK(bank.entries()[bank.worst_index()].score == inserted.back());
  CHECK_FALSE(bank.insert(a, inserted.back()));  // equal to the worst: not stored
  CHECK_THROWS_AS(bank.insert(a, std::nan("")), evit::invalid_argument);
  CHECK_THROWS_AS(bank.insert(a, INFINITY), evit::invalid_argument);
  bank.set_capacity(10);
  CHECK(bank.size() == 10);
  CHECK(bank.best().score == inserted.front());
  evit::memory_bank none(0);
  CHECK_FALSE(none.insert(a, 1.0));
  CHECK_THROWS_AS(evit::memory_bank(-1), evit::invalid_argument);
}

TEST_CASE("memory_bank: softmax draws follow softmax(scores)", "[sample][memory_bank]") {
  evit::memory_bank bank(4);
  const std::vector<double> scores{0.0, -1.0, -2.5, 0.5};
  for (double s : scores) bank.insert(official::min_arch(), s);
  double z = 0;
  for (double s : scores) z += std::exp(s);
  evit::rng g(12);
  std::vector<int> hits(4, 0);
  const int n = 200000;
  for (int k = 0; k < n; ++k) hits[bank.pick_softmax(g)]++;
  for (int i = 0; i < 4; ++i) {
    CAPTURE(i);
    CHECK(std::abs(hits[i] / static_cast<double>(n) - std::exp(scores[i]) / z) < 0.005);
  }
}

TEST_CASE("memory_bank: fixed-point exp matches std::exp to 1e-7 and is pinned",
          "[sample][memory_bank]") {
  using evit::sample::detail::exp_fixed;
  for (double x = -43.0; x <= 0.0; x += 0.01) {
    const double e = static_cast<double>(exp_fixed(x, 62)) / 4611686018427387904.0;  // 2^62
    CAPTURE(x);
    CHECK(std::abs(e - std::exp(x)) <= 1e-7 * std::exp(x) + 1e-18);
  }
  CHECK(exp_fixed(0.0, 62) == (std::uint64_t{1} << 62));
  CHECK(exp_fixed(-50.0, 62) == 0);
  CHECK(exp_fixed(std::nan(""), 62) == 0);
  // Pinned integers: the same on every platform.
  CHECK(exp_fixed(-1.0, 62) == 0x178b56375e6e0daaULL);
  CHECK(exp_fixed(-0.3, 40) == 0xbda6435205ULL);
}

TEST_CASE("performance_aware_sampler: the exploit probability follows the official schedule",
          "[sample][performance_aware][slow]") {
  const evit::performance_options o;
  auto p = [&](int epoch) { return static_cast<double>(o.exploit_ppm(epoch)) / 1e6; };
  CHECK(p(0) == 0.2);
  CHECK(p(98) == 0.2);
  CHECK(p(99) == 0.35);
  CHECK(p(198) == 0.35);
  CHECK(p(199) == 0.5);
  CHECK(p(299) == 0.65);
  CHECK(p(399) == 0.8);
  CHECK(p(498) == 0.8);
  CHECK(p(499) == 0.95);
  CHECK(p(598) == 0.95);
  CHECK(p(599) == 1.1);  // the last epoch and the cooldown: always exploit
  CHECK(p(609) == 1.1);

  auto pa = small_banks(5, 6, 1);
  pa.set_epoch(199);
  CHECK(pa.exploit_probability() == 0.5);
  CHECK_THROWS_AS(pa.set_epoch(-1), evit::invalid_argument);
  // Fill level 0's bank beyond half, then measure the exploit frequency there.
  pa.complexity().set_level(0);
  while (pa.bank(0).size() < 4) {
    const evit::level_draw d = pa.draw_at(0);
    pa.report(d, bank_fake_score(d.subnet));
  }
  for (int epoch : {0, 199, 499, 599}) {
    pa.set_epoch(epoch);
    int exploited = 0;
    const int n = 2000;
    for (int k = 0; k < n; ++k) exploited += pa.draw_at(0).origin == evit::draw_origin::exploited;
    CAPTURE(epoch);
    CHECK(std::abs(exploited / static_cast<double>(n) - std::min(1.0, pa.exploit_probability())) <
          0.04);
  }
}

TEST_CASE(
    "performance_aware_sampler: a bank at most half full is never exploited, and below half "
    "the first candidate is taken",
    "[sample][performance_aware]") {
  auto pa = small_banks(7, 6);
  pa.set_epoch(599);  // always exploit when allowed
  for (int k = 0; k < 3; ++k) {
    const evit::level_draw d = pa.draw_at(2);
    CHECK(d.origin == evit::draw_origin::explored);
    CHECK(pa.report(d, bank_fake_score(d.subnet)));
  }
  // 3 of 6: not more than half, so explore (with the preference over 5 candidates).
  const std::uint64_t draws_before = pa.complexity().stats().draws;
  CHECK(pa.draw_at(2).origin == evit::draw_origin::explored);
  CHECK(pa.complexity().stats().draws - draws_before == 5);
  // Below half (level 3 is empty): one candidate only.
  const std::uint64_t before = pa.complexity().stats().draws;
  CHECK(pa.draw_at(3).origin == evit::draw_origin::explored);
  CHECK(pa.complexity().stats().draws - before == 1);
  // More than half: always exploit at p = 1.1, and the pick is a bank entry.
  const evit::level_draw d = pa.draw_at(2);
  pa.report(d, bank_fake_score(d.subnet));
  const evit::level_draw e = pa.draw_at(2);
  CHECK(e.origin == evit::draw_origin::exploited);
  bool in_bank = false;
  for (const auto& entry : pa.bank(2).entries()) in_bank = in_bank || entry.subnet == e.subnet;
  CHECK(in_bank);
  CHECK_FALSE(pa.report(e, 100.0));  // exploited draws are not re-inserted
}

TEST_CASE(
    "performance_aware_sampler: exploration trains the candidate with the lowest "
    "preference A - B",
    "[sample][performance_aware]") {
  auto pa = small_banks(9, 4);
  pa.set_epoch(0);
  // Level 0 and level 5 banks exactly half full: explore with 5 candidates.
  for (int L : {0, 5}) {
    while (pa.bank(L).size() < 2) {
      const evit::level_draw d = pa.draw_at(L);
      pa.report(d, bank_fake_score(d.subnet));
    }
  }
  for (int L : {0, 5}) {
    for (int rep = 0; rep < 5; ++rep) {
      pa_sampler copy = pa;
      const evit::level_draw d = pa.draw_at(L);
      REQUIRE(d.origin == evit::draw_origin::explored);
      // Replay on the copy: the coin, then 5 candidates.
      evit::uniform_below(copy.engine(), 1000000);
      std::vector<double> prefs;
      std::vector<evit::arch> cands;
      for (int c = 0; c < 5; ++c) {
        cands.push_back(copy.complexity().draw_in_level(L));
        prefs.push_back(copy.preference(cands.back(), L));
      }
      const auto best = std::min_element(prefs.begin(), prefs.end()) - prefs.begin();
      CHECK(d.subnet == cands[static_cast<std::size_t>(best)]);
    }
  }
}

TEST_CASE("performance_aware_sampler: the preference favours wider and shallower subnets",
          "[sample][performance_aware]") {
  auto pa = small_banks(1);
  // Level 0's anchor is the space's smallest subnet; so is a higher level's while level 0's bank
  // is empty (the guard the official code lacks).
  const evit::arch anchor = official::min_arch();
  evit::arch a = pa.complexity().draw_in_level(4);
  auto manual = [&](const evit::arch& x) {
    evit::arch w = x, d = x;
    for (int s = 4; s < 8; ++s) {
      w.set_width(s, anchor.width(s));
      for (int j = 0; j < w.depth(s); ++j) w.layer(s, j).num_heads = anchor.width(s) / 16;
      d.set_depth(s, anchor.depth(s));
    }
    return pa.complexity().cost(w) - pa.complexity().cost(d);
  };
  CHECK(pa.preference(a, 0) == manual(a));
  CHECK(pa.preference(a, 4) == manual(a));
  // Wider and shallower (same other choices) gets the lower preference.
  evit::arch deep = official::min_arch(), wide = official::min_arch();
  deep.set_depth(7, 4);
  wide.set_width(7, 320);
  for (int j = 0; j < wide.depth(7); ++j) wide.layer(7, j).num_heads = 20;
  CHECK(pa.preference(wide, 4) < pa.preference(deep, 4));
  // Once level 0 has a bank, its best entry is the anchor.
  const evit::level_draw d = pa.draw_at(0);
  pa.report(d, 5.0);
  CHECK(pa.bank(0).best().subnet == d.subnet);
}

TEST_CASE("performance_aware_sampler: reports enter the bank only for explored, in-window draws",
          "[sample][performance_aware]") {
  auto pa = small_banks(2);
  const evit::level_draw d = pa.draw_at(1);
  CHECK_THROWS_AS(pa.report(d, std::nan("")), evit::invalid_argument);
  CHECK(pa.report(d, -1.0));
  evit::level_draw wrong = d;
  wrong.level = 6;  // its cost is not in level 6's window
  CHECK_FALSE(pa.report(wrong, -1.0));
  evit::level_draw small{pa.smallest(1), 1, evit::draw_origin::smallest};
  CHECK_FALSE(pa.report(small, 3.0));
  wrong.level = 8;
  CHECK_THROWS_AS(pa.report(wrong, 0.0), evit::invalid_argument);
  CHECK(pa.stats().inserted == 1);
  CHECK(pa.bank(1).size() == 1);
}

TEST_CASE(
    "performance_aware_sampler: re-scoring updates every score and drops subnets that left "
    "the window",
    "[sample][performance_aware]") {
  double shift = 0;
  evit::performance_aware_sampler<official, shifted> pa(
      shifted{&shift}, evit::complexity_options().seed(3),
      evit::performance_options().capacity(8, 8, 500e6));
  while (pa.bank(0).size() < 8) {
    const evit::level_draw d = pa.draw_at(0);
    pa.report(d, bank_fake_score(d.subnet));
  }
  pa.rescore(0, [](const evit::arch&) { return 1.5; });
  CHECK(pa.bank(0).size() == 8);
  for (const auto& e : pa.bank(0).entries()) CHECK(e.score == 1.5);
  // Shift costs by 10 MMACs: the entries above 110 MMACs leave [100, 120].
  shift = 10e6;
  int stay = 0;
  for (const auto& e : pa.bank(0).entries())
    stay += pa.complexity().in_window(0, pa.complexity().cost(e.subnet));
  pa.rescore_all([](const evit::arch& a) { return bank_fake_score(a); });
  CHECK(pa.bank(0).size() == stay);
  for (const auto& e : pa.bank(0).entries()) CHECK(e.score == bank_fake_score(e.subnet));
}

TEST_CASE("performance_aware_sampler: every draw is in its level's window, bank or not",
          "[sample][performance_aware]") {
  auto pa = small_banks(4);
  pa.set_epoch(300);
  for (int s = 0; s < 60; ++s) {
    const auto step = pa.sandwich_step();
    REQUIRE(step.size() == 4);
    for (int j = 0; j < 3; ++j) {
      CHECK(pa.complexity().in_window(step[j].level, pa.complexity().cost(step[j].subnet)));
      pa.report(step[j], bank_fake_score(step[j].subnet));
    }
    CHECK(step[3].origin == evit::draw_origin::smallest);
    CHECK(step[3].subnet == pa.smallest(pa.level()));
  }
  CHECK(pa.stats().exploited > 0);
  CHECK(pa.stats().explored > 0);
}

TEST_CASE("performance_aware_sampler: official capacities are 150 below 500 MMACs, 50 from 500",
          "[sample][performance_aware]") {
  const pa_sampler pa(fast_macs{});
  const std::vector<int> expected{150, 150, 150, 150, 50, 50, 50, 50};
  for (int L = 0; L < 8; ++L) CHECK(pa.bank(L).capacity() == expected[static_cast<std::size_t>(L)]);
  CHECK_THROWS_AS(pa_sampler(fast_macs{}, evit::complexity_options(),
                             evit::performance_options().capacities({1, 2})),
                  evit::invalid_argument);
  CHECK_THROWS_AS(pa_sampler(fast_macs{}, evit::complexity_options(),
                             evit::performance_options().candidates(0)),
                  evit::invalid_argument);
}

TEST_CASE("performance_aware_sampler: JSON save and load resume the same sequence",
          "[sample][performance_aware]") {
  auto a = small_banks(21);
  a.set_epoch(250);
  for (int k = 0; k < 40; ++k) {
    if (k % 4 == 0) a.step();
    const evit::level_draw d = a.draw();
    a.report(d, bank_fake_score(d.subnet));
  }
  const std::string text = a.to_json().dump();
  auto b = small_banks(999);  // another seed: the saved engine state wins
  b.from_json(nlohmann::json::parse(text));
  CHECK(b.epoch() == 250);
  CHECK(b.level() == a.level());
  for (int L = 0; L < 8; ++L) {
    REQUIRE(b.bank(L).size() == a.bank(L).size());
    for (int i = 0; i < a.bank(L).size(); ++i) {
      CHECK(b.bank(L)[static_cast<std::size_t>(i)].subnet ==
            a.bank(L)[static_cast<std::size_t>(i)].subnet);
      CHECK(b.bank(L)[static_cast<std::size_t>(i)].score ==
            a.bank(L)[static_cast<std::size_t>(i)].score);
    }
  }
  for (int k = 0; k < 30; ++k) {
    if (k % 4 == 0) CHECK(a.step() == b.step());
    const evit::level_draw da = a.draw(), db = b.draw();
    CHECK(da.subnet == db.subnet);
    CHECK(da.origin == db.origin);
    a.report(da, bank_fake_score(da.subnet));
    b.report(db, bank_fake_score(db.subnet));
  }
  CHECK(a.to_json() == b.to_json());
}

TEST_CASE("performance_aware_sampler: loading a mismatched or malformed bank is a format error",
          "[sample][performance_aware]") {
  auto a = small_banks(1);
  const evit::level_draw d = a.draw_at(0);
  a.report(d, -0.5);
  const nlohmann::json good = a.to_json();
  auto expect_error = [&](nlohmann::json j, const std::string& needle) {
    auto b = small_banks(1);
    try {
      b.from_json(j);
      FAIL("no exception for " << needle);
    } catch (const evit::format_error& e) {
      CAPTURE(e.what());
      CHECK(std::string(e.what()).find(needle) != std::string::npos);
    }
  };
  nlohmann::json j = good;
  j["levels"][0] = 150e6;
  expect_error(j, "levels");
  j = good;
  j["window"] = 30e6;
  expect_error(j, "window");
  j = good;
  j["format"] = "other";
  expect_error(j, "format");
  j = good;
  j.erase("banks");
  expect_error(j, "banks");
  j = good;
  j["banks"][0]["entries"][0]["score"] = "high";
  expect_error(j, "score");
  j = good;
  for (int k = 0; k < 7; ++k) j["banks"][0]["entries"].push_back(j["banks"][0]["entries"][0]);
  expect_error(j, "capacity");
  j = good;
  j["level"] = 8;
  expect_error(j, "level");
  j = good;
  j["engine"] = {1, 2};
  expect_error(j, "engine");
  j = good;
  j["space"] = "elasticvit-mini";
  expect_error(j, "space");
  // A bad arch is reported by the arch reader.
  j = good;
  j["banks"][0]["entries"][0]["arch"]["resolution"] = 100;
  auto b = small_banks(1);
  CHECK_THROWS_AS(b.from_json(j), evit::error);
}
