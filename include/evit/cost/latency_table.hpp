// SPDX-License-Identifier: MIT
// Latency lookup tables: a subnet's latency as the sum of its blocks' latencies, each block looked
// up by a key in nn-Meter's format (the format of the phone tables in data/mobile-lut; the grammar
// and the walk: docs/elasticvit.md#phone-latency-tables):
//   firstconv_{R}_3_{Cf}_2_3
//   conv_{hw}_{cin}_{cout}_{expansion}_{stride}_hard_swish_{kernel}_{se|nose}
//   transds_{hw}_{cin}_{cout}_{stride}_6          a transformer stage's reduction MBConv
//   transattn_{hw}_{C}_hard_swish_{v_scale}_ln     attention, at the stage's output side
//   transffn_{hw}_{C}_{mlp_ratio}_hard_swish_ln    FFN
//   mbpool_{hw}_{C}_{hidden}_{expand}_hard_swish   the head
// Tables are JSON objects {key: milliseconds} read at run time, so a new device is a new file.
// A table measured on this machine also holds, under the entry "_evit_table", what it is valid
// for (table_key: CPU model, ISA, threads, profiling method) and its fitted correction
// (table_calibration: a scale per block kind and a whole-network constant, with its fit and
// held-out errors); predict() applies the correction (none: the plain sum).
// A key missing from a table is an evit::cost::missing_block error naming the key and the device,
// never a silent zero.
//   lut_blocks(d, a)              the walk: the blocks of subnet a, with their geometry and keys
//   latency_table                 one device's table (load, save, lookup, predict)
//   table_latency<Space>          a table as a cost model (shared, immutable)
//   mobile_latency<Space>(device)        the phone predictor: the installed (or source tree's)
//                                        data/mobile-lut/device.json, see mobile_lut_dirs()
//   mobile_latency<Space>(dir, device)   the same from dir/device.json
// Next: cost/block_profiler.hpp (a table of this machine, profiled with evit's kernels).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "evit/core/error.hpp"
#include "evit/core/hash.hpp"
#include "evit/models/elasticvit/macs.hpp"
#include "evit/models/elasticvit/plan.hpp"
#include "evit/models/elasticvit/space.hpp"
#include "evit/simd/namespace.hpp"
#include "evit/space/arch.hpp"
#include "evit/space/descriptor.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace cost {

/// A block missing from a latency table (names the key and the device).
class missing_block : public evit::error {
 public:
  missing_block(const std::string& key, const std::string& device)
      : evit::error("latency table of device \"" + device + "\" has no block \"" + key + "\""),
        key_(key),
        device_(device) {}
  const std::string& key() const { return key_; }
  const std::string& device() const { return device_; }

 private:
  std::string key_, device_;
};

/// The blocks of the tables are the blocks of a subnet's plan (models/elasticvit/plan.hpp), each
/// with its key in nn-Meter's format (block::key()).
using block_kind = elasticvit::block_kind;
using lut_block = elasticvit::block;

/// The blocks of subnet `a` of an ElasticViT-family space `d`, in forward order: its plan
/// (elasticvit::build_plan). @pre `a` is valid in `d` (not checked, for speed; see
/// elasticvit::plan::of).
inline void lut_blocks(const space_descriptor& d, const arch& a, std::vector<lut_block>& out) {
  elasticvit::build_plan(d, a, out);
}

inline std::vector<lut_block> lut_blocks(const space_descriptor& d, const arch& a) {
  std::vector<lut_block> out;
  lut_blocks(d, a, out);
  return out;
}

namespace detail {

/// A key in structured form: its block type and numeric fields.
struct parsed_key {
  block_kind kind = block_kind::conv;
  std::array<std::int32_t, 8> f{};
  friend bool operator==(const parsed_key& x, const parsed_key& y) {
    return x.kind == y.kind && x.f == y.f;
  }
};
struct parsed_key_hash {
  std::size_t operator()(const parsed_key& k) const {
    hasher h;
    h.add(static_cast<int>(k.kind));
    for (auto v : k.f) h.add(v);
    return static_cast<std::size_t>(h.value());
  }
};

/// Parses a key of the grammar above; false for any other text.
inline bool parse_key(const std::string& key, parsed_key& out) {
  std::vector<std::string> tok;
  std::string cur;
  for (char ch : key) {
    if (ch == '_') {
      tok.push_back(cur);
      cur.clear();
    } else {
      cur += ch;
    }
  }
  tok.push_back(cur);
  auto num = [](const std::string& t, std::int32_t& v) {
    if (t.empty() || t.size() > 7) return false;
    v = 0;
    for (char ch : t) {
      if (ch < '0' || ch > '9') return false;
      v = v * 10 + (ch - '0');
    }
    return true;
  };
  auto nums = [&](std::initializer_list<std::size_t> at, std::size_t n) {
    if (tok.size() != n) return false;
    std::size_t k = 0;
    for (std::size_t i : at)
      if (!num(tok[i], out.f[k++])) return false;
    return true;
  };
  auto word = [&](std::size_t i, const char* w) { return i < tok.size() && tok[i] == w; };
  out.f.fill(-1);
  const std::string& p = tok[0];
  if (p == "firstconv") {
    out.kind = block_kind::first_conv;
    return nums({1, 2, 3, 4, 5}, 6);
  }
  if (p == "conv") {  // conv hw cin cout e s hard swish k se
    out.kind = block_kind::conv;
    if (!nums({1, 2, 3, 4, 5, 8}, 10) || !word(6, "hard") || !word(7, "swish")) return false;
    if (tok[9] != "se" && tok[9] != "nose") return false;
    out.f[6] = tok[9] == "se" ? 1 : 0;
    return true;
  }
  if (p == "transds") {
    out.kind = block_kind::reduction;
    return nums({1, 2, 3, 4, 5}, 6);
  }
  if (p == "transattn") {  // transattn hw C hard swish v ln
    out.kind = block_kind::attention;
    return nums({1, 2, 5}, 7) && word(3, "hard") && word(4, "swish") && word(6, "ln");
  }
  if (p == "transffn") {  // transffn hw C mlp hard swish ln
    out.kind = block_kind::ffn;
    if (!nums({1, 2, 3}, 7) || !word(4, "hard") || !word(5, "swish") || !word(6, "ln"))
      return false;
    out.f[3] = 1;  // integer mlp ratio: denominator 1
    return true;
  }
  if (p == "mbpool") {  // mbpool hw C hidden e hard swish
    out.kind = block_kind::head;
    return nums({1, 2, 3, 4}, 7) && word(5, "hard") && word(6, "swish");
  }
  return false;
}

}  // namespace detail

/// A table that does not belong to this machine (other CPU, ISA, thread count or profiling
/// method); the message names the field, the table's value and this machine's.
class stale_table : public evit::error {
 public:
  explicit stale_table(const std::string& what) : evit::error(what) {}
};

/// What a measured table is valid for.
struct table_key {
  std::string cpu;     ///< CPU model (/proc/cpuinfo's "model name")
  std::string isa;     ///< the kernels' ISA (simd::isa_name)
  int threads = 0;     ///< threads of the forward (0: unknown)
  std::string method;  ///< how blocks were profiled (profile_mode's name)

  bool empty() const { return cpu.empty() && isa.empty() && threads == 0 && method.empty(); }
  std::string text() const {
    return "cpu '" + cpu + "', isa " + isa + ", " + std::to_string(threads) + " thread" +
           (threads == 1 ? "" : "s") + ", method " + method;
  }
  /// "" when a table keyed `*this` is valid `here`, else what differs, e.g. "cpu: the table's
  /// 'A', this machine's 'B'" (every differing field, '; ' between them).
  std::string mismatch(const table_key& here) const {
    if (empty()) return "the table has no machine key (made before keys, or by hand)";
    std::string out;
    auto field = [&](const char* name, const std::string& t, const std::string& h) {
      if (t != h)
        out += std::string(out.empty() ? "" : "; ") + name + ": the table's '" + t +
               "', this machine's '" + h + "'";
    };
    field("cpu", cpu, here.cpu);
    field("isa", isa, here.isa);
    field("threads", std::to_string(threads), std::to_string(here.threads));
    field("method", method, here.method);
    return out;
  }
  nlohmann::json to_json() const {
    return {{"cpu", cpu}, {"isa", isa}, {"threads", threads}, {"method", method}};
  }
  static table_key from_json(const nlohmann::json& j, const std::string& where) {
    table_key k;
    try {
      k.cpu = j.at("cpu").get<std::string>();
      k.isa = j.at("isa").get<std::string>();
      k.threads = j.at("threads").get<int>();
      k.method = j.at("method").get<std::string>();
    } catch (const nlohmann::json::exception& e) {
      throw format_error("latency table " + where +
                         ": \"_evit_table\".\"key\" needs cpu, isa (strings), threads "
                         "(integer) and method (string): " +
                         e.what());
    }
    return k;
  }
};

/// A correction of a table's sum, fitted on measured whole subnets (cost/calibration.hpp):
///   latency = constant_ms + sum over block kinds of scale[kind] * (the subnet's blocks of that
///   kind, summed from the table)
/// with the relative errors of the fit and of held-out subnets, before and after.
struct table_calibration {
  static constexpr int kinds = 6;  ///< block_kind's values
  std::array<double, kinds> scale{1, 1, 1, 1, 1, 1};
  double constant_ms = 0;
  bool fitted = false;
  int fit_n = 0, heldout_n = 0;  ///< subnets fitted on, held out
  /// |relative error| on the held-out subnets: median and 90th percentile, before (the plain
  /// sum) and after the correction; and after it on the fitted subnets.
  double raw_median = 0, raw_p90 = 0, heldout_median = 0, heldout_p90 = 0, fit_median = 0,
         fit_p90 = 0;

  /// The corrected latency of a subnet whose blocks of each kind sum to by_kind[kind] ms.
  double apply(const std::array<double, kinds>& by_kind) const {
    double t = constant_ms;
    for (int k = 0; k < kinds; ++k) t += scale[static_cast<std::size_t>(k)] * by_kind[k];
    return t;
  }
  nlohmann::json to_json() const {
    nlohmann::json sc = nlohmann::json::object();
    for (int k = 0; k < kinds; ++k)
      sc[elasticvit::block_kind_name(static_cast<block_kind>(k))] =
          scale[static_cast<std::size_t>(k)];
    return {{"scale", sc},
            {"constant_ms", constant_ms},
            {"fit_subnets", fit_n},
            {"heldout_subnets", heldout_n},
            {"fit_median_abs_error", fit_median},
            {"fit_p90_abs_error", fit_p90},
            {"heldout_median_abs_error", heldout_median},
            {"heldout_p90_abs_error", heldout_p90},
            {"uncalibrated_heldout_median_abs_error", raw_median},
            {"uncalibrated_heldout_p90_abs_error", raw_p90}};
  }
  static table_calibration from_json(const nlohmann::json& j, const std::string& where) {
    table_calibration c;
    try {
      const nlohmann::json& sc = j.at("scale");
      for (auto it = sc.begin(); it != sc.end(); ++it) {
        int k = 0;
        while (k < kinds && it.key() != elasticvit::block_kind_name(static_cast<block_kind>(k)))
          ++k;
        if (k == kinds) {
          std::string allowed;
          for (int i = 0; i < kinds; ++i)
            allowed += std::string(i ? ", " : "") +
                       elasticvit::block_kind_name(static_cast<block_kind>(i));
          throw format_error("latency table " + where + ": calibration scale \"" + it.key() +
                             "\" is not a block kind (allowed: " + allowed + ")");
        }
        const double v = it.value().get<double>();
        if (!(v > 0) || !std::isfinite(v))
          throw format_error("latency table " + where + ": calibration scale \"" + it.key() +
                             "\" = " + std::to_string(v) + " (allowed: a finite number > 0)");
        c.scale[static_cast<std::size_t>(k)] = v;
      }
      c.constant_ms = j.at("constant_ms").get<double>();
      c.fit_n = j.value("fit_subnets", 0);
      c.heldout_n = j.value("heldout_subnets", 0);
      c.fit_median = j.value("fit_median_abs_error", 0.0);
      c.fit_p90 = j.value("fit_p90_abs_error", 0.0);
      c.heldout_median = j.value("heldout_median_abs_error", 0.0);
      c.heldout_p90 = j.value("heldout_p90_abs_error", 0.0);
      c.raw_median = j.value("uncalibrated_heldout_median_abs_error", 0.0);
      c.raw_p90 = j.value("uncalibrated_heldout_p90_abs_error", 0.0);
    } catch (const nlohmann::json::exception& e) {
      throw format_error("latency table " + where +
                         ": malformed \"_evit_table\".\"calibration\": " + e.what());
    }
    if (!std::isfinite(c.constant_ms))
      throw format_error("latency table " + where + ": calibration constant_ms is not finite");
    c.fitted = true;
    return c;
  }
};

/// One device's block latencies in milliseconds, keyed as above.
/// @code
///   auto t = evit::cost::latency_table::load("data/mobile-lut/pixel6.json");
///   double ms = t.predict(evit::elasticvit::official_space::descriptor(), a);
/// @endcode
class latency_table {
 public:
  latency_table() = default;
  explicit latency_table(std::string device) : device_(std::move(device)) {}

  /// Reads a JSON object {key: ms}. The device name defaults to the file name without folder and
  /// extension. @throws evit::format_error naming the file and the entry.
  static latency_table load(const std::string& path, std::string device = "") {
    std::ifstream f(path);
    if (!f) throw format_error("latency table " + path + ": cannot open the file");
    if (device.empty()) {
      std::string name = path.substr(path.find_last_of("/\\") + 1);
      device = name.substr(0, name.rfind('.'));
    }
    nlohmann::json j;
    try {
      f >> j;
    } catch (const nlohmann::json::exception& e) {
      throw format_error("latency table " + path + ": not JSON (" + e.what() + ")");
    }
    return from_json(j, device, path);
  }

  /// From a JSON object {key: ms}; `where` names the source in errors.
  static latency_table from_json(const nlohmann::json& j, std::string device,
                                 const std::string& where = "JSON") {
    if (!j.is_object())
      throw format_error("latency table " + where + ": expected an object {key: milliseconds}");
    latency_table t(std::move(device));
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it.key() == meta_key) {
        if (!it.value().is_object())
          throw format_error("latency table " + where + ": \"" + meta_key +
                             "\" must be an object {key, calibration}");
        if (it.value().contains("key")) t.key_ = table_key::from_json(it.value()["key"], where);
        if (it.value().contains("calibration"))
          t.cal_ = table_calibration::from_json(it.value()["calibration"], where);
        continue;
      }
      if (!it.value().is_number())
        throw format_error("latency table " + where + ": entry \"" + it.key() +
                           "\" is not a number");
      t.set(it.key(), it.value().get<double>());
    }
    return t;
  }

  nlohmann::json to_json() const {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& kv : by_key_) j[kv.first] = kv.second;
    if (!key_.empty() || cal_.fitted) {
      nlohmann::json m = nlohmann::json::object();
      if (!key_.empty()) m["key"] = key_.to_json();
      if (cal_.fitted) m["calibration"] = cal_.to_json();
      j[meta_key] = m;
    }
    return j;
  }
  /// The JSON entry holding the table's key and calibration.
  static constexpr const char* meta_key = "_evit_table";
  /// Writes the table as JSON (keys sorted, one per line).
  void save(const std::string& path) const {
    std::ofstream f(path);
    if (!f) throw format_error("latency table " + path + ": cannot write the file");
    f << to_json().dump(4) << "\n";
    if (!f) throw format_error("latency table " + path + ": write failed");
  }

  const std::string& device() const { return device_; }
  void set_device(std::string d) { device_ = std::move(d); }
  /// What the table is valid for (empty: unknown, e.g. a phone's table).
  const table_key& key() const { return key_; }
  void set_key(table_key k) { key_ = std::move(k); }
  /// @throws stale_table naming every field where the table's key differs from `here` (or
  /// saying it has none).
  void require_key(const table_key& here) const {
    const std::string m = key_.mismatch(here);
    if (!m.empty())
      throw stale_table("latency table of device \"" + device_ +
                        "\" is stale for this machine: " + m + " (profile it here again)");
  }
  /// The correction predict() applies (unfitted: none).
  const table_calibration& calibration() const { return cal_; }
  void set_calibration(const table_calibration& c) { cal_ = c; }
  std::size_t size() const { return by_key_.size(); }
  bool contains(const std::string& key) const { return by_key_.count(key) != 0; }
  bool contains(const lut_block& b) const {
    return fast_.count(detail::parsed_key{b.kind, b.fields()}) != 0 || contains(b.key());
  }
  const std::map<std::string, double>& entries() const { return by_key_; }

  /// The latency of block `key`. @throws missing_block naming key and device.
  double at(const std::string& key) const {
    auto it = by_key_.find(key);
    if (it == by_key_.end()) throw missing_block(key, device_);
    return it->second;
  }
  double at(const lut_block& b) const {
    auto it = fast_.find(detail::parsed_key{b.kind, b.fields()});
    if (it != fast_.end()) return it->second;
    return at(b.key());
  }

  /// Sets (or replaces) one block's latency.
  void set(const std::string& key, double ms) {
    by_key_[key] = ms;
    detail::parsed_key k;
    if (detail::parse_key(key, k)) fast_[k] = ms;
  }
  void set(const lut_block& b, double ms) { set(b.key(), ms); }

  /// The sum over the blocks of `a` (lut_blocks) with the calibration applied (none: the plain
  /// sum). @throws missing_block for the first block missing.
  double predict(const space_descriptor& d, const arch& a) const {
    return cal_.fitted ? cal_.apply(sum_by_kind(d, a)) : sum(d, a);
  }
  /// The plain sum over the blocks of `a`.
  double sum(const space_descriptor& d, const arch& a) const {
    double total = 0;
    for (double v : sum_by_kind(d, a)) total += v;
    return total;
  }
  /// The sums of `a`'s blocks per block kind (indexed by block_kind).
  std::array<double, table_calibration::kinds> sum_by_kind(const space_descriptor& d,
                                                           const arch& a) const {
    thread_local std::vector<lut_block> blocks;
    lut_blocks(d, a, blocks);
    std::array<double, table_calibration::kinds> by{};
    for (const lut_block& b : blocks) by[static_cast<std::size_t>(b.kind)] += at(b);
    return by;
  }
  /// The keys of `a`'s blocks that the table lacks.
  std::vector<std::string> missing(const space_descriptor& d, const arch& a) const {
    std::vector<std::string> out;
    for (const lut_block& b : lut_blocks(d, a))
      if (!contains(b)) out.push_back(b.key());
    return out;
  }

 private:
  std::string device_;
  table_key key_;
  table_calibration cal_;
  std::map<std::string, double> by_key_;
  std::unordered_map<detail::parsed_key, double, detail::parsed_key_hash> fast_;
};

/// A latency table as a cost model of space Space (milliseconds). Copies share the table.
/// Validates the subnet (an arch of another space is an error, not a wrong number).
template <class Space = elasticvit::official_space>
class table_latency {
 public:
  using space_type = Space;
  static constexpr bool monotone = false;  // measured block times need not be

  explicit table_latency(std::shared_ptr<const latency_table> t) : t_(std::move(t)) {
    if (!t_) throw invalid_argument("table_latency: null table");
    elasticvit::check_elasticvit_family(Space::descriptor());
  }
  explicit table_latency(latency_table t)
      : table_latency(std::make_shared<const latency_table>(std::move(t))) {}

  double operator()(const arch& a) const {
    Space::validate(a);
    return t_->predict(Space::descriptor(), a);
  }
  const latency_table& table() const { return *t_; }
  const std::string& device() const { return t_->device(); }

 private:
  std::shared_ptr<const latency_table> t_;
};

/// The four phones of data/mobile-lut: pixel1, pixel4, pixel6, xiaomi11.
inline const std::vector<std::string>& phone_devices() {
  static const std::vector<std::string> d = {"pixel1", "pixel4", "pixel6", "xiaomi11"};
  return d;
}

/// The latency predicted for `device` from the table `dir`/`device`.json (any file in the same
/// format adds a device). @throws evit::format_error when the file is missing or malformed.
/// @code
///   auto pixel6 = evit::cost::mobile_latency("data/mobile-lut", "pixel6");
///   double ms = pixel6(evit::elasticvit::released("elastic_M"));   // 25.02
/// @endcode
template <class Space = elasticvit::official_space>
table_latency<Space> mobile_latency(const std::string& dir, const std::string& device) {
  return table_latency<Space>(latency_table::load(dir + "/" + device + ".json", device));
}

/// The folders mobile_latency(device) searches, in order: the environment variable
/// EVIT_MOBILE_LUT_DIR when set, then the folder the compile definition EVIT_MOBILE_LUT_DIR names:
/// CMake's evit::evit sets it to the installed tables (`<prefix>/share/evit/mobile-lut`, wherever
/// the prefix has moved) for find_package users, and to the source tree's data/mobile-lut for
/// evit's own build and add_subdirectory users. Without CMake, define it or set the variable.
inline std::vector<std::string> mobile_lut_dirs() {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("EVIT_MOBILE_LUT_DIR"); env != nullptr && *env != '\0')
    dirs.emplace_back(env);
#ifdef EVIT_MOBILE_LUT_DIR
  dirs.emplace_back(EVIT_MOBILE_LUT_DIR);
#endif
  return dirs;
}

/// The path of `device`'s table: the first mobile_lut_dirs() folder holding `device`.json.
/// @throws evit::invalid_argument naming the device, the folders searched and the devices their
///         tables provide (or phone_devices() when none was found).
inline std::string find_mobile_lut(const std::string& device) {
  namespace fs = std::filesystem;
  const std::vector<std::string> dirs = mobile_lut_dirs();
  std::error_code ec;
  if (!device.empty() && device.find_first_of("/\\") == std::string::npos)
    for (const std::string& d : dirs) {
      const fs::path p = fs::path(d) / (device + ".json");
      if (fs::is_regular_file(p, ec)) return p.string();
    }
  std::vector<std::string> known;
  for (const std::string& d : dirs)
    for (fs::directory_iterator it(d, ec), end; !ec && it != end; it.increment(ec))
      if (it->path().extension() == ".json") known.push_back(it->path().stem().string());
  std::sort(known.begin(), known.end());
  known.erase(std::unique(known.begin(), known.end()), known.end());
  std::string msg = "mobile_latency: no latency table for device \"" + device + "\"; searched ";
  if (dirs.empty()) msg += "no folder";
  for (std::size_t i = 0; i < dirs.size(); ++i) msg += (i ? ", " : "") + dirs[i];
  msg += " (set EVIT_MOBILE_LUT_DIR, or pass the folder: mobile_latency(dir, device)); ";
  msg += known.empty() ? "evit's devices: " : "known devices: ";
  const std::vector<std::string>& list = known.empty() ? phone_devices() : known;
  for (std::size_t i = 0; i < list.size(); ++i) msg += (i ? ", " : "") + list[i];
  throw invalid_argument(msg);
}

/// The latency predicted for `device` from its table in mobile_lut_dirs() (the tables evit
/// installs, or the source tree's). @throws evit::invalid_argument for a device without a table
/// (find_mobile_lut), evit::format_error for a malformed one.
/// @code
///   auto pixel6 = evit::cost::mobile_latency("pixel6");
///   double ms = pixel6(evit::elasticvit::released("elastic_T1"));   // 4.44
/// @endcode
template <class Space = elasticvit::official_space>
table_latency<Space> mobile_latency(const std::string& device) {
  return table_latency<Space>(latency_table::load(find_mobile_lut(device), device));
}

}  // namespace cost
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
