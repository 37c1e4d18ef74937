// SPDX-License-Identifier: MIT
// The searches behind one run-time interface for search.cpp: each (space, number of objectives,
// number of constraints) is its own C++ type, instantiated once in search_engine.cpp (kept apart
// so that changing the bindings does not recompile them).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <evit/core/executor.hpp>
#include <evit/cost/adaptors.hpp>
#include <evit/search/objective.hpp>
#include <evit/search/options.hpp>
#include <evit/search/random.hpp>
#include <evit/search/result.hpp>

#include "common.hpp"

namespace evit_py {

/// One objective, resolved against the search's space.
struct engine_objective {
  evit::cost::any_cost model;
  evit::sense direction = evit::sense::maximize;
  std::string name;
};

/// One constraint lo <= model(a) <= hi, resolved against the search's space.
struct engine_constraint {
  evit::cost::any_cost model;
  double lo = 0, hi = 0;
  std::string name;
};

/// The most objectives NSGA-II and constraints any search take (each count is a C++ type).
inline constexpr int max_objectives = 3;
inline constexpr int max_constraints = 3;

/// A step-wise search (evolution or NSGA-II) of one space.
class search_engine {
 public:
  virtual ~search_engine() = default;
  /// The initial population or one iteration; false when done.
  virtual bool step(evit::executor_ref exec) = 0;
  virtual bool done() const = 0;
  /// -1 before the initial population, then the iterations done.
  virtual int iteration() const = 0;
  virtual int iterations() const = 0;
  virtual evit::search_result result() const = 0;
  virtual const std::vector<evit::evaluated>& records() const = 0;
  virtual nlohmann::json state() const = 0;
  virtual void restore(const nlohmann::json& j) = 0;
  /// Each constraint as text ("macs <= 3e+08"); empty when unconstrained.
  virtual std::vector<std::string> constraint_descriptions() const = 0;
  /// The options as JSON (those of a restored state once restored).
  virtual nlohmann::json options() const = 0;
};

std::unique_ptr<search_engine> make_evolution_engine(space_handle s, const engine_objective& o,
                                                     const std::vector<engine_constraint>& c,
                                                     evit::evolution_options opts,
                                                     std::uint64_t seed);
std::unique_ptr<search_engine> make_nsga2_engine(space_handle s,
                                                 const std::vector<engine_objective>& o,
                                                 const std::vector<engine_constraint>& c,
                                                 evit::nsga2_options opts, std::uint64_t seed);
/// random_search over space s; `descriptions` receives the constraints as text.
evit::search_result run_random_search(space_handle s, const engine_objective& o,
                                      const std::vector<engine_constraint>& c,
                                      evit::random_options opts, std::uint64_t seed,
                                      evit::executor_ref exec,
                                      std::vector<std::string>& descriptions);

}  // namespace evit_py
