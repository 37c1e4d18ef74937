// SPDX-License-Identifier: MIT
// A file's bytes in memory, read-only, with shared ownership: a private read-only memory map
// (POSIX mmap) where it can, else one aligned buffer the file is read into. Used by
// io/safetensors.hpp, which states what it guarantees about files changed while they are open.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "evit/core/error.hpp"

// EVIT_IO_HAS_MMAP: 1 on POSIX systems (files mapped with mmap), else 0 (files read with
// std::ifstream). Define it to 0 to build the portable path on POSIX (its tests do).
#ifndef EVIT_IO_HAS_MMAP
#if defined(__unix__) || defined(__unix) || (defined(__APPLE__) && defined(__MACH__))
#define EVIT_IO_HAS_MMAP 1
#else
#define EVIT_IO_HAS_MMAP 0
#endif
#endif
#if EVIT_IO_HAS_MMAP
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace evit {
namespace io {

/// Where the bytes of a safetensors_file live.
enum class storage {
  mapped,  ///< a read-only, private memory map of the file (POSIX mmap)
  read,    ///< one 64-byte aligned heap buffer the file was read into
  memory,  ///< the bytes given to safetensors_file::from_bytes
};

inline const char* storage_name(storage s) {
  switch (s) {
    case storage::mapped:
      return "mapped";
    case storage::read:
      return "read";
    case storage::memory:
      return "memory";
  }
  return "?";
}

namespace detail {

/// Immutable bytes with shared ownership: copies share them, and the last owner unmaps or frees
/// them.
struct shared_bytes {
  std::shared_ptr<const std::uint8_t> data;
  std::size_t size = 0;
  storage kind = storage::memory;
};

/// Alignment of the buffer a file is read into (a cache line; F32 tensors need 4).
constexpr std::size_t read_alignment = 64;

struct aligned_release {
  void operator()(const std::uint8_t* p) const noexcept {
    ::operator delete(const_cast<std::uint8_t*>(p), std::align_val_t(read_alignment));
  }
};

/// An aligned buffer of n bytes (at least one, so that data() is never null).
inline std::shared_ptr<std::uint8_t> aligned_buffer(std::size_t n) {
  auto* p =
      static_cast<std::uint8_t*>(::operator new(n > 0 ? n : 1, std::align_val_t(read_alignment)));
  return std::shared_ptr<std::uint8_t>(p, aligned_release());
}

inline shared_bytes from_vector(std::vector<std::uint8_t> v) {
  auto owner = std::make_shared<std::vector<std::uint8_t>>(std::move(v));
  shared_bytes b;
  b.size = owner->size();
  b.data = std::shared_ptr<const std::uint8_t>(owner, owner->data());
  b.kind = storage::memory;
  return b;
}

[[noreturn]] inline void fail_io(const std::string& path, const std::string& what, int err) {
  throw format_error(path + ": " + what + (err ? std::string(": ") + std::strerror(err) : ""));
}

#if EVIT_IO_HAS_MMAP
struct fd_guard {
  int fd = -1;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

/// read() until n bytes or the end of the file; returns the bytes read.
inline std::size_t read_fully(int fd, std::uint8_t* out, std::size_t n, const std::string& path) {
  std::size_t got = 0;
  while (got < n) {
    const ::ssize_t r = ::read(fd, out + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) fail_io(path, "read failed", errno);
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  return got;
}
#endif

/// The bytes of the file at `path`: mapped (when `map` and the platform and the file allow it),
/// else read in one aligned buffer. A regular file's size is taken once, at open: the bytes are
/// those of the file at that size.
/// @throws evit::format_error naming the path and the reason.
inline shared_bytes load_file(const std::string& path, bool map) {
#if EVIT_IO_HAS_MMAP
  fd_guard g;
  do {
    g.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  } while (g.fd < 0 && errno == EINTR);
  if (g.fd < 0) throw format_error(path + ": cannot open the file");
  struct stat st {};
  if (::fstat(g.fd, &st) != 0) fail_io(path, "cannot open the file (fstat)", errno);
  if (S_ISDIR(st.st_mode)) throw format_error(path + ": cannot open the file: it is a directory");
  shared_bytes b;
  if (S_ISREG(st.st_mode)) {
    if (static_cast<std::uint64_t>(st.st_size) > std::numeric_limits<std::size_t>::max() / 2)
      throw format_error(path + ": " + std::to_string(st.st_size) +
                         " bytes do not fit in this machine's address space");
    const auto size = static_cast<std::size_t>(st.st_size);
    if (map && size > 0) {
      void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, g.fd, 0);
      if (p != MAP_FAILED) {
        b.data = std::shared_ptr<const std::uint8_t>(
            static_cast<const std::uint8_t*>(p),
            [size](const std::uint8_t* q) { ::munmap(const_cast<std::uint8_t*>(q), size); });
        b.size = size;
        b.kind = storage::mapped;
        return b;
      }  // else read it (a file system without mmap, an exhausted address space, ...)
    }
    auto buf = aligned_buffer(size);
    b.size = read_fully(g.fd, buf.get(), size, path);  // fewer when the file shrank meanwhile
    b.data = std::move(buf);
    b.kind = storage::read;
    return b;
  }
  // A pipe or a device: no size to map or to allocate up front; read it to its end.
  std::vector<std::uint8_t> v;
  std::size_t used = 0;
  for (;;) {
    v.resize(std::max<std::size_t>(v.size() * 2, 1u << 16));
    const std::size_t want = v.size() - used;
    const std::size_t got = read_fully(g.fd, v.data() + used, want, path);
    used += got;
    if (got < want) break;
  }
  v.resize(used);
  b = from_vector(std::move(v));
  b.kind = storage::read;
  return b;
#else
  (void)map;
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw format_error(path + ": cannot open the file");
  const std::streamoff end = in.tellg();
  if (end < 0) throw format_error(path + ": cannot read the file's size");
  in.seekg(0);
  const auto size = static_cast<std::size_t>(end);
  auto buf = aligned_buffer(size);
  in.read(reinterpret_cast<char*>(buf.get()), static_cast<std::streamsize>(size));
  shared_bytes b;
  b.size = static_cast<std::size_t>(in.gcount());
  b.data = std::move(buf);
  b.kind = storage::read;
  return b;
#endif
}

/// Drops the whole pages inside [p, p + n) of a read-only private file mapping from the resident
/// set (madvise MADV_DONTNEED): they were never written, so a later read faults them back in from
/// the file.
inline void release_pages(const std::uint8_t* p, std::size_t n) {
#if EVIT_IO_HAS_MMAP && defined(MADV_DONTNEED)
  static const long page_size = ::sysconf(_SC_PAGESIZE);
  if (page_size <= 0 || n == 0) return;
  const auto page = static_cast<std::uintptr_t>(page_size);
  const auto at = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t begin = (at + page - 1) / page * page, end = (at + n) / page * page;
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
#else
  (void)p;
  (void)n;
#endif
}

/// The file that writing `path` should replace by a rename (see safetensors_writer::write): the
/// regular file that `path` names, symbolic links resolved; empty when `path` names no file yet
/// or something else (a device, a pipe), or off POSIX: then `path` is written directly.
inline std::string replace_target(const std::string& path) {
#if EVIT_IO_HAS_MMAP
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return "";
  char* real = ::realpath(path.c_str(), nullptr);
  if (!real) return "";
  std::string out(real);
  std::free(real);
  return out;
#else
  (void)path;
  return "";
#endif
}

/// Renames the complete file `from` over `target` (keeping target's permission bits).
inline void replace_file(const std::string& from, const std::string& target,
                         const std::string& path) {
#if EVIT_IO_HAS_MMAP
  struct stat st {};
  if (::stat(target.c_str(), &st) == 0) ::chmod(from.c_str(), st.st_mode & 07777);
#endif
  if (std::rename(from.c_str(), target.c_str()) != 0) {
    const int err = errno;
    std::remove(from.c_str());
    fail_io(path, "write failed: cannot rename " + from + " over it", err);
  }
}

}  // namespace detail
}  // namespace io
}  // namespace evit
