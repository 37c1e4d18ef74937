// SPDX-License-Identifier: MIT
// Objectives of a search: any cost model (callable as double(const evit::arch&)) with a sense.
//   maximize(f), minimize(f)       one objective
//   objectives(o0, o1, ...)         several (NSGA-II); a plain callable counts as maximize
// evolutionary_search and random_search take one objective (a plain callable is maximised);
// nsga2_search takes several. Objectives are called concurrently on the executor's threads unless
// they declare `static constexpr bool sequential = true` (measured latency does), or are an
// evit::cost::any_cost of such a model: then the search calls them on its own thread, in candidate
// order. An objective declaring a space (space_type) fits only searches over that space.
// An objective whose cost model also has a batch form,
//   std::vector<double> evaluate_batch(const std::vector<evit::arch>&) const
// (is_batch_cost_model_v; the type as declared: an evit::cost::any_cost hides it), is called that
// way instead, once per generation with the generation's new feasible subnets in candidate order,
// on the search's own thread: a backend that spreads the work itself (evit/mpi/) plugs in there.
// Next: search/options.hpp.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "evit/core/error.hpp"
#include "evit/cost/adaptors.hpp"
#include "evit/cost/cost_model.hpp"
#include "evit/space/arch.hpp"

namespace evit {

namespace detail {
template <class F, class = void>
struct has_evaluate_batch : std::false_type {};
template <class F>
struct has_evaluate_batch<F, std::void_t<decltype(std::declval<const F&>().evaluate_batch(
                                 std::declval<const std::vector<arch>&>()))>>
    : std::is_convertible<decltype(std::declval<const F&>().evaluate_batch(
                              std::declval<const std::vector<arch>&>())),
                          std::vector<double>> {};
}  // namespace detail

/// True when F (as a const object) has `evaluate_batch(const std::vector<evit::arch>&)` returning
/// std::vector<double> (one value per subnet, in order). Searches then evaluate a generation's
/// new subnets with one such call; its values must equal F's one-subnet calls.
template <class F>
inline constexpr bool is_batch_cost_model_v = detail::has_evaluate_batch<F>::value;

/// Whether a search should make an objective large or small.
enum class sense { maximize, minimize };

/// One objective: a cost model and its sense.
template <class F>
struct objective {
  F f;
  evit::sense direction = evit::sense::maximize;
  std::string name = "objective";

  static constexpr bool sequential = cost::is_sequential_cost_model_v<F>;
  /// f evaluates whole generations at once (is_batch_cost_model_v).
  static constexpr bool batch = is_batch_cost_model_v<F>;
  using space_type = cost_space_t<F>;
  double operator()(const arch& a) const { return static_cast<double>(f(a)); }
  /// f's values for `subnets`, in order (only when `batch`).
  template <class G = F, std::enable_if_t<is_batch_cost_model_v<G>, int> = 0>
  std::vector<double> evaluate_batch(const std::vector<arch>& subnets) const {
    return f.evaluate_batch(subnets);
  }
  /// f's traits (cost::traits_of).
  cost::cost_traits traits() const { return cost::traits_of(f); }
  /// The value as a score to maximise.
  double score(double value) const { return direction == evit::sense::maximize ? value : -value; }
};

/// Make f(a) as large as possible.
template <class F>
objective<std::decay_t<F>> maximize(F&& f, std::string name = "objective") {
  check_cost_model<std::decay_t<F>>();
  return {std::forward<F>(f), sense::maximize, std::move(name)};
}
/// Make f(a) as small as possible.
template <class F>
objective<std::decay_t<F>> minimize(F&& f, std::string name = "objective") {
  check_cost_model<std::decay_t<F>>();
  return {std::forward<F>(f), sense::minimize, std::move(name)};
}

namespace search {
namespace detail {
template <class T>
struct is_objective : std::false_type {};
template <class F>
struct is_objective<objective<F>> : std::true_type {};

/// A plain callable becomes maximize(f); an objective stays as it is.
template <class T>
auto as_objective(T&& t) {
  if constexpr (is_objective<std::decay_t<T>>::value) {
    return std::decay_t<T>(std::forward<T>(t));
  } else {
    static_assert(is_cost_model_v<std::decay_t<T>>,
                  "evit searches: an objective must be callable as `double(const evit::arch&)` "
                  "on a const object, or evit::maximize(f) / evit::minimize(f)");
    return objective<std::decay_t<T>>{std::forward<T>(t), sense::maximize, "objective"};
  }
}
}  // namespace detail
}  // namespace search

/// Several objectives, in order.
template <class... O>
class objective_set {
 public:
  static_assert(sizeof...(O) > 0, "evit::objectives: give at least one objective");
  static_assert(cost_spaces_agree_v<O...>,
                "evit::objectives: the objectives declare different spaces (space_type); give "
                "objectives of one space");
  static constexpr std::size_t size = sizeof...(O);
  using space_type = common_cost_space_t<O...>;

  explicit objective_set(O... o) : o_(std::move(o)...) {
    std::size_t i = 0;
    std::apply([&](const O&... x) { ((traits_[i++] = cost::traits_of(x)), ...); }, o_);
  }

  /// The traits of objective i (as declared, or as an any_cost carries them).
  const cost::cost_traits& traits_at(std::size_t i) const { return traits_[i]; }
  /// Whether objective i must run on the search's own thread.
  bool sequential(std::size_t i) const { return traits_[i].sequential; }
  /// Whether objective i evaluates whole generations (evaluate_batches), not subnet by subnet.
  static constexpr bool batch(std::size_t i) { return batch_[i]; }
  static constexpr bool any_batch() { return (O::batch || ...); }
  bool any_sequential() const {
    for (std::size_t i = 0; i < size; ++i)
      if (traits_[i].sequential && !batch_[i]) return true;
    return false;
  }
  bool any_parallel() const {
    for (std::size_t i = 0; i < size; ++i)
      if (!traits_[i].sequential && !batch_[i]) return true;
    return false;
  }

  /// Evaluates the per-subnet objectives (not batch ones) whose sequential flag equals `seq` into
  /// out[i].
  void evaluate(const arch& a, double* out, bool seq) const {
    evaluate_impl(a, out, seq, std::index_sequence_for<O...>{});
  }
  /// Evaluates every batch objective i on `subnets` with one call each, storing value j of
  /// objective i with put(i, j, value).
  /// @throws evit::error when an objective returns another number of values than subnets.
  template <class Put>
  void evaluate_batches(const std::vector<arch>& subnets, Put&& put) const {
    evaluate_batches_impl(subnets, put, std::index_sequence_for<O...>{});
  }
  /// The value of objective i as a score to maximise.
  double score(std::size_t i, double value) const {
    double s = 0;
    visit(i, [&](const auto& o) { s = o.score(value); });
    return s;
  }
  evit::sense direction(std::size_t i) const {
    evit::sense d = sense::maximize;
    visit(i, [&](const auto& o) { d = o.direction; });
    return d;
  }
  std::string name(std::size_t i) const {
    std::string n;
    visit(i, [&](const auto& o) { n = o.name; });
    return n;
  }

 private:
  template <std::size_t... I>
  void evaluate_impl(const arch& a, double* out, bool seq, std::index_sequence<I...>) const {
    ((!batch_[I] && traits_[I].sequential == seq ? void(out[I] = std::get<I>(o_)(a)) : void()),
     ...);
  }
  template <std::size_t I, class Put>
  void evaluate_batch_at(const std::vector<arch>& subnets, Put& put) const {
    if constexpr (std::tuple_element_t<I, std::tuple<O...>>::batch) {
      const std::vector<double> v = std::get<I>(o_).evaluate_batch(subnets);
      if (v.size() != subnets.size())
        throw error("search: objective " + std::to_string(I) + "'s evaluate_batch returned " +
                    std::to_string(v.size()) + " values for " + std::to_string(subnets.size()) +
                    " subnets");
      for (std::size_t j = 0; j < v.size(); ++j) put(I, j, v[j]);
    }
  }
  template <class Put, std::size_t... I>
  void evaluate_batches_impl(const std::vector<arch>& subnets, Put& put,
                             std::index_sequence<I...>) const {
    (evaluate_batch_at<I>(subnets, put), ...);
  }
  template <class Fn, std::size_t... I>
  void visit_impl(std::size_t i, Fn& fn, std::index_sequence<I...>) const {
    ((i == I ? fn(std::get<I>(o_)) : void()), ...);
  }
  template <class Fn>
  void visit(std::size_t i, Fn&& fn) const {
    visit_impl(i, fn, std::index_sequence_for<O...>{});
  }
  static constexpr std::array<bool, size> batch_{O::batch...};
  std::tuple<O...> o_;
  std::array<cost::cost_traits, size> traits_;
};

/// objectives(maximize(accuracy), minimize(latency)): the objectives of nsga2_search.
template <class... T>
auto objectives(T&&... t) {
  return objective_set<decltype(search::detail::as_objective(std::forward<T>(t)))...>(
      search::detail::as_objective(std::forward<T>(t))...);
}

}  // namespace evit
