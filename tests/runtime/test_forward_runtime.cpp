// SPDX-License-Identifier: MIT
// Run-time properties of the forward pass: no allocation once the workspace is sized, no weight
// copy when switching subnets, results independent of the executor, and concurrent forwards of
// different subnets on one supernet equal the sequential ones (this file also runs under
// ThreadSanitizer in the test command).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <new>
#include <thread>
#include <utility>
#include <vector>

#include "evit/core/executor.hpp"
#include "evit/core/rng.hpp"
#include "evit/io/arch_text.hpp"
#include "evit/models/autoformer/released.hpp"
#include "evit/models/autoformer/supernet.hpp"
#include "evit/models/elasticvit/released.hpp"
#include "evit/models/elasticvit/supernet.hpp"

#include "catch.hpp"

namespace {
std::atomic<long> g_allocations{0};
std::atomic<bool> g_counting{false};
}  // namespace

// Counts every allocation of this test program (plain and aligned) while g_counting is set.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpragmas"
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) ++g_allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, std::align_val_t al) {
  if (g_counting.load(std::memory_order_relaxed)) ++g_allocations;
  const std::size_t a = static_cast<std::size_t>(al);
  if (void* p = std::aligned_alloc(a, (n + a - 1) / a * a)) return p;
  throw std::bad_alloc();
}
// Every other form forwards to these two, so that all memory comes from malloc and goes back to
// free (Catch2 allocates with the nothrow forms; AddressSanitizer checks the pairing).
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new[](std::size_t n, std::align_val_t al) { return operator new(n, al); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return operator new(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void* operator new(std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept {
  try {
    return operator new(n, al);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, std::align_val_t al, const std::nothrow_t& t) noexcept {
  return operator new(n, al, t);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace ev = evit::elasticvit;
using S = ev::mini_space;
using net_t = ev::supernet<S>;

namespace {
std::vector<float> random_images(evit::Index batch, int r, std::uint64_t seed) {
  evit::rng g(seed);
  std::vector<float> v(static_cast<std::size_t>(batch * 3 * r * r));
  for (auto& x : v) x = static_cast<float>(2 * evit::uniform_real(g) - 1);
  return v;
}
const net_t& shared_net() {
  static const net_t net = net_t::random(11);
  return net;
}
}  // namespace

TEST_CASE("forward: repeated forwards of any subnets allocate nothing", "[models][runtime]") {
  const net_t& net = shared_net();
  ev::forward_workspace ws;
  ws.reserve(S::descriptor(), 2, 1);
  evit::rng g(1);
  std::vector<evit::arch> archs{S::min_arch(), S::max_arch()};
  for (int i = 0; i < 8; ++i) archs.push_back(S::sample(g));
  std::vector<std::vector<float>> images;
  for (const auto& a : archs) images.push_back(random_images(2, a.resolution(), 5));
  std::vector<float> logits(2 * 10);
  const float* weights_before = net.weights().data();
  g_allocations = 0;
  g_counting = true;
  for (std::size_t i = 0; i < archs.size(); ++i)
    net.forward(archs[i], images[i].data(), 2, logits.data(), ws);
  g_counting = false;
  CHECK(g_allocations.load() == 0);
  // Also when one sample's ops are cut into pieces over a thread pool.
  evit::thread_pool pool(2);
  ws.reserve(S::descriptor(), 2, pool.num_threads());
  g_allocations = 0;
  g_counting = true;
  for (std::size_t i = 0; i < archs.size(); ++i)
    net.forward(archs[i], images[i].data(), 1, logits.data(), ws,
                ev::forward_options().executor(pool));
  g_counting = false;
  CHECK(g_allocations.load() == 0);
  // Positive control: the hook does see allocations, plain and aligned.
  g_counting = true;
  {
    std::vector<int> v(100);
    evit::nn::workspace<float> w(100);
    (void)v;
  }
  g_counting = false;
  CHECK(g_allocations.load() == 2);
  CHECK(net.weights().data() == weights_before);  // switching subnets moved no weight
}

TEST_CASE("forward: the result does not depend on the executor", "[models][runtime]") {
  const net_t& net = shared_net();
  const evit::arch a = S::max_arch();
  const auto images = random_images(3, a.resolution(), 8);
  std::vector<float> seq(30), par(30);
  ev::forward_workspace ws1, ws2;
  net.forward(a, images.data(), 3, seq.data(), ws1);
  evit::thread_pool pool(2);
  net.forward(a, images.data(), 3, par.data(), ws2, ev::forward_options().executor(pool));
  CHECK(seq == par);
}

TEST_CASE("forward: a profile times the blocks in the order they run, allocating nothing",
          "[models][runtime]") {
  // At batch >= workers the conv blocks go sample by sample; a profiled forward keeps that
  // order (the same logits bit for bit), and each kind of block in the plan gets time.
  const net_t& net = shared_net();
  const evit::arch a = S::max_arch();
  std::vector<ev::block> plan;
  ev::build_plan(S::descriptor(), a, plan);
  const evit::Index batch = 3;
  const auto images = random_images(batch, a.resolution(), 9);
  std::vector<float> plain(batch * 10), profiled(batch * 10);
  evit::thread_pool pool(2);
  for (int threads : {1, 2}) {
    CAPTURE(threads);
    const auto opts = threads == 1 ? ev::forward_options() : ev::forward_options().executor(pool);
    ev::forward_workspace ws;
    net.forward(a, images.data(), batch, plain.data(), ws, opts);
    ev::forward_profile prof;
    auto with_profile = opts;
    with_profile.profile(prof);
    g_allocations = 0;
    g_counting = true;
    const auto t0 = std::chrono::steady_clock::now();
    net.forward(a, images.data(), batch, profiled.data(), ws, with_profile);
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    g_counting = false;
    CHECK(g_allocations.load() == 0);
    CHECK(profiled == plain);
    const double by_kind[] = {prof.first_conv, prof.mbconv, prof.reduction,
                              prof.attention,  prof.ffn,    prof.head};
    for (const ev::block& b : plan) {
      CAPTURE(ev::block_kind_name(b.kind));
      CHECK(by_kind[static_cast<int>(b.kind)] > 0);
    }
    // Every kind's time is a part of the call's: the run's wall time split, not the workers'
    // summed times.
    CHECK(prof.total() <= wall);
    // Op by op over the batch instead: the same logits.
    auto op_by_op = opts;
    op_by_op.sample_by_sample(false);
    std::vector<float> by_op(batch * 10);
    net.forward(a, images.data(), batch, by_op.data(), ws, op_by_op);
    CHECK(by_op == plain);
  }
}

TEST_CASE("forward: each sample of a batch gets the logits of a forward on it alone",
          "[models][runtime]") {
  // A batch runs its first blocks sample by sample (a worker takes one sample through the first
  // conv and the conv stages) and the rest op by op over the batch (the transformer layers'
  // products on all samples' rows at once); one image runs every block op by op. Each output is
  // computed the same way in both orders: the same bits.
  const net_t& net = shared_net();
  evit::rng g(6);
  for (const auto& a : {S::max_arch(), S::min_arch(), S::sample(g)}) {
    CAPTURE(evit::to_string(S::descriptor(), a));
    const evit::Index batch = 3, pixels = 3 * evit::Index(a.resolution()) * a.resolution();
    const auto images = random_images(batch, a.resolution(), 12);
    std::vector<float> together(static_cast<std::size_t>(batch * 10)), alone(10);
    ev::forward_workspace ws1, ws2;
    net.forward(a, images.data(), batch, together.data(), ws1);
    for (evit::Index i = 0; i < batch; ++i) {
      CAPTURE(i);
      net.forward(a, images.data() + i * pixels, 1, alone.data(), ws2);
      CHECK(std::equal(alone.begin(), alone.end(), together.begin() + i * 10));
    }
  }
}

TEST_CASE("forward: ops cut into pieces over several workers give the sequential result",
          "[models][runtime][threads]") {
  // With fewer samples than workers every op of a sample runs in pieces (columns, channels,
  // heads, rows); each piece computes its elements exactly as the whole op, so the logits are
  // equal bit for bit, for any worker count, batch and subnet.
  const net_t& net = shared_net();
  evit::rng g(3);
  const auto shape = GENERATE(std::make_pair(2, 1), std::make_pair(3, 1), std::make_pair(5, 2));
  const int threads = shape.first;
  const evit::Index batch = shape.second;
  CAPTURE(threads, batch);
  evit::thread_pool pool(threads);
  for (const auto& a : {S::max_arch(), S::min_arch(), S::sample(g)}) {
    CAPTURE(evit::to_string(S::descriptor(), a));
    const auto images = random_images(batch, a.resolution(), 9);
    std::vector<float> seq(static_cast<std::size_t>(batch * 10)), par(seq.size());
    ev::forward_workspace ws1, ws2;
    net.forward(a, images.data(), batch, seq.data(), ws1);
    net.forward(a, images.data(), batch, par.data(), ws2, ev::forward_options().executor(pool));
    CHECK(seq == par);
  }
}

TEST_CASE("forward: BatchNorm recalibration over a pool equals the sequential one",
          "[models][runtime][threads]") {
  const net_t& net = shared_net();
  evit::rng g(4);
  const evit::arch a = S::sample(g);
  const std::vector<std::vector<float>> calib{random_images(2, a.resolution(), 30),
                                              random_images(2, a.resolution(), 31)};
  ev::forward_workspace ws1, ws2;
  evit::thread_pool pool(3);
  const auto o_seq = net.recalibrate(a, calib, ws1);
  const auto o_par = net.recalibrate(a, calib, ws2, pool);
  REQUIRE(o_seq.all().size() == o_par.all().size());
  for (const auto& kv : o_seq.all()) {
    CAPTURE(kv.first);
    CHECK(kv.second.mean == o_par.at(kv.first).mean);
    CHECK(kv.second.var == o_par.at(kv.first).var);
  }
}

TEST_CASE("forward: a released official subnet in pieces over a pool equals the sequential one",
          "[models][runtime][threads]") {
  // The official space's widths (ragged pieces of 1632, 1984 and 1000 columns, 17 heads). The
  // sequential forward runs elastic_L3's large MBConvs in bands of rows (stride 1 and 2); the
  // pool's pieces run them as whole maps: the same bits.
  using O = ev::official_space;
  static const auto official = ev::supernet<O>::random(5);
  int banded = 0, banded_s2 = 0;
  const ev::plan l3 = ev::plan::of(O::descriptor(), ev::released("elastic_L3"));
  for (const auto& b : l3.blocks())
    if (ev::mbconv_in_bands(b)) {
      ++banded;
      banded_s2 += b.stride == 2;
    }
  CHECK(banded >= 3);
  CHECK(banded_s2 >= 1);
  for (const char* name : {"elastic_T1", "elastic_L3"}) {
    CAPTURE(name);
    const evit::arch& a = ev::released(name);
    const auto images = random_images(1, a.resolution(), 12);
    ev::forward_workspace ws1, ws2;
    std::vector<float> seq(1000), par(1000);
    official.forward(a, images.data(), 1, seq.data(), ws1);
    evit::thread_pool pool(3);
    official.forward(a, images.data(), 1, par.data(), ws2, ev::forward_options().executor(pool));
    CHECK(seq == par);
  }
}

TEST_CASE("forward: concurrent forwards of different subnets equal sequential ones",
          "[models][runtime][threads]") {
  const net_t& net = shared_net();
  evit::rng g(2);
  const int threads = 4;
  std::vector<evit::arch> archs;
  std::vector<std::vector<float>> images, expect(threads), got(threads);
  for (int t = 0; t < threads; ++t) {
    archs.push_back(S::sample(g));
    images.push_back(random_images(1, archs.back().resolution(), 20 + t));
    ev::forward_workspace ws;
    expect[static_cast<std::size_t>(t)] = net.forward(archs.back(), images.back(), 1, ws);
  }
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      ev::forward_workspace ws;  // one workspace per thread; the supernet is shared
      for (int rep = 0; rep < 3; ++rep)
        got[static_cast<std::size_t>(t)] = net.forward(archs[static_cast<std::size_t>(t)],
                                                       images[static_cast<std::size_t>(t)], 1, ws);
    });
  for (auto& th : pool) th.join();
  for (int t = 0; t < threads; ++t)
    CHECK(got[static_cast<std::size_t>(t)] == expect[static_cast<std::size_t>(t)]);
}

TEST_CASE("forward: bad input is an error naming the problem", "[models][runtime]") {
  const net_t& net = shared_net();
  ev::forward_workspace ws;
  const evit::arch a = S::min_arch();
  CHECK_THROWS_WITH(net.forward(a, std::vector<float>(10), 1, ws),
                    "forward: 10 input values for a batch of 1 at 96x96 (expected 27648)");
  evit::arch bad = a;
  bad.set_width(5, 50);
  CHECK_THROWS_AS(net.forward(bad, std::vector<float>(27648), 1, ws), evit::invalid_arch);
  CHECK_THROWS_AS(net.forward(a, std::vector<float>(), 0, ws), evit::invalid_argument);
}

// ---- AutoFormer (models/autoformer): the same guarantees ----------------------------------------

TEST_CASE("autoformer forward: repeated forwards of any subnets allocate nothing, weights in place",
          "[models][runtime][af]") {
  namespace af = evit::autoformer;
  using AS = af::tiny_released_space;
  static const auto net = af::supernet<AS>::random(5);
  evit::rng g(2);
  std::vector<evit::arch> archs{AS::min_arch(), AS::max_arch(),
                                af::released(AS::descriptor(), "AutoFormer-T")};
  for (int i = 0; i < 3; ++i) archs.push_back(AS::sample(g));
  const auto images = random_images(2, 224, 9);
  std::vector<float> logits(2 * 1000), first(2 * 1000);
  af::forward_workspace ws;
  evit::thread_pool pool(3);
  net.forward(archs[1], images.data(), 2, logits.data(), ws,
              af::forward_options().executor(pool));  // sizes the workspace
  for (auto* exec : {static_cast<evit::thread_pool*>(nullptr), &pool}) {
    g_allocations = 0;
    g_counting = true;
    for (const auto& a : archs) {
      if (exec)
        net.forward(a, images.data(), 1, logits.data(), ws, af::forward_options().executor(*exec));
      else
        net.forward(a, images.data(), 2, logits.data(), ws);
    }
    g_counting = false;
    CHECK(g_allocations.load() == 0);
  }
  // Concurrent forwards of different subnets on the one supernet equal the sequential ones.
  std::vector<std::vector<float>> expect, got(archs.size());
  for (const auto& a : archs) expect.push_back(net.forward(a, images, 2, ws));
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < archs.size(); ++t)
    threads.emplace_back([&, t] {
      af::forward_workspace own;
      got[t] = net.forward(archs[t], images, 2, own);
    });
  for (auto& th : threads) th.join();
  CHECK(got == expect);
}
