// SPDX-License-Identifier: MIT
// What search_subnet reports: the table it prints, and the files it writes into --out:
//   results.json, results.csv  the chosen subnet per device and budget
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
  /// `val`: the labelled set of the top-1 objective, or "" for the MMACs proxy.
  search_report(std::string out, const std::string& val)
      : out_(std::move(out)), top1_(!val.empty()), points_(out_ + "/points.csv") {
    objective_ = top1_ ? "top-1 % after BN recalibration (" + val + ")"
                       : "PROXY: official MMACs (the most capacity the budget buys; pass "
                         "--weights and --val for top-1)";
    axis_ = top1_ ? "top-1 accuracy (%) after BN recalibration"
                  : "official MMACs (a proxy objective, not accuracy)";
    points_ << "device,budget_ms,latency_ms,objective,chosen\n";
    references_ << "device,name,latency_ms,objective\n";
  }
  const std::string& objective() const { return objective_; }

  /// A released model as a reference point of `device`.
  void reference(const std::string& device, const std::string& name, double ms, double value) {
    references_ << device << "," << name << "," << fixed(ms, 4) << "," << fixed(value, 4) << "\n";
  }

  /// One search's outcome; `confirmed`: whole-subnet measurements of its best subnets, in rank
  /// order, up to the first within the budget (this machine only).
  void add(const std::string& device, double budget, const evit::search_result& r,
           const std::vector<evit::evaluated>& records,
           const std::vector<evit::cost::latency_stats>& confirmed) {
    row w{device, budget, {}, 0, 0, 0, -1, 0, true, r.evaluations, r.seconds, "ok"};
    if (!r.ok()) {
      w.status = "infeasible: " + r.message;
      rows_.push_back(w);
      return;
    }
    std::size_t pick = 0;
    if (!confirmed.empty()) {
      w.within = confirmed.back().median_ms <= budget;
      pick = w.within ? confirmed.size() - 1 : 0;
      w.measured = confirmed[pick].median_ms;
      w.measured_ci = confirmed[pick].rel_ci();
    }
    const evit::evaluated& e = r.ranked[pick];
    w.subnet = e.subnet;
    w.objective = e.values[0];
    w.mmacs = evit::elasticvit::macs(e.subnet) * 1e-6;
    w.predicted = e.costs[0];
    rows_.push_back(w);
    for (const evit::evaluated& p : records)
      if (p.feasible())
        points_ << device << "," << fixed(budget, 3) << "," << fixed(p.costs[0], 4) << ","
                << fixed(p.values[0], 4) << "," << (p.subnet == e.subnet ? 1 : 0) << "\n";
  }

  /// The table on stdout.
  void print(const evit::cost::block_profiler<evit::elasticvit::official_space>* profiler,
             const std::string& table_path) const {
    std::printf("\n%-9s %10s %9s %9s %12s %16s  %s\n", "device", "budget ms",
                top1_ ? "top-1 %" : "MMACs*", "MMACs", "predicted ms", "measured ms", "subnet");
    for (const row& w : rows_) {
      if (w.status != "ok") {
        std::printf("%-9s %10.2f  %s\n", w.device.c_str(), w.budget, w.status.c_str());
        continue;
      }
      const std::string m = w.measured < 0
                                ? "-"
                                : fixed(w.measured, 2) + " +-" + fixed(100 * w.measured_ci, 0) +
                                      "%" + (w.within ? "" : " (!)");
      std::printf("%-9s %10.2f %9s %9.1f %12.2f %16s  %s\n", w.device.c_str(), w.budget,
                  fixed(w.objective, top1_ ? 2 : 1).c_str(), w.mmacs, w.predicted, m.c_str(),
                  text(w.subnet).c_str());
    }
    if (!top1_) std::printf("* the objective: a proxy (official MMACs), not accuracy\n");
    if (profiler)
      std::printf(
          "this machine: %zu blocks profiled now (%.1f s), %zu in %s; measured ms: "
          "median of whole forwards +- its 95%% interval; (!) = every confirmed winner "
          "over budget\n",
          profiler->profiled(), profiler->seconds(), profiler->table().size(), table_path.c_str());
  }

  /// results.json (with the search's options, seed and seconds) and results.csv; points.csv
  /// and references.csv were written on the way.
  void write(const nlohmann::json& search, long long seed, double seconds) {
    points_.close();
    std::ofstream(out_ + "/references.csv") << references_.str();
    nlohmann::json j = {{"objective", objective_},
                        {"objective_axis", axis_},
                        {"objective_kind", top1_ ? "top-1" : "proxy"},
                        {"search", search},
                        {"seed", seed},
                        {"seconds", seconds},
                        {"results", nlohmann::json::array()}};
    std::ofstream csv(out_ + "/results.csv");
    csv << "device,budget_ms,objective,mmacs,predicted_ms,measured_ms,measured_rel_ci,status,"
           "subnet\n";
    for (const row& w : rows_) {
      nlohmann::json x = {{"device", w.device},
                          {"budget_ms", w.budget},
                          {"status", w.status},
                          {"evaluations", w.evaluations},
                          {"seconds", w.seconds}};
      const bool ok = w.status == "ok", meas = ok && w.measured >= 0;
      if (ok) {
        x.update({{"subnet", text(w.subnet)},
                  {"official_list", evit::elasticvit::to_official_list(w.subnet)},
                  {"objective", w.objective},
                  {"mmacs", w.mmacs},
                  {"predicted_ms", w.predicted}});
        if (meas)
          x.update({{"measured_ms", w.measured},
                    {"measured_rel_ci", w.measured_ci},
                    {"measured_within_budget", w.within}});
      }
      j["results"].push_back(x);
      csv << w.device << "," << fixed(w.budget, 3) << "," << fixed(w.objective, 4) << ","
          << fixed(w.mmacs, 2) << "," << fixed(w.predicted, 3) << ","
          << (meas ? fixed(w.measured, 3) : "") << "," << (meas ? fixed(w.measured_ci, 4) : "")
          << "," << (ok ? "ok" : "infeasible") << ",\"" << (ok ? text(w.subnet) : "") << "\"\n";
    }
    std::ofstream(out_ + "/results.json") << j.dump(2) << "\n";
    std::printf("wrote %s/results.json, results.csv, points.csv, references.csv\n", out_.c_str());
  }

  /// latency.png with tools/plot_search.py (`script`), when python3-matplotlib is installed.
  void plot(const std::string& script) const {
    const std::string png = out_ + "/latency.png";
    // Debian's python3-matplotlib belongs to the system interpreter, which a PATH may shadow.
    const std::string py =
        std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
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
  };
  static std::string text(const evit::arch& a) {
    return evit::to_string<evit::elasticvit::official_space>(a);
  }

  std::string out_, objective_, axis_;
  bool top1_;
  std::ofstream points_;
  std::ostringstream references_;
  std::vector<row> rows_;
};

}  // namespace example
