// SPDX-License-Identifier: MIT
// Cost model adaptors: every one is itself a cost model (callable as double(const evit::arch&)).
//   cached(f)                 remembers f per subnet (thread-safe; collisions of the 64-bit hash
//                             are told apart by comparing the subnets)
//   weighted_sum({w...}, f...) / sum(f...)   w0 * f0(a) + w1 * f1(a) + ...
//   fallback(f, g)            f(a), or g(a) when f throws evit::error or returns NaN
// Monotone models stay monotone where the result is (cached, sums with weights >= 0).
// Next: cost/constraint.hpp (bounds and windows), cost/latency_table.hpp (phone tables).
#pragma once

#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "evit/core/error.hpp"
#include "evit/cost/cost_model.hpp"
#include "evit/simd/namespace.hpp"
#include "evit/space/arch.hpp"
#include "evit/space/arch_map.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace cost {

namespace detail {
template <class F, class = void>
struct declared_sequential : std::false_type {};
template <class F>
struct declared_sequential<F, std::void_t<decltype(F::sequential)>>
    : std::bool_constant<static_cast<bool>(F::sequential)> {};
}  // namespace detail

/// True when F declares `static constexpr bool sequential = true`: its calls must not run
/// concurrently with other work (a measured latency: parallel work would disturb the timing).
/// Searches then evaluate it on the calling thread, in candidate order.
template <class F>
inline constexpr bool is_sequential_cost_model_v = detail::declared_sequential<F>::value;

/// Remembers a cost model's value per subnet. Copies share one cache (so a copy given to a
/// search fills the cache the caller reads). Thread-safe: concurrent calls for different subnets
/// run f concurrently; f itself must then be safe to call concurrently (or sequential).
/// @code
///   auto lat = evit::cost::cached(my_slow_latency);
///   double ms = lat(a);        // computed
///   ms = lat(a);               // remembered; lat.hits() == 1
/// @endcode
template <class F>
class cached {
 public:
  static constexpr bool monotone = is_monotone_cost_model_v<F>;
  static constexpr bool sequential = is_sequential_cost_model_v<F>;

  explicit cached(F f) : s_(std::make_shared<state>(std::move(f))) { check_cost_model<F>(); }

  double operator()(const arch& a) const {
    const std::uint64_t h = a.hash();
    {
      std::lock_guard<std::mutex> lock(s_->m);
      if (const double* v = s_->values.find(a, h)) {
        ++s_->hits;
        return *v;
      }
    }
    const double v = static_cast<double>(s_->f(a));
    std::lock_guard<std::mutex> lock(s_->m);
    ++s_->misses;
    s_->values.insert(a, h, v);
    return v;
  }

  /// Number of subnets remembered.
  std::size_t size() const {
    std::lock_guard<std::mutex> lock(s_->m);
    return s_->values.size();
  }
  std::uint64_t hits() const { return s_->hits.load(); }
  std::uint64_t misses() const { return s_->misses.load(); }
  void clear() {
    std::lock_guard<std::mutex> lock(s_->m);
    s_->values.clear();
  }
  const F& model() const { return s_->f; }

 private:
  struct state {
    explicit state(F fn) : f(std::move(fn)) {}
    F f;
    mutable std::mutex m;
    arch_map<double> values;
    std::atomic<std::uint64_t> hits{0}, misses{0};
  };
  std::shared_ptr<state> s_;
};

template <class F>
cached(F) -> cached<F>;

/// w0 * f0(a) + w1 * f1(a) + ... . Monotone when every fi is (the weights must then be >= 0).
template <class... F>
class weighted_sum {
 public:
  static_assert(sizeof...(F) > 0, "evit::cost::weighted_sum: give at least one cost model");
  static constexpr bool monotone = (is_monotone_cost_model_v<F> && ...);
  static constexpr bool sequential = (is_sequential_cost_model_v<F> || ...);

  /// @throws evit::invalid_argument for a non-finite weight, or a negative one when every model
  ///         is monotone (the sum would not be; wrap a model in make_cost_model to drop its claim).
  weighted_sum(const std::array<double, sizeof...(F)>& weights, F... f)
      : w_(weights), f_(std::move(f)...) {
    (check_cost_model<F>(), ...);
    for (std::size_t i = 0; i < w_.size(); ++i) {
      if (!std::isfinite(w_[i]))
        throw invalid_argument("cost::weighted_sum: weight " + std::to_string(i) +
                               " is not finite");
      if (monotone && w_[i] < 0)
        throw invalid_argument("cost::weighted_sum: weight " + std::to_string(i) + " = " +
                               std::to_string(w_[i]) +
                               " < 0 with monotone models: the sum would not be monotone");
    }
  }

  double operator()(const arch& a) const { return apply(a, std::index_sequence_for<F...>{}); }
  const std::array<double, sizeof...(F)>& weights() const { return w_; }

 private:
  template <std::size_t... I>
  double apply(const arch& a, std::index_sequence<I...>) const {
    double total = 0;
    ((total += w_[I] * static_cast<double>(std::get<I>(f_)(a))), ...);
    return total;
  }
  std::array<double, sizeof...(F)> w_;
  std::tuple<F...> f_;
};

/// The plain sum f0(a) + f1(a) + ... .
template <class... F>
weighted_sum<std::decay_t<F>...> sum(F&&... f) {
  std::array<double, sizeof...(F)> w;
  w.fill(1.0);
  return weighted_sum<std::decay_t<F>...>(w, std::forward<F>(f)...);
}

/// primary(a); when it throws evit::error (e.g. a lookup table without the subnet's block) or
/// returns NaN, secondary(a). Counts the fallbacks (shared by copies). Not monotone: the two
/// sources differ.
template <class Primary, class Secondary>
class fallback {
 public:
  static constexpr bool monotone = false;
  static constexpr bool sequential =
      is_sequential_cost_model_v<Primary> || is_sequential_cost_model_v<Secondary>;

  fallback(Primary p, Secondary s)
      : p_(std::move(p)), s_(std::move(s)), n_(std::make_shared<std::atomic<std::uint64_t>>(0)) {
    check_cost_model<Primary>();
    check_cost_model<Secondary>();
  }

  double operator()(const arch& a) const {
    try {
      const double v = static_cast<double>(p_(a));
      if (!std::isnan(v)) return v;
    } catch (const evit::error&) {
    }
    ++*n_;
    return static_cast<double>(s_(a));
  }
  /// How many calls used the secondary model.
  std::uint64_t fallbacks() const { return n_->load(); }

 private:
  Primary p_;
  Secondary s_;
  std::shared_ptr<std::atomic<std::uint64_t>> n_;
};

template <class P, class S>
fallback(P, S) -> fallback<P, S>;

}  // namespace cost
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
