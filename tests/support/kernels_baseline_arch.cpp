// SPDX-License-Identifier: MIT
// Compiles the kernels' entry points for float on simd::baseline_arch (where it differs from the
// default arch: x86-64 builds with flags above SSE2) once for all of evit's programs (see
// include/evit/kernels/detail/separate.hpp).
#define EVIT_KERNELS_IMPLEMENTATION 2
#include "evit/kernels/kernels.hpp"
