// SPDX-License-Identifier: MIT
// core/executor.hpp: every item runs exactly once on a valid worker, over many reused calls,
// whether idle workers spin or sleep; a worker's exception reaches the caller and leaves the pool
// usable; calls from several threads on one pool take turns. Runs under ThreadSanitizer too.
#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include "evit/core/executor.hpp"

#include "catch.hpp"

using evit::Index;

namespace {
template <class Executor>
void check_each_item_once(Executor& exec, Index n) {
  std::vector<std::atomic<int>> runs(static_cast<std::size_t>(n));
  std::atomic<bool> bad_worker{false};
  exec.parallel_for(n, [&](Index i, int worker) {
    if (worker < 0 || worker >= exec.num_threads()) bad_worker = true;
    ++runs[static_cast<std::size_t>(i)];
  });
  CHECK_FALSE(bad_worker.load());
  for (Index i = 0; i < n; ++i) {
    CAPTURE(n, i);
    REQUIRE(runs[static_cast<std::size_t>(i)].load() == 1);
  }
}
}  // namespace

TEST_CASE("executor: thread_pool runs every item once on a valid worker, call after call",
          "[runtime][executor]") {
  const int threads = GENERATE(1, 2, 4);
  const int spin = GENERATE(0, 2000);  // idle workers sleep at once, or spin first
  CAPTURE(threads, spin);
  evit::thread_pool pool(threads, spin);
  CHECK(pool.num_threads() == threads);
  for (int call = 0; call < 200; ++call) check_each_item_once(pool, call % 9);
  check_each_item_once(pool, 10000);
  evit::executor_ref ref(pool);
  CHECK(ref.num_threads() == threads);
  check_each_item_once(ref, 33);
}

TEST_CASE("executor: sequential_executor runs in index order on worker 0", "[runtime][executor]") {
  evit::sequential_executor seq;
  std::vector<Index> order;
  evit::executor_ref ref(seq);
  ref.parallel_for(5, [&](Index i, int worker) {
    CHECK(worker == 0);
    order.push_back(i);
  });
  CHECK(order == std::vector<Index>{0, 1, 2, 3, 4});
}

TEST_CASE("executor: an exception in an item reaches the caller, the pool stays usable",
          "[runtime][executor]") {
  evit::thread_pool pool(3);
  std::atomic<int> done{0};
  CHECK_THROWS_AS(pool.parallel_for(100,
                                    [&](Index i, int) {
                                      if (i == 57) throw std::runtime_error("item 57");
                                      ++done;
                                    }),
                  std::runtime_error);
  CHECK(done.load() == 99);  // the other items still ran
  check_each_item_once(pool, 50);
}

TEST_CASE("executor: calls from several threads on one pool take turns", "[runtime][executor]") {
  evit::thread_pool pool(2);
  std::atomic<long> sum{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 3; ++t)
    callers.emplace_back([&] {
      for (int call = 0; call < 50; ++call)
        pool.parallel_for(10, [&](Index i, int) { sum += static_cast<long>(i); });
    });
  for (auto& c : callers) c.join();
  CHECK(sum.load() == 3L * 50 * 45);
}
