// SPDX-License-Identifier: MIT
// The instantiations behind search_engine.hpp: every space of space_list, with 1 to
// max_objectives objectives (NSGA-II) and 0 to max_constraints constraints. No constraint is a
// constraint on a zero cost with infinite bounds (evit::cost::unconstrained's shape, as an
// any_cost), so that it shares the one-constraint instantiation.
#include "search_engine.hpp"

#include <limits>
#include <utility>

#include <evit/core/error.hpp>
#include <evit/cost/constraint.hpp>
#include <evit/search/evolutionary.hpp>
#include <evit/search/nsga2.hpp>
#include <evit/search/random.hpp>

namespace evit_py {

namespace {

using any_objective = evit::objective<evit::cost::any_cost>;
using one_constraint = evit::cost::constraint<evit::cost::any_cost>;

one_constraint to_constraint(const engine_constraint& c) {
  return one_constraint(c.model, c.lo, c.hi, c.name);
}

any_objective to_objective(const engine_objective& o) {
  return any_objective{o.model, o.direction, o.name};
}

/// Calls f(constraint) with the C++ constraint type of cs.size() constraints.
template <class F>
auto with_constraint(const std::vector<engine_constraint>& cs, F&& f) {
  switch (cs.size()) {
    case 0:
      return f(one_constraint(evit::cost::any_cost(evit::cost::zero_cost{}),
                              -std::numeric_limits<double>::infinity(),
                              std::numeric_limits<double>::infinity(), "nothing"));
    case 1:
      return f(to_constraint(cs[0]));
    case 2:
      return f(evit::cost::all_of<one_constraint, one_constraint>(to_constraint(cs[0]),
                                                                  to_constraint(cs[1])));
    case 3:
      return f(evit::cost::all_of<one_constraint, one_constraint, one_constraint>(
          to_constraint(cs[0]), to_constraint(cs[1]), to_constraint(cs[2])));
    default:
      throw evit::invalid_argument("constraints: " + std::to_string(cs.size()) +
                                   " given, at most " + std::to_string(max_constraints) +
                                   " allowed");
  }
}

template <class Constraint>
std::vector<std::string> describe(const Constraint& c, bool unconstrained) {
  std::vector<std::string> out;
  if (unconstrained) return out;
  if constexpr (Constraint::size == 1) {
    out.push_back(c.describe());
  } else {
    for (std::size_t i = 0; i < Constraint::size; ++i) out.push_back(c.describe(i));
  }
  return out;
}

template <class Search>
class engine final : public search_engine {
 public:
  engine(Search s, std::vector<std::string> descriptions)
      : s_(std::move(s)), descriptions_(std::move(descriptions)) {}

  bool step(evit::executor_ref exec) override { return s_.step(exec); }
  bool done() const override { return s_.done(); }
  int iteration() const override {
    if constexpr (is_evolution)
      return s_.iteration();
    else
      return s_.generation();
  }
  int iterations() const override {
    if constexpr (is_evolution)
      return s_.options().iterations();
    else
      return s_.options().generations();
  }
  evit::search_result result() const override { return s_.result(); }
  const std::vector<evit::evaluated>& records() const override { return s_.records(); }
  nlohmann::json state() const override { return s_.state(); }
  void restore(const nlohmann::json& j) override { s_.restore(j); }
  std::vector<std::string> constraint_descriptions() const override { return descriptions_; }
  nlohmann::json options() const override { return s_.options().to_json(); }

 private:
  static constexpr bool is_evolution =
      std::is_same_v<std::decay_t<decltype(std::declval<const Search&>().options())>,
                     evit::evolution_options>;
  Search s_;
  std::vector<std::string> descriptions_;
};

}  // namespace

std::unique_ptr<search_engine> make_evolution_engine(space_handle s, const engine_objective& o,
                                                     const std::vector<engine_constraint>& c,
                                                     evit::evolution_options opts,
                                                     std::uint64_t seed) {
  return visit_space(s, [&](auto e) {
    using space = typename decltype(e)::space;
    return with_constraint(c, [&](auto con) -> std::unique_ptr<search_engine> {
      using C = decltype(con);
      auto d = describe(con, c.empty());
      using S = evit::evolution<space, any_objective, C>;
      return std::make_unique<engine<S>>(S(to_objective(o), std::move(con), std::move(opts), seed),
                                         std::move(d));
    });
  });
}

std::unique_ptr<search_engine> make_nsga2_engine(space_handle s,
                                                 const std::vector<engine_objective>& o,
                                                 const std::vector<engine_constraint>& c,
                                                 evit::nsga2_options opts, std::uint64_t seed) {
  return visit_space(s, [&](auto e) {
    using space = typename decltype(e)::space;
    return with_constraint(c, [&](auto con) -> std::unique_ptr<search_engine> {
      using C = decltype(con);
      auto d = describe(con, c.empty());
      auto build = [&](auto objectives) -> std::unique_ptr<search_engine> {
        using S = evit::nsga2<space, decltype(objectives), C>;
        return std::make_unique<engine<S>>(
            S(std::move(objectives), std::move(con), std::move(opts), seed), std::move(d));
      };
      switch (o.size()) {
        case 1:
          return build(evit::objective_set<any_objective>(to_objective(o[0])));
        case 2:
          return build(evit::objective_set<any_objective, any_objective>(to_objective(o[0]),
                                                                         to_objective(o[1])));
        case 3:
          return build(evit::objective_set<any_objective, any_objective, any_objective>(
              to_objective(o[0]), to_objective(o[1]), to_objective(o[2])));
        default:
          throw evit::invalid_argument("objectives: " + std::to_string(o.size()) + " given, 1 to " +
                                       std::to_string(max_objectives) + " allowed");
      }
    });
  });
}

evit::search_result run_random_search(space_handle s, const engine_objective& o,
                                      const std::vector<engine_constraint>& c,
                                      evit::random_options opts, std::uint64_t seed,
                                      evit::executor_ref exec,
                                      std::vector<std::string>& descriptions) {
  return visit_space(s, [&](auto e) {
    using space = typename decltype(e)::space;
    return with_constraint(c, [&](auto con) {
      descriptions = describe(con, c.empty());
      return evit::random_search<space>(to_objective(o), std::move(con), opts, seed, exec);
    });
  });
}

}  // namespace evit_py
