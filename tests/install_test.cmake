# ctest "install: ..." runs this with -DBUILD_DIR, -DSOURCE_DIR, -DWORK_DIR, -DGENERATOR, -DMODE:
#   MODE=package: cmake --install to a prefix, move the prefix (relocatable), then configure,
#                 build and run tests/install against the moved prefix with find_package(evit);
#   MODE=subdirectory: configure tests/install with add_subdirectory(<source>), build, run.
# The header-only consumer builds and runs in both modes, the dispatching one (evit_enable_dispatch)
# in package mode. Both read the phone latency tables without a path: the installed ones in
# package mode, the source tree's in subdirectory mode.
cmake_minimum_required(VERSION 3.21)
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  message("${out}")
  set(output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
if(MODE STREQUAL "package")
  run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix)
  file(RENAME ${WORK_DIR}/prefix ${WORK_DIR}/moved-prefix)  # proves the package is relocatable
  # The installed package also provides evit_enable_dispatch (compiling every ISA takes minutes,
  # so only this mode builds the dispatching consumer).
  set(args -DCMAKE_PREFIX_PATH=${WORK_DIR}/moved-prefix -DEVIT_CONSUMER_DISPATCH=ON)
else()
  set(args -DEVIT_SOURCE_DIR=${SOURCE_DIR})
endif()
# Debug: this checks that the package builds and runs, not its speed, and compiling the forward
# pass once per ISA at -O3 takes minutes.
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install -B ${WORK_DIR}/build -G ${GENERATOR}
    -DCMAKE_BUILD_TYPE=Debug ${args})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/consumer)
# The phone tables: the installed copy in the moved prefix, or the source tree's.
if(MODE STREQUAL "package")
  set(tables ${WORK_DIR}/moved-prefix/share/evit/mobile-lut/pixel6.json)
else()
  set(tables ${SOURCE_DIR}/data/mobile-lut/pixel6.json)
endif()
string(FIND "${output}" "(tables: ${tables})" at)
if(at EQUAL -1)
  message(FATAL_ERROR "the consumer did not read the phone table ${tables}:\n${output}")
endif()
if(MODE STREQUAL "package")
  run(${WORK_DIR}/build/consumer_dispatch)
endif()
file(REMOVE_RECURSE ${WORK_DIR})
