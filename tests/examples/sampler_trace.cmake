# Smoke runs of examples/sampler_trace (included by tests/examples/CMakeLists.txt).
add_test(NAME "example: sampler_trace --help" COMMAND sampler_trace --help)
set_tests_properties("example: sampler_trace --help" PROPERTIES
  PASS_REGULAR_EXPRESSION "Usage: sampler_trace")
add_test(NAME "example: sampler_trace 300 steps with a CSV trace"
  COMMAND sampler_trace --steps 300 --seed 3 --csv ${CMAKE_CURRENT_BINARY_DIR}/sampler_trace.csv)
set_tests_properties("example: sampler_trace 300 steps with a CSV trace" PROPERTIES
  PASS_REGULAR_EXPRESSION "complexity-aware +[0-9.]+ +\\[1[0-9][0-9]\\.[0-9], 1[0-9][0-9][0-9]\\.[0-9]\\].*100\\.0%.*trace written")
add_test(NAME "example: sampler_trace every walk" COMMAND sampler_trace --steps 50 --walk cyclic)
set_tests_properties("example: sampler_trace every walk" PROPERTIES
  PASS_REGULAR_EXPRESSION "walk cyclic")
evit_add_failure_test(NAME "example: sampler_trace rejects a bad flag" EXIT_CODE 2
  EXPECT "^sampler_trace: unknown option '--stepz' \\(see --help\\)\n$"
  COMMAND sampler_trace --stepz 10)
evit_add_failure_test(NAME "example: sampler_trace names a bad flag" EXIT_CODE 2
  EXPECT "^sampler_trace: --steps: 'ten' is not an integer in \\[2, 100000000\\] \\(see --help\\)\n$"
  COMMAND sampler_trace --steps ten)
evit_add_failure_test(NAME "example: sampler_trace names a bad walk" EXIT_CODE 2
  EXPECT "^sampler_trace: --walk: unknown level walk \"zigzag\"; expected adjacent_step, [^\n]* \\(see --help\\)\n$"
  COMMAND sampler_trace --walk zigzag)
