// SPDX-License-Identifier: MIT
// Internal header of the samplers and the searches (sample/complexity_aware.hpp: the in-level draw,
// search/detail/core.hpp: the repair toward the feasible set).
// Moving a subnet into a cost window [lo, hi] with the moves of detail/moves.hpp:
//   seek_window    randomised: repeatedly changes a random dimension toward the window (a random
//                  jump, halved while it overshoots), accepting only changes that bring the cost
//                  strictly closer. Terminates (the distance strictly decreases), bounded time.
//   climb_smallest deterministic: from the smallest subnet, the cheapest step up at a time, then
//                  steps down while the cost stays >= lo: a small subnet inside the window.
// Both work for any cost model: a monotone one lets them try only the moves in the useful
// direction, which halves the cost evaluations.
#pragma once

#include <cstdint>
#include <vector>

#include "evit/core/rng.hpp"
#include "evit/space/arch.hpp"
#include "evit/space/detail/moves.hpp"

namespace evit {
namespace detail {

/// Distance from cost c to the window [lo, hi] (0 inside).
inline double window_distance(double c, double lo, double hi) {
  return c < lo ? lo - c : (c > hi ? c - hi : 0.0);
}

/// Reusable buffers, so that draws do not allocate.
struct seek_scratch {
  std::vector<site> sites;
  std::vector<int> candidates;
  std::vector<int> targets;
  arch trial;
};

/// Counts cost-model calls.
template <class Cost>
struct counted_cost {
  const Cost* cost;
  std::uint64_t* evaluations;
  double operator()(const arch& a) const {
    ++*evaluations;
    return static_cast<double>((*cost)(a));
  }
};

/// Moves `a` (cost `c`) into [lo, hi] by random improving moves; false when no move improves
/// (then `a` is the closest subnet reached). At most `max_moves` accepted moves.
template <class CostFn, class Engine>
bool seek_window(const move_set& ms, const CostFn& cost, bool monotone, double lo, double hi,
                 arch& a, double& c, Engine& g, seek_scratch& sc, int max_moves) {
  for (int moves = 0; moves <= max_moves; ++moves) {
    const double dist = window_distance(c, lo, hi);
    if (dist == 0.0) return true;
    ms.sites(a, sc.sites);
    const int n = static_cast<int>(sc.sites.size());
    // Candidates are (site, direction) pairs: with a monotone cost only the useful direction.
    const int want = c > hi ? -1 : +1;
    sc.candidates.clear();
    for (int i = 0; i < n; ++i) {
      if (monotone) {
        sc.candidates.push_back(2 * i + (want > 0 ? 1 : 0));
      } else {
        sc.candidates.push_back(2 * i);
        sc.candidates.push_back(2 * i + 1);
      }
    }
    bool improved = false;
    while (!improved && !sc.candidates.empty()) {
      const std::size_t k = static_cast<std::size_t>(
          uniform_below(g, static_cast<std::uint64_t>(sc.candidates.size())));
      const int cand = sc.candidates[k];
      sc.candidates[k] = sc.candidates.back();
      sc.candidates.pop_back();
      const site& p = sc.sites[static_cast<std::size_t>(cand / 2)];
      const int dir = (cand % 2) ? +1 : -1;
      ms.targets(a, p, dir, sc.targets);
      if (sc.targets.empty()) continue;
      // A random jump in that direction; while it does not help, halve it toward the nearest.
      std::size_t t =
          static_cast<std::size_t>(uniform_below(g, static_cast<std::uint64_t>(sc.targets.size())));
      for (;;) {
        sc.trial = a;
        ms.apply(sc.trial, p, sc.targets[t]);
        const double ct = cost(sc.trial);
        if (window_distance(ct, lo, hi) < dist) {
          a = sc.trial;
          c = ct;
          improved = true;
          break;
        }
        if (t == 0) break;
        t /= 2;
      }
    }
    if (!improved) return false;
  }
  return window_distance(c, lo, hi) == 0.0;
}

/// From `a` (cost `c` < lo), takes the step with the smallest cost increase that keeps the cost
/// <= hi, until the cost reaches lo; then takes steps down that keep it >= lo (each time the one
/// giving the lowest cost). Deterministic. True when it ends inside [lo, hi].
template <class CostFn>
bool climb_smallest(const move_set& ms, const CostFn& cost, bool monotone, double lo, double hi,
                    arch& a, double& c, seek_scratch& sc) {
  // Phase 1: up. Each accepted step strictly raises the cost, so it terminates.
  while (c < lo) {
    ms.sites(a, sc.sites);
    bool found = false;
    arch best;
    double best_c = 0;
    for (const site& p : sc.sites) {
      for (int dir = +1; dir >= -1; dir -= 2) {
        if (monotone && dir < 0) continue;
        const int t = ms.nearest_target(a, p, dir);
        if (t < 0) continue;
        sc.trial = a;
        ms.apply(sc.trial, p, t);
        const double ct = cost(sc.trial);
        if (ct > c && ct <= hi && (!found || ct < best_c)) {
          best = sc.trial;
          best_c = ct;
          found = true;
        }
      }
    }
    if (!found) return false;
    a = best;
    c = best_c;
  }
  if (c > hi) return false;
  // Phase 2: down while staying in the window. Each step strictly lowers the cost.
  for (;;) {
    ms.sites(a, sc.sites);
    bool found = false;
    arch best;
    double best_c = 0;
    for (const site& p : sc.sites) {
      for (int dir = -1; dir <= +1; dir += 2) {
        if (monotone && dir > 0) continue;
        const int t = ms.nearest_target(a, p, dir);
        if (t < 0) continue;
        sc.trial = a;
        ms.apply(sc.trial, p, t);
        const double ct = cost(sc.trial);
        if (ct < c && ct >= lo && (!found || ct < best_c)) {
          best = sc.trial;
          best_c = ct;
          found = true;
        }
      }
    }
    if (!found) return true;
    a = best;
    c = best_c;
  }
}

/// A random walk inside the window: `steps` attempts, each a random single-step move kept only
/// when the cost stays in [lo, hi]. Used to vary a subnet that is known to be in the window.
template <class CostFn, class Engine>
void wander_in_window(const move_set& ms, const CostFn& cost, double lo, double hi, arch& a,
                      double& c, Engine& g, seek_scratch& sc, int steps) {
  for (int i = 0; i < steps; ++i) {
    ms.sites(a, sc.sites);
    if (sc.sites.empty()) return;
    const site& p = sc.sites[static_cast<std::size_t>(
        uniform_below(g, static_cast<std::uint64_t>(sc.sites.size())))];
    const int dir = uniform_below(g, 2) == 0 ? -1 : +1;
    const int t = ms.nearest_target(a, p, dir);
    if (t < 0) continue;
    sc.trial = a;
    ms.apply(sc.trial, p, t);
    const double ct = cost(sc.trial);
    if (ct >= lo && ct <= hi) {
      a = sc.trial;
      c = ct;
    }
  }
}

}  // namespace detail
}  // namespace evit
