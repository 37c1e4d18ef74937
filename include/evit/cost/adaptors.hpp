// SPDX-License-Identifier: MIT
// Cost model adaptors: every one is itself a cost model (callable as double(const evit::arch&)).
//   any_cost(f)               any cost model behind one type, keeping its traits (monotone,
//                             sequential, space) as run-time values; what std::function drops
//   cached(f)                 remembers f per subnet (thread-safe; collisions of the 64-bit hash
//                             are told apart by comparing the subnets)
//   weighted_sum({w...}, f...) / sum(f...)   w0 * f0(a) + w1 * f1(a) + ...
//   fallback(f, g)            f(a), or g(a) when f throws evit::error or returns NaN
//   traits_of(f)              f's traits as values: what its type declares, or what an any_cost
//                             (and an adaptor around one) carries; samplers and searches ask this
// Monotone models stay monotone where the result is (cached, sums with weights >= 0); a declared
// space stays declared (models of two different spaces in one sum do not compile).
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
#include "evit/space/descriptor.hpp"

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

/// A cost model's traits as run-time values (traits_of).
struct cost_traits {
  bool monotone = false;    ///< a larger choice in any dimension never lowers the cost
  bool sequential = false;  ///< must not run concurrently with other work (measured latency)
  const space_descriptor* space = nullptr;  ///< the space it prices subnets of; nullptr: any
};

namespace detail {
template <class F, class = void>
struct has_traits : std::false_type {};
template <class F>
struct has_traits<F, std::void_t<decltype(std::declval<const F&>().traits())>>
    : std::is_same<decltype(std::declval<const F&>().traits()), cost_traits> {};

/// The space of two traits (nullptr: any); @throws evit::invalid_argument when both declare one
/// and they differ (only type-erased models can get here: declared types are checked at
/// compile time).
inline const space_descriptor* merge_space(const space_descriptor* a, const space_descriptor* b,
                                           const char* who) {
  if (a != nullptr && b != nullptr && a != b)
    throw invalid_argument(std::string(who) + ": its cost models are of different spaces (\"" +
                           a->name + "\" and \"" + b->name + "\")");
  return a != nullptr ? a : b;
}
}  // namespace detail

/// The traits of f: f.traits() where f carries them at run time (any_cost, and the adaptors and
/// constraints around a model), else what F declares (monotone, sequential, space_type).
template <class F>
cost_traits traits_of(const F& f) {
  if constexpr (detail::has_traits<F>::value) {
    return f.traits();
  } else {
    (void)f;
    cost_traits t;
    t.monotone = is_monotone_cost_model_v<F>;
    t.sequential = is_sequential_cost_model_v<F>;
    if constexpr (!std::is_void_v<cost_space_t<F>>) t.space = &cost_space_t<F>::descriptor();
    return t;
  }
}

/// Checks a cost model given to a search or sampler over Space: at compile time its declared
/// space (check_cost_space), at run time the space a type-erased model carries.
/// @throws evit::invalid_argument naming both spaces when an any_cost's model is of another space.
template <class Space, class F>
void check_space_of(const F& f, const char* who) {
  check_cost_space<Space, F>();
  const space_descriptor* s = traits_of(f).space;
  if (s != nullptr && s != &Space::descriptor())
    throw invalid_argument(std::string(who) + " over space \"" + Space::descriptor().name +
                           "\": a cost model is of another space (\"" + s->name + "\")");
}

/// Any cost model behind one type, for choosing models at run time (a phone table or a measured
/// latency, per device): unlike std::function<double(const arch&)> it keeps what the model
/// declares (monotone, sequential, space_type) as run-time values, which samplers and searches read
/// through traits_of: a monotone model keeps its feasibility pre-check and one-direction moves, a
/// sequential one still runs on the search's own thread, a model of another space is refused.
/// Copies share the model (like cached); call it concurrently only if the model allows that.
/// @code
///   evit::cost::any_cost lat = phone ? evit::cost::any_cost(evit::cost::mobile_latency("pixel6"))
///                                    : evit::cost::any_cost(evit::elasticvit::macs_model<>{});
///   bool m = lat.traits().monotone;   // what the chosen model declares
/// @endcode
class any_cost {
 public:
  /// Empty: calling it throws evit::invalid_argument.
  any_cost() = default;

  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, any_cost>>>
  any_cost(F&& f)  // NOLINT(google-explicit-constructor): converts like std::function
      : traits_(traits_of(f)), f_(std::make_shared<holder<std::decay_t<F>>>(std::forward<F>(f))) {
    check_cost_model<std::decay_t<F>>();
  }

  double operator()(const arch& a) const {
    if (!f_) throw invalid_argument("evit::cost::any_cost: called empty");
    return f_->call(a);
  }
  /// What the model declares.
  cost_traits traits() const { return traits_; }
  explicit operator bool() const { return f_ != nullptr; }

 private:
  struct base {
    virtual ~base() = default;
    virtual double call(const arch& a) const = 0;
  };
  template <class F>
  struct holder final : base {
    explicit holder(F fn) : f(std::move(fn)) {}
    double call(const arch& a) const override { return static_cast<double>(f(a)); }
    F f;
  };
  cost_traits traits_;
  std::shared_ptr<const base> f_;
};

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
  using space_type = cost_space_t<F>;

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
  /// f's traits (an any_cost's as it carries them).
  cost_traits traits() const { return traits_of(s_->f); }

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
  static_assert(cost_spaces_agree_v<F...>,
                "evit::cost::weighted_sum: the cost models declare different spaces (space_type); "
                "sum models of one space");
  static constexpr bool monotone = (is_monotone_cost_model_v<F> && ...);
  static constexpr bool sequential = (is_sequential_cost_model_v<F> || ...);
  using space_type = common_cost_space_t<F...>;

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
    (void)traits();  // type-erased models of different spaces: an error now, not at the search
  }

  double operator()(const arch& a) const { return apply(a, std::index_sequence_for<F...>{}); }
  const std::array<double, sizeof...(F)>& weights() const { return w_; }
  /// Monotone when every model is (as declared or carried) and no weight is negative.
  cost_traits traits() const {
    cost_traits t;
    t.monotone = true;
    std::apply(
        [&](const F&... f) {
          std::size_t i = 0;
          ((merge(t, traits_of(f), w_[i++])), ...);
        },
        f_);
    return t;
  }

 private:
  static void merge(cost_traits& t, const cost_traits& u, double w) {
    t.monotone = t.monotone && u.monotone && w >= 0;
    t.sequential = t.sequential || u.sequential;
    t.space = detail::merge_space(t.space, u.space, "evit::cost::weighted_sum");
  }
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
  static_assert(cost_spaces_agree_v<Primary, Secondary>,
                "evit::cost::fallback: the two cost models declare different spaces (space_type)");
  static constexpr bool monotone = false;
  static constexpr bool sequential =
      is_sequential_cost_model_v<Primary> || is_sequential_cost_model_v<Secondary>;
  using space_type = common_cost_space_t<Primary, Secondary>;

  fallback(Primary p, Secondary s)
      : p_(std::move(p)), s_(std::move(s)), n_(std::make_shared<std::atomic<std::uint64_t>>(0)) {
    check_cost_model<Primary>();
    check_cost_model<Secondary>();
    (void)traits();  // type-erased models of different spaces: an error now
  }
  /// Never monotone (the two sources differ); sequential if either is; their common space.
  cost_traits traits() const {
    const cost_traits p = traits_of(p_), s = traits_of(s_);
    cost_traits t;
    t.sequential = p.sequential || s.sequential;
    t.space = detail::merge_space(p.space, s.space, "evit::cost::fallback");
    return t;
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
