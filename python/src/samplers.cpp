// SPDX-License-Identifier: MIT
// The samplers as Python classes: evit.UniformSampler, SandwichSampler, BestOfKSampler,
// ComplexityAwareSampler and PerformanceAwareSampler, with the C++ options as keyword arguments
// and the C++ methods. Each class is a small virtual interface with one implementation per space
// of space_list (made through visit_space); the cost model is the evit.CostModel's any_cost, so
// its traits (monotone, space) reach the sampler. Samplers hold the GIL throughout: Python cost
// and score callables run on the caller's thread, and two Python threads cannot race on one
// sampler. Every sampler saves and loads its state as JSON (state(), load_state()) and pickles as
// (its constructor's arguments, its state).
#include <cmath>
#include <memory>
#include <pybind11/stl.h>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <evit/core/error.hpp>
#include <evit/sample/best_of_k.hpp>
#include <evit/sample/complexity_aware.hpp>
#include <evit/sample/levels.hpp>
#include <evit/sample/performance_aware.hpp>
#include <evit/sample/sandwich.hpp>
#include <evit/sample/uniform.hpp>

#include "common.hpp"

namespace evit_py {

namespace {

using cost_t = evit::cost::any_cost;

// ---- Python values and callables --------------------------------------------------------------

std::string type_name(const py::handle& o) { return py::str(py::type::of(o)).cast<std::string>(); }

py::list arch_list(const std::vector<evit::arch>& v, space_handle s) {
  py::list l;
  for (const evit::arch& a : v) l.append(py_arch{a, s});
  return l;
}

void require_callable(const py::object& fn, const std::string& who, const char* what) {
  if (!PyCallable_Check(fn.ptr()))
    throw evit::invalid_argument(who + ": " + what + " is " + type_name(fn) + ", not a callable");
}

/// A Python callable score(arch) -> float as a C++ score function of space `space`.
struct python_score {
  py::object fn;
  space_handle space;
  std::string who;
  double operator()(const evit::arch& a) const {
    const py::object r = fn(py_arch{a, space});
    try {
      return r.cast<double>();
    } catch (const py::cast_error&) {
      throw evit::invalid_argument(who + ": the score function returned " + type_name(r) +
                                   ", not a number");
    }
  }
};

python_score score_fn(py::object fn, space_handle s, std::string who) {
  require_callable(fn, who, "score");
  return python_score{std::move(fn), s, std::move(who)};
}

double number(const py::handle& v, const std::string& field) {
  try {
    return v.cast<double>();
  } catch (const py::cast_error&) {
    throw evit::invalid_argument(field + ": expected a number, got " + type_name(v));
  }
}

int integer(const py::handle& v, const std::string& field) {
  if (!PyLong_Check(v.ptr()))
    throw evit::invalid_argument(field + ": expected an int, got " + type_name(v));
  try {
    return v.cast<int>();
  } catch (const py::cast_error&) {
    throw evit::invalid_argument(field + ": " + py::str(v).cast<std::string>() +
                                 " does not fit an int");
  }
}

/// A sequence of numbers (not a str), element by element, naming the bad one.
std::vector<double> numbers(const py::object& v, const std::string& field) {
  if (py::isinstance<py::str>(v) || !PySequence_Check(v.ptr()))
    throw evit::invalid_argument(field + ": expected a sequence of numbers, got " + type_name(v));
  std::vector<double> out;
  const py::sequence seq = v.cast<py::sequence>();
  for (std::size_t i = 0; i < seq.size(); ++i)
    out.push_back(number(seq[i], field + "[" + std::to_string(i) + "]"));
  return out;
}

/// A tuple or list of exactly n values (what a C++ setter with n parameters takes).
py::sequence fixed(const py::object& v, std::size_t n, const std::string& field,
                   const char* names) {
  if (py::isinstance<py::str>(v) || !PySequence_Check(v.ptr()) || py::len(v) != n)
    throw evit::invalid_argument(field + ": expected (" + names + "), got " +
                                 py::repr(v).cast<std::string>());
  return v.cast<py::sequence>();
}

evit::smallest_policy parse_smallest(const std::string& name) {
  if (name == "in_window") return evit::smallest_policy::in_window;
  if (name == "space_min") return evit::smallest_policy::space_min;
  throw evit::invalid_argument("smallest: \"" + name +
                               "\" is not a smallest policy (allowed: in_window, space_min)");
}

const char* smallest_name(evit::smallest_policy p) {
  return p == evit::smallest_policy::in_window ? "in_window" : "space_min";
}

const char* origin_name(evit::draw_origin o) {
  switch (o) {
    case evit::draw_origin::explored:
      return "explored";
    case evit::draw_origin::exploited:
      return "exploited";
    case evit::draw_origin::smallest:
      return "smallest";
  }
  return "?";
}

evit::draw_origin parse_origin(const std::string& name) {
  for (auto o :
       {evit::draw_origin::explored, evit::draw_origin::exploited, evit::draw_origin::smallest})
    if (name == origin_name(o)) return o;
  throw evit::invalid_argument("origin: \"" + name +
                               "\" is not a draw origin (allowed: explored, exploited, smallest)");
}

/// The cost model a sampler over `s` uses: `cost`, or the space's MACs when None. A model of
/// another space is refused here, since a Python callable's any_cost carries no space.
py_cost cost_for(space_handle s, const py::object& cost, const char* who) {
  if (cost.is_none()) return builtin_count(s, false);
  if (!py::isinstance<py_cost>(cost))
    throw evit::invalid_argument(std::string(who) + ": cost is " + type_name(cost) +
                                 ", not an evit.CostModel");
  py_cost c = cost.cast<py_cost>();
  if (c.space >= 0 && c.space != s.index)
    throw evit::invalid_argument(std::string(who) + " over space \"" + s.descriptor().name +
                                 "\": the cost model " + c.name + " is of another space (\"" +
                                 space_handle{c.space}.descriptor().name + "\")");
  return c;
}

// ---- results ----------------------------------------------------------------------------------

/// evit.ScoredArch: best_of's result.
struct py_scored {
  py_arch arch;
  double score = 0;
};

/// evit.LevelDraw: a performance-aware draw (evit::level_draw with its space).
struct py_level_draw {
  py_arch arch;
  int level = 0;
  evit::draw_origin origin = evit::draw_origin::explored;
};

// ---- saved states -----------------------------------------------------------------------------

template <class Sampler>
std::string state_of(const Sampler& s) {
  return s.to_json().dump();
}

/// Parses `text` and loads it; nlohmann's own errors (a wrong type deep inside) become format
/// errors too, so that every bad state is an evit error.
template <class Sampler>
void load_state_into(Sampler& s, const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded())
    throw evit::parse_error(std::string(Sampler::format_name) + ": the state is not valid JSON");
  try {
    s.from_json(j);
  } catch (const nlohmann::json::exception& e) {
    throw evit::format_error(std::string(Sampler::format_name) + ": " + e.what());
  }
}

// ---- the interfaces ---------------------------------------------------------------------------

/// What every sampler has: its space, its constructor's arguments (for pickling) and its state.
struct sampler_base {
  virtual ~sampler_base() = default;
  space_handle space;
  py::dict kwargs;
  std::string name;           ///< the Python class name, for messages
  mutable bool busy = false;  ///< a call is running (see busy_guard)
  virtual std::string state() const = 0;
  virtual void load_state(const std::string& text) = 0;
};

/// Refuses a call into a sampler while another call into it runs: from one of its own cost or
/// score callables, or from another Python thread while such a callable runs (the GIL is free
/// then). The C++ samplers are not reentrant: e.g. a report() during rescore() could reallocate
/// the bank rescore() is walking.
class busy_guard {
 public:
  busy_guard(const sampler_base& b, const char* method) : b_(b) {
    if (b.busy)
      throw evit::invalid_argument(b.name + "." + method +
                                   ": the sampler is already running a call (this one came from "
                                   "its own cost or score callable, or from another thread)");
    b.busy = true;
  }
  ~busy_guard() { b_.busy = false; }
  busy_guard(const busy_guard&) = delete;
  busy_guard& operator=(const busy_guard&) = delete;

 private:
  const sampler_base& b_;
};

struct uniform_base : sampler_base {
  virtual py_arch next() = 0;
  virtual std::string mode() const = 0;
};

struct sandwich_base : sampler_base {
  virtual py::list sandwich_step() = 0;
  virtual int k() const = 0;
  virtual std::string mode() const = 0;
};

struct best_of_k_base : sampler_base {
  virtual py_scored next(py::object score) = 0;
  virtual int k() const = 0;
  virtual std::string mode() const = 0;
};

/// What the complexity-aware and performance-aware samplers share: levels, walk, cost.
struct level_base : sampler_base {
  py_cost cost_model;
  virtual int num_levels() const = 0;
  virtual double level_value(int i) const = 0;
  virtual double window() const = 0;
  virtual std::pair<double, double> window_of(int i) const = 0;
  virtual bool in_window(int i, double cost) const = 0;
  virtual int level_of(double cost) const = 0;
  virtual std::pair<double, double> cost_range() const = 0;
  virtual int level() const = 0;
  virtual void set_level(int i) = 0;
  virtual int step() = 0;
  virtual double cost(const py_arch& a) const = 0;
  virtual py_arch smallest(int i) const = 0;
  virtual py_arch draw_in_level(int i) = 0;
  virtual bool monotone() const = 0;
  virtual py::dict draw_stats() const = 0;
  virtual py::dict options() const = 0;
};

struct ca_base : level_base {
  virtual py_arch draw() = 0;
  virtual py_arch next() = 0;
  virtual py::list sandwich_step(int k) = 0;
  virtual int level_for_draw() = 0;
  virtual void set_smallest(int i, const py_arch& a) = 0;
};

struct pa_base : level_base {
  virtual py_level_draw draw() = 0;
  virtual py_level_draw next() = 0;
  virtual py::list sandwich_step(int k) = 0;
  virtual py_level_draw draw_at(int level) = 0;
  virtual bool report(const py_level_draw& d, double score) = 0;
  virtual void rescore(int level, py::object fn) = 0;
  virtual void rescore_all(py::object fn) = 0;
  virtual double preference(const py_arch& a, int level) const = 0;
  virtual void set_epoch(int epoch) = 0;
  virtual int epoch() const = 0;
  virtual double exploit_probability() const = 0;
  virtual py::list bank(int level) const = 0;
  virtual int bank_capacity(int level) const = 0;
  virtual py::dict stats() const = 0;
};

// ---- the implementations, one per space -------------------------------------------------------

template <class Space>
struct uniform_impl final : uniform_base {
  evit::uniform_sampler<Space> s;
  explicit uniform_impl(evit::uniform_sampler<Space> v) : s(std::move(v)) {}
  py_arch next() override {
    const busy_guard running(*this, "next");
    return py_arch{s.next(), space};
  }
  std::string mode() const override { return evit::uniform_mode_name(s.mode()); }
  std::string state() const override {
    const busy_guard running(*this, "state");
    return state_of(s);
  }
  void load_state(const std::string& t) override {
    const busy_guard running(*this, "load_state");
    load_state_into(s, t);
  }
};

template <class Space>
struct sandwich_impl final : sandwich_base {
  evit::sandwich_sampler<Space> s;
  explicit sandwich_impl(evit::sandwich_sampler<Space> v) : s(std::move(v)) {}
  py::list sandwich_step() override {
    const busy_guard running(*this, "sandwich_step");
    return arch_list(s.sandwich_step(), space);
  }
  int k() const override { return s.k(); }
  std::string mode() const override { return evit::uniform_mode_name(s.mode()); }
  std::string state() const override {
    const busy_guard running(*this, "state");
    return state_of(s);
  }
  void load_state(const std::string& t) override {
    const busy_guard running(*this, "load_state");
    load_state_into(s, t);
  }
};

template <class Space>
struct best_of_k_impl final : best_of_k_base {
  evit::best_of_k_sampler<Space> s;
  explicit best_of_k_impl(evit::best_of_k_sampler<Space> v) : s(std::move(v)) {}
  py_scored next(py::object score) override {
    const busy_guard running(*this, "next");
    const evit::scored_arch r = s.next(score_fn(std::move(score), space, "BestOfKSampler.next"));
    return py_scored{py_arch{r.subnet, space}, r.score};
  }
  int k() const override { return s.k(); }
  std::string mode() const override { return evit::uniform_mode_name(s.mode()); }
  std::string state() const override {
    const busy_guard running(*this, "state");
    return state_of(s);
  }
  void load_state(const std::string& t) override {
    const busy_guard running(*this, "load_state");
    load_state_into(s, t);
  }
};

py::dict stats_dict(const evit::draw_stats& st) {
  py::dict d;
  d["draws"] = st.draws;
  d["by_rejection"] = st.by_rejection;
  d["constructed"] = st.constructed;
  d["fallback"] = st.fallback;
  d["cost_evaluations"] = st.cost_evaluations;
  return d;
}

py::dict complexity_dict(const evit::complexity_options& o) {
  py::dict d;
  d["levels"] = o.levels();
  d["window"] = o.window();
  d["walk"] = evit::walk_name(o.walk());
  d["start_level"] = o.start_level();
  d["tries"] = o.tries();
  d["restarts"] = o.restarts();
  d["smallest"] = smallest_name(o.smallest());
  d["seed"] = o.seed();
  return d;
}

/// The level queries of Base, read from Derived::ca() (the complexity-aware sampler itself, or
/// the one inside a performance-aware sampler).
template <class Derived, class Space, class Base>
struct level_impl : Base {
  auto& ca() { return static_cast<Derived*>(this)->ca(); }
  const auto& ca() const { return static_cast<const Derived*>(this)->ca(); }
  const char* who() const { return Derived::python_name; }

  int num_levels() const override { return ca().num_levels(); }
  double level_value(int i) const override { return ca().level_value(i); }
  double window() const override { return ca().window(); }
  std::pair<double, double> window_of(int i) const override { return ca().window_of(i); }
  bool in_window(int i, double c) const override { return ca().in_window(i, c); }
  int level_of(double c) const override { return ca().level_of(c); }
  std::pair<double, double> cost_range() const override { return ca().cost_range(); }
  int level() const override { return ca().level(); }
  void set_level(int i) override {
    const busy_guard running(*this, "set_level");
    ca().set_level(i);
  }
  double cost(const py_arch& a) const override {
    return ca().cost(arch_of(a, this->space, (std::string(who()) + ".cost").c_str()));
  }
  py_arch smallest(int i) const override { return py_arch{ca().smallest(i), this->space}; }
  py_arch draw_in_level(int i) override {
    const busy_guard running(*this, "draw_in_level");
    return py_arch{ca().draw_in_level(i), this->space};
  }
  bool monotone() const override { return ca().monotone(); }
  py::dict draw_stats() const override { return stats_dict(ca().stats()); }
};

template <class Space>
struct ca_impl final : level_impl<ca_impl<Space>, Space, ca_base> {
  static constexpr const char* python_name = "ComplexityAwareSampler";
  using sampler = evit::complexity_aware_sampler<Space, cost_t>;
  sampler s;
  explicit ca_impl(sampler v) : s(std::move(v)) {}
  sampler& ca() { return s; }
  const sampler& ca() const { return s; }

  int step() override {
    const busy_guard running(*this, "step");
    return s.step();
  }
  py_arch draw() override {
    const busy_guard running(*this, "draw");
    return py_arch{s.draw(), this->space};
  }
  py_arch next() override {
    const busy_guard running(*this, "next");
    return py_arch{s.next(), this->space};
  }
  py::list sandwich_step(int k) override {
    const busy_guard running(*this, "sandwich_step");
    return arch_list(s.sandwich_step(k), this->space);
  }
  int level_for_draw() override {
    const busy_guard running(*this, "level_for_draw");
    return s.level_for_draw();
  }
  void set_smallest(int i, const py_arch& a) override {
    const busy_guard running(*this, "set_smallest");
    s.set_smallest(i, arch_of(a, this->space, "ComplexityAwareSampler.set_smallest"));
  }
  py::dict options() const override { return complexity_dict(s.options()); }
  std::string state() const override {
    const busy_guard running(*this, "state");
    return state_of(s);
  }
  void load_state(const std::string& t) override {
    const busy_guard running(*this, "load_state");
    load_state_into(s, t);
  }
};

template <class Space>
struct pa_impl final : level_impl<pa_impl<Space>, Space, pa_base> {
  static constexpr const char* python_name = "PerformanceAwareSampler";
  using sampler = evit::performance_aware_sampler<Space, cost_t>;
  sampler s;
  explicit pa_impl(sampler v) : s(std::move(v)) {}
  typename sampler::complexity_sampler& ca() { return s.complexity(); }
  const typename sampler::complexity_sampler& ca() const { return s.complexity(); }

  py_level_draw wrap(const evit::level_draw& d) const {
    return py_level_draw{py_arch{d.subnet, this->space}, d.level, d.origin};
  }
  int step() override {
    const busy_guard running(*this, "step");
    return s.step();
  }
  py_level_draw draw() override {
    const busy_guard running(*this, "draw");
    return wrap(s.draw());
  }
  py_level_draw next() override {
    const busy_guard running(*this, "next");
    return wrap(s.next());
  }
  py::list sandwich_step(int k) override {
    const busy_guard running(*this, "sandwich_step");
    py::list l;
    for (const evit::level_draw& d : s.sandwich_step(k)) l.append(wrap(d));
    return l;
  }
  py_level_draw draw_at(int level) override {
    const busy_guard running(*this, "draw_at");
    return wrap(s.draw_at(level));
  }
  bool report(const py_level_draw& d, double score) override {
    const busy_guard running(*this, "report");
    const evit::arch& a = arch_of(d.arch, this->space, "PerformanceAwareSampler.report");
    return s.report(evit::level_draw{a, d.level, d.origin}, score);
  }
  void rescore(int level, py::object fn) override {
    const busy_guard running(*this, "rescore");
    s.rescore(level, score_fn(std::move(fn), this->space, "PerformanceAwareSampler.rescore"));
  }
  void rescore_all(py::object fn) override {
    const busy_guard running(*this, "rescore_all");
    s.rescore_all(score_fn(std::move(fn), this->space, "PerformanceAwareSampler.rescore_all"));
  }
  double preference(const py_arch& a, int level) const override {
    return s.preference(arch_of(a, this->space, "PerformanceAwareSampler.preference"), level);
  }
  void set_epoch(int epoch) override {
    const busy_guard running(*this, "set_epoch");
    s.set_epoch(epoch);
  }
  int epoch() const override { return s.epoch(); }
  double exploit_probability() const override { return s.exploit_probability(); }
  py::list bank(int level) const override {
    const busy_guard running(*this, "bank");
    py::list l;
    for (const evit::bank_entry& e : s.bank(level).entries())
      l.append(py::make_tuple(py_arch{e.subnet, this->space}, e.score));
    return l;
  }
  int bank_capacity(int level) const override { return s.bank(level).capacity(); }
  py::dict stats() const override {
    const evit::bank_stats& st = s.stats();
    py::dict d;
    d["explored"] = st.explored;
    d["exploited"] = st.exploited;
    d["inserted"] = st.inserted;
    d["reported"] = st.reported;
    return d;
  }
  py::dict options() const override {
    py::dict d = complexity_dict(s.complexity().options());
    const evit::performance_options& p = s.options();
    d["capacity"] = py::make_tuple(p.capacity_below(), p.capacity_from(), p.capacity_threshold());
    d["capacities"] = p.capacities();
    d["exploit_schedule"] =
        py::make_tuple(p.exploit_initial(), p.exploit_increment(), p.exploit_period());
    d["candidates"] = p.candidates();
    return d;
  }
  std::string state() const override {
    const busy_guard running(*this, "state");
    return state_of(s);
  }
  void load_state(const std::string& t) override {
    const busy_guard running(*this, "load_state");
    load_state_into(s, t);
  }
};

// ---- construction -----------------------------------------------------------------------------

/// The complexity options from keyword arguments (None: the C++ default).
evit::complexity_options complexity_from(const py::object& levels, const py::object& levels_mmacs,
                                         const py::object& window, const py::object& window_mmacs,
                                         const std::string& walk, int start_level, int tries,
                                         int restarts, const std::string& smallest,
                                         std::uint64_t seed) {
  evit::complexity_options o;
  if (!levels.is_none() && !levels_mmacs.is_none())
    throw evit::invalid_argument("levels and levels_mmacs: give one of them, not both");
  if (!levels.is_none()) o.levels(evit::cost_levels(numbers(levels, "levels")));
  if (!levels_mmacs.is_none()) o.levels(evit::levels_mmacs(numbers(levels_mmacs, "levels_mmacs")));
  if (!window.is_none() && !window_mmacs.is_none())
    throw evit::invalid_argument("window and window_mmacs: give one of them, not both");
  if (!window.is_none()) o.window(number(window, "window"));
  if (!window_mmacs.is_none()) o.window_mmacs(number(window_mmacs, "window_mmacs"));
  return o.walk(evit::parse_walk(walk))
      .start_level(start_level)
      .tries(tries)
      .restarts(restarts)
      .smallest(parse_smallest(smallest))
      .seed(seed);
}

evit::performance_options performance_from(const py::object& capacity,
                                           const py::object& capacity_mmacs,
                                           const py::object& capacities,
                                           const py::object& exploit_schedule, int candidates) {
  evit::performance_options p;
  if (!capacity.is_none() && !capacity_mmacs.is_none())
    throw evit::invalid_argument("capacity and capacity_mmacs: give one of them, not both");
  for (const auto& [v, name] : {std::pair<const py::object&, const char*>{capacity, "capacity"},
                                {capacity_mmacs, "capacity_mmacs"}}) {
    if (v.is_none()) continue;
    const py::sequence t = fixed(v, 3, name, "below, from, threshold");
    const int below = integer(t[0], std::string(name) + "[0] (below)");
    const int from = integer(t[1], std::string(name) + "[1] (from)");
    const double threshold = number(t[2], std::string(name) + "[2] (threshold)");
    if (std::string(name) == "capacity")
      p.capacity(below, from, threshold);
    else
      p.capacity_mmacs(below, from, threshold);
  }
  if (!capacities.is_none()) {  // after capacity: as in C++, it overrides
    if (py::isinstance<py::str>(capacities) || !PySequence_Check(capacities.ptr()))
      throw evit::invalid_argument("capacities: expected a sequence of ints, got " +
                                   type_name(capacities));
    std::vector<int> per_level;
    const py::sequence seq = capacities.cast<py::sequence>();
    for (std::size_t i = 0; i < seq.size(); ++i)
      per_level.push_back(integer(seq[i], "capacities[" + std::to_string(i) + "]"));
    p.capacities(per_level);
  }
  if (!exploit_schedule.is_none()) {
    const py::sequence t =
        fixed(exploit_schedule, 3, "exploit_schedule", "initial, increment, period_epochs");
    p.exploit_schedule(number(t[0], "exploit_schedule[0] (initial)"),
                       number(t[1], "exploit_schedule[1] (increment)"),
                       integer(t[2], "exploit_schedule[2] (period_epochs)"));
  }
  return p.candidates(candidates);
}

/// Pickles a sampler as its class called with its constructor's arguments (kwargs holds them in
/// the constructor's order) and, last, state=its state. (Not __setstate__: pybind11 treats that
/// name as a constructor.)
py::tuple reduce_sampler(const py::object& self) {
  const sampler_base& b = self.cast<const sampler_base&>();
  py::list args(b.kwargs.attr("values")());
  args.append(b.state());
  return py::make_tuple(py::type::of(self), py::tuple(args));
}

/// Completes a new sampler: its space, its arguments, and the state to resume from (None: none).
template <class Base>
std::unique_ptr<Base> finish(const char* name, std::unique_ptr<Base> p, space_handle s,
                             py::dict kwargs, const py::object& state) {
  p->name = name;
  p->space = s;
  p->kwargs = std::move(kwargs);
  if (!state.is_none()) {
    if (!py::isinstance<py::str>(state))
      throw evit::invalid_argument("state: expected a str (what state() returned), got " +
                                   type_name(state));
    p->load_state(state.cast<std::string>());
  }
  return p;
}

// ---- docstrings shared by the two level samplers ------------------------------------------------

constexpr const char* complexity_kwargs_doc =
    "space: an evit.Space. cost: an evit.CostModel of that space (default evit.cost.macs(space)); "
    "a monotone model lets the sampler move only in the useful direction and check levels "
    "exactly. levels: the level values in the cost model's units (strictly increasing; default "
    "the official 100, 200, 300, 400, 500, 700, 900, 1200 MMACs, in MACs), or levels_mmacs in "
    "millions of MACs. window: level L accepts costs in [L, L + window] (cost units; default "
    "20e6), or window_mmacs. walk: \"adjacent_step\" (official: a lazy +-1 walk once per step), "
    "\"random\", \"adjacent\" (per draw) or \"cyclic\". start_level: where the walk starts. "
    "tries: draws of the space's sampler before the constructive method (default 16). restarts: "
    "constructive attempts before the fallback (default 4). smallest: \"in_window\" (each "
    "level's own smallest subnet) or \"space_min\". seed: the engine's seed. state: what "
    "state() returned, to resume from (as load_state). Raises "
    "evit.InvalidArgument for bad options, evit.Infeasible for a level no subnet reaches.";

/// The keyword arguments a uniform-based sampler was built with, less the space.
py::dict options_of(const sampler_base& b) {
  py::dict d;
  for (auto item : b.kwargs)
    if (item.first.cast<std::string>() != "space") d[item.first] = item.second;
  return d;
}

}  // namespace

void bind_samplers(py::module_& m) {
  using namespace pybind11::literals;
  py::class_<py_scored>(m, "ScoredArch",
                        "A subnet with its score (best_of's and BestOfKSampler.next's result); "
                        "unpacks as (arch, score).")
      .def(py::init([](const py_arch& a, double score) {
             return py_scored{a, score};
           }),
           py::arg("arch"), py::arg("score"), "A subnet with its score.")
      .def_readonly("arch", &py_scored::arch, "The subnet.")
      .def_readonly("score", &py_scored::score, "Its score (lower was preferred).")
      .def("__iter__", [](const py_scored& s) { return py::iter(py::make_tuple(s.arch, s.score)); })
      .def("__eq__",
           [](const py_scored& a, const py::object& b) {
             if (!py::isinstance<py_scored>(b)) return false;
             const py_scored& o = b.cast<const py_scored&>();
             return a.arch.space == o.arch.space && a.arch.value == o.arch.value &&
                    a.score == o.score;
           })
      .def("__repr__", [](const py_scored& s) {
        return "evit.ScoredArch(" + py::repr(py::cast(s.arch)).cast<std::string>() + ", " +
               py::repr(py::float_(s.score)).cast<std::string>() + ")";
      });

  py::class_<py_level_draw>(
      m, "LevelDraw",
      "A performance-aware draw: the subnet, its level and its origin (\"explored\": a fresh "
      "in-level subnet, whose reported score may enter the bank; \"exploited\": picked from the "
      "level's bank; \"smallest\": the level's smallest subnet). Give it back to "
      "PerformanceAwareSampler.report with its score. Picklable, so that ranks can exchange "
      "draws.")
      .def(py::init([](const py_arch& a, int level, const std::string& origin) {
             return py_level_draw{a, level, parse_origin(origin)};
           }),
           py::arg("arch"), py::arg("level"), py::arg("origin") = "explored",
           "A draw of `arch` at level index `level` (e.g. one received from another rank).")
      .def_readonly("arch", &py_level_draw::arch, "The subnet.")
      .def_readonly("level", &py_level_draw::level, "The level index it was drawn for.")
      .def_property_readonly(
          "origin", [](const py_level_draw& d) { return std::string(origin_name(d.origin)); },
          "\"explored\", \"exploited\" or \"smallest\".")
      .def("__eq__",
           [](const py_level_draw& a, const py::object& b) {
             if (!py::isinstance<py_level_draw>(b)) return false;
             const py_level_draw& o = b.cast<const py_level_draw&>();
             return a.arch.space == o.arch.space && a.arch.value == o.arch.value &&
                    a.level == o.level && a.origin == o.origin;
           })
      .def("__repr__",
           [](const py_level_draw& d) {
             return "evit.LevelDraw(" + py::repr(py::cast(d.arch)).cast<std::string>() + ", " +
                    std::to_string(d.level) + ", \"" + origin_name(d.origin) + "\")";
           })
      .def(py::pickle(
          [](const py_level_draw& d) {
            return py::make_tuple(d.arch, d.level, std::string(origin_name(d.origin)));
          },
          [](const py::tuple& t) {
            if (t.size() != 3)
              throw evit::format_error("LevelDraw pickle: (arch, level, origin) expected, got " +
                                       std::to_string(t.size()) + " values");
            return py_level_draw{t[0].cast<py_arch>(), t[1].cast<int>(),
                                 parse_origin(t[2].cast<std::string>())};
          }));

  m.def(
      "best_of",
      [](int k, const py::object& draw, const py::object& score) {
        require_callable(draw, "best_of", "draw");
        require_callable(score, "best_of", "score");
        space_handle space{-1};
        auto d = [&]() -> evit::arch {
          const py::object r = draw();
          if (!py::isinstance<py_arch>(r))
            throw evit::invalid_argument("best_of: draw returned " + type_name(r) +
                                         ", not an evit.Arch");
          const py_arch& a = r.cast<const py_arch&>();
          if (space.index < 0) space = a.space;
          return arch_of(a, space, "best_of: draw");
        };
        auto s = [&](const evit::arch& a) { return python_score{score, space, "best_of"}(a); };
        const evit::scored_arch r = evit::best_of(k, d, s);
        return py_scored{py_arch{r.subnet, space}, r.score};
      },
      py::arg("k"), py::arg("draw"), py::arg("score"),
      "Among k candidates from draw() (an evit.Arch each), the one with the lowest "
      "score(candidate), the first of equal lowest, as an evit.ScoredArch; calls draw and score "
      "k times each, alternately (AttentiveNAS's BestUp; for WorstUp score with minus the loss). "
      "Raises evit.InvalidArgument for k < 1 or a NaN score.");

  auto sampler_cls = py::class_<sampler_base>(
      m, "Sampler",
      "Base of evit's samplers: the space, the state as JSON for resumable training, pickling.");
  sampler_cls.def_readonly("space", &sampler_base::space, "The space it samples.")
      .def("state", &sampler_base::state,
           "The sampler's position as a JSON string (the engine's state and whatever else the "
           "sequence depends on). load_state() on a sampler built with the same options "
           "continues exactly the same sequence.")
      .def("load_state", &sampler_base::load_state, py::arg("state"),
           "Loads what state() wrote; nothing changes unless all of it is valid. Raises "
           "evit.ParseError (not JSON) or evit.FormatError naming the field (another sampler, "
           "space or option, a bad engine state, a bad subnet).")
      .def("__reduce__", &reduce_sampler,
           "Pickles as (the constructor's arguments, state()); a sampler whose cost model is a "
           "Python callable pickles only if that evit.CostModel does.");

  py::class_<uniform_base, sampler_base>(
      m, "UniformSampler",
      "Uniform subnets: mode \"per_dimension\" draws every dimension uniformly among the choices "
      "the space's rules leave (official; Space.sample), \"per_subnet\" every distinct subnet "
      "equally likely. The C++ evit::uniform_sampler.")
      .def(py::init([](space_handle s, std::uint64_t seed, const std::string& mode,
                       const py::object& state) {
             const evit::uniform_mode md = evit::parse_uniform_mode(mode);
             py::dict kw("space"_a = s, "seed"_a = seed, "mode"_a = mode);
             return finish<uniform_base>("UniformSampler",
                                         visit_space(s,
                                                     [&](auto e) -> std::unique_ptr<uniform_base> {
                                                       using S = typename decltype(e)::space;
                                                       return std::make_unique<uniform_impl<S>>(
                                                           evit::uniform_sampler<S>(seed, md));
                                                     }),
                                         s, std::move(kw), state);
           }),
           py::arg("space"), py::arg("seed") = 0, py::arg("mode") = "per_dimension",
           py::arg("state") = py::none(),
           "A uniform sampler of `space` seeded with `seed`; state: what state() returned, to "
           "resume "
           "from (as load_state).")
      .def("next", &uniform_base::next, "One subnet (an evit.Arch).")
      .def("mode", &uniform_base::mode, "\"per_dimension\" or \"per_subnet\".")
      .def("options", &options_of,
           "The options it was built with (seed, mode and k where it has one).")
      .def("__repr__", [](const uniform_base& b) {
        return "<evit.UniformSampler of " + std::string(b.space.attribute_name()) + ", " +
               b.mode() + ">";
      });

  py::class_<sandwich_base, sampler_base>(
      m, "SandwichSampler",
      "The sandwich rule (slimmable networks, BigNAS, AttentiveNAS): every step trains the "
      "largest subnet, the smallest, and k uniform ones. The C++ evit::sandwich_sampler.")
      .def(py::init([](space_handle s, int k, std::uint64_t seed, const std::string& mode,
                       const py::object& state) {
             const evit::uniform_mode md = evit::parse_uniform_mode(mode);
             py::dict kw("space"_a = s, "k"_a = k, "seed"_a = seed, "mode"_a = mode);
             return finish<sandwich_base>(
                 "SandwichSampler",
                 visit_space(s,
                             [&](auto e) -> std::unique_ptr<sandwich_base> {
                               using S = typename decltype(e)::space;
                               return std::make_unique<sandwich_impl<S>>(
                                   evit::sandwich_sampler<S>(k, seed, md));
                             }),
                 s, std::move(kw), state);
           }),
           py::arg("space"), py::arg("k") = 2, py::arg("seed") = 0,
           py::arg("mode") = "per_dimension", py::arg("state") = py::none(),
           "k: uniform subnets per step (BigNAS, AttentiveNAS: 2; evit.InvalidArgument if < 0); "
           "mode, state as for UniformSampler.")
      .def("sandwich_step", &sandwich_base::sandwich_step,
           "One step's subnets: the largest, the smallest, then k uniform ones.")
      .def("k", &sandwich_base::k, "Uniform subnets per step.")
      .def("mode", &sandwich_base::mode, "\"per_dimension\" or \"per_subnet\".")
      .def("options", &options_of,
           "The options it was built with (seed, mode and k where it has one).")
      .def(
          "largest",
          [](const sandwich_base& b) {
            return visit_space(b.space, [&](auto e) {
              return py_arch{decltype(e)::space::max_arch(), b.space};
            });
          },
          "The largest subnet (every step's first).")
      .def(
          "smallest",
          [](const sandwich_base& b) {
            return visit_space(b.space, [&](auto e) {
              return py_arch{decltype(e)::space::min_arch(), b.space};
            });
          },
          "The smallest subnet (every step's second).")
      .def("__repr__", [](const sandwich_base& b) {
        return "<evit.SandwichSampler of " + std::string(b.space.attribute_name()) +
               ", k=" + std::to_string(b.k()) + ">";
      });

  py::class_<best_of_k_base, sampler_base>(
      m, "BestOfKSampler",
      "AttentiveNAS's best-of-k (BestUp): k uniform candidates, the one with the lowest "
      "caller-supplied score kept (e.g. its loss on the batch). The C++ evit::best_of_k_sampler.")
      .def(py::init([](space_handle s, int k, std::uint64_t seed, const std::string& mode,
                       const py::object& state) {
             const evit::uniform_mode md = evit::parse_uniform_mode(mode);
             py::dict kw("space"_a = s, "k"_a = k, "seed"_a = seed, "mode"_a = mode);
             return finish<best_of_k_base>(
                 "BestOfKSampler",
                 visit_space(s,
                             [&](auto e) -> std::unique_ptr<best_of_k_base> {
                               using S = typename decltype(e)::space;
                               return std::make_unique<best_of_k_impl<S>>(
                                   evit::best_of_k_sampler<S>(k, seed, md));
                             }),
                 s, std::move(kw), state);
           }),
           py::arg("space"), py::arg("k") = 3, py::arg("seed") = 0,
           py::arg("mode") = "per_dimension", py::arg("state") = py::none(),
           "k: candidates per draw (AttentiveNAS: 3; evit.InvalidArgument if < 1); mode, state as "
           "for UniformSampler.")
      .def("next", &best_of_k_base::next, py::arg("score"),
           "The lowest-scoring of k uniform candidates, as an evit.ScoredArch; score(arch) -> "
           "float is called once per candidate, on this thread (a NaN score raises "
           "evit.InvalidArgument).")
      .def("k", &best_of_k_base::k, "Candidates per draw.")
      .def("mode", &best_of_k_base::mode, "\"per_dimension\" or \"per_subnet\".")
      .def("options", &options_of,
           "The options it was built with (seed, mode and k where it has one).")
      .def("__repr__", [](const best_of_k_base& b) {
        return "<evit.BestOfKSampler of " + std::string(b.space.attribute_name()) +
               ", k=" + std::to_string(b.k()) + ">";
      });

  py::class_<level_base, sampler_base>(
      m, "LevelSampler",
      "Base of ComplexityAwareSampler and PerformanceAwareSampler: complexity levels, the walk "
      "over them, and in-level draws.")
      .def_property_readonly(
          "cost_model", [](const level_base& b) { return b.cost_model; },
          "The evit.CostModel the levels are measured with.")
      .def("num_levels", &level_base::num_levels, "The number of levels.")
      .def("level_value", &level_base::level_value, py::arg("i"),
           "Level i's value L (its window is [L, L + window]).")
      .def("window", &level_base::window, "The window width, in the cost model's units.")
      .def("window_of", &level_base::window_of, py::arg("i"),
           "The window (L, L + window) of level i.")
      .def("in_window", &level_base::in_window, py::arg("i"), py::arg("cost"),
           "Whether `cost` lies in level i's window.")
      .def("level_of", &level_base::level_of, py::arg("cost"),
           "The lowest level whose window holds `cost`, or -1.")
      .def("cost_range", &level_base::cost_range,
           "The costs of the space's smallest and largest subnets (the exact range for a "
           "monotone model).")
      .def("level", &level_base::level, "The current level index.")
      .def("set_level", &level_base::set_level, py::arg("i"), "Moves the walk to level i.")
      .def("step", &level_base::step,
           "Starts a training step: the per-step walks (adjacent_step, cyclic) move. Returns the "
           "step's level.")
      .def("cost", &level_base::cost, py::arg("arch"), "The cost model's value for `arch`.")
      .def("smallest", &level_base::smallest, py::arg("level"),
           "Level `level`'s smallest subnet (see the option smallest).")
      .def("draw_in_level", &level_base::draw_in_level, py::arg("level"),
           "One subnet in level `level`'s window, in bounded time (no walk, no bank).")
      .def("monotone", &level_base::monotone,
           "Whether the sampler treats the cost model as monotone (its CostModel's flag).")
      .def("draw_stats", &level_base::draw_stats,
           "How in-level draws were obtained: draws, by_rejection, constructed, fallback, "
           "cost_evaluations (not saved by state()).")
      .def("options", &level_base::options,
           "The options in effect, as C++ holds them: levels and window in the cost model's "
           "units (MMACs options converted to MACs), walk, start_level, tries, restarts, "
           "smallest, seed, and for a performance-aware sampler capacity, capacities, "
           "exploit_schedule and candidates.");

  py::class_<ca_base, level_base>(
      m, "ComplexityAwareSampler",
      "ElasticViT's complexity-aware sampling: every training step targets one complexity level, "
      "the level moves by a slow walk, and each subnet is drawn inside the level's cost window "
      "[L, L + window]. The C++ evit::complexity_aware_sampler: the same seed and options give "
      "the same subnets as in C++.")
      .def(py::init([](space_handle s, const py::object& cost, const py::object& levels,
                       const py::object& levels_mmacs, const py::object& window,
                       const py::object& window_mmacs, const std::string& walk, int start_level,
                       int tries, int restarts, const std::string& smallest, std::uint64_t seed,
                       const py::object& state) {
             py::dict kw("space"_a = s, "cost"_a = cost, "levels"_a = levels,
                         "levels_mmacs"_a = levels_mmacs, "window"_a = window,
                         "window_mmacs"_a = window_mmacs, "walk"_a = walk,
                         "start_level"_a = start_level, "tries"_a = tries, "restarts"_a = restarts,
                         "smallest"_a = smallest, "seed"_a = seed);
             const py_cost c = cost_for(s, cost, "ComplexityAwareSampler");
             const evit::complexity_options o =
                 complexity_from(levels, levels_mmacs, window, window_mmacs, walk, start_level,
                                 tries, restarts, smallest, seed);
             auto p = finish<ca_base>(
                 "ComplexityAwareSampler",
                 visit_space(s,
                             [&](auto e) -> std::unique_ptr<ca_base> {
                               using S = typename decltype(e)::space;
                               return std::make_unique<ca_impl<S>>(
                                   evit::complexity_aware_sampler<S, cost_t>(c.model, o));
                             }),
                 s, std::move(kw), state);
             p->cost_model = c;
             return p;
           }),
           py::arg("space"), py::arg("cost") = py::none(), py::arg("levels") = py::none(),
           py::arg("levels_mmacs") = py::none(), py::arg("window") = py::none(),
           py::arg("window_mmacs") = py::none(), py::arg("walk") = "adjacent_step",
           py::arg("start_level") = 0, py::arg("tries") = 16, py::arg("restarts") = 4,
           py::arg("smallest") = "in_window", py::arg("seed") = 0, py::arg("state") = py::none(),
           complexity_kwargs_doc)
      .def("draw", &ca_base::draw,
           "One subnet in the current level's window (the per-draw walks random and adjacent "
           "move first).")
      .def("next", &ca_base::next, "One training step with one subnet: step(), then draw().")
      .def("sandwich_step", &ca_base::sandwich_step, py::arg("k") = 3,
           "ElasticViT's sandwich for one step: step(), k in-level subnets, then the level's "
           "smallest (official k = 3).")
      .def("level_for_draw", &ca_base::level_for_draw,
           "The level the next draw uses (the per-draw walks move here).")
      .def("stats", &level_base::draw_stats,
           "How in-level draws were obtained (the C++ stats(); the same as draw_stats()).")
      .def("set_smallest", &ca_base::set_smallest, py::arg("level"), py::arg("arch"),
           "Replaces level `level`'s smallest subnet (saved by state()).")
      .def("__repr__", [](const ca_base& b) {
        return "<evit.ComplexityAwareSampler of " + std::string(b.space.attribute_name()) + ", " +
               std::to_string(b.num_levels()) + " levels, level " + std::to_string(b.level()) + ">";
      });

  py::class_<pa_base, level_base>(
      m, "PerformanceAwareSampler",
      "ElasticViT's performance-aware sampling: complexity-aware draws steered by one memory bank "
      "of good subnets per level. Each draw exploits the bank (a softmax-weighted pick, with a "
      "probability that grows with the epochs, once the bank is more than half full) or explores "
      "(of `candidates` in-level subnets, the most \"wider and shallower\" one). Report each "
      "trained draw's score (higher is better, e.g. minus its loss); the banks keep the best. The "
      "C++ evit::performance_aware_sampler.")
      .def(py::init([](space_handle s, const py::object& cost, const py::object& levels,
                       const py::object& levels_mmacs, const py::object& window,
                       const py::object& window_mmacs, const std::string& walk, int start_level,
                       int tries, int restarts, const std::string& smallest,
                       const py::object& capacity, const py::object& capacity_mmacs,
                       const py::object& capacities, const py::object& exploit_schedule,
                       int candidates, std::uint64_t seed, const py::object& state) {
             py::dict kw("space"_a = s, "cost"_a = cost, "levels"_a = levels,
                         "levels_mmacs"_a = levels_mmacs, "window"_a = window,
                         "window_mmacs"_a = window_mmacs, "walk"_a = walk,
                         "start_level"_a = start_level, "tries"_a = tries, "restarts"_a = restarts,
                         "smallest"_a = smallest, "capacity"_a = capacity,
                         "capacity_mmacs"_a = capacity_mmacs, "capacities"_a = capacities,
                         "exploit_schedule"_a = exploit_schedule, "candidates"_a = candidates,
                         "seed"_a = seed);
             const py_cost c = cost_for(s, cost, "PerformanceAwareSampler");
             const evit::complexity_options o =
                 complexity_from(levels, levels_mmacs, window, window_mmacs, walk, start_level,
                                 tries, restarts, smallest, seed);
             const evit::performance_options po = performance_from(
                 capacity, capacity_mmacs, capacities, exploit_schedule, candidates);
             auto p = finish<pa_base>(
                 "PerformanceAwareSampler",
                 visit_space(s,
                             [&](auto e) -> std::unique_ptr<pa_base> {
                               using S = typename decltype(e)::space;
                               return std::make_unique<pa_impl<S>>(
                                   evit::performance_aware_sampler<S, cost_t>(c.model, o, po));
                             }),
                 s, std::move(kw), state);
             p->cost_model = c;
             return p;
           }),
           py::arg("space"), py::arg("cost") = py::none(), py::arg("levels") = py::none(),
           py::arg("levels_mmacs") = py::none(), py::arg("window") = py::none(),
           py::arg("window_mmacs") = py::none(), py::arg("walk") = "adjacent_step",
           py::arg("start_level") = 0, py::arg("tries") = 16, py::arg("restarts") = 4,
           py::arg("smallest") = "in_window", py::arg("capacity") = py::none(),
           py::arg("capacity_mmacs") = py::none(), py::arg("capacities") = py::none(),
           py::arg("exploit_schedule") = py::none(), py::arg("candidates") = 5, py::arg("seed") = 0,
           py::arg("state") = py::none(),
           (std::string(complexity_kwargs_doc) +
            " capacity: (below, from, threshold): bank capacity `below` for levels < threshold "
            "(cost units), `from` above (default (150, 50, 500e6)), or capacity_mmacs with the "
            "threshold in MMACs; capacities: one per level (overrides capacity). "
            "exploit_schedule: (initial, increment, period_epochs): the exploit probability at "
            "epoch e is initial + increment * floor((e + 1) / period) (default (0.2, 0.15, "
            "100)). candidates: in-level candidates compared when exploring (default 5).")
               .c_str())
      .def("draw", &pa_base::draw,
           "One evit.LevelDraw for the current level (the per-draw walks move first).")
      .def("next", &pa_base::next, "step(), then draw().")
      .def("sandwich_step", &pa_base::sandwich_step, py::arg("k") = 3,
           "ElasticViT's step: step(), k draws, then the level's smallest subnet (origin "
           "\"smallest\"), as evit.LevelDraw objects.")
      .def("draw_at", &pa_base::draw_at, py::arg("level"), "One draw for level `level` (no walk).")
      .def("report", &pa_base::report, py::arg("draw"), py::arg("score"),
           "Reports a trained draw's score (higher is better, e.g. minus its loss). An explored "
           "draw whose cost is in its level's window may enter that level's bank; returns "
           "whether it did. Raises evit.InvalidArgument for a non-finite score.")
      .def("rescore", &pa_base::rescore, py::arg("level"), py::arg("fn"),
           "Re-scores level `level`'s bank with fn(arch) -> float (higher is better), first "
           "dropping entries whose cost left the window.")
      .def("rescore_all", &pa_base::rescore_all, py::arg("fn"), "rescore() for every level.")
      .def("preference", &pa_base::preference, py::arg("arch"), py::arg("level"),
           "The \"wider and shallower\" preference of `arch` at `level` (lower is preferred).")
      .def("set_epoch", &pa_base::set_epoch, py::arg("epoch"),
           "Sets the epoch, which sets the exploit probability.")
      .def("epoch", &pa_base::epoch, "The current epoch.")
      .def("exploit_probability", &pa_base::exploit_probability,
           "The current exploit probability (> 1: always, once the bank is more than half full).")
      .def("bank", &pa_base::bank, py::arg("level"),
           "Level `level`'s memory bank: a list of (arch, score), in the bank's order.")
      .def(
          "banks",
          [](const pa_base& b) {
            py::list l;
            for (int L = 0; L < b.num_levels(); ++L) l.append(b.bank(L));
            return l;
          },
          "Every level's bank (see bank()).")
      .def("bank_capacity", &pa_base::bank_capacity, py::arg("level"),
           "The capacity of level `level`'s bank.")
      .def("stats", &pa_base::stats,
           "Counters: explored, exploited, inserted (reports that entered a bank), reported (not "
           "saved by state()).")
      .def("__repr__", [](const pa_base& b) {
        return "<evit.PerformanceAwareSampler of " + std::string(b.space.attribute_name()) + ", " +
               std::to_string(b.num_levels()) + " levels, level " + std::to_string(b.level()) +
               ", epoch " + std::to_string(b.epoch()) + ">";
      });
}

}  // namespace evit_py
