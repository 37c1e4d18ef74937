// SPDX-License-Identifier: MIT
// An exact rational number for non-integer choices such as AutoFormer's mlp ratio 3.5 (7/2).
// Always stored normalised: den > 0 and gcd(num, den) == 1, so == is value equality.
#pragma once

#include <cstdint>
#include <string>

namespace evit {

/// Exact rational num/den with 32-bit parts, always normalised.
/// @code
///   evit::rational r{7, 2};            // 3.5
///   int hidden = r.floor_times(192);   // floor(3.5 * 192) = 672, computed exactly
/// @endcode
class rational {
 public:
  constexpr rational() = default;
  constexpr rational(std::int32_t value) : num_(value), den_(1) {}  // NOLINT: implicit from int
  constexpr rational(std::int64_t num, std::int64_t den) { assign(num, den); }

  constexpr std::int32_t num() const { return num_; }
  constexpr std::int32_t den() const { return den_; }
  constexpr bool is_integer() const { return den_ == 1; }
  constexpr double to_double() const { return static_cast<double>(num_) / den_; }

  /// floor(this * x), exact in 64-bit arithmetic.
  constexpr std::int64_t floor_times(std::int64_t x) const {
    const std::int64_t p = static_cast<std::int64_t>(num_) * x;
    const std::int64_t q = p / den_;
    return (p % den_ != 0 && p < 0) ? q - 1 : q;
  }

  friend constexpr bool operator==(rational a, rational b) {
    return a.num_ == b.num_ && a.den_ == b.den_;
  }
  friend constexpr bool operator!=(rational a, rational b) { return !(a == b); }
  friend constexpr bool operator<(rational a, rational b) {
    return static_cast<std::int64_t>(a.num_) * b.den_ < static_cast<std::int64_t>(b.num_) * a.den_;
  }
  friend constexpr bool operator>(rational a, rational b) { return b < a; }
  friend constexpr bool operator<=(rational a, rational b) { return !(b < a); }
  friend constexpr bool operator>=(rational a, rational b) { return !(a < b); }

  /// "4" or "7/2".
  std::string to_string() const {
    return den_ == 1 ? std::to_string(num_) : std::to_string(num_) + "/" + std::to_string(den_);
  }

 private:
  static constexpr std::int64_t gcd(std::int64_t a, std::int64_t b) {
    a = a < 0 ? -a : a;
    b = b < 0 ? -b : b;
    while (b != 0) {
      const std::int64_t t = a % b;
      a = b;
      b = t;
    }
    return a;
  }
  constexpr void assign(std::int64_t num, std::int64_t den) {
    // Callers (parsers) reject den == 0 and out-of-range parts before constructing.
    if (den < 0) {
      num = -num;
      den = -den;
    }
    const std::int64_t g = gcd(num, den);
    if (g > 1) {
      num /= g;
      den /= g;
    }
    num_ = static_cast<std::int32_t>(num);
    den_ = static_cast<std::int32_t>(den == 0 ? 1 : den);
  }

  std::int32_t num_ = 0;
  std::int32_t den_ = 1;
};

}  // namespace evit
