// SPDX-License-Identifier: MIT
// evit::memory_bank: a top-K list of (subnet, score) pairs, ElasticViT's per-level "memory bank"
// (docs/elasticvit.md#performance-aware-sampling). A higher score is better (e.g. minus the
// subnet's loss on a batch). Inserting into a full bank replaces its worst entry when the new score
// is higher; there is no deduplication (as official). Softmax-weighted draws are exact integer
// draws (sample/detail/fixed_exp.hpp), so a seed picks the same entries on every platform.
// Next: sample/performance_aware.hpp, which keeps one bank per complexity level.
#pragma once

#include <cmath>
#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "evit/core/error.hpp"
#include "evit/sample/detail/checks.hpp"
#include "evit/sample/detail/fixed_exp.hpp"
#include "evit/space/arch.hpp"

namespace evit {

/// One bank entry.
struct bank_entry {
  arch subnet;
  double score = 0;
};

/// A bounded list of the best-scoring subnets seen.
/// @code
///   evit::memory_bank bank(150);
///   bank.insert(a, -loss);            // kept if the bank has room or `a` beats the worst entry
///   std::size_t i = bank.pick_softmax(engine);   // P(i) = softmax(scores)[i]
/// @endcode
class memory_bank {
 public:
  explicit memory_bank(int capacity = 0) : capacity_(capacity) {
    if (capacity < 0)
      throw invalid_argument("memory_bank: capacity " + std::to_string(capacity) + " < 0");
  }

  int capacity() const { return capacity_; }
  int size() const { return static_cast<int>(entries_.size()); }
  bool empty() const { return entries_.empty(); }
  bool full() const { return size() >= capacity_; }
  const std::vector<bank_entry>& entries() const { return entries_; }
  const bank_entry& operator[](std::size_t i) const { return entries_.at(i); }

  /// Appends when there is room; otherwise replaces the worst entry (the first of equal worst)
  /// if `score` is strictly higher. Returns whether `a` was stored.
  /// @throws evit::invalid_argument if `score` is not finite.
  bool insert(const arch& a, double score) {
    check_score(score);
    if (size() < capacity_) {
      entries_.push_back(bank_entry{a, score});
      return true;
    }
    if (entries_.empty()) return false;  // capacity 0
    const std::size_t w = worst_index();
    if (!(score > entries_[w].score)) return false;
    entries_[w] = bank_entry{a, score};
    return true;
  }

  /// Index of the best entry (the first of equal best). @pre !empty()
  std::size_t best_index() const {
    require_entries("best_index");
    std::size_t b = 0;
    for (std::size_t i = 1; i < entries_.size(); ++i)
      if (entries_[i].score > entries_[b].score) b = i;
    return b;
  }
  /// Index of the worst entry (the first of equal worst). @pre !empty()
  std::size_t worst_index() const {
    require_entries("worst_index");
    std::size_t w = 0;
    for (std::size_t i = 1; i < entries_.size(); ++i)
      if (entries_[i].score < entries_[w].score) w = i;
    return w;
  }
  const bank_entry& best() const { return entries_[best_index()]; }

  /// Index drawn with probability softmax(scores)[i] (exp(score_i) / sum exp(score_j)).
  template <class Engine>
  std::size_t pick_softmax(Engine& g) const {
    sample::detail::check_engine<Engine>();
    require_entries("pick_softmax");
    std::vector<double> scores;
    scores.reserve(entries_.size());
    for (const bank_entry& e : entries_) scores.push_back(e.score);
    return sample::detail::pick_softmax(scores, g);
  }

  /// Re-scores every entry with score(subnet) (e.g. on the current batch).
  template <class Score>
  void rescore(Score&& score) {
    sample::detail::check_score_fn<std::decay_t<Score>>();
    for (bank_entry& e : entries_) {
      const double s = static_cast<double>(score(static_cast<const arch&>(e.subnet)));
      check_score(s);
      e.score = s;
    }
  }

  /// Removes the entries for which keep(entry) is false (order of the others kept).
  template <class Pred>
  void keep_if(Pred&& keep) {
    std::vector<bank_entry> kept;
    kept.reserve(entries_.size());
    for (bank_entry& e : entries_)
      if (keep(static_cast<const bank_entry&>(e))) kept.push_back(std::move(e));
    entries_ = std::move(kept);
  }

  void clear() { entries_.clear(); }
  /// Changes the capacity; a smaller one drops the worst entries.
  void set_capacity(int capacity) {
    if (capacity < 0)
      throw invalid_argument("memory_bank: capacity " + std::to_string(capacity) + " < 0");
    capacity_ = capacity;
    while (size() > capacity_) entries_.erase(entries_.begin() + worst_index());
  }

 private:
  static void check_score(double s) {
    if (!std::isfinite(s))
      throw invalid_argument("memory_bank: score " + std::to_string(s) +
                             " is not finite (scores must be finite, e.g. minus a loss)");
  }
  void require_entries(const char* what) const {
    if (entries_.empty())
      throw invalid_argument(std::string("memory_bank::") + what + ": empty bank");
  }

  int capacity_;
  std::vector<bank_entry> entries_;
};

}  // namespace evit
