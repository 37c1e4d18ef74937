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
/// `c(i, j) = [accumulate ? c(i, j) : 0] + act((alpha * row_scale[i] * acc + row_bias[i]) *
/// col_scale[j] + col_bias[j])`. Null pointers mean "absent" (scale 1, bias 0). Rows are output
/// channels of a convolution or tokens of a linear layer; columns are pixels or output features
/// (a 1x1 convolution on channels-last maps: its BatchNorm as col_scale/col_bias, see
/// channels_as_columns). col_scale is honoured by the broadcast tiles (gemm_nn, linear_packed)
/// only; the other kernels assert it is absent.
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
  const T* col_scale = nullptr;  ///< [cols]: a BatchNorm's scale when channels are columns
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
  epilogue& with_col_scale(const T* s) {
    col_scale = s;
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
    if (e.col_scale) e.col_scale += j0;
    return e;
  }
  /// A per-channel epilogue (row_scale/row_bias, as a convolution's BatchNorm) for a product
  /// whose output channels are its columns (a 1x1 convolution on channels-last maps).
  /// @pre alpha == 1 and no column terms.
  epilogue channels_as_columns() const {
    epilogue e = *this;
    e.col_scale = row_scale;
    e.col_bias = row_bias;
    e.row_scale = e.row_bias = nullptr;
    return e;
  }
};

}  // namespace kernels
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
