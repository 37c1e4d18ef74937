// SPDX-License-Identifier: MIT
// Choice-set policies: the values one dimension of a search space may take.
//
// Available policies
//   choices<Tag, V...>           explicit integer values, sorted ascending, unique.
//   choice_range<Tag, Min, Max, Step>
//                                Min, Min+Step, ..., Max. Use for long arithmetic sets
//                                ({80..160 step 16}); Max must be reachable from Min.
//   rational_choices<Tag, R...>  exact rationals given as std::ratio (AutoFormer's mlp ratio 3.5
//                                is std::ratio<7, 2>); sorted ascending, unique.
// Named shorthands (what a space is written with) follow: width<...>, width_range<...>,
// depth<...>, depth_range<Min, Max>, expansion<...>, kernel<...>, mlp_ratio<...> (integers),
// mlp_ratio_q<std::ratio...> (rationals), num_heads<...>, qk_scale<...>, v_scale<...>,
// resolution<...>.
// When to use: every elastic dimension of a stage takes one of these; fixed per-stage settings
// (stride, squeeze-excite, head semantics, supernet maxima) are in space/stage.hpp.
// Next: space/stage.hpp.
#pragma once

#include <array>
#include <cstddef>
#include <ratio>

#include "evit/core/rational.hpp"

namespace evit {

/// Tags naming the dimensions (the names of the official list format,
/// docs/elasticvit.md#the-official-list-format).
namespace dim {
struct resolution {
  static constexpr const char* name = "resolution";
};
struct width {
  static constexpr const char* name = "width";
};
struct depth {
  static constexpr const char* name = "depth";
};
struct expand_ratio {
  static constexpr const char* name = "expand_ratio";
};
struct kernel_size {
  static constexpr const char* name = "kernel_size";
};
struct mlp_ratio {
  static constexpr const char* name = "mlp_ratio";
};
struct num_heads {
  static constexpr const char* name = "num_heads";
};
struct qk_scale {
  static constexpr const char* name = "qk_scale";
};
struct v_scale {
  static constexpr const char* name = "v_scale";
};
}  // namespace dim

namespace detail {
template <class T, std::size_t N>
constexpr bool strictly_increasing(const std::array<T, N>& a) {
  for (std::size_t i = 1; i < N; ++i)
    if (!(a[i - 1] < a[i])) return false;
  return true;
}
template <class T, std::size_t N>
constexpr bool all_positive(const std::array<T, N>& a) {
  for (std::size_t i = 0; i < N; ++i)
    if (!(T(0) < a[i])) return false;
  return true;
}
constexpr std::size_t range_size(int lo, int hi, int step) {
  return (step > 0 && lo <= hi) ? static_cast<std::size_t>((hi - lo) / step + 1) : 1;
}
template <std::size_t N>
constexpr std::array<int, N> make_range(int lo, int step) {
  std::array<int, N> a{};
  for (std::size_t i = 0; i < N; ++i) a[i] = lo + static_cast<int>(i) * step;
  return a;
}
}  // namespace detail

/// Explicit integer choices of dimension Tag.
template <class Tag, int... V>
struct choices {
  using tag = Tag;
  using value_type = int;
  static constexpr std::array<int, sizeof...(V)> values{V...};
  static_assert(sizeof...(V) > 0,
                "evit::choices<Tag, V...>: empty choice set; a dimension needs at least one value "
                "(see evit/space/dimension.hpp)");
  static_assert(detail::strictly_increasing(values),
                "evit::choices<Tag, V...>: choices must be sorted ascending without duplicates "
                "(see evit/space/dimension.hpp)");
  static_assert(
      detail::all_positive(values),
      "evit::choices<Tag, V...>: choices must be positive (see evit/space/dimension.hpp)");
};

/// The integers Min, Min+Step, ..., Max of dimension Tag.
template <class Tag, int Min, int Max, int Step = 1>
struct choice_range {
  using tag = Tag;
  using value_type = int;
  static_assert(Step > 0, "evit::choice_range<Tag, Min, Max, Step>: Step must be positive");
  static_assert(Min <= Max,
                "evit::choice_range<Tag, Min, Max, Step>: Min must not exceed Max (for a depth: "
                "min depth above max depth)");
  static_assert(Step <= 0 || (Max - Min) % Step == 0,
                "evit::choice_range<Tag, Min, Max, Step>: Max - Min must be a multiple of Step");
  static_assert(Min > 0, "evit::choice_range<Tag, Min, Max, Step>: values must be positive");
  static constexpr std::array<int, detail::range_size(Min, Max, Step)> values =
      detail::make_range<detail::range_size(Min, Max, Step)>(Min, Step);
};

/// Exact rational choices of dimension Tag, each given as std::ratio<Num, Den>.
template <class Tag, class... R>
struct rational_choices {
  using tag = Tag;
  using value_type = rational;
  static constexpr std::array<rational, sizeof...(R)> values{rational(R::num, R::den)...};
  static_assert(sizeof...(R) > 0,
                "evit::rational_choices<Tag, R...>: empty choice set; a dimension needs at least "
                "one value");
  static_assert(detail::strictly_increasing(values),
                "evit::rational_choices<Tag, R...>: choices must be sorted ascending without "
                "duplicates");
  static_assert(detail::all_positive(values),
                "evit::rational_choices<Tag, R...>: choices must be positive");
};

// Named shorthands.
template <int... V>
using resolution = choices<dim::resolution, V...>;
template <int... V>
using width = choices<dim::width, V...>;
template <int Min, int Max, int Step>
using width_range = choice_range<dim::width, Min, Max, Step>;
template <int... V>
using depth = choices<dim::depth, V...>;
template <int Min, int Max>
using depth_range = choice_range<dim::depth, Min, Max, 1>;
template <int... V>
using expansion = choices<dim::expand_ratio, V...>;
template <int... V>
using kernel = choices<dim::kernel_size, V...>;
template <int... V>
using mlp_ratio = rational_choices<dim::mlp_ratio, std::ratio<V>...>;
template <class... R>
using mlp_ratio_q = rational_choices<dim::mlp_ratio, R...>;
template <int... V>
using num_heads = choices<dim::num_heads, V...>;
template <int... V>
using qk_scale = choices<dim::qk_scale, V...>;
template <int... V>
using v_scale = choices<dim::v_scale, V...>;

}  // namespace evit
