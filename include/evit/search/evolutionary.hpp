// SPDX-License-Identifier: MIT
// Constrained evolutionary search (ElasticViT's, docs/elasticvit.md#evolutionary-search, derived
// from AutoFormer's): an initial population of random subnets that satisfy the constraint, then
// per iteration mutations and crossovers of the top-k subnets evaluated so far (elitist), each
// child kept only when it is new and satisfies the constraint (else repaired toward it, or
// rejected, within a bounded number of attempts). Any space, objective (maximised, or
// evit::minimize(f)), constraint, engine seed and executor; the result for a seed is
// bit-identical whatever the executor's thread count.
//   evolutionary_search<Space>(objective, constraint, options, seed, executor)   one call
//   evolution<Space, Objective, Constraint>                                       step by step,
//                                                                                 save / resume
// Next: search/nsga2.hpp (several objectives), search/random.hpp (the baseline).
#pragma once

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "evit/core/error.hpp"
#include "evit/core/executor.hpp"
#include "evit/cost/constraint.hpp"
#include "evit/search/detail/core.hpp"
#include "evit/search/objective.hpp"
#include "evit/search/operators.hpp"
#include "evit/search/options.hpp"
#include "evit/search/result.hpp"

namespace evit {

/// An evolutionary search in progress: step(), run(), save and resume.
/// @tparam Space      an evit::search_space<...> type.
/// @tparam Objective  evit::objective<F> (from maximize(f) / minimize(f)).
/// @tparam Constraint an evit::cost constraint (at_most, within, all_of, unconstrained()).
/// @code
///   auto evo = evit::make_evolution<space>(accuracy, evit::cost::within(macs, 300e6, 320e6),
///                                          evit::presets::elasticvit_search(), 7);
///   while (evo.step(pool)) if (evo.iteration() == 10) evo.save("state.json");
///   // later, in a new process: same objective and constraint, then
///   evo2.load("state.json"); auto result = evo2.run(pool);
/// @endcode
template <class Space, class Objective, class Constraint>
class evolution {
  static_assert(
      search::detail::is_objective<Objective>::value,
      "evit::evolution<Space, Objective, Constraint>: Objective must be evit::objective<F> "
      "(use evit::make_evolution or evolutionary_search, which wrap a plain callable)");

 public:
  using objectives_type = objective_set<Objective>;

  evolution(Objective objective, Constraint constraint, evolution_options opts, std::uint64_t seed)
      : core_(objectives_type(std::move(objective)), std::move(constraint), seed, opts.repair()),
        opts_(std::move(opts)) {
    search::detail::check_search_types<Space, Constraint>();
    opts_.check();
  }

  const evolution_options& options() const { return opts_; }
  /// -1 before the initial population, 0 after it, k after k iterations.
  int iteration() const { return iteration_; }
  bool done() const { return !infeasible_.empty() || iteration_ >= opts_.iterations(); }
  /// Indices (into records()) of the current parents, best first.
  const std::vector<int>& parents() const { return parents_; }
  const std::vector<evaluated>& records() const { return core_.records(); }
  const std::vector<iteration_stats>& history() const { return history_; }

  /// Builds the initial population or runs one iteration; false when the search is done.
  template <class Executor = sequential_executor>
  bool step(Executor&& exec = Executor()) {
    if (done()) return false;
    if (iteration_ < 0)
      initialise(exec);
    else
      iterate(exec);
    report();
    return !done();
  }

  /// Runs to the end and returns the result.
  template <class Executor = sequential_executor>
  search_result run(Executor&& exec = Executor()) {
    while (step(exec)) {
    }
    return result();
  }

  /// The result so far: the parents, best first.
  search_result result() const {
    search_result r;
    r.status = infeasible_.empty() ? search_status::ok : search_status::infeasible;
    r.message = infeasible_;
    for (int i : parents_) r.ranked.push_back(core_.record(i));
    r.history = history_;
    r.counters = core_.counters();
    r.evaluations = core_.records().size();
    r.seed = core_.seed();
    r.seconds = core_.seconds();
    return r;
  }

  /// The whole state (options, population, every evaluation, random engine) as JSON.
  nlohmann::json state() const {
    nlohmann::json hist = nlohmann::json::array();
    for (const auto& h : history_) hist.push_back(h.to_json());
    return {{"format", "evit-search-state"}, {"version", 1},
            {"algorithm", "evolution"},      {"options", opts_.to_json()},
            {"iteration", iteration_},       {"parents", parents_},
            {"infeasible", infeasible_},     {"history", std::move(hist)},
            {"core", core_.to_json()}};
  }
  void save(const std::string& path) const {
    std::ofstream f(path);
    if (!f) throw error("evolution: cannot write " + path);
    f << state().dump() << "\n";
    if (!f) throw error("evolution: write to " + path + " failed");
  }
  /// Resumes from a state() (options included; this object's progress callback is kept).
  /// @throws evit::parse_error for a state of another algorithm or space.
  void restore(const nlohmann::json& j) {
    try {
      if (j.at("format") != "evit-search-state" || j.at("algorithm") != "evolution")
        throw parse_error("evolution: not an evolution search state");
      progress_callback cb = opts_.on_progress();
      opts_ = evolution_options::from_json(j.at("options"));
      opts_.on_progress(std::move(cb));
      core_.from_json(j.at("core"));
      iteration_ = j.at("iteration").get<int>();
      parents_ = j.at("parents").get<std::vector<int>>();
      infeasible_ = j.at("infeasible").get<std::string>();
      history_.clear();
      for (const auto& h : j.at("history")) history_.push_back(iteration_stats::from_json(h));
      for (int i : parents_)
        if (i < 0 || i >= static_cast<int>(core_.records().size()))
          throw parse_error("evolution: parent index " + std::to_string(i) + " out of range");
    } catch (const nlohmann::json::exception& e) {
      throw parse_error(std::string("evolution: malformed search state (") + e.what() + ")");
    }
  }
  void load(const std::string& path) {
    std::ifstream f(path);
    if (!f) throw parse_error("evolution: cannot open " + path);
    nlohmann::json j;
    try {
      f >> j;
    } catch (const nlohmann::json::exception& e) {
      throw parse_error("evolution: " + path + " is not JSON (" + e.what() + ")");
    }
    restore(j);
  }

 private:
  using core_type = search::detail::core<Space, objectives_type, Constraint>;

  // Adds `a` when new and feasible (repairing it first when allowed); true when added.
  bool offer(arch a) {
    search_counters& n = core_.counters();
    ++n.proposed;
    std::vector<double> costs;
    double v = core_.constrain(a, costs);
    if (v > 0 && !core_.repair(a, costs, v)) {
      ++n.rejected;
      return false;
    }
    if (core_.find(a) >= 0) {
      ++n.duplicates;
      return false;
    }
    core_.add(a, std::move(costs), v);
    return true;
  }

  template <class Executor>
  void initialise(Executor& exec) {
    iteration_ = 0;
    infeasible_ = core_.precheck();
    if (!infeasible_.empty()) return;
    const int want = opts_.population();
    const std::uint64_t budget = static_cast<std::uint64_t>(want) * opts_.attempts();
    int made = 0;
    for (std::uint64_t t = 0; t < budget && made < want; ++t)
      made += offer(Space::sample(core_.engine())) ? 1 : 0;
    core_.counters().gave_up += static_cast<std::uint64_t>(want - made);
    if (made == 0) {
      infeasible_ = "no subnet of space " + Space::descriptor().name + " satisfying " +
                    describe_constraint() + " was found in " + std::to_string(budget) +
                    " random draws with repair";
      return;
    }
    core_.evaluate_pending(exec);
    select(0);
  }

  template <class Executor>
  void iterate(Executor& exec) {
    const std::size_t before = core_.records().size();
    const space_descriptor& d = Space::descriptor();
    rng& g = core_.engine();
    const auto np = static_cast<std::uint64_t>(parents_.size());
    auto make = [&](int want, auto&& child) {
      const std::uint64_t budget = static_cast<std::uint64_t>(want) * opts_.attempts();
      int made = 0;
      for (std::uint64_t t = 0; t < budget && made < want; ++t) made += offer(child()) ? 1 : 0;
      core_.counters().gave_up += static_cast<std::uint64_t>(want - made);
    };
    make(opts_.mutations(), [&] {
      const int p = parents_[static_cast<std::size_t>(uniform_below(g, np))];
      return mutate(d, Space::chains(), core_.record(p).subnet, opts_.mutation(), g);
    });
    make(opts_.crossovers(), [&] {
      const int p0 = parents_[static_cast<std::size_t>(uniform_below(g, np))];
      const int p1 = parents_[static_cast<std::size_t>(uniform_below(g, np))];
      return crossover(d, core_.record(p0).subnet, core_.record(p1).subnet, g);
    });
    if (opts_.refill())
      make(std::max(0, opts_.population() - static_cast<int>(parents_.size()) - opts_.mutations() -
                           opts_.crossovers()),
           [&] { return Space::sample(g); });
    core_.evaluate_pending(exec);
    ++iteration_;
    select(before);
  }

  // The new top-k: the old parents and the subnets evaluated since `from`.
  void select(std::size_t from) {
    std::vector<int> pool = parents_;
    for (std::size_t i = from; i < core_.records().size(); ++i)
      if (core_.records()[i].feasible()) pool.push_back(static_cast<int>(i));
    std::sort(pool.begin(), pool.end(), [this](int x, int y) {
      const double sx = core_.score(x), sy = core_.score(y);
      if (sx != sy) return sx > sy;
      return x < y;
    });
    if (static_cast<int>(pool.size()) > opts_.parents())
      pool.resize(static_cast<std::size_t>(opts_.parents()));
    parents_ = std::move(pool);
    iteration_stats s;
    s.iteration = iteration_;
    s.evaluations = core_.records().size();
    s.new_subnets = core_.records().size() - from;
    if (!parents_.empty()) {
      s.best = core_.record(parents_.front()).values[0];
      double sum = 0;
      for (int i : parents_) sum += core_.record(i).values[0];
      s.parents_mean = sum / static_cast<double>(parents_.size());
    }
    history_.push_back(s);
  }

  void report() const {
    if (!opts_.on_progress()) return;
    search_progress p;
    p.iteration = iteration_;
    p.iterations = opts_.iterations();
    p.evaluations = core_.records().size();
    p.feasible = core_.feasible_count();
    if (!parents_.empty()) {
      p.best = &core_.record(parents_.front()).subnet;
      p.best_score = core_.record(parents_.front()).values[0];
    }
    p.seconds = core_.seconds();
    opts_.on_progress()(p);
  }

  std::string describe_constraint() const {
    std::string s;
    for (std::size_t i = 0; i < Constraint::size; ++i)
      s += (i ? " and " : "") + core_.constraint().describe(i);
    return s;
  }

  core_type core_;
  evolution_options opts_;
  int iteration_ = -1;
  std::vector<int> parents_;
  std::vector<iteration_stats> history_;
  std::string infeasible_;
};

/// Builds an evolution, wrapping a plain callable objective as maximize(f).
template <class Space, class Objective, class Constraint>
auto make_evolution(Objective&& objective, Constraint&& constraint,
                    evolution_options opts = presets::elasticvit_search(), std::uint64_t seed = 0) {
  auto o = search::detail::as_objective(std::forward<Objective>(objective));
  return evolution<Space, decltype(o), std::decay_t<Constraint>>(
      std::move(o), std::forward<Constraint>(constraint), std::move(opts), seed);
}

/// Constrained evolutionary search over Space: the best subnets for `objective` (maximised; or
/// evit::minimize(f)) among those satisfying `constraint`.
/// @param objective   a cost model (maximised) or evit::maximize(f) / evit::minimize(f). Called
///                    concurrently on the executor's threads (unless it declares sequential).
/// @param constraint  evit::cost::at_most(latency, 10.0), within(macs, L, L + 20e6), ...
/// @param opts        evit::presets::elasticvit_search() (default), autoformer_search(),
///                    ofa_search(), hat_search() or yours.
/// @param seed        same seed, same result, whatever the executor.
/// @param exec        evit::sequential_executor (default) or an evit::thread_pool.
/// @returns ranked subnets (best first) with values and costs; status infeasible (and best()
///          throws evit::infeasible) when nothing satisfies the constraint.
/// @code
///   auto r = evit::evolutionary_search<ev::official_space>(
///       my_accuracy, evit::cost::at_most(latency, 10.0), evit::presets::elasticvit_search(), 7,
///       evit::thread_pool(2));
///   evit::arch best = r.best().subnet;
/// @endcode
template <class Space, class Objective, class Constraint, class Executor = sequential_executor>
search_result evolutionary_search(Objective&& objective, Constraint&& constraint,
                                  evolution_options opts = presets::elasticvit_search(),
                                  std::uint64_t seed = 0, Executor&& exec = Executor()) {
  auto evo = make_evolution<Space>(std::forward<Objective>(objective),
                                   std::forward<Constraint>(constraint), std::move(opts), seed);
  return evo.run(exec);
}

}  // namespace evit
