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

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "evit/core/index.hpp"

namespace evit::nn {

/// A growable, aligned buffer of T (T trivially copyable). Allocates only in reserve() (and the
/// sizing constructor), never in data() or span access. Buffers of 2 MiB or more are 2 MiB
/// aligned and, on Linux, advised to use transparent huge pages: a sliced weight touches many
/// pages for little data (rows of `in` active floats, `in_max` apart), and with 4 KiB pages the
/// TLB misses made sliced linear layers 5-25% slower than packed copies at 4-16 tokens on the
/// project's machine. The supernet weights (models/*/weights.hpp) do not use it: on huge pages
/// a random official supernet took 0.16-3.7 s to allocate instead of 0.3 s (the kernel zeroing
/// 2 MiB pages on first touch) for about 3% on a batch-1 forward.
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
  static constexpr std::size_t huge_page = std::size_t(1) << 21;

  workspace() = default;
  explicit workspace(Index n) { reserve(n); }

  /// Ensures size() >= n; reallocates (discarding the contents) only when it grows.
  void reserve(Index n) {
    if (n <= size_) return;
    const std::size_t bytes = static_cast<std::size_t>(n) * sizeof(T);
    const std::size_t align = bytes >= huge_page ? huge_page : alignment;
    buf_ = std::unique_ptr<T, release>(
        static_cast<T*>(::operator new(bytes, std::align_val_t(align))), release{align});
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (align == huge_page)  // whole huge pages inside the allocation; advice only, may fail
      (void)::madvise(buf_.get(), bytes / huge_page * huge_page, MADV_HUGEPAGE);
#endif
    size_ = n;
  }

  T* data() noexcept { return buf_.get(); }
  const T* data() const noexcept { return buf_.get(); }
  Index size() const noexcept { return size_; }

 private:
  struct release {
    std::size_t align = alignment;
    void operator()(T* p) const noexcept { ::operator delete(p, std::align_val_t(align)); }
  };
  std::unique_ptr<T, release> buf_{nullptr, release{}};
  Index size_ = 0;
};

}  // namespace evit::nn
