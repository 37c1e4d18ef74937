// SPDX-License-Identifier: MIT
// All of evit's kernels: sliced linear, attention, MLP, norms, softmax, activations and
// convolutions on strided views of supernet weights, with their double-precision references.
// Start with kernels/gemm.hpp (the contract every op follows), then the op you need.
#pragma once

#include "evit/kernels/activation.hpp"
#include "evit/kernels/attention.hpp"
#include "evit/kernels/conv.hpp"
#include "evit/kernels/epilogue.hpp"
#include "evit/kernels/gemm.hpp"
#include "evit/kernels/linear.hpp"
#include "evit/kernels/mbconv.hpp"
#include "evit/kernels/mlp.hpp"
#include "evit/kernels/norm.hpp"
#include "evit/kernels/probe.hpp"
#include "evit/kernels/reference.hpp"
#include "evit/kernels/rel_pos_attention.hpp"
#include "evit/kernels/softmax.hpp"
#include "evit/kernels/transpose.hpp"
#include "evit/simd/arch.hpp"
#include "evit/simd/compat.hpp"
