// SPDX-License-Identifier: MIT
// MPI for evit's searches (the only evit folder that includes <mpi.h>; nothing else in evit
// includes this one): the MPI environment of a program, RAII. Next: mpi/evaluator_pool.hpp.
//   evit::mpi::environment env(argc, argv);   // MPI_Init_thread ... MPI_Finalize
//   if (env.rank() == 0) ...
#pragma once

// evit uses MPI's C interface only: leave out the C++ bindings (removed in MPI-3; Open MPI's
// trip -Wcast-function-type).
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>
#include <string>

#include "evit/core/error.hpp"

namespace evit {
namespace mpi {

/// Throws evit::error naming the MPI call and MPI's own message when `code` is not MPI_SUCCESS.
/// (MPI's default handler aborts the job first; this matters with MPI_ERRORS_RETURN.)
inline void check(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  throw error(std::string("mpi: ") + call + " failed: " + std::string(text, text + len));
}

/// The MPI environment: initialises MPI (thread level MPI_THREAD_FUNNELED: only the thread that
/// made it calls MPI; evaluators may run thread pools of their own) and finalises it when it goes
/// out of scope. One per program; when MPI is already initialised (by the program or another
/// library), it neither initialises nor finalises it.
class environment {
 public:
  environment() : environment(nullptr, nullptr) {}
  environment(int& argc, char**& argv) : environment(&argc, &argv) {}
  environment(const environment&) = delete;
  environment& operator=(const environment&) = delete;
  ~environment() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (owner_ && !finalized) MPI_Finalize();
  }

  /// This process's rank in MPI_COMM_WORLD, 0 ... size() - 1.
  int rank() const { return rank_; }
  /// The number of processes in MPI_COMM_WORLD.
  int size() const { return size_; }
  /// The MPI library's version text (MPI_Get_library_version), e.g. "Open MPI v4.1.4, ...".
  static std::string library() {
    char text[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(text, &len);
    std::string s(text, text + len);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\0')) s.pop_back();
    return s;
  }

 private:
  environment(int* argc, char*** argv) {
    int initialized = 0;
    check(MPI_Initialized(&initialized), "MPI_Initialized");
    if (!initialized) {
      int provided = 0;
      check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
      owner_ = true;
    }
    check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
  }

  bool owner_ = false;
  int rank_ = 0, size_ = 1;
};

}  // namespace mpi
}  // namespace evit
