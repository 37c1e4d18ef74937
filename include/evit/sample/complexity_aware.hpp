// SPDX-License-Identifier: MIT
// Complexity-aware sampling (ElasticViT, docs/elasticvit.md#complexity-aware-sampling): every
// training step targets one complexity level, the level moves by a slow walk, and each subnet is
// drawn inside the level's cost window [L, L + window]. Here it is generic: any search space, any
// cost model (anything callable as double(const evit::arch&)), any 64-bit engine, and no offline
// tables.
//
// An in-level draw first tries a bounded number of draws of the space's own sampler (their
// accepted draws follow its distribution conditioned on the window); if none lands in the window,
// the closest one is moved into it by random improving moves (space/detail/seek.hpp): a random
// dimension jumps toward the window, halving the jump while it overshoots. Bounded time at every
// level, including those where plain rejection accepts 0.3% of draws. A level that no subnet
// reaches is an evit::infeasible error when the sampler is built. to_json/from_json save and resume
// the sequence (walk level, engine, each level's smallest subnet).
// Next: sample/performance_aware.hpp (memory banks on top of this), sample/sandwich.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "evit/core/error.hpp"
#include "evit/core/rng.hpp"
#include "evit/cost/adaptors.hpp"
#include "evit/cost/cost_model.hpp"
#include "evit/io/arch_json.hpp"
#include "evit/sample/detail/checks.hpp"
#include "evit/sample/detail/state_json.hpp"
#include "evit/sample/levels.hpp"
#include "evit/space/arch.hpp"
#include "evit/space/detail/moves.hpp"
#include "evit/space/detail/seek.hpp"
#include "evit/space/search_space.hpp"

namespace evit {

/// Levels in the cost model's own units (e.g. milliseconds for a latency model). For MACs, prefer
/// levels_mmacs.
struct cost_levels {
  std::vector<double> values;
  cost_levels(std::initializer_list<double> v) : values(v) {}
  explicit cost_levels(std::vector<double> v) : values(std::move(v)) {}
};

/// What `smallest(level)` is: the level's own smallest subnet (the sandwich's min subnet).
enum class smallest_policy {
  /// A subnet inside the level's window with a cost close to the level: from the space's smallest
  /// subnet, the cheapest steps up until the window is reached, then steps down while the cost
  /// stays in it (deterministic). ElasticViT's "multiple smallest subnets", without tables.
  in_window,
  /// The space's smallest subnet for every level (the plain sandwich rule's min subnet).
  space_min,
};

/// Options of complexity_aware_sampler, with named setters; the defaults are the official ones.
/// Levels and window are in the cost model's units (elasticvit::macs counts MACs, hence
/// levels_mmacs and window_mmacs).
/// @code
///   auto opt = evit::complexity_options()
///                  .levels(evit::levels_mmacs{100, 200, 300, 400, 500, 700, 900, 1200})
///                  .window_mmacs(20)
///                  .walk(evit::level_walk::adjacent_step)
///                  .seed(7);
/// @endcode
class complexity_options {
 public:
  complexity_options() : levels_(official_levels().macs()) {}

  /// Levels in MMACs (stored in MACs).
  complexity_options& levels(const levels_mmacs& v) {
    levels_ = v.macs();
    return *this;
  }
  /// Levels in the cost model's units.
  complexity_options& levels(const cost_levels& v) {
    levels_ = v.values;
    return *this;
  }
  /// Window width in the cost model's units: level L accepts costs in [L, L + w]. Default 20e6.
  complexity_options& window(double w) {
    window_ = w;
    return *this;
  }
  /// Window width in MMACs (stored in MACs).
  complexity_options& window_mmacs(double w) {
    window_ = w * 1e6;
    return *this;
  }
  complexity_options& walk(level_walk w) {
    walk_ = w;
    return *this;
  }
  /// Index of the level where the walk starts (default 0, the lowest, as official).
  complexity_options& start_level(int i) {
    start_level_ = i;
    return *this;
  }
  /// Draws of the space's sampler tried before moving the closest one into the window (default
  /// 16). Accepted tries follow the space's distribution conditioned on the window exactly, and
  /// the closest try is a good start for the constructive method: more tries, draws closer to
  /// that distribution, fewer draws per second (benchmarks/RESULTS-sample.md has the trade-off).
  complexity_options& tries(int n) {
    tries_ = n;
    return *this;
  }
  /// Constructive attempts (each from a fresh draw after the first) before the fallback: a short
  /// in-window walk from the level's smallest subnet (default 4).
  complexity_options& restarts(int n) {
    restarts_ = n;
    return *this;
  }
  complexity_options& smallest(smallest_policy p) {
    smallest_ = p;
    return *this;
  }
  complexity_options& seed(std::uint64_t s) {
    seed_ = s;
    return *this;
  }

  const std::vector<double>& levels() const { return levels_; }
  double window() const { return window_; }
  level_walk walk() const { return walk_; }
  int start_level() const { return start_level_; }
  int tries() const { return tries_; }
  int restarts() const { return restarts_; }
  smallest_policy smallest() const { return smallest_; }
  std::uint64_t seed() const { return seed_; }

 private:
  std::vector<double> levels_;
  double window_ = 20e6;
  level_walk walk_ = level_walk::adjacent_step;
  int start_level_ = 0;
  int tries_ = 16;
  int restarts_ = 4;
  smallest_policy smallest_ = smallest_policy::in_window;
  std::uint64_t seed_ = 0;
};

/// How in-level draws were obtained (for diagnostics and the benchmarks).
struct draw_stats {
  std::uint64_t draws = 0;             ///< in-level draws
  std::uint64_t by_rejection = 0;      ///< a draw of the space's sampler landed in the window
  std::uint64_t constructed = 0;       ///< moved into the window by the constructive method
  std::uint64_t fallback = 0;          ///< the in-window walk from the level's smallest subnet
  std::uint64_t cost_evaluations = 0;  ///< calls of the cost model
};

namespace sample {
namespace detail {
inline std::string format_cost(double v) {
  std::ostringstream os;
  os.precision(10);
  os << v;
  return os.str();
}
}  // namespace detail
}  // namespace sample

/// Complexity-aware sampler: subnets of Space inside the cost window of a walking target level.
/// @tparam Space   an evit::search_space<...> type.
/// @tparam Cost    any cost model: callable as double(const evit::arch&) on a const object. If it
///                 declares `static constexpr bool monotone = true` (elasticvit::macs_model,
///                 make_cost_model<true>, or an evit::cost::any_cost of such a model), the
///                 sampler tries only moves in the useful direction and reports the exact
///                 reachable range in errors. A model declaring a space (space_type) must declare
///                 Space (a compile error otherwise).
/// @tparam Engine  a 64-bit UniformRandomBitGenerator constructible from a seed (evit::rng).
/// Same seed, same sequence on every platform (evit's own distributions; no floating point in
/// decisions except comparisons of costs).
/// @code
///   namespace ev = evit::elasticvit;
///   evit::complexity_aware_sampler<ev::official_space, ev::macs_model<>> ca(
///       ev::macs_model<>{}, evit::complexity_options().seed(7));
///   for (int step = 0; step < steps; ++step) {
///     ca.step();                                    // the walk moves once per training step
///     for (int j = 0; j < 3; ++j) train(ca.draw()); // all in the step's level window
///     train(ca.smallest(ca.level()));               // the level's smallest subnet
///   }
/// @endcode
template <class Space, class Cost, class Engine = rng>
class complexity_aware_sampler {
  EVIT_DETAIL_SAMPLER_CHECKS(Space, Engine);
  EVIT_DETAIL_COST_CHECK(Cost);

 public:
  using space_type = Space;
  using cost_type = Cost;
  using engine_type = Engine;

  /// @throws evit::invalid_argument for bad options (levels not strictly increasing, negative
  ///         window or counts), evit::infeasible when a level's window holds no subnet.
  explicit complexity_aware_sampler(Cost cost, const complexity_options& opts = {})
      : complexity_aware_sampler(std::move(cost), opts, Engine(opts.seed())) {}

  /// With an engine of your own (its state, not opts.seed(), sets the sequence).
  complexity_aware_sampler(Cost cost, const complexity_options& opts, Engine engine)
      : cost_(std::move(cost)),
        opts_(opts),
        engine_(std::move(engine)),
        walker_(check_levels(opts), opts.walk(), opts.start_level()),
        moves_(Space::descriptor()) {
    sample::detail::check_space<Space>();
    sample::detail::check_engine<Engine>();
    check_cost_model<Cost>();
    cost::check_space_of<Space>(cost_, "complexity_aware_sampler");
    monotone_ = cost::traits_of(cost_).monotone;
    build_levels();
  }

  // --- levels ---------------------------------------------------------------------------------
  int num_levels() const { return static_cast<int>(lo_.size()); }
  /// Level i's value L (its window is [L, L + window]).
  double level_value(int i) const { return lo_[checked(i)]; }
  double window() const { return opts_.window(); }
  /// The window [L, L + window] of level i.
  std::pair<double, double> window_of(int i) const { return {lo_[checked(i)], hi_[checked(i)]}; }
  bool in_window(int i, double cost) const {
    return cost >= lo_[checked(i)] && cost <= hi_[checked(i)];
  }
  /// The lowest level whose window holds `cost`, or -1.
  int level_of(double cost) const {
    for (int i = 0; i < num_levels(); ++i)
      if (cost >= lo_[i] && cost <= hi_[i]) return i;
    return -1;
  }
  /// Costs of the space's smallest and largest subnets (the exact range for a monotone model).
  std::pair<double, double> cost_range() const { return {min_cost_, max_cost_}; }

  // --- the walk -------------------------------------------------------------------------------
  /// The current level index.
  int level() const { return walker_.level(); }
  /// Moves the walk to level i (e.g. when resuming).
  void set_level(int i) { walker_.set_level(i); }
  /// Starts a training step: the per-step walks (adjacent_step, cyclic) move. Returns the level
  /// of the step. Official training also calls it once between epochs.
  int step() { return walker_.on_step(engine_); }
  /// The level the next draw uses: the per-draw walks (random, adjacent) move here.
  int level_for_draw() { return walker_.on_draw(engine_); }

  // --- draws ----------------------------------------------------------------------------------
  /// One subnet in the window of the current level (per-draw walks move first).
  arch draw() { return draw_in_level(level_for_draw()); }
  /// One training step with one subnet: step(), then draw().
  arch next() {
    step();
    return draw();
  }
  /// ElasticViT's sandwich for one step: step(), k in-level subnets, then the level's smallest
  /// (official: k = 3, the smallest trained last by in-place distillation).
  std::vector<arch> sandwich_step(int k = 3) {
    if (k < 0) throw invalid_argument("sandwich_step: k = " + std::to_string(k) + " < 0");
    step();
    std::vector<arch> out;
    out.reserve(static_cast<std::size_t>(k) + 1);
    for (int j = 0; j < k; ++j) out.push_back(draw());
    out.push_back(smallest(level()));
    return out;
  }

  /// One subnet with cost in level i's window, in bounded time.
  arch draw_in_level(int i) {
    checked(i);
    ++stats_.draws;
    const double lo = lo_[i], hi = hi_[i];
    const auto cost = counted();
    arch start;
    double start_c = 0;
    double best = std::numeric_limits<double>::infinity();
    for (int t = 0; t < opts_.tries(); ++t) {
      arch a = Space::sample(engine_);
      const double c = cost(a);
      const double dist = evit::detail::window_distance(c, lo, hi);
      if (dist == 0.0) {
        ++stats_.by_rejection;
        return a;
      }
      if (dist < best) {
        best = dist;
        start = a;
        start_c = c;
      }
    }
    const int attempts = opts_.restarts() > 0 ? opts_.restarts() : 1;
    for (int r = 0; r < attempts; ++r) {
      if (r > 0 || opts_.tries() == 0) {
        start = Space::sample(engine_);
        start_c = cost(start);
      }
      if (evit::detail::seek_window(moves_, cost, monotone_, lo, hi, start, start_c, engine_,
                                    scratch_, max_moves)) {
        ++stats_.constructed;
        return start;
      }
    }
    ++stats_.fallback;
    arch a = witness_[i];
    double c = witness_cost_[i];
    evit::detail::wander_in_window(moves_, cost, lo, hi, a, c, engine_, scratch_, 64);
    return a;
  }

  /// Level i's smallest subnet (see smallest_policy), or the one set by set_smallest.
  const arch& smallest(int i) const { return smallest_[checked(i)]; }
  /// Replaces level i's smallest subnet (e.g. with ElasticViT's own min subnets).
  /// @throws evit::invalid_arch if `a` is not in the space.
  void set_smallest(int i, const arch& a) {
    Space::validate(a);
    smallest_[checked(i)] = a;
  }

  // --- access ---------------------------------------------------------------------------------
  double cost(const arch& a) const { return static_cast<double>(cost_(a)); }
  const Cost& cost_model() const { return cost_; }
  const complexity_options& options() const { return opts_; }
  Engine& engine() { return engine_; }
  const Engine& engine() const { return engine_; }
  const draw_stats& stats() const { return stats_; }
  /// Whether the cost model is monotone (as declared, or as an any_cost carries it).
  bool monotone() const { return monotone_; }

  // --- save and resume ------------------------------------------------------------------------
  /// The sampler's position as JSON: the options that shape the sequence (levels, window, walk,
  /// tries, restarts), the walk's level, each level's smallest subnet and the engine's state when
  /// it is evit::rng. from_json() on a sampler built with the same options (and an equal cost
  /// model) continues the same sequence. The draw statistics are not saved.
  nlohmann::json to_json() const {
    using json = nlohmann::json;
    const space_descriptor& d = Space::descriptor();
    json levels = json::array(), smallest = json::array();
    for (int i = 0; i < num_levels(); ++i) {
      levels.push_back(lo_[static_cast<std::size_t>(i)]);
      smallest.push_back(evit::to_json(d, smallest_[static_cast<std::size_t>(i)]));
    }
    json j = {{"format", format_name},    {"version", 1},
              {"space", d.name},          {"levels", std::move(levels)},
              {"window", opts_.window()}, {"walk", walk_name(opts_.walk())},
              {"tries", opts_.tries()},   {"restarts", opts_.restarts()},
              {"level", level()},         {"smallest", std::move(smallest)}};
    sample::detail::engine_to_json(j, engine_);
    return j;
  }

  /// Loads what to_json() wrote; nothing changes unless all of it is valid.
  /// @throws evit::format_error naming the field: another format, space or option, a level index
  ///         out of range, a bad smallest subnet, a bad engine state.
  void from_json(const nlohmann::json& j) {
    const sample::detail::state_reader r(format_name);
    const space_descriptor& d = Space::descriptor();
    r.header(j, d);
    nlohmann::json levels = nlohmann::json::array();
    for (double l : lo_) levels.push_back(l);
    r.same(j, "levels", levels);
    r.same(j, "window", opts_.window());
    r.same(j, "walk", walk_name(opts_.walk()));
    r.same(j, "tries", opts_.tries());
    r.same(j, "restarts", opts_.restarts());
    const int level = static_cast<int>(r.integer(j, "level", 0, num_levels() - 1));
    const auto& sm = r.field(j, "smallest");
    if (!sm.is_array() || static_cast<int>(sm.size()) != num_levels())
      r.fail("field \"smallest\" must hold one subnet per level (" + std::to_string(num_levels()) +
             ")");
    std::vector<arch> smallest;
    for (std::size_t i = 0; i < sm.size(); ++i) {
      try {
        smallest.push_back(evit::from_json(d, sm[i]));
      } catch (const error& e) {  // the arch reader's message, with the field it came from
        r.fail("field \"smallest\"[" + std::to_string(i) + "]: " + e.what());
      }
    }
    Engine g = engine_;
    sample::detail::engine_from_json(r, j, g);
    engine_ = std::move(g);
    smallest_ = std::move(smallest);
    walker_.set_level(level);
  }

  static constexpr const char* format_name = "evit.complexity_aware_sampler";

 private:
  static constexpr int max_moves = 256;

  static int check_levels(const complexity_options& o) {
    const auto& lv = o.levels();
    if (lv.empty()) throw invalid_argument("complexity_aware_sampler: no levels given");
    for (std::size_t i = 0; i < lv.size(); ++i) {
      if (!std::isfinite(lv[i]))
        throw invalid_argument("complexity_aware_sampler: level " + std::to_string(i) +
                               " is not finite");
      if (i > 0 && !(lv[i] > lv[i - 1]))
        throw invalid_argument(
            "complexity_aware_sampler: levels must be strictly increasing; "
            "level " +
            std::to_string(i) + " (" + sample::detail::format_cost(lv[i]) + ") follows " +
            sample::detail::format_cost(lv[i - 1]));
    }
    if (!std::isfinite(o.window()) || o.window() < 0)
      throw invalid_argument("complexity_aware_sampler: window " +
                             sample::detail::format_cost(o.window()) + " must be finite and >= 0");
    if (o.tries() < 0 || o.restarts() < 0)
      throw invalid_argument("complexity_aware_sampler: tries (" + std::to_string(o.tries()) +
                             ") and restarts (" + std::to_string(o.restarts()) + ") must be >= 0");
    return static_cast<int>(lv.size());
  }

  int checked(int i) const {
    if (i < 0 || i >= num_levels())
      throw invalid_argument("complexity_aware_sampler: level index " + std::to_string(i) +
                             " not in [0, " + std::to_string(num_levels()) + ")");
    return i;
  }

  evit::detail::counted_cost<Cost> counted() {
    return evit::detail::counted_cost<Cost>{&cost_, &stats_.cost_evaluations};
  }

  // Windows, feasibility and each level's smallest subnet, without touching engine_ (so the
  // draws of a seed do not depend on how hard the levels were to reach).
  void build_levels() {
    const auto& lv = opts_.levels();
    const arch amin = Space::min_arch(), amax = Space::max_arch();
    min_cost_ = cost(amin);
    max_cost_ = cost(amax);
    for (double l : lv) {
      lo_.push_back(l);
      hi_.push_back(l + opts_.window());
    }
    const auto cost_fn = [this](const arch& a) { return cost(a); };
    for (int i = 0; i < num_levels(); ++i) {
      const double lo = lo_[i], hi = hi_[i];
      if (monotone_ && (hi < min_cost_ || lo > max_cost_))
        throw unreachable(i, min_cost_, max_cost_);
      arch a = amin;
      double c = min_cost_;
      bool found = (c >= lo && c <= hi) ||
                   (c < lo && evit::detail::climb_smallest(moves_, cost_fn, monotone_, lo, hi, a, c,
                                                           scratch_));
      // Randomised search from the extremes and from fixed-seed draws (own engine).
      double seen_lo = std::min(min_cost_, max_cost_), seen_hi = std::max(min_cost_, max_cost_);
      rng search(0x65766974ULL + static_cast<std::uint64_t>(i));
      for (int k = 0; !found && k < search_starts; ++k) {
        a = k == 0 ? amin : k == 1 ? amax : Space::sample(search);
        c = cost(a);
        seen_lo = std::min(seen_lo, c);
        seen_hi = std::max(seen_hi, c);
        found = evit::detail::seek_window(moves_, cost_fn, monotone_, lo, hi, a, c, search,
                                          scratch_, 4 * max_moves);
        if (found)  // bring it down toward L, staying in the window
          evit::detail::climb_smallest(moves_, cost_fn, monotone_, lo, hi, a, c, scratch_);
      }
      if (!found) throw unreachable(i, seen_lo, seen_hi);
      witness_.push_back(a);
      witness_cost_.push_back(c);
      smallest_.push_back(opts_.smallest() == smallest_policy::in_window ? a : amin);
    }
  }

  infeasible unreachable(int i, double lo_seen, double hi_seen) const {
    using sample::detail::format_cost;
    std::string msg = "complexity_aware_sampler: level " + std::to_string(i) + " (" +
                      format_cost(lo_[i]) + ", window [" + format_cost(lo_[i]) + ", " +
                      format_cost(hi_[i]) + "]) is unreachable in space " +
                      Space::descriptor().name + ": ";
    if (monotone_)
      msg += "the cost model's reachable range is [" + format_cost(lo_seen) + ", " +
             format_cost(hi_seen) + "]";
    else
      msg += "no subnet found in the window; costs seen span [" + format_cost(lo_seen) + ", " +
             format_cost(hi_seen) + "]";
    if (lo_[i] <= hi_seen && hi_[i] >= lo_seen)
      msg += " (the window falls between subnet costs; widen it)";
    return infeasible(msg);
  }

  static constexpr int search_starts = 64;

  Cost cost_;
  complexity_options opts_;
  Engine engine_;
  level_walker walker_;
  evit::detail::move_set moves_;
  std::vector<double> lo_, hi_;
  std::vector<arch> witness_, smallest_;
  std::vector<double> witness_cost_;
  double min_cost_ = 0, max_cost_ = 0;
  bool monotone_ = false;
  evit::detail::seek_scratch scratch_;
  draw_stats stats_;
};

/// Builds a complexity_aware_sampler, deducing the cost model's type.
/// @code
///   auto ca = evit::make_complexity_aware_sampler<evit::elasticvit::official_space>(
///       [](const evit::arch& a) { return evit::elasticvit::macs(a); },
///       evit::complexity_options().seed(7));
/// @endcode
template <class Space, class Engine = rng, class Cost>
complexity_aware_sampler<Space, std::decay_t<Cost>, Engine> make_complexity_aware_sampler(
    Cost&& cost, const complexity_options& opts = {}) {
  return complexity_aware_sampler<Space, std::decay_t<Cost>, Engine>(std::forward<Cost>(cost),
                                                                     opts);
}

}  // namespace evit
