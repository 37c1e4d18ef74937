// SPDX-License-Identifier: MIT
// Options of the searches, with named setters, and published systems' settings as presets
// (docs/design.md#search-presets), named <system>_search so that they do not hide the namespaces
// evit::elasticvit and evit::autoformer:
//   presets::elasticvit_search()  512 initial, top 256, 128 mutations + 128 crossovers,
//                                 40 iterations, per-dimension 0.2, all depths 0.4, "random vs
//                                 min" 0.45, with the released code's defects fixed (operators.hpp)
//   presets::autoformer_search()  50 / top 10, 25 + 25 + random refill, 0.2 / depth 0.4,
//                                 20 iterations
//   presets::ofa_search()         100 / top 25, 50 + 50, 0.1 per gene (resolution 0.5),
//                                 500 iterations
//   presets::hat_search()         125 / top 25, 50 + 50, 0.3 per gene, 30 iterations
// Next: search/operators.hpp (what the mutation settings mean), search/evolutionary.hpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "evit/core/error.hpp"
#include "evit/space/arch.hpp"

namespace evit {

/// How a mutation changes stage depths.
enum class depth_mutation {
  together,   ///< with depth_prob, every stage's depth is redrawn (AutoFormer, ElasticViT)
  per_stage,  ///< each stage's depth is redrawn with depth_prob (OFA, HAT)
};

/// What a search reports after its initial population and after every iteration.
struct search_progress {
  int iteration = 0;              ///< 0: the initial population
  int iterations = 0;             ///< total planned
  std::uint64_t evaluations = 0;  ///< distinct subnets evaluated so far
  std::uint64_t feasible = 0;     ///< of which satisfy the constraint
  double best_score = 0;          ///< the best objective value so far (in its own sense)
  const arch* best = nullptr;     ///< the best subnet so far (nullptr when none yet)
  double seconds = 0;             ///< since the search started (this session)
};

/// The progress callback: called on the search's thread.
using progress_callback = std::function<void(const search_progress&)>;

/// The parameters of mutation (search/operators.hpp).
struct mutation_params {
  double mutation_prob = 0.2;       ///< per dimension (per stage when block-wise)
  double depth_prob = 0.4;          ///< see depth_mode
  double resolution_prob = 0.2;     ///< the resolution is redrawn
  double random_choice_prob = 1.0;  ///< a mutated dimension: uniform choice, else the minimum
  depth_mutation depth_mode = depth_mutation::together;
};

/// Options of evolutionary_search (search/evolutionary.hpp).
/// @code
///   auto opt = evit::presets::elasticvit_search().iterations(20).on_progress(print);
/// @endcode
class evolution_options {
 public:
  evolution_options() = default;

  /// Preset name, for reports.
  evolution_options& name(std::string n) {
    name_ = std::move(n);
    return *this;
  }
  /// Size of the initial population (official ElasticViT: 512).
  evolution_options& population(int n) {
    population_ = n;
    return *this;
  }
  /// Parents kept: the top-k of everything evaluated (official: 256).
  evolution_options& parents(int n) {
    parents_ = n;
    return *this;
  }
  evolution_options& mutations(int n) {
    mutations_ = n;
    return *this;
  }
  evolution_options& crossovers(int n) {
    crossovers_ = n;
    return *this;
  }
  evolution_options& iterations(int n) {
    iterations_ = n;
    return *this;
  }
  /// Random subnets added per iteration so that parents + children + refill reach population()
  /// (AutoFormer). Off by default.
  evolution_options& refill(bool on) {
    refill_ = on;
    return *this;
  }
  evolution_options& mutation_prob(double p) {
    mut_.mutation_prob = p;
    return *this;
  }
  evolution_options& depth_prob(double p) {
    mut_.depth_prob = p;
    return *this;
  }
  evolution_options& resolution_prob(double p) {
    mut_.resolution_prob = p;
    return *this;
  }
  /// A mutated dimension takes a uniform choice with this probability, else its minimum
  /// (official ElasticViT: 0.45; 1 = always uniform).
  evolution_options& random_choice_prob(double p) {
    mut_.random_choice_prob = p;
    return *this;
  }
  evolution_options& depth_mode(depth_mutation m) {
    mut_.depth_mode = m;
    return *this;
  }
  /// Attempts per wanted child before giving up on it (official: 10).
  evolution_options& attempts(int n) {
    attempts_ = n;
    return *this;
  }
  /// Repair children that break the constraint toward the feasible set (default on). Off: such
  /// children are rejected, as the official code does.
  evolution_options& repair(bool on) {
    repair_ = on;
    return *this;
  }
  evolution_options& on_progress(progress_callback cb) {
    progress_ = std::move(cb);
    return *this;
  }

  const std::string& name() const { return name_; }
  int population() const { return population_; }
  int parents() const { return parents_; }
  int mutations() const { return mutations_; }
  int crossovers() const { return crossovers_; }
  int iterations() const { return iterations_; }
  bool refill() const { return refill_; }
  const mutation_params& mutation() const { return mut_; }
  int attempts() const { return attempts_; }
  bool repair() const { return repair_; }
  const progress_callback& on_progress() const { return progress_; }

  /// Evaluations at most: population + iterations * (mutations + crossovers + refill).
  std::uint64_t max_evaluations() const {
    const int refill = refill_ ? std::max(0, population_ - parents_ - mutations_ - crossovers_) : 0;
    return static_cast<std::uint64_t>(population_) +
           static_cast<std::uint64_t>(iterations_) *
               static_cast<std::uint64_t>(mutations_ + crossovers_ + refill);
  }

  /// @throws evit::invalid_argument naming the bad option.
  void check() const {
    auto bad = [](const std::string& what) {
      return invalid_argument("evolution_options: " + what);
    };
    if (population_ < 1) throw bad("population " + std::to_string(population_) + " < 1");
    if (parents_ < 1) throw bad("parents " + std::to_string(parents_) + " < 1");
    if (mutations_ < 0 || crossovers_ < 0 || iterations_ < 0 || attempts_ < 1)
      throw bad("mutations, crossovers and iterations must be >= 0 and attempts >= 1");
    for (double p :
         {mut_.mutation_prob, mut_.depth_prob, mut_.resolution_prob, mut_.random_choice_prob})
      if (!(p >= 0 && p <= 1)) throw bad("a probability is outside [0, 1]");
  }

  /// The options as JSON (the callback is not saved).
  nlohmann::json to_json() const {
    return {{"name", name_},
            {"population", population_},
            {"parents", parents_},
            {"mutations", mutations_},
            {"crossovers", crossovers_},
            {"iterations", iterations_},
            {"refill", refill_},
            {"mutation_prob", mut_.mutation_prob},
            {"depth_prob", mut_.depth_prob},
            {"resolution_prob", mut_.resolution_prob},
            {"random_choice_prob", mut_.random_choice_prob},
            {"depth_mode", mut_.depth_mode == depth_mutation::together ? "together" : "per_stage"},
            {"attempts", attempts_},
            {"repair", repair_}};
  }
  static evolution_options from_json(const nlohmann::json& j) {
    evolution_options o;
    o.name_ = j.at("name").get<std::string>();
    o.population_ = j.at("population").get<int>();
    o.parents_ = j.at("parents").get<int>();
    o.mutations_ = j.at("mutations").get<int>();
    o.crossovers_ = j.at("crossovers").get<int>();
    o.iterations_ = j.at("iterations").get<int>();
    o.refill_ = j.at("refill").get<bool>();
    o.mut_.mutation_prob = j.at("mutation_prob").get<double>();
    o.mut_.depth_prob = j.at("depth_prob").get<double>();
    o.mut_.resolution_prob = j.at("resolution_prob").get<double>();
    o.mut_.random_choice_prob = j.at("random_choice_prob").get<double>();
    o.mut_.depth_mode = j.at("depth_mode").get<std::string>() == "together"
                            ? depth_mutation::together
                            : depth_mutation::per_stage;
    o.attempts_ = j.at("attempts").get<int>();
    o.repair_ = j.at("repair").get<bool>();
    return o;
  }

 private:
  std::string name_ = "custom";
  int population_ = 512, parents_ = 256, mutations_ = 128, crossovers_ = 128, iterations_ = 40;
  bool refill_ = false;
  mutation_params mut_{0.2, 0.4, 0.2, 0.45, depth_mutation::together};
  int attempts_ = 10;
  bool repair_ = true;
  progress_callback progress_;
};

/// Options of nsga2_search (search/nsga2.hpp).
class nsga2_options {
 public:
  nsga2_options& population(int n) {
    population_ = n;
    return *this;
  }
  nsga2_options& generations(int n) {
    generations_ = n;
    return *this;
  }
  /// Probability that a child is a crossover of its two parents (else a copy of the first),
  /// before mutation. Default 0.9.
  nsga2_options& crossover_prob(double p) {
    crossover_prob_ = p;
    return *this;
  }
  nsga2_options& mutation_prob(double p) {
    mut_.mutation_prob = p;
    return *this;
  }
  nsga2_options& depth_prob(double p) {
    mut_.depth_prob = p;
    return *this;
  }
  nsga2_options& resolution_prob(double p) {
    mut_.resolution_prob = p;
    return *this;
  }
  nsga2_options& random_choice_prob(double p) {
    mut_.random_choice_prob = p;
    return *this;
  }
  nsga2_options& attempts(int n) {
    attempts_ = n;
    return *this;
  }
  nsga2_options& repair(bool on) {
    repair_ = on;
    return *this;
  }
  nsga2_options& on_progress(progress_callback cb) {
    progress_ = std::move(cb);
    return *this;
  }

  int population() const { return population_; }
  int generations() const { return generations_; }
  double crossover_prob() const { return crossover_prob_; }
  const mutation_params& mutation() const { return mut_; }
  int attempts() const { return attempts_; }
  bool repair() const { return repair_; }
  const progress_callback& on_progress() const { return progress_; }
  std::uint64_t max_evaluations() const {
    return static_cast<std::uint64_t>(population_) * (1 + static_cast<std::uint64_t>(generations_));
  }

  void check() const {
    auto bad = [](const std::string& what) { return invalid_argument("nsga2_options: " + what); };
    if (population_ < 2) throw bad("population " + std::to_string(population_) + " < 2");
    if (generations_ < 0 || attempts_ < 1) throw bad("generations < 0 or attempts < 1");
    for (double p : {crossover_prob_, mut_.mutation_prob, mut_.depth_prob, mut_.resolution_prob,
                     mut_.random_choice_prob})
      if (!(p >= 0 && p <= 1)) throw bad("a probability is outside [0, 1]");
  }

  nlohmann::json to_json() const {
    return {{"population", population_},
            {"generations", generations_},
            {"crossover_prob", crossover_prob_},
            {"mutation_prob", mut_.mutation_prob},
            {"depth_prob", mut_.depth_prob},
            {"resolution_prob", mut_.resolution_prob},
            {"random_choice_prob", mut_.random_choice_prob},
            {"attempts", attempts_},
            {"repair", repair_}};
  }
  static nsga2_options from_json(const nlohmann::json& j) {
    nsga2_options o;
    o.population_ = j.at("population").get<int>();
    o.generations_ = j.at("generations").get<int>();
    o.crossover_prob_ = j.at("crossover_prob").get<double>();
    o.mut_.mutation_prob = j.at("mutation_prob").get<double>();
    o.mut_.depth_prob = j.at("depth_prob").get<double>();
    o.mut_.resolution_prob = j.at("resolution_prob").get<double>();
    o.mut_.random_choice_prob = j.at("random_choice_prob").get<double>();
    o.attempts_ = j.at("attempts").get<int>();
    o.repair_ = j.at("repair").get<bool>();
    return o;
  }

 private:
  int population_ = 100, generations_ = 50;
  double crossover_prob_ = 0.9;
  mutation_params mut_{0.2, 0.2, 0.2, 1.0, depth_mutation::per_stage};
  int attempts_ = 10;
  bool repair_ = true;
  progress_callback progress_;
};

namespace presets {

/// ElasticViT's search (docs/elasticvit.md#evolutionary-search): 512 initial subnets, the top 256
/// as parents, 128 mutations and 128 crossovers per iteration, 40 iterations; a mutated dimension
/// (p = 0.2 each, all depths together with p = 0.4) takes a uniform choice with p = 0.45, else its
/// minimum. Fixed: widths move in their stage's own steps (the space's choice lists), the
/// resolution mutates, and the max depth is reachable. Use it with a window constraint
/// (cost::within).
inline evolution_options elasticvit_search() {
  return evolution_options()
      .name("elasticvit")
      .population(512)
      .parents(256)
      .mutations(128)
      .crossovers(128)
      .iterations(40)
      .mutation_prob(0.2)
      .depth_prob(0.4)
      .resolution_prob(0.2)
      .random_choice_prob(0.45)
      .depth_mode(depth_mutation::together)
      .attempts(10);
}

/// AutoFormer's GA (microsoft/Cream): population 50, top 10, 25 mutations + 25 crossovers and a
/// random refill, per-layer 0.2, depth 0.4, 20 iterations.
inline evolution_options autoformer_search() {
  return evolution_options()
      .name("autoformer")
      .population(50)
      .parents(10)
      .mutations(25)
      .crossovers(25)
      .iterations(20)
      .refill(true)
      .mutation_prob(0.2)
      .depth_prob(0.4)
      .resolution_prob(0.2)
      .random_choice_prob(1.0)
      .depth_mode(depth_mutation::together)
      .attempts(10);
}

/// OFA's EvolutionFinder: population 100, top 25 % kept, 50 mutations + 50 crossovers, gene
/// mutation 0.1, resolution 0.5, 500 iterations.
inline evolution_options ofa_search() {
  return evolution_options()
      .name("ofa")
      .population(100)
      .parents(25)
      .mutations(50)
      .crossovers(50)
      .iterations(500)
      .mutation_prob(0.1)
      .depth_prob(0.1)
      .resolution_prob(0.5)
      .random_choice_prob(1.0)
      .depth_mode(depth_mutation::per_stage)
      .attempts(10);
}

/// HAT's GA: population 125, 25 parents, 50 mutations + 50 crossovers, gene mutation 0.3,
/// 30 iterations.
inline evolution_options hat_search() {
  return evolution_options()
      .name("hat")
      .population(125)
      .parents(25)
      .mutations(50)
      .crossovers(50)
      .iterations(30)
      .mutation_prob(0.3)
      .depth_prob(0.3)
      .resolution_prob(0.3)
      .random_choice_prob(1.0)
      .depth_mode(depth_mutation::per_stage)
      .attempts(10);
}

/// A preset by name: "elasticvit", "autoformer", "ofa", "hat".
/// @throws evit::invalid_argument listing the names.
inline evolution_options by_name(const std::string& n) {
  if (n == "elasticvit") return elasticvit_search();
  if (n == "autoformer") return autoformer_search();
  if (n == "ofa") return ofa_search();
  if (n == "hat") return hat_search();
  throw invalid_argument("no search preset \"" + n +
                         "\" (known: elasticvit, autoformer, ofa, hat)");
}

}  // namespace presets

}  // namespace evit
