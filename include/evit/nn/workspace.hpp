// SPDX-License-Identifier: MIT
// The one scratch buffer an elastic forward pass runs in. Kernels never allocate: each publishes
// a workspace-size query (e.g. kernels::attention_workspace_size) and takes (T* ws, Index size).
// A model sizes one workspace for its largest subnet, reserves it once, and every later call,
// whatever subnet, runs allocation-free.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>

#include "evit/core/index.hpp"

namespace evit::nn {

/// A growable, 64-byte aligned buffer of T (T trivially copyable). Allocates only in
/// reserve() (and the sizing constructor), never in data() or span access.
/// @code
///   evit::nn::workspace<float> ws(evit::kernels::attention_workspace_size(max_cfg));
///   evit::kernels::attention(1, cfg, w, x, C, y, C, true, ws.data(), ws.size());
/// @endcode
template <class T>
class workspace {
  static_assert(std::is_trivially_copyable<T>::value,
                "evit::nn::workspace<T>: T must be trivially copyable (a scalar type)");

 public:
  static constexpr std::size_t alignment = 64;

  workspace() = default;
  explicit workspace(Index n) { reserve(n); }

  /// Ensures size() >= n; reallocates (discarding the contents) only when it grows.
  void reserve(Index n) {
    if (n <= size_) return;
    buf_.reset(static_cast<T*>(
        ::operator new(static_cast<std::size_t>(n) * sizeof(T), std::align_val_t(alignment))));
    size_ = n;
  }

  T* data() noexcept { return buf_.get(); }
  const T* data() const noexcept { return buf_.get(); }
  Index size() const noexcept { return size_; }

 private:
  struct release {
    void operator()(T* p) const noexcept { ::operator delete(p, std::align_val_t(alignment)); }
  };
  std::unique_ptr<T, release> buf_;
  Index size_ = 0;
};

}  // namespace evit::nn
