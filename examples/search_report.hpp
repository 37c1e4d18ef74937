// SPDX-License-Identifier: MIT
// What search_subnet reports: the table it prints, and the files it writes into --out:
//   results.json, results.csv  the chosen subnet per device and budget (this machine: the best
//                              measured subnet of the shortlist within the budget, or none)
//   shortlist.csv              this machine's shortlisted subnets: predicted and measured
//                              latency, the measurement's 95% interval, whether each fits
//   points.csv                 every subnet the searches evaluated (device, budget_ms,
//                              latency_ms, objective, chosen), for the plot
//   references.csv             the released models (elastic_T1 ... elastic_L3) per device
//   latency.png                tools/plot_search.py's drawing of the three, when matplotlib is
//                              installed
// and the small helpers the example's command line needs.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <evit/evit.hpp>

namespace example {

inline std::string fixed(double v, int digits) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

/// N of "<prefix>N" (at least 2), else an error naming the text.
inline std::size_t count_after(const std::string& prefix, const std::string& text) {
  const std::string n = text.substr(prefix.size());
  if (n.empty() || n.size() > 6 || n.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(n) < 2)
    throw evit::invalid_argument("'" + text + "': " + prefix + "N needs an integer N >= 2");
  return std::stoul(n);
}

/// A file or folder of this repository: from the build's source folder, else from the working
/// folder or the program's folder and up to five levels above them; "" when not found.
inline std::string find_repository_path(const std::string& rel, const char* argv0) {
  namespace fs = std::filesystem;
#ifdef EVIT_DATA_DIR  // the data folder of the repository this program was built from
  if (fs::exists(fs::path(EVIT_DATA_DIR).parent_path() / rel))
    return (fs::path(EVIT_DATA_DIR).parent_path() / rel).string();
#endif
  for (fs::path base : {fs::path("."), fs::path(argv0).parent_path()})
    for (int up = 0; up <= 5; ++up, base /= "..")
      if (fs::exists(base / rel)) return (base / rel).string();
  return "";
}

/// A preset scaled to another population: parents, mutations and crossovers in proportion.
inline void scale_population(evit::evolution_options& o, int population) {
  const double k = static_cast<double>(population) / o.population();
  o.population(population)
      .parents(std::max(2, static_cast<int>(o.parents() * k)))
      .mutations(std::max(1, static_cast<int>(o.mutations() * k)))
      .crossovers(std::max(1, static_cast<int>(o.crossovers() * k)));
}

class search_report {
 public:
  /// `val`: the labelled set of the top-1 objective, or "" for the MMACs proxy; `space`: the
  /// ElasticViT-family space searched.
  search_report(
      std::string out, const std::string& val,
      const evit::space_descriptor& space = evit::elasticvit::official_space::descriptor())
      : out_(std::move(out)), top1_(!val.empty()), space_(&space), points_(out_ + "/points.csv") {
    objective_ = top1_ ? "top-1 % after BN recalibration (" + val + ")"
                       : "PROXY: official MMACs (the most capacity the budget buys; pass "
                         "--weights and --val for top-1)";
    axis_ = top1_ ? "top-1 accuracy (%) after BN recalibration"
                  : "official MMACs (a proxy objective, not accuracy)";
    unit_ = top1_ ? "%" : "MMACs";
    points_ << "device,budget_ms,latency_ms,objective,chosen\n";
    shortlist_ << "device,budget_ms,search_budget_ms,rank,objective,predicted_ms,measured_ms,"
                  "measured_lo_ms,measured_hi_ms,fits,chosen\n";
    references_ << "device,name,latency_ms,objective\n";
  }
  const std::string& objective() const { return objective_; }

  /// A released model as a reference point of `device`.
  void reference(const std::string& device, const std::string& name, double ms, double value) {
    references_ << device << "," << name << "," << fixed(ms, 4) << "," << fixed(value, 4) << "\n";
    if (reference_lines_.empty() || reference_lines_.back().first != device)
      reference_lines_.emplace_back(device, "");
    reference_lines_.back().second += (reference_lines_.back().second.empty() ? " " : ", ") + name +
                                      " " + fixed(ms, 2) + " ms " + fixed(value, 2);
  }

  /// One search's outcome. This machine: `c` is its shortlist measured against `budget`
  /// (search/confirm.hpp), from a search under `search_budget` (the budget, or a tightened one
  /// after a shortlist that did not fit), `extra_s` the seconds spent measuring and re-searching;
  /// the row presents the confirmed winner, or none. Phones: `c` is null.
  void add(const std::string& device, double budget, const evit::search_result& r,
           const std::vector<evit::evaluated>& records, const evit::confirmation* c = nullptr,
           double search_budget = 0, double extra_s = 0) {
    row w{device,        budget,    {},   0, 0, 0, -1, 0, true,
          r.evaluations, r.seconds, "ok", 0, 0, 0, "", {}};
    w.search_budget = search_budget > 0 ? search_budget : budget;
    w.extra_s = extra_s;
    if (!r.ok()) {
      w.status = "infeasible: " + r.message;
      rows_.push_back(w);
      return;
    }
    const evit::evaluated* e = &r.ranked.front();
    if (c != nullptr) {
      w.shortlist = c->shortlist;
      w.rule = evit::budget_rule_name(c->rule);
      for (std::size_t i = 0; i < c->shortlist.size(); ++i) {
        const evit::shortlist_entry& s = c->shortlist[i];
        shortlist_ << device << "," << fixed(budget, 3) << "," << fixed(w.search_budget, 3) << ","
                   << i << "," << fixed(s.value, 4) << "," << fixed(s.predicted_ms, 4) << ","
                   << fixed(s.measured.median_ms, 4) << "," << fixed(s.measured.lo_ms, 4) << ","
                   << fixed(s.measured.hi_ms, 4) << "," << (s.fits ? 1 : 0) << ","
                   << (static_cast<int>(i) == c->chosen ? 1 : 0) << "\n";
      }
      if (!c->ok()) {
        w.status = "no subnet within budget: " + c->message;
        e = nullptr;
      } else {
        const evit::shortlist_entry& s = c->winner();
        w.measured = s.measured.median_ms;
        w.measured_ci = s.measured.rel_ci();
        w.measured_hi = s.measured.hi_ms;
        w.within = true;
        for (const evit::evaluated& x : r.ranked)
          if (x.subnet == s.subnet) e = &x;
      }
    }
    if (e != nullptr) {
      w.subnet = e->subnet;
      w.objective = e->values[0];
      w.mmacs = evit::elasticvit::macs(*space_, e->subnet) * 1e-6;
      w.predicted = e->costs[0];
    }
    rows_.push_back(w);
    for (const evit::evaluated& p : records)
      if (p.feasible())
        points_ << device << "," << fixed(budget, 3) << "," << fixed(p.costs[0], 4) << ","
                << fixed(p.values[0], 4) << "," << (e != nullptr && p.subnet == e->subnet ? 1 : 0)
                << "\n";
  }

  /// The table on stdout.
  template <class Profiler>
  void print(const Profiler* profiler, const std::string& table_path) const {
    std::printf("\n%-9s %10s %9s %9s %12s %16s  %s\n", "device", "budget ms",
                top1_ ? "top-1 %" : "MMACs*", "MMACs", "predicted ms", "measured ms", "subnet");
    for (const row& w : rows_) {
      if (w.status != "ok") {
        std::printf("%-9s %10.2f  %s\n", w.device.c_str(), w.budget, w.status.c_str());
      } else {
        const std::string m =
            w.measured < 0 ? "-"
                           : fixed(w.measured, 2) + " +-" + fixed(100 * w.measured_ci, 0) + "%";
        std::printf("%-9s %10.2f %9s %9.1f %12.2f %16s  %s\n", w.device.c_str(), w.budget,
                    fixed(w.objective, top1_ ? 2 : 1).c_str(), w.mmacs, w.predicted, m.c_str(),
                    text(w.subnet).c_str());
      }
      if (w.shortlist.empty()) continue;
      std::printf("%-9s %10s   shortlist (%s <= budget%s), %.1f s extra:", "", "", w.rule.c_str(),
                  w.search_budget < w.budget
                      ? (", re-searched under " + fixed(w.search_budget, 2) + " ms").c_str()
                      : "",
                  w.extra_s);
      for (const evit::shortlist_entry& s : w.shortlist)
        std::printf(" %s->%s%s", fixed(s.predicted_ms, 2).c_str(),
                    fixed(s.measured.median_ms, 2).c_str(), s.fits ? "" : "(over)");
      std::printf("\n");
    }
    if (!top1_)
      std::printf("* the objective: a proxy (official MMACs), not accuracy\n");
    else  // the reference points, for comparison with the answers
      for (const auto& [device, line] : reference_lines_)
        std::printf("%s reference points (predicted ms, top-1 %%):%s\n", device.c_str(),
                    line.c_str());
    if (profiler)
      std::printf(
          "this machine: %zu blocks profiled now (%.1f s), %zu in %s; predicted ms: %s; "
          "measured ms: median of whole forwards +- its 95%% interval; "
          "shortlist: predicted->measured ms of the best subnets by prediction, the winner is "
          "the best that measures within budget (never one over it)\n",
          profiler->profiled(), profiler->seconds(), profiler->table().size(), table_path.c_str(),
          profiler->table().calibration().fitted ? "the calibrated table"
                                                 : "the sum of the table's blocks");
  }

  /// results.json (with the search's options, seed and seconds) and results.csv; points.csv
  /// and references.csv were written on the way.
  void write(const nlohmann::json& search, long long seed, double seconds) {
    points_.close();
    std::ofstream(out_ + "/references.csv") << references_.str();
    shortlist_.close();
    nlohmann::json j = {{"objective", objective_}, {"objective_axis", axis_},
                        {"objective_unit", unit_}, {"objective_kind", top1_ ? "top-1" : "proxy"},
                        {"search", search},        {"seed", seed},
                        {"seconds", seconds},      {"results", nlohmann::json::array()}};
    std::ofstream csv(out_ + "/results.csv");
    csv << "device,budget_ms,objective,mmacs,predicted_ms,measured_ms,measured_rel_ci,status,"
           "subnet\n";
    for (const row& w : rows_) {
      nlohmann::json x = {{"device", w.device},
                          {"budget_ms", w.budget},
                          {"search_budget_ms", w.search_budget},
                          {"status", w.status},
                          {"evaluations", w.evaluations},
                          {"seconds", w.seconds}};
      const bool ok = w.status == "ok", meas = ok && w.measured >= 0;
      if (ok) {
        x.update({{"subnet", text(w.subnet)},
                  {"official_list", evit::elasticvit::to_official_list(*space_, w.subnet)},
                  {"objective", w.objective},
                  {"mmacs", w.mmacs},
                  {"predicted_ms", w.predicted}});
        if (meas)
          x.update({{"measured_ms", w.measured},
                    {"measured_hi_ms", w.measured_hi},
                    {"measured_rel_ci", w.measured_ci},
                    {"measured_within_budget", w.within}});
      }
      if (!w.shortlist.empty()) {
        nlohmann::json sl = nlohmann::json::array();
        for (const evit::shortlist_entry& s : w.shortlist)
          sl.push_back({{"subnet", text(s.subnet)},
                        {"objective", s.value},
                        {"predicted_ms", s.predicted_ms},
                        {"measured_ms", s.measured.median_ms},
                        {"measured_lo_ms", s.measured.lo_ms},
                        {"measured_hi_ms", s.measured.hi_ms},
                        {"fits", s.fits}});
        x.update({{"shortlist", sl}, {"budget_rule", w.rule}, {"extra_seconds", w.extra_s}});
      }
      j["results"].push_back(x);
      csv << w.device << "," << fixed(w.budget, 3) << "," << fixed(w.objective, 4) << ","
          << fixed(w.mmacs, 2) << "," << fixed(w.predicted, 3) << ","
          << (meas ? fixed(w.measured, 3) : "") << "," << (meas ? fixed(w.measured_ci, 4) : "")
          << ","
          << (ok                    ? "ok"
              : w.shortlist.empty() ? "infeasible"
                                    : "none_within_budget")
          << ",\"" << (ok ? text(w.subnet) : "") << "\"\n";
    }
    std::ofstream(out_ + "/results.json") << j.dump(2) << "\n";
    std::printf("wrote %s/results.json, results.csv, points.csv, shortlist.csv, references.csv\n",
                out_.c_str());
  }

  /// latency.png with tools/plot_search.py (`script`), when python3-matplotlib is installed.
  void plot(const std::string& script) const {
    const std::string png = out_ + "/latency.png";
    // Debian's python3-matplotlib belongs to the system interpreter, which a PATH may shadow.
    const std::string py =
        std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
    std::fflush(stdout);  // the script's own lines after ours, also into a file or pipe
    if (script.empty())
      std::printf("plot: skipped (tools/plot_search.py not found from here)\n");
    else if (std::system((py + " -c 'import matplotlib' > /dev/null 2>&1").c_str()) != 0)
      std::printf(
          "plot: skipped (python3-matplotlib is not installed; run %s %s %s where it "
          "is)\n",
          py.c_str(), script.c_str(), out_.c_str());
    else if (std::system((py + " '" + script + "' '" + out_ + "' '" + png + "'").c_str()) == 0)
      std::printf("plot: %s\n", png.c_str());
    else
      std::printf("plot: the script failed; the results are in the CSV files\n");
  }

 private:
  struct row {
    std::string device;
    double budget;
    evit::arch subnet;
    double objective, mmacs, predicted, measured, measured_ci;  // measured < 0: not measured
    bool within;
    std::uint64_t evaluations;
    double seconds;
    std::string status;
    double measured_hi = 0, search_budget = 0, extra_s = 0;
    std::string rule;
    std::vector<evit::shortlist_entry> shortlist;
  };
  std::string text(const evit::arch& a) const { return evit::to_string(*space_, a); }

  std::string out_, objective_, axis_, unit_;
  bool top1_;
  const evit::space_descriptor* space_;
  std::ofstream points_, shortlist_{out_ + "/shortlist.csv"};
  std::ostringstream references_;
  std::vector<std::pair<std::string, std::string>> reference_lines_;  // device, its references
  std::vector<row> rows_;
};

}  // namespace example
