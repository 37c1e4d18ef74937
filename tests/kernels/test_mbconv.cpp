// SPDX-License-Identifier: MIT
// kernels/mbconv.hpp: an MBConv's expansion, depthwise and projection in bands of output rows
// equal the three whole-map ops bit for bit (which kernels/conv.hpp's tests check against the
// double references), for strides 1 and 2, kernels 3 and 5 cropped from the supernet's 5 x 5,
// and bands of one row to the whole map, ragged last bands included.
#include <algorithm>
#include <vector>

#include "evit/kernels/conv.hpp"
#include "evit/kernels/mbconv.hpp"

#include "kernel_test_util.hpp"

using evit::Index;
using evit::kernels::activation;
using evit::kernels::epilogue;
using evit::test::exact_buffer;

TEMPLATE_LIST_TEST_CASE("mbconv_bands: bands of rows equal the whole-map ops bit for bit",
                        "[kernels][mbconv]", evit::test::archs) {
  using Arch = TestType;
  const Index k = GENERATE(3, 5);
  const Index stride = GENERATE(1, 2);
  // Outputs at least a vector wide on every ISA (plane-wise depthwise); odd and even sides.
  const Index H = (stride == 1 ? 17 : 35) + GENERATE(0, 3);
  const Index rows = GENERATE(1, 2, 3, 7, 100);
  const Index in = 5, inner = 13, out = 6;  // ragged against every register tile
  const Index in_max = 7, inner_max = 16, out_max = 9, w_side = 5;
  evit::kernels::mbconv_band_shape s{in, inner, out, H, k, stride, 1};
  s.rows = std::min(rows, s.side());
  const Index side = s.side();
  CAPTURE(Arch::name(), k, stride, H, s.rows);
  evit::rng g(71);
  exact_buffer<float> x(in * H * H), we(inner_max * in_max), wd(inner_max * w_side * w_side),
      wp(out_max * inner_max), sc(inner_max), sh(inner_max), sc2(inner_max), sh2(inner_max),
      sc3(out_max), sh3(out_max);
  for (auto* b : {&x, &we, &wd, &wp, &sh, &sh2, &sh3}) evit::test::fill_uniform(g, *b);
  for (auto* b : {&sc, &sc2, &sc3}) evit::test::fill_uniform(g, *b, 0.5, 1.5);
  const auto bn = [](const exact_buffer<float>& scale, const exact_buffer<float>& shift,
                     activation a) {
    return epilogue<float>{}
        .with_row_scale(scale.data())
        .with_row_bias(shift.data())
        .with_activation(a);
  };
  const auto e_ep = bn(sc, sh, activation::hardswish), d_ep = bn(sc2, sh2, activation::hardswish),
             p_ep = bn(sc3, sh3, activation::none);
  // The whole-map ops, as the forward runs them outside bands.
  const Index wsn =
      std::max(s.workspace_size<Arch, float>(),
               evit::kernels::depthwise_conv2d_workspace_size<Arch, float>(H, H, k, stride));
  exact_buffer<float> ws(wsn), e(inner * H * H), d(inner * side * side), y(out * side * side);
  evit::kernels::pointwise_conv<Arch>(inner, in, H * H, we.data(), in_max, x.data(), e.data(), e_ep,
                                      ws.data(), wsn);
  evit::kernels::depthwise_conv2d<Arch>(inner, H, H, e.data(), k, stride, wd.data(), w_side,
                                        d.data(), d_ep, ws.data(), wsn);
  evit::kernels::pointwise_conv<Arch>(out, inner, side * side, wp.data(), inner_max, d.data(),
                                      y.data(), p_ep, ws.data(), wsn);
  // In bands.
  const evit::kernels::mbconv_weights<float> w{we.data(), in_max,    wd.data(),
                                               w_side,    wp.data(), inner_max};
  exact_buffer<float> expanded(s.expanded_size()), band(s.band_size()), yb(out * side * side);
  REQUIRE(s.expanded_size() <= inner * H * H);
  evit::kernels::mbconv_bands<Arch>(s, x.data(), w, e_ep, d_ep, p_ep, yb.data(), expanded.data(),
                                    band.data(), ws.data(), wsn);
  evit::test::require_same_bits("mbconv_bands", out * side * side, yb.data(), y.data());
}

TEST_CASE("mbconv_band_rows: about the asked floats per band, one row to the whole map",
          "[kernels][mbconv]") {
  // 160 channels of 64 pixels per input row: 12 rows make 122,880 floats.
  CHECK(evit::kernels::mbconv_band_rows(160, 64, 3, 1, Index(1) << 17) == 12);
  CHECK(evit::kernels::mbconv_band_rows(80, 128, 3, 2, Index(1) << 17) == 6);
  CHECK(evit::kernels::mbconv_band_rows(4000, 64, 3, 1, Index(1) << 17) == 1);  // at least one
  CHECK(evit::kernels::mbconv_band_rows(8, 16, 3, 1, Index(1) << 17) == 16);    // at most all
}
