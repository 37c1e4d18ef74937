// SPDX-License-Identifier: MIT
// evit.search: the evolutionary search (with its presets), NSGA-II and random search over any
// space of the module, with objectives and constraints that are evit.CostModel objects or Python
// callables; step-wise search objects with save and resume; results with every evaluated subnet,
// the Pareto front, per-iteration stats and hypervolume.
//
// How threads interact: a search releases the GIL while its C++ code runs. With threads > 1 it
// owns an evit::thread_pool, on which objectives are evaluated in parallel; a C++ model (MACs,
// phone latency) runs truly in parallel, a Python callable takes the GIL for each call (so Python
// code runs one call at a time, in any order; the results, kept by index, do not depend on it).
// Constraints and the progress callback run on the calling thread (the callback with the GIL).
// An exception raised by a Python objective is rethrown from the search as that same Python
// exception, whichever thread raised it (pybind11's error_already_set is safe to move across
// threads without the GIL).
#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <pybind11/stl.h>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <evit/core/error.hpp>
#include <evit/core/executor.hpp>
#include <evit/cost/constraint.hpp>
#include <evit/io/arch_text.hpp>
#include <evit/search/detail/core.hpp>
#include <evit/search/hypervolume.hpp>

#include "common.hpp"
#include "search_engine.hpp"

namespace evit_py {

namespace {

using evit::search::detail::number_from_json;
using evit::search::detail::number_to_json;
using evit::search::detail::numbers_from_json;
using evit::search::detail::numbers_to_json;

std::string type_name(py::handle h) { return py::str(py::type::of(h)).cast<std::string>(); }

const char* sense_name(evit::sense s) {
  return s == evit::sense::maximize ? "maximize" : "minimize";
}

evit::sense sense_from(const std::string& s, const char* who) {
  if (s == "maximize") return evit::sense::maximize;
  if (s == "minimize") return evit::sense::minimize;
  throw evit::invalid_argument(std::string(who) + ": sense \"" + s +
                               "\" is not a sense (allowed: maximize, minimize)");
}

// ---- objectives and constraints as Python values ------------------------------------------------

/// evit.search.Objective: a cost model (or callable, resolved against the search's space) and its
/// sense.
struct py_objective {
  py::object model;
  evit::sense direction = evit::sense::maximize;
  std::string name;
};

/// evit.search.Constraint: lo <= model(arch) <= hi.
struct py_constraint {
  py::object model;
  double lo = 0, hi = 0;
  std::string name;
};

/// The name of a cost model or callable: CostModel.name, else __name__, else "python".
std::string default_name(const py::object& f) {
  if (py::isinstance<py_cost>(f)) return f.cast<const py_cost&>().name;
  if (py::hasattr(f, "__name__")) return py::str(f.attr("__name__")).cast<std::string>();
  return "python";
}

void check_model(const py::object& f, const char* who) {
  if (!py::isinstance<py_cost>(f) && !PyCallable_Check(f.ptr()))
    throw evit::invalid_argument(std::string(who) + ": " + type_name(f) +
                                 " is not an evit.CostModel or a callable f(arch) -> float");
}

/// `f` as a C++ model of space s (who: for the message).
evit::cost::any_cost resolve_model(space_handle s, const py::object& f, const std::string& name,
                                   const std::string& who) {
  check_model(f, who.c_str());
  if (py::isinstance<py_cost>(f)) {
    const py_cost& c = f.cast<const py_cost&>();
    if (c.space >= 0 && c.space != s.index)
      throw evit::invalid_argument(who + ": cost model \"" + c.name + "\" is of space " +
                                   space_handle{c.space}.attribute_name() +
                                   ", the search is over space " + s.attribute_name());
    return c.model;
  }
  return python_cost_model(s, f, false, name).model;
}

py_objective make_objective(py::object f, evit::sense s, std::string name) {
  check_model(f, s == evit::sense::maximize ? "maximize" : "minimize");
  if (name.empty()) name = default_name(f);
  return py_objective{std::move(f), s, std::move(name)};
}

py_constraint make_constraint(py::object f, double lo, double hi, std::string name,
                              const char* who) {
  check_model(f, who);
  if (name.empty()) name = default_name(f);
  // The C++ constraint's own check of the bounds (same message).
  (void)evit::cost::constraint<evit::cost::zero_cost>(evit::cost::zero_cost{}, lo, hi, name);
  return py_constraint{std::move(f), lo, hi, std::move(name)};
}

std::string describe(const py_constraint& c) {
  return evit::cost::constraint<evit::cost::zero_cost>(evit::cost::zero_cost{}, c.lo, c.hi, c.name)
      .describe();
}

/// An objective argument: an Objective, or a CostModel / callable (maximised, as in C++).
engine_objective resolve_objective(space_handle s, const py::object& o, const std::string& who) {
  py_objective p = py::isinstance<py_objective>(o) ? o.cast<py_objective>()
                                                   : make_objective(o, evit::sense::maximize, "");
  return engine_objective{resolve_model(s, p.model, p.name, who), p.direction, p.name};
}

/// A constraints argument: None, a Constraint, or a sequence of them.
std::vector<engine_constraint> resolve_constraints(space_handle s, const py::object& c) {
  std::vector<py::object> items;
  if (c.is_none()) {
  } else if (py::isinstance<py_constraint>(c)) {
    items.push_back(c);
  } else if (py::isinstance<py::list>(c) || py::isinstance<py::tuple>(c)) {
    for (py::handle h : c) items.push_back(py::reinterpret_borrow<py::object>(h));
  } else {
    throw evit::invalid_argument("constraints: " + type_name(c) +
                                 " is not an evit.search.Constraint or a list of them (make "
                                 "them with evit.search.at_most, at_least or within)");
  }
  if (static_cast<int>(items.size()) > max_constraints)
    throw evit::invalid_argument("constraints: " + std::to_string(items.size()) +
                                 " given, at most " + std::to_string(max_constraints) + " allowed");
  std::vector<engine_constraint> out;
  for (const py::object& h : items) {
    if (!py::isinstance<py_constraint>(h))
      throw evit::invalid_argument("constraints: an item is " + type_name(h) +
                                   ", not an evit.search.Constraint");
    const py_constraint& pc = h.cast<const py_constraint&>();
    out.push_back(engine_constraint{resolve_model(s, pc.model, pc.name, "constraint on " + pc.name),
                                    pc.lo, pc.hi, pc.name});
  }
  return out;
}

// ---- results ------------------------------------------------------------------------------------

bool same_number(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }
bool same_numbers(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!same_number(a[i], b[i])) return false;
  return true;
}

/// evit.search.Evaluated: one evaluated subnet of a space.
struct py_evaluated {
  evit::evaluated e;
  space_handle space;
  bool operator==(const py_evaluated& o) const {
    return space == o.space && e.subnet == o.e.subnet && same_numbers(e.values, o.e.values) &&
           same_numbers(e.costs, o.e.costs) && same_number(e.violation, o.e.violation);
  }
};

nlohmann::json record_to_json(const evit::space_descriptor& d, const evit::evaluated& e) {
  return {{"arch", evit::to_string(d, e.subnet)},
          {"values", numbers_to_json(e.values)},
          {"costs", numbers_to_json(e.costs)},
          {"violation", number_to_json(e.violation)}};
}

evit::evaluated record_from_json(const evit::space_descriptor& d, const nlohmann::json& j) {
  evit::evaluated e;
  e.subnet = evit::parse_arch(d, j.at("arch").get<std::string>());
  evit::validate(d, e.subnet);
  e.values = numbers_from_json(j.at("values"));
  e.costs = numbers_from_json(j.at("costs"));
  e.violation = number_from_json(j.at("violation"));
  return e;
}

/// evit.search.SearchResult.
struct py_result {
  std::string algorithm;  // "evolution", "nsga2", "random"
  space_handle space;
  evit::search_result r;
  std::vector<evit::evaluated> records;  // every subnet evaluated
  std::vector<std::string> objective_names;
  std::vector<evit::sense> senses;
  std::vector<std::string> constraints;  // as text
  bool stopped = false;

  bool multi() const { return algorithm == "nsga2"; }

  /// The point of `e` that front() and hypervolume() use, every coordinate minimised: the
  /// objectives (maximised ones negated), and for single-objective searches the constraint costs.
  std::vector<double> point(const evit::evaluated& e) const {
    std::vector<double> p;
    for (std::size_t k = 0; k < senses.size() && k < e.values.size(); ++k)
      p.push_back(senses[k] == evit::sense::maximize ? -e.values[k] : e.values[k]);
    if (!multi())  // (unconstrained: costs holds one 0, not a constraint's cost)
      for (std::size_t i = 0; i < constraints.size() && i < e.costs.size(); ++i)
        p.push_back(e.costs[i]);
    return p;
  }
  std::vector<evit::evaluated> front() const {
    if (multi()) return r.ranked;
    std::vector<const evit::evaluated*> feas;
    std::vector<std::vector<double>> pts;
    for (const auto& e : records)
      if (e.feasible()) {
        feas.push_back(&e);
        pts.push_back(point(e));
      }
    std::vector<std::size_t> idx = evit::pareto_front(pts);
    std::stable_sort(idx.begin(), idx.end(),
                     [&](std::size_t x, std::size_t y) { return pts[x][0] < pts[y][0]; });
    std::vector<evit::evaluated> out;
    for (std::size_t i : idx) out.push_back(*feas[i]);
    return out;
  }
  double hypervolume(const std::vector<double>& ref_own) const {
    const std::size_t dims = senses.size() + (multi() ? 0 : constraints.size());
    if (ref_own.size() != dims)
      throw evit::invalid_argument(
          "hypervolume: ref has " + std::to_string(ref_own.size()) + " values; this result's " +
          "points have " + std::to_string(dims) +
          (multi() ? " (one per objective)" : " (the objective, then each constraint's cost)"));
    std::vector<double> ref = ref_own;
    for (std::size_t k = 0; k < senses.size(); ++k)
      if (senses[k] == evit::sense::maximize) ref[k] = -ref[k];
    std::vector<std::vector<double>> pts;
    for (const auto& e : front()) pts.push_back(point(e));
    return evit::hypervolume(pts, ref);
  }

  nlohmann::json to_json() const {
    const evit::space_descriptor& d = space.descriptor();
    nlohmann::json objs = nlohmann::json::array(), ranked = nlohmann::json::array(),
                   recs = nlohmann::json::array(), hist = nlohmann::json::array();
    for (std::size_t k = 0; k < senses.size(); ++k)
      objs.push_back({{"name", objective_names[k]}, {"sense", sense_name(senses[k])}});
    for (const auto& e : r.ranked) ranked.push_back(record_to_json(d, e));
    for (const auto& e : records) recs.push_back(record_to_json(d, e));
    for (const auto& h : r.history) hist.push_back(h.to_json());
    return {{"format", "evit-search-result"},
            {"version", 1},
            {"algorithm", algorithm},
            {"space", space.attribute_name()},
            {"objectives", std::move(objs)},
            {"constraints", constraints},
            {"status", r.status == evit::search_status::ok ? "ok" : "infeasible"},
            {"message", r.message},
            {"stopped", stopped},
            {"seed", std::to_string(r.seed)},
            {"seconds", r.seconds},
            {"evaluations", r.evaluations},
            {"counters", r.counters.to_json()},
            {"history", std::move(hist)},
            {"ranked", std::move(ranked)},
            {"evaluated", std::move(recs)}};
  }

  static py_result from_json(const std::string& text) {
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) throw evit::parse_error("SearchResult.from_json: not valid JSON");
    try {
      if (!j.is_object() || j.value("format", "") != "evit-search-result")
        throw evit::parse_error("SearchResult.from_json: \"format\" is not \"evit-search-result\"");
      py_result p;
      p.algorithm = j.at("algorithm").get<std::string>();
      if (p.algorithm != "evolution" && p.algorithm != "nsga2" && p.algorithm != "random")
        throw evit::parse_error("SearchResult.from_json: algorithm \"" + p.algorithm +
                                "\" unknown (allowed: evolution, nsga2, random)");
      const std::string sp = j.at("space").get<std::string>();
      bool found = false;
      for (int i = 0; i < num_spaces && !found; ++i)
        if (sp == space_attribute_names[i]) p.space = space_handle{i}, found = true;
      if (!found)
        throw evit::parse_error("SearchResult.from_json: space \"" + sp +
                                "\" is not a space of the module");
      const evit::space_descriptor& d = p.space.descriptor();
      for (const auto& o : j.at("objectives")) {
        p.objective_names.push_back(o.at("name").get<std::string>());
        p.senses.push_back(sense_from(o.at("sense").get<std::string>(), "SearchResult.from_json"));
      }
      p.constraints = j.at("constraints").get<std::vector<std::string>>();
      const std::string status = j.at("status").get<std::string>();
      if (status != "ok" && status != "infeasible")
        throw evit::parse_error("SearchResult.from_json: status \"" + status +
                                "\" unknown (allowed: ok, infeasible)");
      p.r.status = status == "ok" ? evit::search_status::ok : evit::search_status::infeasible;
      p.r.message = j.at("message").get<std::string>();
      p.stopped = j.at("stopped").get<bool>();
      p.r.seed = std::stoull(j.at("seed").get<std::string>());
      p.r.seconds = j.at("seconds").get<double>();
      p.r.evaluations = j.at("evaluations").get<std::uint64_t>();
      p.r.counters = evit::search_counters::from_json(j.at("counters"));
      for (const auto& h : j.at("history"))
        p.r.history.push_back(evit::iteration_stats::from_json(h));
      for (const auto& e : j.at("ranked")) p.r.ranked.push_back(record_from_json(d, e));
      for (const auto& e : j.at("evaluated")) p.records.push_back(record_from_json(d, e));
      return p;
    } catch (const nlohmann::json::exception& e) {
      throw evit::parse_error(std::string("SearchResult.from_json: malformed result (") + e.what() +
                              ")");
    } catch (const std::logic_error& e) {  // std::stoull
      throw evit::parse_error(std::string("SearchResult.from_json: \"seed\" is not a number (") +
                              e.what() + ")");
    }
  }
};

py::list evaluated_list(const std::vector<evit::evaluated>& v, space_handle s) {
  py::list l;
  for (const auto& e : v) l.append(py_evaluated{e, s});
  return l;
}

// ---- step-wise searches -------------------------------------------------------------------------

/// evit.search.SearchProgress: what the progress callback receives.
struct py_progress {
  int iteration = 0, iterations = 0;
  std::uint64_t evaluations = 0, feasible = 0;
  double best_score = 0;
  std::optional<py_arch> best;
  double seconds = 0;
};

/// Forwards the C++ progress reports to the Python callback (when one is set), with the GIL.
struct progress_sink {
  py::object callback;  // null: none (set and cleared with the GIL, never during a step)
  space_handle space;
  bool stop = false;  // the callback returned False
  bool callback_raised = false;

  void report(const evit::search_progress& p) {
    if (!callback) return;
    py::gil_scoped_acquire gil;
    py_progress q;
    q.iteration = p.iteration;
    q.iterations = p.iterations;
    q.evaluations = p.evaluations;
    q.feasible = p.feasible;
    q.best_score = p.best_score;
    if (p.best != nullptr) q.best = py_arch{*p.best, space};
    q.seconds = p.seconds;
    try {
      py::object r = callback(q);
      if (r.ptr() == Py_False) stop = true;
    } catch (...) {
      callback_raised = true;  // the search itself is intact: the step had finished
      throw;
    }
  }
};

/// evit.search.Evolution and evit.search.NSGA2.
class py_search {
 public:
  std::string algorithm;  // "evolution" or "nsga2"
  space_handle space;
  std::vector<std::string> objective_names;
  std::vector<evit::sense> senses;
  std::shared_ptr<progress_sink> sink = std::make_shared<progress_sink>();
  std::unique_ptr<search_engine> engine;
  std::unique_ptr<evit::thread_pool> pool;
  evit::sequential_executor seq;
  std::mutex busy;
  bool broken = false;   // an objective raised mid-step: the state is incomplete
  bool stopped = false;  // the last run() was stopped by its progress callback

  void set_threads(int threads) {
    if (threads < 1 || threads > 1024)
      throw evit::invalid_argument("threads: " + std::to_string(threads) +
                                   " is not a thread count (allowed: 1 to 1024)");
    if (threads > 1) pool = std::make_unique<evit::thread_pool>(threads);
  }
  evit::executor_ref exec() {
    if (pool) return evit::executor_ref(*pool);
    return evit::executor_ref(seq);
  }
  std::string who() const { return algorithm == "nsga2" ? "NSGA2" : "Evolution"; }
  void check_usable() const {
    if (broken)
      throw evit::invalid_argument(
          who() +
          ": an exception stopped the search in the middle of a step, so its "
          "state is incomplete; restore() a saved state to go on");
  }

  /// One step with the GIL released; the callback (if any) receives this step's report.
  bool step(const py::object& progress) {
    std::unique_lock<std::mutex> lock(busy, std::try_to_lock);
    if (!lock.owns_lock())
      throw evit::invalid_argument(who() + ": the search is already running in another thread");
    return step_locked(progress);
  }

  bool step_locked(const py::object& progress) {
    check_usable();
    sink->callback = progress.is_none() ? py::object() : progress;
    sink->stop = false;
    sink->callback_raised = false;
    bool more = false;
    try {
      py::gil_scoped_release nogil;
      more = engine->step(exec());
    } catch (...) {
      sink->callback = py::object();
      if (!sink->callback_raised) broken = true;
      throw;
    }
    sink->callback = py::object();
    return more;
  }

  py_result run(const py::object& progress) {
    std::unique_lock<std::mutex> lock(busy, std::try_to_lock);
    if (!lock.owns_lock())
      throw evit::invalid_argument(who() + ": the search is already running in another thread");
    check_usable();
    stopped = false;
    while (!engine->done()) {
      step_locked(progress);
      if (sink->stop) {
        stopped = !engine->done();
        break;
      }
      // Ctrl-C between iterations.
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    }
    return result();
  }

  py_result result() const {
    check_usable();
    py_result r;
    r.algorithm = algorithm;
    r.space = space;
    r.r = engine->result();
    r.records = engine->records();
    r.objective_names = objective_names;
    r.senses = senses;
    r.constraints = engine->constraint_descriptions();
    r.stopped = stopped;
    return r;
  }

  std::string state() const {
    check_usable();
    return engine->state().dump();
  }
  void restore(const std::string& text) {
    std::unique_lock<std::mutex> lock(busy, std::try_to_lock);
    if (!lock.owns_lock())
      throw evit::invalid_argument(who() + ": the search is already running in another thread");
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) throw evit::parse_error(who() + ".restore: the state is not JSON");
    broken = true;  // until the restore succeeds
    engine->restore(j);
    broken = false;
    stopped = false;
  }
  void save(const std::string& path) const {
    const std::string s = state();
    std::ofstream f(path);
    if (!f) throw evit::invalid_argument(who() + ".save: path \"" + path + "\" cannot be written");
    f << s << "\n";
    if (!f) throw evit::format_error(who() + ".save: writing " + path + " failed");
  }
  void load(const std::string& path) {
    std::ifstream f(path);
    if (!f) throw evit::parse_error(who() + ".load: cannot open " + path);
    std::stringstream ss;
    ss << f.rdbuf();
    restore(ss.str());
  }
};

/// The two Python classes need two C++ types.
struct py_evolution : py_search {};
struct py_nsga2 : py_search {};

void attach_progress(py_search& s, evit::evolution_options& o) {
  std::shared_ptr<progress_sink> sink = s.sink;
  o.on_progress([sink](const evit::search_progress& p) { sink->report(p); });
}
void attach_progress(py_search& s, evit::nsga2_options& o) {
  std::shared_ptr<progress_sink> sink = s.sink;
  o.on_progress([sink](const evit::search_progress& p) { sink->report(p); });
}

evit::evolution_options evolution_options_arg(const py::object& o) {
  if (o.is_none()) return evit::presets::elasticvit_search();
  if (py::isinstance<py::str>(o)) return evit::presets::by_name(o.cast<std::string>());
  if (py::isinstance<evit::evolution_options>(o)) return o.cast<evit::evolution_options>();
  throw evit::invalid_argument("options: " + type_name(o) +
                               " is not an evit.search.EvolutionOptions or a preset name "
                               "(allowed: elasticvit, autoformer, ofa, hat)");
}

std::unique_ptr<py_evolution> make_evolution(space_handle s, const py::object& objective,
                                             const py::object& constraints,
                                             const py::object& options, std::uint64_t seed,
                                             int threads) {
  auto p = std::make_unique<py_evolution>();
  p->algorithm = "evolution";
  p->space = s;
  p->sink->space = s;
  p->set_threads(threads);
  engine_objective o = resolve_objective(s, objective, "objective");
  p->objective_names = {o.name};
  p->senses = {o.direction};
  evit::evolution_options opts = evolution_options_arg(options);
  attach_progress(*p, opts);
  p->engine =
      make_evolution_engine(s, o, resolve_constraints(s, constraints), std::move(opts), seed);
  return p;
}

std::unique_ptr<py_nsga2> make_nsga2(space_handle s, const py::object& objectives,
                                     const py::object& constraints, const py::object& options,
                                     std::uint64_t seed, int threads) {
  auto p = std::make_unique<py_nsga2>();
  p->algorithm = "nsga2";
  p->space = s;
  p->sink->space = s;
  p->set_threads(threads);
  if (!py::isinstance<py::list>(objectives) && !py::isinstance<py::tuple>(objectives))
    throw evit::invalid_argument("objectives: " + type_name(objectives) +
                                 " is not a list of objectives (evit.search.maximize(f), "
                                 "minimize(f), cost models or callables)");
  std::vector<engine_objective> os;
  for (py::handle h : objectives)
    os.push_back(resolve_objective(s, py::reinterpret_borrow<py::object>(h),
                                   "objective " + std::to_string(os.size())));
  if (os.empty() || static_cast<int>(os.size()) > max_objectives)
    throw evit::invalid_argument("objectives: " + std::to_string(os.size()) + " given, 1 to " +
                                 std::to_string(max_objectives) + " allowed");
  for (const auto& o : os) {
    p->objective_names.push_back(o.name);
    p->senses.push_back(o.direction);
  }
  evit::nsga2_options opts;
  if (py::isinstance<evit::nsga2_options>(options))
    opts = options.cast<evit::nsga2_options>();
  else if (!options.is_none())
    throw evit::invalid_argument("options: " + type_name(options) +
                                 " is not an evit.search.NSGA2Options");
  attach_progress(*p, opts);
  p->engine = make_nsga2_engine(s, os, resolve_constraints(s, constraints), std::move(opts), seed);
  return p;
}

py_result run_random(space_handle s, const py::object& objective, const py::object& constraints,
                     const py::object& options, std::uint64_t seed, int threads) {
  evit::random_options opts;
  if (py::isinstance<evit::random_options>(options))
    opts = options.cast<evit::random_options>();
  else if (!options.is_none())
    throw evit::invalid_argument("options: " + type_name(options) +
                                 " is not an evit.search.RandomOptions");
  const int keep = opts.keep();
  if (opts.evaluations() < 1 || opts.attempts() < 1 || opts.keep() < 1)
    throw evit::invalid_argument("random_options: evaluations, attempts and keep must be >= 1");
  // Keep every evaluated subnet (random search records only feasible ones), then cut `ranked`.
  opts.keep(std::max(keep, opts.evaluations()));
  py_search holder;  // for the thread pool
  holder.set_threads(threads);
  engine_objective o = resolve_objective(s, objective, "objective");
  std::vector<engine_constraint> cs = resolve_constraints(s, constraints);
  py_result r;
  r.algorithm = "random";
  r.space = s;
  r.objective_names = {o.name};
  r.senses = {o.direction};
  {
    py::gil_scoped_release nogil;
    r.r = run_random_search(s, o, cs, opts, seed, holder.exec(), r.constraints);
  }
  r.records = r.r.ranked;
  if (static_cast<int>(r.r.ranked.size()) > keep) r.r.ranked.resize(static_cast<std::size_t>(keep));
  return r;
}

// ---- options ------------------------------------------------------------------------------------

/// Applies keyword arguments as attribute assignments on a copy of `o` (unknown names: error).
template <class O>
O with_overrides(O o, const py::kwargs& kw, const char* cls) {
  if (kw.empty()) return o;
  py::object obj = py::cast(o);
  for (auto item : kw) {
    const std::string key = py::str(item.first).cast<std::string>();
    if (key.empty() || key[0] == '_' || !py::hasattr(obj, key.c_str()) ||
        py::isinstance<py::function>(obj.attr(key.c_str())) ||
        PyCallable_Check(obj.attr(key.c_str()).ptr()))
      throw evit::invalid_argument(std::string(cls) + ": \"" + key + "\" is not an option");
    obj.attr(key.c_str()) = item.second;
  }
  return obj.cast<O>();
}

nlohmann::json parse_json(const std::string& text, const char* who) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw evit::parse_error(std::string(who) + ": not valid JSON");
  return j;
}

template <class O>
O options_from_json(const std::string& text, const char* who) {
  try {
    return O::from_json(parse_json(text, who));
  } catch (const nlohmann::json::exception& e) {
    throw evit::parse_error(std::string(who) + ": malformed options (" + e.what() + ")");
  }
}

void bind_options(py::module_& s) {
  using E = evit::evolution_options;
  py::class_<E>(s, "EvolutionOptions",
                "Options of the evolutionary search (evit::evolution_options): population, "
                "parents (top-k kept), mutations and crossovers per iteration, iterations, "
                "refill, mutation probabilities, depth_mode, attempts, repair. Presets: "
                "EvolutionOptions.preset(\"elasticvit\" | \"autoformer\" | \"ofa\" | \"hat\").")
      .def(py::init([](const py::object& preset, const py::kwargs& kw) {
             E o = preset.is_none() ? E() : evit::presets::by_name(preset.cast<std::string>());
             o = with_overrides(std::move(o), kw, "EvolutionOptions");
             o.check();
             return o;
           }),
           py::arg("preset") = py::none(),
           "Options from a preset name (default: evit::evolution_options' defaults, which are "
           "ElasticViT's numbers), with any option overridden by keyword, e.g. "
           "EvolutionOptions(\"autoformer\", iterations=5). Raises evit.InvalidArgument with "
           "the C++ message for a bad value.")
      .def_static("preset", &evit::presets::by_name, py::arg("name"),
                  "A published system's settings: \"elasticvit\", \"autoformer\", \"ofa\" or "
                  "\"hat\" (evit.InvalidArgument otherwise, listing them).")
      .def_property(
          "name", [](const E& o) { return o.name(); }, [](E& o, std::string v) { o.name(v); },
          "Preset name, for reports.")
      .def_property(
          "population", [](const E& o) { return o.population(); },
          [](E& o, int v) { o.population(v); }, "Size of the initial population.")
      .def_property(
          "parents", [](const E& o) { return o.parents(); }, [](E& o, int v) { o.parents(v); },
          "Parents kept: the top-k of everything evaluated.")
      .def_property(
          "mutations", [](const E& o) { return o.mutations(); },
          [](E& o, int v) { o.mutations(v); }, "Mutated children per iteration.")
      .def_property(
          "crossovers", [](const E& o) { return o.crossovers(); },
          [](E& o, int v) { o.crossovers(v); }, "Crossover children per iteration.")
      .def_property(
          "iterations", [](const E& o) { return o.iterations(); },
          [](E& o, int v) { o.iterations(v); }, "Iterations after the initial population.")
      .def_property(
          "refill", [](const E& o) { return o.refill(); }, [](E& o, bool v) { o.refill(v); },
          "Add random subnets so that parents + children reach the population (AutoFormer).")
      .def_property(
          "mutation_prob", [](const E& o) { return o.mutation().mutation_prob; },
          [](E& o, double v) { o.mutation_prob(v); }, "Mutation probability per dimension.")
      .def_property(
          "depth_prob", [](const E& o) { return o.mutation().depth_prob; },
          [](E& o, double v) { o.depth_prob(v); }, "Probability of redrawing depths.")
      .def_property(
          "resolution_prob", [](const E& o) { return o.mutation().resolution_prob; },
          [](E& o, double v) { o.resolution_prob(v); }, "Probability of redrawing the resolution.")
      .def_property(
          "random_choice_prob", [](const E& o) { return o.mutation().random_choice_prob; },
          [](E& o, double v) { o.random_choice_prob(v); },
          "A mutated dimension takes a uniform choice with this probability, else its minimum.")
      .def_property(
          "depth_mode",
          [](const E& o) {
            return std::string(o.mutation().depth_mode == evit::depth_mutation::together
                                   ? "together"
                                   : "per_stage");
          },
          [](E& o, const std::string& v) {
            if (v == "together")
              o.depth_mode(evit::depth_mutation::together);
            else if (v == "per_stage")
              o.depth_mode(evit::depth_mutation::per_stage);
            else
              throw evit::invalid_argument("EvolutionOptions.depth_mode: \"" + v +
                                           "\" is not a depth mode (allowed: together, "
                                           "per_stage)");
          },
          "\"together\" (every stage's depth redrawn at once) or \"per_stage\".")
      .def_property(
          "attempts", [](const E& o) { return o.attempts(); }, [](E& o, int v) { o.attempts(v); },
          "Attempts per wanted child before giving up on it.")
      .def_property(
          "repair", [](const E& o) { return o.repair(); }, [](E& o, bool v) { o.repair(v); },
          "Repair children that break the constraint (else reject them).")
      .def_property_readonly("max_evaluations", &E::max_evaluations,
                             "Evaluations at most: population + iterations * children.")
      .def("check", &E::check, "Raises evit.InvalidArgument naming a bad option.")
      .def(
          "to_json", [](const E& o) { return o.to_json().dump(); }, "The options as a JSON string.")
      .def_static(
          "from_json",
          [](const std::string& t) {
            return options_from_json<E>(t, "EvolutionOptions.from_json");
          },
          py::arg("text"), "Options from to_json()'s text (evit.ParseError when malformed).")
      .def("__eq__", [](const E& a, const E& b) { return a.to_json() == b.to_json(); })
      .def(py::pickle(
          [](const E& o) { return o.to_json().dump(); },
          [](const std::string& t) { return options_from_json<E>(t, "EvolutionOptions pickle"); }))
      .def("__repr__", [](const E& o) {
        return "evit.search.EvolutionOptions.from_json('" + o.to_json().dump() + "')";
      });

  using N = evit::nsga2_options;
  py::class_<N>(s, "NSGA2Options",
                "Options of NSGA-II (evit::nsga2_options): population, generations, "
                "crossover_prob, mutation probabilities, attempts, repair.")
      .def(py::init([](const py::kwargs& kw) {
             N o = with_overrides(N(), kw, "NSGA2Options");
             o.check();
             return o;
           }),
           "Default options (population 100, 50 generations) with any overridden by keyword, "
           "e.g. NSGA2Options(population=20, generations=5).")
      .def_property(
          "population", [](const N& o) { return o.population(); },
          [](N& o, int v) { o.population(v); }, "Population size (>= 2).")
      .def_property(
          "generations", [](const N& o) { return o.generations(); },
          [](N& o, int v) { o.generations(v); }, "Generations after the initial population.")
      .def_property(
          "crossover_prob", [](const N& o) { return o.crossover_prob(); },
          [](N& o, double v) { o.crossover_prob(v); },
          "Probability that a child is a crossover (else a copy of its first parent).")
      .def_property(
          "mutation_prob", [](const N& o) { return o.mutation().mutation_prob; },
          [](N& o, double v) { o.mutation_prob(v); }, "Mutation probability per dimension.")
      .def_property(
          "depth_prob", [](const N& o) { return o.mutation().depth_prob; },
          [](N& o, double v) { o.depth_prob(v); }, "Probability of redrawing a stage's depth.")
      .def_property(
          "resolution_prob", [](const N& o) { return o.mutation().resolution_prob; },
          [](N& o, double v) { o.resolution_prob(v); }, "Probability of redrawing the resolution.")
      .def_property(
          "random_choice_prob", [](const N& o) { return o.mutation().random_choice_prob; },
          [](N& o, double v) { o.random_choice_prob(v); },
          "A mutated dimension takes a uniform choice with this probability, else its minimum.")
      .def_property(
          "attempts", [](const N& o) { return o.attempts(); }, [](N& o, int v) { o.attempts(v); },
          "Attempts per wanted child.")
      .def_property(
          "repair", [](const N& o) { return o.repair(); }, [](N& o, bool v) { o.repair(v); },
          "Repair children toward the constraint (kept even when still infeasible).")
      .def_property_readonly("max_evaluations", &N::max_evaluations,
                             "Evaluations at most: population * (1 + generations).")
      .def("check", &N::check, "Raises evit.InvalidArgument naming a bad option.")
      .def(
          "to_json", [](const N& o) { return o.to_json().dump(); }, "The options as a JSON string.")
      .def_static(
          "from_json",
          [](const std::string& t) { return options_from_json<N>(t, "NSGA2Options.from_json"); },
          py::arg("text"), "Options from to_json()'s text (evit.ParseError when malformed).")
      .def("__eq__", [](const N& a, const N& b) { return a.to_json() == b.to_json(); })
      .def(py::pickle(
          [](const N& o) { return o.to_json().dump(); },
          [](const std::string& t) { return options_from_json<N>(t, "NSGA2Options pickle"); }))
      .def("__repr__", [](const N& o) {
        return "evit.search.NSGA2Options.from_json('" + o.to_json().dump() + "')";
      });

  using R = evit::random_options;
  py::class_<R>(s, "RandomOptions",
                "Options of random search: evaluations (distinct subnets), attempts (draws per "
                "wanted subnet), repair, keep (how many of the best SearchResult.ranked holds).")
      .def(py::init([](const py::kwargs& kw) { return with_overrides(R(), kw, "RandomOptions"); }),
           "Default options (1000 evaluations, keep 100) with any overridden by keyword.")
      .def_property(
          "evaluations", [](const R& o) { return o.evaluations(); },
          [](R& o, int v) { o.evaluations(v); }, "Distinct subnets evaluated.")
      .def_property(
          "attempts", [](const R& o) { return o.attempts(); }, [](R& o, int v) { o.attempts(v); },
          "Draws per wanted subnet before giving up.")
      .def_property(
          "repair", [](const R& o) { return o.repair(); }, [](R& o, bool v) { o.repair(v); },
          "Repair draws toward the constraint.")
      .def_property(
          "keep", [](const R& o) { return o.keep(); }, [](R& o, int v) { o.keep(v); },
          "How many of the best the result ranks.")
      .def(py::pickle(
          [](const R& o) {
            return py::make_tuple(o.evaluations(), o.attempts(), o.repair(), o.keep());
          },
          [](const py::tuple& t) {
            if (t.size() != 4)
              throw evit::format_error("RandomOptions pickle: 4 values expected, got " +
                                       std::to_string(t.size()));
            return R()
                .evaluations(t[0].cast<int>())
                .attempts(t[1].cast<int>())
                .repair(t[2].cast<bool>())
                .keep(t[3].cast<int>());
          }));
}

// ---- the module ---------------------------------------------------------------------------------

constexpr const char* threads_doc =
    " How threads interact: the search releases the GIL while it runs; with threads > 1 "
    "objectives are evaluated on a pool of that many threads (the calling one included): C++ "
    "cost models in parallel, Python callables one call at a time, each taking the GIL. "
    "Constraints and the progress callback run on the calling thread. The result for a seed is "
    "the same whatever `threads`. An exception raised by a Python objective or callback "
    "propagates as itself.";

/// The methods Evolution and NSGA2 share.
template <class T>
void bind_search_methods(py::class_<T>& c) {
  c.def("step", &T::step, py::arg("progress") = py::none(),
        "Builds the initial population or runs one iteration; False when the search is done. "
        "progress(evit.search.SearchProgress) is called once, at the end of the step.")
      .def("run", &T::run, py::arg("progress") = py::none(),
           "Runs to the end and returns the result. progress(SearchProgress) is called after "
           "the initial population and after every iteration; returning False stops the search "
           "there (result().stopped is then True; run() again to go on). Ctrl-C stops it "
           "between iterations.")
      .def("result", &T::result, "The result so far.")
      .def_property_readonly(
          "iteration", [](const T& p) { return p.engine->iteration(); },
          "-1 before the initial population, 0 after it, k after k iterations.")
      .def_property_readonly(
          "iterations", [](const T& p) { return p.engine->iterations(); },
          "Iterations (generations) planned.")
      .def_property_readonly(
          "done", [](const T& p) { return p.engine->done(); },
          "Whether the search has finished (or found its constraints infeasible).")
      .def_property_readonly(
          "space", [](const T& p) { return p.space; }, "The space searched.")
      .def_property_readonly(
          "threads", [](const T& p) { return p.pool ? p.pool->num_threads() : 1; },
          "Threads evaluating objectives (the calling one included).")
      .def_property_readonly(
          "options",
          [](const T& p) -> py::object {
            if constexpr (std::is_same_v<T, py_evolution>)
              return py::cast(evit::evolution_options::from_json(p.engine->options()));
            else
              return py::cast(evit::nsga2_options::from_json(p.engine->options()));
          },
          "The options (a copy; after restore(): the state's).")
      .def("state", &T::state,
           "The whole state (options, every evaluation, the random engine) as a JSON string.")
      .def("restore", &T::restore, py::arg("state"),
           "Resumes from state()'s text (same space, objectives and constraints). Raises "
           "evit.ParseError for a state of another algorithm, space or shape.")
      .def("save", &T::save, py::arg("path"), "Writes state() to a file.")
      .def("load", &T::load, py::arg("path"), "restore() from a file save() wrote.");
}

}  // namespace

void bind_search(py::module_& m) {
  py::module_ s = m.def_submodule(
      "search",
      "Searches over the spaces: evolutionary (ElasticViT's, with AutoFormer's, OFA's and HAT's "
      "settings as presets), NSGA-II and random, with objectives and constraints that are "
      "evit.CostModel objects or Python callables f(arch) -> float.");
  s.doc() = std::string(py::str(s.doc())) + threads_doc;

  py::class_<py_objective>(s, "Objective",
                           "An objective: a cost model or callable and its sense (make one with "
                           "evit.search.maximize(f) or minimize(f)).")
      .def_readonly("model", &py_objective::model, "The evit.CostModel or callable.")
      .def_property_readonly(
          "sense", [](const py_objective& o) { return std::string(sense_name(o.direction)); },
          "\"maximize\" or \"minimize\".")
      .def_readonly("name", &py_objective::name, "Its name, for reports.")
      .def("__repr__", [](const py_objective& o) {
        return "<evit.search.Objective " + std::string(sense_name(o.direction)) + " " + o.name +
               ">";
      });
  s.def(
      "maximize",
      [](py::object f, std::string name) {
        return make_objective(std::move(f), evit::sense::maximize, std::move(name));
      },
      py::arg("f"), py::arg("name") = "",
      "Make f(arch) as large as possible. f: an evit.CostModel, or a Python callable "
      "f(arch) -> float (e.g. top-1 on your validation loader), resolved against the "
      "search's space. name: default the model's name or the callable's __name__.");
  s.def(
      "minimize",
      [](py::object f, std::string name) {
        return make_objective(std::move(f), evit::sense::minimize, std::move(name));
      },
      py::arg("f"), py::arg("name") = "", "Make f(arch) as small as possible (see maximize).");

  py::class_<py_constraint>(s, "Constraint",
                            "A constraint lo <= f(arch) <= hi on a cost model or callable (make "
                            "one with evit.search.at_most, at_least or within).")
      .def_readonly("model", &py_constraint::model, "The evit.CostModel or callable.")
      .def_readonly("lo", &py_constraint::lo, "The lower bound (-inf: none).")
      .def_readonly("hi", &py_constraint::hi, "The upper bound (inf: none).")
      .def_readonly("name", &py_constraint::name, "Its name, for reports.")
      .def("describe", &describe, "As text: \"latency@pixel6 <= 10\".")
      .def("__repr__",
           [](const py_constraint& c) { return "<evit.search.Constraint " + describe(c) + ">"; });
  s.def(
      "at_most",
      [](py::object f, double hi, std::string name) {
        return make_constraint(std::move(f), -std::numeric_limits<double>::infinity(), hi,
                               std::move(name), "at_most");
      },
      py::arg("f"), py::arg("hi"), py::arg("name") = "",
      "f(arch) <= hi (a budget). f: an evit.CostModel or a callable f(arch) -> float; a "
      "monotone CostModel lets the search decide feasibility up front and repair faster.");
  s.def(
      "at_least",
      [](py::object f, double lo, std::string name) {
        return make_constraint(std::move(f), lo, std::numeric_limits<double>::infinity(),
                               std::move(name), "at_least");
      },
      py::arg("f"), py::arg("lo"), py::arg("name") = "", "f(arch) >= lo.");
  s.def(
      "within",
      [](py::object f, double lo, double hi, std::string name) {
        return make_constraint(std::move(f), lo, hi, std::move(name), "within");
      },
      py::arg("f"), py::arg("lo"), py::arg("hi"), py::arg("name") = "",
      "lo <= f(arch) <= hi (ElasticViT's FLOPs window). evit.InvalidArgument when lo > hi.");

  bind_options(s);
  s.def(
      "presets",
      [] {
        return std::vector<std::string>{"elasticvit", "autoformer", "ofa", "hat"};
      },
      "The names of the evolutionary search's presets.");

  py::class_<py_evaluated>(s, "Evaluated",
                           "One evaluated subnet: arch, objective values, constraint costs and "
                           "violation (0: satisfies every constraint).")
      .def_property_readonly(
          "arch",
          [](const py_evaluated& e) {
            return py_arch{e.e.subnet, e.space};
          },
          "The subnet (an evit.Arch).")
      .def_property_readonly(
          "values", [](const py_evaluated& e) { return e.e.values; },
          "Objective values, in objective order (NaN: not evaluated, the subnet breaks the "
          "constraints; NSGA-II keeps such subnets).")
      .def_property_readonly(
          "value", [](const py_evaluated& e) { return e.e.value(); },
          "The first objective's value.")
      .def_property_readonly(
          "costs", [](const py_evaluated& e) { return e.e.costs; },
          "Constraint costs, in constraint order (unconstrained: one 0).")
      .def_property_readonly(
          "violation", [](const py_evaluated& e) { return e.e.violation; },
          "0 when feasible, else the distance to the allowed range relative to the bound.")
      .def_property_readonly(
          "feasible", [](const py_evaluated& e) { return e.e.feasible(); },
          "Whether it satisfies every constraint.")
      .def("__eq__", [](const py_evaluated& a, const py_evaluated& b) { return a == b; })
      .def("__repr__", [](const py_evaluated& e) {
        std::ostringstream os;
        os.precision(8);
        os << "<evit.search.Evaluated " << evit::to_string(e.space.descriptor(), e.e.subnet)
           << " values=[";
        for (std::size_t i = 0; i < e.e.values.size(); ++i) os << (i ? ", " : "") << e.e.values[i];
        os << "] costs=[";
        for (std::size_t i = 0; i < e.e.costs.size(); ++i) os << (i ? ", " : "") << e.e.costs[i];
        os << "]" << (e.e.feasible() ? "" : " infeasible") << ">";
        return os.str();
      });

  py::class_<evit::iteration_stats>(s, "IterationStats",
                                    "One line of a search's history (iteration 0: the initial "
                                    "population).")
      .def_readonly("iteration", &evit::iteration_stats::iteration, "0: the initial population.")
      .def_readonly("evaluations", &evit::iteration_stats::evaluations,
                    "Distinct subnets evaluated so far.")
      .def_readonly("new_subnets", &evit::iteration_stats::new_subnets,
                    "Evaluated in this iteration.")
      .def_readonly("best", &evit::iteration_stats::best,
                    "Best first-objective value so far (in its own sense).")
      .def_readonly("parents_mean", &evit::iteration_stats::parents_mean,
                    "Evolution: the first objective's mean over the parents; NSGA-II: the "
                    "number of feasible first-front members of the population.")
      .def("__eq__", [](const evit::iteration_stats& a,
                        const evit::iteration_stats& b) { return a.to_json() == b.to_json(); })
      .def("__repr__", [](const evit::iteration_stats& h) {
        return "<evit.search.IterationStats " + h.to_json().dump() + ">";
      });

  py::class_<evit::search_counters>(s, "SearchCounters", "Counts of what a search did.")
      .def_readonly("proposed", &evit::search_counters::proposed,
                    "Children and random subnets made.")
      .def_readonly("duplicates", &evit::search_counters::duplicates,
                    "Of which were already evaluated.")
      .def_readonly("repairs", &evit::search_counters::repairs, "Repair attempts.")
      .def_readonly("repaired", &evit::search_counters::repaired, "Of which succeeded.")
      .def_readonly("rejected", &evit::search_counters::rejected,
                    "Broke the constraints and were dropped.")
      .def_readonly("gave_up", &evit::search_counters::gave_up,
                    "Wanted children not made within the attempts.")
      .def(
          "to_dict",
          [](const evit::search_counters& c) {
            py::dict d;
            const nlohmann::json j = c.to_json();
            for (auto it = j.begin(); it != j.end(); ++it)
              d[py::str(it.key())] = it.value().get<std::uint64_t>();
            return d;
          },
          "The counters as a dict.")
      .def("__eq__", [](const evit::search_counters& a,
                        const evit::search_counters& b) { return a.to_json() == b.to_json(); })
      .def("__repr__", [](const evit::search_counters& c) {
        return "<evit.search.SearchCounters " + c.to_json().dump() + ">";
      });

  py::class_<py_progress>(s, "SearchProgress",
                          "What the progress callback receives after the initial population "
                          "and after every iteration.")
      .def_readonly("iteration", &py_progress::iteration, "0: the initial population.")
      .def_readonly("iterations", &py_progress::iterations, "Total planned.")
      .def_readonly("evaluations", &py_progress::evaluations, "Distinct subnets evaluated.")
      .def_readonly("feasible", &py_progress::feasible, "Of which satisfy the constraints.")
      .def_readonly("best_score", &py_progress::best_score,
                    "Best first-objective value so far (in its own sense).")
      .def_readonly("best", &py_progress::best,
                    "The best subnet so far (evolution; None for NSGA-II or before any).")
      .def_readonly("seconds", &py_progress::seconds, "Since the search started.")
      .def("__repr__", [](const py_progress& p) {
        return "<evit.search.SearchProgress iteration " + std::to_string(p.iteration) + "/" +
               std::to_string(p.iterations) + ", " + std::to_string(p.evaluations) +
               " evaluations>";
      });

  py::class_<py_result>(s, "SearchResult",
                        "The outcome of a search: ranked subnets (evolution, random: best "
                        "first; NSGA-II: the Pareto front by the first objective), every "
                        "evaluated subnet, history, counters.")
      .def_readonly("algorithm", &py_result::algorithm, "\"evolution\", \"nsga2\" or \"random\".")
      .def_readonly("space", &py_result::space, "The space searched.")
      .def_property_readonly(
          "ok", [](const py_result& r) { return r.r.ok(); },
          "Whether the search found a subnet satisfying the constraints.")
      .def_property_readonly(
          "status",
          [](const py_result& r) {
            return std::string(r.r.status == evit::search_status::ok ? "ok" : "infeasible");
          },
          "\"ok\" or \"infeasible\".")
      .def_property_readonly(
          "message", [](const py_result& r) { return r.r.message; },
          "Why it is infeasible (\"\" when ok).")
      .def_property_readonly(
          "best",
          [](const py_result& r) {
            return py_evaluated{r.r.best(), r.space};
          },
          "The best subnet (NSGA-II: the front's best in the first objective). Raises "
          "evit.Infeasible with the message when none satisfies the constraints.")
      .def_property_readonly(
          "ranked", [](const py_result& r) { return evaluated_list(r.r.ranked, r.space); },
          "Evolution: the final parents, best first; random: the best `keep`; NSGA-II: the "
          "Pareto front of every feasible subnet evaluated, best first in the first objective.")
      .def_property_readonly(
          "evaluated", [](const py_result& r) { return evaluated_list(r.records, r.space); },
          "Every subnet evaluated, each once (evolution, NSGA-II: in evaluation order; random: "
          "best first).")
      .def(
          "front", [](const py_result& r) { return evaluated_list(r.front(), r.space); },
          "The Pareto front: NSGA-II's (= ranked); for evolution and random the non-dominated "
          "feasible subnets evaluated in (objective, each constraint's cost minimised), best "
          "objective first.")
      .def("hypervolume", &py_result::hypervolume, py::arg("ref"),
           "The hypervolume front() dominates up to the reference point `ref`, given in the "
           "objectives' own units (a maximised objective's reference lies below the front, a "
           "minimised one's above), one value per objective (NSGA-II) or the objective then each "
           "constraint's cost (evolution, random).")
      .def_property_readonly(
          "history", [](const py_result& r) { return r.r.history; },
          "Per-iteration stats (evit.search.IterationStats), the initial population first.")
      .def_property_readonly(
          "counters", [](const py_result& r) { return r.r.counters; },
          "evit.search.SearchCounters.")
      .def_property_readonly(
          "evaluations", [](const py_result& r) { return r.r.evaluations; },
          "Distinct subnets evaluated.")
      .def_property_readonly(
          "seed", [](const py_result& r) { return r.r.seed; }, "The seed.")
      .def_property_readonly(
          "seconds", [](const py_result& r) { return r.r.seconds; }, "Wall time of the search.")
      .def_readonly("objective_names", &py_result::objective_names, "The objectives' names.")
      .def_property_readonly(
          "senses",
          [](const py_result& r) {
            std::vector<std::string> v;
            for (auto x : r.senses) v.emplace_back(sense_name(x));
            return v;
          },
          "Each objective's sense: \"maximize\" or \"minimize\".")
      .def_readonly("constraints", &py_result::constraints,
                    "The constraints as text (empty: unconstrained).")
      .def_readonly("stopped", &py_result::stopped,
                    "Whether the progress callback stopped the search early.")
      .def(
          "to_json", [](const py_result& r) { return r.to_json().dump(); },
          "The whole result (ranked, evaluated, history, counters) as a JSON string.")
      .def_static("from_json", &py_result::from_json, py::arg("text"),
                  "A result from to_json()'s text (evit.ParseError when malformed).")
      .def(py::pickle([](const py_result& r) { return r.to_json().dump(); },
                      [](const std::string& t) { return py_result::from_json(t); }))
      .def("__repr__", [](const py_result& r) {
        return "<evit.search.SearchResult " + r.algorithm + " over " + r.space.attribute_name() +
               ": " + (r.r.ok() ? "ok" : "infeasible") + ", " + std::to_string(r.r.evaluations) +
               " evaluations>";
      });

  const std::string evo_doc =
      std::string(
          "A step-wise evolutionary search (evit::evolution): step(), run(), result(), and "
          "save/resume with state()/restore() (a restored search continues exactly as the "
          "uninterrupted one would: same objective and constraints required). objective: an "
          "evit.search.Objective, or an evit.CostModel / callable (maximised). constraints: None, "
          "an evit.search.Constraint or a list of up to 3. options: evit.search.EvolutionOptions "
          "or a preset name (default \"elasticvit\"). Same seed, same result.") +
      threads_doc;
  const std::string nsga_doc =
      std::string(
          "A step-wise NSGA-II search (evit::nsga2): objectives is a list of 1 to 3 objectives "
          "(evit.search.maximize/minimize, or cost models / callables, maximised); the result's "
          "ranked is the Pareto front. Save/resume as Evolution. Same seed, same result.") +
      threads_doc;

  py::class_<py_evolution> evo_cls(s, "Evolution", evo_doc.c_str());
  evo_cls.def(py::init(&make_evolution), py::arg("space"), py::arg("objective"),
              py::arg("constraints") = py::none(), py::arg("options") = py::none(),
              py::arg("seed") = 0, py::arg("threads") = 1,
              "A search not started yet (iteration -1).");
  bind_search_methods(evo_cls);
  py::class_<py_nsga2> nsga_cls(s, "NSGA2", nsga_doc.c_str());
  nsga_cls.def(py::init(&make_nsga2), py::arg("space"), py::arg("objectives"),
               py::arg("constraints") = py::none(), py::arg("options") = py::none(),
               py::arg("seed") = 0, py::arg("threads") = 1,
               "A search not started yet (generation -1).");
  bind_search_methods(nsga_cls);

  s.def(
      "evolutionary",
      [](space_handle sp, const py::object& objective, const py::object& constraints,
         const py::object& options, std::uint64_t seed, int threads, const py::object& progress) {
        return make_evolution(sp, objective, constraints, options, seed, threads)->run(progress);
      },
      py::arg("space"), py::arg("objective"), py::arg("constraints") = py::none(),
      py::arg("options") = py::none(), py::arg("seed") = 0, py::arg("threads") = 1,
      py::arg("progress") = py::none(),
      (std::string("Constrained evolutionary search over `space` (evit::evolutionary_search): "
                   "the best subnets for `objective` among those satisfying `constraints`. "
                   "Arguments as evit.search.Evolution; progress as Evolution.run.") +
       threads_doc)
          .c_str());
  s.def(
      "nsga2",
      [](space_handle sp, const py::object& objectives, const py::object& constraints,
         const py::object& options, std::uint64_t seed, int threads, const py::object& progress) {
        return make_nsga2(sp, objectives, constraints, options, seed, threads)->run(progress);
      },
      py::arg("space"), py::arg("objectives"), py::arg("constraints") = py::none(),
      py::arg("options") = py::none(), py::arg("seed") = 0, py::arg("threads") = 1,
      py::arg("progress") = py::none(),
      (std::string("NSGA-II over `space` (evit::nsga2_search): the Pareto front of 1 to 3 "
                   "objectives among the subnets satisfying `constraints`. Arguments as "
                   "evit.search.NSGA2.") +
       threads_doc)
          .c_str());
  s.def("random", &run_random, py::arg("space"), py::arg("objective"),
        py::arg("constraints") = py::none(), py::arg("options") = py::none(), py::arg("seed") = 0,
        py::arg("threads") = 1,
        (std::string("Random search over `space` (evit::random_search), the baseline: "
                     "options.evaluations distinct random subnets satisfying `constraints` "
                     "(repaired toward them), all evaluated; ranked holds the best "
                     "options.keep, evaluated all of them. No progress callback (one batch).") +
         threads_doc)
            .c_str());

  s.def("pareto_front", &evit::pareto_front, py::arg("points"),
        "Indices of the non-dominated points (every coordinate minimised), in input order.");
  s.def("hypervolume", &evit::hypervolume, py::arg("points"), py::arg("ref"),
        "The hypervolume the points (every coordinate minimised) dominate below `ref` (exact).");
}

}  // namespace evit_py
