# A test that a program rejects bad input clearly: it must exit with a non-zero code (not a crash)
# AND print a message matching a regular expression on stderr.
#
#   cmake -DEXPECT=<regex> [-DEXIT_CODE=<n>] -P expect_failure.cmake -- <program> [args...]
#
# EXPECT is matched against the program's whole stderr (use it to require that the message names
# the bad value); EXIT_CODE, when given, is the exact exit code required. Arguments must not
# contain semicolons (CMake list separators).
cmake_minimum_required(VERSION 3.16)

if(NOT DEFINED EXPECT OR EXPECT STREQUAL "")
  message(FATAL_ERROR "expect_failure.cmake: set -DEXPECT=<regex>")
endif()

set(command)
set(after_separator FALSE)
math(EXPR last "${CMAKE_ARGC} - 1")
foreach(i RANGE ${last})
  if(after_separator)
    list(APPEND command "${CMAKE_ARGV${i}}")
  elseif(CMAKE_ARGV${i} STREQUAL "--")
    set(after_separator TRUE)
  endif()
endforeach()
if(NOT command)
  message(FATAL_ERROR "expect_failure.cmake: no command after --")
endif()

execute_process(COMMAND ${command} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
string(REPLACE ";" " " shown "${command}")
message("command: ${shown}\nexit code: ${code}\nstdout:\n${out}\nstderr:\n${err}")

if(NOT code MATCHES "^[0-9]+$")
  message(FATAL_ERROR "FAIL: the program did not exit normally (${code}); a crash is no rejection")
endif()
if(code EQUAL 0)
  message(FATAL_ERROR "FAIL: exit code 0 for bad input; a non-zero exit code was required")
endif()
if(DEFINED EXIT_CODE AND NOT code EQUAL EXIT_CODE)
  message(FATAL_ERROR "FAIL: exit code ${code}, expected ${EXIT_CODE}")
endif()
if(NOT err MATCHES "${EXPECT}")
  message(FATAL_ERROR "FAIL: stderr does not match the expected message: ${EXPECT}")
endif()
message("PASS: exit code ${code} and the expected message")
