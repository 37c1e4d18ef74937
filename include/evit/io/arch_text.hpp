// SPDX-License-Identifier: MIT
// The compact text form of an arch, exact in both directions:
//   r224 first_conv=16x1:k3 stem=16x1:e1k3 C0=24x3:e3k3 ... T5=256x2:m4h16q1v2
// Grammar:
//   arch   := "r" INT { " " stage }                one stage per stage of the space, in order
//   stage  := NAME "=" WIDTH "x" DEPTH [ ":" layers ]
//   layers := dims { "," dims }                    one group (all layers alike) or one per layer
//   dims   := { LETTER VALUE }                     e expand_ratio, k kernel_size, m mlp_ratio,
//                                                   h num_heads, q qk_scale, v v_scale
//   VALUE  := INT | INT "/" INT                    (a fraction only for m, e.g. m7/2)
// Omitted dimensions are 0 (the dimension does not apply), except num_heads in a stage whose heads
// follow from its width (head_dim<D>), where it is filled in as width / D.
#pragma once

#include <cctype>
#include <cstdint>
#include <string>
#include <vector>

#include "evit/core/error.hpp"
#include "evit/io/detail/json_read.hpp"
#include "evit/space/arch.hpp"
#include "evit/space/descriptor.hpp"
#include "evit/space/search_space.hpp"
#include "evit/space/validate.hpp"

namespace evit {

namespace io {
namespace detail {

inline std::string format_dims(const layer_dims& l) {
  std::string s;
  auto put = [&s](char c, int v) {
    if (v != 0) s += c + std::to_string(v);
  };
  put('e', l.expand_ratio);
  put('k', l.kernel_size);
  if (l.mlp_ratio != rational(0)) s += 'm' + l.mlp_ratio.to_string();
  put('h', l.num_heads);
  put('q', l.qk_scale);
  put('v', l.v_scale);
  return s;
}

/// A cursor over the text that reports positions in its errors.
class text_reader {
 public:
  explicit text_reader(const std::string& text) : t_(text) {}

  [[noreturn]] void fail(const std::string& what) const {
    std::string near = t_.substr(pos_, 12);
    throw parse_error("arch text, position " + std::to_string(pos_) + context_ + ": " + what +
                      (pos_ < t_.size() ? " (at \"" + near + "\")" : " (at the end)"));
  }
  void set_context(const std::string& c) { context_ = c; }
  bool at_end() const { return pos_ >= t_.size(); }
  char peek() const { return at_end() ? '\0' : t_[pos_]; }
  bool accept(char c) {
    if (peek() != c) return false;
    ++pos_;
    return true;
  }
  void expect(char c, const char* what) {
    if (!accept(c)) fail(std::string("expected '") + c + "' " + what);
  }
  void skip_spaces() {
    while (!at_end() && std::isspace(static_cast<unsigned char>(t_[pos_]))) ++pos_;
  }
  bool at_space() const { return !at_end() && std::isspace(static_cast<unsigned char>(peek())); }

  int read_int(const char* what) {
    if (!std::isdigit(static_cast<unsigned char>(peek())))
      fail(std::string("expected a non-negative integer for ") + what);
    std::int64_t v = 0;
    while (std::isdigit(static_cast<unsigned char>(peek()))) {
      v = v * 10 + (t_[pos_] - '0');
      if (v > max_field_value)
        fail(std::string(what) + " is out of range [0, " + std::to_string(max_field_value) + "]");
      ++pos_;
    }
    return static_cast<int>(v);
  }
  std::string read_name() {
    std::string s;
    while (std::isalnum(static_cast<unsigned char>(peek())) || peek() == '_') s += t_[pos_++];
    if (s.empty()) fail("expected a stage name");
    return s;
  }

 private:
  const std::string& t_;
  std::size_t pos_ = 0;
  std::string context_;
};

inline layer_dims read_dims(text_reader& r) {
  layer_dims l;
  bool seen[6] = {};
  const std::string letters = "ekmhqv";
  while (true) {
    const char c = r.peek();
    const auto idx = letters.find(c);
    if (c == '\0' || idx == std::string::npos) break;
    if (seen[idx]) r.fail(std::string("dimension '") + c + "' given twice in one layer");
    seen[idx] = true;
    r.accept(c);
    switch (c) {
      case 'e':
        l.expand_ratio = r.read_int("expand_ratio");
        break;
      case 'k':
        l.kernel_size = r.read_int("kernel_size");
        break;
      case 'h':
        l.num_heads = r.read_int("num_heads");
        break;
      case 'q':
        l.qk_scale = r.read_int("qk_scale");
        break;
      case 'v':
        l.v_scale = r.read_int("v_scale");
        break;
      case 'm': {
        const int num = r.read_int("mlp_ratio");
        int den = 1;
        if (r.accept('/')) {
          den = r.read_int("mlp_ratio denominator");
          if (den == 0) r.fail("mlp_ratio has a zero denominator");
        }
        l.mlp_ratio = rational(num, den);
        break;
      }
    }
  }
  return l;
}

}  // namespace detail
}  // namespace io

/// The compact text of `a` in space `d` (stage names from the space). Exact: parse_arch gives `a`
/// back, for any arch with the space's number of stages.
inline std::string to_string(const space_descriptor& d, const arch& a) {
  if (a.num_stages() != d.num_stages())
    throw invalid_arch("arch has " + std::to_string(a.num_stages()) + " stages; space " + d.name +
                       " has " + std::to_string(d.num_stages()));
  std::string s = "r" + std::to_string(a.resolution());
  for (int st = 0; st < a.num_stages(); ++st) {
    s += ' ' + d.stages[st].name + '=' + std::to_string(a.width(st)) + 'x' +
         std::to_string(a.depth(st));
    bool same = true;
    for (int j = 1; j < a.depth(st); ++j) same = same && a.layer(st, j) == a.layer(st, 0);
    if (a.depth(st) == 0) continue;
    s += ':';
    const int groups = same ? 1 : a.depth(st);
    for (int j = 0; j < groups; ++j) {
      if (j) s += ',';
      s += io::detail::format_dims(a.layer(st, j));
    }
  }
  return s;
}

/// Parses the compact text form into an arch of space `d` and validates it.
/// @throws evit::parse_error (with the position) for malformed text, evit::invalid_arch for an
///         arch outside the space.
inline arch parse_arch(const space_descriptor& d, const std::string& text) {
  io::detail::text_reader r(text);
  r.skip_spaces();
  r.expect('r', "(the text starts with the resolution, e.g. r224)");
  arch a;
  a.set_resolution(r.read_int("resolution"));
  for (int s = 0; s < d.num_stages(); ++s) {
    const stage_descriptor& st = d.stages[s];
    if (!r.at_space()) r.fail("expected a space, then stage " + st.name);
    r.skip_spaces();
    const std::string name = r.read_name();
    if (name != st.name)
      r.fail("stage " + std::to_string(s) + " must be '" + st.name + "', got '" + name + "'");
    r.set_context(" (stage " + name + ")");
    r.expect('=', "after the stage name");
    const int width = r.read_int("width");
    r.expect('x', "between width and depth");
    const int depth = r.read_int("depth");
    if (a.num_layers() + depth > arch::max_layers)
      r.fail("depth " + std::to_string(depth) + " exceeds the capacity of " +
             std::to_string(arch::max_layers) + " layers");
    std::vector<layer_dims> groups;
    if (r.accept(':')) {
      groups.push_back(io::detail::read_dims(r));
      while (r.accept(',')) groups.push_back(io::detail::read_dims(r));
    }
    if (!groups.empty() && groups.size() != 1 && static_cast<int>(groups.size()) != depth)
      r.fail(std::to_string(groups.size()) + " layer groups for depth " + std::to_string(depth) +
             " (give 1 for all layers or one per layer)");
    a.add_stage(width, depth, groups.empty() ? layer_dims{} : groups[0]);
    for (int j = 0; j < depth; ++j) {
      layer_dims& l = a.layer(s, j);
      if (groups.size() > 1) l = groups[j];
      if (l.num_heads == 0 && st.heads == head_semantics::width_over_dim && st.head_dim > 0)
        l.num_heads = width / st.head_dim;
    }
    const char c = r.peek();
    if (c != '\0' && !r.at_space())
      r.fail(std::string("unexpected character '") + c + "' (dimension letters are e k m h q v)");
    r.set_context("");
  }
  r.skip_spaces();
  if (!r.at_end())
    r.fail("text continues after the last stage (" + std::to_string(d.num_stages()) +
           " stages in space " + d.name + ")");
  validate(d, a);
  return a;
}

/// Typed shorthands: evit::parse<Space>(text), evit::to_string<Space>(a).
template <class Space>
arch parse(const std::string& text) {
  static_assert(is_search_space_v<Space>, "evit::parse<Space>: Space must be a search_space<...>");
  return parse_arch(Space::descriptor(), text);
}
template <class Space>
std::string to_string(const arch& a) {
  static_assert(is_search_space_v<Space>,
                "evit::to_string<Space>: Space must be a search_space<...>");
  return to_string(Space::descriptor(), a);
}

}  // namespace evit
