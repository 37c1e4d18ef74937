// SPDX-License-Identifier: MIT
// Measured latency of a subnet on this machine, with evit's own supernet forward (the kernels
// that will serve it): warm-up runs, then timed runs until the median's 95% confidence interval
// is narrow enough (an adaptive number of repeats, bounded), the median reported with its
// relative interval; one measurement per subnet (cached, by hash and comparison).
//   timing()                                   options with named setters
//   summarize(samples)                          median and its distribution-free interval
//   measured_latency(net, timing)               a cost model in milliseconds (sequential: a
//                                               search calls it on its own thread only)
// Next: cost/block_profiler.hpp (this machine's block table), cost/memory.hpp.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <time.h>
#define EVIT_DETAIL_HAS_THREAD_CPUTIME 1
#endif

#include "evit/core/error.hpp"
#include "evit/core/executor.hpp"
#include "evit/core/rng.hpp"
#include "evit/cost/adaptors.hpp"
#include "evit/models/elasticvit/supernet.hpp"
#include "evit/simd/namespace.hpp"
#include "evit/space/arch_map.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace cost {

/// Which clock times a run.
enum class clock_kind {
  automatic,   ///< thread_cpu for one thread, wall for several (the default)
  thread_cpu,  ///< CPU time of the calling thread: excludes the time the OS gives other
               ///< processes (a shared, loaded machine), includes memory stalls
  wall,        ///< elapsed time (std::chrono::steady_clock)
};

/// How to time: threads, batch, warm-up, repeats, the precision to aim for, the clock.
/// @code
///   auto t = evit::cost::timing().threads(1).warmup(2).repeats(5, 50).target(0.02);
/// @endcode
class timing {
 public:
  /// Worker threads of the forward (over the batch, and inside each op when they outnumber the
  /// images; default 1).
  timing& threads(int n) {
    threads_ = n;
    return *this;
  }
  /// Images per forward (default 1).
  timing& batch(int n) {
    batch_ = n;
    return *this;
  }
  /// Untimed runs first (default 2).
  timing& warmup(int n) {
    warmup_ = n;
    return *this;
  }
  /// Timed runs: at least `lo`, at most `hi` (default 7 and 60).
  timing& repeats(int lo, int hi) {
    min_repeats_ = lo;
    max_repeats_ = hi;
    return *this;
  }
  /// Fixed number of timed runs.
  timing& repeats(int n) { return repeats(n, n); }
  /// Stop once the 95% interval of the median is within +-rel of it (default 0.02).
  timing& target(double rel) {
    target_ = rel;
    return *this;
  }
  /// Time limit per subnet, warm-up included (default 2 s); the interval is then reported as is.
  timing& max_seconds(double s) {
    max_seconds_ = s;
    return *this;
  }
  /// The clock (default automatic: the calling thread's CPU time when the forward runs on one
  /// thread, so that time slices lost to other processes are not counted; wall time otherwise).
  timing& clock(clock_kind k) {
    clock_ = k;
    return *this;
  }
  /// Seed of the random input images (default 1).
  timing& seed(std::uint64_t s) {
    seed_ = s;
    return *this;
  }

  int threads() const { return threads_; }
  int batch() const { return batch_; }
  int warmup() const { return warmup_; }
  int min_repeats() const { return min_repeats_; }
  int max_repeats() const { return max_repeats_; }
  double target() const { return target_; }
  double max_seconds() const { return max_seconds_; }
  std::uint64_t seed() const { return seed_; }
  /// The clock in effect (automatic resolved).
  clock_kind clock() const {
    if (clock_ != clock_kind::automatic) return clock_;
    return threads_ == 1 ? clock_kind::thread_cpu : clock_kind::wall;
  }

  void check() const {
    if (threads_ < 1 || batch_ < 1 || warmup_ < 0 || min_repeats_ < 1 ||
        max_repeats_ < min_repeats_ || !(target_ > 0) || !(max_seconds_ > 0))
      throw invalid_argument(
          "cost::timing: needs threads, batch >= 1, warmup >= 0, 1 <= min repeats <= max "
          "repeats, target > 0 and max_seconds > 0");
  }

 private:
  int threads_ = 1, batch_ = 1, warmup_ = 2, min_repeats_ = 7, max_repeats_ = 60;
  double target_ = 0.02, max_seconds_ = 2.0;
  std::uint64_t seed_ = 1;
  clock_kind clock_ = clock_kind::automatic;
};

/// A latency measurement.
struct latency_stats {
  double median_ms = 0;  ///< the reported latency
  double lo_ms = 0;      ///< 95% confidence interval of the median (order statistics)
  double hi_ms = 0;
  double min_ms = 0;
  int repeats = 0;  ///< timed runs
  /// Half the interval's width over the median.
  double rel_ci() const { return median_ms > 0 ? (hi_ms - lo_ms) / (2 * median_ms) : 0.0; }
};

/// The median of `ms` with its distribution-free 95% interval: the order statistics
/// x_(j) .. x_(k), j = floor((n - 1.96 sqrt(n)) / 2), k = ceil(1 + (n + 1.96 sqrt(n)) / 2)
/// (1-based, clamped), which hold the median with probability >= ~95% for any distribution.
inline latency_stats summarize(std::vector<double> ms) {
  latency_stats s;
  if (ms.empty()) return s;
  std::sort(ms.begin(), ms.end());
  const std::size_t n = ms.size();
  s.repeats = static_cast<int>(n);
  s.min_ms = ms.front();
  s.median_ms = n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
  const double half = 1.96 * std::sqrt(static_cast<double>(n)) / 2;
  const double nn = static_cast<double>(n);
  const auto j = static_cast<long>(std::floor(nn / 2 - half));
  const auto k = static_cast<long>(std::ceil(1 + nn / 2 + half));
  s.lo_ms = ms[static_cast<std::size_t>(std::clamp<long>(j, 1, static_cast<long>(n)) - 1)];
  s.hi_ms = ms[static_cast<std::size_t>(std::clamp<long>(k, 1, static_cast<long>(n)) - 1)];
  return s;
}

namespace detail {

/// Milliseconds on clock `k` (thread CPU time falls back to wall time where POSIX lacks it).
inline double now_ms(clock_kind k) {
#ifdef EVIT_DETAIL_HAS_THREAD_CPUTIME
  if (k == clock_kind::thread_cpu) {
    timespec ts{};
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0)
      return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
  }
#else
  (void)k;
#endif
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// Times fn() after `warmup` untimed calls until the median's interval meets the target.
/// `prepare()` runs before each call, untimed.
template <class Prepare, class Fn>
latency_stats time_adaptively(const timing& t, Prepare&& prepare, Fn&& fn) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(clock::now() - start).count(); };
  for (int i = 0; i < t.warmup(); ++i) {
    prepare();
    fn();
  }
  std::vector<double> ms;
  latency_stats s;
  for (;;) {
    prepare();
    const double t0 = now_ms(t.clock());
    fn();
    ms.push_back(now_ms(t.clock()) - t0);
    const int n = static_cast<int>(ms.size());
    if (n < t.min_repeats()) continue;
    s = summarize(ms);
    if (s.rel_ci() <= t.target() || n >= t.max_repeats() || elapsed() > t.max_seconds()) break;
  }
  return s;
}

}  // namespace detail

/// The measured latency (ms, median) of subnets of one supernet on this machine: a cost model,
/// sequential (a search calls it on its own thread, never concurrently with other work, so the
/// measurement is not disturbed) and cached. Copies share the cache, the buffers and the lock.
/// @pre the supernet outlives the cost model.
/// @code
///   auto net = evit::elasticvit::supernet<space>::random(1);
///   evit::cost::measured_latency latency(net, evit::cost::timing().threads(1));
///   double ms = latency(evit::elasticvit::released("elastic_M"));
///   evit::cost::latency_stats s = latency.measure(a);   // median, interval, repeats
/// @endcode
/// `Net`: the supernet class whose forward is timed (ElasticViT's by default, or
/// autoformer::supernet<Space>, cost/autoformer_latency.hpp).
template <class Space, class Net = elasticvit::supernet<Space>>
class measured_latency {
 public:
  using space_type = Space;
  static constexpr bool monotone = false;
  static constexpr bool sequential = true;

  explicit measured_latency(const Net& net, timing t = {})
      : s_(std::make_shared<state>(net, std::move(t))) {}

  /// The median latency in milliseconds (measured once per subnet).
  double operator()(const arch& a) const { return measure(a).median_ms; }

  /// The full measurement (cached).
  latency_stats measure(const arch& a) const {
    std::lock_guard<std::mutex> lock(s_->m);
    const std::uint64_t h = a.hash();
    if (const latency_stats* c = s_->cache.find(a, h)) return *c;
    const latency_stats r = s_->run(a);
    s_->cache.insert(a, h, r);
    return r;
  }
  /// A new measurement, not cached.
  latency_stats measure_again(const arch& a) const {
    std::lock_guard<std::mutex> lock(s_->m);
    return s_->run(a);
  }
  /// Number of subnets measured.
  std::size_t size() const {
    std::lock_guard<std::mutex> lock(s_->m);
    return s_->cache.size();
  }
  const timing& options() const { return s_->t; }

 private:
  struct state {
    state(const Net& n, timing tm) : net(&n), t(std::move(tm)) {
      t.check();
      const space_descriptor& d = net->space();
      const Index R = d.resolution.back();
      images.resize(static_cast<std::size_t>(t.batch() * 3 * R * R));
      rng g(t.seed());
      for (auto& x : images) x = static_cast<float>(2 * uniform_real(g) - 1);
      logits.resize(static_cast<std::size_t>(t.batch() * net->num_classes()));
      if (t.threads() > 1) pool = std::make_unique<thread_pool>(t.threads());
    }
    latency_stats run(const arch& a) {
      auto once = [&] {
        if (pool)
          net->forward(a, images.data(), t.batch(), logits.data(), ws,
                       typename Net::options_type().executor(*pool));
        else
          net->forward(a, images.data(), t.batch(), logits.data(), ws);
      };
      if (!sized) {  // the first forward sizes the workspace: never timed
        once();
        sized = true;
      }
      return detail::time_adaptively(
          t, [] {}, once);  // the forward validates `a`
    }
    bool sized = false;
    const Net* net;
    timing t;
    std::vector<float> images, logits;
    typename Net::workspace_type ws;
    std::unique_ptr<thread_pool> pool;
    std::mutex m;
    arch_map<latency_stats> cache;
  };
  std::shared_ptr<state> s_;
};

template <class Space>
measured_latency(const elasticvit::supernet<Space>&, timing) -> measured_latency<Space>;
template <class Space>
measured_latency(const elasticvit::supernet<Space>&) -> measured_latency<Space>;

}  // namespace cost
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
