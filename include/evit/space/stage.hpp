// SPDX-License-Identifier: MIT
// Stage kinds and their fixed settings: what a stage of a search space is, and what may vary in it.
//
// clang-format off
// Available stage kinds
//   input_conv<Options...>         a plain k x k convolution on the image (ElasticViT's first
//                                  conv): width (required), kernel (default 3), stride (default 2).
//   conv_stage<Options...>         a stage of MBConv layers: width, depth, kernel (required),
//                                  expansion (default 1: no expanding 1x1 conv), stride (of the
//                                  first layer, default 1), squeeze_excite (default off).
//   transformer_stage<Options...>  a stage of attention + MLP layers: width, depth, mlp_ratio
//                                  (required), v_scale and qk_scale (default 1), stride (default 1)
//                                  and exactly one head semantics:
//     head_dim<D>                    heads = width / D                            (ElasticViT)
//     head_dim<D> + num_heads<...>   heads chosen, q/k/v width = heads * D        (AutoFormer)
//     qkv_width<W> + num_heads<...>  heads chosen, head dim = W / heads           (HAT)
// Every kind also takes max_width<W>, max_depth<D>, max_heads<H> (the supernet's sizes, which may
// exceed the largest searched choice; default: the largest choice) and stage_name<Tag> (a type
// with `static constexpr const char* name`; default "C<i>" or "T<i>").
// clang-format on
// Next: space/rules.hpp, then space/search_space.hpp.
#pragma once

#include <array>
#include <type_traits>

#include "evit/space/dimension.hpp"

namespace evit {

/// The kinds of stages a space can be made of.
enum class stage_kind { input_conv, conv, transformer };

/// How a transformer stage's number of heads relates to its width.
enum class head_semantics {
  none,              ///< not a transformer stage
  width_over_dim,    ///< fixed head dim: num_heads = width / head_dim (ElasticViT)
  chosen_fixed_dim,  ///< num_heads chosen; each head has head_dim (AutoFormer)
  fixed_qkv_width,   ///< num_heads chosen; the q/k/v width is fixed, head dim = qkv_width / heads
                     ///< (HAT)
};

namespace opt {
struct stride {};
struct squeeze_excite {};
struct head_dim {};
struct qkv_width {};
struct max_width {};
struct max_depth {};
struct max_heads {};
struct stage_name {};
}  // namespace opt

/// Stride of the stage's first layer (1 or 2).
template <int S>
struct stride {
  using tag = opt::stride;
  static constexpr int value = S;
  static_assert(S == 1 || S == 2, "evit::stride<S>: a stage's stride must be 1 or 2");
};
/// Whether the stage's MBConv layers have squeeze-excite.
template <bool On>
struct squeeze_excite {
  using tag = opt::squeeze_excite;
  static constexpr bool value = On;
};
/// Fixed per-head dimension of q and k (and the unit of v_scale).
template <int D>
struct head_dim {
  using tag = opt::head_dim;
  static constexpr int value = D;
  static_assert(D > 0, "evit::head_dim<D>: the head dimension must be positive");
};
/// Fixed width of q, k and v (HAT): the head dim is qkv_width / num_heads.
template <int W>
struct qkv_width {
  using tag = opt::qkv_width;
  static constexpr int value = W;
  static_assert(W > 0, "evit::qkv_width<W>: the qkv width must be positive");
};
/// The supernet's width when larger than the largest searched width.
template <int W>
struct max_width {
  using tag = opt::max_width;
  static constexpr int value = W;
};
/// The supernet's depth when larger than the largest searched depth.
template <int D>
struct max_depth {
  using tag = opt::max_depth;
  static constexpr int value = D;
};
/// The supernet's number of heads when larger than the largest searched one.
template <int H>
struct max_heads {
  using tag = opt::max_heads;
  static constexpr int value = H;
};
/// A stage's display name; Tag has `static constexpr const char* name`.
template <class Tag>
struct stage_name {
  using tag = opt::stage_name;
  static constexpr const char* value = Tag::name;
};

namespace detail {

template <class T, class = void>
struct has_tag : std::false_type {};
template <class T>
struct has_tag<T, std::void_t<typename T::tag>> : std::true_type {};

template <class T, class Tag, bool = has_tag<T>::value>
struct tag_is : std::false_type {};
template <class T, class Tag>
struct tag_is<T, Tag, true> : std::is_same<typename T::tag, Tag> {};

/// How many of Opts carry Tag.
template <class Tag, class... Opts>
inline constexpr int count_tag_v = (0 + ... + static_cast<int>(tag_is<Opts, Tag>::value));

/// The option of Opts that carries Tag, or Default.
template <class Tag, class Default, class... Opts>
struct find_tag {
  using type = Default;
};
template <class Tag, class Default, class O, class... Rest>
struct find_tag<Tag, Default, O, Rest...> {
  using type =
      std::conditional_t<tag_is<O, Tag>::value, O, typename find_tag<Tag, Default, Rest...>::type>;
};
template <class Tag, class Default, class... Opts>
using find_tag_t = typename find_tag<Tag, Default, Opts...>::type;

/// Placeholder for an absent option.
struct absent {
  using tag = void;
  static constexpr int value = 0;
};
/// An absent choice set (a dimension the stage kind does not have).
struct no_choices {
  using tag = void;
  using value_type = int;
  static constexpr std::array<int, 0> values{};
};
struct no_name {
  using tag = opt::stage_name;
  static constexpr const char* value = nullptr;
};

/// True when Opt's tag is one of Allowed.
template <class Opt, class... Allowed>
inline constexpr bool tag_allowed_v = (false || ... || tag_is<Opt, Allowed>::value);

template <class Set>
constexpr int max_value() {
  if constexpr (Set::values.size() == 0) {
    return 0;
  } else {
    return static_cast<int>(Set::values[Set::values.size() - 1]);
  }
}

/// Everything a stage kind exposes, computed from its options; the kinds below add their checks.
template <stage_kind Kind, class... Options>
struct stage_base {
  static constexpr stage_kind kind = Kind;
  using width_set = find_tag_t<dim::width, no_choices, Options...>;
  using depth_set = find_tag_t<dim::depth, evit::depth<1>, Options...>;
  using expansion_set =
      std::conditional_t<Kind == stage_kind::conv,
                         find_tag_t<dim::expand_ratio, evit::expansion<1>, Options...>, no_choices>;
  using kernel_set = std::conditional_t<Kind == stage_kind::transformer, no_choices,
                                        find_tag_t<dim::kernel_size, evit::kernel<3>, Options...>>;
  using mlp_ratio_set = find_tag_t<dim::mlp_ratio, no_choices, Options...>;
  using num_heads_set = find_tag_t<dim::num_heads, no_choices, Options...>;
  using qk_scale_set =
      std::conditional_t<Kind == stage_kind::transformer,
                         find_tag_t<dim::qk_scale, evit::qk_scale<1>, Options...>, no_choices>;
  using v_scale_set =
      std::conditional_t<Kind == stage_kind::transformer,
                         find_tag_t<dim::v_scale, evit::v_scale<1>, Options...>, no_choices>;

  static constexpr int stride = find_tag_t<
      opt::stride,
      std::conditional_t<Kind == stage_kind::input_conv, evit::stride<2>, evit::stride<1>>,
      Options...>::value;
  static constexpr bool squeeze_excite =
      find_tag_t<opt::squeeze_excite, evit::squeeze_excite<false>, Options...>::value;
  static constexpr int head_dim = find_tag_t<opt::head_dim, absent, Options...>::value;
  static constexpr int qkv_width = find_tag_t<opt::qkv_width, absent, Options...>::value;
  static constexpr head_semantics heads = Kind != stage_kind::transformer ? head_semantics::none
                                          : qkv_width > 0 ? head_semantics::fixed_qkv_width
                                          : count_tag_v<dim::num_heads, Options...> > 0
                                              ? head_semantics::chosen_fixed_dim
                                              : head_semantics::width_over_dim;

  static constexpr int max_width =
      find_tag_t<opt::max_width, evit::max_width<max_value<width_set>()>, Options...>::value;
  static constexpr int max_depth =
      find_tag_t<opt::max_depth, evit::max_depth<max_value<depth_set>()>, Options...>::value;
  static constexpr int max_heads =
      find_tag_t<opt::max_heads,
                 evit::max_heads<heads == head_semantics::width_over_dim
                                     ? (head_dim > 0 ? max_width / head_dim : 0)
                                     : max_value<num_heads_set>()>,
                 Options...>::value;
  static constexpr const char* name = find_tag_t<opt::stage_name, no_name, Options...>::value;
};

template <class Set, int D>
constexpr bool all_multiples_of() {
  for (std::size_t i = 0; i < Set::values.size(); ++i)
    if (D <= 0 || Set::values[i] % D != 0) return false;
  return true;
}
template <class Set, int W>
constexpr bool all_divide() {
  for (std::size_t i = 0; i < Set::values.size(); ++i)
    if (W % Set::values[i] != 0) return false;
  return true;
}
template <class Set>
constexpr bool all_odd() {
  for (std::size_t i = 0; i < Set::values.size(); ++i)
    if (Set::values[i] % 2 == 0) return false;
  return true;
}

}  // namespace detail

// The checks every kind shares, written once as a macro so that each message names its kind.
#define EVIT_DETAIL_STAGE_COMMON_CHECKS(KIND)                                                \
  static_assert((detail::has_tag<Options>::value && ...),                                    \
                "evit::" KIND                                                                \
                "<Options...>: every option must be an evit option such as width<>, "        \
                "depth<>, kernel<>, stride<> (see evit/space/stage.hpp)");                   \
  static_assert(((detail::count_tag_v<typename Options::tag, Options...> == 1) && ...),      \
                "evit::" KIND "<Options...>: an option is given twice");                     \
  static_assert(detail::count_tag_v<dim::width, Options...> == 1,                            \
                "evit::" KIND "<Options...>: a width<...> or width_range<...> is required"); \
  static_assert(base::max_width >= detail::max_value<typename base::width_set>(),            \
                "evit::" KIND "<Options...>: max_width is below the largest width choice");  \
  static_assert(base::max_depth >= detail::max_value<typename base::depth_set>(),            \
                "evit::" KIND "<Options...>: max_depth is below the largest depth choice")

/// A plain k x k convolution on the input image (ElasticViT's first conv), depth 1.
template <class... Options>
struct input_conv : detail::stage_base<stage_kind::input_conv, Options...> {
  using base = detail::stage_base<stage_kind::input_conv, Options...>;
  EVIT_DETAIL_STAGE_COMMON_CHECKS("input_conv");
  static_assert((detail::tag_allowed_v<Options, dim::width, dim::kernel_size, opt::stride,
                                       opt::max_width, opt::stage_name> &&
                 ...),
                "evit::input_conv<Options...>: option not valid for an input_conv; allowed: "
                "width, kernel, stride, max_width, stage_name");
  static_assert(detail::all_odd<typename base::kernel_set>(),
                "evit::input_conv<Options...>: kernel sizes must be odd (padding k/2)");
};

/// A stage of MBConv layers (1x1 expand, k x k depthwise, optional squeeze-excite, 1x1 project).
template <class... Options>
struct conv_stage : detail::stage_base<stage_kind::conv, Options...> {
  using base = detail::stage_base<stage_kind::conv, Options...>;
  EVIT_DETAIL_STAGE_COMMON_CHECKS("conv_stage");
  static_assert((detail::tag_allowed_v<Options, dim::width, dim::depth, dim::expand_ratio,
                                       dim::kernel_size, opt::stride, opt::squeeze_excite,
                                       opt::max_width, opt::max_depth, opt::stage_name> &&
                 ...),
                "evit::conv_stage<Options...>: option not valid for a conv_stage; allowed: width, "
                "depth, expansion, kernel, stride, squeeze_excite, max_width, max_depth, "
                "stage_name");
  static_assert(detail::count_tag_v<dim::depth, Options...> == 1,
                "evit::conv_stage<Options...>: a depth<...> or depth_range<...> is required");
  static_assert(detail::count_tag_v<dim::kernel_size, Options...> == 1,
                "evit::conv_stage<Options...>: a kernel<...> is required");
  static_assert(detail::all_odd<typename base::kernel_set>(),
                "evit::conv_stage<Options...>: kernel sizes must be odd (padding k/2)");
};

/// A stage of transformer layers (pre-norm attention and MLP, each with a residual).
template <class... Options>
struct transformer_stage : detail::stage_base<stage_kind::transformer, Options...> {
  using base = detail::stage_base<stage_kind::transformer, Options...>;
  EVIT_DETAIL_STAGE_COMMON_CHECKS("transformer_stage");
  static_assert((detail::tag_allowed_v<Options, dim::width, dim::depth, dim::mlp_ratio,
                                       dim::num_heads, dim::qk_scale, dim::v_scale, opt::stride,
                                       opt::head_dim, opt::qkv_width, opt::max_width,
                                       opt::max_depth, opt::max_heads, opt::stage_name> &&
                 ...),
                "evit::transformer_stage<Options...>: option not valid for a transformer_stage; "
                "allowed: width, depth, mlp_ratio, num_heads, qk_scale, v_scale, stride, head_dim, "
                "qkv_width, max_width, max_depth, max_heads, stage_name");
  static_assert(
      detail::count_tag_v<dim::depth, Options...> == 1,
      "evit::transformer_stage<Options...>: a depth<...> or depth_range<...> is required");
  static_assert(detail::count_tag_v<dim::mlp_ratio, Options...> == 1,
                "evit::transformer_stage<Options...>: an mlp_ratio<...> is required");
  static_assert(detail::count_tag_v<opt::head_dim, Options...> +
                        detail::count_tag_v<opt::qkv_width, Options...> ==
                    1,
                "evit::transformer_stage<Options...>: give exactly one head semantics: head_dim<D> "
                "(optionally with num_heads<...>) or qkv_width<W> with num_heads<...>");
  static_assert(base::heads != head_semantics::width_over_dim ||
                    detail::all_multiples_of<typename base::width_set, base::head_dim>(),
                "evit::transformer_stage<Options...>: every width must be a multiple of the head "
                "dim (num_heads = width / head_dim)");
  static_assert(
      base::heads != head_semantics::width_over_dim ||
          (base::head_dim > 0 && base::max_width % base::head_dim == 0),
      "evit::transformer_stage<Options...>: max_width must be a multiple of the head dim");
  static_assert(base::heads != head_semantics::fixed_qkv_width ||
                    detail::count_tag_v<dim::num_heads, Options...> == 1,
                "evit::transformer_stage<Options...>: qkv_width<W> needs num_heads<...>");
  static_assert(base::heads != head_semantics::fixed_qkv_width ||
                    detail::all_divide<typename base::num_heads_set, base::qkv_width>(),
                "evit::transformer_stage<Options...>: qkv_width must be divisible by every "
                "num_heads choice (head dim = qkv_width / num_heads)");
  static_assert(base::max_heads >= detail::max_value<typename base::num_heads_set>(),
                "evit::transformer_stage<Options...>: max_heads is below the largest num_heads "
                "choice");
};

#undef EVIT_DETAIL_STAGE_COMMON_CHECKS

}  // namespace evit
