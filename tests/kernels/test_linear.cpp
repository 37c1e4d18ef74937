// SPDX-License-Identifier: MIT
// kernels/linear.hpp: sliced linear layers read the supernet weight in place, give the same bits
// as the same op on a packed copy of the slice, and match the double reference for many slices
// of one weight; linear_blocks assembles ElasticViT's qkv without concatenation.
#include <vector>

#include "evit/kernels/linear.hpp"
#include "evit/kernels/reference.hpp"

#include "kernel_test_util.hpp"

using evit::Index;
using evit::kernels::activation;
namespace ref = evit::kernels::reference;
using evit::test::exact_buffer;

namespace {
// Dot products of length `in` with |x|, |w| <= 1 plus a bias: the error bound 2 (in + 8) u
// sum|x w| of test_gemm.cpp, bounded here by sum|x w| <= in (+1 for the bias).
double linear_tol(Index in) {
  return 2.0 * double(in + 8) * evit::test::unit_roundoff<float>() * double(in + 1);
}

// One linear_packed call on `rows` random rows, output columns [r0, r0 + out) of a weight packed
// from w [out_max, in_max], against the double reference; then the same call as two column
// pieces split at 16 (as the forward's workers split it) and row by row (1-row tiles): the same
// bits. Returns the call's input and output for further forms.
struct packed_call {
  Index ldx, ldy;
  exact_buffer<float> x, before, y;
};
template <class Arch>
packed_call check_linear_packed(evit::rng& g, const exact_buffer<float>& w,
                                const exact_buffer<float>& wp, const exact_buffer<float>& b,
                                Index in_max, Index rows, Index r0, Index out, Index in,
                                activation act, bool accumulate) {
  const Index ldx = evit::test::next_prime(in), ldy = evit::test::next_prime(out + 1);
  packed_call c{ldx, ldy, exact_buffer<float>(evit::test::view_size(rows, in, ldx), 1),
                exact_buffer<float>(1), exact_buffer<float>(evit::test::view_size(rows, out, ldy))};
  auto& x = c.x;
  auto& y = c.y;
  evit::test::fill_uniform(g, x);
  evit::test::fill_uniform(g, y);
  std::vector<double> expect(rows * out);
  ref::linear(rows, in, out, x.data(), ldx, w.data(), in_max, r0, b.data(), expect.data(), out,
              act);
  if (accumulate)
    for (Index r = 0; r < rows; ++r)
      for (Index o = 0; o < out; ++o) expect[r * out + o] += y[r * ldy + o];
  c.before = y;
  const auto& before = c.before;
  evit::kernels::linear_packed<Arch>(rows, in, out, x.data(), ldx, wp.data(), in_max, r0, b.data(),
                                     y.data(), ldy, act, accumulate);
  evit::test::check_close("linear_packed", rows, out, y.data(), ldy, expect.data(), out,
                          linear_tol(in) + (accumulate ? 1e-6 : 0));
  if (out > 16) {
    exact_buffer<float> y2 = before;
    evit::kernels::linear_packed<Arch>(rows, in, 16, x.data(), ldx, wp.data(), in_max, r0, b.data(),
                                       y2.data(), ldy, act, accumulate);
    evit::kernels::linear_packed<Arch>(rows, in, out - 16, x.data(), ldx, wp.data(), in_max,
                                       r0 + 16, b.data(), y2.data() + 16, ldy, act, accumulate);
    evit::test::require_same_bits("linear_packed in two pieces of outputs", rows, out, y2.data(),
                                  ldy, y.data(), ldy);
  }
  for (Index r = 0; r < rows; ++r) {
    exact_buffer<float> y1(evit::test::view_size(1, out, ldy));
    std::copy(before.data() + r * ldy, before.data() + r * ldy + out, y1.data());
    evit::kernels::linear_packed<Arch>(1, in, out, x.data() + r * ldx, ldx, wp.data(), in_max, r0,
                                       b.data(), y1.data(), ldy, act, accumulate);
    CAPTURE(r);
    evit::test::require_same_bits("linear_packed on one row", out, y1.data(), y.data() + r * ldy);
  }
  return c;
}
}  // namespace

TEMPLATE_LIST_TEST_CASE("linear: several slices of one supernet weight match the reference",
                        "[kernels][linear]", evit::test::archs) {
  using Arch = TestType;
  const Index L = evit::simd::lanes<float, Arch>();
  const Index out_max = 3 * L + 5, in_max = 2 * L + 7;
  evit::rng g(31);
  // The supernet weight and bias: exact size, so a slice reading past row out_max - 1 or
  // column in_max - 1 of the last row is an ASan error.
  exact_buffer<float> w(out_max * in_max), b(out_max);
  evit::test::fill_uniform(g, w);
  evit::test::fill_uniform(g, b);
  const Index rows = GENERATE(1, 4, 9);
  // (r0, out, in): active = max, active = 1, the last row only, odd sizes, just below/above L.
  const auto sl = GENERATE_COPY(
      std::vector<Index>{0, out_max, in_max}, std::vector<Index>{0, 1, 1},
      std::vector<Index>{out_max - 1, 1, in_max}, std::vector<Index>{3, L - 1, L + 1},
      std::vector<Index>{L, L + 1, L - 1}, std::vector<Index>{1, 2 * L + 3, in_max - 2});
  const Index r0 = sl[0], out = sl[1], in = sl[2];
  const activation act = GENERATE(activation::none, activation::hardswish);
  const Index ldx = evit::test::next_prime(in), ldy = evit::test::next_prime(out + 1);
  CAPTURE(Arch::name(), rows, r0, out, in, out_max, in_max, ldx, ldy);
  exact_buffer<float> x(evit::test::view_size(rows, in, ldx), 1),
      y(evit::test::view_size(rows, out, ldy));
  evit::test::fill_uniform(g, x);
  evit::kernels::linear<Arch>(rows, in, out, x.data(), ldx, w.data(), in_max, r0, b.data(),
                              y.data(), ldy, act);
  std::vector<double> expect(rows * out);
  ref::linear(rows, in, out, x.data(), ldx, w.data(), in_max, r0, b.data(), expect.data(), out,
              act);
  evit::test::check_close("linear", rows, out, y.data(), ldy, expect.data(), out, linear_tol(in));

  // Same op on a packed contiguous copy of the slice: bit-identical, i.e. slicing changes
  // nothing but where the weights are read from.
  std::vector<float> packed(out * in), pb(b.data() + r0, b.data() + r0 + out);
  for (Index o = 0; o < out; ++o)
    for (Index k = 0; k < in; ++k) packed[o * in + k] = w[(r0 + o) * in_max + k];
  exact_buffer<float> y2(evit::test::view_size(rows, out, ldy));
  evit::kernels::linear<Arch>(rows, in, out, x.data(), ldx, packed.data(), in, 0, pb.data(),
                              y2.data(), ldy, act);
  evit::test::require_same_bits("linear on a packed copy", rows, out, y2.data(), ldy, y.data(),
                                ldy);
}

TEMPLATE_LIST_TEST_CASE("linear: accumulate adds into the output (residual)", "[kernels][linear]",
                        evit::test::archs) {
  using Arch = TestType;
  evit::rng g(32);
  const Index rows = 7, in = 19, out = 23;
  exact_buffer<float> w(out * in), x(rows * in), y(rows * out);
  evit::test::fill_uniform(g, w);
  evit::test::fill_uniform(g, x);
  evit::test::fill_uniform(g, y);
  std::vector<double> expect(rows * out);
  ref::linear(rows, in, out, x.data(), in, w.data(), in, 0, (const float*)nullptr, expect.data(),
              out);
  for (Index i = 0; i < rows * out; ++i) expect[i] += y[i];
  evit::kernels::linear<Arch>(rows, in, out, x.data(), in, w.data(), in, 0, (const float*)nullptr,
                              y.data(), out, activation::none, true);
  evit::test::check_close("linear accumulate", rows, out, y.data(), out, expect.data(), out,
                          linear_tol(in) + 4e-7);
}

TEMPLATE_LIST_TEST_CASE("linear_blocks: ElasticViT qkv rows land in their column ranges",
                        "[kernels][linear]", evit::test::archs) {
  using Arch = TestType;
  evit::rng g(33);
  // Supernet: Cmax = 48 (qkv weight [6 Cmax, Cmax]); subnet C = 32, h = 2, dqk = 16, dv = 32.
  const Index c_max = 48, C = 32, h = 2, dqk = 16, dv = 32, N = 5;
  exact_buffer<float> w(6 * c_max * c_max), b(6 * c_max), x(N * C);
  evit::test::fill_uniform(g, w);
  evit::test::fill_uniform(g, b);
  evit::test::fill_uniform(g, x);
  const Index S = h * (2 * dqk + dv);
  const evit::kernels::row_block blocks[3] = {
      {0, h * dqk, 0}, {c_max, h * dqk, h * dqk}, {2 * c_max, h * dv, 2 * h * dqk}};
  exact_buffer<float> y(N * S);
  evit::kernels::linear_blocks<Arch>(N, C, x.data(), C, w.data(), c_max, b.data(), blocks, 3,
                                     y.data(), S);
  // Reference: the stacked qkv weight W' (docs/elasticvit.md#attention), row by row.
  std::vector<double> expect(N * S);
  for (Index j = 0; j < S; ++j) {
    const Index r = j < h * dqk       ? j
                    : j < 2 * h * dqk ? c_max + (j - h * dqk)
                                      : 2 * c_max + (j - 2 * h * dqk);
    std::vector<double> col(N);
    ref::linear(N, C, 1, x.data(), C, w.data(), c_max, r, b.data(), col.data(), 1);
    for (Index n = 0; n < N; ++n) expect[n * S + j] = col[n];
  }
  evit::test::check_close("qkv blocks", N, S, y.data(), S, expect.data(), S, linear_tol(C));
}

TEMPLATE_LIST_TEST_CASE("linear_packed: slices of a panel-packed weight match the reference",
                        "[kernels][linear]", evit::test::archs) {
  using Arch = TestType;
  const Index P = evit::kernels::linear_panel_width;
  const Index out_max = 5 * P + 11, in_max = 37;
  evit::rng g(33);
  exact_buffer<float> w(out_max * in_max), b(out_max);
  evit::test::fill_uniform(g, w);
  evit::test::fill_uniform(g, b);
  // Exact size: a tile reading past the packed copy's padding is an ASan error.
  exact_buffer<float> wp(evit::kernels::packed_linear_size(out_max, in_max));
  evit::kernels::pack_linear_weight(w.data(), out_max, in_max, wp.data());
  // Rows: 1-3, and 4-5 on AVX-512 (gemm_tiles::nn_few_rows_max: tiles spanning several panels);
  // one tile or less; 8 / 13 / 26 / 27 / 49 (full 6-row tiles plus 1-3 rows, the last full tile
  // and those rows run as two tiles of 3-5); 30.
  // As row groups below, every count but 30 runs gathered (not a multiple of the 6-row tile:
  // tiles spanning groups).
  const Index rows = GENERATE(1, 2, 3, 4, 5, 8, 9, 13, 26, 27, 30, 49);
  // (r0, out, in): whole, one output, the last row, slices starting and ending inside panels
  // (the middle one with four whole panels between its ragged ends).
  const auto sl = GENERATE_COPY(
      std::vector<Index>{0, out_max, in_max}, std::vector<Index>{0, 1, 1},
      std::vector<Index>{out_max - 1, 1, in_max}, std::vector<Index>{16, P + 3, in_max - 5},
      std::vector<Index>{3, 2 * P, 8}, std::vector<Index>{P - 3, 4 * P + 7, in_max - 2});
  const Index r0 = sl[0], out = sl[1], in = sl[2];
  const activation act = GENERATE(activation::none, activation::hardswish);
  const bool accumulate = GENERATE(false, true);
  CAPTURE(Arch::name(), rows, r0, out, in, out_max, in_max, accumulate);
  const auto c = check_linear_packed<Arch>(g, w, wp, b, in_max, rows, r0, out, in, act, accumulate);
  const Index ldx = c.ldx, ldy = c.ldy;
  const auto &x = c.x, &before = c.before, &y = c.y;

  // As three row groups (a batch of three samples, each in its own buffer, as the forward runs
  // the transformer layers): each group the same bits as the single call above, also where the
  // groups' rows run as one sequence of tiles that span two or three groups.
  const Index xs = evit::test::view_size(rows, in, ldx) + 7;
  const Index ys = evit::test::view_size(rows, out, ldy) + 5;
  exact_buffer<float> xg(2 * xs + evit::test::view_size(rows, in, ldx)),
      yg(2 * ys + evit::test::view_size(rows, out, ldy));
  for (Index k = 0; k < 3; ++k) {
    std::copy(x.data(), x.data() + evit::test::view_size(rows, in, ldx), xg.data() + k * xs);
    std::copy(before.data(), before.data() + evit::test::view_size(rows, out, ldy),
              yg.data() + k * ys);
  }
  evit::kernels::linear_packed<Arch>(rows, in, out, xg.data(), ldx, wp.data(), in_max, r0, b.data(),
                                     yg.data(), ldy, act, accumulate,
                                     evit::kernels::row_groups{3, xs, ys});
  for (Index k = 0; k < 3; ++k) {
    CAPTURE(k);
    evit::test::require_same_bits("linear_packed, a group", rows, out, yg.data() + k * ys, ldy,
                                  y.data(), ldy);
  }
}

// 4 to 12 rows against a long reduction (the head at batch 4-12) run each panel in blocks of
// gemm_tiles::nn_block_k rows, the partial sums kept between blocks: against the double
// reference, and the same bits as row by row (1-row tiles over the whole reduction) and as two
// column pieces (check_linear_packed).
TEMPLATE_LIST_TEST_CASE("linear_packed: 4-12 rows in blocks of a long reduction",
                        "[kernels][linear]", evit::test::archs) {
  using Arch = TestType;
  using tiles = evit::kernels::gemm_tiles<float, Arch>;
  constexpr Index KB = tiles::nn_block_k, min_k = tiles::nn_block_min_k;
  const Index P = evit::kernels::linear_panel_width;
  const Index out_max = 3 * P + 11, in_max = min_k + KB + 45;
  evit::rng g(34);
  exact_buffer<float> w(out_max * in_max), b(out_max);
  evit::test::fill_uniform(g, w);
  evit::test::fill_uniform(g, b);
  exact_buffer<float> wp(evit::kernels::packed_linear_size(out_max, in_max));
  evit::kernels::pack_linear_weight(w.data(), out_max, in_max, wp.data());
  const Index rows = GENERATE(4, 5, 8, 11, 12);
  // (r0, out, in): whole; inside panels, whole blocks and whole blocks and a row; one output of
  // a reduction half a block past whole ones.
  const auto sl = GENERATE_COPY(
      std::vector<Index>{0, out_max, in_max}, std::vector<Index>{16, P + 3, min_k},
      std::vector<Index>{P - 3, 2 * P + 7, min_k + 1}, std::vector<Index>{3, 1, min_k + KB / 2});
  const Index r0 = sl[0], out = sl[1], in = sl[2];
  // GELU: a tile epilogue that reads its activation at run time, on the unblocked path.
  const activation act = GENERATE(activation::none, activation::hardswish, activation::gelu_erf);
  const bool accumulate = GENERATE(false, true);
  CAPTURE(Arch::name(), rows, r0, out, in, evit::kernels::activation_name(act), accumulate);
  check_linear_packed<Arch>(g, w, wp, b, in_max, rows, r0, out, in, act, accumulate);
}

// A 1x1 convolution on channels-last maps: the BatchNorm per output channel as column terms
// (epilogue::channels_as_columns), with Hardswish, against the double reference; column pieces at
// 16 and a batch of row groups give the same bits as one call.
TEMPLATE_LIST_TEST_CASE("linear_packed: a BatchNorm over the columns (channels-last 1x1)",
                        "[kernels][linear]", evit::test::archs) {
  using Arch = TestType;
  const Index out_max = 72, in_max = 40;
  const Index rows = GENERATE(1, 4, 16, 49);
  const Index r0 = GENERATE(0, 16);
  const Index out = out_max - r0 - 5, in = in_max - 3;
  const bool accumulate = GENERATE(false, true);
  CAPTURE(Arch::name(), rows, r0, out, in, accumulate);
  evit::rng g(34);
  exact_buffer<float> w(out_max * in_max), scale(out_max), shift(out_max), x(rows * in),
      y(rows * out);
  evit::test::fill_uniform(g, w);
  evit::test::fill_uniform(g, scale, 0.5, 1.5);
  evit::test::fill_uniform(g, shift);
  evit::test::fill_uniform(g, x);
  evit::test::fill_uniform(g, y);
  exact_buffer<float> wp(evit::kernels::packed_linear_size(out_max, in_max));
  evit::kernels::pack_linear_weight(w.data(), out_max, in_max, wp.data());
  // The convolution's epilogue over its channels (rows), as the forward builds it.
  auto conv_ep = epilogue<float>{}
                     .with_row_scale(scale.data())
                     .with_row_bias(shift.data())
                     .with_activation(activation::hardswish)
                     .with_accumulate(accumulate);
  const auto ep = conv_ep.channels_as_columns().cols_from(r0);
  REQUIRE(ep.row_scale == nullptr);
  REQUIRE(ep.col_scale == scale.data() + r0);
  std::vector<double> expect(rows * out);
  for (Index r = 0; r < rows; ++r)
    for (Index o = 0; o < out; ++o) {
      double acc = 0;
      for (Index i = 0; i < in; ++i)
        acc += double(x[r * in + i]) * double(w[(r0 + o) * in_max + i]);
      expect[r * out + o] =
          ref::apply_epilogue(acc, r, o, ep, accumulate ? double(y[r * out + o]) : 0.0);
    }
  const exact_buffer<float> before = y;
  evit::kernels::linear_packed<Arch>(rows, in, out, x.data(), in, wp.data(), in_max, r0, y.data(),
                                     out, ep);
  evit::test::check_close("linear_packed (column BatchNorm)", rows, out, y.data(), out,
                          expect.data(), out, linear_tol(in) + 1e-6);
  exact_buffer<float> y2 = before;
  for (Index j0 = 0; j0 < out; j0 += 16) {
    const Index n = std::min<Index>(16, out - j0);
    evit::kernels::linear_packed<Arch>(rows, in, n, x.data(), in, wp.data(), in_max, r0 + j0,
                                       y2.data() + j0, out, ep.cols_from(j0));
  }
  const Index xs = rows * in + 3, ys = rows * out + 5;
  exact_buffer<float> xg(2 * xs + rows * in), yg(2 * ys + rows * out);
  for (Index k = 0; k < 3; ++k) {
    std::copy(x.data(), x.data() + rows * in, xg.data() + k * xs);
    std::copy(before.data(), before.data() + rows * out, yg.data() + k * ys);
  }
  evit::kernels::linear_packed<Arch>(rows, in, out, xg.data(), in, wp.data(), in_max, r0, yg.data(),
                                     out, ep, evit::kernels::row_groups{3, xs, ys});
  evit::test::require_same_bits("linear_packed in pieces of columns", rows * out, y2.data(),
                                y.data());
  for (Index k = 0; k < 3; ++k) {
    CAPTURE(k);
    evit::test::require_same_bits("linear_packed, a group", rows * out, yg.data() + k * ys,
                                  y.data());
  }
}

// An epilogue with row terms (a scale and bias per row of each group) on row groups: the rows
// are indexed within their group, so the groups run one by one (not as one sequence of rows);
// against the double reference, and each group the same bits as a call on that group alone.
TEMPLATE_LIST_TEST_CASE("linear_packed: row terms on row groups", "[kernels][linear]",
                        evit::test::archs) {
  using Arch = TestType;
  const Index out_max = 40, in_max = 24, out = 37, in = 21, groups = 3;
  const Index rows = GENERATE(1, 5, 9, 25);
  CAPTURE(Arch::name(), rows);
  evit::rng g(35);
  exact_buffer<float> w(out_max * in_max), scale(rows), shift(rows);
  evit::test::fill_uniform(g, w);
  evit::test::fill_uniform(g, scale, 0.5, 1.5);
  evit::test::fill_uniform(g, shift);
  exact_buffer<float> wp(evit::kernels::packed_linear_size(out_max, in_max));
  evit::kernels::pack_linear_weight(w.data(), out_max, in_max, wp.data());
  const auto ep = epilogue<float>{}
                      .with_row_scale(scale.data())
                      .with_row_bias(shift.data())
                      .with_activation(activation::hardswish);
  const Index xs = rows * in + 3, ys = rows * out + 5;
  exact_buffer<float> x(groups * xs), y(groups * ys), alone(rows * out);
  evit::test::fill_uniform(g, x);
  evit::kernels::linear_packed<Arch>(rows, in, out, x.data(), in, wp.data(), in_max, 0, y.data(),
                                     out, ep, evit::kernels::row_groups{groups, xs, ys});
  for (Index k = 0; k < groups; ++k) {
    std::vector<double> expect(rows * out);
    for (Index r = 0; r < rows; ++r)
      for (Index o = 0; o < out; ++o) {
        double acc = 0;
        for (Index i = 0; i < in; ++i)
          acc += double(x[k * xs + r * in + i]) * double(w[o * in_max + i]);
        expect[r * out + o] = ref::apply_epilogue(acc, r, o, ep, 0.0);
      }
    evit::test::check_close("linear_packed (row terms, groups)", rows, out, y.data() + k * ys, out,
                            expect.data(), out, linear_tol(in) + 1e-6);
    evit::kernels::linear_packed<Arch>(rows, in, out, x.data() + k * xs, in, wp.data(), in_max, 0,
                                       alone.data(), out, ep);
    CAPTURE(k);
    evit::test::require_same_bits("linear_packed on a group alone", rows * out, alone.data(),
                                  y.data() + k * ys);
  }
}
