// SPDX-License-Identifier: MIT
// A search's objective evaluated across MPI processes (docs/mpi.md). Rank 0 runs the search (its
// state and its record of evaluated subnets stay there); every rank, rank 0 included, evaluates
// its share of each generation's new subnets, sent as arch text:
//   - candidate-parallel: subnet j of the generation on rank j % size (or, given a cost estimate
//     such as MACs, longest first to the least loaded rank), the values gathered back in
//     candidate order;
//   - data-parallel, when the generation has fewer subnets than ranks and the evaluator can count
//     right answers on a part of its images (elasticvit::top1_evaluator's count_correct): every
//     rank scores its share of the images of each subnet (whole forward batches), the integer
//     counts are added on rank 0, so the accuracy is exactly the one-process one.
// Either way the values are bit-identical to the one-process search's for the same seed, whatever
// the number of ranks (on ranks running the same ISA: set EVIT_ISA on a mixed cluster).
// An exception on any rank is sent to rank 0, which throws evit::error naming the rank, the
// subnet and the message; the other ranks go back to waiting for the next command.
//   evit::mpi::environment env(argc, argv);
//   evit::mpi::evaluator_pool<space, ev::top1_evaluator<space>> pool(top1);
//   pool.run([&] {                       // rank 0 runs this; ranks > 0 serve until it returns
//     auto r = evit::evolutionary_search<space>(pool.objective(), constraint, opts, seed);
//   });
#pragma once

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <exception>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "evit/core/error.hpp"
#include "evit/io/arch_text.hpp"
#include "evit/mpi/environment.hpp"  // <mpi.h>, without its C++ bindings
#include "evit/space/arch.hpp"
#include "evit/space/search_space.hpp"

namespace evit {
namespace mpi {

namespace detail {
/// Evaluators with top1_evaluator's counting interface: scored(), batch(),
/// count_correct(a, begin, end) and percent(correct).
template <class E, class = void>
struct can_count : std::false_type {};
template <class E>
struct can_count<
    E, std::void_t<decltype(static_cast<std::size_t>(std::declval<const E&>().scored())),
                   decltype(static_cast<std::size_t>(std::declval<const E&>().batch())),
                   decltype(static_cast<std::size_t>(std::declval<const E&>().count_correct(
                       std::declval<const arch&>(), std::size_t{}, std::size_t{}))),
                   decltype(static_cast<double>(std::declval<const E&>().percent(std::size_t{})))>>
    : std::true_type {};

template <class T>
void append(std::string& out, const T& v) {
  static_assert(std::is_trivially_copyable_v<T>, "evit::mpi: raw bytes of plain values only");
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
template <class T>
T read(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
}  // namespace detail

/// True when evaluator E can count right answers on a part of its images (top1_evaluator does),
/// so that one subnet can be shared between ranks (data-parallel).
template <class E>
inline constexpr bool can_count_v = detail::can_count<E>::value;

/// How an evaluator_pool shares the work.
struct pool_options {
  /// Share a subnet's images between ranks when a generation has fewer subnets than ranks (only
  /// with evaluators that can count: can_count_v). Off: such ranks wait.
  bool shard = true;
  /// Optional: a subnet's predicted evaluation cost in any unit (its MACs, say). Given, each
  /// generation's subnets go longest first to the least loaded rank (ties: the lower index, the
  /// lower rank), which evens out ranks when subnets differ much in cost; else subnet j goes to
  /// rank j % size. Either way deterministic, and the values do not depend on it.
  std::function<double(const arch&)> cost;
};

/// What an evaluator_pool did (rank 0's view).
struct pool_stats {
  std::uint64_t calls = 0;               ///< batches evaluated (one per generation in a search)
  std::uint64_t subnets = 0;             ///< subnets evaluated
  std::uint64_t sharded_subnets = 0;     ///< of which data-parallel
  std::uint64_t bytes_broadcast = 0;     ///< command and arch text, per receiving rank
  std::uint64_t bytes_gathered = 0;      ///< replies from ranks > 0, all of them together
  double seconds = 0;                    ///< wall time in evaluate(), rank 0's share included
  std::vector<double> rank_seconds;      ///< per rank: wall time spent evaluating
  std::vector<double> rank_cpu_seconds;  ///< per rank: its process's CPU time spent evaluating
};

template <class Space, class Evaluator>
class evaluator_pool;

/// The pool as a search objective: a sequential cost model with a batch form
/// (evit::is_batch_cost_model_v), so that a search hands it each generation whole. Only rank 0
/// calls it. Valid while its pool lives.
template <class Space, class Evaluator>
class pool_objective {
 public:
  static constexpr bool sequential = true;
  using space_type = Space;

  explicit pool_objective(evaluator_pool<Space, Evaluator>& p) : pool_(&p) {}
  double operator()(const arch& a) const { return pool_->evaluate(std::vector<arch>{a})[0]; }
  std::vector<double> evaluate_batch(const std::vector<arch>& subnets) const {
    return pool_->evaluate(subnets);
  }

 private:
  evaluator_pool<Space, Evaluator>* pool_;
};

/// Evaluates subnets of Space with an Evaluator (a cost model: double(const arch&) on a const
/// object; each rank holds its own, built the same way) across the ranks of a communicator.
/// Every rank constructs the pool (collectively) with an equivalent evaluator; then rank 0
/// evaluates (evaluate(), objective(), or a search given objective()) while ranks > 0 serve()
/// until rank 0 calls stop() (run() does both).
/// @tparam Space      an evit::search_space<...> type (the arch text's space).
/// @tparam Evaluator  e.g. elasticvit::top1_evaluator<Space>; with can_count_v, one subnet can
///                    be shared between ranks.
template <class Space, class Evaluator>
class evaluator_pool {
  static_assert(is_search_space_v<Space>,
                "evit::mpi::evaluator_pool<Space, Evaluator>: Space must be an "
                "evit::search_space<...> type (see evit/space/search_space.hpp)");

 public:
  /// Collective over `comm` (duplicated: the pool's messages never mix with the program's).
  /// @throws evit::invalid_argument for MPI_COMM_NULL.
  explicit evaluator_pool(Evaluator e, MPI_Comm comm = MPI_COMM_WORLD,
                          pool_options o = pool_options())
      : eval_(std::move(e)), opts_(o) {
    if (comm == MPI_COMM_NULL)
      throw invalid_argument(
          "mpi::evaluator_pool: communicator is MPI_COMM_NULL (give a communicator this process "
          "belongs to, e.g. MPI_COMM_WORLD)");
    check(MPI_Comm_dup(comm, &comm_), "MPI_Comm_dup");
    check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
    stats_.rank_seconds.assign(static_cast<std::size_t>(size_), 0.0);
    stats_.rank_cpu_seconds.assign(static_cast<std::size_t>(size_), 0.0);
  }
  evaluator_pool(const evaluator_pool&) = delete;
  evaluator_pool& operator=(const evaluator_pool&) = delete;
  /// Rank 0 stops the other ranks if it has not yet (an exception left run() or the program's
  /// own code): they return from serve() instead of waiting forever.
  ~evaluator_pool() {
    try {
      if (rank_ == 0) stop();
    } catch (...) {  // a destructor must not throw; MPI's own handler aborts on real faults
    }
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm_);
  }

  int rank() const { return rank_; }
  int size() const { return size_; }
  const Evaluator& evaluator() const { return eval_; }
  const pool_stats& stats() const { return stats_; }

  /// The pool as a search objective (maximised by default; evit::minimize(pool.objective())).
  pool_objective<Space, Evaluator> objective() { return pool_objective<Space, Evaluator>(*this); }

  /// Rank 0: the values of `subnets`, in order, evaluated across the ranks.
  /// @throws evit::error naming the rank, the subnet and the message when an evaluation threw on
  ///         any rank (the lowest such rank; every rank is then ready for the next command);
  ///         evit::invalid_argument on a rank other than 0 or after stop().
  std::vector<double> evaluate(const std::vector<arch>& subnets) {
    if (rank_ != 0)
      throw invalid_argument("mpi::evaluator_pool::evaluate: called on rank " +
                             std::to_string(rank_) + "; only rank 0 evaluates (ranks 1.." +
                             std::to_string(size_ - 1) + " call serve())");
    if (stopped_)
      throw invalid_argument(
          "mpi::evaluator_pool::evaluate: the pool is stopped (stop() was "
          "called; the other ranks have left serve())");
    if (subnets.empty()) return {};
    const double t0 = MPI_Wtime();
    const space_descriptor& d = Space::descriptor();
    bool sharded = false;
    if constexpr (can_count_v<Evaluator>)
      sharded = opts_.shard && size_ > 1 && subnets.size() < static_cast<std::size_t>(size_);
    // One line per subnet: the rank that evaluates it (0 when shared) and its text.
    const std::vector<int> owners = sharded ? std::vector<int>(subnets.size(), 0) : assign(subnets);
    std::string text;
    for (std::size_t j = 0; j < subnets.size(); ++j)
      text += std::to_string(owners[j]) + ' ' + evit::to_string(d, subnets[j]) + '\n';
    if (text.size() > static_cast<std::size_t>(INT_MAX))
      throw invalid_argument("mpi::evaluator_pool::evaluate: " + std::to_string(subnets.size()) +
                             " subnets make " + std::to_string(text.size()) +
                             " bytes of text; at most " + std::to_string(INT_MAX) + " per call");
    header h;
    h.command = command_evaluate;
    h.count = static_cast<std::int64_t>(subnets.size());
    h.bytes = static_cast<std::int64_t>(text.size());
    h.sharded = sharded ? 1 : 0;
    broadcast(h, text);
    const std::vector<std::string> replies = gather(work(h, text));
    std::vector<double> values = decode(h, replies, subnets, owners);
    ++stats_.calls;
    stats_.subnets += subnets.size();
    if (h.sharded) stats_.sharded_subnets += subnets.size();
    stats_.seconds += MPI_Wtime() - t0;
    return values;
  }

  /// Ranks > 0: evaluates what rank 0 sends until it calls stop(). Errors of an evaluation go to
  /// rank 0 (which throws them); this rank then waits for the next command.
  /// @throws evit::invalid_argument on rank 0.
  void serve() {
    if (rank_ == 0)
      throw invalid_argument(
          "mpi::evaluator_pool::serve: called on rank 0; rank 0 runs the "
          "search (evaluate(), objective()) and ends with stop()");
    for (;;) {
      header h;
      std::string text;
      broadcast(h, text);
      if (h.command == command_stop) return;
      gather(work(h, text));
    }
  }

  /// Rank 0: lets the other ranks return from serve(). Idempotent; the destructor calls it.
  void stop() {
    if (rank_ != 0 || stopped_) return;
    stopped_ = true;
    header h;
    h.command = command_stop;
    std::string none;
    broadcast(h, none);
  }

  /// Rank 0 runs `root()` and then stop() (also when root() throws: the exception is rethrown
  /// after the other ranks were stopped); ranks > 0 serve() until then. Returns on every rank.
  template <class F>
  void run(F&& root) {
    if (rank_ != 0) {
      serve();
      return;
    }
    try {
      root();
    } catch (...) {
      stop();
      throw;
    }
    stop();
  }

 private:
  static constexpr std::int64_t command_stop = 0, command_evaluate = 1;
  struct header {
    std::int64_t command = command_stop, count = 0, bytes = 0, sharded = 0;
  };

  // Rank 0: which rank evaluates each subnet (pool_options::cost).
  std::vector<int> assign(const std::vector<arch>& subnets) const {
    const std::size_t n = subnets.size(), s = static_cast<std::size_t>(size_);
    std::vector<int> owners(n);
    if (!opts_.cost) {
      for (std::size_t j = 0; j < n; ++j) owners[j] = static_cast<int>(j % s);
      return owners;
    }
    std::vector<double> w(n);
    for (std::size_t j = 0; j < n; ++j) {
      w[j] = opts_.cost(subnets[j]);
      if (!(w[j] >= 0) || !std::isfinite(w[j]))
        throw invalid_argument("mpi::pool_options::cost: " + std::to_string(w[j]) + " for subnet " +
                               evit::to_string(Space::descriptor(), subnets[j]) +
                               " (a cost must be finite and >= 0)");
    }
    std::vector<std::size_t> order(n);
    for (std::size_t j = 0; j < n; ++j) order[j] = j;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t x, std::size_t y) { return w[x] > w[y]; });
    std::vector<double> load(s, 0.0);
    for (std::size_t j : order) {
      const std::size_t r = static_cast<std::size_t>(std::min_element(load.begin(), load.end()) -
                                                     load.begin());  // the first minimum
      owners[j] = static_cast<int>(r);
      load[r] += w[j];
    }
    return owners;
  }

  // Rank 0 sends `h` and `text`; the others receive them.
  void broadcast(header& h, std::string& text) {
    std::int64_t raw[4] = {h.command, h.count, h.bytes, h.sharded};
    check(MPI_Bcast(raw, 4, MPI_INT64_T, 0, comm_), "MPI_Bcast");
    h = header{raw[0], raw[1], raw[2], raw[3]};
    text.resize(static_cast<std::size_t>(h.bytes));
    if (h.bytes > 0)
      check(MPI_Bcast(&text[0], static_cast<int>(h.bytes), MPI_CHAR, 0, comm_), "MPI_Bcast");
    if (rank_ == 0) stats_.bytes_broadcast += sizeof raw + static_cast<std::uint64_t>(h.bytes);
  }

  // Every rank's reply, on rank 0 (elsewhere: empty).
  std::vector<std::string> gather(const std::string& mine) {
    const int n = static_cast<int>(mine.size());
    std::vector<int> sizes(rank_ == 0 ? static_cast<std::size_t>(size_) : 0);
    check(MPI_Gather(&n, 1, MPI_INT, sizes.data(), 1, MPI_INT, 0, comm_), "MPI_Gather");
    std::vector<int> offsets(sizes.size());
    std::string all;
    if (rank_ == 0) {
      std::size_t total = 0;
      for (std::size_t r = 0; r < sizes.size(); ++r) {
        offsets[r] = static_cast<int>(total);
        total += static_cast<std::size_t>(sizes[r]);
      }
      all.resize(total);
    }
    check(MPI_Gatherv(mine.data(), n, MPI_CHAR, all.empty() ? nullptr : &all[0], sizes.data(),
                      offsets.data(), MPI_CHAR, 0, comm_),
          "MPI_Gatherv");
    std::vector<std::string> out;
    for (std::size_t r = 0; r < sizes.size(); ++r) {
      out.push_back(
          all.substr(static_cast<std::size_t>(offsets[r]), static_cast<std::size_t>(sizes[r])));
      if (r > 0) stats_.bytes_gathered += static_cast<std::uint64_t>(sizes[r]);
    }
    return out;
  }

  // This rank's share of the command: 'k' and the values (or counts) of its part, or 'e', the
  // index of the subnet that failed (-1: none in particular) and the message.
  std::string work(const header& h, const std::string& text) {
    std::int64_t current = -1;
    const double t0 = MPI_Wtime();
    const std::clock_t c0 = std::clock();
    try {
      std::vector<arch> subnets;
      std::vector<int> owners;
      std::size_t from = 0;
      for (std::int64_t j = 0; j < h.count; ++j) {
        const std::size_t eol = text.find('\n', from), space = text.find(' ', from);
        if (eol == std::string::npos || space > eol)
          throw parse_error("mpi::evaluator_pool: the command holds " +
                            std::to_string(subnets.size()) + " subnets, its header says " +
                            std::to_string(h.count));
        current = j;
        owners.push_back(std::stoi(text.substr(from, space - from)));
        subnets.push_back(parse<Space>(text.substr(space + 1, eol - space - 1)));
        from = eol + 1;
      }
      std::string reply;
      if (h.sharded) {
        if constexpr (can_count_v<Evaluator>) {
          // Whole forward batches per rank, contiguous, in rank order.
          const std::size_t scored = static_cast<std::size_t>(eval_.scored());
          const std::size_t b = static_cast<std::size_t>(eval_.batch());
          const std::size_t units = (scored + b - 1) / b, r = static_cast<std::size_t>(rank_),
                            s = static_cast<std::size_t>(size_);
          const std::size_t lo = std::min(scored, units * r / s * b);
          const std::size_t hi = std::min(scored, units * (r + 1) / s * b);
          for (std::size_t j = 0; j < subnets.size(); ++j) {
            current = static_cast<std::int64_t>(j);
            const std::uint64_t c =
                lo < hi ? static_cast<std::uint64_t>(eval_.count_correct(subnets[j], lo, hi)) : 0;
            detail::append(reply, c);
          }
        }
      } else {
        for (std::size_t j = 0; j < subnets.size(); ++j) {
          if (owners[j] != rank_) continue;
          current = static_cast<std::int64_t>(j);
          detail::append(reply, static_cast<double>(eval_(subnets[j])));
        }
      }
      // 'k', this rank's wall and CPU seconds, its results.
      std::string head = "k";
      detail::append(head, MPI_Wtime() - t0);
      detail::append(head, static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC);
      return head + reply;
    } catch (const std::exception& e) {
      return failure(current, e.what());
    } catch (...) {
      return failure(current, "an exception that is not a std::exception");
    }
  }
  static std::string failure(std::int64_t j, const std::string& message) {
    std::string reply = "e";
    detail::append(reply, j);
    return reply + message;
  }

  // Rank 0: the values from every rank's reply, or the first failure as an exception.
  std::vector<double> decode(const header& h, const std::vector<std::string>& replies,
                             const std::vector<arch>& subnets, const std::vector<int>& owners) {
    const std::size_t n = subnets.size(), s = replies.size();
    for (std::size_t r = 0; r < s; ++r) {
      const std::string& m = replies[r];
      if (!m.empty() && m[0] == 'k') continue;
      std::string failed = "mpi: rank " + std::to_string(r) + " of " + std::to_string(s);
      if (m.size() < 1 + sizeof(std::int64_t) || m[0] != 'e')
        throw error(failed + " sent a malformed reply (" + std::to_string(m.size()) + " bytes)");
      const auto j = detail::read<std::int64_t>(m.data() + 1);
      if (j >= 0 && static_cast<std::size_t>(j) < n)
        failed += " failed on subnet " +
                  evit::to_string(Space::descriptor(), subnets[static_cast<std::size_t>(j)]);
      else
        failed += " failed";
      throw error(failed + ": " + m.substr(1 + sizeof(std::int64_t)));
    }
    constexpr std::size_t head = 1 + 2 * sizeof(double);  // 'k', wall and CPU seconds
    for (std::size_t r = 0; r < s; ++r) {
      if (replies[r].size() < head)
        throw error("mpi: rank " + std::to_string(r) + " sent a reply of " +
                    std::to_string(replies[r].size()) + " bytes");
      stats_.rank_seconds[r] += detail::read<double>(replies[r].data() + 1);
      stats_.rank_cpu_seconds[r] += detail::read<double>(replies[r].data() + 1 + sizeof(double));
    }
    std::vector<double> values(n);
    if (h.sharded) {
      if constexpr (can_count_v<Evaluator>) {
        std::vector<std::uint64_t> total(n, 0);
        for (std::size_t r = 0; r < s; ++r) {
          expect_size(r, replies[r], n * sizeof(std::uint64_t));
          for (std::size_t j = 0; j < n; ++j)
            total[j] +=
                detail::read<std::uint64_t>(replies[r].data() + head + j * sizeof(std::uint64_t));
        }
        for (std::size_t j = 0; j < n; ++j)
          values[j] = static_cast<double>(eval_.percent(static_cast<std::size_t>(total[j])));
      }
    } else {
      for (std::size_t r = 0; r < s; ++r) {
        std::size_t mine = 0;
        for (int o : owners) mine += static_cast<std::size_t>(o) == r ? 1 : 0;
        expect_size(r, replies[r], mine * sizeof(double));
        std::size_t k = 0;
        for (std::size_t j = 0; j < n; ++j)
          if (static_cast<std::size_t>(owners[j]) == r)
            values[j] = detail::read<double>(replies[r].data() + head + (k++) * sizeof(double));
      }
    }
    return values;
  }
  static void expect_size(std::size_t r, const std::string& m, std::size_t want) {
    constexpr std::size_t head = 1 + 2 * sizeof(double);
    if (m.size() != head + want)
      throw error("mpi: rank " + std::to_string(r) + " sent " + std::to_string(m.size() - head) +
                  " bytes of results, expected " + std::to_string(want));
  }

  Evaluator eval_;
  pool_options opts_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  bool stopped_ = false;
  pool_stats stats_;
};

}  // namespace mpi
}  // namespace evit
