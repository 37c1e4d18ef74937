// SPDX-License-Identifier: MIT
// Random search, the baseline: N distinct random subnets of the space's own sampler that satisfy
// the constraint (repaired toward it when needed), all evaluated, the best kept. Compare a search
// with it at the same number of evaluations (search_result::evaluations).
// Next: search/evolutionary.hpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "evit/core/executor.hpp"
#include "evit/search/detail/core.hpp"
#include "evit/search/objective.hpp"
#include "evit/search/options.hpp"
#include "evit/search/result.hpp"

namespace evit {

/// Options of random_search.
class random_options {
 public:
  /// Distinct subnets evaluated (default 1000).
  random_options& evaluations(int n) {
    evaluations_ = n;
    return *this;
  }
  /// Draws per wanted subnet before giving up (default 10).
  random_options& attempts(int n) {
    attempts_ = n;
    return *this;
  }
  random_options& repair(bool on) {
    repair_ = on;
    return *this;
  }
  /// How many of the best to return (default 100).
  random_options& keep(int n) {
    keep_ = n;
    return *this;
  }
  int evaluations() const { return evaluations_; }
  int attempts() const { return attempts_; }
  bool repair() const { return repair_; }
  int keep() const { return keep_; }

 private:
  int evaluations_ = 1000, attempts_ = 10, keep_ = 100;
  bool repair_ = true;
};

/// Random search over Space: the best of opts.evaluations() random subnets satisfying
/// `constraint`, for `objective` (maximised, or evit::minimize(f)).
template <class Space, class Objective, class Constraint, class Executor = sequential_executor>
search_result random_search(Objective&& objective, Constraint&& constraint,
                            random_options opts = {}, std::uint64_t seed = 0,
                            Executor&& exec = Executor()) {
  using C = std::decay_t<Constraint>;
  search::detail::check_search_types<Space, C>();
  if (opts.evaluations() < 1 || opts.attempts() < 1 || opts.keep() < 1)
    throw invalid_argument("random_options: evaluations, attempts and keep must be >= 1");
  auto o = search::detail::as_objective(std::forward<Objective>(objective));
  using set = objective_set<decltype(o)>;
  search::detail::core<Space, set, C> core(set(std::move(o)), std::forward<Constraint>(constraint),
                                           seed, opts.repair());
  search_result r;
  r.seed = seed;
  r.message = core.precheck();
  if (!r.message.empty()) {
    r.status = search_status::infeasible;
    return r;
  }
  const std::uint64_t budget =
      static_cast<std::uint64_t>(opts.evaluations()) * static_cast<std::uint64_t>(opts.attempts());
  int made = 0;
  for (std::uint64_t t = 0; t < budget && made < opts.evaluations(); ++t) {
    std::vector<double> costs;
    double v = 0;
    arch a = core.random_candidate(costs, v);
    ++core.counters().proposed;
    if (v > 0) {
      ++core.counters().rejected;
      continue;
    }
    if (core.find(a) >= 0) {
      ++core.counters().duplicates;
      continue;
    }
    core.add(a, std::move(costs), v);
    ++made;
  }
  core.counters().gave_up += static_cast<std::uint64_t>(opts.evaluations() - made);
  core.evaluate_pending(exec);
  std::vector<int> order;
  for (int i = 0; i < static_cast<int>(core.records().size()); ++i) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](int x, int y) {
    const double sx = core.score(x), sy = core.score(y);
    return sx != sy ? sx > sy : x < y;
  });
  if (static_cast<int>(order.size()) > opts.keep())
    order.resize(static_cast<std::size_t>(opts.keep()));
  for (int i : order) r.ranked.push_back(core.record(i));
  if (r.ranked.empty()) {
    r.status = search_status::infeasible;
    r.message = "random_search: no subnet satisfying the constraint found in " +
                std::to_string(budget) + " draws";
  }
  iteration_stats s;
  s.evaluations = s.new_subnets = core.records().size();
  if (!r.ranked.empty()) s.best = r.ranked.front().values[0];
  r.history.push_back(s);
  r.counters = core.counters();
  r.evaluations = core.records().size();
  r.seconds = core.seconds();
  return r;
}

}  // namespace evit
