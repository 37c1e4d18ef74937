// SPDX-License-Identifier: MIT
// Pareto fronts and their hypervolume, for any number of objectives.
//   dominates(a, b)          a Pareto-dominates b (every objective minimised)
//   pareto_front(points)     indices of the non-dominated points
//   hypervolume(points, ref) the volume the points dominate below the reference point (exact:
//                            a sweep in 2-D, slicing objectives (HSO) above)
// Convention: every objective is minimised (negate an objective to maximise); a point counts only
// where it is strictly better than `ref` in every objective.
// Next: search/nsga2.hpp.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "evit/core/error.hpp"

namespace evit {

/// True when a is no worse than b in every objective and better in one (minimisation).
inline bool dominates(const std::vector<double>& a, const std::vector<double>& b) {
  bool better = false;
  for (std::size_t k = 0; k < a.size(); ++k) {
    if (a[k] > b[k]) return false;
    if (a[k] < b[k]) better = true;
  }
  return better;
}

/// Indices of the non-dominated points (duplicates: the first kept), in input order.
inline std::vector<std::size_t> pareto_front(const std::vector<std::vector<double>>& points) {
  std::vector<std::size_t> order(points.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  // Lexicographic order: no point is dominated by a later one, so one pass against the front so
  // far is enough.
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t x, std::size_t y) { return points[x] < points[y]; });
  std::vector<std::size_t> front;
  for (std::size_t i : order) {
    bool dominated = false;
    for (std::size_t f : front)
      if (dominates(points[f], points[i]) || points[f] == points[i]) {
        dominated = true;
        break;
      }
    if (!dominated) front.push_back(i);
  }
  std::sort(front.begin(), front.end());
  return front;
}

namespace search {
namespace detail {

inline double hypervolume_rec(std::vector<std::vector<double>> pts, const std::vector<double>& ref,
                              std::size_t dims) {
  if (pts.empty()) return 0.0;
  if (dims == 1) {
    double best = ref[0];
    for (const auto& p : pts) best = std::min(best, p[0]);
    return ref[0] - best;
  }
  if (dims == 2) {
    std::sort(pts.begin(), pts.end(),
              [](const std::vector<double>& a, const std::vector<double>& b) {
                return a[0] != b[0] ? a[0] < b[0] : a[1] < b[1];
              });
    double hv = 0, cur = ref[1];
    for (const auto& p : pts)
      if (p[1] < cur) {
        hv += (ref[0] - p[0]) * (cur - p[1]);
        cur = p[1];
      }
    return hv;
  }
  // Slice along the last objective: between consecutive values, the points at or below the
  // slice dominate a (dims - 1)-dimensional volume.
  const std::size_t last = dims - 1;
  std::sort(pts.begin(), pts.end(),
            [last](const std::vector<double>& a, const std::vector<double>& b) {
              return a[last] < b[last];
            });
  double hv = 0;
  std::vector<std::vector<double>> below;
  for (std::size_t i = 0; i < pts.size(); ++i) {
    below.push_back(pts[i]);
    const double next = i + 1 < pts.size() ? pts[i + 1][last] : ref[last];
    const double depth = next - pts[i][last];
    if (depth > 0) hv += depth * hypervolume_rec(below, ref, last);
  }
  return hv;
}

}  // namespace detail
}  // namespace search

/// The hypervolume dominated by `points` (each minimised) and bounded by `ref`.
/// @throws evit::invalid_argument when a point's size differs from ref's.
inline double hypervolume(const std::vector<std::vector<double>>& points,
                          const std::vector<double>& ref) {
  if (ref.empty()) throw invalid_argument("hypervolume: empty reference point");
  std::vector<std::vector<double>> inside;
  for (const auto& p : points) {
    if (p.size() != ref.size())
      throw invalid_argument("hypervolume: a point has " + std::to_string(p.size()) +
                             " objectives, the reference " + std::to_string(ref.size()));
    bool in = true;
    for (std::size_t k = 0; k < p.size(); ++k) in = in && p[k] < ref[k];
    if (in) inside.push_back(p);
  }
  std::vector<std::vector<double>> front;
  for (std::size_t i : pareto_front(inside)) front.push_back(inside[i]);
  return search::detail::hypervolume_rec(std::move(front), ref, ref.size());
}

}  // namespace evit
