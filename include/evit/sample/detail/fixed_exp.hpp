// SPDX-License-Identifier: MIT
// Internal header: include <evit/sample/performance_aware.hpp> instead.
// Softmax weights in integer fixed point, so that a softmax-weighted draw picks the same entry on
// every platform: std::exp differs between C libraries, and GCC contracts a*b+c into an FMA under
// -mfma, so floating-point weights would not be bit-identical. Only single IEEE operations
// (a subtraction, a multiplication by a power of two, a truncation) touch doubles here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "evit/core/error.hpp"
#include "evit/core/rng.hpp"

namespace evit {
namespace sample {
namespace detail {

/// 2^-(2^-k) for k = 1..32, in Q63 (rounded to nearest).
inline constexpr std::uint64_t exp2_neg_pow2_q63[32] = {
    0x5a827999fcef3242ULL, 0x6ba27e656b4eb57aULL, 0x75606373ee921c97ULL, 0x7a92be8a92436616ULL,
    0x7d41d96db915019dULL, 0x7e9f06067a4360baULL, 0x7f4f08ae3dc7c426ULL, 0x7fa765aca88f6453ULL,
    0x7fd3ab290e46d769ULL, 0x7fe9d3a8e07bf086ULL, 0x7ff4e9597bed93abULL, 0x7ffa748dff8dc61fULL,
    0x7ffd3a3f50020332ULL, 0x7ffe9d1dbc0a75aaULL, 0x7fff4e8e6306ed59ULL, 0x7fffa74712c3cdfdULL,
    0x7fffd3a381b1fa29ULL, 0x7fffe9d1beed018aULL, 0x7ffff4e8defb81d7ULL, 0x7ffffa746f5f012fULL,
    0x7ffffd3a37a7d0a8ULL, 0x7ffffe9d1bd1fc58ULL, 0x7fffff4e8de8832dULL, 0x7fffffa746f422d7ULL,
    0x7fffffd3a37a09bbULL, 0x7fffffe9d1bd02f2ULL, 0x7ffffff4e8de80feULL, 0x7ffffffa746f4060ULL,
    0x7ffffffd3a37a028ULL, 0x7ffffffe9d1bd012ULL, 0x7fffffff4e8de809ULL, 0x7fffffffa746f404ULL};

/// log2(e) in Q26.
inline constexpr std::uint64_t log2e_q26 = 0x5c551d9ULL;

/// exp(x) for x <= 0 as an integer in Q(frac_bits), frac_bits <= 63 (so exp(0) = 2^frac_bits).
/// Relative error below 1e-7; exactly the same integer on every platform.
inline std::uint64_t exp_fixed(double x, int frac_bits) {
  EVIT_ASSERT(frac_bits >= 0 && frac_bits <= 63);
  if (!(x > -44.0)) return 0;  // exp(-44) < 2^-63: below the resolution (also catches NaN)
  if (x > 0.0) x = 0.0;
  // x in Q32 (multiplying by a power of two is exact; the conversion truncates toward zero).
  const std::uint64_t ax = static_cast<std::uint64_t>(-static_cast<std::int64_t>(x * 4294967296.0));
  // y = -x * log2(e) in Q32; ax < 44 * 2^32 < 2^38 and log2e_q26 < 2^27, so no overflow.
  const std::uint64_t y = (ax * log2e_q26) >> 26;
  const std::uint64_t whole = y >> 32;
  const std::uint64_t frac = y & 0xffffffffULL;
  // 2^-frac as a product over frac's set bits (bit 31 is 2^-1, bit 0 is 2^-32), in Q63.
  std::uint64_t r = std::uint64_t{1} << 63;
  for (int b = 31; b >= 0; --b)
    if ((frac >> b) & 1U) r = evit::detail::mul_high(r, exp2_neg_pow2_q63[31 - b]) << 1;
  const std::uint64_t shift = whole + static_cast<std::uint64_t>(63 - frac_bits);
  return shift >= 64 ? 0 : (r >> shift);
}

/// Index drawn with probability softmax(scores)[i], scores finite: weights exp(s_i - max s) in
/// fixed point, scaled so their sum fits in 64 bits, then one exact integer draw.
template <class Engine>
std::size_t pick_softmax(const std::vector<double>& scores, Engine& g) {
  if (scores.empty()) throw invalid_argument("evit: softmax draw from an empty list");
  double top = scores[0];
  for (double s : scores) top = s > top ? s : top;
  // Each weight <= 2^frac_bits and there are n of them: keep n * 2^frac_bits < 2^63.
  int bits = 0;
  while ((std::size_t{1} << bits) < scores.size()) ++bits;
  const int frac_bits = 62 - bits;
  std::vector<std::uint64_t> w(scores.size());
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    w[i] = exp_fixed(scores[i] - top, frac_bits);
    total += w[i];
  }
  // The top entry has weight 2^frac_bits > 0, so total > 0.
  std::uint64_t r = uniform_below(g, total);
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (r < w[i]) return i;
    r -= w[i];
  }
  return w.size() - 1;  // unreachable: r < total
}

}  // namespace detail
}  // namespace sample
}  // namespace evit
