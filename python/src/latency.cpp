// SPDX-License-Identifier: MIT
// Phone latency cost models under evit.cost: the block tables of data/mobile-lut (or any folder of
// tables in the same format) as evit.CostModel objects of an ElasticViT-family space, with the
// same numbers as evit::cost::mobile_latency in C++ (the same code computes them).
#include <algorithm>
#include <filesystem>
#include <pybind11/stl.h>
#include <string>
#include <vector>

#include <evit/core/error.hpp>
#include <evit/cost/latency_table.hpp>

#include "common.hpp"

namespace evit_py {

namespace {

namespace fs = std::filesystem;

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
  return s;
}

/// The devices of one folder: its *.json files, by name.
std::vector<std::string> devices_in(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".json") out.push_back(it->path().stem().string());
  std::sort(out.begin(), out.end());
  return out;
}

/// The devices with a table: in `dir`, or (empty dir) in the folders mobile_latency(device)
/// searches.
std::vector<std::string> phone_devices(const std::string& dir) {
  if (!dir.empty()) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
      throw evit::invalid_argument("phone_devices: dir \"" + dir + "\" is not a folder");
    return devices_in(dir);
  }
  std::vector<std::string> all;
  for (const std::string& d : evit::cost::mobile_lut_dirs()) {
    const std::vector<std::string> v = devices_in(d);
    all.insert(all.end(), v.begin(), v.end());
  }
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  return all;
}

/// `t`, when its table prices the smallest subnet of its space (a table measured for another
/// space would fail on every call: better say so now).
template <class Space>
evit::cost::table_latency<Space> checked(evit::cost::table_latency<Space> t, space_handle s) {
  const std::vector<std::string> missing =
      t.table().missing(Space::descriptor(), Space::min_arch());
  if (!missing.empty())
    throw evit::invalid_argument("phone_latency: the table of device \"" + t.device() +
                                 "\" has no block \"" + missing.front() + "\" of space " +
                                 s.attribute_name() +
                                 "'s smallest subnet: it prices the blocks of another space");
  return t;
}

py_cost phone_latency(space_handle s, const std::string& device, const std::string& dir) {
  return visit_space(s, [&](auto e) {
    using entry = decltype(e);
    using space = typename entry::space;
    if constexpr (entry::model_family != family::elasticvit) {
      std::string allowed;
      for (int i = 0; i < num_spaces; ++i)
        visit_space(space_handle{i}, [&](auto f) {
          if (decltype(f)::model_family == family::elasticvit)
            allowed += std::string(allowed.empty() ? "" : ", ") + space_attribute_names[i];
        });
      throw evit::invalid_argument(std::string("phone_latency: space ") + s.attribute_name() +
                                   " is not of the ElasticViT family, whose blocks the phone "
                                   "tables price (allowed: " +
                                   allowed + ")");
      return py_cost{};
    } else {
      py_cost c;
      c.space = s.index;
      c.name = "latency@" + device;
      c.reduce = [s, device, dir] {
        return py::make_tuple("phone", s.attribute_name(), device, dir);
      };
      if (dir.empty()) {
        // find_mobile_lut's message names the device, the folders searched and the devices.
        c.model = checked(evit::cost::mobile_latency<space>(device), s);
        return c;
      }
      std::error_code ec;
      if (!fs::is_directory(dir, ec))
        throw evit::invalid_argument("phone_latency: dir \"" + dir + "\" is not a folder");
      if (device.empty() || device.find_first_of("/\\") != std::string::npos ||
          !fs::is_regular_file(fs::path(dir) / (device + ".json"), ec))
        throw evit::invalid_argument("phone_latency: no latency table for device \"" + device +
                                     "\" in " + dir + " (devices there: " + join(devices_in(dir)) +
                                     ")");
      c.model = checked(evit::cost::mobile_latency<space>(dir, device), s);
      return c;
    }
  });
}

}  // namespace

void bind_latency(py::module_& m) {
  py::module_ cost = m.attr("cost").cast<py::module_>();
  cost.def("phone_latency", &phone_latency, py::arg("space"), py::arg("device"),
           py::arg("dir") = "",
           "The latency in milliseconds that `device`'s block table predicts for a subnet of "
           "`space` (an ElasticViT-family space), as an evit.CostModel named "
           "\"latency@<device>\" (not monotone: measured block times need not be). Without `dir` "
           "the table is found as evit::cost::mobile_latency(device) finds it: "
           "$EVIT_MOBILE_LUT_DIR, then evit's installed tables (or the source tree's "
           "data/mobile-lut); with `dir`, dir/<device>.json. The numbers are those of the C++ "
           "model. Raises evit.InvalidArgument for an unknown device (naming the devices "
           "available) or a space of another family, evit.FormatError for a malformed table.");
  cost.def("phone_devices", &phone_devices, py::arg("dir") = "",
           "The devices with a latency table (sorted): those of `dir`, or without it those of "
           "the folders phone_latency(space, device) searches (evit ships pixel1, pixel4, "
           "pixel6, xiaomi11).");
  cost.def(
      "phone_lut_dirs", [] { return evit::cost::mobile_lut_dirs(); },
      "The folders phone_latency(space, device) searches for <device>.json, in order.");
}

}  // namespace evit_py
