// SPDX-License-Identifier: MIT
// Internal header: include a sampler header (e.g. <evit/sample/uniform.hpp>) instead.
// Compile-time gates shared by the samplers: a readable message instead of a page of errors.
#pragma once

#include <cstdint>
#include <type_traits>
#include <utility>

#include "evit/cost/cost_model.hpp"
#include "evit/space/arch.hpp"
#include "evit/space/search_space.hpp"

namespace evit {
namespace sample {
namespace detail {

template <class E, class = void>
struct is_engine64 : std::false_type {};
template <class E>
struct is_engine64<E, std::void_t<typename E::result_type, decltype(std::declval<E&>()())>>
    : std::bool_constant<std::is_same_v<typename E::result_type, std::uint64_t> && E::min() == 0 &&
                         E::max() == ~std::uint64_t{0}> {};

/// Engine: a UniformRandomBitGenerator of full 64-bit words (evit::rng, std::mt19937_64, ...),
/// constructible from a 64-bit seed.
template <class Engine>
constexpr void check_engine() {
  static_assert(is_engine64<Engine>::value,
                "evit samplers: Engine must produce uniform 64-bit words (result_type "
                "std::uint64_t, min() == 0, max() == 2^64 - 1), e.g. evit::rng or "
                "std::mt19937_64 (see evit/core/rng.hpp)");
}

template <class Space>
constexpr void check_space() {
  static_assert(is_search_space_v<Space>,
                "evit samplers: Space must be an evit::search_space<...> type, e.g. "
                "evit::elasticvit::official_space (see evit/space/search_space.hpp)");
}

template <class F, class = void>
struct is_score_fn : std::false_type {};
template <class F>
struct is_score_fn<F, std::void_t<decltype(std::declval<F&>()(std::declval<const arch&>()))>>
    : std::bool_constant<
          std::is_convertible_v<decltype(std::declval<F&>()(std::declval<const arch&>())),
                                double> &&
          !std::is_void_v<decltype(std::declval<F&>()(std::declval<const arch&>()))>> {};

/// Score: callable as double(const evit::arch&) (e.g. minus the subnet's loss on a batch).
template <class F>
constexpr void check_score_fn() {
  static_assert(is_score_fn<F>::value,
                "evit samplers: a score function must be callable as `double(const evit::arch&)`, "
                "e.g. [&](const evit::arch& a) { return -loss_of(a); }");
}

}  // namespace detail
}  // namespace sample
}  // namespace evit

/// Class-scope checks of a sampler's Space and Engine (so that a wrong argument stops at a
/// message, before any member is instantiated).
#define EVIT_DETAIL_SAMPLER_CHECKS(Space, Engine)                                       \
  static_assert(::evit::is_search_space_v<Space>,                                       \
                "evit samplers: Space must be an evit::search_space<...> type, e.g. "   \
                "evit::elasticvit::official_space (see evit/space/search_space.hpp)");  \
  static_assert(::evit::sample::detail::is_engine64<Engine>::value,                     \
                "evit samplers: Engine must produce uniform 64-bit words (result_type " \
                "std::uint64_t, min() == 0, max() == 2^64 - 1), e.g. evit::rng or "     \
                "std::mt19937_64 (see evit/core/rng.hpp)")

/// Class-scope check of a sampler's cost model (the message of evit::check_cost_model).
#define EVIT_DETAIL_COST_CHECK(Cost)                                                       \
  static_assert(::evit::is_cost_model_v<Cost>,                                             \
                "evit samplers: Cost must be a cost model, callable as `double(const "     \
                "evit::arch&)` on a const object, e.g. evit::elasticvit::macs_model<> or " \
                "[](const evit::arch& a) { return evit::elasticvit::macs(a); } (see "      \
                "evit/cost/cost_model.hpp)")
