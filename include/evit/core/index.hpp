// SPDX-License-Identifier: MIT
// The index type and the debug-only precondition macro used by every layer.
#pragma once

#include <cstddef>
#include <cstdio>
#include <cstdlib>

namespace evit {

/// Signed index type for sizes and offsets, the same as Eigen's default dense index.
using Index = std::ptrdiff_t;

}  // namespace evit

/// Inner-loop precondition, checked in debug builds only. Public entry points validate their
/// arguments with exceptions instead (see core/error.hpp).
#ifdef NDEBUG
#define EVIT_ASSERT(cond) ((void)0)
#else
#define EVIT_ASSERT(cond)                                                                        \
  ((cond) ? (void)0                                                                              \
          : (std::fprintf(stderr, "%s:%d: EVIT_ASSERT(%s) failed\n", __FILE__, __LINE__, #cond), \
             std::abort()))
#endif
