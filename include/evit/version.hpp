// SPDX-License-Identifier: MIT
// The single source of evit's version: CMakeLists.txt reads these three lines.
#pragma once

#define EVIT_VERSION_MAJOR 0
#define EVIT_VERSION_MINOR 1
#define EVIT_VERSION_PATCH 0

namespace evit {
/// The library version as "major.minor.patch".
inline constexpr const char* version_string = "0.1.0";
}  // namespace evit
