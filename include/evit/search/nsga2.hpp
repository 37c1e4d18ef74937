// SPDX-License-Identifier: MIT
// NSGA-II (Deb et al. 2002) for several objectives, with constrained domination (a subnet that
// satisfies the constraint beats one that does not; of two that do not, the smaller violation
// wins): binary tournaments on (rank, crowding), crossover and mutation from search/operators.hpp,
// repair toward the feasible set, elitist (mu + lambda) survival by fronts and crowding distance.
// Returns the Pareto front of everything it evaluated (each subnet evaluated once).
//   nsga2_search<Space>(objectives(maximize(acc), minimize(latency)), constraint, options, seed,
//                       executor)
//   nsga2<Space, Objectives, Constraint>     step by step, save / resume
// Next: search/hypervolume.hpp (the quality of a front), search/random.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "evit/core/error.hpp"
#include "evit/core/executor.hpp"
#include "evit/cost/constraint.hpp"
#include "evit/search/detail/core.hpp"
#include "evit/search/hypervolume.hpp"
#include "evit/search/objective.hpp"
#include "evit/search/operators.hpp"
#include "evit/search/options.hpp"
#include "evit/search/result.hpp"

namespace evit {

/// An NSGA-II search in progress.
/// @tparam Objectives an evit::objective_set (from evit::objectives(...)).
template <class Space, class Objectives, class Constraint>
class nsga2 {
 public:
  static constexpr std::size_t M = Objectives::size;

  nsga2(Objectives objectives, Constraint constraint, nsga2_options opts, std::uint64_t seed)
      : core_(std::move(objectives), std::move(constraint), seed, opts.repair()),
        opts_(std::move(opts)) {
    search::detail::check_search_types<Space, Constraint>();
    opts_.check();
  }

  const nsga2_options& options() const { return opts_; }
  int generation() const { return generation_; }
  bool done() const { return !infeasible_.empty() || generation_ >= opts_.generations(); }
  /// Indices (into records()) of the current population.
  const std::vector<int>& population() const { return pop_; }
  const std::vector<evaluated>& records() const { return core_.records(); }

  template <class Executor = sequential_executor>
  bool step(Executor&& exec = Executor()) {
    if (done()) return false;
    if (generation_ < 0)
      initialise(exec);
    else
      iterate(exec);
    report();
    return !done();
  }

  template <class Executor = sequential_executor>
  search_result run(Executor&& exec = Executor()) {
    while (step(exec)) {
    }
    return result();
  }

  /// The Pareto front of every feasible subnet evaluated, by the first objective, best first.
  search_result result() const {
    search_result r;
    r.status = infeasible_.empty() ? search_status::ok : search_status::infeasible;
    r.message = infeasible_;
    for (int i : archive_front()) r.ranked.push_back(core_.record(i));
    if (r.ranked.empty() && r.status == search_status::ok) {
      r.status = search_status::infeasible;
      r.message = "nsga2: no evaluated subnet satisfies the constraint";
    }
    r.history = history_;
    r.counters = core_.counters();
    r.evaluations = core_.records().size();
    r.seed = core_.seed();
    r.seconds = core_.seconds();
    return r;
  }

  /// Objective values of `e` as minimisation vectors (maximised objectives negated): the form
  /// hypervolume() takes.
  std::vector<double> minimised(const evaluated& e) const {
    std::vector<double> v(M);
    for (std::size_t k = 0; k < M; ++k) v[k] = -core_.objectives().score(k, e.values[k]);
    return v;
  }

  nlohmann::json state() const {
    nlohmann::json hist = nlohmann::json::array();
    for (const auto& h : history_) hist.push_back(h.to_json());
    return {{"format", "evit-search-state"}, {"version", 1},
            {"algorithm", "nsga2"},          {"options", opts_.to_json()},
            {"generation", generation_},     {"population", pop_},
            {"infeasible", infeasible_},     {"history", std::move(hist)},
            {"core", core_.to_json()}};
  }
  void save(const std::string& path) const {
    std::ofstream f(path);
    if (!f) throw error("nsga2: cannot write " + path);
    f << state().dump() << "\n";
    if (!f) throw error("nsga2: write to " + path + " failed");
  }
  void restore(const nlohmann::json& j) {
    try {
      if (j.at("format") != "evit-search-state" || j.at("algorithm") != "nsga2")
        throw parse_error("nsga2: not an NSGA-II search state");
      progress_callback cb = opts_.on_progress();
      opts_ = nsga2_options::from_json(j.at("options"));
      opts_.on_progress(std::move(cb));
      core_.from_json(j.at("core"));
      generation_ = j.at("generation").get<int>();
      pop_ = j.at("population").get<std::vector<int>>();
      infeasible_ = j.at("infeasible").get<std::string>();
      history_.clear();
      for (const auto& h : j.at("history")) history_.push_back(iteration_stats::from_json(h));
      for (int i : pop_)
        if (i < 0 || i >= static_cast<int>(core_.records().size()))
          throw parse_error("nsga2: population index " + std::to_string(i) + " out of range");
      rank_population();
    } catch (const nlohmann::json::exception& e) {
      throw parse_error(std::string("nsga2: malformed search state (") + e.what() + ")");
    }
  }
  void load(const std::string& path) {
    std::ifstream f(path);
    if (!f) throw parse_error("nsga2: cannot open " + path);
    nlohmann::json j;
    try {
      f >> j;
    } catch (const nlohmann::json::exception& e) {
      throw parse_error("nsga2: " + path + " is not JSON (" + e.what() + ")");
    }
    restore(j);
  }

 private:
  using core_type = search::detail::core<Space, Objectives, Constraint>;

  // Constrained domination of record x over record y.
  bool beats(int x, int y) const {
    const evaluated& a = core_.record(x);
    const evaluated& b = core_.record(y);
    if (a.feasible() != b.feasible()) return a.feasible();
    if (!a.feasible()) return a.violation < b.violation;
    bool better = false;
    for (std::size_t k = 0; k < M; ++k) {
      const double sa = core_.score(x, k), sb = core_.score(y, k);
      if (sa < sb) return false;
      if (sa > sb) better = true;
    }
    return better;
  }

  // Fronts of `ids` (fast non-dominated sort), each in ascending index order.
  std::vector<std::vector<int>> fronts(const std::vector<int>& ids) const {
    const std::size_t n = ids.size();
    std::vector<std::vector<std::size_t>> dominated(n);
    std::vector<int> count(n, 0);
    std::vector<std::vector<int>> out;
    std::vector<std::size_t> cur;
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < n; ++j) {
        if (i == j) continue;
        if (beats(ids[i], ids[j]))
          dominated[i].push_back(j);
        else if (beats(ids[j], ids[i]))
          ++count[i];
      }
      if (count[i] == 0) cur.push_back(i);
    }
    while (!cur.empty()) {
      std::vector<int> f;
      std::vector<std::size_t> next;
      for (std::size_t i : cur) {
        f.push_back(ids[i]);
        for (std::size_t j : dominated[i])
          if (--count[j] == 0) next.push_back(j);
      }
      std::sort(f.begin(), f.end());
      out.push_back(std::move(f));
      std::sort(next.begin(), next.end());
      cur = std::move(next);
    }
    return out;
  }

  // Crowding distance of the members of one front (infeasible fronts: 0).
  std::vector<double> crowding(const std::vector<int>& front) const {
    const std::size_t n = front.size();
    std::vector<double> d(n, 0.0);
    if (n == 0 || !core_.record(front[0]).feasible()) return d;
    std::vector<std::size_t> order(n);
    for (std::size_t k = 0; k < M; ++k) {
      for (std::size_t i = 0; i < n; ++i) order[i] = i;
      std::sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) {
        const double sx = core_.score(front[x], k), sy = core_.score(front[y], k);
        return sx != sy ? sx < sy : front[x] < front[y];
      });
      const double lo = core_.score(front[order.front()], k);
      const double hi = core_.score(front[order.back()], k);
      d[order.front()] = d[order.back()] = std::numeric_limits<double>::infinity();
      if (!(hi > lo)) continue;
      for (std::size_t i = 1; i + 1 < n; ++i)
        d[order[i]] +=
            (core_.score(front[order[i + 1]], k) - core_.score(front[order[i - 1]], k)) / (hi - lo);
    }
    return d;
  }

  // Rank and crowding of the current population (tournament keys).
  void rank_population() {
    rank_.clear();
    crowd_.clear();
    int r = 0;
    for (const auto& f : fronts(pop_)) {
      const std::vector<double> c = crowding(f);
      for (std::size_t i = 0; i < f.size(); ++i) {
        rank_[f[i]] = r;
        crowd_[f[i]] = c[i];
      }
      ++r;
    }
  }

  int tournament() {
    rng& g = core_.engine();
    const auto n = static_cast<std::uint64_t>(pop_.size());
    const int a = pop_[static_cast<std::size_t>(uniform_below(g, n))];
    const int b = pop_[static_cast<std::size_t>(uniform_below(g, n))];
    const int ra = rank_.at(a), rb = rank_.at(b);
    if (ra != rb) return ra < rb ? a : b;
    const double ca = crowd_.at(a), cb = crowd_.at(b);
    if (ca != cb) return ca > cb ? a : b;
    return std::min(a, b);
  }

  // Adds `a` when new (repaired toward the constraint first; kept even if still infeasible).
  bool offer(arch a) {
    search_counters& n = core_.counters();
    ++n.proposed;
    std::vector<double> costs;
    double v = core_.constrain(a, costs);
    if (v > 0) core_.repair(a, costs, v);
    if (core_.find(a) >= 0) {
      ++n.duplicates;
      return false;
    }
    core_.add(a, std::move(costs), v);
    return true;
  }

  template <class Executor>
  void initialise(Executor& exec) {
    generation_ = 0;
    infeasible_ = core_.precheck();
    if (!infeasible_.empty()) return;
    const int want = opts_.population();
    const std::uint64_t budget = static_cast<std::uint64_t>(want) * opts_.attempts();
    for (std::uint64_t t = 0; t < budget && static_cast<int>(pop_.size()) < want; ++t)
      if (offer(Space::sample(core_.engine())))
        pop_.push_back(static_cast<int>(core_.records().size()) - 1);
    core_.counters().gave_up += static_cast<std::uint64_t>(want - static_cast<int>(pop_.size()));
    core_.evaluate_pending(exec);
    rank_population();
    record_history(0);
  }

  template <class Executor>
  void iterate(Executor& exec) {
    const std::size_t before = core_.records().size();
    const space_descriptor& d = Space::descriptor();
    rng& g = core_.engine();
    const int want = opts_.population();
    const std::uint64_t budget = static_cast<std::uint64_t>(want) * opts_.attempts();
    std::vector<int> children;
    for (std::uint64_t t = 0; t < budget && static_cast<int>(children.size()) < want; ++t) {
      const int p0 = tournament();
      const int p1 = tournament();
      arch child = bernoulli(g, opts_.crossover_prob())
                       ? crossover(d, core_.record(p0).subnet, core_.record(p1).subnet, g)
                       : core_.record(p0).subnet;
      child = mutate(d, Space::chains(), child, opts_.mutation(), g);
      if (offer(std::move(child))) children.push_back(static_cast<int>(core_.records().size()) - 1);
    }
    core_.counters().gave_up +=
        static_cast<std::uint64_t>(want - static_cast<int>(children.size()));
    core_.evaluate_pending(exec);
    // (mu + lambda) survival.
    std::vector<int> all = pop_;
    all.insert(all.end(), children.begin(), children.end());
    std::vector<int> next;
    for (const auto& f : fronts(all)) {
      if (next.size() + f.size() <= static_cast<std::size_t>(want)) {
        next.insert(next.end(), f.begin(), f.end());
        continue;
      }
      const std::vector<double> c = crowding(f);
      std::vector<std::size_t> order(f.size());
      for (std::size_t i = 0; i < f.size(); ++i) order[i] = i;
      std::sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) {
        return c[x] != c[y] ? c[x] > c[y] : f[x] < f[y];
      });
      for (std::size_t i = 0; next.size() < static_cast<std::size_t>(want); ++i)
        next.push_back(f[order[i]]);
      break;
    }
    pop_ = std::move(next);
    ++generation_;
    rank_population();
    record_history(before);
  }

  // The non-dominated feasible subnets of the whole record, by first-objective score.
  std::vector<int> archive_front() const {
    std::vector<int> feas;
    std::vector<std::vector<double>> pts;
    for (int i = 0; i < static_cast<int>(core_.records().size()); ++i)
      if (core_.record(i).feasible()) {
        feas.push_back(i);
        pts.push_back(minimised(core_.record(i)));
      }
    std::vector<int> out;
    for (std::size_t k : pareto_front(pts)) out.push_back(feas[k]);
    std::sort(out.begin(), out.end(), [this](int x, int y) {
      const double sx = core_.score(x), sy = core_.score(y);
      return sx != sy ? sx > sy : x < y;
    });
    return out;
  }

  void record_history(std::size_t from) {
    iteration_stats s;
    s.iteration = generation_;
    s.evaluations = core_.records().size();
    s.new_subnets = core_.records().size() - from;
    bool any = false;
    double best_score = 0;
    std::uint64_t front = 0;
    for (int i : pop_) {
      if (!core_.record(i).feasible()) continue;
      if (rank_.at(i) == 0) ++front;
      const double sc = core_.score(i);
      if (!any || sc > best_score) {
        best_score = sc;
        s.best = core_.record(i).values[0];
        any = true;
      }
    }
    s.parents_mean = static_cast<double>(front);
    history_.push_back(s);
  }

  void report() const {
    if (!opts_.on_progress()) return;
    search_progress p;
    p.iteration = generation_;
    p.iterations = opts_.generations();
    p.evaluations = core_.records().size();
    p.feasible = core_.feasible_count();
    if (!history_.empty()) p.best_score = history_.back().best;
    p.seconds = core_.seconds();
    opts_.on_progress()(p);
  }

  core_type core_;
  nsga2_options opts_;
  int generation_ = -1;
  std::vector<int> pop_;
  std::map<int, int> rank_;
  std::map<int, double> crowd_;
  std::vector<iteration_stats> history_;
  std::string infeasible_;
};

/// Builds an nsga2 search.
template <class Space, class Objectives, class Constraint>
auto make_nsga2(Objectives&& objectives, Constraint&& constraint, nsga2_options opts = {},
                std::uint64_t seed = 0) {
  return nsga2<Space, std::decay_t<Objectives>, std::decay_t<Constraint>>(
      std::forward<Objectives>(objectives), std::forward<Constraint>(constraint), std::move(opts),
      seed);
}

/// NSGA-II over Space: the Pareto front (ranked, by the first objective) of `objectives` among
/// the subnets satisfying `constraint`.
/// @code
///   auto r = evit::nsga2_search<ev::official_space>(
///       evit::objectives(evit::maximize(accuracy), evit::minimize(latency)),
///       evit::cost::at_most(ev::macs_model<>{}, 600e6), evit::nsga2_options(), 7);
///   for (const evit::evaluated& e : r.ranked) ...   // the front
/// @endcode
template <class Space, class Objectives, class Constraint, class Executor = sequential_executor>
search_result nsga2_search(Objectives&& objectives, Constraint&& constraint,
                           nsga2_options opts = {}, std::uint64_t seed = 0,
                           Executor&& exec = Executor()) {
  auto s = make_nsga2<Space>(std::forward<Objectives>(objectives),
                             std::forward<Constraint>(constraint), std::move(opts), seed);
  return s.run(exec);
}

}  // namespace evit
