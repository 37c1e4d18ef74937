// SPDX-License-Identifier: MIT
// kernels/transpose.hpp: every element moved exactly, on every ISA, for shapes around the
// vector's lanes (whole blocks, ragged rows, ragged columns, both) and a conv stage's map.
#include "evit/kernels/transpose.hpp"

#include "kernel_test_util.hpp"

using evit::Index;
using evit::test::exact_buffer;

TEMPLATE_LIST_TEST_CASE("transpose: y[j, i] = x[i, j], exactly, writing nothing else",
                        "[kernels][transpose]", evit::test::archs) {
  using Arch = TestType;
  const Index L = evit::simd::lanes<float, Arch>();
  const Index rows = GENERATE_COPY(0, 1, L - 1, L, L + 1, 2 * L + 3, 48);
  const Index cols = GENERATE_COPY(0, 1, L - 1, L, 3 * L + 2, 784);
  CAPTURE(Arch::name(), rows, cols);
  // Exact-size buffers (a read or write past either is a sanitizer error); values that differ
  // in every element, so a misplaced one cannot match.
  exact_buffer<float> x(rows * cols), y(rows * cols);
  for (Index e = 0; e < rows * cols; ++e) {
    x[e] = 1.0f + float(e) / 4096.0f;
    y[e] = -1.0f;
  }
  evit::kernels::transpose<Arch>(rows, cols, x.data(), y.data());
  Index bad = 0;
  for (Index i = 0; i < rows; ++i)
    for (Index j = 0; j < cols; ++j)
      if (y[j * rows + i] != x[i * cols + j]) ++bad;
  CHECK(bad == 0);
}

TEMPLATE_LIST_TEST_CASE(
    "transpose with leading dimensions: a block of x into a block of y, "
    "nothing outside them touched",
    "[kernels][transpose]", evit::test::archs) {
  // attention's kᵀ: N tokens x dqk columns of the qkv rows (ldx = the qkv width) into dqk x N.
  using Arch = TestType;
  const Index L = evit::simd::lanes<float, Arch>();
  const Index rows = GENERATE_COPY(1, L + 1, 196);
  const Index cols = GENERATE_COPY(1, L - 1, 16, 2 * L + 3);
  const Index ldx = cols + 5, ldy = rows + 3;
  CAPTURE(Arch::name(), rows, cols);
  exact_buffer<float> x(rows * ldx), y(cols * ldy);
  for (Index e = 0; e < rows * ldx; ++e) x[e] = 1.0f + float(e) / 4096.0f;
  for (Index e = 0; e < cols * ldy; ++e) y[e] = -1.0f;
  evit::kernels::transpose<Arch>(rows, cols, x.data(), ldx, y.data(), ldy);
  Index bad = 0, touched = 0;
  for (Index j = 0; j < cols; ++j)
    for (Index i = 0; i < ldy; ++i) {
      if (i < rows && y[j * ldy + i] != x[i * ldx + j]) ++bad;
      if (i >= rows && y[j * ldy + i] != -1.0f) ++touched;
    }
  CHECK(bad == 0);
  CHECK(touched == 0);
}
