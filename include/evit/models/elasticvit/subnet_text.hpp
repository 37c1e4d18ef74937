// SPDX-License-Identifier: MIT
// A subnet given as text in any of the forms a user may have at hand, told apart by their first
// character: the compact text form ("r128 first_conv=16x1:k3 ..."), JSON ("{...}"), the official
// 10-list ("[128, [16, ...], ...]"), or, in the official space, a released model's name
// ("elastic_T1" or "T1").
//   evit::arch a = evit::elasticvit::parse_subnet<space>(argv[1]);
#pragma once

#include <string>
#include <type_traits>

#include "evit/core/error.hpp"
#include "evit/io/arch_json.hpp"
#include "evit/io/arch_text.hpp"
#include "evit/models/elasticvit/official_list.hpp"
#include "evit/models/elasticvit/released.hpp"
#include "evit/models/elasticvit/space.hpp"
#include "evit/simd/namespace.hpp"
#include "evit/space/arch.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace elasticvit {

/// The subnet of Space that `text` describes (header comment), validated.
/// @throws evit::parse_error naming the position or field, evit::invalid_arch for a subnet
///         outside the space, evit::invalid_argument for an unknown released name.
template <class Space>
arch parse_subnet(const std::string& text) {
  if (text.empty()) throw parse_error("subnet: empty text");
  if (text[0] == '[') return from_official_list<Space>(text);
  if (text[0] == '{') return from_json_text(Space::descriptor(), text);
  if (text[0] == 'r' && text.size() > 1 && text[1] >= '0' && text[1] <= '9')
    return evit::parse<Space>(text);
  if constexpr (std::is_same_v<Space, official_space>) {
    return released(text);
  } else {
    throw parse_error("subnet: \"" + text + "\" is not a subnet of space " +
                      Space::descriptor().name +
                      " (give the compact text, JSON or an official 10-list)");
  }
}

}  // namespace elasticvit
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
