// SPDX-License-Identifier: MIT
// A small arbitrary-precision unsigned integer, only for exact counts of subnets: a layer-wise
// space easily exceeds 2^64 (the official ElasticViT space made layer-wise has about 10^38).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace evit {

/// Unsigned integer of any size: +, *, comparison, decimal string. Little-endian base 2^32.
class big_uint {
 public:
  big_uint() = default;
  big_uint(std::uint64_t v) {  // NOLINT: implicit from an integer, like a built-in type
    while (v != 0) {
      limbs_.push_back(static_cast<std::uint32_t>(v));
      v >>= 32;
    }
  }

  bool is_zero() const { return limbs_.empty(); }

  friend big_uint operator+(const big_uint& a, const big_uint& b) {
    big_uint r;
    const std::size_t n = std::max(a.limbs_.size(), b.limbs_.size());
    r.limbs_.resize(n + 1, 0);
    std::uint64_t carry = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t s = carry + a.limb(i) + b.limb(i);
      r.limbs_[i] = static_cast<std::uint32_t>(s);
      carry = s >> 32;
    }
    r.limbs_[n] = static_cast<std::uint32_t>(carry);
    r.trim();
    return r;
  }
  big_uint& operator+=(const big_uint& b) { return *this = *this + b; }

  friend big_uint operator*(const big_uint& a, const big_uint& b) {
    big_uint r;
    if (a.is_zero() || b.is_zero()) return r;
    r.limbs_.assign(a.limbs_.size() + b.limbs_.size(), 0);
    for (std::size_t i = 0; i < a.limbs_.size(); ++i) {
      std::uint64_t carry = 0;
      for (std::size_t j = 0; j < b.limbs_.size(); ++j) {
        const std::uint64_t t =
            static_cast<std::uint64_t>(a.limbs_[i]) * b.limbs_[j] + r.limbs_[i + j] + carry;
        r.limbs_[i + j] = static_cast<std::uint32_t>(t);
        carry = t >> 32;
      }
      r.limbs_[i + b.limbs_.size()] = static_cast<std::uint32_t>(carry);
    }
    r.trim();
    return r;
  }
  big_uint& operator*=(const big_uint& b) { return *this = *this * b; }

  friend bool operator==(const big_uint& a, const big_uint& b) { return a.limbs_ == b.limbs_; }
  friend bool operator!=(const big_uint& a, const big_uint& b) { return !(a == b); }
  friend bool operator<(const big_uint& a, const big_uint& b) {
    if (a.limbs_.size() != b.limbs_.size()) return a.limbs_.size() < b.limbs_.size();
    return std::lexicographical_compare(a.limbs_.rbegin(), a.limbs_.rend(), b.limbs_.rbegin(),
                                        b.limbs_.rend());
  }

  /// True when the value fits in 64 bits.
  bool fits_u64() const { return limbs_.size() <= 2; }
  std::uint64_t to_u64() const { return (static_cast<std::uint64_t>(limb(1)) << 32) | limb(0); }

  /// Nearest double (for log-scale displays; not exact above 2^53).
  double to_double() const {
    double d = 0;
    for (std::size_t i = limbs_.size(); i-- > 0;) d = d * 4294967296.0 + limbs_[i];
    return d;
  }

  /// Exact decimal digits.
  std::string to_string() const {
    if (is_zero()) return "0";
    std::vector<std::uint32_t> n = limbs_;
    std::string out;
    while (!n.empty()) {
      // Divide by 10^9 and emit the remainder as 9 digits.
      std::uint64_t rem = 0;
      for (std::size_t i = n.size(); i-- > 0;) {
        const std::uint64_t cur = (rem << 32) | n[i];
        n[i] = static_cast<std::uint32_t>(cur / 1000000000ULL);
        rem = cur % 1000000000ULL;
      }
      while (!n.empty() && n.back() == 0) n.pop_back();
      for (int k = 0; k < 9; ++k) {
        out.push_back(static_cast<char>('0' + rem % 10));
        rem /= 10;
        if (n.empty() && rem == 0) break;
      }
    }
    std::reverse(out.begin(), out.end());
    return out;
  }

 private:
  std::uint32_t limb(std::size_t i) const { return i < limbs_.size() ? limbs_[i] : 0; }
  void trim() {
    while (!limbs_.empty() && limbs_.back() == 0) limbs_.pop_back();
  }
  std::vector<std::uint32_t> limbs_;
};

}  // namespace evit
