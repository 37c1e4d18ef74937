// SPDX-License-Identifier: MIT
#include <map>
#include <string>

#include "evit/core/rng.hpp"
#include "evit/io/arch_text.hpp"
#include "evit/models/autoformer/space.hpp"
#include "evit/models/elasticvit/space.hpp"

#include "catch.hpp"

namespace ev = evit::elasticvit;
namespace af = evit::autoformer;
using S = ev::official_space;

namespace {
struct small_name {
  static constexpr const char* name = "small";
};
// 2 x (2 x 2) chains... small enough to count every subnet's frequency.
using small_space = evit::search_space<
    evit::space_name<small_name>, evit::resolution<32>, evit::input_conv<evit::width<8, 16>>,
    evit::conv_stage<evit::width<8, 16, 24>, evit::depth<1, 2>, evit::kernel<3, 5>>,
    evit::transformer_stage<evit::width<16, 24>, evit::depth<1, 2>, evit::mlp_ratio<2, 3>,
                            evit::head_dim<8>>,
    evit::rules<evit::non_decreasing_width, evit::layerwise>>;
}  // namespace

TEST_CASE("sample: every draw is valid, in every space", "[space][sample]") {
  evit::rng g(11);
  for (int i = 0; i < 2000; ++i) {
    CHECK(S::is_valid(S::sample(g)));
    CHECK(S::is_valid(S::sample_uniform(g)));
    CHECK(ev::mini_space::is_valid(ev::mini_space::sample(g)));
    CHECK(af::base_space::is_valid(af::base_space::sample(g)));
  }
}

TEST_CASE("sample: the same seed gives the same subnets (pinned)", "[space][sample]") {
  evit::rng g(7), h(7);
  for (int i = 0; i < 50; ++i) CHECK(S::sample(g) == S::sample(h));
  // Pinned: evit's own distributions on xoshiro256**, identical on every platform.
  evit::rng p(2024);
  CHECK(evit::to_string<S>(S::sample(p)) ==
        "r128 first_conv=24x1:k3 stem=24x1:e1k3 C0=32x2:e5k5 C1=48x3:e6k3 T2=48x4:m5h3q1v3 "
        "T3=96x2:m3h6q1v2 T4=224x2:m4h14q1v4 T5=272x1:m2h17q1v4");
  CHECK(evit::to_string<S>(S::sample_uniform(p)) ==
        "r128 first_conv=24x1:k3 stem=24x2:e1k3 C0=24x3:e5k3 C1=48x4:e4k3 T2=48x4:m5h3q1v3 "
        "T3=112x5:m2h7q1v2 T4=192x6:m5h12q1v2 T5=320x6:m3h20q1v2");
}

TEST_CASE("sample: per-dimension draws are uniform over what the rules allow", "[space][sample]") {
  evit::rng g(5);
  const int n = 40000;
  int stem24 = 0, c0_given_24[3] = {0, 0, 0}, res[6] = {};
  for (int i = 0; i < n; ++i) {
    const evit::arch a = S::sample(g);
    res[std::find(S::descriptor().resolution.begin(), S::descriptor().resolution.end(),
                  a.resolution()) -
        S::descriptor().resolution.begin()]++;
    if (a.width(1) == 24) {
      ++stem24;
      c0_given_24[(a.width(2) - 16) / 8]++;
    }
  }
  // Binomial sd ~100 for n/2; 5 sd margins.
  CHECK(std::abs(stem24 - n / 2) < 500);
  CHECK(c0_given_24[0] == 0);  // C0 = 16 < stem 24 is never drawn
  CHECK(std::abs(c0_given_24[1] - c0_given_24[2]) < 600);
  for (int r : res) CHECK(std::abs(r - n / 6) < 450);
}

TEST_CASE("sample: uniform-over-subnets draws every subnet equally often", "[space][sample]") {
  const auto count = small_space::cardinality().to_u64();
  REQUIRE(count < 2000);
  evit::rng g(9);
  std::map<std::uint64_t, int> freq;
  const int per = 60;
  const int n = static_cast<int>(count) * per;
  for (int i = 0; i < n; ++i) freq[small_space::sample_uniform(g).hash()]++;
  CHECK(freq.size() == count);  // every subnet appears
  // Pearson chi-square over `count` cells: mean count-1, sd sqrt(2(count-1)); 6 sd margin.
  double chi2 = 0;
  for (const auto& kv : freq) chi2 += (kv.second - per) * double(kv.second - per) / per;
  const double dof = static_cast<double>(count - 1);
  CHECK(chi2 < dof + 6 * std::sqrt(2 * dof));
  // Per-dimension sampling is not uniform over subnets: layer-wise depth 2 stages have 4x more
  // subnets than depth 1, yet depth is drawn 50/50.
  int deep = 0;
  for (int i = 0; i < 20000; ++i) deep += small_space::sample(g).depth(2) == 2 ? 1 : 0;
  CHECK(std::abs(deep - 10000) < 500);
}
