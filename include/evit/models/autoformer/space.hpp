// SPDX-License-Identifier: MIT
// AutoFormer's search spaces (supernet-T/S/B): a plain ViT with one embedding width for all layers,
// an elastic depth, and per layer the number of heads (head dim fixed at 64, so the q/k/v width is
// heads * 64) and the mlp ratio. They show that evit's policies are not ElasticViT-specific: the
// supernet's maxima exceed the searched choices (T: width 256 vs 240), choices are per layer, and
// mlp ratios are fractions (3.5).
// Next: models/autoformer/cost.hpp.
#pragma once

#include <ratio>

#include "evit/simd/namespace.hpp"
#include "evit/space/search_space.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace autoformer {

namespace names {
struct tiny {
  static constexpr const char* name = "autoformer-t";
};
struct small {
  static constexpr const char* name = "autoformer-s";
};
struct base {
  static constexpr const char* name = "autoformer-b";
};
struct tiny_released {
  static constexpr const char* name = "autoformer-t-released";
};
struct blocks {
  static constexpr const char* name = "blocks";
};
}  // namespace names

using half = std::ratio<1, 2>;

/// AutoFormer-T: embed {192, 216, 240}, depth {12, 13, 14}, heads {3, 4}, mlp {3.5, 4};
/// supernet: embed 256, heads 4, depth 14.
using tiny_space = search_space<
    space_name<names::tiny>, resolution<224>,
    transformer_stage<width<192, 216, 240>, depth<12, 13, 14>, num_heads<3, 4>, head_dim<64>,
                      mlp_ratio_q<std::ratio<7, 2>, std::ratio<4>>, max_width<256>, max_heads<4>,
                      max_depth<14>, stage_name<names::blocks>>,
    rules<layerwise>, num_classes<1000>, patch_size<16>>;

/// AutoFormer-T's supernet with `Classes` classes (the reference goldens of tests/data/autoformer-t
/// use 10): the same backbone tensors, a smaller head.
template <int Classes>
using tiny_space_with_classes = search_space<
    space_name<names::tiny>, resolution<224>,
    transformer_stage<width<192, 216, 240>, depth<12, 13, 14>, num_heads<3, 4>, head_dim<64>,
                      mlp_ratio_q<std::ratio<7, 2>, std::ratio<4>>, max_width<256>, max_heads<4>,
                      max_depth<14>, stage_name<names::blocks>>,
    rules<layerwise>, num_classes<Classes>, patch_size<16>>;

/// The released AutoFormer-T subnet (experiments/subnet/AutoFormer-T.yaml) uses MLP ratio 3.0 in
/// three layers, outside the T search space's {3.5, 4}: it was searched in a space with 3.0 (as S
/// and B have) and fine-tuned from the T supernet's weights. This space is the T supernet (same
/// tensors, so a T checkpoint loads into it) with MLP ratios {3, 3.5, 4}: it admits the released
/// subnet and every subnet of tiny_space. Searches that should stay in the official T space use
/// tiny_space.
using tiny_released_space = search_space<
    space_name<names::tiny_released>, resolution<224>,
    transformer_stage<width<192, 216, 240>, depth<12, 13, 14>, num_heads<3, 4>, head_dim<64>,
                      mlp_ratio_q<std::ratio<3>, std::ratio<7, 2>, std::ratio<4>>, max_width<256>,
                      max_heads<4>, max_depth<14>, stage_name<names::blocks>>,
    rules<layerwise>, num_classes<1000>, patch_size<16>>;

/// AutoFormer-S: embed {320, 384, 448}, depth {12, 13, 14}, heads {5, 6, 7}, mlp {3, 3.5, 4};
/// supernet: embed 448, heads 7, depth 14.
using small_space = search_space<
    space_name<names::small>, resolution<224>,
    transformer_stage<width<320, 384, 448>, depth<12, 13, 14>, num_heads<5, 6, 7>, head_dim<64>,
                      mlp_ratio_q<std::ratio<3>, std::ratio<7, 2>, std::ratio<4>>, max_width<448>,
                      max_heads<7>, max_depth<14>, stage_name<names::blocks>>,
    rules<layerwise>, num_classes<1000>, patch_size<16>>;

/// AutoFormer-B: embed {528, 576, 624}, depth {14, 15, 16}, heads {9, 10}, mlp {3, 3.5, 4};
/// supernet: embed 640, heads 10, depth 16.
using base_space = search_space<
    space_name<names::base>, resolution<224>,
    transformer_stage<width<528, 576, 624>, depth<14, 15, 16>, num_heads<9, 10>, head_dim<64>,
                      mlp_ratio_q<std::ratio<3>, std::ratio<7, 2>, std::ratio<4>>, max_width<640>,
                      max_heads<10>, max_depth<16>, stage_name<names::blocks>>,
    rules<layerwise>, num_classes<1000>, patch_size<16>>;

}  // namespace autoformer
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
