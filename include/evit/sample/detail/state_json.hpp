// SPDX-License-Identifier: MIT
// Internal header: include a sampler header (e.g. <evit/sample/uniform.hpp>) instead.
// What the samplers' to_json/from_json share: the header fields (format, version, space), field
// access that names the missing or bad field, and the engine's state.
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "evit/core/error.hpp"
#include "evit/core/rng.hpp"
#include "evit/space/search_space.hpp"

namespace evit {
namespace sample {
namespace detail {

/// Reads a saved sampler state whose format is `format`: every error is an evit::format_error
/// that starts with the format's name and names the field.
class state_reader {
 public:
  explicit state_reader(const char* format) : format_(format) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw format_error(std::string(format_) + ": " + what);
  }

  /// o[key]; a format error when `o` is not an object or lacks it.
  const nlohmann::json& field(const nlohmann::json& o, const char* key) const {
    if (!o.is_object() || !o.contains(key)) fail(std::string("missing field \"") + key + "\"");
    return o.at(key);
  }

  /// Checks format, version (1) and space.
  void header(const nlohmann::json& j, const space_descriptor& d) const {
    if (!j.is_object()) fail("expected a JSON object, got " + std::string(j.type_name()));
    const auto& f = field(j, "format");
    if (!f.is_string() || f.get<std::string>() != format_)
      fail("field \"format\" is " + f.dump() + ", not \"" + format_ + "\"");
    if (field(j, "version") != 1)
      fail("field \"version\": unsupported version " + field(j, "version").dump() +
           " (allowed: 1)");
    if (field(j, "space") != d.name)
      fail("field \"space\": saved for space " + field(j, "space").dump() +
           ", this sampler's space is " + d.name);
  }

  /// An integer field in [lo, hi].
  std::int64_t integer(const nlohmann::json& o, const char* key, std::int64_t lo,
                       std::int64_t hi) const {
    const auto& v = field(o, key);
    if (!v.is_number_integer() || v.get<std::int64_t>() < lo || v.get<std::int64_t>() > hi)
      fail(std::string("field \"") + key + "\" is " + v.dump() + ", expected an integer in [" +
           std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return v.get<std::int64_t>();
  }

  /// A field that must equal this sampler's value (an option the state was saved with).
  void same(const nlohmann::json& o, const char* key, const nlohmann::json& mine) const {
    const auto& v = field(o, key);
    if (v != mine)
      fail(std::string("field \"") + key + "\" " + v.dump() + " differs from this sampler's " +
           mine.dump() + " (load a state into a sampler built with the same options)");
  }

 private:
  const char* format_;
};

/// The engine's state as JSON (4 words) when it is evit::rng; other engines are not saved.
template <class Engine>
void engine_to_json(nlohmann::json& j, const Engine& g) {
  if constexpr (std::is_same_v<Engine, rng>) {
    nlohmann::json state = nlohmann::json::array();
    for (int i = 0; i < 4; ++i) state.push_back(g.state(i));
    j["engine"] = std::move(state);
  } else {
    (void)j;
    (void)g;
  }
}

/// Restores what engine_to_json wrote (absent: the engine is left as it is). The all-zero state
/// is refused: xoshiro256** would then return 0 forever and bounded draws would never end.
template <class Engine>
void engine_from_json(const state_reader& r, const nlohmann::json& j, Engine& g) {
  if constexpr (std::is_same_v<Engine, rng>) {
    if (!j.contains("engine")) return;
    const auto& st = j.at("engine");
    if (!st.is_array() || st.size() != 4) r.fail("field \"engine\" must hold 4 words");
    std::uint64_t words[4] = {0, 0, 0, 0};
    for (std::size_t i = 0; i < 4; ++i) {
      const auto& w = st[i];
      if (!w.is_number_unsigned() && !(w.is_number_integer() && w.get<std::int64_t>() >= 0))
        r.fail("field \"engine\" must hold 4 unsigned 64-bit words, got " + st.dump());
      words[i] = w.get<std::uint64_t>();
    }
    if ((words[0] | words[1] | words[2] | words[3]) == 0)
      r.fail("field \"engine\" is all zeros, not a state of the engine");
    for (int i = 0; i < 4; ++i) g.set_state(i, words[i]);
  } else {
    (void)r;
    (void)j;
    (void)g;
  }
}

}  // namespace detail
}  // namespace sample
}  // namespace evit
