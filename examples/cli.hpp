// SPDX-License-Identifier: MIT
// What the examples share on their command lines (CLI11, Debian: libcli11-dev): value checks
// whose messages name the bad value, and main()'s error handling, so that every example fails
// the same way: one line "<program>: <message>" on stderr and a non-zero exit code.
#pragma once

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>
#include <string>

#include <evit/simd/isa.hpp>

namespace example {

/// An integer in [lo, hi].
inline CLI::Validator integer_in(long long lo, long long hi) {
  const std::string range = "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  return CLI::Validator(
      [lo, hi, range](std::string& v) -> std::string {
        char* end = nullptr;
        errno = 0;
        const long long n = std::strtoll(v.c_str(), &end, 10);
        if (v.empty() || *end != '\0' || errno != 0 || n < lo || n > hi)
          return "'" + v + "' is not an integer in " + range;
        return "";
      },
      "in " + range);
}

/// A finite number above 0.
inline CLI::Validator positive_number() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        char* end = nullptr;
        const double x = std::strtod(v.c_str(), &end);
        if (v.empty() || *end != '\0' || !(x > 0) || !std::isfinite(x))
          return "'" + v + "' is not a positive number";
        return "";
      },
      "> 0");
}

/// A number in [0, 1].
inline CLI::Validator fraction() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        char* end = nullptr;
        const double x = std::strtod(v.c_str(), &end);
        if (v.empty() || *end != '\0' || !(x >= 0 && x <= 1))
          return "'" + v + "' is not a number in [0, 1]";
        return "";
      },
      "in [0, 1]");
}

/// --isa I: the kernels of ISA I (evit::simd::set_isa) instead of the best this CPU has; an ISA
/// the CPU lacks or an unknown name is an error that says why.
inline void add_isa_option(CLI::App& app) {
  app.add_option_function<std::string>(
      "--isa", [](const std::string& v) { evit::simd::set_isa(evit::simd::parse_isa(v)); },
      "sse2, avx2, avx512 or neon (default: the best this CPU has; also EVIT_ISA)");
}

/// Parses the command line, then returns body(). --help prints the help and returns 0; a bad
/// command line prints "<program>: <what is wrong> (see --help)" and returns `usage_error`; an
/// exception from body() prints "<program>: <what>" and returns 1.
template <class Body>
int run(CLI::App& app, int argc, char** argv, int usage_error, Body&& body) {
  const std::string name = app.get_name();
  try {
    app.allow_extras();  // an unknown option gets the message below, which names it  // an unknown
                         // option gets the message below, which names it
    try {
      app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
      std::fputs(app.help().c_str(), stdout);
      return 0;
    } catch (const CLI::ParseError& e) {
      std::fprintf(stderr, "%s: %s (see --help)\n", name.c_str(), e.what());
      return usage_error;
    }
    if (!app.remaining().empty()) {
      const std::string x = app.remaining().front();
      std::fprintf(stderr, "%s: %s '%s' (see --help)\n", name.c_str(),
                   x.rfind("-", 0) == 0 ? "unknown option" : "unexpected argument", x.c_str());
      return usage_error;
    }
    return body();
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "%s: out of memory\n", name.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", name.c_str(), e.what());
  }
  return 1;
}

}  // namespace example
