// SPDX-License-Identifier: MIT
// What a GEMM or convolution does with its accumulators before storing them: scale, per-row and
// per-column bias (a linear bias, a folded BatchNorm), an activation, and an optional add into
// the output (a residual). Applied exactly once per output element. Used by kernels/gemm.hpp and
// kernels/conv.hpp.
#pragma once

#include "evit/core/index.hpp"
#include "evit/kernels/activation.hpp"
#include "evit/simd/namespace.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace kernels {

/// The fused output stage: for output element (i, j),
/// `c(i, j) = [accumulate ? c(i, j) : 0] + act(alpha * row_scale[i] * acc + row_bias[i] +
/// col_bias[j])`. Null pointers mean "absent" (scale 1, bias 0). Rows are output channels of a
/// convolution or tokens of a linear layer; columns are pixels or output features.
/// @code
///   auto ep =
///   evit::kernels::epilogue<float>{}.with_col_bias(b).with_activation(activation::hardswish);
/// @endcode
template <class T>
struct epilogue {
  T alpha = T(1);
  const T* row_scale = nullptr;  ///< [rows]: e.g. gamma / sqrt(var + eps) of a BatchNorm
  const T* row_bias = nullptr;   ///< [rows]: e.g. beta - mean * scale of a BatchNorm
  const T* col_bias = nullptr;   ///< [cols]: the bias of a linear layer
  activation act = activation::none;
  bool accumulate = false;  ///< add into the output (residual connections), after `act`

  epilogue& with_alpha(T a) {
    alpha = a;
    return *this;
  }
  epilogue& with_row_scale(const T* s) {
    row_scale = s;
    return *this;
  }
  epilogue& with_row_bias(const T* b) {
    row_bias = b;
    return *this;
  }
  epilogue& with_col_bias(const T* b) {
    col_bias = b;
    return *this;
  }
  epilogue& with_activation(activation a) {
    act = a;
    return *this;
  }
  epilogue& with_accumulate(bool on = true) {
    accumulate = on;
    return *this;
  }
  /// The same epilogue for the output rows from r0 on (a caller that splits the rows of a
  /// product calls the kernel on row r0 with this).
  epilogue rows_from(Index r0) const {
    epilogue e = *this;
    if (e.row_scale) e.row_scale += r0;
    if (e.row_bias) e.row_bias += r0;
    return e;
  }
  /// The same epilogue for the output columns from j0 on.
  epilogue cols_from(Index j0) const {
    epilogue e = *this;
    if (e.col_bias) e.col_bias += j0;
    return e;
  }
};

}  // namespace kernels
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
