// SPDX-License-Identifier: MIT
// Winners that meet their budget: a search under a predicted latency (a block table) ranks
// subnets by the objective; the prediction errs, and a search picks exactly the subnets it
// underrates most. confirm_within_budget measures a shortlist (the best k feasible subnets by
// prediction) and keeps the best one whose measurement is within the budget, or says that none
// is: it never returns an over-budget subnet.
//   budget_rule           median, or the upper end of the median's 95% interval
//   confirmation          the shortlist with its measurements, the choice, the seconds spent
//   confirm_within_budget(result, budget, k, measure, rule)
//   tightened_budget(c)   a budget for a re-search when none fitted
//   search_within_budget(search, budget, k, measure, rule, research)   search, confirm, and
//                         re-search under tightened budgets while none fits
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "evit/core/error.hpp"
#include "evit/cost/measured_latency.hpp"
#include "evit/search/result.hpp"

namespace evit {

/// What "within the budget" means for a measured subnet.
enum class budget_rule {
  median,   ///< the measured median <= budget
  upper95,  ///< the upper end of the median's 95% interval <= budget (stricter)
};

inline const char* budget_rule_name(budget_rule r) {
  return r == budget_rule::median ? "median" : "upper95";
}

/// One shortlisted subnet.
struct shortlist_entry {
  arch subnet;
  double value = 0;         ///< the first objective
  double predicted_ms = 0;  ///< the constraint's predicted cost
  cost::latency_stats measured;
  bool fits = false;  ///< measured within the budget under the rule
};

/// A search's winner confirmed by measurement.
struct confirmation {
  double budget_ms = 0;
  budget_rule rule = budget_rule::median;
  std::vector<shortlist_entry> shortlist;  ///< in rank order (best objective first)
  int chosen = -1;                         ///< index into shortlist; -1: none fits
  double seconds = 0;                      ///< spent measuring
  std::string message;                     ///< why none fits (empty when one does)

  bool ok() const { return chosen >= 0; }
  /// The best measured subnet within the budget. @throws evit::infeasible with the message.
  const shortlist_entry& winner() const {
    if (!ok()) throw infeasible(message);
    return shortlist[static_cast<std::size_t>(chosen)];
  }
};

/// Whether measurement `m` is within `budget` under `rule`.
inline bool within_budget(const cost::latency_stats& m, double budget, budget_rule rule) {
  return (rule == budget_rule::median ? m.median_ms : m.hi_ms) <= budget;
}

/// Measures (measure(arch) -> cost::latency_stats) the first `k` feasible subnets of `r.ranked`
/// (best first: the search's order) and chooses the first whose measurement is within `budget`
/// under `rule`; `cost_index` names the latency among the constraint's costs.
/// @throws evit::invalid_argument naming k (allowed: >= 1) or budget (allowed: > 0).
template <class Measure>
confirmation confirm_within_budget(const search_result& r, double budget, int k, Measure&& measure,
                                   budget_rule rule = budget_rule::median,
                                   std::size_t cost_index = 0) {
  if (k < 1)
    throw invalid_argument("confirm_within_budget: k = " + std::to_string(k) + " (allowed: >= 1)");
  if (!(budget > 0))
    throw invalid_argument("confirm_within_budget: budget = " + std::to_string(budget) +
                           " (allowed: > 0)");
  const auto t0 = std::chrono::steady_clock::now();
  confirmation c;
  c.budget_ms = budget;
  c.rule = rule;
  for (const evaluated& e : r.ranked) {
    if (static_cast<int>(c.shortlist.size()) >= k) break;
    if (!e.feasible()) continue;
    shortlist_entry s;
    s.subnet = e.subnet;
    s.value = e.value();
    s.predicted_ms = cost_index < e.costs.size() ? e.costs[cost_index] : 0.0;
    s.measured = measure(e.subnet);
    s.fits = within_budget(s.measured, budget, rule);
    c.shortlist.push_back(s);
    if (s.fits && c.chosen < 0) c.chosen = static_cast<int>(c.shortlist.size()) - 1;
  }
  c.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (c.shortlist.empty()) {
    c.message = "no feasible subnet to measure" + (r.message.empty() ? "" : ": " + r.message);
  } else if (!c.ok()) {
    double best = c.shortlist.front().measured.median_ms;
    for (const shortlist_entry& s : c.shortlist)
      best = std::min(best, rule == budget_rule::median ? s.measured.median_ms : s.measured.hi_ms);
    c.message = "none of the " + std::to_string(c.shortlist.size()) +
                " shortlisted subnets fits: the fastest measures " + std::to_string(best) +
                " ms (" + budget_rule_name(rule) + ") > budget " + std::to_string(budget) + " ms";
  }
  return c;
}

/// A tighter budget for a re-search after no shortlisted subnet fitted: the budget scaled by
/// budget / (the smallest measured over predicted ratio times the budget), i.e. the predictions
/// of the shortlist shrunk by their worst observed underestimate, with `margin` more (default
/// 2%). Returns the budget itself when the shortlist is empty.
inline double tightened_budget(const confirmation& c, double margin = 0.02) {
  double worst = 1;  // largest measured / predicted seen
  for (const shortlist_entry& s : c.shortlist)
    if (s.predicted_ms > 0) {
      const double m = c.rule == budget_rule::median ? s.measured.median_ms : s.measured.hi_ms;
      worst = std::max(worst, m / s.predicted_ms);
    }
  return c.budget_ms / worst * (1 - margin);
}

/// A search whose answer was confirmed by measurement (search_within_budget).
struct budget_search {
  search_result result;      ///< the last search's result
  confirmation confirmed;    ///< its shortlist, measured against the budget
  double search_budget = 0;  ///< the budget the last search ran under
  int searches = 0;          ///< searches run (1 + re-searches)
  double extra_seconds = 0;  ///< measuring, and the re-searches
};

/// Runs search(budget) -> search_result, confirms its best `k` by measurement
/// (confirm_within_budget) and, while none fits and `research` re-searches are left, searches
/// again under tightened_budget and confirms against the original budget. on_retry(c) is called
/// before each re-search with the confirmation that failed.
template <class Search, class Measure>
budget_search search_within_budget(Search&& search, double budget, int k, Measure&& measure,
                                   budget_rule rule = budget_rule::median, int research = 1,
                                   const std::function<void(const confirmation&)>& on_retry = {}) {
  budget_search out;
  out.search_budget = budget;
  out.result = search(budget);
  out.searches = 1;
  out.confirmed = confirm_within_budget(out.result, budget, k, measure, rule);
  out.extra_seconds = out.confirmed.seconds;
  for (int i = 0; i < research && !out.confirmed.ok() && !out.confirmed.shortlist.empty(); ++i) {
    if (on_retry) on_retry(out.confirmed);
    out.search_budget = tightened_budget(out.confirmed);
    out.result = search(out.search_budget);
    ++out.searches;
    out.confirmed = confirm_within_budget(out.result, budget, k, measure, rule);
    out.extra_seconds += out.result.seconds + out.confirmed.seconds;
  }
  return out;
}

}  // namespace evit
