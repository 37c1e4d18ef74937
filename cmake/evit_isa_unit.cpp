// SPDX-License-Identifier: MIT
// One ISA unit of a dispatching program: cmake/evitDispatch.cmake compiles this file once per ISA
// of the platform, with that ISA's compiler flags, EVIT_DISPATCH and EVIT_ISA_UNIT=<1..4>. Each
// kernel header and the forward passes (ElasticViT's, AutoFormer's) then instantiate their entry
// points for that ISA's architecture here (EVIT_FOR_EACH_DISPATCH_ARCH, include/evit/simd/isa.hpp);
// every other unit of the program only declares them and reaches them through simd::dispatch().
#if !defined(EVIT_DISPATCH) || !defined(EVIT_ISA_UNIT)
#error "evit_isa_unit.cpp is compiled by evit_enable_dispatch() (cmake/evitDispatch.cmake) only"
#endif

#include "evit/kernels/kernels.hpp"
#include "evit/models/autoformer/forward.hpp"
#include "evit/models/elasticvit/forward.hpp"
