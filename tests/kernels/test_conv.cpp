// SPDX-License-Identifier: MIT
// kernels/conv.hpp: depthwise convolutions (both strides, cropped kernels, fused BN +
// activation), the token-grid conv on V, 1x1 and dense convolutions, squeeze-excite and pooling.
#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "evit/kernels/conv.hpp"
#include "evit/kernels/reference.hpp"

#include "kernel_test_util.hpp"

using evit::Index;
using evit::kernels::activation;
using evit::kernels::epilogue;
namespace ref = evit::kernels::reference;
using evit::test::exact_buffer;

// Sums of at most k² <= 49 (depthwise) or in k² <= 27 (dense) products of values in [-1, 1],
// then a scale/shift and an activation: 2 (terms + 8) u terms, rounded up to 1e-5 absolute and
// relative.
static constexpr double conv_tol = 1e-5;

TEMPLATE_LIST_TEST_CASE("depthwise_conv2d: k x k, stride 1 and 2, cropped supernet kernels",
                        "[kernels][conv]", evit::test::archs) {
  using Arch = TestType;
  const Index L = evit::simd::lanes<float, Arch>();
  const auto kw =
      GENERATE(std::vector<Index>{3, 3}, std::vector<Index>{3, 5}, std::vector<Index>{5, 5},
               std::vector<Index>{1, 5}, std::vector<Index>{7, 7});
  const Index k = kw[0], w_side = kw[1];
  const Index stride = GENERATE(1, 2);
  const Index H = GENERATE_COPY(1, 2, 3, 8, L + 1, 2 * L + 3);
  // 3L - 2 and 4L - 2: at stride 2 rows whose half ends in a partial vector (L/2 - 1 and L - 1
  // pairs past the whole vectors: simd::split_even_odd_padded, whose zeros land in the padding).
  const Index W = GENERATE_COPY(1, 4, 7, L, 2 * L + 1, 3 * L - 2, 4 * L - 2);
  // 3 channels; L + 5: a full block of L channels and a partial one on the channels-last path.
  const Index C = GENERATE_COPY(3, L + 5);
  CAPTURE(Arch::name(), k, w_side, stride, H, W, C);
  evit::rng g(51);
  const Index c_max = C + 2;  // the supernet weight has more channels than the slice reads
  const Index Ho = evit::kernels::conv_out_size(H, k, stride, k / 2),
              Wo = evit::kernels::conv_out_size(W, k, stride, k / 2);
  exact_buffer<float> x(C * H * W, 1), w(c_max * w_side * w_side), y(C * Ho * Wo), scale(c_max),
      shift(c_max);
  evit::test::fill_uniform(g, x);
  evit::test::fill_uniform(g, w);
  evit::test::fill_uniform(g, scale, 0.5, 1.5);
  evit::test::fill_uniform(g, shift);
  const auto ep = epilogue<float>{}
                      .with_row_scale(scale.data())
                      .with_row_bias(shift.data())
                      .with_activation(activation::hardswish);
  const Index wsn = evit::kernels::depthwise_conv2d_workspace_size<Arch, float>(H, W, k, stride);
  exact_buffer<float> ws(wsn);
  evit::kernels::depthwise_conv2d<Arch>(C, H, W, x.data(), k, stride, w.data(), w_side, y.data(),
                                        ep, ws.data(), wsn);
  std::vector<double> expect(C * Ho * Wo);
  ref::depthwise_conv2d(C, H, W, x.data(), k, stride, w.data(), w_side, expect.data(), ep);
  evit::test::check_close("depthwise_conv2d", C * Ho, Wo, y.data(), Wo, expect.data(), Wo, conv_tol,
                          conv_tol);
  // In two pieces of channels split at 4, as the forward's workers run it: the same bits.
  if (C > 4) {
    exact_buffer<float> y2(C * Ho * Wo);
    evit::kernels::depthwise_conv2d<Arch>(4, H, W, x.data(), k, stride, w.data(), w_side, y2.data(),
                                          ep, ws.data(), wsn);
    evit::kernels::depthwise_conv2d<Arch>(C - 4, H, W, x.data() + 4 * H * W, k, stride,
                                          w.data() + 4 * w_side * w_side, w_side,
                                          y2.data() + 4 * Ho * Wo, ep.rows_from(4), ws.data(), wsn);
    evit::test::require_same_bits("depthwise_conv2d in two pieces", C * Ho * Wo, y2.data(),
                                  y.data());
  }
}

// ReLU and Hardswish are fused into the tiles, the other activations applied after each plane
// or channel block: every activation, with and without accumulate, on both paths (planes wider
// than a vector, and channels in the lanes).
TEMPLATE_LIST_TEST_CASE("depthwise_conv2d: every activation, with and without accumulate",
                        "[kernels][conv]", evit::test::archs) {
  using Arch = TestType;
  const Index L = evit::simd::lanes<float, Arch>();
  const activation act = GENERATE(from_range(evit::test::every_activation));
  const bool accumulate = GENERATE(false, true);
  const auto geometry =
      GENERATE_COPY(std::array<Index, 3>{3, 1, 2 * L + 3}, std::array<Index, 3>{5, 2, 2 * L + 1},
                    std::array<Index, 3>{7, 1, L + 1}, std::array<Index, 3>{3, 2, 4},
                    std::array<Index, 3>{5, 1, 3});
  const Index k = geometry[0], stride = geometry[1], H = geometry[2], W = geometry[2], C = L + 2;
  CAPTURE(Arch::name(), evit::kernels::activation_name(act), accumulate, k, stride, H);
  evit::rng g(53);
  const Index Ho = evit::kernels::conv_out_size(H, k, stride, k / 2),
              Wo = evit::kernels::conv_out_size(W, k, stride, k / 2);
  exact_buffer<float> x(C * H * W), w(C * k * k), y(C * Ho * Wo), scale(C), shift(C);
  evit::test::fill_uniform(g, x);
  evit::test::fill_uniform(g, w);
  evit::test::fill_uniform(g, y);
  evit::test::fill_uniform(g, scale, 0.5, 1.5);
  evit::test::fill_uniform(g, shift, -2, 2);
  const std::vector<float> y_old(y.data(), y.data() + y.size());
  const auto ep = epilogue<float>{}
                      .with_row_scale(scale.data())
                      .with_row_bias(shift.data())
                      .with_activation(act)
                      .with_accumulate(accumulate);
  const Index wsn = evit::kernels::depthwise_conv2d_workspace_size<Arch, float>(H, W, k, stride);
  exact_buffer<float> ws(wsn);
  evit::kernels::depthwise_conv2d<Arch>(C, H, W, x.data(), k, stride, w.data(), k, y.data(), ep,
                                        ws.data(), wsn);
  std::vector<double> expect(C * Ho * Wo);
  ref::depthwise_conv2d(C, H, W, x.data(), k, stride, w.data(), k, expect.data(), ep, y_old.data());
  evit::test::check_close("depthwise_conv2d", C * Ho, Wo, y.data(), Wo, expect.data(), Wo, conv_tol,
                          conv_tol);
}

// An MBConv run in bands of rows (models/elasticvit forward.hpp, mbconv_in_bands) convolves
// each band from only the input rows it reads, held with their own channel stride: every band,
// ragged last ones included, gives the whole call's outputs bit for bit with an activation the
// tiles fuse (Hardswish, the MBConv's); one applied by a pass over the band afterwards (GELU)
// vectorises that pass differently from the whole plane's, so within a rounding there.
TEMPLATE_LIST_TEST_CASE("depthwise_conv2d_rows: bands of output rows equal the whole map",
                        "[kernels][conv]", evit::test::archs) {
  using Arch = TestType;
  const Index k = GENERATE(3, 5, 7);
  const Index stride = GENERATE(1, 2);
  const Index H = GENERATE(5, 19);
  // Outputs at least a vector wide on every ISA (lanes_v: the widest a dispatched call may run
  // with): plane-wise.
  const Index V = evit::simd::lanes_v<float, Arch>;
  const Index W = stride == 1 ? V + 1 : 2 * V + 3;
  const Index band = GENERATE(1, 3, 4, 64);
  const activation act = GENERATE(activation::hardswish, activation::gelu_erf);
  const bool accumulate = GENERATE(false, true);
  const Index C = 5, w_side = 7, p = k / 2;
  CAPTURE(Arch::name(), k, stride, H, W, band, evit::kernels::activation_name(act), accumulate);
  const bool fused = act == activation::hardswish;
  REQUIRE_FALSE(evit::kernels::depthwise_channels_in_lanes<Arch, float>(W, k, stride));
  evit::rng g(57);
  const Index Ho = evit::kernels::conv_out_size(H, k, stride, p),
              Wo = evit::kernels::conv_out_size(W, k, stride, p);
  exact_buffer<float> x(C * H * W), w(C * w_side * w_side), y(C * Ho * Wo), scale(C), shift(C);
  evit::test::fill_uniform(g, x);
  evit::test::fill_uniform(g, w);
  evit::test::fill_uniform(g, y);
  evit::test::fill_uniform(g, scale, 0.5, 1.5);
  evit::test::fill_uniform(g, shift);
  const std::vector<float> y_old(y.data(), y.data() + y.size());
  const auto ep = epilogue<float>{}
                      .with_row_scale(scale.data())
                      .with_row_bias(shift.data())
                      .with_activation(act)
                      .with_accumulate(accumulate);
  const Index wsn = evit::kernels::depthwise_conv2d_workspace_size<Arch, float>(H, W, k, stride);
  exact_buffer<float> ws(wsn);
  evit::kernels::depthwise_conv2d<Arch>(C, H, W, x.data(), k, stride, w.data(), w_side, y.data(),
                                        ep, ws.data(), wsn);
  for (Index o0 = 0; o0 < Ho; o0 += band) {
    const Index o1 = std::min(Ho, o0 + band);
    const Index r0 = std::max<Index>(0, o0 * stride - p);
    const Index r1 = std::min(H, (o1 - 1) * stride + p + 1);
    // Only the rows the band reads, one row of slack between channels; outputs likewise.
    const Index ldx = (r1 - r0 + 1) * W, ldy = (o1 - o0 + 1) * Wo;
    exact_buffer<float> xb(C * ldx), yb(C * ldy);
    for (Index c = 0; c < C; ++c) {
      std::copy(x.data() + c * H * W + r0 * W, x.data() + c * H * W + r1 * W, xb.data() + c * ldx);
      std::copy(y_old.begin() + c * Ho * Wo + o0 * Wo, y_old.begin() + c * Ho * Wo + o1 * Wo,
                yb.data() + c * ldy);
    }
    evit::kernels::depthwise_conv2d_rows<Arch>(C, H, W, xb.data(), ldx, r0, r1, k, stride, w.data(),
                                               w_side, yb.data(), ldy, o0, o1, ep, ws.data(), wsn);
    for (Index c = 0; c < C; ++c)
      for (Index i = 0; i < (o1 - o0) * Wo; ++i) {
        CAPTURE(o0, o1, c, i);
        const float got = yb[c * ldy + i], want = y[c * Ho * Wo + o0 * Wo + i];
        if (fused)
          REQUIRE(got == want);
        else
          REQUIRE(std::abs(got - want) <= 1e-6f * (1 + std::abs(want)));
      }
  }
}

TEST_CASE("depthwise_conv2d: k = 3 of a 5x5 kernel is the centre crop [1:4, 1:4]",
          "[kernels][conv]") {
  // One channel, an impulse at the centre of a 5x5 image: the output is the flipped kernel, so
  // it shows exactly which 3x3 taps were used.
  std::vector<float> w(25), x(25, 0.f), y(25);
  for (Index i = 0; i < 25; ++i) w[i] = float(i);
  x[12] = 1.f;
  std::vector<float> ws(evit::kernels::depthwise_conv2d_workspace_size<>(5, 5, 3, 1));
  evit::kernels::depthwise_conv2d(1, 5, 5, x.data(), 3, 1, w.data(), 5, y.data(), epilogue<float>{},
                                  ws.data(), Index(ws.size()));
  for (Index dy = -1; dy <= 1; ++dy)
    for (Index dx = -1; dx <= 1; ++dx) {
      CAPTURE(dy, dx);
      // y(2 + dy, 2 + dx) = w[1 - dy + 1][1 - dx + 1] of the 5x5 kernel: taps (1..3, 1..3).
      CHECK(y[(2 + dy) * 5 + 2 + dx] == w[(2 - dy) * 5 + (2 - dx)]);
    }
}

TEMPLATE_LIST_TEST_CASE("depthwise_conv3x3_tokens: channels-last 3x3 over the token grid",
                        "[kernels][conv]", evit::test::archs) {
  using Arch = TestType;
  const Index L = evit::simd::lanes<float, Arch>();
  const Index side = GENERATE(1, 2, 3, 5);
  const Index C = GENERATE_COPY(1, L - 1, L + 1, 32);
  const Index ldx = C + 3, ldy = C + 1;
  CAPTURE(Arch::name(), side, C, ldx, ldy);
  evit::rng g(52);
  const Index N = side * side;
  exact_buffer<float> x(evit::test::view_size(N, C, ldx)), w(C * 9),
      y(evit::test::view_size(N, C, ldy)),
      ws(evit::kernels::depthwise_conv3x3_tokens_workspace_size(C));
  evit::test::fill_uniform(g, x);
  evit::test::fill_uniform(g, w);
  evit::kernels::depthwise_conv3x3_tokens<Arch>(side, C, x.data(), ldx, w.data(), y.data(), ldy,
                                                ws.data(), ws.size());
  std::vector<double> expect(N * C);
  ref::depthwise_conv3x3_tokens(side, C, x.data(), ldx, w.data(), expect.data(), C);
  evit::test::check_close("depthwise_conv3x3_tokens", N, C, y.data(), ldy, expect.data(), C,
                          conv_tol, conv_tol);
}

// The reduction blocks after a transformer stage run on tokens: depthwise_conv2d on
// channels-last maps, against the plane-wise double reference on the same numbers.
TEMPLATE_LIST_TEST_CASE("depthwise_conv2d_tokens: channels last, k x k, stride 1 and 2, cropped",
                        "[kernels][conv]", evit::test::archs) {
  using Arch = TestType;
  const Index L = evit::simd::lanes<float, Arch>();
  const auto kw = GENERATE(std::vector<Index>{3, 3}, std::vector<Index>{3, 5},
                           std::vector<Index>{5, 5}, std::vector<Index>{1, 3});
  const Index k = kw[0], w_side = kw[1];
  const Index stride = GENERATE(1, 2);
  const Index H = GENERATE(1, 2, 5, 7, 8);
  const Index W = GENERATE(1, 4, 7);
  // 3 channels; 4L + 5: a whole block of four vectors and a ragged one.
  const Index C = GENERATE_COPY(3, 4 * L + 5);
  const activation act = GENERATE(activation::none, activation::hardswish);
  CAPTURE(Arch::name(), k, w_side, stride, H, W, C, act);
  evit::rng g(58);
  const Index c_max = C + 2, ldx = C + 3, ldy = C + 1;
  const Index Ho = evit::kernels::conv_out_size(H, k, stride, k / 2),
              Wo = evit::kernels::conv_out_size(W, k, stride, k / 2);
  exact_buffer<float> x(H * W * ldx), w(c_max * w_side * w_side), y(Ho * Wo * ldy), scale(c_max),
      shift(c_max);
  for (auto* b : {&x, &w, &shift}) evit::test::fill_uniform(g, *b);
  evit::test::fill_uniform(g, scale, 0.5, 1.5);
  const auto ep = epilogue<float>{}
                      .with_row_scale(scale.data())
                      .with_row_bias(shift.data())
                      .with_activation(act);
  // The supernet's kernels tap-major, as the supernet's loader packs them.
  exact_buffer<float> taps(c_max * w_side * w_side);
  evit::kernels::pack_depthwise_taps(w.data(), c_max, w_side, taps.data());
  REQUIRE(taps[1 * c_max + 2] == w[2 * w_side * w_side + 1]);
  evit::kernels::depthwise_conv2d_tokens<Arch>(H, W, x.data(), ldx, k, stride, taps.data(), w_side,
                                               c_max, y.data(), ldy, ep, 0, C);
  std::vector<float> planes(C * H * W);
  for (Index c = 0; c < C; ++c)
    for (Index p = 0; p < H * W; ++p) planes[c * H * W + p] = x[p * ldx + c];
  std::vector<double> expect(C * Ho * Wo), expect_tokens(Ho * Wo * C);
  ref::depthwise_conv2d(C, H, W, planes.data(), k, stride, w.data(), w_side, expect.data(), ep);
  for (Index c = 0; c < C; ++c)
    for (Index p = 0; p < Ho * Wo; ++p) expect_tokens[p * C + c] = expect[c * Ho * Wo + p];
  evit::test::check_close("depthwise_conv2d_tokens", Ho * Wo, C, y.data(), ldy,
                          expect_tokens.data(), C, conv_tol, conv_tol);
  // Channel pieces split at 16, and two images at once (the second at its own strides): the
  // same bits.
  const Index xs = H * W * ldx + 7, ys = Ho * Wo * ldy + 3;
  exact_buffer<float> x2(xs + H * W * ldx), y2(ys + Ho * Wo * ldy);
  std::copy(x.data(), x.data() + H * W * ldx, x2.data());
  std::copy(x.data(), x.data() + H * W * ldx, x2.data() + xs);
  for (Index c0 = 0; c0 < C; c0 += 16)
    evit::kernels::depthwise_conv2d_tokens<Arch>(
        H, W, x2.data(), ldx, k, stride, taps.data(), w_side, c_max, y2.data(), ldy, ep, c0,
        std::min(C, c0 + 16), evit::kernels::row_groups{2, xs, ys});
  for (const Index image : {0, 1}) {
    CAPTURE(image);
    evit::test::require_same_bits("depthwise_conv2d_tokens, two images", Ho * Wo, C,
                                  y2.data() + image * ys, ldy, y.data(), ldy);
  }
}

TEMPLATE_LIST_TEST_CASE("avg_pool_2x2_tokens: the shortcut's pooling on channels-last maps",
                        "[kernels][conv]", evit::test::archs) {
  using Arch = TestType;
  const Index L = evit::simd::lanes<float, Arch>();
  const Index H = GENERATE(1, 2, 3, 7, 8);
  const Index W = GENERATE(1, 5, 6);
  const Index C = GENERATE_COPY(3, L + 3);
  CAPTURE(Arch::name(), H, W, C);
  evit::rng g(59);
  const Index Ho = evit::kernels::avg_pool_2x2_out_size(H),
              Wo = evit::kernels::avg_pool_2x2_out_size(W), ldx = C + 2, ldy = C + 1;
  exact_buffer<float> x(H * W * ldx), y(Ho * Wo * ldy);
  evit::test::fill_uniform(g, x);
  evit::kernels::avg_pool_2x2_tokens<Arch>(C, H, W, x.data(), ldx, y.data(), ldy);
  std::vector<float> planes(C * H * W);
  for (Index c = 0; c < C; ++c)
    for (Index p = 0; p < H * W; ++p) planes[c * H * W + p] = x[p * ldx + c];
  std::vector<double> expect(C * Ho * Wo), expect_tokens(Ho * Wo * C);
  ref::avg_pool_2x2(C, H, W, planes.data(), expect.data());
  for (Index c = 0; c < C; ++c)
    for (Index p = 0; p < Ho * Wo; ++p) expect_tokens[p * C + c] = expect[c * Ho * Wo + p];
  evit::test::check_close("avg_pool_2x2_tokens", Ho * Wo, C, y.data(), ldy, expect_tokens.data(), C,
                          1e-6);
}

TEMPLATE_LIST_TEST_CASE("conv2d: the 3x3 stride-2 first conv from 3 channels, sliced filters",
                        "[kernels][conv]", evit::test::archs) {
  using Arch = TestType;
  // 130: whole tiles and a ragged edge; 224: 112 outputs a row, on AVX-512 3 x 32 + 16 columns.
  const Index R = GENERATE(1, 2, 7, 16, 17, 130, 224);
  const Index out = GENERATE(1, 16, 24);
  CAPTURE(Arch::name(), R, out);
  evit::rng g(53);
  const Index out_max = 24, in = 3, k = 3;
  const Index Ro = evit::kernels::conv_out_size(R, k, 2, 1);
  exact_buffer<float> x(in * R * R), w(out_max * in * k * k), y(out * Ro * Ro), scale(out_max),
      shift(out_max);
  evit::test::fill_uniform(g, x);
  evit::test::fill_uniform(g, w);
  evit::test::fill_uniform(g, scale, 0.5, 1.5);
  evit::test::fill_uniform(g, shift);
  const auto ep = epilogue<float>{}
                      .with_row_scale(scale.data())
                      .with_row_bias(shift.data())
                      .with_activation(activation::hardswish);
  const Index wsn = evit::kernels::conv2d_workspace_size<Arch, float>(in, R, R, k, 2, 1);
  exact_buffer<float> ws(wsn);
  evit::kernels::conv2d<Arch>(out, in, R, R, x.data(), k, 2, 1, w.data(), in * k * k, y.data(), ep,
                              ws.data(), wsn);
  std::vector<double> expect(out * Ro * Ro);
  ref::conv2d(out, in, R, R, x.data(), k, 2, 1, w.data(), in * k * k, expect.data(), ep);
  evit::test::check_close("conv2d", out, Ro * Ro, y.data(), Ro * Ro, expect.data(), Ro * Ro,
                          conv_tol, conv_tol);
  // Output rows in pieces of any height (as a parallel caller runs them) give the same bits.
  for (const Index step : {1, 2, 3}) {
    CAPTURE(step);
    exact_buffer<float> pieces(out * Ro * Ro);
    for (Index r0 = 0; r0 < Ro; r0 += step)
      evit::kernels::conv2d<Arch>(out, in, R, R, x.data(), k, 2, 1, w.data(), in * k * k,
                                  pieces.data(), ep, ws.data(), wsn, r0, std::min(Ro, r0 + step));
    evit::test::require_same_bits("conv2d in pieces of rows", out * Ro * Ro, pieces.data(),
                                  y.data());
  }
}

TEMPLATE_LIST_TEST_CASE("conv2d: any kernel, stride and padding, non-square images",
                        "[kernels][conv]", evit::test::archs) {
  using Arch = TestType;
  // (k, stride, pad): padding wider than half the kernel, none, strides 1 to 3.
  const auto geometry = GENERATE(std::array<Index, 3>{3, 1, 1}, std::array<Index, 3>{5, 2, 2},
                                 std::array<Index, 3>{1, 1, 0}, std::array<Index, 3>{3, 3, 0},
                                 std::array<Index, 3>{5, 1, 0}, std::array<Index, 3>{3, 2, 2},
                                 std::array<Index, 3>{2, 2, 3});
  const Index H = GENERATE(3, 9), W = GENERATE(2, 5, 13, 40, 150);
  const Index k = geometry[0], stride = geometry[1], pad = geometry[2];
  CAPTURE(Arch::name(), k, stride, pad, H, W);
  if (H + 2 * pad < k || W + 2 * pad < k) return;  // no output
  evit::rng g(57);
  const Index out = 5, in = 2;
  const Index Ho = evit::kernels::conv_out_size(H, k, stride, pad),
              Wo = evit::kernels::conv_out_size(W, k, stride, pad);
  exact_buffer<float> x(in * H * W), w(out * in * k * k), y(out * Ho * Wo);
  evit::test::fill_uniform(g, x);
  evit::test::fill_uniform(g, w);
  const Index wsn = evit::kernels::conv2d_workspace_size<Arch, float>(in, H, W, k, stride, pad);
  exact_buffer<float> ws(wsn);
  evit::kernels::conv2d<Arch>(out, in, H, W, x.data(), k, stride, pad, w.data(), in * k * k,
                              y.data(), epilogue<float>{}, ws.data(), wsn);
  std::vector<double> expect(out * Ho * Wo);
  ref::conv2d(out, in, H, W, x.data(), k, stride, pad, w.data(), in * k * k, expect.data(),
              epilogue<float>{});
  evit::test::check_close("conv2d", out, Ho * Wo, y.data(), Ho * Wo, expect.data(), Ho * Wo,
                          conv_tol, conv_tol);
}

TEMPLATE_LIST_TEST_CASE("pointwise_conv: 1x1 slice of [out_max, in_max] with BN and residual",
                        "[kernels][conv]", evit::test::archs) {
  using Arch = TestType;
  const Index L = evit::simd::lanes<float, Arch>();
  const Index out = GENERATE(1, 7, 24);
  const Index in = GENERATE(1, 16, 33);
  const Index HW = GENERATE_COPY(1, 4, 2 * L + 1, 49);
  CAPTURE(Arch::name(), out, in, HW);
  evit::rng g(54);
  const Index out_max = 24, in_max = 40;
  exact_buffer<float> w(out_max * in_max), x(in * HW), y(out * HW), scale(out_max), shift(out_max);
  for (auto* b : {&w, &x, &y, &shift}) evit::test::fill_uniform(g, *b);
  evit::test::fill_uniform(g, scale, 0.5, 1.5);
  std::vector<float> old(y.data(), y.data() + y.size());
  const auto ep =
      epilogue<float>{}.with_row_scale(scale.data()).with_row_bias(shift.data()).with_accumulate();
  const Index wsn = evit::kernels::pointwise_conv_workspace_size<Arch, float>(in);
  exact_buffer<float> ws(wsn);
  evit::kernels::pointwise_conv<Arch>(out, in, HW, w.data(), in_max, x.data(), y.data(), ep,
                                      ws.data(), wsn);
  std::vector<double> expect(out * HW);
  ref::gemm_nn(out, HW, in, w.data(), in_max, x.data(), HW, expect.data(), HW, ep, old.data(), HW);
  // Products of length in <= 33 of O(1) values: 2 (in + 8) u in <= 1e-5.
  evit::test::check_close("pointwise_conv", out, HW, y.data(), HW, expect.data(), HW, conv_tol,
                          conv_tol);
}

TEMPLATE_LIST_TEST_CASE(
    "pointwise_conv_small(_packed): a batch of small planes as one product, on the weight in place "
    "or packed",
    "[kernels][conv]", evit::test::archs) {
  using Arch = TestType;
  const Index out = GENERATE(1, 19, 40);
  const Index in = GENERATE(1, 16, 33);
  const Index HW = GENERATE(1, 4, 9, 15, 130);  // 130: one image is more than one step
  const Index count = GENERATE(1, 3, 17);       // 17 images of 4 to 15 pixels: several steps
  // GELU: the 3 channels past 16 vectors' worth run as a partial vector in its epilogue.
  const activation act = GENERATE(activation::none, activation::hardswish, activation::gelu_erf);
  const bool accumulate = GENERATE(false, true);
  const bool packed = GENERATE(false, true);
  CAPTURE(Arch::name(), out, in, HW, count, evit::kernels::activation_name(act), accumulate,
          packed);
  evit::rng g(55);
  const Index out_max = 40, in_max = 40;
  const Index xs = in * HW + 3, ys = out * HW + 5;  // images a fixed distance apart
  exact_buffer<float> w(out_max * in_max), x(count * xs), y(count * ys), scale(out_max),
      shift(out_max);
  for (auto* b : {&w, &x, &y, &shift}) evit::test::fill_uniform(g, *b);
  evit::test::fill_uniform(g, scale, 0.5, 1.5);
  const exact_buffer<float> before = y;
  const auto ep = epilogue<float>{}
                      .with_row_scale(scale.data())
                      .with_row_bias(shift.data())
                      .with_activation(act)
                      .with_accumulate(accumulate);
  const Index wsn = evit::kernels::pointwise_conv_small_workspace_size(in, out);
  exact_buffer<float> ws(wsn);
  const evit::kernels::row_groups images{count, xs, ys};
  exact_buffer<float> wp(evit::kernels::packed_linear_size(out_max, in_max));
  evit::kernels::pack_linear_weight(w.data(), out_max, in_max, wp.data());
  // Output channels [o0, o1) of every image into `into`.
  auto conv = [&](Index o0, Index o1, float* into) {
    if (packed)
      evit::kernels::pointwise_conv_small_packed<Arch>(out, in, HW, wp.data(), in_max, x.data(),
                                                       into, images, ep, o0, o1, ws.data(), wsn);
    else
      evit::kernels::pointwise_conv_small<Arch>(out, in, HW, w.data(), in_max, x.data(), into,
                                                images, ep, o0, o1, ws.data(), wsn);
  };
  conv(0, out, y.data());
  for (Index k = 0; k < count; ++k) {
    CAPTURE(k);
    std::vector<float> old(before.data() + k * ys, before.data() + k * ys + out * HW);
    std::vector<double> expect(out * HW);
    ref::gemm_nn(out, HW, in, w.data(), in_max, x.data() + k * xs, HW, expect.data(), HW, ep,
                 old.data(), HW);
    evit::test::check_close("pointwise_conv_small", out, HW, y.data() + k * ys, HW, expect.data(),
                            HW, conv_tol, conv_tol);
  }
  // Output channels in two pieces split at 16 (as the forward's workers do): the same bits.
  if (out > 16) {
    exact_buffer<float> y2 = before;
    conv(0, 16, y2.data());
    conv(16, out, y2.data());
    evit::test::require_same_bits("pointwise_conv_small in two pieces", count * ys, y2.data(),
                                  y.data());
  }
  // The gaps between the images are not written.
  for (Index k = 0; k < count; ++k) {
    CAPTURE(k);
    evit::test::require_same_bits("the gap after an image", ys - out * HW,
                                  y.data() + k * ys + out * HW, before.data() + k * ys + out * HW);
  }
}

TEMPLATE_LIST_TEST_CASE("squeeze_excite: inner/4 reduction, ReLU then Hardsigmoid, in place",
                        "[kernels][conv]", evit::test::archs) {
  using Arch = TestType;
  const Index inner = GENERATE(4, 18, 96);
  const Index HW = GENERATE(1, 9, 49);
  const Index reduced = inner / 4;
  // packed: the FCs on weights packed by pack_linear_weight (linear_packed), in pieces at
  // multiples of 16; else on the row-major weights (gemm_nt), in uneven pieces.
  const bool packed = GENERATE(false, true);
  CAPTURE(Arch::name(), inner, reduced, HW, packed);
  evit::rng g(55);
  const Index inner_max = 144, reduced_max = inner_max / 4;
  exact_buffer<float> w1(reduced_max * inner_max), b1(reduced_max), w2(inner_max * reduced_max),
      b2(inner_max), x(inner * HW),
      ws(evit::kernels::squeeze_excite_workspace_size(inner, reduced));
  for (auto* b : {&w1, &b1, &w2, &b2}) evit::test::fill_uniform(g, *b);
  evit::test::fill_uniform(g, x, -2.0, 2.0);
  evit::kernels::squeeze_excite_weights<float> se{w1.data(), inner_max,   b1.data(),
                                                  w2.data(), reduced_max, b2.data()};
  std::vector<float> p1, p2;
  if (packed) {
    p1.resize(static_cast<std::size_t>(evit::kernels::packed_linear_size(reduced_max, inner_max)));
    p2.resize(static_cast<std::size_t>(evit::kernels::packed_linear_size(inner_max, reduced_max)));
    evit::kernels::pack_linear_weight(w1.data(), reduced_max, inner_max, p1.data());
    evit::kernels::pack_linear_weight(w2.data(), inner_max, reduced_max, p2.data());
    se.w1_packed = p1.data();
    se.w2_packed = p2.data();
  }
  const Index fc_step = packed ? 16 : 2, scale_step = packed ? 16 : 5;
  std::vector<double> expect(inner * HW);
  ref::squeeze_excite(inner, reduced, HW, x.data(), se, expect.data());
  const std::vector<float> x0(x.data(), x.data() + x.size());
  evit::kernels::squeeze_excite<Arch>(inner, reduced, HW, x.data(), se, ws.data(), ws.size());
  evit::test::check_close("squeeze_excite", inner, HW, x.data(), HW, expect.data(), HW, conv_tol,
                          conv_tol);
  // Its three phases in uneven pieces (as a parallel caller runs them) give the same bits.
  exact_buffer<float> xp(inner * HW), pooled(inner), squeezed(reduced);
  std::copy(x0.begin(), x0.end(), xp.data());
  const Index step = 5;
  for (Index c0 = 0; c0 < inner; c0 += step)
    evit::kernels::squeeze_excite_pool<Arch>(HW, xp.data(), pooled.data(), c0,
                                             std::min(inner, c0 + step));
  for (Index r0 = 0; r0 < reduced; r0 += fc_step)
    evit::kernels::squeeze_excite_squeeze<Arch>(inner, reduced, pooled.data(), se, squeezed.data(),
                                                r0, std::min(reduced, r0 + fc_step));
  for (Index c0 = 0; c0 < inner; c0 += scale_step)
    evit::kernels::squeeze_excite_scale<Arch>(inner, reduced, HW, xp.data(), se, squeezed.data(),
                                              pooled.data(), c0, std::min(inner, c0 + scale_step));
  evit::test::require_same_bits("squeeze_excite in pieces", inner * HW, xp.data(), x.data());
  // Phases 2 and 3 on three images at once (vectors and planes at their own strides), in pieces:
  // each image the same bits as alone (image 1 is x0's, the others differ).
  const Index images = 3, vstride = inner + reduced + 7, pstride = inner * HW + 5;
  exact_buffer<float> xs(images * pstride), vs(images * vstride);
  for (Index m = 0; m < images; ++m)
    for (Index i = 0; i < inner * HW; ++i)
      xs[m * pstride + i] = x0[i] * (m == 1 ? 1.0f : 0.5f + float(m));
  for (Index m = 0; m < images; ++m)
    evit::kernels::squeeze_excite_pool<Arch>(HW, xs.data() + m * pstride, vs.data() + m * vstride,
                                             0, inner);
  const evit::kernels::row_groups groups{images, vstride, pstride};
  const Index group_step = packed ? 16 : 3;
  for (Index r0 = 0; r0 < reduced; r0 += group_step)
    evit::kernels::squeeze_excite_squeeze<Arch>(inner, reduced, vs.data(), se, vs.data() + inner,
                                                r0, std::min(reduced, r0 + group_step), groups);
  for (Index c0 = 0; c0 < inner; c0 += scale_step)
    evit::kernels::squeeze_excite_scale<Arch>(inner, reduced, HW, xs.data(), se, vs.data() + inner,
                                              vs.data(), c0, std::min(inner, c0 + scale_step),
                                              groups);
  for (Index m = 0; m < images; ++m) {
    std::vector<float> alone(xs.data() + m * pstride, xs.data() + m * pstride + inner * HW);
    std::vector<float> one(x0.begin(), x0.end());
    for (auto& v : one) v *= m == 1 ? 1.0f : 0.5f + float(m);
    evit::kernels::squeeze_excite<Arch>(inner, reduced, HW, one.data(), se, ws.data(), ws.size());
    for (Index i = 0; i < inner * HW; ++i) {
      CAPTURE(m, i);
      REQUIRE(alone[static_cast<std::size_t>(i)] == one[static_cast<std::size_t>(i)]);
    }
  }
  // On tokens (channels last; phase 1 as mean_rows): the same bits, transposed.
  exact_buffer<float> xt(HW * inner), pt(inner), st(reduced), pp(inner);
  for (Index c = 0; c < inner; ++c)
    for (Index i = 0; i < HW; ++i) xt[i * inner + c] = x0[static_cast<std::size_t>(c * HW + i)];
  evit::kernels::mean_rows<Arch>(HW, inner, xt.data(), inner, pt.data());
  evit::kernels::squeeze_excite_pool<Arch>(HW, x0.data(), pp.data(), 0, inner);
  for (Index c = 0; c < inner; ++c) {
    CAPTURE(c);
    REQUIRE(pt[c] == Approx(pp[c]).margin(1e-6));
  }
  for (Index c = 0; c < inner; ++c) pt[c] = pp[c];  // the pooling's order of sums aside
  for (Index r0 = 0; r0 < reduced; r0 += fc_step)
    evit::kernels::squeeze_excite_squeeze<Arch>(inner, reduced, pt.data(), se, st.data(), r0,
                                                std::min(reduced, r0 + fc_step));
  for (Index c0 = 0; c0 < inner; c0 += scale_step)
    evit::kernels::squeeze_excite_scale<Arch>(inner, reduced, HW, xt.data(), se, st.data(),
                                              pt.data(), c0, std::min(inner, c0 + scale_step), {},
                                              evit::kernels::map_layout::tokens);
  for (Index c = 0; c < inner; ++c)
    for (Index i = 0; i < HW; ++i) {
      CAPTURE(c, i);
      REQUIRE(xt[i * inner + c] == x[c * HW + i]);
    }
}

TEMPLATE_LIST_TEST_CASE("avg_pool_2x2: PyTorch's padding-1-on-odd rule, zeros counted",
                        "[kernels][conv]", evit::test::archs) {
  using Arch = TestType;
  const Index H = GENERATE(1, 2, 3, 7, 8);
  const Index W = GENERATE(1, 5, 6, 38);  // 38: even rows of more than a vector of outputs
  CAPTURE(Arch::name(), H, W);
  evit::rng g(56);
  const Index C = 3, Ho = evit::kernels::avg_pool_2x2_out_size(H),
              Wo = evit::kernels::avg_pool_2x2_out_size(W);
  exact_buffer<float> x(C * H * W), y(C * Ho * Wo);
  evit::test::fill_uniform(g, x);
  evit::kernels::avg_pool_2x2<Arch>(C, H, W, x.data(), y.data());
  std::vector<double> expect(C * Ho * Wo);
  ref::avg_pool_2x2(C, H, W, x.data(), expect.data());
  evit::test::check_close("avg_pool_2x2", C * Ho, Wo, y.data(), Wo, expect.data(), Wo, 1e-6);
  if (H == 3 && W == 5) {  // hand-checked corner: window {pad, pad, pad, x[0,0]} / 4
    CHECK(y[0] == x[0] * 0.25f);
  }
}

TEMPLATE_LIST_TEST_CASE("global_avg_pool and mean_rows: means of planes and of token rows",
                        "[kernels][conv]", evit::test::archs) {
  using Arch = TestType;
  const Index L = evit::simd::lanes<float, Arch>();
  const Index n = GENERATE_COPY(1, L - 1, L + 1, 49);
  const Index C = GENERATE_COPY(1, L + 3);
  CAPTURE(Arch::name(), n, C);
  evit::rng g(57);
  exact_buffer<float> x(C * n), out(C);
  evit::test::fill_uniform(g, x);
  std::vector<double> expect(C, 0.0);
  for (Index c = 0; c < C; ++c) {
    for (Index p = 0; p < n; ++p) expect[c] += x[c * n + p];
    expect[c] /= double(n);
  }
  evit::kernels::global_avg_pool<Arch>(C, n, x.data(), out.data());
  evit::test::check_close("global_avg_pool", 1, C, out.data(), C, expect.data(), C, 1e-6);
  // The same numbers as n rows of C channels.
  exact_buffer<float> xt(n * C);
  for (Index c = 0; c < C; ++c)
    for (Index p = 0; p < n; ++p) xt[p * C + c] = x[c * n + p];
  evit::kernels::mean_rows<Arch>(n, C, xt.data(), C, out.data());
  evit::test::check_close("mean_rows", 1, C, out.data(), C, expect.data(), C, 1e-6);
}
