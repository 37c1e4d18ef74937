// SPDX-License-Identifier: MIT
// What a cost model is: anything callable as double(const evit::arch&) — a lambda, a function, an
// object such as elasticvit::macs_model. A cost model may declare `static constexpr bool monotone
// = true` when a larger choice in any dimension never lowers its value; samplers and searches
// then check feasibility from the min and max subnets up front.
// Next: the adaptors of cost/ (caching, sums, bounds) build on this.
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

/// Wraps any callable into a named cost model, optionally declared monotone.
template <class F, bool Monotone = false>
class cost_model {
 public:
  static constexpr bool monotone = Monotone;
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
