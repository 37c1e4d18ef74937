// SPDX-License-Identifier: MIT
// Complexity levels and the walks over them (ElasticViT's FLOPs "banks",
// docs/elasticvit.md#complexity-aware-sampling).
//   levels_mmacs   levels written in millions of MACs (converted to MACs, the unit of
//                  evit::elasticvit::macs); levels in any other cost unit are a plain vector.
//   level_walk     how the target level changes: adjacent_step (official), random, adjacent,
//                  cyclic.
//   level_walker   the walk itself, on evit's portable distributions.
// Next: sample/complexity_aware.hpp, which draws subnets inside a level's window.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "evit/core/error.hpp"
#include "evit/core/rng.hpp"

namespace evit {

/// Complexity levels given in MMACs (millions of multiply-accumulates); `macs()` gives them in
/// MACs, the unit of elasticvit::macs.
/// @code
///   evit::levels_mmacs lv{100, 200, 300, 400, 500, 700, 900, 1200};   // the official levels
/// @endcode
struct levels_mmacs {
  std::vector<double> mmacs;
  levels_mmacs(std::initializer_list<double> v) : mmacs(v) {}
  explicit levels_mmacs(std::vector<double> v) : mmacs(std::move(v)) {}
  std::vector<double> macs() const {
    std::vector<double> out;
    out.reserve(mmacs.size());
    for (double m : mmacs) out.push_back(m * 1e6);
    return out;
  }
};

/// The official ElasticViT levels: 100, 200, 300, 400, 500, 700, 900, 1200 MMACs.
inline levels_mmacs official_levels() { return {100, 200, 300, 400, 500, 700, 900, 1200}; }

/// How the target level moves.
enum class level_walk {
  /// Official: once per training step, a lazy reflecting +-1 walk over the level index:
  /// +U{-1, 0, +1} inside, +U{0, 0, +1} at the lowest level, +U{-1, 0, 0} at the highest. Every
  /// subnet of a step shares the level; in the long run every level is visited equally often.
  adjacent_step,
  /// A uniformly random level for every subnet draw.
  random,
  /// The adjacent_step walk, applied before every subnet draw instead of once per step.
  adjacent,
  /// A descending cycle over the levels (highest, ..., lowest, highest, ...), one level per step.
  cyclic,
};

/// "adjacent_step", "random", "adjacent" or "cyclic".
inline const char* walk_name(level_walk w) {
  switch (w) {
    case level_walk::adjacent_step:
      return "adjacent_step";
    case level_walk::random:
      return "random";
    case level_walk::adjacent:
      return "adjacent";
    case level_walk::cyclic:
      return "cyclic";
  }
  return "?";
}

/// The walk named `name` (the names of walk_name); throws evit::invalid_argument otherwise.
inline level_walk parse_walk(const std::string& name) {
  for (level_walk w :
       {level_walk::adjacent_step, level_walk::random, level_walk::adjacent, level_walk::cyclic})
    if (name == walk_name(w)) return w;
  throw invalid_argument("unknown level walk \"" + name +
                         "\"; expected adjacent_step, random, adjacent or cyclic");
}

/// The position on the level index and its moves. The walk starts at `start` and moves before
/// each use: the first step of adjacent_step may already be at level 1, the first of cyclic is at
/// the highest level.
class level_walker {
 public:
  level_walker(int num_levels, level_walk walk, int start = 0)
      : n_(num_levels), walk_(walk), level_(start) {
    if (num_levels < 1) throw invalid_argument("level_walker: no levels");
    if (start < 0 || start >= num_levels)
      throw invalid_argument("level_walker: start level " + std::to_string(start) + " not in [0, " +
                             std::to_string(num_levels) + ")");
  }

  int level() const { return level_; }
  void set_level(int i) {
    if (i < 0 || i >= n_)
      throw invalid_argument("level_walker: level " + std::to_string(i) + " not in [0, " +
                             std::to_string(n_) + ")");
    level_ = i;
  }
  int num_levels() const { return n_; }
  level_walk walk() const { return walk_; }

  /// A training step begins: adjacent_step and cyclic move; the level of the step.
  template <class Engine>
  int on_step(Engine& g) {
    if (walk_ == level_walk::adjacent_step) level_ = adjacent_move(g);
    if (walk_ == level_walk::cyclic) level_ = level_ == 0 ? n_ - 1 : level_ - 1;
    return level_;
  }

  /// A subnet is about to be drawn: random and adjacent move; the level of the draw.
  template <class Engine>
  int on_draw(Engine& g) {
    if (walk_ == level_walk::random)
      level_ = static_cast<int>(uniform_below(g, static_cast<std::uint64_t>(n_)));
    if (walk_ == level_walk::adjacent) level_ = adjacent_move(g);
    return level_;
  }

 private:
  // Official get_bank_id: the choice among three offsets, the out-of-range one replaced by 0.
  template <class Engine>
  int adjacent_move(Engine& g) const {
    if (n_ == 1) return level_;
    const int u = static_cast<int>(uniform_below(g, 3));  // offsets -1, 0, +1
    int next = level_ + u - 1;
    if (next < 0 || next >= n_) next = level_;
    return next;
  }

  int n_;
  level_walk walk_;
  int level_;
};

}  // namespace evit
