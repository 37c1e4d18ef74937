// SPDX-License-Identifier: MIT
// Internal header: include <evit/search/evolutionary.hpp> or <evit/search/nsga2.hpp> instead.
// What every search shares: the record of every subnet evaluated (each at most once, found by
// arch hash and then compared, so hash collisions cannot merge two subnets), the constraint's
// feasibility pre-check and repair toward the feasible set (space/detail/seek.hpp's constructive
// moves), evaluation of new subnets on an executor with results in candidate order (so the
// outcome does not depend on the number of threads), and the JSON form of all of it.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "evit/core/error.hpp"
#include "evit/core/executor.hpp"
#include "evit/core/rng.hpp"
#include "evit/cost/adaptors.hpp"
#include "evit/cost/constraint.hpp"
#include "evit/io/arch_text.hpp"
#include "evit/search/result.hpp"
#include "evit/space/arch.hpp"
#include "evit/space/arch_map.hpp"
#include "evit/space/detail/moves.hpp"
#include "evit/space/detail/seek.hpp"
#include "evit/space/search_space.hpp"

namespace evit {
namespace search {
namespace detail {

/// Non-finite doubles as JSON strings ("nan", "inf", "-inf"): JSON numbers cannot hold them.
inline nlohmann::json number_to_json(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return v;
}
inline double number_from_json(const nlohmann::json& j) {
  if (j.is_string()) {
    const std::string s = j.get<std::string>();
    if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
    throw parse_error("search state: \"" + s + "\" is not a number");
  }
  return j.get<double>();
}
inline nlohmann::json numbers_to_json(const std::vector<double>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (double x : v) a.push_back(number_to_json(x));
  return a;
}
inline std::vector<double> numbers_from_json(const nlohmann::json& j) {
  std::vector<double> v;
  for (const auto& x : j) v.push_back(number_from_json(x));
  return v;
}

inline nlohmann::json rng_to_json(const rng& g) {
  nlohmann::json a = nlohmann::json::array();
  for (int i = 0; i < 4; ++i) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(g.state(i)));
    a.push_back(buf);
  }
  return a;
}
inline void rng_from_json(const nlohmann::json& j, rng& g) {
  if (!j.is_array() || j.size() != 4) throw parse_error("search state: \"rng\" needs 4 words");
  for (int i = 0; i < 4; ++i) {
    const std::string s = j[static_cast<std::size_t>(i)].get<std::string>();
    g.set_state(i, std::stoull(s, nullptr, 16));
  }
}

/// Class-scope checks shared by the searches.
template <class Space, class Constraint>
constexpr void check_search_types() {
  static_assert(is_search_space_v<Space>,
                "evit searches: Space must be an evit::search_space<...> type, e.g. "
                "evit::elasticvit::official_space (see evit/space/search_space.hpp)");
  static_assert(cost::is_constraint_v<Constraint>,
                "evit searches: the constraint must be evit::cost::at_most(f, hi), at_least, "
                "within, all_of(...) or unconstrained() (see evit/cost/constraint.hpp)");
}

/// The shared machinery of a search over Space with objectives Objectives (an objective_set)
/// under Constraint.
template <class Space, class Objectives, class Constraint>
class core {
 public:
  static constexpr std::size_t num_objectives = Objectives::size;
  static constexpr std::size_t num_costs = Constraint::size;

  core(Objectives o, Constraint c, std::uint64_t seed, bool repair)
      : obj_(std::move(o)),
        con_(std::move(c)),
        seed_(seed),
        g_(seed),
        repair_(repair),
        moves_(Space::descriptor()),
        start_(std::chrono::steady_clock::now()) {
    // Cost models of another space: declared ones do not compile, type-erased ones stop here.
    check_cost_space<Space, Objectives>();
    check_cost_space<Space, Constraint>();
    for (std::size_t i = 0; i < num_objectives; ++i) check_space(obj_.traits_at(i), "objective");
    for (std::size_t i = 0; i < num_costs; ++i) check_space(con_.traits_at(i), "constraint");
  }

  const Objectives& objectives() const { return obj_; }
  const Constraint& constraint() const { return con_; }
  rng& engine() { return g_; }
  std::uint64_t seed() const { return seed_; }
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

  // ---- the constraint --------------------------------------------------------------------

  /// @throws evit::invalid_argument when a type-erased model (cost::any_cost) is of another space.
  static void check_space(const cost::cost_traits& t, const char* what) {
    const space_descriptor& d = Space::descriptor();
    if (t.space != nullptr && t.space != &d)
      throw invalid_argument(std::string("search over space \"") + d.name + "\": the " + what +
                             "'s cost model is of another space (\"" + t.space->name + "\")");
  }

  /// "" when the constraint may be satisfiable, else why it cannot be: a monotone cost whose
  /// range over the space (from the min and max subnets) misses the allowed range.
  std::string precheck() const {
    const arch lo_a = Space::min_arch(), hi_a = Space::max_arch();
    for (std::size_t i = 0; i < num_costs; ++i) {
      if (!con_.monotone_at(i)) continue;
      const double cmin = con_.cost_at(i, lo_a), cmax = con_.cost_at(i, hi_a);
      if (cmin > con_.hi(i))
        return "constraint " + con_.describe(i) + " is infeasible in space " +
               Space::descriptor().name + ": the smallest subnet already costs " +
               cost::detail::format_number(cmin);
      if (cmax < con_.lo(i))
        return "constraint " + con_.describe(i) + " is infeasible in space " +
               Space::descriptor().name + ": the largest subnet costs only " +
               cost::detail::format_number(cmax);
    }
    return "";
  }

  /// The constraint costs and violation of `a`.
  double constrain(const arch& a, std::vector<double>& costs) const {
    costs.resize(num_costs);
    con_.evaluate(a, costs.data());
    return con_.violation(costs.data());
  }

  /// Moves `a` toward the feasible set (bounded); true when it ends feasible. Counts repairs.
  bool repair(arch& a, std::vector<double>& costs, double& violation) {
    if (violation == 0) return true;
    if (!repair_) return false;
    ++counters_.repairs;
    bool ok;
    if constexpr (num_costs == 1) {
      const auto cost_fn = [this](const arch& x) { return con_.cost_at(0, x); };
      double c = costs[0];
      ok = step_into(cost_fn, con_.is_monotone(), con_.lo(0), con_.hi(0), a, c);
    } else {
      std::vector<double> tmp(num_costs);
      const auto viol_fn = [this, &tmp](const arch& x) {
        con_.evaluate(x, tmp.data());
        return con_.violation(tmp.data());
      };
      double v = violation;
      ok = step_into(viol_fn, false, -std::numeric_limits<double>::infinity(), 0.0, a, v);
    }
    violation = constrain(a, costs);
    if (ok && violation == 0) ++counters_.repaired;
    return violation == 0;
  }

  /// Minimal-change repair: single steps (each dimension to its nearest value) of random
  /// dimensions in the useful direction, kept when they bring the cost strictly closer to
  /// [lo, hi]; if no single step helps, the constructive jumps of space/detail/seek.hpp.
  template <class CostFn>
  bool step_into(const CostFn& cost, bool monotone, double lo, double hi, arch& a, double& c) {
    using evit::detail::window_distance;
    for (int moves = 0; moves < max_repair_moves; ++moves) {
      const double dist = window_distance(c, lo, hi);
      if (dist == 0.0) return true;
      moves_.sites(a, scratch_.sites);
      const int want = c > hi ? -1 : +1;
      scratch_.candidates.clear();
      for (int i = 0; i < static_cast<int>(scratch_.sites.size()); ++i) {
        if (monotone) {
          scratch_.candidates.push_back(2 * i + (want > 0 ? 1 : 0));
        } else {
          scratch_.candidates.push_back(2 * i);
          scratch_.candidates.push_back(2 * i + 1);
        }
      }
      bool improved = false;
      while (!improved && !scratch_.candidates.empty()) {
        const std::size_t k = static_cast<std::size_t>(
            uniform_below(g_, static_cast<std::uint64_t>(scratch_.candidates.size())));
        const int cand = scratch_.candidates[k];
        scratch_.candidates[k] = scratch_.candidates.back();
        scratch_.candidates.pop_back();
        const evit::detail::site& p = scratch_.sites[static_cast<std::size_t>(cand / 2)];
        const int t = moves_.nearest_target(a, p, (cand % 2) ? +1 : -1);
        if (t < 0) continue;
        scratch_.trial = a;
        moves_.apply(scratch_.trial, p, t);
        const double ct = cost(scratch_.trial);
        if (window_distance(ct, lo, hi) < dist) {
          a = scratch_.trial;
          c = ct;
          improved = true;
        }
      }
      if (!improved) break;
    }
    if (window_distance(c, lo, hi) == 0.0) return true;
    return evit::detail::seek_window(moves_, cost, monotone, lo, hi, a, c, g_, scratch_,
                                     max_repair_moves);
  }

  /// A random subnet (the space's own sampler), repaired toward the feasible set.
  arch random_candidate(std::vector<double>& costs, double& violation) {
    arch a = Space::sample(g_);
    violation = constrain(a, costs);
    if (violation > 0) repair(a, costs, violation);
    return a;
  }

  // ---- the record ------------------------------------------------------------------------

  /// Index of `a` in the record, or -1.
  int find(const arch& a) const {
    const int* i = index_.find(a, a.hash());
    return i ? *i : -1;
  }
  /// Adds a new subnet (not yet in the record) with its constraint costs; its objectives are
  /// evaluated by the next evaluate_pending(). Returns its index.
  int add(const arch& a, std::vector<double> costs, double violation) {
    const int i = static_cast<int>(records_.size());
    evaluated r;
    r.subnet = a;
    r.costs = std::move(costs);
    r.violation = violation;
    r.values.assign(num_objectives, std::numeric_limits<double>::quiet_NaN());
    records_.push_back(std::move(r));
    index_.insert(a, a.hash(), i);
    if (violation == 0) ++feasible_;
    return i;
  }

  /// Evaluates the objectives of every feasible subnet added since the last call: concurrently
  /// on `exec` (results by index), sequential objectives on this thread in index order, batch
  /// objectives (is_batch_cost_model_v) with one call on this thread, given the subnets in index
  /// order (how a backend such as evit/mpi/ spreads a generation over processes).
  template <class Executor>
  void evaluate_pending(Executor& exec) {
    std::vector<int> todo;
    for (int i = pending_from_; i < static_cast<int>(records_.size()); ++i)
      if (records_[static_cast<std::size_t>(i)].feasible()) todo.push_back(i);
    pending_from_ = static_cast<int>(records_.size());
    if (todo.empty()) return;
    if constexpr (Objectives::any_batch()) {
      std::vector<arch> subnets;
      subnets.reserve(todo.size());
      for (int i : todo) subnets.push_back(records_[static_cast<std::size_t>(i)].subnet);
      obj_.evaluate_batches(subnets, [&](std::size_t k, std::size_t j, double v) {
        records_[static_cast<std::size_t>(todo[j])].values[k] = v;
      });
    }
    if (obj_.any_parallel()) {
      exec.parallel_for(static_cast<Index>(todo.size()), [&](Index k, int) {
        evaluated& r = records_[static_cast<std::size_t>(todo[static_cast<std::size_t>(k)])];
        obj_.evaluate(r.subnet, r.values.data(), false);
      });
    }
    if (obj_.any_sequential()) {
      for (int i : todo) {
        evaluated& r = records_[static_cast<std::size_t>(i)];
        obj_.evaluate(r.subnet, r.values.data(), true);
      }
    }
    for (int i : todo)
      for (double v : records_[static_cast<std::size_t>(i)].values)
        if (std::isnan(v))
          throw error(
              "search: an objective returned NaN for " +
              evit::to_string(Space::descriptor(), records_[static_cast<std::size_t>(i)].subnet));
  }

  const std::vector<evaluated>& records() const { return records_; }
  const evaluated& record(int i) const { return records_[static_cast<std::size_t>(i)]; }
  std::uint64_t feasible_count() const { return feasible_; }
  search_counters& counters() { return counters_; }
  const search_counters& counters() const { return counters_; }

  /// Score (to maximise) of objective k of record i.
  double score(int i, std::size_t k = 0) const {
    return obj_.score(k, records_[static_cast<std::size_t>(i)].values[k]);
  }

  // ---- JSON ------------------------------------------------------------------------------

  nlohmann::json to_json() const {
    const space_descriptor& d = Space::descriptor();
    nlohmann::json recs = nlohmann::json::array();
    for (const evaluated& r : records_)
      recs.push_back({{"arch", evit::to_string(d, r.subnet)},
                      {"values", numbers_to_json(r.values)},
                      {"costs", numbers_to_json(r.costs)},
                      {"violation", number_to_json(r.violation)}});
    return {{"space", d.name},
            {"seed", std::to_string(seed_)},
            {"rng", rng_to_json(g_)},
            {"records", std::move(recs)},
            {"counters", counters_.to_json()}};
  }

  /// Restores what to_json saved. @throws evit::parse_error for a state of another space or
  /// with other numbers of objectives and costs.
  void from_json(const nlohmann::json& j) {
    const space_descriptor& d = Space::descriptor();
    if (j.at("space").get<std::string>() != d.name)
      throw parse_error("search state: space \"" + j.at("space").get<std::string>() +
                        "\", expected \"" + d.name + "\"");
    seed_ = std::stoull(j.at("seed").get<std::string>());
    rng_from_json(j.at("rng"), g_);
    records_.clear();
    index_.clear();
    feasible_ = 0;
    for (const auto& r : j.at("records")) {
      const arch a = parse_arch(d, r.at("arch").get<std::string>());
      std::vector<double> values = numbers_from_json(r.at("values"));
      std::vector<double> costs = numbers_from_json(r.at("costs"));
      if (values.size() != num_objectives || costs.size() != num_costs)
        throw parse_error("search state: a record has " + std::to_string(values.size()) +
                          " objectives and " + std::to_string(costs.size()) +
                          " costs; this search has " + std::to_string(num_objectives) + " and " +
                          std::to_string(num_costs));
      const int i = add(a, std::move(costs), number_from_json(r.at("violation")));
      records_[static_cast<std::size_t>(i)].values = std::move(values);
    }
    pending_from_ = static_cast<int>(records_.size());
    counters_ = search_counters::from_json(j.at("counters"));
  }

 private:
  static constexpr int max_repair_moves = 256;

  Objectives obj_;
  Constraint con_;
  std::uint64_t seed_;
  rng g_;
  bool repair_;
  evit::detail::move_set moves_;
  evit::detail::seek_scratch scratch_;
  std::vector<evaluated> records_;
  arch_map<int> index_;
  int pending_from_ = 0;
  std::uint64_t feasible_ = 0;
  search_counters counters_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace detail
}  // namespace search
}  // namespace evit
