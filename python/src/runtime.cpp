// SPDX-License-Identifier: MIT
// The supernet runtime (evit.Supernet, evit.BnOverride) and this machine's latency cost models
// (evit.cost.measured_latency, evit.BlockProfiler, evit.cost.table_latency).
//
// No copies across the boundary: forward() reads the caller's images in place (a NumPy array, or
// anything NumPy can view without copying: the buffer protocol, __array_interface__, DLPack such
// as a CPU torch tensor) and writes the logits straight into a new NumPy array (or `out`). An
// input that would need a conversion (dtype, layout, strides) is refused, never converted. The
// weights stay where the C++ loader put them (in the file's mapped bytes by default); Python sees
// them only as read-only views.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/stl.h>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <evit/core/error.hpp>
#include <evit/core/executor.hpp>
#include <evit/cost/autoformer_latency.hpp>
#include <evit/cost/block_profiler.hpp>
#include <evit/cost/latency_table.hpp>
#include <evit/cost/measured_latency.hpp>
#include <evit/io/dataset.hpp>
#include <evit/io/safetensors.hpp>
#include <evit/models/autoformer/supernet.hpp>
#include <evit/models/elasticvit/macs.hpp>
#include <evit/models/elasticvit/plan_json.hpp>
#include <evit/models/elasticvit/supernet.hpp>

#include "common.hpp"

namespace evit_py {

namespace {

namespace ev = evit::elasticvit;
namespace af = evit::autoformer;

/// The C++ supernet class of a space entry: ElasticViT's or AutoFormer's.
template <class Entry>
using net_of =
    std::conditional_t<Entry::model_family == family::elasticvit,
                       ev::supernet<typename Entry::space>, af::supernet<typename Entry::space>>;

template <class Entry>
constexpr bool is_elasticvit = Entry::model_family == family::elasticvit;

/// evit.Supernet: one C++ supernet (owned once, shared with the cost models made from it) and the
/// state of its forward passes: one workspace and one executor, used by one call at a time.
struct py_supernet {
  space_handle space;
  std::shared_ptr<void> net;  // net_of<entry of `space`>
  std::vector<std::string> class_names;
  std::string origin;
  bool standalone = false;

  std::mutex m;  // guards what follows (forwards run with the GIL released)
  ev::forward_workspace ev_ws;
  af::forward_workspace af_ws;
  int threads = 1;
  std::unique_ptr<evit::thread_pool> pool;  // null for one thread: the calling thread runs it
  std::uintptr_t last_images = 0, last_logits = 0;

  bool family_is_elasticvit() const {
    return visit_space(space, [](auto e) { return is_elasticvit<decltype(e)>; });
  }
};

/// Calls f(entry, net) with the supernet's typed C++ object.
template <class F>
decltype(auto) with_net(const py_supernet& s, F&& f) {
  return visit_space(s.space, [&](auto e) {
    using net_type = net_of<decltype(e)>;
    return f(e, *static_cast<net_type*>(s.net.get()));
  });
}

std::string family_name(space_handle s) {
  return visit_space(s, [](auto e) -> std::string {
    return is_elasticvit<decltype(e)> ? "elasticvit" : "autoformer";
  });
}

[[noreturn]] void elasticvit_only(const py_supernet& s, const char* what) {
  throw evit::invalid_argument(std::string(what) + ": the supernet of space " +
                               s.space.descriptor().name +
                               " is an AutoFormer supernet; only ElasticViT supernets (spaces "
                               "official, mini) have this");
}

void set_threads_locked(py_supernet& s, int threads) {
  if (threads < 1 || threads > 1024)
    throw evit::invalid_argument("Supernet.threads: " + std::to_string(threads) +
                                 " (allowed: 1 to 1024)");
  if (threads == s.threads) return;
  s.pool.reset();
  if (threads > 1) s.pool = std::make_unique<evit::thread_pool>(threads);
  s.threads = threads;
}

template <class Entry>
std::shared_ptr<py_supernet> make_supernet(space_handle space, net_of<Entry> net) {
  auto s = std::make_shared<py_supernet>();
  s->space = space;
  s->net = std::make_shared<net_of<Entry>>(std::move(net));
  return s;
}

std::shared_ptr<py_supernet> load_supernet(const std::string& path, space_handle space,
                                           bool pack_weights, bool in_place,
                                           bool allow_extra_tensors, bool memory_map, int threads) {
  const evit::io::safetensors_file file =
      evit::io::safetensors_file::open(path, evit::io::open_options().memory_map(memory_map));
  const auto opts = ev::load_options()
                        .pack_weights(pack_weights)
                        .in_place(in_place)
                        .allow_extra_tensors(allow_extra_tensors);
  std::shared_ptr<py_supernet> s;
  {
    py::gil_scoped_release nogil;  // a large file takes a while to check and pack
    s = visit_space(space, [&](auto e) {
      using entry = decltype(e);
      return make_supernet<entry>(space, net_of<entry>::load(file, opts));
    });
  }
  s->class_names = evit::io::class_names(file);
  s->origin = path;
  set_threads_locked(*s, threads);
  return s;
}

std::shared_ptr<py_supernet> random_supernet(space_handle space, std::uint64_t seed,
                                             bool pack_weights, int threads) {
  auto s = visit_space(space, [&](auto e) {
    using entry = decltype(e);
    if constexpr (is_elasticvit<entry>)
      return make_supernet<entry>(
          space, net_of<entry>::random(seed, ev::load_options().pack_weights(pack_weights)));
    else
      return make_supernet<entry>(space, net_of<entry>::random(seed));  // never packs
  });
  s->origin = "random (seed " + std::to_string(seed) + ")";
  set_threads_locked(*s, threads);
  return s;
}

std::shared_ptr<py_supernet> load_standalone(const std::string& path, space_handle space) {
  auto s = visit_space(space, [&](auto e) {
    using entry = decltype(e);
    if constexpr (is_elasticvit<entry>)
      return make_supernet<entry>(space, net_of<entry>::load_standalone(path));
    else
      return std::shared_ptr<py_supernet>();
  });
  if (!s)
    throw evit::invalid_argument("Supernet.load_standalone: space " + space.descriptor().name +
                                 " is an AutoFormer space; standalone subnet files are "
                                 "ElasticViT's (spaces official, mini)");
  s->origin = path;
  s->standalone = true;
  return s;
}

// ---- arrays ----------------------------------------------------------------------------------

std::string type_name(py::handle o) {
  return py::str(py::type::of(o).attr("__name__")).cast<std::string>();
}

std::string shape_text(const py::array& a) {
  std::string t = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) t += (i ? ", " : "") + std::to_string(a.shape(i));
  return t + (a.ndim() == 1 ? ",)" : ")");
}

/// `obj` as a NumPy array sharing its memory: an ndarray itself, or a view made through DLPack
/// (a torch tensor), __array_interface__ / __array_struct__ or the buffer protocol. Anything else
/// (a list, an object with only __array__) is refused: viewing it would mean copying it.
/// `writable`: NumPy's DLPack views are read-only, so an output with __array__ (a CPU torch
/// tensor) is viewed through __array__ instead, accepted only at the address DLPack gives.
py::array array_view(py::handle obj, const std::string& who, bool writable = false) {
  if (py::isinstance<py::array>(obj)) return py::reinterpret_borrow<py::array>(obj);
  py::module_ np = py::module_::import("numpy");
  const char* how = nullptr;
  if (py::hasattr(obj, "__dlpack__") && py::hasattr(np, "from_dlpack"))
    how = "from_dlpack";
  else if (PyObject_CheckBuffer(obj.ptr()) || py::hasattr(obj, "__array_interface__") ||
           py::hasattr(obj, "__array_struct__"))
    how = "asarray";
  if (!how)
    throw evit::invalid_argument(
        who + ": a " + type_name(obj) +
        " is not an array that can be read in place (allowed: a float32 NumPy array, a CPU "
        "torch tensor, or anything with DLPack, __array_interface__ or the buffer protocol)");
  try {
    py::object v = np.attr(how)(obj);
    if (!py::isinstance<py::array>(v))
      throw evit::invalid_argument(who + ": numpy." + how + " gave a " + type_name(v));
    py::array a = py::reinterpret_borrow<py::array>(v);
    if (writable && !a.writeable() && py::hasattr(obj, "__array__")) {
      py::object w = np.attr("asarray")(obj);
      if (py::isinstance<py::array>(w)) {
        py::array b = py::reinterpret_borrow<py::array>(w);
        if (b.data() == a.data() && b.writeable()) return b;  // the same memory, writable
      }
    }
    return a;
  } catch (py::error_already_set& e) {
    throw evit::invalid_argument(
        who + ": a " + type_name(obj) + " cannot be viewed in place through " +
        (std::string(how) == "from_dlpack" ? "DLPack" : "NumPy") + " (" + e.what() + ")");
  }
}

/// Checks that `a` is float32, C-contiguous and aligned, with `ndim` dimensions: what the C++
/// side reads or writes in place. Names the array, what it is and what is allowed.
void check_float32_c(const py::array& a, const std::string& who, py::ssize_t ndim,
                     const char* layout) {
  if (!py::array_t<float>::check_(a))  // equivalent to float32 in native byte order
    throw evit::invalid_argument(who + ": dtype " + py::str(a.dtype()).cast<std::string>() +
                                 " (allowed: float32 in native byte order; nothing is converted: "
                                 "pass x.astype(numpy.float32))");
  if (a.ndim() != ndim)
    throw evit::invalid_argument(who + ": shape " + shape_text(a) + ", " +
                                 std::to_string(a.ndim()) + " dimensions (allowed: " + layout +
                                 ")");
  if (!(a.flags() & py::array::c_style))
    throw evit::invalid_argument(who + ": shape " + shape_text(a) +
                                 " is not C-contiguous (allowed: C-contiguous " + layout +
                                 "; nothing is copied: pass numpy.ascontiguousarray(x))");
  if (!a.attr("flags").attr("aligned").cast<bool>())
    throw evit::invalid_argument(who + ": the array is not aligned for float32");
}

/// The images of a forward or calibration batch of `a`, checked: [N, 3, R, R], R = a's
/// resolution, N >= 1, float32, C-contiguous.
py::array checked_images(py::handle obj, const evit::arch& a, const std::string& who) {
  py::array x = array_view(obj, who);
  check_float32_c(x, who, 4, "N x 3 x R x R");
  const int r = a.resolution();
  if (x.shape(0) < 1 || x.shape(1) != 3 || x.shape(2) != r || x.shape(3) != r)
    throw evit::invalid_argument(who + ": shape " + shape_text(x) + " (allowed: (N, 3, " +
                                 std::to_string(r) + ", " + std::to_string(r) +
                                 ") with N >= 1: the subnet runs at resolution " +
                                 std::to_string(r) + ")");
  return x;
}

bool overlaps(const py::array& a, const py::array& b) {
  const auto pa = reinterpret_cast<std::uintptr_t>(a.data()),
             pb = reinterpret_cast<std::uintptr_t>(b.data());
  const auto na = static_cast<std::uintptr_t>(a.nbytes()),
             nb = static_cast<std::uintptr_t>(b.nbytes());
  return pa < pb + nb && pb < pa + na;
}

/// A read-only view of `n` floats of `owner`'s memory, shaped `shape`, keeping `owner` alive.
py::array readonly_view(const float* p, const std::vector<std::int64_t>& shape, py::handle owner) {
  std::vector<py::ssize_t> dims(shape.begin(), shape.end());
  py::array v(py::dtype::of<float>(), dims, p, owner);
  v.attr("setflags")(py::arg("write") = false);
  return v;
}

py::array_t<float> float_array(const std::vector<float>& v) {
  py::array_t<float> a(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

// ---- BatchNorm overrides ---------------------------------------------------------------------

/// evit.BnOverride: recalibrated BatchNorm statistics of one subnet of one space.
struct py_bn {
  std::shared_ptr<const ev::bn_override> bn;
  space_handle space;
};

const ev::bn_override* bn_of(const py_supernet& s, const py::object& bn, const char* who) {
  if (bn.is_none()) return nullptr;
  if (!py::isinstance<py_bn>(bn))
    throw evit::invalid_argument(std::string(who) + ": bn is of type " + type_name(bn) +
                                 " (allowed: None or an evit.BnOverride)");
  const py_bn& o = bn.cast<const py_bn&>();
  if (o.space != s.space)
    throw evit::invalid_argument(std::string(who) + ": the BnOverride belongs to space " +
                                 o.space.descriptor().name + ", not to space " +
                                 s.space.descriptor().name);
  return o.bn.get();
}

// ---- forward ---------------------------------------------------------------------------------

/// The kept intermediates as {name: array}: each array owns the C++ vector it views (moved, not
/// copied).
template <class Intermediates>
py::dict intermediates_dict(Intermediates& inter) {
  py::dict d;
  for (auto& kv : inter.by_name) {
    auto* v = new std::vector<float>(std::move(kv.second.values));
    py::capsule owner(v, [](void* p) { delete static_cast<std::vector<float>*>(p); });
    std::vector<py::ssize_t> dims(kv.second.shape.begin(), kv.second.shape.end());
    d[py::str(kv.first)] = py::array(py::dtype::of<float>(), dims, v->data(), owner);
  }
  return d;
}

py::array forward(py_supernet& s, const py_arch& pa, py::handle images, const py::object& bn,
                  const py::object& out, py::dict* kept = nullptr) {
  const evit::arch& a = arch_of(pa, s.space, "Supernet.forward");
  const py::array x = checked_images(images, a, "Supernet.forward: images");
  const py::ssize_t n = x.shape(0);
  const int classes = with_net(s, [](auto, const auto& net) { return net.num_classes(); });
  const ev::bn_override* over = bn_of(s, bn, "Supernet.forward");
  if (over)
    with_net(s, [&](auto e, const auto&) {
      if constexpr (!is_elasticvit<decltype(e)>) elasticvit_only(s, "Supernet.forward(bn=...)");
    });
  py::array y;
  if (out.is_none()) {
    y = py::array_t<float>({n, static_cast<py::ssize_t>(classes)});
  } else {
    y = array_view(out, "Supernet.forward: out", /*writable=*/true);
    check_float32_c(y, "Supernet.forward: out", 2, "N x classes");
    if (y.shape(0) != n || y.shape(1) != classes)
      throw evit::invalid_argument(
          "Supernet.forward: out has shape " + shape_text(y) + " (allowed: (" + std::to_string(n) +
          ", " + std::to_string(classes) + ") for " + std::to_string(n) + " images)");
    if (!y.writeable()) throw evit::invalid_argument("Supernet.forward: out is read-only");
    if (overlaps(x, y)) throw evit::invalid_argument("Supernet.forward: out overlaps the images");
  }
  const float* in = static_cast<const float*>(x.data());
  float* logits = static_cast<float*>(y.mutable_data());
  ev::intermediates ev_inter;
  af::intermediates af_inter;
  {
    py::gil_scoped_release nogil;
    std::lock_guard<std::mutex> lock(s.m);
    s.last_images = reinterpret_cast<std::uintptr_t>(in);
    s.last_logits = reinterpret_cast<std::uintptr_t>(logits);
    with_net(s, [&](auto e, const auto& net) {
      using entry = decltype(e);
      if constexpr (is_elasticvit<entry>) {
        ev::forward_options o;
        if (s.pool) o.executor(*s.pool);
        if (over) o.bn(*over);
        if (kept) o.keep_intermediates(ev_inter);
        net.forward(a, in, n, logits, s.ev_ws, o);
      } else {
        af::forward_options o;
        if (s.pool) o.executor(*s.pool);
        if (kept) o.keep_intermediates(af_inter);
        net.forward(a, in, n, logits, s.af_ws, o);
      }
    });
  }
  if (kept)
    *kept = s.family_is_elasticvit() ? intermediates_dict(ev_inter) : intermediates_dict(af_inter);
  return y;
}

py_bn recalibrate(py_supernet& s, const py_arch& pa, py::handle batches) {
  const evit::arch& a = arch_of(pa, s.space, "Supernet.recalibrate");
  with_net(s, [&](auto e, const auto&) {
    if constexpr (!is_elasticvit<decltype(e)>) elasticvit_only(s, "Supernet.recalibrate");
  });
  // One array is one batch; otherwise an iterable of batches. The C++ recalibration takes its
  // batches as owned vectors: they are copied once here (calibration is not the hot path).
  std::vector<py::object> items;
  if (py::isinstance<py::array>(batches) || py::hasattr(batches, "__dlpack__") ||
      PyObject_CheckBuffer(batches.ptr())) {
    items.push_back(py::reinterpret_borrow<py::object>(batches));
  } else {
    if (!py::hasattr(batches, "__iter__"))
      throw evit::invalid_argument("Supernet.recalibrate: batches is a " + type_name(batches) +
                                   " (allowed: an image array N x 3 x R x R, or an iterable of "
                                   "them)");
    for (py::handle b : py::iter(batches)) items.push_back(py::reinterpret_borrow<py::object>(b));
  }
  if (items.empty())
    throw evit::invalid_argument("Supernet.recalibrate: no batches (allowed: one or more)");
  std::vector<std::vector<float>> data;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const py::array x =
        checked_images(items[i], a, "Supernet.recalibrate: batch " + std::to_string(i));
    const float* p = static_cast<const float*>(x.data());
    data.emplace_back(p, p + x.size());
  }
  py_bn r;
  r.space = s.space;
  {
    py::gil_scoped_release nogil;
    std::lock_guard<std::mutex> lock(s.m);
    with_net(s, [&](auto e, const auto& net) {
      if constexpr (is_elasticvit<decltype(e)>) {
        if (s.pool)
          r.bn = std::make_shared<ev::bn_override>(net.recalibrate(a, data, s.ev_ws, *s.pool));
        else
          r.bn = std::make_shared<ev::bn_override>(net.recalibrate(a, data, s.ev_ws));
      }
    });
  }
  return r;
}

// ---- latency ---------------------------------------------------------------------------------

evit::cost::timing make_timing(int threads, int batch, int warmup, int min_repeats, int max_repeats,
                               double target, double max_seconds, const std::string& clock,
                               std::uint64_t seed) {
  evit::cost::clock_kind k;
  if (clock == "auto")
    k = evit::cost::clock_kind::automatic;
  else if (clock == "thread_cpu")
    k = evit::cost::clock_kind::thread_cpu;
  else if (clock == "wall")
    k = evit::cost::clock_kind::wall;
  else
    throw evit::invalid_argument("clock: \"" + clock + "\" (allowed: auto, thread_cpu, wall)");
  if (threads < 1 || threads > 1024)
    throw evit::invalid_argument("threads: " + std::to_string(threads) + " (allowed: 1 to 1024)");
  if (batch < 1 || batch > 4096)
    throw evit::invalid_argument("batch: " + std::to_string(batch) + " (allowed: 1 to 4096)");
  if (warmup < 0)
    throw evit::invalid_argument("warmup: " + std::to_string(warmup) + " (allowed: >= 0)");
  if (min_repeats < 1 || max_repeats < min_repeats)
    throw evit::invalid_argument("repeats: min " + std::to_string(min_repeats) + ", max " +
                                 std::to_string(max_repeats) +
                                 " (allowed: 1 <= min_repeats <= max_repeats)");
  if (!(target > 0))
    throw evit::invalid_argument("target: " + std::to_string(target) + " (allowed: > 0)");
  if (!(max_seconds > 0))
    throw evit::invalid_argument("max_seconds: " + std::to_string(max_seconds) + " (allowed: > 0)");
  return evit::cost::timing()
      .threads(threads)
      .batch(batch)
      .warmup(warmup)
      .repeats(min_repeats, max_repeats)
      .target(target)
      .max_seconds(max_seconds)
      .clock(k)
      .seed(seed);
}

/// cost::measured_latency holding the supernet it times (its precondition: the supernet
/// outlives it; Python may drop its Supernet first).
template <class Space, class Net>
struct owning_measured_latency {
  using space_type = Space;
  static constexpr bool monotone = false;
  static constexpr bool sequential = true;
  std::shared_ptr<void> owner;
  evit::cost::measured_latency<Space, Net> model;
  double operator()(const evit::arch& a) const { return model(a); }
};

py_cost measured_latency(const py_supernet& s, const evit::cost::timing& t) {
  return with_net(s, [&](auto e, const auto& net) {
    using entry = decltype(e);
    using space = typename entry::space;
    using net_type = std::decay_t<decltype(net)>;
    py_cost c;
    c.space = s.space.index;
    c.name = "measured_latency";
    c.model = owning_measured_latency<space, net_type>{
        s.net, evit::cost::measured_latency<space, net_type>(net, t)};
    return c;
  });
}

py::dict stats_dict(const evit::cost::latency_stats& st) {
  py::dict d;
  d["median_ms"] = st.median_ms;
  d["lo_ms"] = st.lo_ms;
  d["hi_ms"] = st.hi_ms;
  d["min_ms"] = st.min_ms;
  d["repeats"] = st.repeats;
  return d;
}

/// evit.BlockProfiler: this machine's block latency table for one supernet. Its calls and the
/// cost model made from it share one lock (a search may call the model without the GIL).
struct py_profiler {
  space_handle space;
  std::shared_ptr<void> net;   // keeps the supernet alive
  std::shared_ptr<void> prof;  // profiler_of<entry>
  std::shared_ptr<std::mutex> m = std::make_shared<std::mutex>();
};

/// The C++ profiler of a space entry's family: cost::block_profiler (ElasticViT) or
/// cost::autoformer_profiler (AutoFormer).
template <class Entry>
using profiler_of =
    std::conditional_t<is_elasticvit<Entry>, evit::cost::block_profiler<typename Entry::space>,
                       evit::cost::autoformer_profiler<typename Entry::space>>;

/// The profiler's sum of a subnet's blocks as a cost model (ms), profiling missing blocks.
template <class Profiler>
struct profiler_latency {
  using space_type = typename Profiler::space_type;
  static constexpr bool monotone = false;
  static constexpr bool sequential = true;
  std::shared_ptr<void> net, prof;
  std::shared_ptr<std::mutex> m;
  double operator()(const evit::arch& a) const {
    std::lock_guard<std::mutex> lock(*m);
    return static_cast<Profiler*>(prof.get())->predict(a);
  }
};

/// Calls f(entry, profiler) under the profiler's lock.
template <class F>
py::object with_profiler(const py_profiler& p, F&& f) {
  std::lock_guard<std::mutex> lock(*p.m);
  return visit_space(p.space, [&](auto e) -> py::object {
    return f(e, *static_cast<profiler_of<decltype(e)>*>(p.prof.get()));
  });
}

/// {key: ms} of the blocks of `a` (profiling those missing) or, with `profile` false, their
/// keys; in forward order, a block used twice once.
template <class Profiler>
void for_each_block(Profiler& prof, const evit::space_descriptor& d, const evit::arch& a,
                    const std::function<void(const std::string&, double)>& f, bool profile) {
  if constexpr (std::is_same_v<Profiler,
                               evit::cost::block_profiler<typename Profiler::space_type>>) {
    for (const auto& b : evit::cost::lut_blocks(d, a)) f(b.key(), profile ? prof.block_ms(b) : 0);
  } else {
    for (const auto& b : evit::cost::autoformer_blocks(d, a))
      f(b.key, profile ? prof.block_ms(b) : 0);
  }
}

evit::cost::profile_mode mode_of(const std::string& mode) {
  if (mode == "context") return evit::cost::profile_mode::context;
  if (mode == "warm") return evit::cost::profile_mode::warm;
  if (mode == "alone") return evit::cost::profile_mode::alone;
  throw evit::invalid_argument("mode: \"" + mode + "\" (allowed: context, warm, alone)");
}

py_profiler make_profiler(const py_supernet& s, int threads, int warmup, int min_repeats,
                          int max_repeats, double target, double max_seconds,
                          const std::string& mode, const std::string& device) {
  const evit::cost::timing t =
      make_timing(threads, 1, warmup, min_repeats, max_repeats, target, max_seconds, "auto", 1);
  const evit::cost::profile_mode pm = mode_of(mode);
  py_profiler p;
  p.space = s.space;
  p.net = s.net;
  with_net(s, [&](auto e, const auto& net) {
    using entry = decltype(e);
    if constexpr (is_elasticvit<entry>) {
      p.prof = std::make_shared<profiler_of<entry>>(net, t, device, pm);
    } else {
      if (pm != evit::cost::profile_mode::context)
        throw evit::invalid_argument("BlockProfiler: mode \"" + mode +
                                     "\" for an AutoFormer supernet (allowed: context)");
      p.prof = std::make_shared<profiler_of<entry>>(net, t, device);
    }
  });
  return p;
}

std::string kind_key_name(int k) { return ev::block_kind_name(static_cast<ev::block_kind>(k)); }

}  // namespace

void bind_runtime(py::module_& m) {
  // The latency tables' own errors (evit::error's subclasses; bind_errors registers the others).
  const py::handle base = m.attr("Error");
  py::register_exception<evit::cost::stale_table>(m, "StaleTable", base).doc() =
      "A block latency table keyed for another CPU, ISA, thread count or profiling mode.";
  py::register_exception<evit::cost::missing_block>(m, "MissingBlock", base).doc() =
      "A latency table lacks a block of the subnet (the message names its key and the device).";
  py::class_<py_bn>(m, "BnOverride",
                    "Recalibrated BatchNorm statistics of one subnet (Supernet.recalibrate or "
                    "Supernet.load_override). The supernet's own statistics are never changed: "
                    "pass it to Supernet.forward(bn=...) or Supernet.export_subnet(bn=...).")
      .def_property_readonly(
          "arch",
          [](const py_bn& b) {
            return py_arch{b.bn->subnet(), b.space};
          },
          "The subnet it was made for.")
      .def_property_readonly(
          "batches", [](const py_bn& b) { return b.bn->batches(); },
          "The number of calibration batches accumulated.")
      .def(
          "names",
          [](const py_bn& b) {
            std::vector<std::string> n;
            for (const auto& kv : b.bn->all()) n.push_back(kv.first);
            return n;
          },
          "The official names of the BatchNorms it holds statistics for.")
      .def(
          "stats",
          [](const py_bn& b, const std::string& name) {
            const auto& st = b.bn->at(name);
            return py::make_tuple(float_array(st.mean), float_array(st.var));
          },
          py::arg("name"),
          "(running_mean, running_var) of BatchNorm `name` over its active channels (copies).")
      .def(
          "save", [](const py_bn& b, const std::string& path) { b.bn->save(path); },
          py::arg("path"), "Saves it as safetensors (Supernet.load_override reads it back).")
      .def("__repr__", [](const py_bn& b) {
        return "<evit.BnOverride of " + evit::to_string(b.space.descriptor(), b.bn->subnet()) +
               ", " + std::to_string(b.bn->batches()) + " batches>";
      });

  py::class_<py_supernet, std::shared_ptr<py_supernet>>(
      m, "Supernet",
      "A supernet of one space (ElasticViT: official, mini; AutoFormer: autoformer_t/_s/_b) that "
      "runs any of its subnets straight from its weights, with evit's kernels. Load it "
      "(Supernet.load) or make a random one (Supernet.random). forward() reads the images in "
      "place and writes the logits into a new NumPy array, with the GIL released; one forward "
      "at a time per Supernet (calls from several threads wait for each other).")
      .def_static("load", &load_supernet, py::arg("path"), py::arg("space"), py::kw_only(),
                  py::arg("pack_weights") = true, py::arg("in_place") = true,
                  py::arg("allow_extra_tensors") = false, py::arg("memory_map") = true,
                  py::arg("threads") = 1,
                  "Loads a supernet from a safetensors file with the official tensor names "
                  "(strict: missing, unused or misshapen tensors raise evit.FormatError naming "
                  "them). in_place: use the file's float32 tensors where they lie (mapped, "
                  "memory_map=True), no copy; pack_weights: also keep the transformer linear, "
                  "reduction 1x1 and head weights packed for the GEMM (faster; ElasticViT only); "
                  "allow_extra_tensors: "
                  "ignore tensors the space does not use. Class names come from the file's "
                  "metadata when it has them.")
      .def_static("random", &random_supernet, py::arg("space"), py::arg("seed") = 1, py::kw_only(),
                  py::arg("pack_weights") = true, py::arg("threads") = 1,
                  "A random supernet of `space`, the same for a seed as C++'s supernet::random "
                  "(and run_subnet without --weights).")
      .def_static("load_standalone", &load_standalone, py::arg("path"), py::arg("space"),
                  "Loads a file written by export_subnet: a supernet whose only subnet is the "
                  "exported one (ElasticViT spaces).")
      .def_property_readonly(
          "space", [](const py_supernet& s) { return s.space; }, "Its space.")
      .def_property_readonly(
          "family", [](const py_supernet& s) { return family_name(s.space); },
          "\"elasticvit\" or \"autoformer\".")
      .def_property_readonly(
          "num_classes",
          [](const py_supernet& s) {
            return with_net(s, [](auto, const auto& net) { return net.num_classes(); });
          },
          "The number of classes (logits per image).")
      .def_property_readonly(
          "class_names", [](const py_supernet& s) { return s.class_names; },
          "Class names from the file's metadata (empty when it has none).")
      .def_property_readonly(
          "origin", [](const py_supernet& s) { return s.origin; },
          "Where it came from: the file, or the random seed.")
      .def_property_readonly(
          "standalone", [](const py_supernet& s) { return s.standalone; },
          "Whether it is one exported subnet (load_standalone).")
      .def_property(
          "threads",
          [](py_supernet& s) {
            py::gil_scoped_release nogil;
            std::lock_guard<std::mutex> lock(s.m);
            return s.threads;
          },
          [](py_supernet& s, int n) {
            py::gil_scoped_release nogil;
            std::lock_guard<std::mutex> lock(s.m);
            set_threads_locked(s, n);
          },
          "Worker threads of forward() and recalibrate() (1: the calling thread; more: a "
          "thread pool over the images, and inside each op when they outnumber the images). "
          "The logits are the same bit for bit for every thread count.")
      .def(
          "forward",
          [](py_supernet& s, const py_arch& a, py::handle images, const py::object& bn,
             const py::object& out) { return forward(s, a, images, bn, out); },
          py::arg("arch"), py::arg("images"), py::kw_only(), py::arg("bn") = py::none(),
          py::arg("out") = py::none(),
          "The logits (float32, N x num_classes) of subnet `arch` on `images` (float32, N x 3 "
          "x R x R, C-contiguous, R = arch.resolution): a NumPy array, a CPU torch tensor or "
          "anything with DLPack, __array_interface__ or the buffer protocol, read in place "
          "(never copied or converted: another dtype, layout or resolution raises "
          "evit.InvalidArgument). The logits go into a new array, or into `out` (float32, "
          "C-contiguous, writeable, not overlapping the images). bn: an evit.BnOverride made "
          "for `arch` (ElasticViT). Runs with the GIL released.")
      .def(
          "forward_intermediates",
          [](py_supernet& s, const py_arch& a, py::handle images, const py::object& bn) {
            py::dict kept;
            py::array y = forward(s, a, images, bn, py::none(), &kept);
            return py::make_tuple(y, kept);
          },
          py::arg("arch"), py::arg("images"), py::kw_only(), py::arg("bn") = py::none(),
          "forward() that also returns what each part of the model outputs, named and shaped as "
          "the reference goldens store them: (logits, {name: array}). ElasticViT: first_conv, "
          "stem, stage0, stage1 (N, C, H, W), stage2 ... (N, tokens, C); AutoFormer: "
          "patch_embed, embed, block<i>, norm, features. Allocates (for tests and debugging).")
      .def("recalibrate", &recalibrate, py::arg("arch"), py::arg("batches"),
           "BatchNorm recalibration for subnet `arch` (ElasticViT): runs it on each batch (an "
           "image array N x 3 x R x R, or an iterable of them) with BatchNorm in training mode "
           "and averages the batch statistics (PyTorch's momentum=None). Returns an "
           "evit.BnOverride; the supernet is unchanged. The batches are copied once (the C++ "
           "call takes owned buffers).")
      .def(
          "load_override",
          [](const py_supernet& s, const std::string& path) {
            py_bn r;
            r.space = s.space;
            with_net(s, [&](auto e, const auto& net) {
              if constexpr (is_elasticvit<decltype(e)>)
                r.bn = std::make_shared<ev::bn_override>(net.load_override(path));
              else
                elasticvit_only(s, "Supernet.load_override");
            });
            return r;
          },
          py::arg("path"), "Loads a BnOverride saved by BnOverride.save, checked against it.")
      .def(
          "export_subnet",
          [](const py_supernet& s, const py_arch& pa, const std::string& path,
             const py::object& bn) {
            const evit::arch& a = arch_of(pa, s.space, "Supernet.export_subnet");
            const ev::bn_override* over = bn_of(s, bn, "Supernet.export_subnet");
            with_net(s, [&](auto e, const auto& net) {
              if constexpr (is_elasticvit<decltype(e)>)
                net.export_subnet(a, path, over);
              else
                elasticvit_only(s, "Supernet.export_subnet");
            });
          },
          py::arg("arch"), py::arg("path"), py::kw_only(), py::arg("bn") = py::none(),
          "Writes subnet `arch` alone as a safetensors file, as run_subnet --export-subnet "
          "does: its sliced weights under the official names, its arch, space and plan in the "
          "metadata (tools/export_onnx.py reads it; Supernet.load_standalone runs it); with "
          "`bn`, the recalibrated statistics replace the supernet's.")
      .def(
          "plan",
          [](const py_supernet& s, const py_arch& pa, const std::string& format) -> py::object {
            const evit::arch& a = arch_of(pa, s.space, "Supernet.plan");
            if (format != "json" && format != "dict" && format != "table")
              throw evit::invalid_argument("Supernet.plan: format \"" + format +
                                           "\" (allowed: dict, json, table)");
            std::string text;
            with_net(s, [&](auto e, const auto& net) {
              if constexpr (is_elasticvit<decltype(e)>) {
                text = format == "table" ? ev::plan_table(ev::plan::of(net.space(), a))
                                         : ev::plan_json(net.space(), a);
              } else {
                elasticvit_only(s, "Supernet.plan");
              }
            });
            if (format == "dict") return py::module_::import("json").attr("loads")(text);
            return py::str(text);
          },
          py::arg("arch"), py::arg("format") = "dict",
          "Subnet `arch`'s blocks in forward order (ElasticViT): each block's geometry, module "
          "name, official MMACs and tensor sizes, as a dict (format=\"dict\"), the JSON text "
          "(\"json\", what export_subnet stores) or a table (\"table\", run_subnet --plan).")
      .def(
          "tensor_names",
          [](const py_supernet& s) {
            return with_net(s, [](auto, const auto& net) {
              std::vector<std::string> n;
              for (const auto& t : net.weights().specs()) n.push_back(t.name);
              return n;
            });
          },
          "The names of the supernet's tensors (official state_dict names).")
      .def(
          "tensor",
          [](py::object self, const std::string& name) {
            const py_supernet& s = self.cast<const py_supernet&>();
            return with_net(s, [&](auto, const auto& net) {
              return readonly_view(net.weights().tensor(name), net.weights().spec(name).shape,
                                   self);
            });
          },
          py::arg("name"),
          "A read-only NumPy view of the supernet tensor `name` where the runtime reads it (in "
          "the file's mapped bytes when loaded in place): no copy; it keeps the Supernet alive.")
      .def(
          "weights_info",
          [](const py_supernet& s) {
            return with_net(s, [&](auto e, const auto& net) {
              const auto& w = net.weights();
              py::dict d;
              std::int64_t in_place = 0, in_place_floats = 0;
              for (const auto& t : w.specs())
                if (w.in_place(t.name)) {
                  ++in_place;
                  in_place_floats += t.numel();
                }
              d["tensors"] = w.specs().size();
              d["in_place_tensors"] = in_place;
              d["in_place_floats"] = in_place_floats;
              d["owned_floats"] = w.size();
              if constexpr (is_elasticvit<decltype(e)>)
                d["packed_floats"] = w.packed_size();
              else
                d["packed_floats"] = 0;
              return d;
            });
          },
          "Where the weights live: tensors, in_place_tensors / in_place_floats (used in the "
          "file's bytes, not copied), owned_floats (copied or converted into the supernet's own "
          "buffer), packed_floats (the packed GEMM copies of pack_weights).")
      .def(
          "measure",
          [](const py_supernet& s, const py_arch& pa, int threads, int batch, int warmup,
             int min_repeats, int max_repeats, double target, double max_seconds,
             const std::string& clock, std::uint64_t seed) {
            const evit::arch& a = arch_of(pa, s.space, "Supernet.measure");
            const auto t = make_timing(threads, batch, warmup, min_repeats, max_repeats, target,
                                       max_seconds, clock, seed);
            evit::cost::latency_stats st;
            {
              py::gil_scoped_release nogil;
              st = with_net(s, [&](auto e, const auto& net) {
                using net_type = std::decay_t<decltype(net)>;
                return evit::cost::measured_latency<typename decltype(e)::space, net_type>(net, t)
                    .measure(a);
              });
            }
            return stats_dict(st);
          },
          py::arg("arch"), py::kw_only(), py::arg("threads") = 1, py::arg("batch") = 1,
          py::arg("warmup") = 2, py::arg("min_repeats") = 7, py::arg("max_repeats") = 60,
          py::arg("target") = 0.02, py::arg("max_seconds") = 2.0, py::arg("clock") = "auto",
          py::arg("seed") = 1,
          "Measures subnet `arch`'s latency on this machine (cost::measured_latency: warm-up, "
          "then timed forwards on random images until the median's 95% interval is within "
          "+-target, at most max_repeats or max_seconds): a dict with median_ms, lo_ms, hi_ms "
          "(the interval), min_ms, repeats. clock: auto (this thread's CPU time for one thread, "
          "wall time for more), thread_cpu, wall. The GIL is released.")
      .def_property_readonly(
          "_last_buffers",
          [](py_supernet& s) {
            py::gil_scoped_release nogil;
            std::lock_guard<std::mutex> lock(s.m);
            return std::make_pair(s.last_images, s.last_logits);
          },
          "Debugging: the addresses (images, logits) the C++ forward read and wrote last "
          "(compare with array.ctypes.data: nothing was copied).")
      .def("__repr__", [](const py_supernet& s) {
        return "<evit.Supernet of " + s.space.descriptor().name + ", " + s.origin +
               (s.standalone ? ", standalone" : "") + ">";
      });

  py::class_<py_profiler>(
      m, "BlockProfiler",
      "This machine's block latency table for a supernet (ElasticViT: cost::block_profiler; "
      "AutoFormer: cost::autoformer_profiler, keys afembed_/afattn_/afffn_/afhead_, mode "
      "context only): each block a subnet is made of, timed by running the forward's own step "
      "with the supernet's weights and evit's kernels, in the cache state a whole forward leaves "
      "(mode=\"context\"). A subnet's latency is the sum of its blocks (about 1000x cheaper "
      "than measuring it whole once the table is filled). Blocks are profiled on demand or all "
      "at once (profile_all); the table, keyed by CPU model, ISA, threads and mode, saves to "
      "JSON and merges back.")
      .def(py::init(&make_profiler), py::arg("supernet"), py::kw_only(), py::arg("threads") = 1,
           py::arg("warmup") = 1, py::arg("min_repeats") = 5, py::arg("max_repeats") = 21,
           py::arg("target") = 0.03, py::arg("max_seconds") = 0.2, py::arg("mode") = "context",
           py::arg("device") = "this machine",
           "A profiler of `supernet`'s blocks (the timing of each block: warm-up runs, then "
           "min_repeats to max_repeats timed runs until +-target, at most max_seconds); mode: "
           "context, warm or alone (the cache state a block is timed in).")
      .def(
          "blocks",
          [](const py_profiler& p, const py_arch& pa) {
            const evit::arch& a = arch_of(pa, p.space, "BlockProfiler.blocks");
            evit::validate(p.space.descriptor(), a);
            py::list keys;
            with_profiler(p, [&](auto, auto& prof) -> py::object {
              for_each_block(
                  prof, p.space.descriptor(), a,
                  [&](const std::string& k, double) { keys.append(k); }, false);
              return py::none();
            });
            return keys;
          },
          py::arg("arch"), "The table keys of `arch`'s blocks, in forward order.")
      .def(
          "profile",
          [](const py_profiler& p, const py_arch& pa) {
            const evit::arch& a = arch_of(pa, p.space, "BlockProfiler.profile");
            return with_profiler(p, [&](auto, auto& prof) -> py::object {
              evit::validate(p.space.descriptor(), a);
              py::dict d;
              for_each_block(
                  prof, p.space.descriptor(), a,
                  [&](const std::string& k, double ms) { d[py::str(k)] = ms; }, true);
              return std::move(d);
            });
          },
          py::arg("arch"),
          "{key: ms} for `arch`'s blocks, profiling those the table lacks (a block used twice "
          "appears once).")
      .def(
          "predict",
          [](const py_profiler& p, const py_arch& pa) {
            const evit::arch& a = arch_of(pa, p.space, "BlockProfiler.predict");
            return with_profiler(
                p, [&](auto, auto& prof) -> py::object { return py::float_(prof.predict(a)); });
          },
          py::arg("arch"),
          "`arch`'s latency in ms: the sum of its blocks (profiling those missing), corrected by "
          "the table's calibration when it has one.")
      .def(
          "sum_by_kind",
          [](const py_profiler& p, const py_arch& pa) {
            const evit::arch& a = arch_of(pa, p.space, "BlockProfiler.sum_by_kind");
            return with_profiler(p, [&](auto, auto& prof) -> py::object {
              const auto by = prof.sum_by_kind(a);
              py::dict d;
              for (std::size_t k = 0; k < by.size(); ++k)
                d[py::str(kind_key_name(static_cast<int>(k)))] = by[k];
              return std::move(d);
            });
          },
          py::arg("arch"), "The plain sums of `arch`'s blocks per block kind (ms).")
      .def(
          "profile_all",
          [](const py_profiler& p, const py::object& progress) {
            return with_profiler(p, [&](auto, auto& prof) -> py::object {
              std::function<void(std::size_t, std::size_t)> fn;
              if (!progress.is_none())
                fn = [&progress](std::size_t done, std::size_t total) { progress(done, total); };
              return py::int_(prof.profile_all(fn));
            });
          },
          py::arg("progress") = py::none(),
          "Profiles every block of the space the table lacks (progress(done, total) after each); "
          "returns how many were profiled.")
      .def(
          "entries",
          [](const py_profiler& p) {
            return with_profiler(p, [&](auto, auto& prof) -> py::object {
              return py::cast(prof.table().entries());
            });
          },
          "The table: {key: ms}.")
      .def_property_readonly(
          "key",
          [](const py_profiler& p) {
            return with_profiler(p, [&](auto, auto& prof) -> py::object {
              const auto& k = prof.table().key();
              py::dict d;
              d["cpu"] = k.cpu;
              d["isa"] = k.isa;
              d["threads"] = k.threads;
              d["method"] = k.method;
              return std::move(d);
            });
          },
          "What the table is valid for: cpu, isa, threads, method.")
      .def_property_readonly(
          "profiled",
          [](const py_profiler& p) {
            return with_profiler(
                p, [&](auto, auto& prof) -> py::object { return py::int_(prof.profiled()); });
          },
          "Blocks this profiler has timed.")
      .def_property_readonly(
          "seconds",
          [](const py_profiler& p) {
            return with_profiler(
                p, [&](auto, auto& prof) -> py::object { return py::float_(prof.seconds()); });
          },
          "Seconds spent profiling.")
      .def(
          "save",
          [](const py_profiler& p, const std::string& path) {
            with_profiler(p, [&](auto, auto& prof) -> py::object {
              prof.table().save(path);
              return py::none();
            });
          },
          py::arg("path"),
          "Writes the table as JSON (with its key; evit.cost.table_latency and merge read it).")
      .def(
          "merge",
          [](const py_profiler& p, const std::string& path) {
            const evit::cost::latency_table t = evit::cost::latency_table::load(path);
            with_profiler(p, [&](auto, auto& prof) -> py::object {
              prof.merge(t);
              return py::none();
            });
          },
          py::arg("path"),
          "Adds the entries of a table saved on this machine; evit.Error when it was keyed for "
          "another CPU, ISA, thread count or mode.")
      .def(
          "cost_model",
          [](const py_profiler& p) {
            return visit_space(p.space, [&](auto e) {
              using entry = decltype(e);
              py_cost c;
              c.space = p.space.index;
              c.name = "local_latency";
              c.model = profiler_latency<profiler_of<entry>>{p.net, p.prof, p.m};
              return c;
            });
          },
          "The table as an evit.CostModel (ms, sequential: searches call it on their own "
          "thread), profiling a subnet's missing blocks on the way; it shares this profiler.")
      .def("__len__", [](const py_profiler& p) {
        return with_profiler(
                   p, [&](auto, auto& prof) -> py::object { return py::int_(prof.table().size()); })
            .cast<std::size_t>();
      });

  py::module_ cost = m.attr("cost").cast<py::module_>();
  cost.def(
      "measured_latency",
      [](const py_supernet& s, int threads, int batch, int warmup, int min_repeats, int max_repeats,
         double target, double max_seconds, const std::string& clock, std::uint64_t seed) {
        return measured_latency(s, make_timing(threads, batch, warmup, min_repeats, max_repeats,
                                               target, max_seconds, clock, seed));
      },
      py::arg("supernet"), py::kw_only(), py::arg("threads") = 1, py::arg("batch") = 1,
      py::arg("warmup") = 2, py::arg("min_repeats") = 7, py::arg("max_repeats") = 60,
      py::arg("target") = 0.02, py::arg("max_seconds") = 2.0, py::arg("clock") = "auto",
      py::arg("seed") = 1,
      "This machine's measured latency (ms, the median) of the subnets of `supernet`'s space, "
      "with evit's own forward (cost::measured_latency; options as Supernet.measure): an "
      "evit.CostModel, sequential (searches call it on their own thread), one measurement per "
      "subnet (cached). It keeps the supernet alive.");
  cost.def(
      "table_latency",
      [](space_handle s, const std::string& path, const std::string& device) {
        return visit_space(s, [&](auto e) {
          using entry = decltype(e);
          py_cost c;
          c.space = s.index;
          c.name = "table_latency";
          if constexpr (is_elasticvit<entry>)
            c.model = evit::cost::table_latency<typename entry::space>(
                evit::cost::latency_table::load(path, device));
          else
            throw evit::invalid_argument("cost.table_latency: space " + s.descriptor().name +
                                         " is an AutoFormer space; block tables are "
                                         "ElasticViT's (spaces official, mini)");
          return c;
        });
      },
      py::arg("space"), py::arg("path"), py::arg("device") = "",
      "A saved block table (BlockProfiler.save, or a phone table of the same format) as an "
      "evit.CostModel of `space` (ms): the sum of a subnet's blocks, calibrated when the table "
      "is; evit.Error naming the key of a block the table lacks.");

  m.def(
      "load_labelled_images",
      [](const std::string& path, int classes) {
        evit::io::labelled_images set = evit::io::load_labelled_images(path, classes);
        const auto n = static_cast<py::ssize_t>(set.size());
        const auto side = static_cast<py::ssize_t>(set.side);
        py::array_t<float> images(std::vector<py::ssize_t>{n, 3, side, side});
        std::copy(set.images.begin(), set.images.end(), images.mutable_data());
        py::array_t<std::int64_t> labels(n);
        std::copy(set.labels.begin(), set.labels.end(), labels.mutable_data());
        return py::make_tuple(images, labels);
      },
      py::arg("path"), py::arg("classes"),
      "(images, labels) of a labelled set as evit's C++ side reads it "
      "(evit::io::load_labelled_images): images float32 [N, 3, H, H], the network inputs (U8 "
      "pixels normalised with the file's 'mean' and 'std' metadata, grey as 3 equal channels), "
      "labels int64 [N], each in [0, classes); evit.FormatError naming what is wrong.");
}

}  // namespace evit_py
