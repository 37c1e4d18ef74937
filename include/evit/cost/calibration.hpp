// SPDX-License-Identifier: MIT
// A block table's correction, fitted on measured whole subnets: what the sum of blocks still
// misses (a block kind's share of the cache traffic between blocks, the work around the blocks)
// as a scale per block kind plus a whole-network constant (table_calibration in
// cost/latency_table.hpp), least squares on relative errors, with its fit and held-out errors.
//   calibration_sample              one subnet: its table sums per kind, its measured latency
//   fit_calibration(fit, held_out)  the least-squares fit, errors on both sets
//   fit_global_scale(fit, held_out) one scale for all kinds (the fallback for a noisy set)
//   abs_error_summary(errors)       median and 90th percentile of |relative error|
//   calibrate(profiler, measured, n, seed)   samples n random subnets, measures them, fits,
//                                            stores the correction in the profiler's table
//   ensure_calibrated(profiler, measured, n, path)   calibrate once, save the table to path
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "evit/core/error.hpp"
#include "evit/core/rng.hpp"
#include "evit/cost/block_profiler.hpp"
#include "evit/cost/latency_table.hpp"
#include "evit/cost/measured_latency.hpp"
#include "evit/simd/namespace.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace cost {

/// One measured subnet: the sums of its blocks per kind (from the table) and its latency.
struct calibration_sample {
  std::array<double, table_calibration::kinds> by_kind{};
  double measured_ms = 0;
};

/// Median and 90th percentile of |e| over `errors` (relative errors); zeros when empty.
struct error_summary {
  double median = 0, p90 = 0, mean_signed = 0;
};
inline error_summary abs_error_summary(const std::vector<double>& errors) {
  error_summary s;
  if (errors.empty()) return s;
  std::vector<double> a;
  for (double e : errors) {
    a.push_back(std::fabs(e));
    s.mean_signed += e;
  }
  s.mean_signed /= static_cast<double>(errors.size());
  std::sort(a.begin(), a.end());
  const std::size_t n = a.size();
  s.median = n % 2 ? a[n / 2] : 0.5 * (a[n / 2 - 1] + a[n / 2]);
  s.p90 = a[std::min(
      n - 1, static_cast<std::size_t>(std::ceil(0.9 * static_cast<double>(n))) - (n > 0 ? 1 : 0))];
  return s;
}

/// The relative errors (predicted - measured) / measured of `c` on `samples`.
inline std::vector<double> relative_errors(const table_calibration& c,
                                           const std::vector<calibration_sample>& samples) {
  std::vector<double> e;
  for (const calibration_sample& s : samples)
    e.push_back((c.apply(s.by_kind) - s.measured_ms) / s.measured_ms);
  return e;
}

/// Fits scale[kind] and constant_ms minimising the sum of squared relative errors on `fit`,
/// plus ridge * samples * (sum of (scale - 1)^2 + (constant / mean measured)^2), which keeps a
/// kind that no sample (or every sample alike) contains near 1 and the system solvable; the
/// ridge grows tenfold while a scale falls outside [1/4, 4] (a small, noisy set). Reports the
/// errors on `fit` and on `held_out` (before: the plain sum; after: corrected).
/// @throws evit::invalid_argument naming the field for fewer than 2 samples to fit, a measured
///         latency that is not > 0, or a ridge < 0.
inline table_calibration fit_calibration(const std::vector<calibration_sample>& fit,
                                         const std::vector<calibration_sample>& held_out = {},
                                         double ridge = 1e-3) {
  constexpr int K = table_calibration::kinds, P = K + 1;
  if (fit.size() < 2)
    throw invalid_argument("fit_calibration: fit has " + std::to_string(fit.size()) +
                           " samples (allowed: at least 2)");
  if (!(ridge >= 0))
    throw invalid_argument("fit_calibration: ridge = " + std::to_string(ridge) +
                           " (allowed: >= 0)");
  double mean_ms = 0;
  for (const auto* set : {&fit, &held_out})
    for (const calibration_sample& s : *set)
      if (!(s.measured_ms > 0) || !std::isfinite(s.measured_ms))
        throw invalid_argument("fit_calibration: measured_ms = " + std::to_string(s.measured_ms) +
                               " (allowed: a finite number > 0)");
  for (const calibration_sample& s : fit) mean_ms += s.measured_ms;
  mean_ms /= static_cast<double>(fit.size());
  // Normal equations of rows r = (by_kind / m, 1 / m) against 1, plus the ridge (per sample)
  // toward (1, ..., 1, 0) with the constant measured in units of the mean latency. Subnets'
  // kinds grow together, so a small noisy set can give absurd scales: while one falls outside
  // [1/4, 4], the ridge grows tenfold. The constant is kept >= 0.
  table_calibration out;
  // Solves the normal equations at ridge `lambda` into `out`; without `constant`, with the
  // constant held at 0. Returns whether every scale is within [1/4, 4].
  const auto solve = [&](double lambda, bool constant) {
    double A[P][P + 1] = {};
    for (const calibration_sample& s : fit) {
      double r[P];
      for (int k = 0; k < K; ++k) r[k] = s.by_kind[static_cast<std::size_t>(k)] / s.measured_ms;
      r[K] = 1 / s.measured_ms;
      for (int i = 0; i < P; ++i) {
        for (int j = 0; j < P; ++j) A[i][j] += r[i] * r[j];
        A[i][P] += r[i];
      }
    }
    for (int k = 0; k < K; ++k) {
      A[k][k] += lambda;
      A[k][P] += lambda;
    }
    A[K][K] += lambda / (mean_ms * mean_ms);
    if (!constant) {  // the constant's row and column replaced by the equation c = 0
      for (int j = 0; j < P; ++j) A[K][j] = A[j][K] = 0;
      A[K][K] = 1;
      A[K][P] = 0;
    }
    // Gaussian elimination with partial pivoting.
    for (int c = 0; c < P; ++c) {
      int piv = c;
      for (int r = c + 1; r < P; ++r)
        if (std::fabs(A[r][c]) > std::fabs(A[piv][c])) piv = r;
      if (std::fabs(A[piv][c]) < 1e-300)
        throw invalid_argument(
            "fit_calibration: singular system (give ridge > 0 or samples that vary)");
      if (piv != c)
        for (int j = 0; j <= P; ++j) std::swap(A[c][j], A[piv][j]);
      for (int r = 0; r < P; ++r) {
        if (r == c) continue;
        const double f = A[r][c] / A[c][c];
        for (int j = c; j <= P; ++j) A[r][j] -= f * A[c][j];
      }
    }
    bool sane = true;
    for (int k = 0; k < K; ++k) {
      const double v = A[k][P] / A[k][k];
      out.scale[static_cast<std::size_t>(k)] = v;
      sane = sane && v >= 0.25 && v <= 4;
    }
    out.constant_ms = A[K][P] / A[K][K];
    return sane;
  };
  for (double lambda = ridge * static_cast<double>(fit.size());; lambda *= 10) {
    bool sane = solve(lambda, true);
    // A negative constant predicts <= 0 ms for subnets smaller than the samples (a search's
    // budgets then have no interval). With the constant held >= 0 the least-squares optimum,
    // when the free one is negative, has it at 0.
    if (out.constant_ms < 0) sane = solve(lambda, false);
    if (sane || lambda > 1e6 || lambda == 0) break;
  }
  out.fitted = true;
  out.fit_n = static_cast<int>(fit.size());
  out.heldout_n = static_cast<int>(held_out.size());
  const error_summary f = abs_error_summary(relative_errors(out, fit));
  out.fit_median = f.median;
  out.fit_p90 = f.p90;
  if (!held_out.empty()) {
    const error_summary h = abs_error_summary(relative_errors(out, held_out));
    const error_summary raw = abs_error_summary(relative_errors(table_calibration{}, held_out));
    out.heldout_median = h.median;
    out.heldout_p90 = h.p90;
    out.raw_median = raw.median;
    out.raw_p90 = raw.p90;
  }
  return out;
}

/// The correction of `fit` with one scale for every kind and no constant (relative least
/// squares), with its errors as fit_calibration reports them.
inline table_calibration fit_global_scale(const std::vector<calibration_sample>& fit,
                                          const std::vector<calibration_sample>& held_out = {}) {
  double num = 0, den = 0;
  for (const calibration_sample& s : fit) {
    double t = 0;
    for (double v : s.by_kind) t += v;
    num += t / s.measured_ms;
    den += (t / s.measured_ms) * (t / s.measured_ms);
  }
  table_calibration out;
  out.scale.fill(den > 0 ? num / den : 1.0);
  out.fitted = true;
  out.fit_n = static_cast<int>(fit.size());
  out.heldout_n = static_cast<int>(held_out.size());
  const error_summary f = abs_error_summary(relative_errors(out, fit));
  out.fit_median = f.median;
  out.fit_p90 = f.p90;
  const error_summary h = abs_error_summary(relative_errors(out, held_out));
  const error_summary raw = abs_error_summary(relative_errors(table_calibration{}, held_out));
  out.heldout_median = h.median;
  out.heldout_p90 = h.p90;
  out.raw_median = raw.median;
  out.raw_p90 = raw.p90;
  return out;
}

/// Samples `n` random subnets of the profiler's space (seed `seed`; the profiler: block_profiler,
/// or autoformer_profiler of cost/autoformer_latency.hpp), sums their blocks in its table
/// (profiling those missing) and measures them whole with `measured`; every fourth is held out.
/// Fits the per-kind correction (fit_calibration) and a single scale (fit_global_scale) and keeps
/// the one with the smaller held-out median |error| (p90 on a tie); when neither beats the plain
/// sum on the held-out subnets, the kept correction is the identity (scales 1, constant 0; its
/// errors still reported). Stores it in the profiler's table and returns it. progress(done, n)
/// after each subnet. @throws evit::invalid_argument for n < 8.
template <class Profiler, class Measured>
table_calibration calibrate(Profiler& profiler, const Measured& measured, int n,
                            std::uint64_t seed = 0x63616c6962ULL,
                            const std::function<void(int, int)>& progress = {}) {
  if (n < 8)
    throw invalid_argument("calibrate: " + std::to_string(n) +
                           " subnets (allowed: at least 8, a quarter of them held out)");
  using Space = typename Profiler::space_type;
  rng g(seed);
  std::vector<calibration_sample> fit, held_out;
  for (int i = 0; i < n; ++i) {
    const arch a = Space::sample(g);
    calibration_sample s;
    s.by_kind = profiler.sum_by_kind(a);
    s.measured_ms = measured.measure(a).median_ms;
    (i % 4 == 3 ? held_out : fit).push_back(s);
    if (progress) progress(i + 1, n);
  }
  const auto better = [](const table_calibration& x, const table_calibration& y) {
    return x.heldout_median < y.heldout_median ||
           (x.heldout_median == y.heldout_median && x.heldout_p90 < y.heldout_p90);
  };
  table_calibration c = fit_calibration(fit, held_out);
  const table_calibration global = fit_global_scale(fit, held_out);
  if (better(global, c)) c = global;
  if (c.raw_median < c.heldout_median) {  // the plain sum does better: keep it, say so
    table_calibration id;
    id.fitted = true;
    id.fit_n = c.fit_n;
    id.heldout_n = c.heldout_n;
    const error_summary f = abs_error_summary(relative_errors(id, fit));
    id.fit_median = f.median;
    id.fit_p90 = f.p90;
    id.heldout_median = id.raw_median = c.raw_median;
    id.heldout_p90 = id.raw_p90 = c.raw_p90;
    c = id;
  }
  profiler.table().set_calibration(c);
  return c;
}

/// Calibrates the profiler's table on `n` random subnets unless it already holds a calibration
/// fitted on at least `n` subnets (from its cache), then saves the table to `path` (when not
/// empty); `n` <= 0 removes any calibration (the plain sum). With `verbose`, progress and the
/// fit and held-out errors go to stderr. Returns whether a calibration is in effect.
template <class Profiler, class Measured>
bool ensure_calibrated(Profiler& profiler, const Measured& measured, int n,
                       const std::string& path = "", bool verbose = false) {
  const table_calibration& have = profiler.table().calibration();
  if (n <= 0) {
    profiler.table().set_calibration(table_calibration{});
    return false;
  }
  if (have.fitted && have.fit_n + have.heldout_n >= n) return true;
  const auto t0 = std::chrono::steady_clock::now();
  const table_calibration c = calibrate(profiler, measured, n, 0x63616c6962ULL, [&](int i, int m) {
    if (verbose) std::fprintf(stderr, "\rthis machine: calibrating the table, subnet %d/%d", i, m);
  });
  if (verbose)
    std::fprintf(stderr,
                 "\rthis machine: table calibrated on %d subnets in %.1f s; held-out %d: median "
                 "|error| %.1f%% -> %.1f%%, p90 %.1f%% -> %.1f%%\n",
                 c.fit_n,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                 c.heldout_n, 100 * c.raw_median, 100 * c.heldout_median, 100 * c.raw_p90,
                 100 * c.heldout_p90);
  if (!path.empty()) profiler.table().save(path);
  return true;
}

}  // namespace cost
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
