// SPDX-License-Identifier: MIT
// Zero-copy views of supernet weights (docs/design.md#zero-copy-slicing): a plain strided matrix
// view, and active_block for Eigen row-major matrices. Every elastic slice of ElasticViT is a
// block W[r0 : r0 + rows, 0 : cols] of a row-major [out_max, in_max] tensor, so a view is a
// pointer and a leading dimension into the one immutable supernet buffer; the kernels in
// evit/kernels/ take exactly that (data, ld). Read nn/workspace.hpp next.
#pragma once

#include <string>
#include <type_traits>

#include <Eigen/Core>

#include "evit/core/error.hpp"
#include "evit/core/index.hpp"

namespace evit::nn {

/// A non-owning row-major strided matrix: element (r, c) is data[r * ld + c].
template <class T>
struct matrix_view {
  T* data = nullptr;
  Index rows = 0;
  Index cols = 0;
  Index ld = 0;

  /// Row r's first element.
  T* row(Index r) const { return data + r * ld; }
  /// The rows x cols block at (r0, c0), same leading dimension (no copy).
  matrix_view block(Index r0, Index c0, Index nrows, Index ncols) const {
    EVIT_ASSERT(r0 >= 0 && c0 >= 0 && nrows >= 0 && ncols >= 0);
    EVIT_ASSERT(r0 + nrows <= rows && c0 + ncols <= cols);
    return {data + r0 * ld + c0, nrows, ncols, ld};
  }
  /// Read-only view of the same elements.
  operator matrix_view<const T>() const { return {data, rows, cols, ld}; }
};

/// View of a whole row-major [rows, cols] buffer.
template <class T>
matrix_view<T> make_view(T* data, Index rows, Index cols) {
  return {data, rows, cols, cols};
}

/// The active block W[r0 : r0 + rows, 0 : cols] of a supernet weight view, checked: throws
/// evit::invalid_argument naming the sizes when the block does not fit (a public entry point,
/// docs/design.md#errors).
template <class T>
matrix_view<T> active_block(const matrix_view<T>& w, Index r0, Index rows, Index cols) {
  if (r0 < 0 || rows < 0 || cols < 0 || r0 + rows > w.rows || cols > w.cols)
    throw invalid_argument("evit::nn::active_block: rows [" + std::to_string(r0) + ", " +
                           std::to_string(r0 + rows) + ") x cols [0, " + std::to_string(cols) +
                           ") do not fit a " + std::to_string(w.rows) + " x " +
                           std::to_string(w.cols) + " weight");
  return {w.data + r0 * w.ld, rows, cols, w.ld};
}

/// Eigen's zero-copy view type for a block of a row-major matrix of `Scalar`.
template <class Scalar>
using const_row_block =
    Eigen::Map<const Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>,
               Eigen::Unaligned, Eigen::OuterStride<>>;

/// The active block W[r0 : r0 + rows, 0 : cols] of a row-major Eigen supernet weight, as an
/// Eigen::Map into W's storage: `data() == W.data() + r0 * W.outerStride()` and
/// `outerStride() == W.outerStride()`. A column-major matrix does not compile (its block would be
/// a different memory layout, and Eigen would silently copy it when binding to a row-major Ref).
/// @code
///   Eigen::Matrix<float, -1, -1, Eigen::RowMajor> W(192, 64);        // supernet [out_max, in_max]
///   auto fc = evit::nn::active_block(W, 0, 128, 48);                  // 128 x 48, no copy
///   y.noalias() = x * fc.transpose();                                 // x: [N, 48]
/// @endcode
template <class Derived>
const_row_block<typename Derived::Scalar> active_block(const Eigen::MatrixBase<Derived>& W,
                                                       Index r0, Index rows, Index cols) {
  static_assert(Derived::IsRowMajor,
                "evit::nn::active_block: weights must be RowMajor [out_max, in_max] (the PyTorch "
                "layout); a ColMajor block would be copied. See evit/nn/weight_view.hpp");
  static_assert((Derived::Flags & Eigen::DirectAccessBit) != 0,
                "evit::nn::active_block: the weight must be a matrix or map with direct access");
  const auto& w = W.derived();
  if (r0 < 0 || rows < 0 || cols < 0 || r0 + rows > w.rows() || cols > w.cols())
    throw invalid_argument("evit::nn::active_block: rows [" + std::to_string(r0) + ", " +
                           std::to_string(r0 + rows) + ") x cols [0, " + std::to_string(cols) +
                           ") do not fit a " + std::to_string(w.rows()) + " x " +
                           std::to_string(w.cols()) + " weight");
  return const_row_block<typename Derived::Scalar>(w.data() + r0 * w.outerStride(), rows, cols,
                                                   Eigen::OuterStride<>(w.outerStride()));
}

/// A kernel view (data, ld) of a row-major Eigen matrix or block, no copy.
template <class Derived>
matrix_view<const typename Derived::Scalar> view_of(const Eigen::MatrixBase<Derived>& W) {
  static_assert(
      Derived::IsRowMajor && (Derived::Flags & Eigen::DirectAccessBit) != 0,
      "evit::nn::view_of: needs a RowMajor Eigen matrix, block or map with direct access");
  const auto& w = W.derived();
  return {w.data(), w.rows(), w.cols(), w.outerStride()};
}

}  // namespace evit::nn
