// SPDX-License-Identifier: MIT
// A map from subnets to values: what the cost models' caches (cost::cached, measured latency) and
// the searches' record of evaluated subnets are built on. Keyed by the portable arch hash; subnets
// whose hashes collide are told apart by comparing them, so a collision never merges two subnets.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

#include "evit/space/arch.hpp"

namespace evit {

/// A map from subnets to values, keyed by the arch hash; subnets whose hashes collide are kept
/// apart by comparing them. Not synchronised (cost::cached<F> wraps one in a mutex).
template <class V>
class arch_map {
 public:
  /// The value of `a`, or nullptr.
  const V* find(const arch& a) const { return find(a, a.hash()); }
  const V* find(const arch& a, std::uint64_t h) const {
    auto it = map_.find(h);
    if (it == map_.end()) return nullptr;
    for (const auto& e : it->second)
      if (e.first == a) return &e.second;
    return nullptr;
  }
  V* find(const arch& a, std::uint64_t h) {
    return const_cast<V*>(static_cast<const arch_map&>(*this).find(a, h));
  }
  /// Inserts (or overwrites) the value of `a`.
  V& insert(const arch& a, V v) { return insert(a, a.hash(), std::move(v)); }
  V& insert(const arch& a, std::uint64_t h, V v) {
    auto& bucket = map_[h];
    for (auto& e : bucket)
      if (e.first == a) return e.second = std::move(v);
    bucket.emplace_back(a, std::move(v));
    ++size_;
    return bucket.back().second;
  }
  std::size_t size() const { return size_; }
  void clear() {
    map_.clear();
    size_ = 0;
  }
  /// Calls fn(arch, value) for every entry (unspecified order).
  template <class Fn>
  void for_each(Fn&& fn) const {
    for (const auto& kv : map_)
      for (const auto& e : kv.second) fn(e.first, e.second);
  }

 private:
  std::unordered_map<std::uint64_t, std::vector<std::pair<arch, V>>> map_;
  std::size_t size_ = 0;
};

}  // namespace evit
