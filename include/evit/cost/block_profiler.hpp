// SPDX-License-Identifier: MIT
// This machine's latency lookup table: the latency of every block a subnet is made of (the blocks
// and keys of cost/latency_table.hpp, the phone tables' format), profiled here by running the
// forward's own step for the block with the supernet's weights and evit's kernels, in the cache
// state a whole forward leaves it (cost/detail/block_runner.hpp), summed per subnet and corrected
// by the table's calibration when it has one (cost/calibration.hpp). Blocks are profiled on
// demand (only those a search meets, each once) or all at once; the table, keyed by this
// machine's CPU model, ISA, threads and the profiling method (this_machine_key), saves to and
// loads from JSON.
//   block_profiler<Space>        profiles blocks, holds this machine's latency_table
//   local_latency<Space>         the sum of a subnet's blocks as a cost model (ms), profiling
//                                missing blocks first (sequential)
// Screening with the table is ~1000x cheaper than measuring a whole subnet; confirm the winners
// with cost::measured_latency.
#pragma once

#include <array>
#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "evit/cost/detail/block_runner.hpp"
#include "evit/cost/latency_table.hpp"
#include "evit/cost/measured_latency.hpp"
#include "evit/models/elasticvit/supernet.hpp"
#include "evit/simd/isa.hpp"
#include "evit/simd/namespace.hpp"
#include "evit/space/enumerate.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace cost {

/// The CPU model (/proc/cpuinfo's "model name"; "unknown" elsewhere).
inline std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos)
      return line.substr(line.find(':') + 2);
  return "unknown";
}

constexpr const char* profile_mode_name(profile_mode m) noexcept {
  return m == profile_mode::alone ? "alone" : m == profile_mode::warm ? "warm" : "context";
}

/// The key of tables profiled here now: this CPU, the active ISA, `threads`, `mode`.
inline table_key this_machine_key(int threads, profile_mode mode = profile_mode::context) {
  return {cpu_model(), simd::isa_name(simd::active_isa()), threads, profile_mode_name(mode)};
}

/// Every block (one per key) that some subnet of space `d` contains, made by the plan's own
/// builders (elasticvit::blocks): per resolution, every width pair the width rules allow between
/// consecutive stages, every choice of the block's dimensions; layer 0 of a stage (its stride)
/// and a later layer.
inline std::vector<lut_block> all_blocks(const space_descriptor& d) {
  namespace blocks = elasticvit::blocks;
  std::vector<lut_block> out;
  std::set<std::string> seen;
  auto add = [&](const lut_block& b) {
    if (seen.insert(b.key()).second) out.push_back(b);
  };
  auto compatible = [&](int s, int prev, int w) { return width_chains::compatible(d, s, prev, w); };
  for (int R : d.resolution) {
    std::vector<int> widths_in;
    int side = 0;
    for (int w : d.stages[0].width)
      for (int k : d.stages[0].kernel_size) {
        const lut_block f = blocks::first_conv(d, R, w, k);
        add(f);
        side = f.side;
        widths_in.push_back(w);
      }
    for (int s = 1; s < d.num_stages(); ++s) {
      const stage_descriptor& st = d.stages[s];
      const int side_out = blocks::side_out(side, st.stride);
      std::vector<int> reach;  // this stage's widths some input width leads to
      for (int w : st.width)
        for (int p : widths_in)
          if (compatible(s, p, w)) {
            reach.push_back(w);
            break;
          }
      if (!st.is_transformer()) {
        for (int e : st.expand_ratio)
          for (int k : st.kernel_size) {
            for (int p : widths_in)
              for (int w : st.width)
                if (compatible(s, p, w)) add(blocks::mbconv(d, s, 0, side, p, w, e, k));
            if (st.depth.back() >= 2)
              for (int w : reach) add(blocks::mbconv(d, s, 1, side_out, w, w, e, k));
          }
      } else {
        for (int p : widths_in)
          for (int w : st.width)
            if (compatible(s, p, w)) add(blocks::reduction(d, s, side, p, w));
        const int qk = st.qk_scale.empty() ? 1 : st.qk_scale.front();
        for (int w : reach) {
          for (int v : st.v_scale)
            add(blocks::attention(d, s, 0, side_out, w, w / st.head_dim, qk, v));
          for (const rational& m : st.mlp_ratio) add(blocks::ffn(d, s, 0, side_out, w, m));
        }
      }
      widths_in = reach;
      side = side_out;
    }
    for (int w : widths_in) add(blocks::head(d, side, w));
  }
  return out;
}

/// Profiles blocks of subnets of one supernet on this machine into a latency_table.
/// Not thread-safe by itself (local_latency adds the lock). @pre the supernet outlives it.
/// @code
///   evit::cost::block_profiler<space> prof(net);
///   double predicted = prof.predict(a);       // profiles a's missing blocks, sums them
///   prof.table().save("this-machine.json");
/// @endcode
template <class Space>
class block_profiler {
 public:
  using space_type = Space;
  /// Default timing per block: 1 warm-up run, 5 to 21 timed runs, +-3 %, at most 0.2 s, on
  /// the thread's CPU clock.
  static timing default_timing() {
    return timing().warmup(1).repeats(5, 21).target(0.03).max_seconds(0.2);
  }

  explicit block_profiler(const elasticvit::supernet<Space>& net, timing t = default_timing(),
                          std::string device = "this machine",
                          profile_mode mode = profile_mode::context)
      : t_(std::move(t)), table_(std::move(device)), runner_(net, t_.threads()), mode_(mode) {
    t_.check();
    elasticvit::check_elasticvit_family(Space::descriptor());
    table_.set_key(this_machine_key(t_.threads(), mode_));
  }

  latency_table& table() { return table_; }
  const latency_table& table() const { return table_; }
  /// Adds the entries and the calibration of a saved table (e.g. from an earlier session on
  /// this machine). @throws stale_table when `t` was keyed for another CPU, ISA, thread count or
  /// profiling method (or has no key).
  void merge(const latency_table& t) {
    t.require_key(table_.key());
    for (const auto& kv : t.entries()) table_.set(kv.first, kv.second);
    if (t.calibration().fitted) table_.set_calibration(t.calibration());
  }
  profile_mode mode() const { return mode_; }
  const timing& options() const { return t_; }

  /// The latency of block `b` in ms, profiled first when the table lacks it.
  double block_ms(const lut_block& b) {
    if (table_.contains(b)) return table_.at(b);
    const auto t0 = std::chrono::steady_clock::now();
    const latency_stats s = detail::time_adaptively(
        t_, [&] { runner_.prepare(b, mode_); }, [&] { runner_.run(b); });
    seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++profiled_;
    table_.set(b, s.median_ms);
    return s.median_ms;
  }

  /// The sum of the blocks of `a` (profiling those missing), calibrated when the table is.
  /// @throws evit::invalid_arch.
  double predict(const arch& a) { return table_.calibration().apply(sum_by_kind(a)); }
  /// The plain sum per block kind (profiling the missing blocks).
  std::array<double, table_calibration::kinds> sum_by_kind(const arch& a) {
    Space::validate(a);
    lut_blocks(Space::descriptor(), a, blocks_);
    for (const lut_block& b : blocks_) block_ms(b);
    return table_.sum_by_kind(Space::descriptor(), a);
  }

  /// Profiles every block of the space not yet in the table; progress(done, total) after each.
  std::size_t profile_all(const std::function<void(std::size_t, std::size_t)>& progress = {}) {
    const std::vector<lut_block> all = all_blocks(Space::descriptor());
    std::size_t done = 0, fresh = 0;
    for (const lut_block& b : all) {
      if (!table_.contains(b)) {
        block_ms(b);
        ++fresh;
      }
      ++done;
      if (progress) progress(done, all.size());
    }
    return fresh;
  }

  /// Blocks profiled by this object, and the seconds spent on them.
  std::size_t profiled() const { return profiled_; }
  double seconds() const { return seconds_; }

 private:
  timing t_;
  latency_table table_;
  detail::block_runner<Space> runner_;
  profile_mode mode_;
  std::vector<lut_block> blocks_;
  std::size_t profiled_ = 0;
  double seconds_ = 0;
};

/// This machine's table as a cost model (ms): the sum of the subnet's block latencies, profiling
/// the missing blocks on the way. Sequential (profiling times the kernels); copies share the
/// profiler. `Profiler`: block_profiler<Space> (ElasticViT), or autoformer_profiler<Space>
/// (cost/autoformer_latency.hpp), deduced from the pointer.
template <class Space, class Profiler = block_profiler<Space>>
class local_latency {
 public:
  using space_type = Space;
  static constexpr bool monotone = false;
  static constexpr bool sequential = true;

  explicit local_latency(std::shared_ptr<Profiler> p)
      : p_(std::move(p)), m_(std::make_shared<std::mutex>()) {
    if (!p_) throw invalid_argument("local_latency: null profiler");
  }
  double operator()(const arch& a) const {
    std::lock_guard<std::mutex> lock(*m_);
    return p_->predict(a);
  }
  Profiler& profiler() const { return *p_; }

 private:
  std::shared_ptr<Profiler> p_;
  std::shared_ptr<std::mutex> m_;
};

template <class Profiler>
local_latency(std::shared_ptr<Profiler>) -> local_latency<typename Profiler::space_type, Profiler>;

}  // namespace cost
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
