// SPDX-License-Identifier: MIT
// Executors: how evit runs independent pieces of work. The library never starts threads on its
// own; a caller who wants parallelism passes a thread_pool. Work items are indexed and write
// disjoint outputs, so results never depend on the number of threads.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

#include "evit/core/error.hpp"
#include "evit/core/index.hpp"

namespace evit {

/// Runs everything on the calling thread, in index order.
class sequential_executor {
 public:
  int num_threads() const { return 1; }
  /// Calls fn(i, worker) for i in [0, n), worker = 0.
  template <class F>
  void parallel_for(Index n, F&& fn) const {
    for (Index i = 0; i < n; ++i) fn(i, 0);
  }
};

/// A fixed pool of worker threads (the calling thread takes part as worker 0).
/// @code
///   evit::thread_pool pool(2);
///   pool.parallel_for(batch, [&](evit::Index b, int worker) { ... scratch[worker] ... });
/// @endcode
/// A forward pass at batch 1 issues a few hundred short parallel_for calls, so idle workers spin
/// (yielding) for a while before they sleep: waking a sleeping thread costs tens of microseconds,
/// as much as a small op.
class thread_pool {
 public:
  /// @param spin how many times an idle worker yields, waiting for the next call, before it
  ///             sleeps (0: sleep at once).
  explicit thread_pool(int threads, int spin = 2000) : n_(std::max(1, threads)), spin_(spin) {
    for (int t = 1; t < n_; ++t) workers_.emplace_back([this, t] { loop(t); });
  }
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;
  ~thread_pool() {
    {
      std::lock_guard<std::mutex> lock(m_);
      stop_.store(true);
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
  }

  int num_threads() const { return n_; }

  /// Calls fn(i, worker) for i in [0, n), worker in [0, num_threads()), items taken dynamically;
  /// returns when all are done. The first exception thrown by fn is rethrown here.
  template <class F>
  void parallel_for(Index n, F&& fn) {
    if (n <= 0) return;
    std::lock_guard<std::mutex> call_lock(call_m_);  // one parallel_for at a time per pool
    std::function<void(Index, int)> job = [&fn](Index i, int w) { fn(i, w); };
    {
      std::lock_guard<std::mutex> lock(m_);
      job_ = &job;
      n_items_ = n;
      next_.store(0);
      error_ = nullptr;
      generation_.store(generation_.load() + 1);
    }
    cv_.notify_all();
    run(0);
    // Every item has been taken; wait for the workers still running one (spinning first).
    for (int i = 0; i < spin_ && active_.load() != 0; ++i) std::this_thread::yield();
    std::unique_lock<std::mutex> lock(m_);
    done_cv_.wait(lock, [&] { return active_.load() == 0; });
    job_ = nullptr;  // under the lock: no worker joins this call any more
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void run(int worker) {
    for (;;) {
      const Index i = next_.fetch_add(1);
      if (i >= n_items_) return;
      try {
        (*job_)(i, worker);
      } catch (...) {
        std::lock_guard<std::mutex> lock(m_);
        if (!error_) error_ = std::current_exception();
      }
    }
  }
  void loop(int worker) {
    std::size_t seen = 0;
    for (;;) {
      for (int i = 0; i < spin_ && generation_.load() == seen && !stop_.load(); ++i)
        std::this_thread::yield();
      {
        std::unique_lock<std::mutex> lock(m_);
        cv_.wait(lock, [&] { return stop_.load() || (generation_.load() != seen && job_); });
        if (stop_.load()) return;
        seen = generation_.load();
        active_.fetch_add(1);  // under the lock, while job_ is set: the caller waits for us
      }
      run(worker);
      if (active_.fetch_sub(1) == 1) {
        std::lock_guard<std::mutex> lock(m_);
        done_cv_.notify_all();
      }
    }
  }

  int n_;
  int spin_;
  std::vector<std::thread> workers_;
  std::mutex m_, call_m_;
  std::condition_variable cv_, done_cv_;
  std::function<void(Index, int)>* job_ = nullptr;  // set and cleared under m_
  Index n_items_ = 0;                               // written under m_ before generation_
  std::atomic<Index> next_{0};
  std::atomic<int> active_{0};  // workers inside run() for the current call
  std::atomic<std::size_t> generation_{0};
  std::exception_ptr error_;
  std::atomic<bool> stop_{false};
};

/// A non-owning, type-erased reference to any executor (sequential_executor, thread_pool, or a
/// user type with num_threads() and parallel_for(n, fn(i, worker))), so that non-template code can
/// run on it. Allocation-free.
class executor_ref {
 public:
  template <class E, class = std::enable_if_t<!std::is_same<std::decay_t<E>, executor_ref>::value>>
  executor_ref(E& e)  // NOLINT: implicit, like a reference
      : obj_(const_cast<void*>(static_cast<const void*>(&e))),
        threads_(e.num_threads()),
        call_(&call<std::remove_const_t<E>>) {}

  int num_threads() const { return threads_; }

  template <class F>
  void parallel_for(Index n, F&& fn) const {
    const task t{const_cast<void*>(static_cast<const void*>(&fn)),
                 &invoke<std::remove_reference_t<F>>};
    call_(obj_, n, t);
  }

 private:
  struct task {
    void* fn;
    void (*run)(void*, Index, int);
  };
  template <class F>
  static void invoke(void* f, Index i, int worker) {
    (*static_cast<F*>(f))(i, worker);
  }
  template <class E>
  static void call(void* e, Index n, const task& t) {
    static_cast<E*>(e)->parallel_for(n, [&t](Index i, int worker) { t.run(t.fn, i, worker); });
  }

  void* obj_;
  int threads_;
  void (*call_)(void*, Index, const task&);
};

}  // namespace evit
