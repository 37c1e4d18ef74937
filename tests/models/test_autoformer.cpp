// SPDX-License-Identifier: MIT
#include "evit/models/autoformer/cost.hpp"
#include "evit/models/autoformer/space.hpp"

#include "catch.hpp"

namespace af = evit::autoformer;

TEST_CASE("autoformer: the three spaces say both searched and supernet sizes", "[models][af]") {
  const auto& t = af::tiny_space::descriptor().stages[0];
  CHECK(t.width == std::vector<int>{192, 216, 240});
  CHECK(t.max_width == 256);
  CHECK(t.max_heads == 4);
  CHECK(t.max_depth == 14);
  CHECK(t.mlp_ratio == std::vector<evit::rational>{evit::rational(7, 2), evit::rational(4)});
  const auto& s = af::small_space::descriptor().stages[0];
  CHECK(s.max_width == 448);
  CHECK(s.num_heads == std::vector<int>{5, 6, 7});
  const auto& b = af::base_space::descriptor().stages[0];
  CHECK(b.max_width == 640);
  CHECK(b.max_heads == 10);
  CHECK(b.max_depth == 16);
  CHECK(!af::base_space::descriptor().blockwise);
}

TEST_CASE("autoformer: MACs and params of a ViT layer stack, by hand", "[models][af]") {
  // Min AutoFormer-T: embed 192, 12 layers, 3 heads (q/k/v width 192), mlp 3.5 (hidden 672);
  // 196 patches + class token = 197 tokens.
  const auto& d = af::tiny_space::descriptor();
  const evit::arch a = af::tiny_space::min_arch();
  const double n = 197, e = 192, q = 192, hid = 672;
  const double layer_macs = n * e * 3 * q + 2 * n * n * q + n * q * e + 2 * n * e * hid;
  const double macs = 196 * 3 * 256 * e + 12 * layer_macs + e * 1000;
  CHECK(af::macs(d, a) == macs);
  const double layer_params = 2 * e + e * 3 * q + 3 * q + q * e + e + 2 * e + 2 * e * hid + hid + e;
  const double params = 768 * e + e + e + 197 * e + 12 * layer_params + 2 * e + e * 1000 + 1000;
  CHECK(af::params(d, a) == params);
  CHECK(std::abs(params / 1e6 - 5.27) < 0.01);
  // Fractional ratio floors exactly: 3.5 * 216 = 756.
  evit::arch b = a;
  b.set_width(0, 216);
  CHECK(af::macs(d, b) > af::macs(d, a));
}
