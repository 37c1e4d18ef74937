// SPDX-License-Identifier: MIT
// search_space<Elements...>: a search space as a type. Its elements are one resolution<...>, one
// or more stages (input_conv, conv_stage, transformer_stage: space/stage.hpp), optionally
// rules<...> and model constants (space/rules.hpp) and a space_name<Tag>. An invalid space does
// not compile; the static_assert message names the rule. Subnets are run-time `evit::arch`
// values that the space validates, counts, formats and samples.
#pragma once

#include <array>
#include <cstddef>
#include <type_traits>
#include <vector>

#include "evit/core/big_uint.hpp"
#include "evit/space/arch.hpp"
#include "evit/space/descriptor.hpp"
#include "evit/space/dimension.hpp"
#include "evit/space/enumerate.hpp"
#include "evit/space/rules.hpp"
#include "evit/space/sample.hpp"
#include "evit/space/stage.hpp"
#include "evit/space/validate.hpp"

namespace evit {

namespace opt {
struct space_name {};
}  // namespace opt

/// The space's display name; Tag has `static constexpr const char* name`.
template <class Tag>
struct space_name {
  using tag = opt::space_name;
  static constexpr const char* value = Tag::name;
};

namespace detail {

template <class T>
struct is_stage : std::false_type {};
template <class... O>
struct is_stage<input_conv<O...>> : std::true_type {};
template <class... O>
struct is_stage<conv_stage<O...>> : std::true_type {};
template <class... O>
struct is_stage<transformer_stage<O...>> : std::true_type {};
// Stage kinds defined elsewhere (e.g. ElasticViT's first_conv alias) are these same templates.
template <class T>
inline constexpr bool is_stage_v = is_stage<T>::value;

template <class T>
inline constexpr bool is_rules_v = tag_is<T, opt::rules>::value;
template <class T>
inline constexpr bool is_constant_v = tag_is<T, opt::constant>::value;
template <class T>
inline constexpr bool is_resolution_v = tag_is<T, dim::resolution>::value;
template <class T>
inline constexpr bool is_space_name_v = tag_is<T, opt::space_name>::value;

template <class T>
inline constexpr bool is_space_element_v =
    is_stage_v<T> || is_rules_v<T> || is_constant_v<T> || is_resolution_v<T> || is_space_name_v<T>;

template <class Rule>
struct rule_traits {
  static constexpr bool known = false;
};
template <>
struct rule_traits<non_decreasing_width> {
  static constexpr bool known = true;
};
template <>
struct rule_traits<blockwise> {
  static constexpr bool known = true;
};
template <>
struct rule_traits<layerwise> {
  static constexpr bool known = true;
};
template <int A, int B>
struct rule_traits<same_width<A, B>> {
  static constexpr bool known = true;
};

template <class Rule>
struct is_same_width : std::false_type {};
template <int A, int B>
struct is_same_width<same_width<A, B>> : std::true_type {};

template <class Rules>
struct rules_info;
template <class... R>
struct rules_info<rules<R...>> {
  static constexpr bool all_known = (rule_traits<R>::known && ...);
  static constexpr bool non_decreasing = (std::is_same_v<R, non_decreasing_width> || ...);
  static constexpr bool has_blockwise = (std::is_same_v<R, blockwise> || ...);
  static constexpr bool has_layerwise = (std::is_same_v<R, layerwise> || ...);
  template <class Rule>
  static void add_tie(std::vector<std::pair<int, int>>& out) {
    if constexpr (is_same_width<Rule>::value) out.emplace_back(Rule::first, Rule::second);
  }
  static std::vector<std::pair<int, int>> ties() {
    std::vector<std::pair<int, int>> out;
    (add_tie<R>(out), ...);
    return out;
  }
  template <class Rule>
  static constexpr int tie_second() {
    if constexpr (is_same_width<Rule>::value) {
      return Rule::second;
    } else {
      return -1;
    }
  }
  /// Largest stage index named by a same_width rule (-1 if none).
  static constexpr int max_tied_stage() {
    int m = -1;
    ((m = tie_second<R>() > m ? tie_second<R>() : m), ...);
    return m;
  }
  template <class Rule>
  static constexpr bool ties_stage(int s) {
    if constexpr (is_same_width<Rule>::value) {
      return Rule::second == s;
    } else {
      return false;
    }
  }
  static constexpr bool tied(int s) {
    (void)s;  // unused when there are no rules
    return (false || ... || ties_stage<R>(s));
  }
};

/// Filters a pack by a predicate into a std::tuple-like type list.
template <class... T>
struct type_list {
  static constexpr std::size_t size = sizeof...(T);
};
template <template <class> class Pred, class... T>
struct filter;
template <template <class> class Pred>
struct filter<Pred> {
  using type = type_list<>;
};
template <template <class> class Pred, class H, class... T>
struct filter<Pred, H, T...> {
  template <class L>
  struct prepend;
  template <class... X>
  struct prepend<type_list<X...>> {
    using type = type_list<H, X...>;
  };
  using rest = typename filter<Pred, T...>::type;
  using type = std::conditional_t<Pred<H>::value, typename prepend<rest>::type, rest>;
};

/// Compile-time feasibility of the width rules: can every stage get a width? Widths of all
/// stages are laid out in one array (flat), feasible[i] says whether choice i can end a valid
/// prefix.
template <class Info, class... Stages>
constexpr bool width_rules_feasible() {
  constexpr std::size_t total = (Stages::width_set::values.size() + ... + 0);
  std::array<int, total + 1> vals{};
  std::array<std::size_t, sizeof...(Stages) + 1> off{};
  std::size_t pos = 0, s = 0;
  auto append = [&](const auto& values) {
    off[s] = pos;
    for (std::size_t i = 0; i < values.size(); ++i) vals[pos++] = values[i];
    ++s;
  };
  (append(Stages::width_set::values), ...);
  off[s] = pos;
  std::array<bool, total + 1> feasible{};
  for (std::size_t i = off[0]; i < off[1]; ++i) feasible[i] = true;
  for (std::size_t t = 1; t < sizeof...(Stages); ++t) {
    bool any = false;
    for (std::size_t j = off[t]; j < off[t + 1]; ++j) {
      for (std::size_t i = off[t - 1]; i < off[t]; ++i) {
        if (!feasible[i]) continue;
        if (Info::tied(static_cast<int>(t)) && vals[j] != vals[i]) continue;
        if (Info::non_decreasing && vals[j] < vals[i]) continue;
        feasible[j] = true;
      }
      any = any || feasible[j];
    }
    if (!any) return false;
  }
  return true;
}

template <class T>
using is_stage_t = is_stage<T>;
template <class T>
struct is_rules_t : std::bool_constant<is_rules_v<T>> {};
template <class T>
struct is_constant_t : std::bool_constant<is_constant_v<T>> {};

template <class Name, class E>
constexpr int constant_of() {
  if constexpr (is_constant_v<E>) {
    return std::is_same_v<typename E::name, Name> ? E::value : 0;
  } else {
    return 0;
  }
}
template <class Name, class... E>
constexpr int constant_value() {
  return (0 + ... + constant_of<Name, E>());
}

struct default_space_name {
  static constexpr const char* name = "space";
};

template <class Stage>
stage_descriptor describe_stage(int index, int& conv_count) {
  stage_descriptor st;
  st.kind = Stage::kind;
  auto to_vec = [](const auto& arr) {
    using T = std::decay_t<decltype(arr[0])>;
    return std::vector<T>(arr.begin(), arr.end());
  };
  auto to_ivec = [](const auto& arr) { return std::vector<int>(arr.begin(), arr.end()); };
  st.width = to_ivec(Stage::width_set::values);
  st.depth = to_ivec(Stage::depth_set::values);
  st.expand_ratio = to_ivec(Stage::expansion_set::values);
  st.kernel_size = to_ivec(Stage::kernel_set::values);
  if constexpr (Stage::mlp_ratio_set::values.size() > 0) {
    st.mlp_ratio = to_vec(Stage::mlp_ratio_set::values);
  }
  st.num_heads = to_ivec(Stage::num_heads_set::values);
  st.qk_scale = to_ivec(Stage::qk_scale_set::values);
  st.v_scale = to_ivec(Stage::v_scale_set::values);
  st.stride = Stage::stride;
  st.squeeze_excite = Stage::squeeze_excite;
  st.heads = Stage::heads;
  st.head_dim = Stage::heads == head_semantics::fixed_qkv_width ? 0 : Stage::head_dim;
  st.qkv_width = Stage::qkv_width;
  st.max_width = Stage::max_width;
  st.max_depth = Stage::max_depth;
  st.max_heads = Stage::max_heads;
  if (Stage::name != nullptr) {
    st.name = Stage::name;
  } else {
    st.name = std::string(Stage::kind == stage_kind::transformer ? "T" : "C") +
              std::to_string(conv_count);
    ++conv_count;
  }
  (void)index;
  return st;
}

template <class List>
struct stage_list_describer;
template <class... S>
struct stage_list_describer<type_list<S...>> {
  static std::vector<stage_descriptor> describe() {
    std::vector<stage_descriptor> out;
    int unnamed = 0;
    int i = 0;
    (out.push_back(describe_stage<S>(i++, unnamed)), ...);
    return out;
  }
  static constexpr int max_layers = (0 + ... + S::max_depth);
  template <class Info>
  static constexpr bool feasible() {
    return width_rules_feasible<Info, S...>();
  }
};

}  // namespace detail

/// A search space as a type.
/// @tparam Elements  resolution<...>; stages (input_conv, conv_stage, transformer_stage);
///                   optionally rules<...>, model constants and space_name<Tag>.
/// @code
///   using tiny = evit::search_space<
///       evit::resolution<224>,
///       evit::transformer_stage<evit::width<192, 216, 240>, evit::depth<12, 13, 14>,
///                               evit::num_heads<3, 4>, evit::head_dim<64>,
///                               evit::mlp_ratio_q<std::ratio<7, 2>, std::ratio<4>>>,
///       evit::rules<evit::layerwise>>;
///   evit::arch a = tiny::min_arch();
///   tiny::validate(a);
/// @endcode
template <class... Elements>
struct search_space {
  static_assert(sizeof...(Elements) > 0,
                "evit::search_space<Elements...>: an empty space; give a resolution<...> and at "
                "least one stage");
  static_assert((detail::is_space_element_v<Elements> && ...),
                "evit::search_space<Elements...>: every element must be a resolution<...>, a stage "
                "(input_conv, conv_stage, transformer_stage), rules<...>, a model constant or "
                "space_name<...> (see evit/space/search_space.hpp)");
  static_assert((0 + ... + static_cast<int>(detail::is_resolution_v<Elements>)) == 1,
                "evit::search_space<Elements...>: exactly one resolution<...> is required");
  static_assert((0 + ... + static_cast<int>(detail::is_rules_v<Elements>)) <= 1,
                "evit::search_space<Elements...>: give all rules in one rules<...>");

  using stages = typename detail::filter<detail::is_stage_t, Elements...>::type;
  using resolution_set = detail::find_tag_t<dim::resolution, evit::resolution<1>, Elements...>;
  using rules_type = detail::find_tag_t<opt::rules, evit::rules<>, Elements...>;
  using rules_info = detail::rules_info<rules_type>;
  using describer = detail::stage_list_describer<stages>;

  static constexpr int num_stages = static_cast<int>(stages::size);

  static_assert(num_stages > 0,
                "evit::search_space<Elements...>: a space needs at least one stage");
  static_assert(num_stages <= arch::max_stages,
                "evit::search_space<Elements...>: more stages than evit::arch holds (raise "
                "EVIT_ARCH_MAX_STAGES)");
  static_assert(describer::max_layers <= arch::max_layers,
                "evit::search_space<Elements...>: the largest subnet has more layers than "
                "evit::arch holds (raise EVIT_ARCH_MAX_LAYERS)");
  static_assert(rules_info::all_known,
                "evit::search_space<Elements...>: unknown rule in rules<...>; allowed: "
                "non_decreasing_width, same_width<A, B>, blockwise, layerwise");
  static_assert(!(rules_info::has_blockwise && rules_info::has_layerwise),
                "evit::search_space<Elements...>: a space is either blockwise or layerwise");
  static_assert(rules_info::max_tied_stage() < num_stages,
                "evit::search_space<Elements...>: same_width<A, B> names a stage that does not "
                "exist");
  static_assert(describer::template feasible<rules_info>(),
                "evit::search_space<Elements...>: the width rules (non_decreasing_width, "
                "same_width) leave no valid combination of stage widths");

  /// The run-time description (built once).
  static const space_descriptor& descriptor() {
    static const space_descriptor d = [] {
      space_descriptor r;
      r.name = detail::find_tag_t<opt::space_name, space_name<detail::default_space_name>,
                                  Elements...>::value;
      r.resolution.assign(resolution_set::values.begin(), resolution_set::values.end());
      r.stages = describer::describe();
      r.non_decreasing_width = rules_info::non_decreasing;
      r.same_width = rules_info::ties();
      r.blockwise = !rules_info::has_layerwise;
      r.constants.num_classes = detail::constant_value<constant::num_classes, Elements...>();
      r.constants.head_hidden = detail::constant_value<constant::head_hidden, Elements...>();
      r.constants.head_expand = detail::constant_value<constant::head_expand, Elements...>();
      r.constants.patch_size = detail::constant_value<constant::patch_size, Elements...>();
      return r;
    }();
    return d;
  }
  /// The width-chain table that sampling and min/max use (built once).
  static const width_chains& chains() {
    static const width_chains c(descriptor());
    return c;
  }

  /// Throws evit::invalid_arch naming the first broken rule.
  static void validate(const arch& a) { evit::validate(descriptor(), a); }
  static bool is_valid(const arch& a) { return evit::is_valid(descriptor(), a); }

  static arch min_arch() { return evit::min_arch(descriptor(), chains()); }
  static arch max_arch() { return evit::max_arch(descriptor(), chains()); }
  /// The exact number of subnets.
  static big_uint cardinality() { return evit::cardinality(descriptor()); }

  /// Every dimension uniform (the official sampler's distribution), rules respected.
  template <class Engine>
  static arch sample(Engine& g) {
    return sample_per_dimension(descriptor(), chains(), g);
  }
  /// Every subnet equally likely.
  template <class Engine>
  static arch sample_uniform(Engine& g) {
    return sample_uniform_subnet(descriptor(), chains(), g);
  }
};

/// True for search_space<...> types.
template <class T>
struct is_search_space : std::false_type {};
template <class... E>
struct is_search_space<search_space<E...>> : std::true_type {};
template <class T>
inline constexpr bool is_search_space_v = is_search_space<T>::value;

}  // namespace evit
