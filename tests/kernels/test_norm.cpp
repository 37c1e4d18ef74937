// SPDX-License-Identifier: MIT
// kernels/norm.hpp: per-token LayerNorm, ElasticViT's per-sample norm, BatchNorm on NCHW planes
// and on rows, BatchNorm coefficients as an epilogue, and folding.
#include <algorithm>
#include <cmath>
#include <vector>

#include "evit/kernels/gemm.hpp"
#include "evit/kernels/norm.hpp"
#include "evit/kernels/reference.hpp"

#include "kernel_test_util.hpp"

using evit::Index;
using evit::kernels::activation;
using evit::kernels::batch_norm_params;
namespace ref = evit::kernels::reference;
using evit::test::exact_buffer;

// Normalised values are O(1) (|x - mean| / std up to ~sqrt(count)); the statistics are reduced
// in double and each output takes ~4 float roundings: 1e-5 relative + 1e-5 absolute covers both
// with margin while any wrong statistic (e.g. per-token instead of per-sample) errs by O(0.1).
static constexpr double norm_tol = 1e-5;

TEMPLATE_LIST_TEST_CASE("layer_norm_rows and sample_norm: match the reference, sliced affine",
                        "[kernels][norm]", evit::test::archs) {
  using Arch = TestType;
  const Index L = evit::simd::lanes<float, Arch>();
  const Index N = GENERATE(1, 4, 9);
  const Index C = GENERATE_COPY(1, L - 1, L, L + 1, 3 * L + 1, 48);
  const Index c_max = 64;  // gamma/beta are supernet vectors; only the first C are read
  const Index ldx = evit::test::next_prime(C), ldy = C + 2;
  CAPTURE(Arch::name(), N, C, ldx, ldy);
  evit::rng g(41);
  exact_buffer<float> x(evit::test::view_size(N, C, ldx), 1), gamma(c_max), beta(c_max);
  evit::test::fill_uniform(g, x, -2.0, 3.0);
  evit::test::fill_uniform(g, gamma, 0.5, 1.5);
  evit::test::fill_uniform(g, beta);
  exact_buffer<float> y(evit::test::view_size(N, C, ldy));
  std::vector<double> expect(N * C);

  evit::kernels::layer_norm_rows<Arch>(N, C, x.data(), ldx, gamma.data(), beta.data(), 1e-5f,
                                       y.data(), ldy);
  ref::layer_norm_rows(N, C, x.data(), ldx, gamma.data(), beta.data(), 1e-5, expect.data(), C);
  evit::test::check_close("layer_norm_rows", N, C, y.data(), ldy, expect.data(), C, norm_tol,
                          norm_tol);

  evit::kernels::sample_norm<Arch>(N, C, x.data(), ldx, gamma.data(), beta.data(), 1e-5f, y.data(),
                                   ldy);
  ref::sample_norm(N, C, x.data(), ldx, gamma.data(), beta.data(), 1e-5, expect.data(), C);
  evit::test::check_close("sample_norm", N, C, y.data(), ldy, expect.data(), C, norm_tol, norm_tol);
}

TEMPLATE_LIST_TEST_CASE("sample_norm: in place, and differs from per-token LayerNorm",
                        "[kernels][norm]", evit::test::archs) {
  using Arch = TestType;
  const Index N = 16, C = 48;
  evit::rng g(42);
  exact_buffer<float> x(N * C);
  evit::test::fill_uniform(g, x);
  for (Index n = 0; n < N; ++n)  // tokens with different means: the two norms disagree
    for (Index c = 0; c < C; ++c) x[n * C + c] += float(n);
  std::vector<double> expect(N * C), per_token(N * C);
  ref::sample_norm(N, C, x.data(), C, (const float*)nullptr, (const float*)nullptr, 1e-5,
                   expect.data(), C);
  ref::layer_norm_rows(N, C, x.data(), C, (const float*)nullptr, (const float*)nullptr, 1e-5,
                       per_token.data(), C);
  evit::kernels::sample_norm<Arch>(N, C, x.data(), C, (const float*)nullptr, (const float*)nullptr,
                                   1e-5f, x.data(), C);
  evit::test::check_close("sample_norm in place", N, C, x.data(), C, expect.data(), C, norm_tol,
                          norm_tol);
  CHECK(std::fabs(expect[0] - per_token[0]) > 0.1);
}

TEMPLATE_LIST_TEST_CASE("batch_norm: NCHW planes and channels-last rows, sliced statistics",
                        "[kernels][norm]", evit::test::archs) {
  using Arch = TestType;
  const Index L = evit::simd::lanes<float, Arch>();
  const Index C = GENERATE_COPY(1, L + 1, 24);
  const Index HW = GENERATE_COPY(1, L - 1, 2 * L + 3, 49);
  const activation act = GENERATE(activation::none, activation::hardswish);
  CAPTURE(Arch::name(), C, HW, evit::kernels::activation_name(act));
  evit::rng g(43);
  const Index c_max = 32;
  exact_buffer<float> mean(c_max), var(c_max), gamma(c_max), beta(c_max), x(C * HW), y(C * HW);
  evit::test::fill_uniform(g, mean);
  evit::test::fill_uniform(g, var, 0.1, 2.0);
  evit::test::fill_uniform(g, gamma, -1.5, 1.5);
  evit::test::fill_uniform(g, beta);
  evit::test::fill_uniform(g, x, -3.0, 3.0);
  const batch_norm_params<float> bn{mean.data(), var.data(), gamma.data(), beta.data(), 1e-5f};
  std::vector<double> expect(C * HW);
  evit::kernels::batch_norm_nchw<Arch>(C, HW, x.data(), bn, y.data(), act);
  ref::batch_norm_nchw(C, HW, x.data(), bn, expect.data(), act);
  evit::test::check_close("batch_norm_nchw", C, HW, y.data(), HW, expect.data(), HW, norm_tol,
                          norm_tol);

  // The same numbers seen as HW rows of C channels (channels last).
  exact_buffer<float> xt(HW * C), yt(HW * C), ws(evit::kernels::batch_norm_rows_workspace_size(C));
  for (Index c = 0; c < C; ++c)
    for (Index p = 0; p < HW; ++p) xt[p * C + c] = x[c * HW + p];
  evit::kernels::batch_norm_rows<Arch>(HW, C, xt.data(), C, bn, yt.data(), C, act, ws.data(),
                                       ws.size());
  std::vector<double> expect_t(HW * C);
  ref::batch_norm_rows(HW, C, xt.data(), C, bn, expect_t.data(), C, act);
  evit::test::check_close("batch_norm_rows", HW, C, yt.data(), C, expect_t.data(), C, norm_tol,
                          norm_tol);
}

TEMPLATE_LIST_TEST_CASE("batch_norm: a row's tail gets the bits of the vector lanes",
                        "[kernels][norm]", evit::test::archs) {
  // The same values at the end of a short row (a partial vector) and inside a longer one (whole
  // vectors) must come out bit for bit the same, for every activation, the GELUs included.
  using Arch = TestType;
  const Index L = evit::simd::lanes<float, Arch>();
  const activation act = GENERATE(from_range(evit::test::every_activation));
  CAPTURE(Arch::name(), evit::kernels::activation_name(act));
  const Index shorter = 2 * L + 3, longer = 3 * L, C = 3 * L;
  evit::rng g(44);
  std::vector<float> mean(C), var(C), gamma(C), beta(C), x(C * longer);
  evit::test::fill_uniform(g, mean.data(), C, -1.0, 1.0);
  evit::test::fill_uniform(g, var.data(), C, 0.1, 2.0);
  evit::test::fill_uniform(g, gamma.data(), C, -1.5, 1.5);
  evit::test::fill_uniform(g, beta.data(), C, -1.0, 1.0);
  evit::test::fill_uniform(g, x.data(), C * longer, -3.0, 3.0);
  const batch_norm_params<float> bn{mean.data(), var.data(), gamma.data(), beta.data(), 1e-5f};
  auto differ = [](const std::vector<float>& a, Index lda, const std::vector<float>& b, Index ldb,
                   Index rows, Index cols) {
    Index n = 0;
    for (Index r = 0; r < rows; ++r)
      for (Index c = 0; c < cols; ++c) n += a[r * lda + c] != b[r * ldb + c];
    return n;
  };
  // NCHW planes of `shorter` and of `longer` pixels, the first `shorter` the same.
  std::vector<float> xs(C * shorter), ys(C * shorter), yl(C * longer);
  for (Index c = 0; c < C; ++c)
    for (Index p = 0; p < shorter; ++p) xs[c * shorter + p] = x[c * longer + p];
  evit::kernels::batch_norm_nchw<Arch>(C, shorter, xs.data(), bn, ys.data(), act);
  evit::kernels::batch_norm_nchw<Arch>(C, longer, x.data(), bn, yl.data(), act);
  CHECK(differ(ys, shorter, yl, longer, C, shorter) == 0);
  // Channels-last rows of `shorter` and of `longer` channels (the same first channels).
  std::vector<float> ws(evit::kernels::batch_norm_rows_workspace_size(C));
  std::fill(ys.begin(), ys.end(), 0.0f);
  evit::kernels::batch_norm_rows<Arch>(C, shorter, x.data(), longer, bn, ys.data(), shorter, act,
                                       ws.data(), Index(ws.size()));
  evit::kernels::batch_norm_rows<Arch>(C, longer, x.data(), longer, bn, yl.data(), longer, act,
                                       ws.data(), Index(ws.size()));
  CHECK(differ(ys, shorter, yl, longer, C, shorter) == 0);
}

TEMPLATE_LIST_TEST_CASE("batch_norm: coefficients as an epilogue equal folding equal conv then BN",
                        "[kernels][norm]", evit::test::archs) {
  using Arch = TestType;
  evit::rng g(44);
  // A 1x1 conv slice W[:out, :in] of a [out_max, in_max] weight on HW pixels, then BN[:out].
  const Index out_max = 40, in_max = 24, out = 29, in = 17, HW = 30;
  exact_buffer<float> w(out_max * in_max), x(in * HW), mean(out_max), var(out_max), gamma(out_max),
      beta(out_max), bias(out_max);
  for (auto* b : {&w, &x, &mean, &gamma, &beta, &bias}) evit::test::fill_uniform(g, *b);
  evit::test::fill_uniform(g, var, 0.2, 1.5);
  const batch_norm_params<float> bn{mean.data(), var.data(), gamma.data(), beta.data(), 1e-5f};
  // Reference: conv (+ bias) in double, then BN in double.
  std::vector<double> expect(out * HW);
  ref::gemm_nn(out, HW, in, w.data(), in_max, x.data(), HW, expect.data(), HW,
               evit::kernels::epilogue<float>{});
  for (Index o = 0; o < out; ++o)
    for (Index p = 0; p < HW; ++p)
      expect[o * HW + p] = ref::batch_norm(bn, o, expect[o * HW + p] + double(bias[o]));
  // The conv and BN in one epilogue: row_scale = gamma / sqrt(var + eps), row_bias = shift +
  // bias * scale (no weight copied).
  exact_buffer<float> scale(out), shift(out), y(out * HW),
      ws(evit::kernels::gemm_nn_workspace_size<Arch, float>(in));
  evit::kernels::batch_norm_coefficients(out, bn, scale.data(), shift.data());
  for (Index o = 0; o < out; ++o) shift[o] += bias[o] * scale[o];
  evit::kernels::gemm_nn<Arch>(
      out, HW, in, w.data(), in_max, x.data(), HW, y.data(), HW,
      evit::kernels::epilogue<float>{}.with_row_scale(scale.data()).with_row_bias(shift.data()),
      ws.data(), ws.size());
  // Products of length `in` of O(1) values, scaled by |gamma| / sqrt(var) <= ~3.4: 1e-5.
  evit::test::check_close("conv + BN epilogue", out, HW, y.data(), HW, expect.data(), HW, 1e-5,
                          1e-5);
  // Folded copy of the slice.
  std::vector<float> wf(out * in), bf(out);
  evit::kernels::fold_batch_norm(out, in, w.data(), in_max, bias.data(), bn, wf.data(), in,
                                 bf.data());
  evit::kernels::gemm_nn<Arch>(out, HW, in, wf.data(), in, x.data(), HW, y.data(), HW,
                               evit::kernels::epilogue<float>{}.with_row_bias(bf.data()), ws.data(),
                               ws.size());
  evit::test::check_close("folded conv", out, HW, y.data(), HW, expect.data(), HW, 1e-5, 1e-5);
}
