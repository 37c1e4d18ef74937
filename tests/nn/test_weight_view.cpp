// SPDX-License-Identifier: MIT
// nn/weight_view.hpp and nn/workspace.hpp: slices are views into the supernet buffer (zero copy),
// Eigen products on them do not allocate (GEMV), and the workspace is aligned and only grows.
#define EIGEN_RUNTIME_NO_MALLOC
#include <cstdint>

#include <Eigen/Core>

#include "evit/core/error.hpp"
#include "evit/kernels/linear.hpp"
#include "evit/nn/weight_view.hpp"
#include "evit/nn/workspace.hpp"

#include "catch.hpp"

using evit::Index;
using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

TEST_CASE("active_block: an Eigen view into the supernet weight, not a copy", "[nn][weight_view]") {
  RowMatrix W = RowMatrix::Random(6 * 64, 64);  // ElasticViT qkv of Cmax = 64: [6 Cmax, Cmax]
  const Index r0 = GENERATE(0, 64, 128);
  const Index rows = GENERATE(16, 64);
  const Index cols = GENERATE(16, 48, 64);
  CAPTURE(r0, rows, cols);
  const auto v = evit::nn::active_block(W, r0, rows, cols);
  CHECK(v.data() == W.data() + r0 * W.cols());
  CHECK(v.outerStride() == W.cols());
  CHECK(v.rows() == rows);
  CHECK(v.cols() == cols);
  CHECK(v(rows - 1, cols - 1) == W(r0 + rows - 1, cols - 1));
  // Binding to a row-major Ref keeps the same storage.
  Eigen::Ref<const RowMatrix> ref = v;
  CHECK(ref.data() == v.data());
  // The kernel view of the same block.
  const auto kv = evit::nn::view_of(v);
  CHECK(kv.data == v.data());
  CHECK(kv.ld == W.cols());
}

TEST_CASE("active_block: a block that does not fit throws, naming the sizes", "[nn][weight_view]") {
  RowMatrix W(8, 4);
  CHECK_THROWS_AS(evit::nn::active_block(W, 4, 5, 4), evit::invalid_argument);
  CHECK_THROWS_AS(evit::nn::active_block(W, 0, 1, 5), evit::invalid_argument);
  std::vector<float> raw(32);
  const auto mv = evit::nn::make_view(raw.data(), 8, 4);
  CHECK_THROWS_WITH(evit::nn::active_block(mv, 7, 2, 4),
                    "evit::nn::active_block: rows [7, 9) x cols [0, 4) do not fit a 8 x 4 weight");
  const auto b = evit::nn::active_block(mv, 2, 3, 2);
  CHECK(b.data == raw.data() + 8);
  CHECK(b.block(1, 1, 2, 1).data == raw.data() + 13);
}

TEST_CASE("active_block: Eigen GEMV on a slice allocates nothing (EIGEN_RUNTIME_NO_MALLOC)",
          "[nn][weight_view]") {
  RowMatrix W = RowMatrix::Random(320, 320);
  Eigen::VectorXf x = Eigen::VectorXf::Random(160), y(240);
  const auto v = evit::nn::active_block(W, 0, 240, 160);
  Eigen::internal::set_is_malloc_allowed(false);
  y.noalias() = v * x;
  Eigen::internal::set_is_malloc_allowed(true);
  CHECK(y.isApprox(W.topLeftCorner(240, 160) * x));
}

TEST_CASE("active_block: evit's linear kernel on an Eigen slice matches Eigen's product",
          "[nn][weight_view]") {
  RowMatrix W = RowMatrix::Random(5 * 48, 48), X = RowMatrix::Random(16, 32);
  const auto v = evit::nn::view_of(evit::nn::active_block(W, 0, 96, 32));
  RowMatrix Y(16, 96);
  Eigen::internal::set_is_malloc_allowed(false);
  evit::kernels::linear(16, v.cols, v.rows, X.data(), 32, v.data, v.ld, 0, (const float*)nullptr,
                        Y.data(), 96);
  Eigen::internal::set_is_malloc_allowed(true);
  const RowMatrix expect = X * W.topLeftCorner(96, 32).transpose();
  CHECK(Y.isApprox(expect, 1e-5f));
}

TEST_CASE("workspace: 64-byte aligned, grows only when asked", "[nn][workspace]") {
  evit::nn::workspace<float> ws;
  CHECK(ws.size() == 0);
  ws.reserve(100);
  REQUIRE(ws.size() == 100);
  CHECK(reinterpret_cast<std::uintptr_t>(ws.data()) % 64 == 0);
  float* p = ws.data();
  ws.reserve(50);
  CHECK(ws.data() == p);
  CHECK(ws.size() == 100);
  ws.reserve(1000);
  CHECK(ws.size() == 1000);
  CHECK(reinterpret_cast<std::uintptr_t>(ws.data()) % 64 == 0);
  // Supernet-sized buffers are huge-page aligned (and advised to use huge pages on Linux).
  ws.reserve(3 << 20);
  CHECK(reinterpret_cast<std::uintptr_t>(ws.data()) % (2u << 20) == 0);
  ws.data()[ws.size() - 1] = 1.0f;
  CHECK(ws.data()[ws.size() - 1] == 1.0f);
}
