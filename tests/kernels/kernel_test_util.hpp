// SPDX-License-Identifier: MIT
// Shared helpers of the kernel tests (docs/design.md#tests-against-double-references): the archs
// this build can run, exact-size buffers (so AddressSanitizer catches any read past a view), seeded
// random fills, and a comparison against a double reference that prints shape and index on failure.
#pragma once

#include <cmath>
#include <cstring>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "evit/core/index.hpp"
#include "evit/core/rng.hpp"
#include "evit/kernels/activation.hpp"
#include "evit/simd/arch.hpp"
#include "evit/simd/compat.hpp"
#include "evit/simd/isa.hpp"

#include "catch.hpp"

namespace evit::test {

/// The architecture every kernel test runs on: the dispatcher's (the tests are built with
/// EVIT_DISPATCH), i.e. the ISA the run asked for with --isa (ctest runs them once per ISA).
using archs = std::tuple<evit::simd::default_arch>;

/// Every activation the kernels take: GENERATE(from_range(every_activation)).
inline const std::vector<kernels::activation> every_activation = {
    kernels::activation::none,      kernels::activation::relu,
    kernels::activation::hardswish, kernels::activation::hardsigmoid,
    kernels::activation::gelu_erf,  kernels::activation::gelu_tanh};

/// Unit roundoff of T (2^-24 for float): the error of one rounded operation is at most u |x|.
template <class T>
constexpr double unit_roundoff() {
  return sizeof(T) == 4 ? 0x1.0p-24 : 0x1.0p-53;
}

/// A buffer of exactly `offset + n` elements whose data() starts `offset` elements in, so a
/// view of n elements ends exactly at the allocation's end (ASan reports any read past it) and
/// starts misaligned by `offset` elements.
template <class T>
class exact_buffer {
 public:
  exact_buffer(Index n, Index offset = 0)
      : v_(static_cast<std::size_t>(n + offset)), off_(offset) {}
  T* data() { return v_.data() + off_; }
  const T* data() const { return v_.data() + off_; }
  Index size() const { return static_cast<Index>(v_.size()) - off_; }
  T& operator[](Index i) { return data()[i]; }
  const T& operator[](Index i) const { return data()[i]; }

 private:
  std::vector<T> v_;
  Index off_;
};

/// Elements a rows x cols view with leading dimension ld needs: (rows - 1) * ld + cols.
inline Index view_size(Index rows, Index cols, Index ld) {
  return rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols;
}

/// Smallest prime >= n (prime leading dimensions, as XNNPACK's testers use).
inline Index next_prime(Index n) {
  if (n < 2) return 2;
  for (;; ++n) {
    bool prime = true;
    for (Index d = 2; d * d <= n; ++d)
      if (n % d == 0) {
        prime = false;
        break;
      }
    if (prime) return n;
  }
}

/// Fills x[0, n) with uniform values in [lo, hi).
template <class T>
void fill_uniform(evit::rng& g, T* x, Index n, double lo = -1.0, double hi = 1.0) {
  for (Index i = 0; i < n; ++i) x[i] = static_cast<T>(lo + (hi - lo) * evit::uniform_real(g));
}

template <class T>
void fill_uniform(evit::rng& g, exact_buffer<T>& b, double lo = -1.0, double hi = 1.0) {
  fill_uniform(g, b.data(), b.size(), lo, hi);
}

/// Compares got[r * ldg + c] with ref[r * ldr + c] for a rows x cols block: passes when
/// |got - ref| <= tol[r * ldr + c] (or `abs_tol` when tol is null) + rel_tol * |ref|. Reports the
/// number of mismatches and the first few with their index and `what` (the shape).
template <class T>
void check_close(const std::string& what, Index rows, Index cols, const T* got, Index ldg,
                 const double* ref, Index ldr, double abs_tol, double rel_tol = 0.0,
                 const double* tol = nullptr) {
  Index bad = 0;
  std::ostringstream first;
  for (Index r = 0; r < rows; ++r)
    for (Index c = 0; c < cols; ++c) {
      const double g = double(got[r * ldg + c]), e = ref[r * ldr + c];
      const double t = (tol ? tol[r * ldr + c] : abs_tol) + rel_tol * std::fabs(e);
      if (!(std::fabs(g - e) <= t)) {  // also catches NaN
        if (bad < 4)
          first << "  [" << r << ", " << c << "] got " << g << " expected " << e << " (tol " << t
                << ")\n";
        ++bad;
      }
    }
  INFO(what << ": " << bad << " of " << rows * cols << " outside tolerance\n" << first.str());
  CHECK(bad == 0);
}

/// Requires got[r * ldg + c] and want[r * ldw + c] to hold the same bits for a rows x cols block
/// (one computation run whole and in pieces): one assertion per block, reporting how many differ
/// and the first few. (An assertion per element was most of some tests' time under the
/// sanitizers and qemu: millions of them.)
template <class T>
void require_same_bits(const std::string& what, Index rows, Index cols, const T* got, Index ldg,
                       const T* want, Index ldw) {
  Index bad = 0;
  std::ostringstream first;
  for (Index r = 0; r < rows; ++r)
    for (Index c = 0; c < cols; ++c) {
      const T g = got[r * ldg + c], w = want[r * ldw + c];
      if (std::memcmp(&g, &w, sizeof(T)) != 0) {
        if (bad < 4) first << "  [" << r << ", " << c << "] got " << g << " expected " << w << "\n";
        ++bad;
      }
    }
  INFO(what << ": " << bad << " of " << rows * cols << " differ in their bits\n" << first.str());
  REQUIRE(bad == 0);
}

/// require_same_bits on n contiguous elements.
template <class T>
void require_same_bits(const std::string& what, Index n, const T* got, const T* want) {
  require_same_bits(what, 1, n, got, n, want, n);
}

}  // namespace evit::test
