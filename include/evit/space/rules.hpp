// SPDX-License-Identifier: MIT
// Cross-stage rules and model constants of a search space.
//
// Available rules (inside rules<...>)
//   non_decreasing_width   each stage's width >= the previous stage's width (ElasticViT).
//   same_width<A, B>       stages A and B = A + 1 share one width (ElasticViT: stem = first conv).
//   blockwise              all layers of a stage share their per-layer choices (ElasticViT's
//                          official setting; the default).
//   layerwise              every layer chooses on its own (AutoFormer).
// Model constants (fixed numbers the model and the cost counts need, not searched):
//   num_classes<N>, head_hidden<N> (width of the head's hidden layer), head_expand<N> (the
//   ElasticViT head's per-token expansion, 6), patch_size<P> (a ViT's patch embedding).
// Next: space/search_space.hpp.
#pragma once

namespace evit {

namespace opt {
struct rules {};
struct constant {};
}  // namespace opt

/// Each stage's width is at least the previous stage's width.
struct non_decreasing_width {};
/// Stages A and B (B == A + 1) have the same width.
template <int A, int B>
struct same_width {
  static_assert(A >= 0 && B == A + 1,
                "evit::same_width<A, B>: B must be the stage right after A (B == A + 1)");
  static constexpr int first = A;
  static constexpr int second = B;
};
/// All layers of a stage share their per-layer choices.
struct blockwise {};
/// Every layer has its own per-layer choices.
struct layerwise {};

/// The list of cross-stage rules of a space.
template <class... Rules>
struct rules {
  using tag = opt::rules;
};

/// A named model constant.
template <class Name, int V>
struct model_constant {
  using tag = opt::constant;
  using name = Name;
  static constexpr int value = V;
  static_assert(V > 0, "evit model constants (num_classes, head_hidden, ...) must be positive");
};
namespace constant {
struct num_classes {};
struct head_hidden {};
struct head_expand {};
struct patch_size {};
}  // namespace constant
template <int N>
using num_classes = model_constant<constant::num_classes, N>;
template <int N>
using head_hidden = model_constant<constant::head_hidden, N>;
template <int N>
using head_expand = model_constant<constant::head_expand, N>;
template <int N>
using patch_size = model_constant<constant::patch_size, N>;

}  // namespace evit
