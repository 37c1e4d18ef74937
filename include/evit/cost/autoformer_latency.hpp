// SPDX-License-Identifier: MIT
// Latency of AutoFormer subnets (models/autoformer) on this machine:
//   measured_latency               cost/measured_latency.hpp, deduced for an autoformer::supernet:
//                                  times whole forwards
//   autoformer_blocks(d, a)        the blocks of a subnet's forward, each with its table key
//   all_autoformer_blocks(d)       every block (one per key) some subnet of space d contains
//   autoformer_profiler<Space>     this machine's block table: each block profiled with the
//                                  forward's own step (autoformer::network::run_step), summed per
//                                  subnet, corrected by the table's calibration
//   local_latency(profiler)        the table as a cost model (cost/block_profiler.hpp)
//   cached_profiler(net, path)     the table kept between runs (cost/cached_profiler.hpp)
// The table has the format of ElasticViT's (cost/latency_table.hpp: JSON {key: ms} plus the
// machine key and the calibration), with AutoFormer's keys:
//   afembed_{R}_{patch}_{E}        patch embedding, class token, position       (kind first_conv)
//   afattn_{N}_{E}_{H}_{head_dim}  LayerNorm, qkv, attention, proj, residual   (kind attention)
//   afffn_{N}_{E}_{F}              LayerNorm, fc1 + GELU, fc2, residual         (kind ffn)
//   afhead_{N}_{E}_{classes}       final LayerNorm, mean of the patch tokens, classifier (head)
// (N tokens with the class token, E the embedding width, H heads, F the MLP's hidden width), so
// calibrate() and ensure_calibrated() (cost/calibration.hpp) fit it as they fit ElasticViT's.
// The AutoFormer-T space has 3 + 6 + 6 + 3 blocks: profiling all of them takes about a second.
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "evit/core/executor.hpp"
#include "evit/core/rng.hpp"
#include "evit/cost/block_profiler.hpp"
#include "evit/cost/cached_profiler.hpp"
#include "evit/cost/latency_table.hpp"
#include "evit/cost/measured_latency.hpp"
#include "evit/models/autoformer/cost.hpp"
#include "evit/models/autoformer/supernet.hpp"
#include "evit/nn/workspace.hpp"
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

/// One step of an AutoFormer subnet's forward, as a block of a latency table.
struct autoformer_block {
  autoformer::step step = autoformer::step::embed;
  int resolution = 0;
  int embed = 0;   ///< E
  int heads = 0;   ///< attention: H
  int hidden = 0;  ///< ffn: F = floor(mlp_ratio E)
  rational mlp_ratio{};
  std::string key;

  /// The block kind the table's calibration scales it with.
  block_kind kind() const {
    switch (step) {
      case autoformer::step::embed:
        return block_kind::first_conv;
      case autoformer::step::attention:
        return block_kind::attention;
      case autoformer::step::ffn:
        return block_kind::ffn;
      case autoformer::step::head:
        break;
    }
    return block_kind::head;
  }
};

namespace detail {
inline autoformer_block af_block(const space_descriptor& d, autoformer::step s, int R, int E,
                                 const layer_dims& l = {}) {
  const int p = d.constants.patch_size, N = (R / p) * (R / p) + 1;
  autoformer_block b;
  b.step = s;
  b.resolution = R;
  b.embed = E;
  const auto n = [](int v) { return "_" + std::to_string(v); };
  switch (s) {
    case autoformer::step::embed:
      b.key = "afembed" + n(R) + n(p) + n(E);
      break;
    case autoformer::step::attention:
      b.heads = l.num_heads;
      b.key = "afattn" + n(N) + n(E) + n(l.num_heads) + n(d.stages[0].head_dim);
      break;
    case autoformer::step::ffn:
      b.mlp_ratio = l.mlp_ratio;
      b.hidden = l.mlp_ratio.floor_times(E);
      b.key = "afffn" + n(N) + n(E) + n(b.hidden);
      break;
    case autoformer::step::head:
      b.key = "afhead" + n(N) + n(E) + n(d.constants.num_classes);
  }
  return b;
}
}  // namespace detail

/// The blocks of subnet `a` of AutoFormer-family space `d` in forward order: embed, attention and
/// ffn per active layer, head. @pre `a` is valid in `d`.
inline void autoformer_blocks(const space_descriptor& d, const arch& a,
                              std::vector<autoformer_block>& out) {
  using autoformer::step;
  out.clear();
  const int R = a.resolution(), E = a.width(0);
  out.push_back(detail::af_block(d, step::embed, R, E));
  for (int i = 0; i < a.depth(0); ++i) {
    out.push_back(detail::af_block(d, step::attention, R, E, a.layer(0, i)));
    out.push_back(detail::af_block(d, step::ffn, R, E, a.layer(0, i)));
  }
  out.push_back(detail::af_block(d, step::head, R, E));
}
inline std::vector<autoformer_block> autoformer_blocks(const space_descriptor& d, const arch& a) {
  std::vector<autoformer_block> out;
  autoformer_blocks(d, a, out);
  return out;
}

/// Every block (one per key) that some subnet of AutoFormer-family space `d` contains.
inline std::vector<autoformer_block> all_autoformer_blocks(const space_descriptor& d) {
  using autoformer::step;
  autoformer::detail::check_family(d);
  const stage_descriptor& st = d.stages[0];
  std::vector<autoformer_block> out;
  std::set<std::string> seen;
  auto add = [&](const autoformer_block& b) {
    if (seen.insert(b.key).second) out.push_back(b);
  };
  for (int R : d.resolution)
    for (int E : st.width) {
      add(detail::af_block(d, step::embed, R, E));
      for (int H : st.num_heads) {
        layer_dims l;
        l.num_heads = H;
        add(detail::af_block(d, step::attention, R, E, l));
      }
      for (const rational& m : st.mlp_ratio) {
        layer_dims l;
        l.mlp_ratio = m;
        add(detail::af_block(d, step::ffn, R, E, l));
      }
      add(detail::af_block(d, step::head, R, E));
    }
  return out;
}

/// Profiles the blocks of subnets of one AutoFormer supernet on this machine into a latency_table
/// (keyed by this machine, method "context"). A block is timed as a forward runs it: its step
/// (autoformer::network::run_step, the forward's own code and buffers) on the supernet's layers
/// 0, 1, ... in turn, so that each run reads another layer's weights, as the next block of a
/// forward does; its input is the embedding of random images, written before each timed run.
/// Not thread-safe by itself (local_latency adds the lock). @pre the supernet outlives it.
/// @code
///   auto prof = std::make_shared<evit::cost::autoformer_profiler<space>>(net);
///   evit::cost::local_latency latency(prof);   // ms of a subnet: the sum of its blocks
/// @endcode
template <class Space>
class autoformer_profiler {
 public:
  using space_type = Space;
  using supernet_type = autoformer::supernet<Space>;

  /// Default timing per block: 1 warm-up run, 5 to 21 timed runs, +-3 %, at most 0.3 s, on the
  /// thread's CPU clock.
  static timing default_timing() {
    return timing().warmup(1).repeats(5, 21).target(0.03).max_seconds(0.3);
  }

  explicit autoformer_profiler(const supernet_type& net, timing t = default_timing(),
                               std::string device = "this machine")
      : net_(&net), t_(std::move(t)), table_(std::move(device)) {
    t_.check();
    autoformer::detail::check_family(Space::descriptor());
    table_.set_key(this_machine_key(t_.threads(), profile_mode::context));
    const space_descriptor& d = Space::descriptor();
    const Index R = d.resolution.back();
    images_.resize(static_cast<std::size_t>(t_.batch() * 3 * R * R));
    rng g(0x6166626c6bULL);
    for (float& x : images_) x = static_cast<float>(2 * uniform_real(g) - 1);
    logits_.resize(static_cast<std::size_t>(t_.batch() * net.num_classes()));
    if (t_.threads() > 1) pool_ = std::make_unique<thread_pool>(t_.threads());
  }

  latency_table& table() { return table_; }
  const latency_table& table() const { return table_; }
  const timing& options() const { return t_; }
  profile_mode mode() const { return profile_mode::context; }
  /// Adds the entries and the calibration of a saved table. @throws stale_table when `t` was
  /// keyed for another CPU, ISA, thread count or profiling method (or has no key).
  void merge(const latency_table& t) {
    t.require_key(table_.key());
    for (const auto& kv : t.entries()) table_.set(kv.first, kv.second);
    if (t.calibration().fitted) table_.set_calibration(t.calibration());
  }

  /// The latency of block `b` in ms, profiled first when the table lacks it.
  double block_ms(const autoformer_block& b) {
    if (table_.contains(b.key)) return table_.at(b.key);
    const auto t0 = std::chrono::steady_clock::now();
    const double ms = time_block(b);
    seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++profiled_;
    table_.set(b.key, ms);
    return ms;
  }

  /// The sum of the blocks of `a` (profiling those missing), calibrated when the table is.
  /// @throws evit::invalid_arch.
  double predict(const arch& a) { return table_.calibration().apply(sum_by_kind(a)); }
  /// The plain sum per block kind (profiling the missing blocks).
  std::array<double, table_calibration::kinds> sum_by_kind(const arch& a) {
    Space::validate(a);
    autoformer_blocks(Space::descriptor(), a, blocks_);
    std::array<double, table_calibration::kinds> by{};
    for (const autoformer_block& b : blocks_) by[static_cast<std::size_t>(b.kind())] += block_ms(b);
    return by;
  }
  /// The keys of `a`'s blocks that the table lacks.
  std::vector<std::string> missing(const arch& a) const {
    std::vector<std::string> out;
    for (const autoformer_block& b : autoformer_blocks(Space::descriptor(), a))
      if (!table_.contains(b.key)) out.push_back(b.key);
    return out;
  }

  /// Profiles every block of the space not yet in the table; progress(done, total) after each.
  std::size_t profile_all(const std::function<void(std::size_t, std::size_t)>& progress = {}) {
    const std::vector<autoformer_block> all = all_autoformer_blocks(Space::descriptor());
    std::size_t done = 0, fresh = 0;
    for (const autoformer_block& b : all) {
      if (!table_.contains(b.key)) {
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
  /// A subnet holding block `b` in every layer of the deepest depth (widest choices elsewhere).
  static arch host_of(const autoformer_block& b) {
    arch a = Space::max_arch();
    a.set_resolution(b.resolution);
    a.set_width(0, b.embed);
    for (int i = 0; i < a.depth(0); ++i) {
      layer_dims& l = a.layer(0, i);
      if (b.step == autoformer::step::attention) l.num_heads = b.heads;
      if (b.step == autoformer::step::ffn) l.mlp_ratio = b.mlp_ratio;
    }
    return a;
  }

  double time_block(const autoformer_block& b) {
    using autoformer::step;
    const arch a = host_of(b);
    const int layers = b.step == step::attention || b.step == step::ffn ? a.depth(0) : 1;
    const autoformer::network& engine = net_->engine();
    auto run = [&](step s, int layer) {
      if (pool_)
        engine.run_step(s, layer, a, images_.data(), t_.batch(), logits_.data(), ws_, *pool_);
      else
        engine.run_step(s, layer, a, images_.data(), t_.batch(), logits_.data(), ws_, seq_);
    };
    // The input: the embedding of the images (and, for the head, the stream a forward leaves
    // is of the same kind); written before every timed run, untimed.
    const auto prepare = [&] {
      if (b.step != step::embed) run(step::embed, 0);
    };
    const auto once = [&] {
      for (int i = 0; i < layers; ++i) run(b.step, i);
    };
    const latency_stats s = detail::time_adaptively(t_, prepare, once);
    return s.median_ms / layers;
  }

  const supernet_type* net_;
  timing t_;
  latency_table table_;
  autoformer::forward_workspace ws_;
  std::vector<float> images_, logits_;
  std::unique_ptr<thread_pool> pool_;
  sequential_executor seq_;
  std::vector<autoformer_block> blocks_;
  std::size_t profiled_ = 0;
  double seconds_ = 0;
};

/// A block profiler of an AutoFormer supernet whose table holds every block of the space, kept
/// in `cache` between runs (see cached_profiler in cost/cached_profiler.hpp).
template <class Space>
std::shared_ptr<autoformer_profiler<Space>> cached_profiler(
    const autoformer::supernet<Space>& net, const std::string& cache,
    timing t = autoformer_profiler<Space>::default_timing(), bool verbose = false,
    stale_policy stale = stale_policy::reprofile) {
  auto p = std::make_shared<autoformer_profiler<Space>>(net, std::move(t), "this machine");
  detail::fill_from_cache(*p, cache, verbose, stale);
  return p;
}

}  // namespace cost
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
