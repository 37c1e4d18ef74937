// SPDX-License-Identifier: MIT
// A 64-bit hash that is the same on every platform and compiler: it mixes integer values
// (never bytes of a struct, so padding and endianness do not matter).
#pragma once

#include <cstdint>

namespace evit {

/// Incremental portable hash: feed integers in a fixed order, read value().
class hasher {
 public:
  constexpr explicit hasher(std::uint64_t seed = 0x6576697461726368ULL) : h_(seed) {}
  constexpr hasher& add(std::int64_t v) {
    // One multiply per value (rotate-xor-multiply); the splitmix64 finaliser in value() supplies
    // the avalanche.
    h_ = (((h_ << 23) | (h_ >> 41)) ^ static_cast<std::uint64_t>(v)) * 0x9fb21c651e98df25ULL;
    return *this;
  }
  constexpr std::uint64_t value() const { return mix(h_); }

 private:
  // The splitmix64 finaliser: a bijection with full avalanche.
  static constexpr std::uint64_t mix(std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::uint64_t h_;
};

}  // namespace evit
