// SPDX-License-Identifier: MIT
// The block table's calibration (fit, JSON), its machine key (stale tables) and the shortlist
// that confirms a search's winner by measurement.
#include <array>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "evit/core/rng.hpp"
#include "evit/cost/calibration.hpp"
#include "evit/cost/latency_table.hpp"
#include "evit/models/elasticvit/released.hpp"
#include "evit/search/confirm.hpp"

#include "catch.hpp"

namespace cost = evit::cost;

namespace {
// Synthetic subnets: per-kind sums that vary independently, latency from known coefficients.
std::vector<cost::calibration_sample> synthetic(const std::array<double, 6>& scale, double c, int n,
                                                std::uint64_t seed, double noise = 0) {
  evit::rng g(seed);
  std::vector<cost::calibration_sample> out;
  for (int i = 0; i < n; ++i) {
    cost::calibration_sample s;
    double t = c;
    for (std::size_t k = 0; k < 6; ++k) {
      s.by_kind[k] = (k == 0 || k == 5 ? 0.1 : 1.0) + 4 * evit::uniform_real(g);
      t += scale[k] * s.by_kind[k];
    }
    s.measured_ms = t * (1 + noise * (2 * evit::uniform_real(g) - 1));
    out.push_back(s);
  }
  return out;
}
}  // namespace

TEST_CASE("fit_calibration: recovers known scales and constant from synthetic subnets",
          "[cost][calibration]") {
  const std::array<double, 6> scale = {1.7, 0.98, 1.03, 1.04, 1.11, 1.24};
  const auto fit = synthetic(scale, 0.35, 60, 1), held = synthetic(scale, 0.35, 20, 2);
  const cost::table_calibration c = cost::fit_calibration(fit, held, 1e-9);
  for (std::size_t k = 0; k < 6; ++k) {
    CAPTURE(k);
    CHECK(c.scale[k] == Approx(scale[k]).epsilon(1e-6));
  }
  CHECK(c.constant_ms == Approx(0.35).epsilon(1e-5));
  CHECK(c.fitted);
  CHECK(c.fit_n == 60);
  CHECK(c.heldout_n == 20);
  CHECK(c.heldout_median < 1e-6);
  CHECK(c.heldout_p90 < 1e-6);
  CHECK(c.raw_median > 0.02);  // the plain sum was off
  // With 2% noise the fit is close and the held-out error near the noise.
  const cost::table_calibration n = cost::fit_calibration(synthetic(scale, 0.35, 200, 3, 0.02),
                                                          synthetic(scale, 0.35, 50, 4, 0.02));
  for (std::size_t k = 1; k < 5; ++k) CHECK(n.scale[k] == Approx(scale[k]).epsilon(0.05));
  CHECK(n.heldout_median < 0.02);
  CHECK(n.heldout_p90 < 0.03);
  // A kind no sample contains stays at 1 (the ridge), and apply() is the formula.
  auto none = fit;
  for (auto& s : none) {
    s.measured_ms -= scale[3] * s.by_kind[3];
    s.by_kind[3] = 0;
  }
  const cost::table_calibration z = cost::fit_calibration(none);
  CHECK(z.scale[3] == Approx(1.0));
  const std::array<double, 6> x = {1, 2, 3, 4, 5, 6};
  CHECK(z.apply(x) == Approx(z.constant_ms + z.scale[0] + 2 * z.scale[1] + 3 * z.scale[2] +
                             4 * z.scale[3] + 5 * z.scale[4] + 6 * z.scale[5]));
}

TEST_CASE("fit_calibration: the constant is never negative, so no subnet predicts <= 0 ms",
          "[cost][calibration]") {
  // Latencies that a negative constant would fit best (blocks timed alone slower than in a
  // whole forward): the fit holds the constant at 0 and still predicts every sample closely.
  const std::array<double, 6> scale = {1.0, 1.1, 0.9, 1.0, 1.2, 1.0};
  const auto fit = synthetic(scale, -1.5, 40, 8);
  const cost::table_calibration c = cost::fit_calibration(fit, {}, 1e-9);
  CHECK(c.constant_ms == 0);
  for (double v : c.scale) CHECK((v >= 0.25 && v <= 4));
  CHECK(c.fit_median < 0.2);
  // The smallest possible subnet (every kind near 0) now predicts > 0 ms.
  CHECK(c.apply({0.01, 0.01, 0.01, 0.01, 0.01, 0.01}) > 0);
  // A positive constant is still fitted freely.
  CHECK(cost::fit_calibration(synthetic(scale, 0.35, 40, 9), {}, 1e-9).constant_ms ==
        Approx(0.35).epsilon(1e-5));
}

TEST_CASE("fit_global_scale: one scale for every kind", "[cost][calibration]") {
  const std::array<double, 6> all = {1.2, 1.2, 1.2, 1.2, 1.2, 1.2};
  const cost::table_calibration c =
      cost::fit_global_scale(synthetic(all, 0, 20, 6), synthetic(all, 0, 8, 7));
  for (double v : c.scale) CHECK(v == Approx(1.2).epsilon(1e-12));
  CHECK(c.constant_ms == 0);
  CHECK(c.heldout_median < 1e-9);
  CHECK(c.raw_median == Approx(1 - 1 / 1.2).epsilon(1e-9));
}

TEST_CASE("fit_calibration: rejects too few samples and non-positive latencies",
          "[cost][calibration]") {
  const auto one = synthetic({1, 1, 1, 1, 1, 1}, 0, 1, 5);
  CHECK_THROWS_WITH(cost::fit_calibration(one),
                    Catch::Matchers::Contains("fit has 1 samples (allowed: at least 2)"));
  auto bad = synthetic({1, 1, 1, 1, 1, 1}, 0, 4, 5);
  bad[2].measured_ms = 0;
  CHECK_THROWS_AS(cost::fit_calibration(bad), evit::invalid_argument);
  CHECK_THROWS_WITH(cost::fit_calibration(bad),
                    Catch::Matchers::Contains("measured_ms = 0") &&
                        Catch::Matchers::Contains("allowed: a finite number > 0"));
  CHECK_THROWS_WITH(cost::fit_calibration(synthetic({1, 1, 1, 1, 1, 1}, 0, 4, 5), {}, -1),
                    Catch::Matchers::Contains("ridge = -1"));
}

TEST_CASE("abs_error_summary: median and p90 of |error|", "[cost][calibration]") {
  std::vector<double> e;
  for (int i = 1; i <= 10; ++i) e.push_back(i % 2 ? -0.01 * i : 0.01 * i);
  const cost::error_summary s = cost::abs_error_summary(e);
  CHECK(s.median == Approx(0.055));
  CHECK(s.p90 == Approx(0.09));
  CHECK(s.mean_signed == Approx(0.005));
}

TEST_CASE("latency_table: key and calibration survive JSON, predict applies the calibration",
          "[cost][calibration]") {
  using official = evit::elasticvit::official_space;
  cost::latency_table t("this machine");
  const evit::arch a = evit::elasticvit::released("elastic_T1");
  double v = 0.1;
  for (const auto& b : cost::lut_blocks(official::descriptor(), a)) t.set(b, v += 0.01);
  const double plain = t.predict(official::descriptor(), a);
  t.set_key({"Test CPU 9000", "avx512", 2, "context"});
  cost::table_calibration c;
  c.scale = {1.5, 1.0, 1.25, 1.0, 2.0, 1.0};
  c.constant_ms = 0.5;
  c.fitted = true;
  c.fit_n = 30;
  c.heldout_n = 10;
  c.heldout_median = 0.03;
  c.heldout_p90 = 0.07;
  t.set_calibration(c);
  const auto by = t.sum_by_kind(official::descriptor(), a);
  double sum = 0;
  for (double x : by) sum += x;
  CHECK(sum == Approx(plain));
  CHECK(t.predict(official::descriptor(), a) ==
        Approx(0.5 + 1.5 * by[0] + by[1] + 1.25 * by[2] + by[3] + 2 * by[4] + by[5]));
  const std::string path = "evit_test_calibrated_lut.json";
  t.save(path);
  const auto back = cost::latency_table::load(path, "this machine");
  std::remove(path.c_str());
  CHECK(back.entries() == t.entries());
  CHECK(back.key().cpu == "Test CPU 9000");
  CHECK(back.key().isa == "avx512");
  CHECK(back.key().threads == 2);
  CHECK(back.key().method == "context");
  CHECK(back.calibration().fitted);
  CHECK(back.calibration().scale == c.scale);
  CHECK(back.calibration().constant_ms == 0.5);
  CHECK(back.calibration().fit_n == 30);
  CHECK(back.calibration().heldout_p90 == 0.07);
  CHECK(back.predict(official::descriptor(), a) == t.predict(official::descriptor(), a));
  // A bad scale names the field, the value and what is allowed.
  nlohmann::json j = t.to_json();
  j["_evit_table"]["calibration"]["scale"]["ffnn"] = 1.0;
  CHECK_THROWS_WITH(cost::latency_table::from_json(j, "x"),
                    Catch::Matchers::Contains("scale \"ffnn\" is not a block kind") &&
                        Catch::Matchers::Contains("allowed: first_conv, mbconv"));
  j = t.to_json();
  j["_evit_table"]["calibration"]["scale"]["ffn"] = -2.0;
  CHECK_THROWS_AS(cost::latency_table::from_json(j, "x"), evit::format_error);
  // The phone tables (no "_evit_table") load as before: no key, no calibration.
  const auto phone = cost::mobile_latency<official>("pixel6");
  CHECK(phone.table().key().empty());
  CHECK_FALSE(phone.table().calibration().fitted);
  CHECK(phone(a) == Approx(4.44).margin(0.005));
}

TEST_CASE("table_key: a table of another CPU, ISA, thread count or method is stale",
          "[cost][calibration]") {
  const cost::table_key here{"AMD EPYC", "avx512", 1, "context"};
  CHECK(here.mismatch(here).empty());
  cost::table_key other = here;
  other.cpu = "Intel Xeon";
  CHECK(other.mismatch(here) == "cpu: the table's 'Intel Xeon', this machine's 'AMD EPYC'");
  other = here;
  other.isa = "avx2";
  other.threads = 2;
  CHECK(other.mismatch(here) ==
        "isa: the table's 'avx2', this machine's 'avx512'; threads: the table's '2', this "
        "machine's '1'");
  other = here;
  other.method = "alone";
  CHECK(other.mismatch(here) == "method: the table's 'alone', this machine's 'context'");
  CHECK(cost::table_key{}.mismatch(here).find("no machine key") != std::string::npos);
  cost::latency_table t("lab");
  t.set_key(other);
  CHECK_THROWS_AS(t.require_key(here), cost::stale_table);
  CHECK_THROWS_WITH(t.require_key(here),
                    Catch::Matchers::Contains("stale for this machine: method: the table's "
                                              "'alone'"));
  t.set_key(here);
  CHECK_NOTHROW(t.require_key(here));
}

namespace {
// A search result: subnets best first, with predicted latencies; the fake measurer's truth.
struct fake_search {
  evit::search_result r;
  std::map<double, cost::latency_stats> truth;  // by predicted ms
  fake_search(const std::vector<double>& predicted, const std::vector<double>& measured,
              double rel_ci = 0.02) {
    evit::rng g(9);
    for (std::size_t i = 0; i < predicted.size(); ++i) {
      evit::evaluated e;
      e.subnet = evit::elasticvit::official_space::sample(g);
      e.values = {100.0 - static_cast<double>(i)};
      e.costs = {predicted[i]};
      r.ranked.push_back(e);
      cost::latency_stats s;
      s.median_ms = measured[i];
      s.lo_ms = measured[i] * (1 - rel_ci);
      s.hi_ms = measured[i] * (1 + rel_ci);
      s.repeats = 9;
      truth[predicted[i]] = s;
    }
  }
  cost::latency_stats measure(const evit::arch& a) {
    ++calls;
    for (const auto& e : r.ranked)
      if (e.subnet == a) return truth.at(e.costs[0]);
    throw std::logic_error("unknown subnet");
  }
  int calls = 0;
};
}  // namespace

TEST_CASE("confirm_within_budget: the best measured subnet within budget, never one over it",
          "[cost][calibration][shortlist]") {
  // Best three by objective are underrated: measured 10.8, 10.3, 9.9 against a 10 ms budget.
  fake_search f({9.9, 9.8, 9.5, 9.0}, {10.8, 10.3, 9.9, 9.2});
  auto m = [&](const evit::arch& a) { return f.measure(a); };
  const evit::confirmation c = evit::confirm_within_budget(f.r, 10.0, 4, m);
  REQUIRE(c.ok());
  CHECK(c.chosen == 2);
  CHECK(c.winner().measured.median_ms == 9.9);
  CHECK(c.winner().value == 98.0);
  CHECK(c.winner().predicted_ms == 9.5);
  CHECK(c.shortlist.size() == 4);  // the whole shortlist is measured (for the report)
  CHECK(f.calls == 4);
  CHECK_FALSE(c.shortlist[0].fits);
  CHECK(c.shortlist[3].fits);
  CHECK(c.message.empty());
  // The stricter rule: 9.9 * 1.02 > 10, so the fourth.
  const evit::confirmation u =
      evit::confirm_within_budget(f.r, 10.0, 4, m, evit::budget_rule::upper95);
  REQUIRE(u.ok());
  CHECK(u.chosen == 3);
  CHECK(u.winner().measured.hi_ms <= 10.0);
  // A shortlist of 2: none fits; said, and no winner.
  const evit::confirmation n = evit::confirm_within_budget(f.r, 10.0, 2, m);
  CHECK_FALSE(n.ok());
  CHECK(n.shortlist.size() == 2);
  CHECK(n.message.find("none of the 2 shortlisted subnets fits") != std::string::npos);
  CHECK(n.message.find("10.3") != std::string::npos);
  CHECK_THROWS_AS(n.winner(), evit::infeasible);
  // The re-search budget shrinks the predictions by the worst underestimate (10.8 / 9.9).
  CHECK(evit::tightened_budget(n) == Approx(10.0 * 9.9 / 10.8 * 0.98));
  // Infeasible entries are skipped; a bad k or budget names the value.
  f.r.ranked[0].violation = 1;
  const evit::confirmation s = evit::confirm_within_budget(f.r, 10.0, 1, m);
  CHECK(s.shortlist.size() == 1);
  CHECK(s.shortlist[0].predicted_ms == 9.8);
  CHECK_THROWS_WITH(evit::confirm_within_budget(f.r, 10.0, 0, m),
                    Catch::Matchers::Contains("k = 0 (allowed: >= 1)"));
  CHECK_THROWS_WITH(evit::confirm_within_budget(f.r, -1.0, 3, m),
                    Catch::Matchers::Contains("budget = -1"));
  // Property: over random truths, the winner is never over budget, and it is the first that fits.
  evit::rng g(11);
  for (int t = 0; t < 200; ++t) {
    std::vector<double> p, q;
    for (int i = 0; i < 6; ++i) {
      p.push_back(9.0 - 0.1 * i);
      q.push_back(p.back() * (0.9 + 0.3 * evit::uniform_real(g)));
    }
    fake_search h(p, q);
    auto mh = [&](const evit::arch& a) { return h.measure(a); };
    const evit::confirmation r = evit::confirm_within_budget(h.r, 9.0, 4, mh);
    int first = -1;
    for (int i = 0; i < 4 && first < 0; ++i)
      if (q[static_cast<std::size_t>(i)] <= 9.0) first = i;
    CHECK(r.chosen == first);
    if (r.ok()) CHECK(r.winner().measured.median_ms <= 9.0);
  }
}

TEST_CASE("search_within_budget: re-searches under a tightened budget while none fits",
          "[cost][calibration][shortlist]") {
  fake_search first({9.9, 9.8}, {10.8, 10.3});  // nothing fits a 10 ms budget
  fake_search second({9.0, 8.9}, {9.6, 9.4});   // both fit
  second.r.ranked[0].subnet = evit::elasticvit::official_space::max_arch();
  std::vector<double> budgets;
  const auto search = [&](double b) {
    budgets.push_back(b);
    return budgets.size() == 1 ? first.r : second.r;
  };
  const auto measure = [&](const evit::arch& a) {
    for (const auto& e : first.r.ranked)
      if (e.subnet == a) return first.measure(a);
    return second.measure(a);
  };
  int retries = 0;
  const evit::budget_search s = evit::search_within_budget(
      search, 10.0, 2, measure, evit::budget_rule::median, 1, [&](const evit::confirmation& c) {
        ++retries;
        CHECK_FALSE(c.ok());
      });
  CHECK(retries == 1);
  REQUIRE(budgets.size() == 2);
  CHECK(budgets[0] == 10.0);
  CHECK(budgets[1] == Approx(10.0 * 9.9 / 10.8 * 0.98));
  CHECK(s.searches == 2);
  CHECK(s.search_budget == budgets[1]);
  REQUIRE(s.confirmed.ok());
  CHECK(s.confirmed.winner().measured.median_ms == 9.6);
  CHECK(s.confirmed.budget_ms == 10.0);  // confirmed against the original budget
  // No re-search allowed: none fits, and it says so.
  budgets.clear();
  const evit::budget_search n =
      evit::search_within_budget(search, 10.0, 2, measure, evit::budget_rule::median, 0);
  CHECK(n.searches == 1);
  CHECK_FALSE(n.confirmed.ok());
  CHECK(n.confirmed.message.find("none of the 2 shortlisted subnets fits") != std::string::npos);
}
