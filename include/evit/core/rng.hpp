// SPDX-License-Identifier: MIT
// Portable randomness: xoshiro256** seeded through splitmix64, and evit's own integer and real
// distributions. A seed means the same sequence on every platform, compiler and standard library
// (std:: distributions are implementation-defined, so evit never uses them).
#pragma once

#include <cstdint>

#include "evit/core/index.hpp"

namespace evit {

/// splitmix64: expands one 64-bit seed into well-mixed words (Steele, Lea, Flood 2014).
class splitmix64 {
 public:
  explicit constexpr splitmix64(std::uint64_t seed) : state_(seed) {}
  constexpr std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  std::uint64_t state_;
};

/// xoshiro256** 1.0 (Blackman, Vigna 2018): evit's one random engine. Satisfies
/// UniformRandomBitGenerator, and its full state can be saved and restored.
class rng {
 public:
  using result_type = std::uint64_t;
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~result_type{0}; }

  explicit constexpr rng(std::uint64_t seed = 0) : s_{} { reseed(seed); }

  constexpr void reseed(std::uint64_t seed) {
    splitmix64 sm(seed);
    for (auto& w : s_) w = sm.next();
  }

  constexpr result_type operator()() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  /// The raw state, for checkpointing a search or a sampler.
  constexpr std::uint64_t state(int i) const { return s_[i]; }
  constexpr void set_state(int i, std::uint64_t v) { s_[i] = v; }

  friend constexpr bool operator==(const rng& a, const rng& b) {
    return a.s_[0] == b.s_[0] && a.s_[1] == b.s_[1] && a.s_[2] == b.s_[2] && a.s_[3] == b.s_[3];
  }

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

namespace detail {
/// High 64 bits of a 64x64-bit product, in portable arithmetic.
constexpr std::uint64_t mul_high(std::uint64_t a, std::uint64_t b) {
  const std::uint64_t a_lo = a & 0xffffffffULL, a_hi = a >> 32;
  const std::uint64_t b_lo = b & 0xffffffffULL, b_hi = b >> 32;
  const std::uint64_t lo_lo = a_lo * b_lo;
  const std::uint64_t hi_lo = a_hi * b_lo;
  const std::uint64_t lo_hi = a_lo * b_hi;
  const std::uint64_t hi_hi = a_hi * b_hi;
  const std::uint64_t cross = (lo_lo >> 32) + (hi_lo & 0xffffffffULL) + lo_hi;
  return hi_hi + (hi_lo >> 32) + (cross >> 32);
}
}  // namespace detail

/// A uniform integer in [0, n), n >= 1, by Lemire's multiply-and-reject method (unbiased; the
/// rejection branch runs with probability < n / 2^64, so the expected number of draws is ~1).
template <class Engine>
constexpr std::uint64_t uniform_below(Engine& g, std::uint64_t n) {
  EVIT_ASSERT(n >= 1);
  std::uint64_t x = g();
  std::uint64_t hi = detail::mul_high(x, n);
  std::uint64_t lo = x * n;
  if (lo < n) {
    const std::uint64_t threshold = (0 - n) % n;
    while (lo < threshold) {
      x = g();
      hi = detail::mul_high(x, n);
      lo = x * n;
    }
  }
  return hi;
}

/// A uniform integer in [lo, hi] (both inclusive), lo <= hi.
template <class Engine>
constexpr std::int64_t uniform_int(Engine& g, std::int64_t lo, std::int64_t hi) {
  EVIT_ASSERT(lo <= hi);
  const std::uint64_t span = static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo);
  if (span == ~std::uint64_t{0}) return static_cast<std::int64_t>(g());
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(lo) + uniform_below(g, span + 1));
}

/// A uniform double in [0, 1) with 53 random bits.
template <class Engine>
constexpr double uniform_real(Engine& g) {
  return static_cast<double>(g() >> 11) * 0x1.0p-53;
}

/// True with probability p (p <= 0: never, p >= 1: always).
template <class Engine>
constexpr bool bernoulli(Engine& g, double p) {
  return uniform_real(g) < p;
}

}  // namespace evit
