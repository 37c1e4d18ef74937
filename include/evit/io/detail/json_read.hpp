// SPDX-License-Identifier: MIT
// Internal header: include <evit/io/arch_json.hpp> instead.
// Strict readers of JSON values that name the field on every error.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "evit/core/error.hpp"
#include "evit/core/rational.hpp"

namespace evit {
namespace io {
namespace detail {

/// Largest number an arch field may hold: far above any real width or resolution, far below
/// anything that could overflow the cost counts.
inline constexpr std::int64_t max_field_value = 1 << 20;

inline std::string describe_json(const nlohmann::json& j) {
  std::string s = j.dump();
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}

inline std::string type_name(const nlohmann::json& j) { return j.type_name(); }

/// An integer in [0, max_field_value].
inline int read_int(const nlohmann::json& j, const std::string& field) {
  if (!j.is_number_integer())
    throw parse_error(field + ": expected an integer, got " + std::string(type_name(j)) + " " +
                      describe_json(j));
  if (j.is_number_unsigned()) {
    const auto v = j.get<std::uint64_t>();
    if (v > static_cast<std::uint64_t>(max_field_value))
      throw parse_error(field + ": " + std::to_string(v) + " is out of range [0, " +
                        std::to_string(max_field_value) + "]");
    return static_cast<int>(v);
  }
  const auto v = j.get<std::int64_t>();
  if (v < 0 || v > max_field_value)
    throw parse_error(field + ": " + std::to_string(v) + " is out of range [0, " +
                      std::to_string(max_field_value) + "]");
  return static_cast<int>(v);
}

/// Parses "7/2" or "4" (no sign, no spaces), both parts in [1, max_field_value] (numerator may
/// be 0).
inline rational parse_rational_text(const std::string& s, const std::string& field) {
  auto fail = [&] {
    return parse_error(field + ": \"" + s + "\" is not a rational such as 4 or 7/2");
  };
  std::int64_t num = 0, den = 1;
  std::size_t i = 0;
  auto read = [&](std::int64_t& out) {
    if (i >= s.size() || s[i] < '0' || s[i] > '9') throw fail();
    out = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      out = out * 10 + (s[i] - '0');
      if (out > max_field_value)
        throw parse_error(field + ": \"" + s + "\" is out of range [0, " +
                          std::to_string(max_field_value) + "]");
      ++i;
    }
  };
  read(num);
  if (i < s.size() && s[i] == '/') {
    ++i;
    read(den);
    if (den == 0) throw parse_error(field + ": \"" + s + "\" has a zero denominator");
  }
  if (i != s.size()) throw fail();
  return rational(num, den);
}

/// A rational: an integer, a string "7/2", or a number that is exactly a fraction with a
/// denominator up to 64 (3.5, 2.25).
inline rational read_rational(const nlohmann::json& j, const std::string& field) {
  if (j.is_number_integer()) return rational(read_int(j, field));
  if (j.is_string()) return parse_rational_text(j.get<std::string>(), field);
  if (j.is_number_float()) {
    const double x = j.get<double>();
    if (std::isfinite(x) && x >= 0 && x <= static_cast<double>(max_field_value))
      for (int den = 1; den <= 64; ++den) {
        const double scaled = x * den;
        if (scaled == std::floor(scaled)) return rational(static_cast<std::int64_t>(scaled), den);
      }
    throw parse_error(field + ": " + describe_json(j) +
                      " is not a non-negative fraction with a denominator up to 64; write it as "
                      "a string such as \"7/3\"");
  }
  throw parse_error(field + ": expected a number or a string such as \"7/2\", got " +
                    std::string(type_name(j)) + " " + describe_json(j));
}

/// An array, with an exact length when `length` >= 0.
inline const nlohmann::json& read_array(const nlohmann::json& j, const std::string& field,
                                        long length = -1) {
  if (!j.is_array())
    throw parse_error(field + ": expected an array, got " + std::string(type_name(j)) + " " +
                      describe_json(j));
  if (length >= 0 && static_cast<long>(j.size()) != length)
    throw parse_error(field + ": expected " + std::to_string(length) + " elements, got " +
                      std::to_string(j.size()));
  return j;
}

}  // namespace detail
}  // namespace io
}  // namespace evit
