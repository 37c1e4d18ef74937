// SPDX-License-Identifier: MIT
// What a cost model is: anything callable as double(const evit::arch&) — a lambda, a function, an
// object such as elasticvit::macs_model. A cost model may declare
//   static constexpr bool monotone = true   a larger choice in any dimension never lowers its
//                                           value; samplers and searches then check feasibility
//                                           from the min and max subnets up front;
//   using space_type = S;                   it prices subnets of space S only: a search or sampler
//                                           over another space does not compile
//                                           (check_cost_space; models without one fit any space).
// Next: the adaptors of cost/ (caching, sums, type erasure keeping these traits, bounds).
#pragma once

#include <type_traits>
#include <utility>

#include "evit/space/arch.hpp"

namespace evit {

namespace detail {
template <class F, class = void>
struct cost_result {
  using type = void;
  static constexpr bool callable = false;
};
template <class F>
struct cost_result<F,
                   std::void_t<decltype(std::declval<const F&>()(std::declval<const arch&>()))>> {
  using type = decltype(std::declval<const F&>()(std::declval<const arch&>()));
  static constexpr bool callable = true;
};

template <class F, class = void>
struct declared_monotone : std::false_type {};
template <class F>
struct declared_monotone<F, std::void_t<decltype(F::monotone)>>
    : std::bool_constant<static_cast<bool>(F::monotone)> {};

template <class F, class = void>
struct declared_space {
  using type = void;
};
template <class F>
struct declared_space<F, std::void_t<typename F::space_type>> {
  using type = typename F::space_type;
};

/// The one space of several (each void: none declared): `ok` is false when two differ.
template <class... S>
struct merge_spaces {
  using type = void;
  static constexpr bool ok = true;
};
template <class S0, class... S>
struct merge_spaces<S0, S...> {
  using rest = merge_spaces<S...>;
  using type = std::conditional_t<std::is_void_v<S0>, typename rest::type, S0>;
  static constexpr bool ok =
      rest::ok && (std::is_void_v<S0> || std::is_void_v<typename rest::type> ||
                   std::is_same_v<S0, typename rest::type>);
};
}  // namespace detail

/// True when F (as a const object) is callable with a `const evit::arch&` and returns a value
/// convertible to double.
template <class F>
inline constexpr bool is_cost_model_v =
    detail::cost_result<F>::callable&&
        std::is_convertible_v<typename detail::cost_result<F>::type, double> &&
    !std::is_void_v<typename detail::cost_result<F>::type>;

/// True when F declares `static constexpr bool monotone = true`.
template <class F>
inline constexpr bool is_monotone_cost_model_v = detail::declared_monotone<F>::value;

/// The space F declares (`using space_type = S;`), or void when it declares none (or void).
template <class F>
using cost_space_t = typename detail::declared_space<F>::type;

/// The space that the models F... declare together: void when none declares one, the declared one
/// when those that declare one agree (cost_spaces_agree_v, else it is the first declared).
template <class... F>
using common_cost_space_t = typename detail::merge_spaces<cost_space_t<F>...>::type;
/// False when two of F... declare different spaces.
template <class... F>
inline constexpr bool cost_spaces_agree_v = detail::merge_spaces<cost_space_t<F>...>::ok;

/// True when F fits a search or sampler over Space: F declares no space, or Space itself.
template <class Space, class F>
inline constexpr bool cost_space_matches_v =
    std::is_void_v<cost_space_t<F>> || std::is_same_v<cost_space_t<F>, Space>;

/// Compile-time gate for template entry points taking a cost model: a readable message instead of
/// a page of overload failures.
template <class F>
constexpr void check_cost_model() {
  static_assert(detail::cost_result<F>::callable,
                "evit: a cost model must be callable as `double(const evit::arch&)` on a const "
                "object; write e.g. [](const evit::arch& a) { return evit::elasticvit::macs(a); }");
  static_assert(!detail::cost_result<F>::callable ||
                    (!std::is_void_v<typename detail::cost_result<F>::type> &&
                     std::is_convertible_v<typename detail::cost_result<F>::type, double>),
                "evit: a cost model must return a value convertible to double (it returns void or "
                "another type); return the cost, e.g. `return ms;`");
}

/// Compile-time gate of the searches and samplers over Space: a cost model declaring another space
/// (e.g. elasticvit::macs_model<>, of the official space, in a search over mini_space) stops the
/// build here instead of failing on the first subnet at run time.
template <class Space, class F>
constexpr void check_cost_space() {
  static_assert(cost_space_matches_v<Space, F>,
                "evit: the cost model's space_type is not the Space of the search or sampler it "
                "is given to; give it that space, e.g. evit::elasticvit::macs_model<Space> (see "
                "evit/cost/cost_model.hpp)");
}

/// Wraps any callable into a named cost model, optionally declared monotone (its space, if it
/// declares one, stays declared).
template <class F, bool Monotone = false>
class cost_model {
 public:
  static constexpr bool monotone = Monotone;
  using space_type = cost_space_t<F>;
  explicit cost_model(F f) : f_(std::move(f)) { check_cost_model<F>(); }
  double operator()(const arch& a) const { return static_cast<double>(f_(a)); }

 private:
  F f_;
};

/// make_cost_model(f): a cost model from a callable; make_cost_model<true>(f) declares it monotone.
template <bool Monotone = false, class F>
cost_model<std::decay_t<F>, Monotone> make_cost_model(F&& f) {
  return cost_model<std::decay_t<F>, Monotone>(std::forward<F>(f));
}

}  // namespace evit
