// SPDX-License-Identifier: MIT
// This machine's latency lookup table: the latency of every block a subnet is made of (the blocks
// and keys of cost/latency_table.hpp, the phone tables' format), profiled here by running the
// block alone with the supernet's weights and evit's kernels (cost/detail/block_runner.hpp:
// exactly the calls of the forward pass), summed per subnet. Blocks are profiled on demand (only
// those a search meets, each once) or all at once; the table saves to and loads from JSON.
//   block_profiler<Space>        profiles blocks, holds this machine's latency_table
//   local_latency<Space>         the sum of a subnet's blocks as a cost model (ms), profiling
//                                missing blocks first (sequential)
// Screening with the table is ~1000x cheaper than measuring a whole subnet; confirm the winners
// with cost::measured_latency.
#pragma once

#include <chrono>
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
#include "evit/simd/namespace.hpp"
#include "evit/space/enumerate.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace cost {

/// Every block (one per key) that some subnet of space `d` contains.
inline std::vector<lut_block> all_blocks(const space_descriptor& d) {
  std::vector<lut_block> out;
  std::set<std::string> seen;
  auto add = [&](const lut_block& b) {
    if (seen.insert(b.key()).second) out.push_back(b);
  };
  auto compatible = [&](int s, int prev, int w) { return width_chains::compatible(d, s, prev, w); };
  for (int R : d.resolution) {
    const stage_descriptor& s0 = d.stages[0];
    lut_block f;
    f.kind = block_kind::first_conv;
    f.stage = 0;
    f.side_in = R;
    f.stride = s0.stride;
    f.side = s0.stride == 2 ? (R + 1) / 2 : R;
    f.cin = 3;
    std::vector<int> widths_in;
    for (int w : s0.width)
      for (int k : s0.kernel_size) {
        f.cout = w;
        f.kernel = k;
        add(f);
        widths_in.push_back(w);
      }
    int side = f.side;
    for (int s = 1; s < d.num_stages(); ++s) {
      const stage_descriptor& st = d.stages[s];
      const int side_out = st.stride == 2 ? (side + 1) / 2 : side;
      std::vector<int> reach;
      for (int w : st.width)
        for (int p : widths_in)
          if (compatible(s, p, w)) {
            reach.push_back(w);
            break;
          }
      if (!st.is_transformer()) {
        lut_block m;
        m.kind = block_kind::conv;
        m.stage = s;
        m.se = st.squeeze_excite;
        for (int e : st.expand_ratio)
          for (int k : st.kernel_size) {
            m.expand = e;
            m.kernel = k;
            m.layer = 0;
            m.stride = st.stride;
            m.side_in = side;
            m.side = side_out;
            for (int p : widths_in)
              for (int w : st.width)
                if (compatible(s, p, w)) {
                  m.cin = p;
                  m.cout = w;
                  add(m);
                }
            if (st.depth.back() < 2) continue;
            m.layer = 1;
            m.stride = 1;
            m.side_in = m.side = side_out;
            for (int w : reach) {
              m.cin = m.cout = w;
              add(m);
            }
          }
      } else {
        lut_block r;
        r.kind = block_kind::reduction;
        r.stage = s;
        r.stride = st.stride;
        r.side_in = side;
        r.side = side_out;
        r.expand = 6;
        r.kernel = 3;
        r.se = true;
        for (int p : widths_in)
          for (int w : st.width)
            if (compatible(s, p, w)) {
              r.cin = p;
              r.cout = w;
              add(r);
            }
        lut_block t;
        t.stage = s;
        t.side_in = t.side = side_out;
        for (int w : reach) {
          t.cin = t.cout = w;
          t.kind = block_kind::attention;
          t.head_dim = st.head_dim;
          t.qk_scale = st.qk_scale.empty() ? 1 : st.qk_scale.front();
          for (int v : st.v_scale) {
            t.v_scale = v;
            add(t);
          }
          t.kind = block_kind::ffn;
          t.v_scale = t.qk_scale = t.head_dim = 0;
          for (const rational& m : st.mlp_ratio) {
            t.mlp_ratio = m;
            add(t);
          }
        }
      }
      widths_in = reach;
      side = side_out;
    }
    lut_block h;
    h.kind = block_kind::head;
    h.side_in = h.side = side;
    h.cout = d.constants.num_classes;
    h.expand = d.constants.head_expand;
    h.hidden = d.constants.head_hidden;
    h.classes = d.constants.num_classes;
    for (int w : widths_in) {
      h.cin = w;
      add(h);
    }
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
  /// Default timing per block: 1 warm-up run, 5 to 21 timed runs, +-3 %, at most 0.2 s, on
  /// the thread's CPU clock.
  static timing default_timing() {
    return timing().warmup(1).repeats(5, 21).target(0.03).max_seconds(0.2);
  }

  explicit block_profiler(const elasticvit::supernet<Space>& net, timing t = default_timing(),
                          std::string device = "this machine")
      : t_(std::move(t)), table_(std::move(device)), runner_(net) {
    t_.check();
    elasticvit::check_elasticvit_family(Space::descriptor());
  }

  latency_table& table() { return table_; }
  const latency_table& table() const { return table_; }
  /// Adds the entries of a saved table (e.g. from an earlier session on this machine).
  void merge(const latency_table& t) {
    for (const auto& kv : t.entries()) table_.set(kv.first, kv.second);
  }

  /// The latency of block `b` in ms, profiled first when the table lacks it.
  double block_ms(const lut_block& b) {
    if (table_.contains(b)) return table_.at(b);
    const auto t0 = std::chrono::steady_clock::now();
    const latency_stats s = detail::time_adaptively(
        t_, [&] { runner_.prepare(b); }, [&] { runner_.run(b); });
    seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++profiled_;
    table_.set(b, s.median_ms);
    return s.median_ms;
  }

  /// The sum of the blocks of `a` (profiling those missing). @throws evit::invalid_arch.
  double predict(const arch& a) {
    Space::validate(a);
    lut_blocks(Space::descriptor(), a, blocks_);
    double total = 0;
    for (const lut_block& b : blocks_) total += block_ms(b);
    return total;
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
  std::vector<lut_block> blocks_;
  std::size_t profiled_ = 0;
  double seconds_ = 0;
};

/// This machine's table as a cost model (ms): the sum of the subnet's block latencies, profiling
/// the missing blocks on the way. Sequential (profiling times the kernels); copies share the
/// profiler.
template <class Space>
class local_latency {
 public:
  using space_type = Space;
  static constexpr bool monotone = false;
  static constexpr bool sequential = true;

  explicit local_latency(std::shared_ptr<block_profiler<Space>> p)
      : p_(std::move(p)), m_(std::make_shared<std::mutex>()) {
    if (!p_) throw invalid_argument("local_latency: null profiler");
  }
  double operator()(const arch& a) const {
    std::lock_guard<std::mutex> lock(*m_);
    return p_->predict(a);
  }
  block_profiler<Space>& profiler() const { return *p_; }

 private:
  std::shared_ptr<block_profiler<Space>> p_;
  std::shared_ptr<std::mutex> m_;
};

}  // namespace cost
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
