// SPDX-License-Identifier: MIT
// Compiles the kernels' entry points for float on simd::default_arch once for all of evit's test,
// benchmark and example programs (they define EVIT_KERNELS_SEPARATE; see
// include/evit/kernels/detail/separate.hpp).
#define EVIT_KERNELS_IMPLEMENTATION 1
#include "evit/kernels/kernels.hpp"
