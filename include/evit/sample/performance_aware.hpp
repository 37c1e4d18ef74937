// SPDX-License-Identifier: MIT
// Performance-aware sampling (ElasticViT, docs/elasticvit.md#performance-aware-sampling), on top of
// complexity-aware sampling: one memory bank of good subnets per complexity level. Each draw at
// level L either exploits the bank (a softmax-weighted pick of its entries, with a probability that
// grows with the epochs) or explores: up to 5 in-level candidates, of which the most "wider and
// shallower" one (relative to an anchor subnet) is trained. The caller scores trained subnets (e.g.
// minus their loss on the batch) and reports the scores; the bank keeps the best. Banks save to and
// load from JSON, so training can resume.
// Next: sample/sandwich.hpp (the sandwich rules), sample/best_of_k.hpp.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "evit/core/error.hpp"
#include "evit/core/rng.hpp"
#include "evit/io/arch_json.hpp"
#include "evit/sample/complexity_aware.hpp"
#include "evit/sample/detail/state_json.hpp"
#include "evit/sample/memory_bank.hpp"
#include "evit/space/arch.hpp"

namespace evit {

/// Options of performance_aware_sampler, with named setters; the defaults are the official ones.
/// @code
///   auto popt = evit::performance_options()
///                   .capacity_mmacs(150, 50, 500)        // 150 below 500 MMACs, 50 from 500
///                   .exploit_schedule(0.2, 0.15, 100)    // 0.2, +0.15 every 100 epochs
///                   .candidates(5);
/// @endcode
class performance_options {
 public:
  /// Bank capacity `below` for levels < threshold, `from` for levels >= threshold (threshold in
  /// the cost model's units). Default 150, 50, 500e6.
  performance_options& capacity(int below, int from, double threshold) {
    below_ = below;
    from_ = from;
    threshold_ = threshold;
    per_level_.clear();
    return *this;
  }
  /// The same, threshold in MMACs.
  performance_options& capacity_mmacs(int below, int from, double threshold_mmacs) {
    return capacity(below, from, threshold_mmacs * 1e6);
  }
  /// One capacity per level (overrides capacity()).
  performance_options& capacities(std::vector<int> per_level) {
    per_level_ = std::move(per_level);
    return *this;
  }
  /// Exploit probability at epoch e: initial + increment * floor((e + 1) / period). Default 0.2,
  /// 0.15, 100: 0.20 for epochs 0-98, 0.35 for 99-198, ..., 0.95 for 499-598, 1.10 (always) from
  /// 599. Probabilities are kept in millionths, so the coin is an exact integer draw.
  performance_options& exploit_schedule(double initial, double increment, int period_epochs) {
    initial_ = initial;
    increment_ = increment;
    period_ = period_epochs;
    return *this;
  }
  /// In-level candidates compared by the preference when exploring (default 5).
  performance_options& candidates(int n) {
    candidates_ = n;
    return *this;
  }

  int capacity_below() const { return below_; }
  int capacity_from() const { return from_; }
  double capacity_threshold() const { return threshold_; }
  const std::vector<int>& capacities() const { return per_level_; }
  double exploit_initial() const { return initial_; }
  double exploit_increment() const { return increment_; }
  int exploit_period() const { return period_; }
  int candidates() const { return candidates_; }

  /// Capacity of the bank of a level with value `level_value` (index i).
  int capacity_of(int i, double level_value) const {
    if (!per_level_.empty()) return per_level_.at(static_cast<std::size_t>(i));
    return level_value < threshold_ ? below_ : from_;
  }
  /// The exploit probability at `epoch`, in millionths.
  std::int64_t exploit_ppm(int epoch) const {
    if (period_ < 1)
      throw invalid_argument("performance_options: exploit period " + std::to_string(period_) +
                             " must be >= 1 epoch");
    const std::int64_t k = (static_cast<std::int64_t>(epoch) + 1) / period_;
    return std::llround(initial_ * 1e6) + std::llround(increment_ * 1e6) * k;
  }

 private:
  int below_ = 150, from_ = 50;
  double threshold_ = 500e6;
  std::vector<int> per_level_;
  double initial_ = 0.2, increment_ = 0.15;
  int period_ = 100;
  int candidates_ = 5;
};

/// Where a drawn subnet came from.
enum class draw_origin {
  explored,   ///< a fresh in-level subnet (its reported score may enter the bank)
  exploited,  ///< picked from the level's bank (not re-inserted, as official)
  smallest,   ///< the level's smallest subnet (sandwich_step's last subnet)
};

/// A subnet with its level and origin; give it back to report() with its score.
struct level_draw {
  arch subnet;
  int level = 0;
  draw_origin origin = draw_origin::explored;
};

/// Counters of a performance-aware sampler.
struct bank_stats {
  std::uint64_t explored = 0;
  std::uint64_t exploited = 0;
  std::uint64_t inserted = 0;  ///< reports that entered a bank
  std::uint64_t reported = 0;
};

/// Performance-aware sampler: complexity-aware draws steered by per-level memory banks.
/// @tparam Space, Cost, Engine  as for complexity_aware_sampler.
/// @code
///   namespace ev = evit::elasticvit;
///   evit::performance_aware_sampler<ev::official_space, ev::macs_model<>> pa(
///       ev::macs_model<>{}, evit::complexity_options().seed(7));
///   for (int epoch = 0; epoch < epochs; ++epoch) {
///     pa.set_epoch(epoch);
///     pa.rescore_all([&](const evit::arch& a) { return -loss_on_batch(a); });
///     for (auto& batch : loader) {
///       pa.step();
///       for (int j = 0; j < 3; ++j) {
///         evit::level_draw d = pa.draw();
///         train(d.subnet, batch);
///         pa.report(d, -loss_on_batch(d.subnet));
///       }
///       train_distilled(pa.smallest(pa.level()), batch);
///     }
///   }
///   std::ofstream("bank.json") << pa.to_json().dump();   // resume with from_json()
/// @endcode
template <class Space, class Cost, class Engine = rng>
class performance_aware_sampler {
  EVIT_DETAIL_SAMPLER_CHECKS(Space, Engine);
  EVIT_DETAIL_COST_CHECK(Cost);

 public:
  using space_type = Space;
  using cost_type = Cost;
  using engine_type = Engine;
  using complexity_sampler = complexity_aware_sampler<Space, Cost, Engine>;

  explicit performance_aware_sampler(Cost cost, const complexity_options& copt = {},
                                     const performance_options& popt = {})
      : performance_aware_sampler(std::move(cost), copt, popt, Engine(copt.seed())) {}

  performance_aware_sampler(Cost cost, const complexity_options& copt,
                            const performance_options& popt, Engine engine)
      : ca_(std::move(cost), copt, std::move(engine)), popt_(popt) {
    if (popt.exploit_period() < 1)
      throw invalid_argument("performance_aware_sampler: exploit period " +
                             std::to_string(popt.exploit_period()) + " must be >= 1 epoch");
    // Bounded so that the schedule's integer arithmetic (millionths, times the period count)
    // cannot overflow; probabilities outside [0, 1] only mean never or always.
    for (double v : {popt.exploit_initial(), popt.exploit_increment()})
      if (!std::isfinite(v) || v < -1000 || v > 1000)
        throw invalid_argument("performance_aware_sampler: exploit schedule value " +
                               sample::detail::format_cost(v) +
                               " must be finite and in [-1000, 1000]");
    if (popt.candidates() < 1)
      throw invalid_argument("performance_aware_sampler: candidates " +
                             std::to_string(popt.candidates()) + " must be >= 1");
    if (!popt.capacities().empty() &&
        static_cast<int>(popt.capacities().size()) != ca_.num_levels())
      throw invalid_argument(
          "performance_aware_sampler: " + std::to_string(popt.capacities().size()) +
          " capacities for " + std::to_string(ca_.num_levels()) + " levels");
    for (int i = 0; i < ca_.num_levels(); ++i)
      banks_.emplace_back(popt.capacity_of(i, ca_.level_value(i)));  // throws if < 0
    set_epoch(0);
  }

  // --- schedule and walk ----------------------------------------------------------------------
  /// Sets the epoch, which sets the exploit probability (see performance_options).
  void set_epoch(int epoch) {
    if (epoch < 0)
      throw invalid_argument("performance_aware_sampler: epoch " + std::to_string(epoch) + " < 0");
    epoch_ = epoch;
    exploit_ppm_ = popt_.exploit_ppm(epoch);
  }
  int epoch() const { return epoch_; }
  /// The current exploit probability (> 1 means always, once the bank is more than half full).
  double exploit_probability() const { return static_cast<double>(exploit_ppm_) / 1e6; }
  /// Starts a training step (moves the per-step walks); returns its level.
  int step() { return ca_.step(); }
  int level() const { return ca_.level(); }
  int num_levels() const { return ca_.num_levels(); }

  // --- draws ----------------------------------------------------------------------------------
  /// One subnet for the current level (per-draw walks move first): exploit with the current
  /// probability when the bank is more than half full, otherwise explore.
  level_draw draw() {
    const int L = ca_.level_for_draw();
    return draw_at(L);
  }
  /// step(), then draw().
  level_draw next() {
    step();
    return draw();
  }
  /// ElasticViT's step: step(), k draws (official k = 3), then the level's smallest subnet
  /// (origin smallest).
  std::vector<level_draw> sandwich_step(int k = 3) {
    if (k < 0) throw invalid_argument("sandwich_step: k = " + std::to_string(k) + " < 0");
    step();
    std::vector<level_draw> out;
    out.reserve(static_cast<std::size_t>(k) + 1);
    for (int j = 0; j < k; ++j) out.push_back(draw());
    out.push_back(level_draw{ca_.smallest(level()), level(), draw_origin::smallest});
    return out;
  }
  /// One subnet for level L (no walk).
  level_draw draw_at(int L) {
    ca_.window_of(L);  // checks L
    memory_bank& bank = banks_[static_cast<std::size_t>(L)];
    // The coin is always thrown (as official), then the bank must be more than half full.
    const bool coin =
        static_cast<std::int64_t>(uniform_below(ca_.engine(), 1000000)) < exploit_ppm_;
    if (coin && 2 * bank.size() > bank.capacity()) {
      ++stats_.exploited;
      const std::size_t i = bank.pick_softmax(ca_.engine());
      return level_draw{bank[i].subnet, L, draw_origin::exploited};
    }
    ++stats_.explored;
    arch best = ca_.draw_in_level(L);
    if (2 * bank.size() < bank.capacity()) return level_draw{best, L, draw_origin::explored};
    double best_pref = preference(best, L);
    for (int c = 1; c < popt_.candidates(); ++c) {
      arch a = ca_.draw_in_level(L);
      const double p = preference(a, L);
      if (p < best_pref) {
        best = a;
        best_pref = p;
      }
    }
    return level_draw{best, L, draw_origin::explored};
  }

  /// Reports the score of a trained draw (higher is better, e.g. minus its loss). Explored draws
  /// whose cost is in their level's window enter the level's bank (see memory_bank::insert).
  /// Returns whether it entered. @throws evit::invalid_argument for a non-finite score.
  bool report(const level_draw& d, double score) {
    if (!std::isfinite(score))
      throw invalid_argument("performance_aware_sampler::report: score " + std::to_string(score) +
                             " is not finite");
    ca_.window_of(d.level);  // checks the level
    ++stats_.reported;
    if (d.origin != draw_origin::explored) return false;
    if (!ca_.in_window(d.level, ca_.cost(d.subnet))) return false;
    const bool in = banks_[static_cast<std::size_t>(d.level)].insert(d.subnet, score);
    stats_.inserted += in ? 1 : 0;
    return in;
  }

  /// Re-scores level L's bank with score(subnet), first dropping entries whose cost left the
  /// window (official: at every epoch's first batch, and at 1/4, 2/4, 3/4 of an epoch for the
  /// current level).
  template <class Score>
  void rescore(int L, Score&& score) {
    ca_.window_of(L);
    memory_bank& bank = banks_[static_cast<std::size_t>(L)];
    bank.keep_if([&](const bank_entry& e) { return ca_.in_window(L, ca_.cost(e.subnet)); });
    bank.rescore(std::forward<Score>(score));
  }
  /// rescore() for every level.
  template <class Score>
  void rescore_all(Score&& score) {
    for (int L = 0; L < num_levels(); ++L) rescore(L, score);
  }

  /// The "wider and shallower" preference of `a` at level L (lower is preferred):
  /// A - B, where A is the cost of `a` with its transformer stages' widths replaced by the
  /// anchor's, and B the cost of `a` with their depths replaced by the anchor's. The anchor is the
  /// best subnet of the lowest level's bank, or the space's smallest subnet at the lowest level
  /// or while that bank is empty. (In a space without transformer stages the conv stages are
  /// used; a replacement that breaks a rule of the space keeps `a`'s own value.)
  double preference(const arch& a, int L) const {
    ca_.window_of(L);
    const arch anchor = (L > 0 && !banks_[0].empty()) ? banks_[0].best().subnet : Space::min_arch();
    const space_descriptor& d = Space::descriptor();
    bool any_transformer = false;
    for (const auto& st : d.stages) any_transformer = any_transformer || st.is_transformer();
    auto chosen = [&](int s) {
      return any_transformer ? d.stages[s].is_transformer() : d.stages[s].is_conv();
    };
    arch wa = a, da = a;
    for (int s = 0; s < d.num_stages(); ++s) {
      if (!chosen(s)) continue;
      const int w = anchor.width(s);
      wa.set_width(s, w);
      if (d.stages[s].heads == head_semantics::width_over_dim)
        for (int j = 0; j < wa.depth(s); ++j) wa.layer(s, j).num_heads = w / d.stages[s].head_dim;
      da.set_depth(s, anchor.depth(s));
    }
    const double A = ca_.cost(Space::is_valid(wa) ? wa : a);
    const double B = ca_.cost(Space::is_valid(da) ? da : a);
    return A - B;
  }

  // --- access ---------------------------------------------------------------------------------
  const memory_bank& bank(int L) const {
    ca_.window_of(L);
    return banks_[static_cast<std::size_t>(L)];
  }
  const arch& smallest(int L) const { return ca_.smallest(L); }
  complexity_sampler& complexity() { return ca_; }
  const complexity_sampler& complexity() const { return ca_; }
  const performance_options& options() const { return popt_; }
  const bank_stats& stats() const { return stats_; }
  Engine& engine() { return ca_.engine(); }

  // --- save and resume ------------------------------------------------------------------------
  /// The banks and the sampler's position (epoch, walk level, and the engine's state when it is
  /// evit::rng) as JSON; from_json() on a sampler built with the same options resumes exactly.
  nlohmann::json to_json() const {
    using json = nlohmann::json;
    const space_descriptor& d = Space::descriptor();
    json banks = json::array();
    for (int L = 0; L < num_levels(); ++L) {
      json entries = json::array();
      for (const bank_entry& e : banks_[static_cast<std::size_t>(L)].entries())
        entries.push_back({{"arch", evit::to_json(d, e.subnet)}, {"score", e.score}});
      banks.push_back({{"level", ca_.level_value(L)},
                       {"capacity", banks_[static_cast<std::size_t>(L)].capacity()},
                       {"entries", std::move(entries)}});
    }
    json levels = json::array();
    for (int L = 0; L < num_levels(); ++L) levels.push_back(ca_.level_value(L));
    json j = {{"format", format_name},  {"version", 1},
              {"space", d.name},        {"levels", std::move(levels)},
              {"window", ca_.window()}, {"epoch", epoch_},
              {"level", ca_.level()},   {"banks", std::move(banks)}};
    if constexpr (std::is_same_v<Engine, rng>) {
      json state = json::array();
      for (int i = 0; i < 4; ++i) state.push_back(ca_.engine().state(i));
      j["engine"] = std::move(state);
    }
    return j;
  }

  /// Loads what to_json() wrote. The levels, window and space must match this sampler's, and
  /// every bank must fit its capacity; nothing changes unless all of it is valid.
  /// @throws evit::format_error naming the field (for a bad arch, with the arch reader's message).
  void from_json(const nlohmann::json& j) {
    const space_descriptor& d = Space::descriptor();
    const sample::detail::state_reader reader(format_name);
    auto field = [&](const nlohmann::json& o, const char* key) -> const nlohmann::json& {
      return reader.field(o, key);
    };
    reader.header(j, d);  // format, version, space
    const auto& levels = field(j, "levels");
    bool same = levels.is_array() && static_cast<int>(levels.size()) == num_levels();
    for (int L = 0; same && L < num_levels(); ++L)
      same = levels[static_cast<std::size_t>(L)].is_number() &&
             levels[static_cast<std::size_t>(L)].template get<double>() == ca_.level_value(L);
    if (!same)
      throw format_error(std::string(format_name) + ": field \"levels\" " + levels.dump() +
                         " differs from this sampler's levels");
    if (!field(j, "window").is_number() ||
        field(j, "window").template get<double>() != ca_.window())
      throw format_error(std::string(format_name) + ": field \"window\" " +
                         field(j, "window").dump() + " differs from this sampler's window");
    const auto& epoch = field(j, "epoch");
    const auto& level = field(j, "level");
    if (!epoch.is_number_integer() || epoch.template get<std::int64_t>() < 0 ||
        epoch.template get<std::int64_t>() > 1000000000)
      throw format_error(std::string(format_name) + ": field \"epoch\" " + epoch.dump() +
                         " is not an epoch number");
    if (!level.is_number_integer() || level.template get<std::int64_t>() < 0 ||
        level.template get<std::int64_t>() >= num_levels())
      throw format_error(std::string(format_name) + ": field \"level\" " + level.dump() +
                         " is not a level index");
    const auto& banks = field(j, "banks");
    if (!banks.is_array() || static_cast<int>(banks.size()) != num_levels())
      throw format_error(std::string(format_name) +
                         ": field \"banks\" must hold one bank per level");
    std::vector<memory_bank> loaded;
    for (int L = 0; L < num_levels(); ++L) {
      const auto& b = banks[static_cast<std::size_t>(L)];
      const std::string where = std::string(format_name) + ": banks[" + std::to_string(L) + "]";
      const auto& entries = field(b, "entries");
      if (!entries.is_array()) throw format_error(where + ".entries: expected an array");
      memory_bank bank(banks_[static_cast<std::size_t>(L)].capacity());
      if (static_cast<int>(entries.size()) > bank.capacity())
        throw format_error(where + ": " + std::to_string(entries.size()) +
                           " entries exceed this sampler's capacity " +
                           std::to_string(bank.capacity()));
      for (std::size_t e = 0; e < entries.size(); ++e) {
        const auto& score = field(entries[e], "score");
        if (!score.is_number() || !std::isfinite(score.template get<double>()))
          throw format_error(where + ".entries[" + std::to_string(e) +
                             "].score: expected a finite number, got " + score.dump());
        const auto& a = field(entries[e], "arch");
        try {
          bank.insert(evit::from_json(d, a), score.template get<double>());
        } catch (const error& x) {  // the arch reader's message, with the field it came from
          throw format_error(where + ".entries[" + std::to_string(e) + "].arch: " + x.what());
        }
      }
      loaded.push_back(std::move(bank));
    }
    // (refuses the all-zero state, on which every bounded draw would loop forever)
    sample::detail::engine_from_json(reader, j, ca_.engine());
    banks_ = std::move(loaded);
    set_epoch(static_cast<int>(epoch.template get<std::int64_t>()));
    ca_.set_level(static_cast<int>(level.template get<std::int64_t>()));
  }

  static constexpr const char* format_name = "evit.performance_aware_sampler";

 private:
  complexity_sampler ca_;
  performance_options popt_;
  std::vector<memory_bank> banks_;
  int epoch_ = 0;
  std::int64_t exploit_ppm_ = 0;
  bank_stats stats_;
};

/// Builds a performance_aware_sampler, deducing the cost model's type.
template <class Space, class Engine = rng, class Cost>
performance_aware_sampler<Space, std::decay_t<Cost>, Engine> make_performance_aware_sampler(
    Cost&& cost, const complexity_options& copt = {}, const performance_options& popt = {}) {
  return performance_aware_sampler<Space, std::decay_t<Cost>, Engine>(std::forward<Cost>(cost),
                                                                      copt, popt);
}

}  // namespace evit
