// SPDX-License-Identifier: MIT
// This machine's block table, kept between runs: loaded from a cache file when there is one,
// completed by profiling every block it lacks (with progress and the time left, which the first
// run needs: thousands of blocks, tens of seconds), and saved back. A cache keyed for another
// CPU, ISA, thread count or profiling method (or without a key) is stale: by default it is
// reported on stderr and profiled anew (stale_policy::reprofile), or refused with an
// evit::cost::stale_table error (stale_policy::refuse); never used silently.
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

/// What cached_profiler does with a cache made for another machine (table_key::mismatch).
enum class stale_policy {
  reprofile,  ///< says so on stderr and profiles every block anew (the file is overwritten)
  refuse,     ///< throws evit::cost::stale_table
};

namespace detail {
/// Fills profiler `p` (block_profiler, autoformer_profiler) from `cache` and profiles what it
/// lacks, saving the result (see cached_profiler).
template <class Profiler>
void fill_from_cache(Profiler& p, const std::string& cache, bool verbose, stale_policy stale) {
  if (std::ifstream(cache).good()) {
    const latency_table old = latency_table::load(cache, "this machine");
    const std::string why = old.key().mismatch(p.table().key());
    if (why.empty())
      p.merge(old);
    else if (stale == stale_policy::refuse)
      throw stale_table("block table " + cache + " is stale for this machine: " + why +
                        " (delete it, or let it be profiled anew)");
    else
      std::fprintf(stderr, "this machine: %s is stale (%s): profiling every block anew\n",
                   cache.c_str(), why.c_str());
  }
  const std::size_t cached = p.table().size();
  if (cached > 0 && verbose)
    std::fprintf(stderr, "this machine: %zu block latencies from %s\n", cached, cache.c_str());
  progress_meter meter("this machine: profiling blocks", 0, verbose);
  p.profile_all([&](std::size_t, std::size_t total) {
    if (total > cached) meter.update(p.profiled(), total - cached);  // the missing ones
  });
  if (p.profiled() > 0) {
    meter.finish(std::to_string(p.profiled()) + " blocks, saved to " + cache);
    p.table().save(cache);
  }
}
}  // namespace detail

/// A block profiler of `net` whose table holds every block of the space: the entries (and the
/// calibration) of `cache` when the file exists and is keyed for this machine, plus those
/// profiled now, which are saved to `cache`. With `verbose`, progress lines with the time left go
/// to stderr. @throws evit::format_error for an unreadable cache, evit::error when it cannot be
/// written, stale_table for a stale cache under stale_policy::refuse.
template <class Space>
std::shared_ptr<block_profiler<Space>> cached_profiler(
    const elasticvit::supernet<Space>& net, const std::string& cache,
    timing t = block_profiler<Space>::default_timing(), bool verbose = false,
    stale_policy stale = stale_policy::reprofile) {
  auto p = std::make_shared<block_profiler<Space>>(net, std::move(t), "this machine");
  detail::fill_from_cache(*p, cache, verbose, stale);
  return p;
}

}  // namespace cost
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
