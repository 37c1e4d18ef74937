// SPDX-License-Identifier: MIT
// This machine's block table, kept between runs: loaded from a cache file when there is one,
// completed by profiling every block it lacks (with progress and the time left, which the first
// run needs: thousands of blocks, tens of seconds), and saved back. One cache per ISA: the same
// blocks take other times with other kernels.
//   auto prof = evit::cost::cached_profiler<space>(net, "lut-" + isa + ".json", timing, true);
//   evit::cost::local_latency<space> latency(prof);   // ms of a subnet, from the table
#pragma once

#include <cstddef>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "evit/core/progress.hpp"
#include "evit/cost/block_profiler.hpp"
#include "evit/cost/latency_table.hpp"
#include "evit/models/elasticvit/supernet.hpp"
#include "evit/simd/namespace.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace cost {

/// A block profiler of `net` whose table holds every block of the space: the entries of `cache`
/// (when the file exists) plus those profiled now, which are saved to `cache`. With `verbose`,
/// progress lines with the time left go to stderr.
/// @throws evit::format_error for an unreadable cache, evit::error when it cannot be written.
template <class Space>
std::shared_ptr<block_profiler<Space>> cached_profiler(
    const elasticvit::supernet<Space>& net, const std::string& cache,
    timing t = block_profiler<Space>::default_timing(), bool verbose = false) {
  auto p = std::make_shared<block_profiler<Space>>(net, std::move(t), "this machine");
  if (std::ifstream(cache).good()) p->merge(latency_table::load(cache, "this machine"));
  const std::size_t cached = p->table().size();
  if (cached > 0 && verbose)
    std::fprintf(stderr, "this machine: %zu block latencies from %s\n", cached, cache.c_str());
  progress_meter meter("this machine: profiling blocks", 0, verbose);
  p->profile_all([&](std::size_t, std::size_t total) {
    if (total > cached) meter.update(p->profiled(), total - cached);  // the missing ones
  });
  if (p->profiled() > 0) {
    meter.finish(std::to_string(p->profiled()) + " blocks, saved to " + cache);
    p->table().save(cache);
  }
  return p;
}

}  // namespace cost
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
