// SPDX-License-Identifier: MIT
// Progress of a long step, with the time left: for programs that profile thousands of blocks or
// run searches for minutes. On a terminal one line is rewritten in place (at most every 0.2 s);
// into a file or a pipe a line is written at most every 10 s, so logs stay short. A disabled
// meter prints nothing.
//   evit::progress_meter p("profiling blocks", 3073);
//   for (...) p.update(++done);          // "profiling blocks: 1200/3073 (39%), 11 s, ETA 17 s"
//   p.finish("3073 blocks");             // "profiling blocks: done in 28 s (3073 blocks)"
// The time left is the elapsed time per unit of work so far times the units left: an estimate
// that assumes the rest costs what the start did.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <string>
#include <unistd.h>
#include <utility>

namespace evit {

/// "850 ms", "42 s", "3 min 05 s", "1 h 02 min".
inline std::string format_duration(double seconds) {
  char b[48];
  if (!(seconds >= 0)) seconds = 0;
  if (seconds < 1)
    std::snprintf(b, sizeof b, "%.0f ms", seconds * 1e3);
  else if (seconds < 60)
    std::snprintf(b, sizeof b, "%.0f s", seconds);
  else if (seconds < 3600)
    std::snprintf(b, sizeof b, "%d min %02d s", static_cast<int>(seconds) / 60,
                  static_cast<int>(seconds) % 60);
  else
    std::snprintf(b, sizeof b, "%d h %02d min", static_cast<int>(seconds) / 3600,
                  static_cast<int>(seconds) / 60 % 60);
  return b;
}

/// A progress line with the elapsed time and an estimate of the time left.
class progress_meter {
 public:
  /// `label` starts every line; `total` is the amount of work (0: unknown, no estimate);
  /// `enabled = false` silences it (a --quiet flag). Lines go to `out` (stderr by default).
  progress_meter(std::string label, std::size_t total, bool enabled = true, std::FILE* out = stderr)
      : label_(std::move(label)),
        total_(total),
        out_(enabled ? out : nullptr),
        tty_(out_ != nullptr && ::isatty(::fileno(out_)) != 0),
        start_(clock::now()),
        last_(start_) {}
  progress_meter(const progress_meter&) = delete;
  progress_meter& operator=(const progress_meter&) = delete;
  ~progress_meter() {
    if (open_line_) std::fputc('\n', out_);
  }

  /// Seconds since the meter started.
  double elapsed() const { return std::chrono::duration<double>(clock::now() - start_).count(); }
  /// The estimated seconds left after `done` of the total; negative when unknown.
  double remaining(std::size_t done) const {
    if (total_ == 0 || done == 0) return -1;
    if (done >= total_) return 0;
    return elapsed() / static_cast<double>(done) * static_cast<double>(total_ - done);
  }

  /// Reports that `done` units of the total are finished; `note` follows the numbers. Prints
  /// when a line is due (see the header comment).
  void update(std::size_t done, const std::string& note = "") { update(done, total_, note); }
  /// The same, for work whose total becomes known (or changes) on the way.
  void update(std::size_t done, std::size_t total, const std::string& note = "") {
    total_ = total;
    if (!out_) return;
    const auto now = clock::now();
    const double since = std::chrono::duration<double>(now - last_).count();
    if (printed_ && since < (tty_ ? 0.2 : 10.0)) return;
    last_ = now;
    printed_ = true;
    std::string line = label_ + ": " + std::to_string(done);
    if (total_ > 0) {
      line += "/" + std::to_string(total_) + " (" +
              std::to_string(static_cast<int>(100.0 * static_cast<double>(done) /
                                              static_cast<double>(total_))) +
              "%)";
    }
    line += ", " + format_duration(elapsed());
    const double left = remaining(done);
    if (left >= 0) line += ", ETA " + format_duration(left);
    if (!note.empty()) line += ", " + note;
    emit(line);
  }

  /// The closing line: the total time, and `note` when given.
  void finish(const std::string& note = "") {
    if (!out_) return;
    std::string line = label_ + ": done in " + format_duration(elapsed());
    if (!note.empty()) line += " (" + note + ")";
    emit(line);
    if (open_line_) std::fputc('\n', out_);
    open_line_ = false;
    std::fflush(out_);
  }

 private:
  using clock = std::chrono::steady_clock;

  void emit(const std::string& line) {
    if (tty_) {  // rewrite the line in place; pad over a longer previous one
      const std::size_t pad = width_ > line.size() ? width_ - line.size() : 0;
      std::fprintf(out_, "\r%s%*s", line.c_str(), static_cast<int>(pad), "");
      width_ = line.size();
      open_line_ = true;
    } else {
      std::fprintf(out_, "%s\n", line.c_str());
    }
    std::fflush(out_);
  }

  std::string label_;
  std::size_t total_;
  std::FILE* out_;
  bool tty_;
  clock::time_point start_, last_;
  bool printed_ = false, open_line_ = false;
  std::size_t width_ = 0;
};

}  // namespace evit
