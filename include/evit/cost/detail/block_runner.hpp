// SPDX-License-Identifier: MIT
// Internal header: include <evit/cost/block_profiler.hpp> instead.
// Runs one block of an ElasticViT subnet (a block of its plan: first conv, MBConv layer, a
// transformer stage's reduction with its layout changes, attention, FFN, head) on one image with
// the forward pass's own step (elasticvit::network::run_block: the same code, kernels and
// buffers as a whole forward), so that its time is the block's share of a whole forward.
// Before each run (profile_mode::context, the default) the block's weights and every buffer its
// step uses (the workspace extents of forward_workspace::size_for(block): feature maps, expanded
// and depthwise maps, FFN hidden activations, attention buffers, the per-worker kernel scratch,
// and the images for the first conv) are evicted from the caches and the TLB, as the rest of a
// whole forward leaves them, while its input is freshly written (hot, as the previous block
// leaves it).
// profile_mode::alone is the earlier treatment (weights and part of the buffers flushed; the
// kernel scratch, the FFN's hidden, the images and the TLB stayed warm) and profile_mode::warm
// a plain loop. benchmarks/bench_latency_context.cpp compares them with the same blocks timed
// inside whole forwards; on 16 random subnets (2-core AMD EPYC, shared, interleaved) the sum of
// blocks missed whole forwards by a median 4.6% (p90 10.0%) alone and 2.0% (p90 6.4%) in
// context, warm by ~22%. What remains per kind (the head ~1.25x, the first conv ~1.35x, MBConv
// ~0.93x) is left to the table's calibration (cost/calibration.hpp).
#pragma once

#include <algorithm>
#include <memory>
#include <vector>

#include "evit/core/executor.hpp"
#include "evit/core/rng.hpp"
#include "evit/cost/latency_table.hpp"
#include "evit/models/elasticvit/supernet.hpp"
#include "evit/nn/workspace.hpp"
#include "evit/simd/namespace.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#define EVIT_DETAIL_HAS_MMAP 1
#endif

#if defined(__SSE2__) || defined(_M_X64)
#include <immintrin.h>
#define EVIT_DETAIL_HAS_CLFLUSH 1
#if defined(__GNUC__)
#include <cpuid.h>
#define EVIT_DETAIL_HAS_CLFLUSHOPT 1
#endif
#endif

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace cost {

/// How the block profiler times a block.
enum class profile_mode {
  alone,    ///< by itself: its weights and buffers flushed from the caches, its input fresh
  warm,     ///< by itself in a loop: everything cached from the previous run
  context,  ///< as a forward runs it (see block_profiler)
};

namespace detail {

#ifdef EVIT_DETAIL_HAS_CLFLUSH
#ifdef EVIT_DETAIL_HAS_CLFLUSHOPT
/// Whether the CPU has CLFLUSHOPT (CPUID leaf 7, EBX bit 23; read directly, not with
/// __builtin_cpu_supports as simd/isa.hpp does: Clang 14's does not know this feature).
inline bool cpu_has_clflushopt() {
  static const bool has = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) != 0 && (b & (1u << 23)) != 0;
  }();
  return has;
}

__attribute__((target("clflushopt"))) inline void flush_lines_unordered(const char* c,
                                                                        std::size_t bytes) {
  for (std::size_t i = 0; i < bytes; i += 64) _mm_clflushopt(const_cast<char*>(c + i));
  _mm_clflushopt(const_cast<char*>(c + bytes - 1));
}
#endif

/// Evicts the cache lines of [c, c + bytes) from every cache level. CLFLUSH is ordered with every
/// other flush and store, so each one waits for the last (90-150 ns a line on a 2-core Xeon VM:
/// the profiler spent 90% of its time here); CLFLUSHOPT evicts the same lines without that order
/// (3-6 ns a line there), which the callers' MFENCE restores before the timed run.
inline void flush_lines(const char* c, std::size_t bytes) {
#ifdef EVIT_DETAIL_HAS_CLFLUSHOPT
  if (cpu_has_clflushopt()) {
    flush_lines_unordered(c, bytes);
    return;
  }
#endif
  for (std::size_t i = 0; i < bytes; i += 64) _mm_clflush(c + i);
  _mm_clflush(c + bytes - 1);
}
#endif

template <class Space>
class block_runner {
 public:
  explicit block_runner(const elasticvit::supernet<Space>& net, int threads = 1) : net_(&net) {
    const space_descriptor& d = net.space();
    ws_.reserve(d, 1, threads);
    if (threads > 1) pool_ = std::make_unique<thread_pool>(threads);
    const Index R = d.resolution.back();
    images_.reserve(3 * R * R);
    input_.reserve(elasticvit::forward_workspace::size_for(d).act);
    logits_.reserve(std::max(1, d.constants.num_classes));
    rng g(0x626c6f636bULL);
    for (auto* w : {&images_, &input_})
      for (Index i = 0; i < w->size(); ++i)
        w->data()[i] = static_cast<float>(2 * uniform_real(g) - 1);
  }

  /// Prepares block `b`: evicts its weights and the forward's buffers from the caches, writes its
  /// input. Call before each run() of a timed loop.
  void prepare(const lut_block& b, profile_mode mode = profile_mode::alone) {
    if (mode == profile_mode::warm) {
      write_input(b);
      return;
    }
    evict_weights(b);
    if (mode == profile_mode::context) {
      const elasticvit::forward_workspace::sizes z = elasticvit::forward_workspace::size_for(b);
      for (int slot = 0; slot < 4; ++slot) evict(ws_.act(0, slot), z.act);
      evict(ws_.expand(0), z.expand);
      evict(ws_.inner(0), z.inner);
      for (int w = 0; w < ws_.worker_capacity(); ++w) evict(ws_.scratch(w), z.scratch);
      if (b.kind == block_kind::first_conv) evict(images_.data(), 3 * Index(b.side_in) * b.side_in);
      if (b.kind == block_kind::head) evict(logits_.data(), logits_.size());
#ifdef EVIT_DETAIL_HAS_CLFLUSH
      _mm_mfence();
#endif
      evict_tlb();  // after the flushes, which translate (and so cache) the pages they flush
      write_input(b);
      return;
    }
    const Index hw_in = Index(b.side_in) * b.side_in, hw = Index(b.side) * b.side;
    const Index e = std::max(1, b.expand), wide = std::max<Index>(b.cout, Index(b.cin) * e);
    evict(ws_.expand(0), Index(b.cin) * e * hw_in);
    evict(ws_.inner(0), Index(b.cin) * e * hw);
    for (int slot = 1; slot < 4; ++slot) evict(ws_.act(0, slot), wide * hw);
#ifdef EVIT_DETAIL_HAS_CLFLUSH
    _mm_mfence();
#endif
    write_input(b);
  }

  /// Writes block `b`'s input (hot in the caches, as the previous block leaves it).
  void write_input(const lut_block& b) {
    const Index hw_in = Index(b.side_in) * b.side_in;
    const Index n = std::max<Index>(b.cin, b.cout) * hw_in;
    std::copy(input_.data(), input_.data() + std::min<Index>(n, input_.size()), ws_.act(0, 0));
  }

  /// Runs block `b` once, as a forward runs it.
  void run(const lut_block& b) {
    if (pool_)
      net_->engine().run_block(b, images_.data(), logits_.data(), ws_, 0, *pool_);
    else
      net_->engine().run_block(b, images_.data(), logits_.data(), ws_, 0);
  }

 private:
  // The TLB: a whole forward walks tens of MB of weights, so the pages of a block's weights are
  // no longer translated when it starts (about 9% of an FFN's time, 20% of the head's at batch
  // 1). Reading one line of each page of a 32 MiB buffer of small pages evicts them.
  void evict_tlb() {
    if (tlb_ == nullptr) {
#ifdef EVIT_DETAIL_HAS_MMAP
      void* p =
          ::mmap(nullptr, tlb_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) return;
#ifdef MADV_NOHUGEPAGE
      (void)::madvise(p, tlb_bytes, MADV_NOHUGEPAGE);
#endif
      tlb_ = std::shared_ptr<char>(static_cast<char*>(p), [](char* q) { ::munmap(q, tlb_bytes); });
#else
      tlb_ = std::shared_ptr<char>(new char[tlb_bytes], std::default_delete<char[]>());
#endif
      for (std::size_t i = 0; i < tlb_bytes; i += page) tlb_.get()[i] = 1;  // fault them in
    }
    const volatile char* c = tlb_.get();
    int sum = 0;
    for (std::size_t i = 0, k = 0; i < tlb_bytes; i += page, ++k) sum += c[i + (k % 64) * 64];
    sink_ = sum;
  }
  static constexpr std::size_t page = 4096, tlb_bytes = std::size_t(32) << 20;
  std::shared_ptr<char> tlb_;
  int sink_ = 0;

  static void evict(const float* p, Index n) {
#ifdef EVIT_DETAIL_HAS_CLFLUSH
    if (p == nullptr || n <= 0) return;
    const char* c = reinterpret_cast<const char*>(p);
    const std::size_t bytes = static_cast<std::size_t>(n) * sizeof(float);
    flush_lines(c, bytes);
#else
    (void)p;
    (void)n;
#endif
  }

  // A linear weight's packed copy (null when the supernet keeps none), which the forward reads
  // instead of the row-major tensor.
  static void evict_packed(const float* p, Index out_max, Index in_max) {
    if (p) evict(p, kernels::packed_linear_size(out_max, in_max));
  }

  // The supernet tensors block `b` reads (at their supernet sizes: b.max), and their packed
  // copies.
  void evict_weights(const lut_block& b) {
    const elasticvit::supernet_weights& w = net_->weights();
    const auto s = static_cast<std::size_t>(b.stage);
    const auto j = static_cast<std::size_t>(b.layer);
    auto mb = [](const elasticvit::mbconv_tensors& t) {
      const Index in = t.in_max, inner = t.inner_max, out = t.out_max, k = t.kernel_max;
      const Index squeezed = inner / elasticvit::model_fixed::se_divisor;
      if (t.has_pw) evict(t.pw, inner * in);
      evict(t.dw, inner * k * k);
      if (t.has_se) {
        evict(t.se1_w, squeezed * inner);
        evict(t.se1_b, squeezed);
        evict(t.se2_w, inner * squeezed);
        evict(t.se2_b, inner);
      }
      evict(t.pwl, out * inner);
      evict(t.shortcut, out * in);
    };
    switch (b.kind) {
      case block_kind::first_conv:
        evict(w.first_conv, Index(b.max.out) * 3 * b.max.kernel * b.max.kernel);
        break;
      case block_kind::conv:
        mb(w.conv_layers[s][j]);
        break;
      case block_kind::reduction:
        mb(w.reduction[s]);
        break;
      case block_kind::attention: {
        const auto& t = w.transformer_layers[s][j];
        const Index c = t.width_max, dv = Index(t.heads_max) * b.head_dim * t.v_max;
        const Index span = 2 * Index(t.rel_side_max) - 1;
        evict(t.qkv, c * (2 * t.qk_max + t.v_max) * c);
        evict(t.rel_bias, span * span * t.heads_max);
        evict(t.v_conv, dv * 9);
        evict(t.proj_w, c * dv);
        evict_packed(t.qkv_packed, t.qkv_rows_max, c);
        evict_packed(t.proj_packed, c, t.proj_in_max);
        break;
      }
      case block_kind::ffn: {
        const auto& t = w.transformer_layers[s][j];
        evict(t.fc1_w, Index(t.hidden_max) * t.width_max);
        evict(t.fc2_w, Index(t.width_max) * t.hidden_max);
        evict_packed(t.fc1_packed, t.hidden_max, t.width_max);
        evict_packed(t.fc2_packed, t.width_max, t.hidden_max);
        break;
      }
      case block_kind::head: {
        const Index ec = Index(b.expand) * b.max.in;
        evict(w.head0_w, ec * b.max.in);
        evict(w.head1_w, Index(b.hidden) * ec);
        evict(w.classifier_w, Index(b.classes) * b.hidden);
        evict_packed(w.head0_packed, ec, b.max.in);
        evict_packed(w.head1_packed, b.hidden, ec);
        evict_packed(w.classifier_packed, b.classes, b.hidden);
        break;
      }
    }
#ifdef EVIT_DETAIL_HAS_CLFLUSH
    _mm_mfence();
#endif
  }

  const elasticvit::supernet<Space>* net_;
  elasticvit::forward_workspace ws_;
  nn::workspace<float> images_, input_, logits_;
  std::unique_ptr<thread_pool> pool_;
};

}  // namespace detail
}  // namespace cost
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
