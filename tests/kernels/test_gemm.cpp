// SPDX-License-Identifier: MIT
// kernels/gemm.hpp against reference::gemm_nt / gemm_nn: sizes around the tile and lane widths,
// prime leading dimensions, misaligned exact-size buffers, every epilogue feature.
#include <algorithm>
#include <cmath>
#include <vector>

#include "evit/kernels/gemm.hpp"
#include "evit/kernels/reference.hpp"

#include "kernel_test_util.hpp"

using evit::Index;
using evit::kernels::activation;
using evit::kernels::epilogue;
namespace ref = evit::kernels::reference;
using evit::test::exact_buffer;

namespace {

// Tolerance of a dot product of length K followed by the epilogue: recursive or blocked float
// summation errs by at most about K u sum|a_k b_k| (Higham, Accuracy and Stability, §3.1), the
// epilogue adds a few roundings of |scale * acc| + |biases| + |old|, and the activations are
// 1.2-Lipschitz at most. So tol = 2 (K + 8) u (that magnitude), computed by running the reference
// on absolute values; 1e-6 absolute covers the transcendental GELU approximations in xsimd.
template <class T>
std::vector<double> dot_tolerance(bool nt, Index M, Index N, Index K, const T* A, Index lda,
                                  const T* B, Index ldb, const epilogue<T>& ep, const T* old,
                                  Index ld_old) {
  auto absv = [](const T* p, Index n) {
    std::vector<T> v(p, p + n);
    for (auto& x : v) x = std::fabs(x);
    return v;
  };
  const Index na = evit::test::view_size(M, K, lda);
  const Index nb = nt ? evit::test::view_size(N, K, ldb) : evit::test::view_size(K, N, ldb);
  std::vector<T> a = absv(A, na), b = absv(B, nb);
  std::vector<T> rs = ep.row_scale ? absv(ep.row_scale, M) : std::vector<T>();
  std::vector<T> rb = ep.row_bias ? absv(ep.row_bias, M) : std::vector<T>();
  std::vector<T> cb = ep.col_bias ? absv(ep.col_bias, N) : std::vector<T>();
  std::vector<T> o = old ? absv(old, evit::test::view_size(M, N, ld_old)) : std::vector<T>();
  epilogue<T> e;
  e.alpha = std::fabs(ep.alpha);
  e.row_scale = ep.row_scale ? rs.data() : nullptr;
  e.row_bias = ep.row_bias ? rb.data() : nullptr;
  e.col_bias = ep.col_bias ? cb.data() : nullptr;
  e.accumulate = ep.accumulate;
  std::vector<double> mag(std::max<Index>(M * N, 1));
  if (nt)
    ref::gemm_nt(M, N, K, a.data(), lda, b.data(), ldb, mag.data(), N, e, old ? o.data() : nullptr,
                 ld_old);
  else
    ref::gemm_nn(M, N, K, a.data(), lda, b.data(), ldb, mag.data(), N, e, old ? o.data() : nullptr,
                 ld_old);
  const double u = evit::test::unit_roundoff<T>();
  for (auto& m : mag) m = 2.0 * double(K + 8) * u * m + 1e-6;
  return mag;
}

struct gemm_case {
  bool nt;
  Index M, N, K, off;
  activation act;
  bool row_scale, row_bias, col_bias, accumulate;
};

template <class Arch, class T>
void run_gemm_case(const gemm_case& c, evit::rng& g) {
  const Index lda = evit::test::next_prime(c.K + 1);
  const Index ldb = c.nt ? evit::test::next_prime(c.K + 2) : evit::test::next_prime(c.N + 1);
  const Index ldc = evit::test::next_prime(c.N + 3);
  CAPTURE(Arch::name(), c.nt, c.M, c.N, c.K, c.off, lda, ldb, ldc,
          evit::kernels::activation_name(c.act), c.row_scale, c.row_bias, c.col_bias, c.accumulate);
  exact_buffer<T> A(evit::test::view_size(c.M, c.K, lda), c.off);
  exact_buffer<T> B(
      c.nt ? evit::test::view_size(c.N, c.K, ldb) : evit::test::view_size(c.K, c.N, ldb), c.off);
  exact_buffer<T> C(evit::test::view_size(c.M, c.N, ldc), c.off);
  exact_buffer<T> rs(c.M), rb(c.M), cb(c.N);
  evit::test::fill_uniform(g, A.data(), Index(A.size()));
  evit::test::fill_uniform(g, B);
  evit::test::fill_uniform(g, C);
  evit::test::fill_uniform(g, rs.data(), Index(rs.size()), 0.5, 2.0);
  evit::test::fill_uniform(g, rb.data(), Index(rb.size()));
  evit::test::fill_uniform(g, cb);
  std::vector<T> old(C.data(), C.data() + C.size());
  epilogue<T> ep;
  ep.alpha = T(0.75);
  ep.row_scale = c.row_scale ? rs.data() : nullptr;
  ep.row_bias = c.row_bias ? rb.data() : nullptr;
  ep.col_bias = c.col_bias ? cb.data() : nullptr;
  ep.act = c.act;
  ep.accumulate = c.accumulate;
  std::vector<double> expect(std::max<Index>(c.M * c.N, 1));
  if (c.nt) {
    evit::kernels::gemm_nt<Arch>(c.M, c.N, c.K, A.data(), lda, B.data(), ldb, C.data(), ldc, ep);
    ref::gemm_nt(c.M, c.N, c.K, A.data(), lda, B.data(), ldb, expect.data(), c.N, ep, old.data(),
                 ldc);
  } else {
    const Index wsn = evit::kernels::gemm_nn_workspace_size<Arch, T>(c.K);
    exact_buffer<T> ws(wsn);
    evit::kernels::gemm_nn<Arch>(c.M, c.N, c.K, A.data(), lda, B.data(), ldb, C.data(), ldc, ep,
                                 ws.data(), wsn);
    ref::gemm_nn(c.M, c.N, c.K, A.data(), lda, B.data(), ldb, expect.data(), c.N, ep, old.data(),
                 ldc);
  }
  const auto tol =
      dot_tolerance(c.nt, c.M, c.N, c.K, A.data(), lda, B.data(), ldb, ep, old.data(), ldc);
  evit::test::check_close(c.nt ? "gemm_nt" : "gemm_nn", c.M, c.N, C.data(), ldc, expect.data(), c.N,
                          0.0, 0.0, tol.data());
  // Padding between rows (columns N..ldc-1) is never written.
  for (Index i = 0; i + 1 < c.M; ++i)
    for (Index j = c.N; j < ldc; ++j) {
      CAPTURE(i, j);
      REQUIRE(C[i * ldc + j] == old[i * ldc + j]);
    }
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("gemm_nt: matches double reference across tile edges", "[kernels][gemm]",
                        evit::test::archs) {
  using Arch = TestType;
  const Index L = evit::simd::lanes<float, Arch>();
  evit::rng g(11);
  const Index M = GENERATE(1, 2, 3, 4, 5, 7, 13);
  const Index N = GENERATE_COPY(1, 3, L - 1, L, L + 1, 2 * L + 3);
  const Index K = GENERATE_COPY(1, L - 1, L, L + 1, 2 * L + 5, 48);
  const Index off = GENERATE(0, 1);
  run_gemm_case<Arch, float>({true, M, N, K, off, activation::none, false, false, true, false}, g);
}

TEMPLATE_LIST_TEST_CASE("gemm_nn: matches double reference across tile edges", "[kernels][gemm]",
                        evit::test::archs) {
  using Arch = TestType;
  const Index L = evit::simd::lanes<float, Arch>();
  evit::rng g(12);
  // 29 and 57: whole and partial 28-row tiles of a last panel one vector wide (N = L, 2L + 1).
  const Index M = GENERATE(1, 2, 5, 6, 7, 13, 25, 29, 57);
  const Index N = GENERATE_COPY(1, L - 1, L, L + 1, 2 * L, 2 * L + 1, 4 * L + 3);
  const Index K = GENERATE(1, 2, 9, 27);
  const Index off = GENERATE(0, 3);
  run_gemm_case<Arch, float>({false, M, N, K, off, activation::none, true, true, false, false}, g);
}

TEMPLATE_LIST_TEST_CASE("gemm_nn: short reductions, epilogues and edges", "[kernels][gemm]",
                        evit::test::archs) {
  using Arch = TestType;
  const Index L = evit::simd::lanes<float, Arch>();
  evit::rng g(16);
  // Whole two-vector panels and a ragged last one, the expansions' short reductions (K 1-97:
  // 16-96 input channels; whole panels read in place up to nn_in_place_max_k, copied past it);
  // row counts that run as one row, 4 + 3 and 6 + 4 + 3.
  const Index M = GENERATE(1, 7, 13);
  const Index N = GENERATE_COPY(4 * L, 10 * L + 5);
  constexpr Index in_place = evit::kernels::gemm_tiles<float, Arch>::nn_in_place_max_k;
  const Index K = GENERATE_COPY(1, 24, in_place, in_place + 1, 96, 97);
  const int flags = GENERATE(0, 3, 4, 12, 15);
  run_gemm_case<Arch, float>({false, M, N, K, 1, activation::hardswish, (flags & 1) != 0,
                              (flags & 2) != 0, (flags & 4) != 0, (flags & 8) != 0},
                             g);
}

TEMPLATE_LIST_TEST_CASE("gemm_nn: rows a multiple of 4 KiB apart give the bits of packed rows",
                        "[kernels][gemm]", evit::test::archs) {
  // Planes of 32 x 32 (4 KiB) and 64 x 64: short reductions read in place, or copied where the
  // rows crowd one L1 set (gemm_tiles::nn_copy_set_aliased); either way the sums of a B whose
  // rows are contiguous, bit for bit, and the double reference's.
  using Arch = TestType;
  const Index L = evit::simd::lanes<float, Arch>();
  evit::rng g(17);
  const Index ldb = GENERATE(1024, 4096);
  const Index K = GENERATE(9, 16, 32);
  const Index M = 13, N = 4 * L + 3;
  CAPTURE(Arch::name(), ldb, K);
  std::vector<float> A(M * K), Bpacked(K * N), Bplane(K * ldb), rs(M), rb(M);
  evit::test::fill_uniform(g, A.data(), Index(A.size()));
  evit::test::fill_uniform(g, Bpacked.data(), Index(Bpacked.size()));
  evit::test::fill_uniform(g, rs.data(), Index(rs.size()), 0.5, 2.0);
  evit::test::fill_uniform(g, rb.data(), Index(rb.size()));
  for (Index k = 0; k < K; ++k) std::copy_n(Bpacked.begin() + k * N, N, Bplane.begin() + k * ldb);
  epilogue<float> ep;
  ep.row_scale = rs.data();
  ep.row_bias = rb.data();
  ep.act = activation::hardswish;
  const Index wsn = evit::kernels::gemm_nn_workspace_size<Arch, float>(K);
  std::vector<float> ws(wsn), from_packed(M * N), from_plane(M * N);
  evit::kernels::gemm_nn<Arch>(M, N, K, A.data(), K, Bpacked.data(), N, from_packed.data(), N, ep,
                               ws.data(), wsn);
  evit::kernels::gemm_nn<Arch>(M, N, K, A.data(), K, Bplane.data(), ldb, from_plane.data(), N, ep,
                               ws.data(), wsn);
  REQUIRE(from_plane == from_packed);
  std::vector<double> expect(M * N);
  ref::gemm_nn(M, N, K, A.data(), K, Bplane.data(), ldb, expect.data(), N, ep);
  evit::test::check_close("gemm_nn", M, N, from_plane.data(), N, expect.data(), N, 1e-5, 1e-5);
}

TEMPLATE_LIST_TEST_CASE("gemm: every epilogue feature and activation", "[kernels][gemm]",
                        evit::test::archs) {
  using Arch = TestType;
  evit::rng g(13);
  const bool nt = GENERATE(true, false);
  const activation act = GENERATE(from_range(evit::test::every_activation));
  const int flags = GENERATE(range(0, 16));
  run_gemm_case<Arch, float>({nt, 9, 21, 19, 1, act, (flags & 1) != 0, (flags & 2) != 0,
                              (flags & 4) != 0, (flags & 8) != 0},
                             g);
}

TEMPLATE_LIST_TEST_CASE("gemm: double precision and a zero-length reduction", "[kernels][gemm]",
                        evit::test::archs) {
  using Arch = TestType;
  evit::rng g(14);
  const bool nt = GENERATE(true, false);
  // Only float is dispatched: double runs on this program's own (baseline) architecture.
  run_gemm_case<evit::simd::native_arch, double>(
      {nt, 7, 11, 13, 1, activation::hardswish, true, true, true, true}, g);
  run_gemm_case<Arch, float>({nt, 3, 5, 0, 0, activation::none, false, true, true, true}, g);
}

TEMPLATE_LIST_TEST_CASE("gemm_nt: ElasticViT-sized products", "[kernels][gemm]",
                        evit::test::archs) {
  using Arch = TestType;
  evit::rng g(15);
  // (tokens, out, in): fc1 of T2 at R=128 (N = 64, C = 48, hidden = 5C), fc2 of T5, qkv of T4.
  const auto shape = GENERATE(std::vector<Index>{64, 240, 48}, std::vector<Index>{16, 320, 1600},
                              std::vector<Index>{16, 576, 144});
  run_gemm_case<Arch, float>(
      {true, shape[0], shape[1], shape[2], 0, activation::hardswish, false, false, true, true}, g);
}
