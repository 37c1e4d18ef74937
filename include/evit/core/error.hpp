// SPDX-License-Identifier: MIT
// The exception hierarchy: every error evit throws derives from evit::error.
// Messages name the field, the offending value and what was allowed.
#pragma once

#include <stdexcept>
#include <string>

namespace evit {

/// Base of every exception evit throws.
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// An arch (subnet) that does not belong to its search space: names stage, layer, dimension,
/// value and the allowed values.
class invalid_arch : public error {
 public:
  using error::error;
};

/// Malformed text or JSON (an arch string, an official arch list, a config): names the
/// position or field.
class parse_error : public error {
 public:
  using error::error;
};

/// A malformed or inconsistent file (weights, tables): names the tensor or field.
class format_error : public error {
 public:
  using error::error;
};

/// A constraint no subnet of the space can satisfy.
class infeasible : public error {
 public:
  using error::error;
};

/// A bad argument to a public entry point (sizes, options).
class invalid_argument : public error {
 public:
  using error::error;
};

}  // namespace evit
