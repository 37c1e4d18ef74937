// SPDX-License-Identifier: MIT
#include <functional>
#include <string>

#include "evit/io/arch_text.hpp"
#include "evit/models/autoformer/space.hpp"
#include "evit/models/elasticvit/macs.hpp"
#include "evit/models/elasticvit/space.hpp"

#include "catch.hpp"

namespace ev = evit::elasticvit;
namespace af = evit::autoformer;

namespace {

// A tiny space with every rule, small enough to enumerate by brute force.
struct tiny_name {
  static constexpr const char* name = "tiny";
};
using tiny_space = evit::search_space<
    evit::space_name<tiny_name>, evit::resolution<32, 64>, evit::input_conv<evit::width<8, 16>>,
    evit::conv_stage<evit::width<8, 16>, evit::depth<1, 2>, evit::kernel<3, 5>,
                     evit::expansion<2, 4>>,
    evit::conv_stage<evit::width<8, 16, 24>, evit::depth<1, 2>, evit::kernel<3>, evit::stride<2>>,
    evit::transformer_stage<evit::width<16, 32>, evit::depth<1, 3>, evit::mlp_ratio<2, 4>,
                            evit::num_heads<1, 2>, evit::head_dim<8>>,
    evit::rules<evit::same_width<0, 1>, evit::non_decreasing_width, evit::layerwise>>;

// Counts the valid archs of `d` by trying every combination of every choice list (independent of
// the dynamic program in space/enumerate.hpp).
std::uint64_t brute_force_count(const evit::space_descriptor& d) {
  std::uint64_t count = 0;
  evit::arch a;
  std::function<void(int)> stage = [&](int s) {
    if (s == d.num_stages()) {
      count += evit::is_valid(d, a) ? 1 : 0;
      return;
    }
    const auto& st = d.stages[s];
    std::vector<evit::layer_dims> options;
    auto list_or_zero = [](const auto& v) {
      using T = std::decay_t<decltype(v.front())>;
      return v.empty() ? std::vector<T>{T(0)} : v;
    };
    for (int e : list_or_zero(st.expand_ratio))
      for (int k : list_or_zero(st.kernel_size))
        for (auto m : list_or_zero(st.mlp_ratio))
          for (int h : list_or_zero(st.num_heads))
            for (int q : list_or_zero(st.qk_scale))
              for (int v : list_or_zero(st.v_scale)) {
                evit::layer_dims l;
                l.expand_ratio = e;
                l.kernel_size = k;
                l.mlp_ratio = m;
                l.num_heads = h;
                l.qk_scale = q;
                l.v_scale = v;
                options.push_back(l);
              }
    for (int w : st.width)
      for (int depth : st.depth) {
        evit::arch saved = a;
        a.add_stage(w, depth, options[0]);
        std::function<void(int)> layer = [&](int j) {
          if (j == depth) {
            stage(s + 1);
            return;
          }
          for (const auto& o : options) {
            a.layer(s, j) = o;
            layer(j + 1);
          }
        };
        layer(0);
        a = saved;
      }
  };
  for (int r : d.resolution) {
    a = evit::arch();
    a.set_resolution(r);
    stage(0);
  }
  return count;
}

}  // namespace

TEST_CASE("search_space: the official space is exactly the official YAML's",
          "[space][search_space]") {
  const auto& d = ev::official_space::descriptor();
  REQUIRE(d.num_stages() == 8);
  const char* names[] = {"first_conv", "stem", "C0", "C1", "T2", "T3", "T4", "T5"};
  const int strides[] = {2, 1, 2, 2, 2, 1, 2, 2};
  const bool se[] = {false, false, false, true, false, false, false, false};
  const std::vector<int> widths[] = {{16, 24},
                                     {16, 24},
                                     {16, 24, 32},
                                     {16, 24, 32, 40, 48},
                                     {48, 64, 80, 96},
                                     {80, 96, 112, 128, 144, 160},
                                     {144, 160, 176, 192, 208, 224, 240, 256, 272, 288},
                                     {160, 176, 192, 208, 224, 240, 256, 272, 288, 304, 320}};
  const int max_depth[] = {1, 2, 5, 6, 5, 6, 6, 6};
  for (int s = 0; s < 8; ++s) {
    CAPTURE(s);
    CHECK(d.stages[s].name == names[s]);
    CHECK(d.stages[s].stride == strides[s]);
    CHECK(d.stages[s].squeeze_excite == se[s]);
    CHECK(d.stages[s].width == widths[s]);
    CHECK(d.stages[s].depth.back() == max_depth[s]);
  }
  CHECK(d.resolution == std::vector<int>{128, 160, 176, 192, 224, 256});
  CHECK(d.stages[4].mlp_ratio.size() == 4);
  CHECK(d.stages[4].v_scale == std::vector<int>{2, 3, 4});
  CHECK(d.stages[4].heads == evit::head_semantics::width_over_dim);
  CHECK(d.stages[7].max_heads == 20);
  CHECK(d.non_decreasing_width);
  CHECK(d.blockwise);
  // ElasticViT's Rmax per transformer stage: 16, 16, 8, 4 (docs/elasticvit.md#search-space).
  CHECK(d.max_side_after(4) == 16);
  CHECK(d.max_side_after(5) == 16);
  CHECK(d.max_side_after(6) == 8);
  CHECK(d.max_side_after(7) == 4);
}

TEST_CASE("search_space: exact cardinalities", "[space][search_space]") {
  // Official: 31,502 monotone width chains x 1.1466e11 other block-wise choices x 6 resolutions.
  CHECK(ev::official_space::cardinality().to_string() == "21672453419827200");
  CHECK(ev::mini_space::cardinality().to_string() == "171228266496");
  // AutoFormer-T: 3 widths x sum over depth d in {12,13,14} of (2 heads x 2 ratios)^d.
  CHECK(af::tiny_space::cardinality().to_u64() ==
        3ULL * (16777216ULL + 67108864ULL + 268435456ULL));
  // AutoFormer-B: 3 x sum over d in {14,15,16} of (2 x 3)^d.
  std::uint64_t b = 0, p = 1;
  for (int d = 1; d <= 16; ++d) {
    p *= 6;
    if (d >= 14) b += p;
  }
  CHECK(af::base_space::cardinality().to_u64() == 3 * b);
}

TEST_CASE("search_space: cardinality equals a brute-force enumeration", "[space][search_space]") {
  const auto& d = tiny_space::descriptor();
  const std::uint64_t brute = brute_force_count(d);
  CHECK(brute > 1000);
  CHECK(tiny_space::cardinality().to_u64() == brute);
}

TEST_CASE("search_space: min and max subnets", "[space][search_space]") {
  using official = ev::official_space;
  const std::string min_text = evit::to_string<official>(official::min_arch());
  const std::string max_text = evit::to_string<official>(official::max_arch());
  CHECK(min_text ==
        "r128 first_conv=16x1:k3 stem=16x1:e1k3 C0=16x2:e3k3 C1=16x2:e3k3 T2=48x1:m2h3q1v2 "
        "T3=80x1:m2h5q1v2 T4=144x1:m2h9q1v2 T5=160x1:m2h10q1v2");
  CHECK(max_text ==
        "r256 first_conv=24x1:k3 stem=24x2:e1k5 C0=32x5:e6k5 C1=48x6:e6k5 T2=96x5:m5h6q1v4 "
        "T3=160x6:m5h10q1v4 T4=288x6:m5h18q1v4 T5=320x6:m5h20q1v4");
  // The official count of the smallest and largest subnets.
  CHECK(ev::macs(official::min_arch()) == 37365024.0);    // full_space_flops.json "min": 37.365024
  CHECK(ev::macs(official::max_arch()) == 3191458816.0);  // "max": 3191.458816
  CHECK(evit::to_string<af::tiny_space>(af::tiny_space::max_arch()) ==
        "r224 blocks=240x14:m4h4q1v1");
}

TEST_CASE("search_space: the width rules shape min and max", "[space][search_space]") {
  // Stage 1 is tied to stage 0 and widths never decrease: the min subnet takes stage 0's smallest
  // width everywhere it can.
  const auto mn = tiny_space::min_arch();
  const auto mx = tiny_space::max_arch();
  CHECK(mn.width(0) == 8);
  CHECK(mn.width(1) == 8);
  CHECK(mx.width(0) == 16);
  CHECK(mx.width(1) == 16);
  CHECK(mx.width(2) == 24);
  CHECK(mx.width(3) == 32);
  tiny_space::validate(mn);
  tiny_space::validate(mx);
}
