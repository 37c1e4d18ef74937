// SPDX-License-Identifier: MIT
// What a search returns: the subnets it found with their objective values and constraint costs,
// per-iteration history, counters, and an explicit status (an infeasible constraint is a result
// with a message, and best() throws evit::infeasible with that message).
// Next: search/evolutionary.hpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "evit/core/error.hpp"
#include "evit/space/arch.hpp"

namespace evit {

/// One evaluated subnet.
struct evaluated {
  arch subnet;
  std::vector<double> values;  ///< objective values, in objective order (NaN: not evaluated
                               ///< because the subnet breaks the constraint)
  std::vector<double> costs;   ///< constraint costs, in constraint order
  double violation = 0;        ///< 0: satisfies the constraint
  bool feasible() const { return violation == 0; }
  /// The first objective's value.
  double value() const { return values.empty() ? 0.0 : values[0]; }
};

/// Counts of what a search did.
struct search_counters {
  std::uint64_t proposed = 0;    ///< children and random subnets made
  std::uint64_t duplicates = 0;  ///< of which were already evaluated (not evaluated again)
  std::uint64_t repairs = 0;     ///< repair attempts toward the feasible set
  std::uint64_t repaired = 0;    ///< of which succeeded
  std::uint64_t rejected = 0;    ///< broke the constraint and were dropped
  std::uint64_t gave_up = 0;     ///< wanted children not made within the attempts

  nlohmann::json to_json() const {
    return {{"proposed", proposed}, {"duplicates", duplicates}, {"repairs", repairs},
            {"repaired", repaired}, {"rejected", rejected},     {"gave_up", gave_up}};
  }
  static search_counters from_json(const nlohmann::json& j) {
    search_counters c;
    c.proposed = j.at("proposed").get<std::uint64_t>();
    c.duplicates = j.at("duplicates").get<std::uint64_t>();
    c.repairs = j.at("repairs").get<std::uint64_t>();
    c.repaired = j.at("repaired").get<std::uint64_t>();
    c.rejected = j.at("rejected").get<std::uint64_t>();
    c.gave_up = j.at("gave_up").get<std::uint64_t>();
    return c;
  }
};

/// One line of a search's history.
struct iteration_stats {
  int iteration = 0;              ///< 0: the initial population
  std::uint64_t evaluations = 0;  ///< distinct subnets evaluated so far
  std::uint64_t new_subnets = 0;  ///< evaluated in this iteration
  double best = 0;                ///< best first-objective value so far (its own sense)
  double parents_mean = 0;        ///< evolution: mean over the parents; NSGA-II: hypervolume

  nlohmann::json to_json() const {
    return {{"iteration", iteration},
            {"evaluations", evaluations},
            {"new", new_subnets},
            {"best", best},
            {"parents_mean", parents_mean}};
  }
  static iteration_stats from_json(const nlohmann::json& j) {
    iteration_stats s;
    s.iteration = j.at("iteration").get<int>();
    s.evaluations = j.at("evaluations").get<std::uint64_t>();
    s.new_subnets = j.at("new").get<std::uint64_t>();
    s.best = j.at("best").get<double>();
    s.parents_mean = j.at("parents_mean").get<double>();
    return s;
  }
};

/// How a search ended.
enum class search_status {
  ok,          ///< finished; best() is the answer
  infeasible,  ///< no subnet satisfies the constraint (message says why)
};

/// The outcome of a search.
struct search_result {
  search_status status = search_status::ok;
  std::string message;            ///< why it is infeasible
  std::vector<evaluated> ranked;  ///< evolution, random: best first; NSGA-II: the Pareto front
  std::vector<iteration_stats> history;
  search_counters counters;
  std::uint64_t evaluations = 0;  ///< distinct subnets evaluated
  std::uint64_t seed = 0;
  double seconds = 0;

  bool ok() const { return status == search_status::ok && !ranked.empty(); }
  /// The best subnet (evolution, random) or the front's first point (NSGA-II).
  /// @throws evit::infeasible with the message when the search found no feasible subnet.
  const evaluated& best() const {
    if (!ok())
      throw infeasible(message.empty() ? "search found no subnet satisfying the constraint"
                                       : message);
    return ranked.front();
  }
};

}  // namespace evit
