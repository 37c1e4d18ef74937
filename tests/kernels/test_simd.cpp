// SPDX-License-Identifier: MIT
// simd/compat.hpp and simd/arch.hpp: the version shims and the arch list the tests run on.
#include <tuple>

#include "evit/simd/arch.hpp"
#include "evit/simd/compat.hpp"

#include "kernel_test_util.hpp"

using evit::Index;

TEST_CASE("simd::build_archs: lists the default arch first, all runnable on the build host",
          "[kernels][simd]") {
  STATIC_REQUIRE(std::tuple_size<evit::simd::build_archs>::value >= 1);
  STATIC_REQUIRE(std::is_same<std::tuple_element_t<0, evit::simd::build_archs>,
                              evit::simd::default_arch>::value);
  STATIC_REQUIRE(evit::simd::baseline_arch::supported());
  CHECK(evit::simd::is_available<evit::simd::baseline_arch>());
}

TEMPLATE_LIST_TEST_CASE("simd::reduce_add/max/min and transpose_add: lane-wise results",
                        "[kernels][simd]", evit::test::archs) {
  using Arch = TestType;
  EVIT_SKIP_UNAVAILABLE(Arch);
  using B = xsimd::batch<float, Arch>;
  constexpr Index L = evit::simd::lanes_v<float, Arch>;
  CAPTURE(Arch::name(), L);
  alignas(64) float lanes[64];
  for (Index i = 0; i < L; ++i) lanes[i] = float((i * 7) % L) - float(L) / 2;
  const B b = B::load_unaligned(lanes);
  float sum = 0, mx = lanes[0], mn = lanes[0];
  for (Index i = 0; i < L; ++i) {
    sum += lanes[i];
    mx = std::max(mx, lanes[i]);
    mn = std::min(mn, lanes[i]);
  }
  CHECK(evit::simd::reduce_add(b) == sum);  // small integers: exact in any order
  CHECK(evit::simd::reduce_max(b) == mx);
  CHECK(evit::simd::reduce_min(b) == mn);

  B rows[64];
  for (Index r = 0; r < L; ++r) {
    for (Index i = 0; i < L; ++i) lanes[i] = float(r * 100 + i);
    rows[r] = B::load_unaligned(lanes);
  }
  alignas(64) float out[64];
  evit::simd::transpose_add(rows).store_unaligned(out);
  for (Index r = 0; r < L; ++r) {
    CAPTURE(r);
    CHECK(out[r] == float(r * 100 * L + L * (L - 1) / 2));
  }
}
