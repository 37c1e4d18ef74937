// SPDX-License-Identifier: MIT
// Peak memory of a subnet's forward with evit's runtime: the weights it touches (parameters,
// and the folded BatchNorm scale and shift of every normalised channel) plus the activation
// workspace that elasticvit::forward_workspace holds for that subnet alone (the input images, the
// feature maps, the expanded maps and each worker's kernel scratch) and the logits. A monotone
// cost model in bytes, usable as a constraint ("fits in 8 MiB").
// Next: cost/measured_latency.hpp.
#pragma once

#include <cstdint>

#include "evit/cost/latency_table.hpp"
#include "evit/models/elasticvit/macs.hpp"
#include "evit/models/elasticvit/supernet.hpp"
#include "evit/simd/namespace.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace cost {

/// Bytes a forward of one subnet needs.
struct memory_footprint {
  double weights = 0;      ///< parameters touched + folded BatchNorm coefficients (float32)
  double activations = 0;  ///< images, workspace and logits (float32)
  double total() const { return weights + activations; }
};

/// The footprint of subnet `a` of space Space at `batch` images and `workers` threads.
/// @throws evit::invalid_arch if `a` is not in the space.
template <class Space = elasticvit::official_space>
memory_footprint memory_of(const arch& a, Index batch = 1, int workers = 1) {
  const space_descriptor& d = Space::descriptor();
  memory_footprint m;
  Space::validate(a);
  double bn_channels = 0;  // BatchNorm channels: their folded scale and shift are float32 too
  elasticvit::for_each_block(d, a, [&](const elasticvit::block& b) {
    switch (b.kind) {
      case block_kind::first_conv:
        bn_channels += b.cout;
        break;
      case block_kind::conv:
      case block_kind::reduction:
        bn_channels += (b.has_pw ? b.inner() : 0) + b.inner() + b.cout;
        break;
      case block_kind::head:
        bn_channels += double(b.expand) * b.cin;
        break;
      default:
        break;
    }
  });
  m.weights = 4.0 * (elasticvit::params(d, a) + 2 * bn_channels);
  // The workspace forward_workspace::reserve() sizes for a space holding only `a`.
  const space_descriptor one = elasticvit::supernet<Space>::single_subnet_space(d, a);
  const auto z = elasticvit::forward_workspace::size_for(one);
  auto round = [](Index n) { return (n + 15) / 16 * 16; };
  const Index per_sample = round(4 * z.act + z.expand + z.inner);
  const Index R = a.resolution();
  m.activations = 4.0 * (static_cast<double>(batch * per_sample + workers * round(z.scratch)) +
                         static_cast<double>(batch) * 3 * R * R +
                         static_cast<double>(batch) * d.constants.num_classes);
  return m;
}

/// Peak memory in bytes as a monotone cost model (a larger choice never needs less memory).
template <class Space = elasticvit::official_space>
struct peak_memory {
  using space_type = Space;
  static constexpr bool monotone = true;
  Index batch = 1;
  int workers = 1;
  double operator()(const arch& a) const { return memory_of<Space>(a, batch, workers).total(); }
};

}  // namespace cost
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
