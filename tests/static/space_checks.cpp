// SPDX-License-Identifier: MIT
// Compile-only checks of the space policies: if this file compiles, they hold.
#include <ratio>

#include "evit/models/autoformer/space.hpp"
#include "evit/models/elasticvit/space.hpp"
#include "evit/space/search_space.hpp"

namespace {
using namespace evit;

// Choice sets.
static_assert(width<16, 24>::values.size() == 2, "explicit choices");
static_assert(width_range<80, 160, 16>::values.size() == 6, "a range with a step");
static_assert(width_range<80, 160, 16>::values[5] == 160, "the range reaches Max");
static_assert(depth_range<1, 6>::values.size() == 6, "depth range, step 1");
static_assert(mlp_ratio_q<std::ratio<7, 2>, std::ratio<4>>::values[0] == rational(7, 2),
              "rational choices");
static_assert(mlp_ratio<2, 3>::values[1] == rational(3), "integer mlp ratios are rationals");

// Stage kinds and their defaults.
using t = transformer_stage<width_range<48, 96, 16>, depth_range<1, 5>, mlp_ratio<2, 3, 4, 5>,
                            v_scale<2, 3, 4>, head_dim<16>, stride<2>>;
static_assert(t::kind == stage_kind::transformer, "");
static_assert(t::heads == head_semantics::width_over_dim, "head_dim alone: heads = width / dim");
static_assert(t::max_width == 96 && t::max_heads == 6 && t::max_depth == 5, "maxima default");
static_assert(t::qk_scale_set::values[0] == 1, "qk_scale defaults to {1}");
using hat = transformer_stage<width<512, 640>, depth<1, 2>, mlp_ratio<2, 3>, num_heads<4, 8>,
                              qkv_width<512>>;
static_assert(hat::heads == head_semantics::fixed_qkv_width, "HAT semantics");
using af = transformer_stage<width<192, 216, 240>, depth<12, 13, 14>, num_heads<3, 4>, head_dim<64>,
                             mlp_ratio<4>, max_width<256>>;
static_assert(af::heads == head_semantics::chosen_fixed_dim, "AutoFormer semantics");
static_assert(af::max_width == 256, "the supernet's max exceeds the largest searched width");
using c = conv_stage<width<16, 24>, depth<2, 3>, kernel<3, 5>>;
static_assert(c::expansion_set::values[0] == 1 && c::stride == 1 && !c::squeeze_excite,
              "conv defaults: expansion 1, stride 1, no SE");

// Spaces.
using official = elasticvit::official_space;
static_assert(official::num_stages == 8, "first_conv, stem, C0, C1, T2..T5");
static_assert(autoformer::tiny_space::num_stages == 1, "one stage of layers");
static_assert(is_search_space_v<official> && !is_search_space_v<int>, "trait");
using hat_space = search_space<resolution<224>, hat, rules<layerwise>>;
static_assert(hat_space::num_stages == 1, "a HAT-style space is expressible");
}  // namespace
