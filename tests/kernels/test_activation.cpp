// SPDX-License-Identifier: MIT
// kernels/activation.hpp and kernels/softmax.hpp against the double reference.
#include <cmath>
#include <limits>
#include <vector>

#include "evit/kernels/activation.hpp"
#include "evit/kernels/reference.hpp"
#include "evit/kernels/softmax.hpp"

#include "kernel_test_util.hpp"

using evit::Index;
using evit::kernels::activation;
namespace ref = evit::kernels::reference;
using evit::test::exact_buffer;

// Piecewise-linear activations are one or two roundings from exact (tolerance 4 u |x|); GELU
// goes through xsimd's erf/tanh (a few ulps) and a polynomial in x, so 1e-6 absolute plus
// 1e-6 relative.
static double activation_abs_tol(activation a) {
  return a == activation::gelu_erf || a == activation::gelu_tanh ? 1e-6 : 0.0;
}

TEMPLATE_LIST_TEST_CASE("activate: matches double reference, in place, sizes around the lanes",
                        "[kernels][activation]", evit::test::archs) {
  using Arch = TestType;
  const Index L = evit::simd::lanes<float, Arch>();
  const activation act = GENERATE(from_range(evit::test::every_activation));
  const Index n = GENERATE_COPY(0, 1, L - 1, L, L + 1, 2 * L + 1, 67);
  const Index off = GENERATE(0, 1);
  CAPTURE(Arch::name(), evit::kernels::activation_name(act), n, off);
  evit::rng g(21);
  exact_buffer<float> x(n, off);
  evit::test::fill_uniform(g, x, -6.0, 6.0);  // covers both hard-* kinks at -3 and 3
  std::vector<double> expect(std::max<Index>(n, 1));
  for (Index i = 0; i < n; ++i) expect[i] = ref::activate(act, x[i]);
  evit::kernels::activate<Arch>(act, x.data(), n);
  evit::test::check_close("activate", 1, n, x.data(), n, expect.data(), n, activation_abs_tol(act),
                          4 * evit::test::unit_roundoff<float>() + 1e-6);
}

TEMPLATE_LIST_TEST_CASE("activate: a row's tail gets the bits of the vector lanes",
                        "[kernels][activation]", evit::test::archs) {
  // A row's tail must round as the lanes do, or a value's bits would depend on where a split of
  // the work leaves it (a fused multiply-add in one form and not the other would do).
  using Arch = TestType;
  const Index L = evit::simd::lanes<float, Arch>();
  // The GELUs too: with their tails through std::erf and std::tanh rather than xsimd's
  // polynomials, about 1 value in 10 here differed from the lanes in the last bits.
  const activation act = GENERATE(from_range(evit::test::every_activation));
  CAPTURE(Arch::name(), evit::kernels::activation_name(act));
  evit::rng g(23);
  std::vector<float> lanes(static_cast<std::size_t>(4096 / L * L));
  evit::test::fill_uniform(g, lanes.data(), Index(lanes.size()), -3.5, 3.5);  // both kinks
  std::vector<float> tail = lanes;
  evit::kernels::activate<Arch>(act, lanes.data(), Index(lanes.size()));  // whole vectors
  for (float& v : tail) evit::kernels::activate<Arch>(act, &v, 1);        // all tails
  Index differ = 0;
  for (std::size_t i = 0; i < lanes.size(); ++i) differ += lanes[i] != tail[i];
  CHECK(differ == 0);
}

TEMPLATE_LIST_TEST_CASE("activate_rows: touches only the rows x cols block",
                        "[kernels][activation]", evit::test::archs) {
  using Arch = TestType;
  const Index rows = 5, cols = 13, ld = 17;
  exact_buffer<float> x(evit::test::view_size(rows, cols, ld));
  for (Index i = 0; i < x.size(); ++i) x[i] = -1.0f - float(i);
  evit::kernels::activate_rows<Arch>(activation::relu, x.data(), rows, cols, ld);
  for (Index r = 0; r < rows; ++r)
    for (Index c = 0; c < ld && r * ld + c < x.size(); ++c) {
      CAPTURE(r, c);
      CHECK(x[r * ld + c] == (c < cols ? 0.0f : -1.0f - float(r * ld + c)));
    }
}

TEMPLATE_LIST_TEST_CASE("softmax_rows: matches double reference, rows sum to one",
                        "[kernels][softmax]", evit::test::archs) {
  using Arch = TestType;
  const Index L = evit::simd::lanes<float, Arch>();
  const Index rows = GENERATE(1, 3);
  const Index cols = GENERATE_COPY(1, 2, L - 1, L, L + 1, 3 * L + 2, 196);
  const double scale = GENERATE(1.0, 30.0);  // 30: logits up to +-30, exp would overflow unshifted
  const Index ld = evit::test::next_prime(cols + 1);
  CAPTURE(Arch::name(), rows, cols, ld, scale);
  evit::rng g(22);
  exact_buffer<float> x(evit::test::view_size(rows, cols, ld), 1);
  evit::test::fill_uniform(g, x, -scale, scale);
  std::vector<double> expect(rows * cols);
  ref::softmax_rows(rows, cols, x.data(), ld, expect.data(), cols);
  evit::kernels::softmax_rows<Arch>(rows, cols, x.data(), ld);
  // exp is a few ulps in xsimd and std; the normalisation adds a rounding per element and the
  // sum about cols u: relative 1e-6 + 4 cols u.
  evit::test::check_close("softmax", rows, cols, x.data(), ld, expect.data(), cols, 1e-9,
                          1e-6 + 4.0 * double(cols) * evit::test::unit_roundoff<float>());
  for (Index r = 0; r < rows; ++r) {
    double s = 0;
    for (Index c = 0; c < cols; ++c) s += x[r * ld + c];
    CHECK(std::fabs(s - 1.0) < 1e-5);
  }
}

TEMPLATE_LIST_TEST_CASE("softmax_rows: large and masked logits stay finite", "[kernels][softmax]",
                        evit::test::archs) {
  using Arch = TestType;
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {1000.f, 999.f, -inf, 1000.f, -1000.f, -inf, 3.f, 5.f, 7.f, 11.f, 13.f};
  const Index n = static_cast<Index>(x.size());
  std::vector<double> expect(n);
  ref::softmax_rows(1, n, x.data(), n, expect.data(), n);
  evit::kernels::softmax_rows<Arch>(1, n, x.data(), n);
  evit::test::check_close("softmax extremes", 1, n, x.data(), n, expect.data(), n, 1e-7, 1e-6);
}
