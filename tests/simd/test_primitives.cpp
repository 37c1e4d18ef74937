// SPDX-License-Identifier: MIT
// Every xsimd primitive evit's kernels rely on, lane by lane, on the ISA this program is built for
// (tests/CMakeLists.txt builds it once per ISA with that ISA's flags and runs it only where the
// CPU has it: a dispatcher cannot test xsimd itself). Exact where IEEE arithmetic is exact
// (loads, stores, +, -, *, /, min, max, fma, sums of small integers), bounded in ulps or absolute
// error where xsimd approximates (exp, erf, tanh; division on NEON), and evit's own shuffles
// (simd::transpose), and the conversions and integer lanes of softmax's exp
// (simd::exp_nonpositive), evit's masked loads and stores (simd::load_partial, store_partial,
// load_masked). evit uses no swizzles or shuffles of xsimd's; add them here before a kernel uses
// them (simd::split_even_odd, split_even_odd_padded, even_odd_lanes and lanes_from: its own
// shuffles).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "evit/core/rng.hpp"
#include "evit/kernels/softmax.hpp"
#include "evit/simd/arch.hpp"
#include "evit/simd/compat.hpp"

#include "catch.hpp"

namespace {

using Arch = evit::simd::native_arch;
using B = xsimd::batch<float, Arch>;
constexpr int L = static_cast<int>(B::size);
static_assert(L == evit::simd::lanes_v<float, Arch>, "simd::lanes_v disagrees with xsimd");

struct lanes_t {
  alignas(64) float v[64];
};

lanes_t store(const B& b) {
  lanes_t out;
  b.store_aligned(out.v);
  return out;
}

B load(const std::vector<float>& x, int offset = 0) { return B::load_unaligned(x.data() + offset); }

std::vector<float> random_floats(evit::rng& g, int n, double lo, double hi) {
  std::vector<float> x(static_cast<std::size_t>(n));
  for (auto& v : x) v = static_cast<float>(lo + (hi - lo) * evit::uniform_real(g));
  return x;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

/// Distance in units in the last place between two finite floats of the same sign.
double ulps(float a, float b) {
  if (a == b) return 0;
  std::int32_t ia, ib;
  std::memcpy(&ia, &a, 4);
  std::memcpy(&ib, &b, 4);
  if ((ia < 0) != (ib < 0)) return std::numeric_limits<double>::infinity();
  return std::fabs(double(ia) - double(ib));
}

}  // namespace

TEST_CASE("simd: this program's ISA", "[simd]") {
  INFO("arch " << Arch::name() << ", " << L << " float lanes");
  CHECK(L * 4 == static_cast<int>(Arch::alignment()));
}

TEST_CASE("simd: unaligned and aligned loads and stores, broadcast", "[simd]") {
  CAPTURE(Arch::name());
  std::vector<float> x(static_cast<std::size_t>(3 * L));
  for (int i = 0; i < 3 * L; ++i) x[static_cast<std::size_t>(i)] = float(i) + 0.25f;
  for (int off = 0; off < L; ++off) {
    const lanes_t got = store(load(x, off));
    for (int i = 0; i < L; ++i) {
      CAPTURE(off, i);
      CHECK(same_bits(got.v[i], x[static_cast<std::size_t>(off + i)]));
    }
  }
  lanes_t aligned;
  for (int i = 0; i < L; ++i) aligned.v[i] = -float(i);
  std::vector<float> out(static_cast<std::size_t>(L + 1), 7.f);
  B::load_aligned(aligned.v).store_unaligned(out.data() + 1);
  CHECK(out[0] == 7.f);
  for (int i = 0; i < L; ++i) CHECK(out[static_cast<std::size_t>(i + 1)] == -float(i));
  const lanes_t bc = store(B(3.5f));
  for (int i = 0; i < L; ++i) CHECK(bc.v[i] == 3.5f);
}

TEST_CASE("simd: +, -, *, /, min, max and fma are IEEE-exact per lane (/ on NEON: 2 ulp)",
          "[simd]") {
  CAPTURE(Arch::name());
  evit::rng g(11);
  for (int rep = 0; rep < 50; ++rep) {
    const auto a = random_floats(g, L, -100, 100), b = random_floats(g, L, -100, 100),
               c = random_floats(g, L, -100, 100);
    const B va = load(a), vb = load(b), vc = load(c);
    const lanes_t add = store(va + vb), sub = store(va - vb), mul = store(va * vb),
                  div = store(va / vb), mn = store(xsimd::min(va, vb)),
                  mx = store(xsimd::max(va, vb)), f = store(evit::simd::fma(va, vb, vc));
    for (int i = 0; i < L; ++i) {
      const auto k = static_cast<std::size_t>(i);
      CAPTURE(rep, i, a[k], b[k], c[k]);
      CHECK(same_bits(add.v[i], a[k] + b[k]));
      CHECK(same_bits(sub.v[i], a[k] - b[k]));
      CHECK(same_bits(mul.v[i], a[k] * b[k]));
#if XSIMD_WITH_NEON
      // xsimd's NEON division is a reciprocal estimate refined by Newton steps (evit's kernels
      // divide no batches; xsimd's erf and tanh do, within the bound checked below).
      CHECK(ulps(div.v[i], a[k] / b[k]) <= 2);
#else
      CHECK(same_bits(div.v[i], a[k] / b[k]));
#endif
      CHECK(mn.v[i] == std::min(a[k], b[k]));
      CHECK(mx.v[i] == std::max(a[k], b[k]));
      // With FMA hardware xsimd::fma rounds once (std::fma); on SSE2 it is a * b + c, rounded
      // twice.
#if XSIMD_WITH_FMA3_AVX2 || XSIMD_WITH_AVX512F || XSIMD_WITH_NEON64
      CHECK(same_bits(f.v[i], std::fma(a[k], b[k], c[k])));
#else
      CHECK(same_bits(f.v[i], a[k] * b[k] + c[k]));
#endif
    }
  }
}

TEST_CASE("simd: reduce_add, reduce_max, reduce_min", "[simd]") {
  CAPTURE(Arch::name());
  evit::rng g(5);
  for (int rep = 0; rep < 50; ++rep) {
    std::vector<float> x(static_cast<std::size_t>(L));
    for (auto& v : x) v = float(evit::uniform_int(g, -1000, 1000));  // sums exact in any order
    const B b = load(x);
    float sum = 0, mx = x[0], mn = x[0];
    for (float v : x) {
      sum += v;
      mx = std::max(mx, v);
      mn = std::min(mn, v);
    }
    CAPTURE(rep);
    CHECK(evit::simd::reduce_add(b) == sum);
    CHECK(evit::simd::reduce_max(b) == mx);
    CHECK(evit::simd::reduce_min(b) == mn);
    // Real values: within the error bound of any summation order, L u sum |x|.
    const auto r = random_floats(g, L, -1, 1);
    double exact = 0, mag = 0;
    for (float v : r) {
      exact += v;
      mag += std::fabs(v);
    }
    CHECK(std::fabs(double(evit::simd::reduce_add(load(r))) - exact) <= L * 0x1.0p-24 * mag);
  }
}

TEST_CASE("simd: transpose_add puts the sum of row i in lane i", "[simd]") {
  CAPTURE(Arch::name());
  evit::rng g(3);
  for (int rep = 0; rep < 20; ++rep) {
    B rows[64];
    std::vector<float> expected(static_cast<std::size_t>(L));
    for (int r = 0; r < L; ++r) {
      std::vector<float> x(static_cast<std::size_t>(L));
      float s = 0;
      for (auto& v : x) {
        v = float(evit::uniform_int(g, -100, 100)) + float(r * 1000);  // distinct row sums
        s += v;
      }
      rows[r] = load(x);
      expected[static_cast<std::size_t>(r)] = s;
    }
    const lanes_t got = store(evit::simd::transpose_add(rows));
    for (int i = 0; i < L; ++i) {
      CAPTURE(rep, i);
      CHECK(got.v[i] == expected[static_cast<std::size_t>(i)]);
    }
  }
}

TEST_CASE("simd: transpose swaps rows and lanes, bit for bit", "[simd]") {
  CAPTURE(Arch::name());
  B rows[64];
  for (int r = 0; r < L; ++r) {
    std::vector<float> x(static_cast<std::size_t>(L));
    for (int j = 0; j < L; ++j) x[static_cast<std::size_t>(j)] = float(r * 100 + j) + 0.5f;
    rows[r] = load(x);
  }
  evit::simd::transpose(rows);
  for (int r = 0; r < L; ++r) {
    const lanes_t got = store(rows[r]);
    for (int j = 0; j < L; ++j) {
      CAPTURE(r, j);
      CHECK(same_bits(got.v[j], float(j * 100 + r) + 0.5f));
    }
  }
}

TEST_CASE("simd: split_even_odd puts x[2j] in even[j] and x[2j + 1] in odd[j], bit for bit",
          "[simd]") {
  CAPTURE(Arch::name());
  // Unaligned source and destinations, guard elements around each written run.
  std::vector<float> x(static_cast<std::size_t>(2 * L + 3)),
      even(static_cast<std::size_t>(L + 2), -1.f), odd(static_cast<std::size_t>(L + 2), -2.f);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = float(i) * 1.25f - 7.5f;
  evit::simd::split_even_odd<float, Arch>(x.data() + 1, even.data() + 1, odd.data() + 1);
  CHECK(same_bits(even[0], -1.f));
  CHECK(same_bits(odd[0], -2.f));
  CHECK(same_bits(even[static_cast<std::size_t>(L + 1)], -1.f));
  CHECK(same_bits(odd[static_cast<std::size_t>(L + 1)], -2.f));
  for (int j = 0; j < L; ++j) {
    CAPTURE(j);
    CHECK(same_bits(even[static_cast<std::size_t>(j + 1)], x[static_cast<std::size_t>(2 * j + 1)]));
    CHECK(same_bits(odd[static_cast<std::size_t>(j + 1)], x[static_cast<std::size_t>(2 * j + 2)]));
  }
}

TEST_CASE("simd: split_even_odd_padded splits the first 2n values, then zeros, bit for bit",
          "[simd]") {
  CAPTURE(Arch::name());
  for (int n = 0; n <= L; ++n) {
    CAPTURE(n);
    // Exactly 2n source values (a read past them would be a read past the buffer under the
    // sanitizers); L values written to each output, then a guard element.
    std::vector<float> x(static_cast<std::size_t>(2 * n)),
        even(static_cast<std::size_t>(L + 1), -1.f), odd(static_cast<std::size_t>(L + 1), -2.f);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = float(i) * 0.75f + 3.25f;
    evit::simd::split_even_odd_padded<float, Arch>(x.data(), n, even.data(), odd.data());
    for (int j = 0; j < L; ++j) {
      CAPTURE(j);
      const auto i = static_cast<std::size_t>(j);
      CHECK(same_bits(even[i], j < n ? x[2 * i] : 0.f));
      CHECK(same_bits(odd[i], j < n ? x[2 * i + 1] : 0.f));
    }
    CHECK(same_bits(even[static_cast<std::size_t>(L)], -1.f));
    CHECK(same_bits(odd[static_cast<std::size_t>(L)], -2.f));
  }
}

TEST_CASE("simd: exp within 4 ulp over the range softmax uses, 0 below it", "[simd]") {
  CAPTURE(Arch::name());
  double worst = 0;
  float worst_at = 0;
  for (int i = 0; i <= 40000; i += L) {
    std::vector<float> x(static_cast<std::size_t>(L));
    for (int j = 0; j < L; ++j)
      x[static_cast<std::size_t>(j)] = -87.f + 175.f * float(i + j) / 40000.f;
    const lanes_t got = store(xsimd::exp(load(x)));
    for (int j = 0; j < L; ++j) {
      const float want = static_cast<float>(std::exp(double(x[static_cast<std::size_t>(j)])));
      const double u = ulps(got.v[j], want);
      if (u > worst) {
        worst = u;
        worst_at = x[static_cast<std::size_t>(j)];
      }
    }
  }
  INFO("worst " << worst << " ulp at x = " << worst_at);
  CHECK(worst <= 4);
  const lanes_t minus_inf = store(xsimd::exp(B(-std::numeric_limits<float>::infinity())));
  for (int i = 0; i < L; ++i) CHECK(minus_inf.v[i] == 0.f);
}

TEST_CASE("simd: erf and tanh within 2e-7 absolute (the GELUs)", "[simd]") {
  CAPTURE(Arch::name());
  double worst_erf = 0, worst_tanh = 0;
  for (int i = 0; i <= 20000; i += L) {
    std::vector<float> x(static_cast<std::size_t>(L));
    for (int j = 0; j < L; ++j)
      x[static_cast<std::size_t>(j)] = -10.f + 20.f * float(i + j) / 20000.f;
    const lanes_t e = store(xsimd::erf(load(x))), t = store(xsimd::tanh(load(x)));
    for (int j = 0; j < L; ++j) {
      const double v = x[static_cast<std::size_t>(j)];
      worst_erf = std::max(worst_erf, std::fabs(double(e.v[j]) - std::erf(v)));
      worst_tanh = std::max(worst_tanh, std::fabs(double(t.v[j]) - std::tanh(v)));
    }
  }
  INFO("worst |erf - std::erf| " << worst_erf << ", |tanh - std::tanh| " << worst_tanh);
  CHECK(worst_erf <= 2e-7);
  CHECK(worst_tanh <= 2e-7);
}

TEST_CASE("simd: float <-> int32 conversions, integer add and shift, bit casts", "[simd]") {
  CAPTURE(Arch::name());
  using I = xsimd::batch<std::int32_t, Arch>;
  std::vector<float> x(static_cast<std::size_t>(L));
  for (int j = 0; j < L; ++j) x[static_cast<std::size_t>(j)] = -130.5f + 37.25f * float(j);
  alignas(64) std::int32_t k[64];
  xsimd::nearbyint_as_int(load(x)).store_aligned(k);
  const lanes_t back = store(xsimd::to_float(I::load_aligned(k)));
  const lanes_t pow2 = store(xsimd::bitwise_cast<B>((I::load_aligned(k) + I(127)) << 23));
  for (int j = 0; j < L; ++j) {
    const float v = x[static_cast<std::size_t>(j)];
    CAPTURE(j, v);
    CHECK(k[j] == static_cast<std::int32_t>(std::nearbyint(v)));  // ties to even
    CHECK(same_bits(back.v[j], static_cast<float>(k[j])));
    if (k[j] >= -126 && k[j] <= 127) CHECK(same_bits(pow2.v[j], std::ldexp(1.0f, k[j])));
  }
}

TEST_CASE("simd: exp_nonpositive within 2 ulp of exp down to log(2^-126), then 0; NaN stays",
          "[simd]") {
  CAPTURE(Arch::name());
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {0.0f,    -0.0f,    -1e-8f,    -0.5f,  -0.6931472f, -1.0f,  -10.0f,
                          -87.33f, -87.336f, -87.3366f, -88.0f, -100.0f,     -1e30f, -inf};
  for (int i = 0; i <= 60000; ++i) x.push_back(-90.f * float(i) / 60000.f);
  while (static_cast<int>(x.size()) % L) x.push_back(-1.0f);
  const double smallest_normal = double(std::numeric_limits<float>::min());
  double worst = 0;
  float worst_at = 0;
  for (std::size_t i = 0; i < x.size(); i += static_cast<std::size_t>(L)) {
    const lanes_t got = store(evit::simd::exp_nonpositive(load(x, static_cast<int>(i))));
    for (int j = 0; j < L; ++j) {
      const float v = x[i + static_cast<std::size_t>(j)];
      const double e = std::exp(double(v));
      if (e >= smallest_normal) {
        const double u = ulps(got.v[j], static_cast<float>(e));
        if (u > worst) {
          worst = u;
          worst_at = v;
        }
      } else {
        CAPTURE(v, got.v[j]);
        CHECK((got.v[j] >= 0.0f && std::fabs(double(got.v[j]) - e) < smallest_normal));
      }
    }
  }
  INFO("worst " << worst << " ulp at x = " << worst_at);
  CHECK(worst <= 2);
#if XSIMD_WITH_FMA3_AVX2 || XSIMD_WITH_AVX512F || XSIMD_WITH_NEON64
  // Every ISA's path (AVX-512's rounds and scales with its own instructions) gives the bits of
  // the same steps done one float at a time, with fused multiply-adds.
  auto model = [](float v) {
    if (v < -87.3365478515625f) return 0.0f;
    const float k = std::nearbyint(v * 1.44269504088896341f);
    float r = std::fma(k, -0.693359375f, v);
    r = std::fma(k, 2.12194440e-4f, r);
    float p = std::fma(1.3997796e-03f, r, 8.3955629e-03f);
    p = std::fma(p, r, 4.1665401e-02f);
    p = std::fma(p, r, 1.6666277e-01f);
    p = std::fma(p, r, 5.0000000e-01f);
    p = std::fma(p, r * r, r) + 1.0f;
    return p * std::ldexp(1.0f, static_cast<int>(k));
  };
  int differ = 0;
  for (std::size_t i = 0; i < x.size(); i += static_cast<std::size_t>(L)) {
    const lanes_t got = store(evit::simd::exp_nonpositive(load(x, static_cast<int>(i))));
    for (int j = 0; j < L; ++j) {
      const float v = x[i + static_cast<std::size_t>(j)];
      if (!same_bits(got.v[j], model(v)) && ++differ <= 5) CHECK(same_bits(got.v[j], model(v)));
    }
  }
  CHECK(differ == 0);
#endif
  const lanes_t nan =
      store(evit::simd::exp_nonpositive(B(std::numeric_limits<float>::quiet_NaN())));
  for (int j = 0; j < L; ++j) CHECK(std::isnan(nan.v[j]));
}

TEST_CASE("softmax_row_unnormalised: exp(x + bias - max) in whole vectors, returns 1 / sum",
          "[simd][softmax]") {
  using evit::Index;
  const Index n = GENERATE(Index(1), Index(L - 1), Index(L), Index(L + 1), Index(49), Index(196));
  const bool with_bias = GENERATE(false, true);
  const Index padded = evit::kernels::detail::whole_vectors<Arch, float>(n);
  CAPTURE(Arch::name(), n, padded, with_bias);
  REQUIRE(padded % L == 0);
  REQUIRE((padded >= n && padded < n + L));
  evit::rng g(24);
  std::vector<float> x = random_floats(g, int(padded), -30.0, 30.0);
  std::vector<float> bias = random_floats(g, int(padded), -1.0, 1.0);
  for (Index i = n; i < padded; ++i) x[std::size_t(i)] = bias[std::size_t(i)] = 1e30f;  // ignored
  std::vector<double> p(static_cast<std::size_t>(n));
  double m = -std::numeric_limits<double>::infinity(), s = 0;
  for (Index i = 0; i < n; ++i) {
    p[std::size_t(i)] = double(x[std::size_t(i)]) + (with_bias ? double(bias[std::size_t(i)]) : 0);
    m = std::max(m, p[std::size_t(i)]);
  }
  for (double& v : p) s += (v = std::exp(v - m));
  const float inv = evit::kernels::detail::softmax_row_unnormalised<Arch>(
      x.data(), with_bias ? bias.data() : nullptr, n);
  CHECK(std::fabs(double(inv) * s - 1.0) < 1e-6);
  for (Index i = 0; i < n; ++i) {
    CAPTURE(i);
    // x + bias - max rounds to an ulp of 60 (4e-6 absolute), which exp turns into relative error.
    CHECK(std::fabs(double(x[std::size_t(i)]) - p[std::size_t(i)]) <=
          2e-5 * p[std::size_t(i)] + 1e-30);
  }
  for (Index i = n; i < padded; ++i) CHECK(x[std::size_t(i)] == 0.0f);
}

TEST_CASE("simd: load_partial and store_partial touch exactly the first n lanes", "[simd]") {
  CAPTURE(Arch::name());
  for (int n = 0; n <= L; ++n) {
    CAPTURE(n);
    std::vector<float> src(static_cast<std::size_t>(2 * L));
    for (int j = 0; j < 2 * L; ++j) src[static_cast<std::size_t>(j)] = float(j) + 0.25f;
    const lanes_t got = store(evit::simd::load_partial<Arch>(src.data(), n));
    for (int j = 0; j < L; ++j) CHECK(same_bits(got.v[j], j < n ? float(j) + 0.25f : 0.0f));
    std::vector<float> dst(static_cast<std::size_t>(2 * L), -7.0f);
    evit::simd::store_partial(B(3.5f), dst.data(), n);
    for (int j = 0; j < 2 * L; ++j)
      CHECK(dst[static_cast<std::size_t>(j)] == (j < n ? 3.5f : -7.0f));
  }
}

TEST_CASE("simd: load_masked reads exactly the lanes lane_bits sets, the others 0", "[simd]") {
  CAPTURE(Arch::name());
  CHECK(evit::simd::lane_bits(0, 0) == 0u);
  CHECK(evit::simd::lane_bits(2, 5) == 0x1cu);
  CHECK(evit::simd::lane_bits(5, 2) == 0u);
  CHECK(evit::simd::lane_bits(0, 32) == ~0u);
  for (int lo = 0; lo <= L; ++lo)
    for (int hi = lo; hi <= L; ++hi) {
      CAPTURE(lo, hi);
      // Exactly the hi - lo values read (a read of another lane would be past the buffer under
      // the sanitizers), at lanes lo .. hi - 1 of a vector that starts before the buffer.
      std::vector<float> src(static_cast<std::size_t>(std::max(1, hi - lo)));
      for (int j = lo; j < hi; ++j) src[static_cast<std::size_t>(j - lo)] = float(j) * 1.5f - 4.f;
      const auto at = reinterpret_cast<const float*>(reinterpret_cast<std::uintptr_t>(src.data()) -
                                                     sizeof(float) * std::size_t(lo));
      const lanes_t got = store(evit::simd::load_masked<Arch>(at, evit::simd::lane_bits(lo, hi)));
      for (int j = 0; j < L; ++j)
        CHECK(same_bits(got.v[j], j >= lo && j < hi ? float(j) * 1.5f - 4.f : 0.0f));
    }
}

namespace {
template <int N>
void check_lanes_from(const B& a, const B& b, const std::vector<float>& ab) {
  CAPTURE(N);
  const lanes_t got = store(evit::simd::lanes_from<N>(a, b));
  for (int j = 0; j < L; ++j) CHECK(same_bits(got.v[j], ab[static_cast<std::size_t>(N + j)]));
}
}  // namespace

TEST_CASE("simd: even_odd_lanes and lanes_from rearrange two vectors, bit for bit", "[simd]") {
  CAPTURE(Arch::name());
  std::vector<float> ab(static_cast<std::size_t>(2 * L));
  for (int j = 0; j < 2 * L; ++j) ab[static_cast<std::size_t>(j)] = float(j) * -0.75f + 2.5f;
  const B a = load(ab), b = load(ab, L);
  const auto [even, odd] = evit::simd::even_odd_lanes(a, b);
  const lanes_t e = store(even), o = store(odd);
  for (int j = 0; j < L; ++j) {
    CAPTURE(j);
    CHECK(same_bits(e.v[j], ab[static_cast<std::size_t>(2 * j)]));
    CHECK(same_bits(o.v[j], ab[static_cast<std::size_t>(2 * j + 1)]));
  }
  check_lanes_from<0>(a, b, ab);
  check_lanes_from<1>(a, b, ab);
  check_lanes_from<2>(a, b, ab);
  check_lanes_from<L - 1>(a, b, ab);
}
