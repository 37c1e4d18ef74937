// SPDX-License-Identifier: MIT
// Measured latency of AutoFormer subnets on this machine (models/autoformer):
// cost::measured_latency (cost/measured_latency.hpp) deduced for an autoformer::supernet, whose
// forward it times.
#pragma once

#include "evit/cost/measured_latency.hpp"
#include "evit/models/autoformer/supernet.hpp"
#include "evit/simd/namespace.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace cost {

/// cost::measured_latency times an AutoFormer supernet's forward when given one:
/// @code
///   auto net = evit::autoformer::supernet<evit::autoformer::tiny_space>::random(1);
///   evit::cost::measured_latency latency(net, evit::cost::timing().repeats(3, 10));
///   auto r = evit::evolutionary_search<evit::autoformer::tiny_space>(
///       my_objective, evit::cost::at_most(latency, 40.0), evit::presets::autoformer_search());
/// @endcode
template <class Space>
measured_latency(const autoformer::supernet<Space>&, timing)
    -> measured_latency<Space, autoformer::supernet<Space>>;
template <class Space>
measured_latency(const autoformer::supernet<Space>&)
    -> measured_latency<Space, autoformer::supernet<Space>>;

}  // namespace cost
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
