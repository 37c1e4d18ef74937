// SPDX-License-Identifier: MIT
// ElasticViT's search spaces: the official one (docs/elasticvit.md#search-space, exact) and the
// mini space of the test data (tests/data), plus the building blocks to write your own
// ElasticViT-family space.
// Next: models/elasticvit/macs.hpp (the cost counts), models/elasticvit/official_list.hpp
// (the official 10-list arch format), models/elasticvit/released.hpp (the 9 released subnets).
#pragma once

#include "evit/simd/namespace.hpp"
#include "evit/space/search_space.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace elasticvit {

namespace names {
struct first_conv {
  static constexpr const char* name = "first_conv";
};
struct stem {
  static constexpr const char* name = "stem";
};
struct official {
  static constexpr const char* name = "elasticvit-official";
};
struct mini {
  static constexpr const char* name = "elasticvit-mini";
};
struct fashion {
  static constexpr const char* name = "elasticvit-fashion";
};
}  // namespace names

/// ElasticViT's first conv: 3x3, stride 2, from the RGB image, + BN + Hardswish.
template <class Width, class... Options>
using first_conv =
    input_conv<Width, kernel<3>, stride<2>, stage_name<names::first_conv>, Options...>;

/// ElasticViT's stem: MBConv layers with expansion 1 (depthwise k x k then 1x1), stride 1, no SE.
/// Its width equals the first conv's (rule same_width<0, 1>).
template <class Width, class Depth, class Kernel, class... Options>
using stem =
    conv_stage<Width, Depth, Kernel, expansion<1>, stride<1>, stage_name<names::stem>, Options...>;

/// The official ElasticViT search space (configs/final_3min_space.yaml;
/// docs/elasticvit.md#search-space).
/// Stages: first_conv, stem, C0, C1, T2, T3, T4, T5. About 2.17e16 block-wise subnets,
/// 37 to 3191 MMACs.
using official_space = search_space<
    space_name<names::official>, resolution<128, 160, 176, 192, 224, 256>,
    first_conv<width<16, 24>>,  //
    stem<width<16, 24>, depth<1, 2>, kernel<3, 5>>,
    conv_stage<width_range<16, 32, 8>, depth_range<2, 5>, expansion<3, 4, 5, 6>, kernel<3, 5>,
               stride<2>>,
    conv_stage<width_range<16, 48, 8>, depth_range<2, 6>, expansion<3, 4, 5, 6>, kernel<3, 5>,
               stride<2>, squeeze_excite<true>>,
    transformer_stage<width_range<48, 96, 16>, depth_range<1, 5>, mlp_ratio<2, 3, 4, 5>,
                      v_scale<2, 3, 4>, qk_scale<1>, head_dim<16>, stride<2>>,
    transformer_stage<width_range<80, 160, 16>, depth_range<1, 6>, mlp_ratio<2, 3, 4, 5>,
                      v_scale<2, 3, 4>, qk_scale<1>, head_dim<16>, stride<1>>,
    transformer_stage<width_range<144, 288, 16>, depth_range<1, 6>, mlp_ratio<2, 3, 4, 5>,
                      v_scale<2, 3, 4>, qk_scale<1>, head_dim<16>, stride<2>>,
    transformer_stage<width_range<160, 320, 16>, depth_range<1, 6>, mlp_ratio<2, 3, 4, 5>,
                      v_scale<2, 3, 4>, qk_scale<1>, head_dim<16>, stride<2>>,
    rules<same_width<0, 1>, non_decreasing_width, blockwise>,  //
    num_classes<1000>, head_hidden<1984>, head_expand<6>>;

/// The mini space of tests/data/elasticvit-mini (same blocks, smaller choices, 10
/// classes): the space of the reference supernet used by the parity tests.
using mini_space = search_space<
    space_name<names::mini>, resolution<96, 128, 160>,  //
    first_conv<width<16, 24>>,                          //
    stem<width<16, 24>, depth<1, 2>, kernel<3, 5>>,
    conv_stage<width_range<16, 24, 8>, depth_range<2, 3>, expansion<3, 4, 5, 6>, kernel<3, 5>,
               stride<2>>,
    conv_stage<width_range<16, 32, 8>, depth_range<2, 3>, expansion<3, 4, 5, 6>, kernel<3, 5>,
               stride<2>, squeeze_excite<true>>,
    transformer_stage<width_range<32, 48, 16>, depth_range<1, 2>, mlp_ratio<2, 3, 4, 5>,
                      v_scale<2, 3, 4>, qk_scale<1>, head_dim<16>, stride<2>>,
    transformer_stage<width_range<48, 64, 16>, depth_range<1, 3>, mlp_ratio<2, 3, 4, 5>,
                      v_scale<2, 3, 4>, qk_scale<1>, head_dim<16>, stride<1>>,
    transformer_stage<width_range<64, 80, 16>, depth_range<1, 2>, mlp_ratio<2, 3, 4, 5>,
                      v_scale<2, 3, 4>, qk_scale<1>, head_dim<16>, stride<2>>,
    transformer_stage<width_range<80, 96, 16>, depth_range<1, 2>, mlp_ratio<2, 3, 4, 5>,
                      v_scale<2, 3, 4>, qk_scale<1>, head_dim<16>, stride<2>>,
    rules<same_width<0, 1>, non_decreasing_width, blockwise>,  //
    num_classes<10>, head_hidden<256>, head_expand<6>>;

/// The training space for small images (Fashion-MNIST: 28x28 grey, given as 3 equal channels; 10
/// classes): the official blocks, with a stride-1 first conv so that every stage keeps a feature
/// map (28 -> 28 -> 14 -> 7 -> 4 -> 4 -> 2 -> 1 at resolution 28), and choices spanning about
/// 20x in MACs between the smallest and the largest subnet (the paper's regime: subnets of very
/// different sizes share the weights).
using fashion_space =
    search_space<space_name<names::fashion>, resolution<28, 32>,
                 input_conv<width<8, 16>, kernel<3>, stride<1>, stage_name<names::first_conv>>,
                 stem<width<8, 16>, depth<1, 2>, kernel<3, 5>>,
                 conv_stage<width_range<16, 24, 8>, depth_range<1, 3>, expansion<3, 4, 6>,
                            kernel<3, 5>, stride<2>>,
                 conv_stage<width_range<16, 32, 8>, depth_range<1, 3>, expansion<3, 4, 6>,
                            kernel<3, 5>, stride<2>, squeeze_excite<true>>,
                 transformer_stage<width_range<32, 64, 16>, depth_range<1, 2>, mlp_ratio<2, 3, 4>,
                                   v_scale<2, 4>, qk_scale<1>, head_dim<16>, stride<2>>,
                 transformer_stage<width_range<48, 96, 16>, depth_range<1, 3>, mlp_ratio<2, 3, 4>,
                                   v_scale<2, 4>, qk_scale<1>, head_dim<16>, stride<1>>,
                 transformer_stage<width_range<64, 128, 16>, depth_range<1, 3>, mlp_ratio<2, 3, 4>,
                                   v_scale<2, 4>, qk_scale<1>, head_dim<16>, stride<2>>,
                 transformer_stage<width_range<80, 160, 16>, depth_range<1, 2>, mlp_ratio<2, 3, 4>,
                                   v_scale<2, 4>, qk_scale<1>, head_dim<16>, stride<2>>,
                 rules<same_width<0, 1>, non_decreasing_width, blockwise>,  //
                 num_classes<10>, head_hidden<256>, head_expand<6>>;

}  // namespace elasticvit
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
