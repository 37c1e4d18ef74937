// SPDX-License-Identifier: MIT
// simd/isa.hpp: the dispatcher runs the ISA the test run asked for (ctest registers these tests
// once per ISA, tests/CMakeLists.txt), names are parsed strictly, and an ISA the CPU lacks is
// refused with the missing feature.
#include <string>

#include "evit/kernels/gemm.hpp"
#include "evit/simd/isa.hpp"

#include "catch.hpp"
#include "test_isa.hpp"

namespace simd = evit::simd;

TEST_CASE("dispatch: the kernels run on the ISA this run asked for", "[kernels][dispatch]") {
  const simd::isa active = simd::active_isa();
  INFO("active: " << simd::isa_description(active) << ", asked: " << evit::test::requested_isa());
  if (!evit::test::requested_isa().empty())
    CHECK(simd::isa_name(active) == evit::test::requested_isa());
  CHECK(simd::cpu_supports(active));
  CHECK(simd::carries(active));
  CHECK(simd::dispatched::name() == std::string("dispatched: ") + simd::isa_name(active));
  // The lanes the dispatched kernels use are those of the active ISA's architecture.
  const evit::Index lanes = simd::lanes<float, simd::dispatched>();
  CHECK(lanes == (active == simd::isa::avx512 ? 16 : active == simd::isa::avx2 ? 8 : 4));
  // Buffers sized for the dispatched arch fit the ISA that runs (and every other this program
  // carries: the dispatched sizes are the largest).
  const evit::Index needed = simd::dispatch(
      [](auto arch) { return evit::kernels::gemm_nn_workspace_size<decltype(arch), float>(10); });
  CHECK(evit::kernels::gemm_nn_workspace_size<simd::dispatched, float>(10) >= needed);
  CHECK(simd::lanes_v<float, simd::dispatched> >= lanes);
}

TEST_CASE("dispatch: ISA names are parsed strictly, a missing feature is named",
          "[kernels][dispatch]") {
  CHECK(simd::parse_isa("sse2") == simd::isa::sse2);
  CHECK(simd::parse_isa("avx512") == simd::isa::avx512);
  CHECK_THROWS_WITH(simd::parse_isa("AVX2"), "isa \"AVX2\": not one of sse2, avx2, avx512, neon");
  CHECK_THROWS_AS(simd::parse_isa(""), evit::invalid_argument);
  const simd::isa before = simd::active_isa();
  for (simd::isa i : {simd::isa::sse2, simd::isa::avx2, simd::isa::avx512, simd::isa::neon}) {
    CAPTURE(simd::isa_name(i));
    const std::string lacks = simd::cpu_lacks(i);
    if (lacks.empty() && simd::carries(i)) {
      CHECK_NOTHROW(simd::set_isa(i));
      CHECK(simd::active_isa() == i);
    } else if (!simd::carries(i)) {  // named first: no CPU could run what is not built in
      CHECK_THROWS_WITH(simd::set_isa(i),
                        Catch::Matchers::StartsWith(std::string("isa ") + simd::isa_name(i) +
                                                    ": this program carries the kernels of "));
      CHECK(simd::active_isa() != i);
    } else {
      CHECK_THROWS_WITH(simd::set_isa(i),
                        std::string("isa ") + simd::isa_name(i) + ": this CPU lacks " + lacks);
      CHECK(simd::active_isa() != i);  // refused: the choice is unchanged
    }
  }
  simd::set_isa(before);
  CHECK(simd::active_isa() == before);
}
