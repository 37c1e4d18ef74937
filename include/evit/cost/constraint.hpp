// SPDX-License-Identifier: MIT
// Constraints: a cost model with bounds, for the searches of search/.
//   at_most(f, hi)        f(a) <= hi            (latency <= 10 ms)
//   at_least(f, lo)       f(a) >= lo
//   within(f, lo, hi)     lo <= f(a) <= hi      (ElasticViT's FLOPs window [L, L + 2b])
//   all_of(c0, c1, ...)   every one of them     (latency and memory)
//   unconstrained()       nothing
// A constraint reports each subnet's costs and its violation (0 when satisfied, else the
// distance to the allowed range relative to the bound), which is what constrained domination
// and the repair toward the feasible set use. A constraint on a monotone cost model lets a
// search decide feasibility up front from the space's min and max subnets.
// Next: search/evolutionary.hpp.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <sstream>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "evit/core/error.hpp"
#include "evit/cost/adaptors.hpp"
#include "evit/cost/cost_model.hpp"
#include "evit/simd/namespace.hpp"
#include "evit/space/arch.hpp"
#include "evit/space/descriptor.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace cost {

namespace detail {
inline std::string format_number(double v) {
  std::ostringstream os;
  os.precision(8);
  os << v;
  return os.str();
}
}  // namespace detail

/// One cost model with an allowed range [lo, hi] (either end may be infinite).
template <class F>
class constraint {
 public:
  using model_type = F;
  using space_type = cost_space_t<F>;
  static constexpr std::size_t size = 1;
  static constexpr bool monotone = is_monotone_cost_model_v<F>;
  static constexpr bool sequential = is_sequential_cost_model_v<F>;

  /// @throws evit::invalid_argument when lo > hi or a bound is NaN.
  constraint(F f, double lo, double hi, std::string name = "cost")
      : f_(std::move(f)), lo_(lo), hi_(hi), name_(std::move(name)) {
    check_cost_model<F>();
    if (std::isnan(lo) || std::isnan(hi) || lo > hi)
      throw invalid_argument("constraint on " + name_ + ": bounds [" + detail::format_number(lo) +
                             ", " + detail::format_number(hi) + "] are not an interval");
    const double span = hi - lo;
    if (std::isfinite(span) && span > 0)
      scale_ = span;
    else if (std::isfinite(hi) && hi != 0)
      scale_ = std::fabs(hi);
    else if (std::isfinite(lo) && lo != 0)
      scale_ = std::fabs(lo);
  }

  double lo(std::size_t = 0) const { return lo_; }
  double hi(std::size_t = 0) const { return hi_; }
  const F& model() const { return f_; }
  const std::string& name(std::size_t = 0) const { return name_; }
  /// The cost model's traits (traits_of: as declared, or as an any_cost carries them).
  cost_traits traits_at(std::size_t = 0) const { return traits_of(f_); }
  bool monotone_at(std::size_t = 0) const { return traits_of(f_).monotone; }
  /// Whether the violation is monotone (that of a single cost model is when the model is).
  bool is_monotone() const { return monotone_at(); }

  /// The cost of `a`.
  double cost(const arch& a) const { return static_cast<double>(f_(a)); }
  double cost_at(std::size_t, const arch& a) const { return cost(a); }
  /// All costs of `a` (one here) into out.
  void evaluate(const arch& a, double* out) const { out[0] = cost(a); }

  bool satisfied(double c) const { return c >= lo_ && c <= hi_; }
  /// 0 when satisfied, else the distance to [lo, hi] over the bound's scale (NaN: infinite).
  double violation(double c) const {
    if (std::isnan(c)) return std::numeric_limits<double>::infinity();
    const double d = c < lo_ ? lo_ - c : (c > hi_ ? c - hi_ : 0.0);
    return d / scale_;
  }
  double violation(const double* costs) const { return violation(costs[0]); }

  /// "latency <= 10", "10 <= macs <= 20", ...
  std::string describe(std::size_t = 0) const {
    const bool has_lo = std::isfinite(lo_), has_hi = std::isfinite(hi_);
    if (has_lo && has_hi)
      return detail::format_number(lo_) + " <= " + name_ + " <= " + detail::format_number(hi_);
    if (has_hi) return name_ + " <= " + detail::format_number(hi_);
    if (has_lo) return name_ + " >= " + detail::format_number(lo_);
    return "no constraint";
  }

 private:
  F f_;
  double lo_, hi_;
  std::string name_;
  double scale_ = 1.0;
};

/// f(a) <= hi.
template <class F>
constraint<std::decay_t<F>> at_most(F&& f, double hi, std::string name = "cost") {
  return constraint<std::decay_t<F>>(std::forward<F>(f), -std::numeric_limits<double>::infinity(),
                                     hi, std::move(name));
}
/// f(a) >= lo.
template <class F>
constraint<std::decay_t<F>> at_least(F&& f, double lo, std::string name = "cost") {
  return constraint<std::decay_t<F>>(std::forward<F>(f), lo,
                                     std::numeric_limits<double>::infinity(), std::move(name));
}
/// lo <= f(a) <= hi.
template <class F>
constraint<std::decay_t<F>> within(F&& f, double lo, double hi, std::string name = "cost") {
  return constraint<std::decay_t<F>>(std::forward<F>(f), lo, hi, std::move(name));
}

/// A cost model that is always 0 (monotone), for unconstrained searches.
struct zero_cost {
  static constexpr bool monotone = true;
  double operator()(const arch&) const { return 0.0; }
};

/// No constraint at all.
inline constraint<zero_cost> unconstrained() {
  return constraint<zero_cost>(zero_cost{}, -std::numeric_limits<double>::infinity(),
                               std::numeric_limits<double>::infinity(), "nothing");
}

/// Every one of several constraints; the violation is the sum of theirs.
template <class... C>
class all_of {
 public:
  static_assert(sizeof...(C) > 0, "evit::cost::all_of: give at least one constraint");
  static_assert(cost_spaces_agree_v<C...>,
                "evit::cost::all_of: the constraints' cost models declare different spaces "
                "(space_type); constrain models of one space");
  using space_type = common_cost_space_t<C...>;
  static constexpr std::size_t size = sizeof...(C);
  /// The combined violation is not monotone even when the costs are (a window has a lower end);
  /// searches repair toward it without the monotone shortcut.
  static constexpr bool monotone = false;
  static constexpr bool sequential = (C::sequential || ...);

  explicit all_of(C... c) : c_(std::move(c)...) {
    const space_descriptor* s = nullptr;  // type-erased models of different spaces: an error now
    for (std::size_t i = 0; i < size; ++i)
      s = detail::merge_space(s, traits_at(i).space, "evit::cost::all_of");
  }

  void evaluate(const arch& a, double* out) const {
    evaluate_impl(a, out, std::index_sequence_for<C...>{});
  }
  double violation(const double* costs) const {
    return violation_impl(costs, std::index_sequence_for<C...>{});
  }
  double cost_at(std::size_t i, const arch& a) const {
    double v = 0;
    visit(i, [&](const auto& c) { v = c.cost(a); });
    return v;
  }
  double lo(std::size_t i) const {
    double v = 0;
    visit(i, [&](const auto& c) { v = c.lo(); });
    return v;
  }
  double hi(std::size_t i) const {
    double v = 0;
    visit(i, [&](const auto& c) { v = c.hi(); });
    return v;
  }
  cost_traits traits_at(std::size_t i) const {
    cost_traits v;
    visit(i, [&](const auto& c) { v = c.traits_at(); });
    return v;
  }
  bool monotone_at(std::size_t i) const { return traits_at(i).monotone; }
  /// False: the combined violation is not monotone (see `monotone`).
  bool is_monotone() const { return false; }
  std::string name(std::size_t i) const {
    std::string v;
    visit(i, [&](const auto& c) { v = c.name(); });
    return v;
  }
  std::string describe(std::size_t i) const {
    std::string v;
    visit(i, [&](const auto& c) { v = c.describe(); });
    return v;
  }
  const std::tuple<C...>& parts() const { return c_; }

 private:
  template <std::size_t... I>
  void evaluate_impl(const arch& a, double* out, std::index_sequence<I...>) const {
    ((out[I] = std::get<I>(c_).cost(a)), ...);
  }
  template <std::size_t... I>
  double violation_impl(const double* costs, std::index_sequence<I...>) const {
    double v = 0;
    ((v += std::get<I>(c_).violation(costs[I])), ...);
    return v;
  }
  template <class Fn, std::size_t... I>
  void visit_impl(std::size_t i, Fn& fn, std::index_sequence<I...>) const {
    ((i == I ? fn(std::get<I>(c_)) : void()), ...);
  }
  template <class Fn>
  void visit(std::size_t i, Fn&& fn) const {
    visit_impl(i, fn, std::index_sequence_for<C...>{});
  }
  std::tuple<C...> c_;
};

template <class... C>
all_of(C...) -> all_of<C...>;

namespace detail {
template <class T>
struct is_constraint : std::false_type {};
template <class F>
struct is_constraint<constraint<F>> : std::true_type {};
template <class... C>
struct is_constraint<all_of<C...>> : std::true_type {};
}  // namespace detail

/// True for constraint<F> and all_of<...>.
template <class T>
inline constexpr bool is_constraint_v = detail::is_constraint<std::remove_cv_t<T>>::value;

}  // namespace cost
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
