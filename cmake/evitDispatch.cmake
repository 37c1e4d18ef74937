# Run-time ISA dispatch for programs that use evit (include/evit/simd/isa.hpp).
#
#   evit_enable_dispatch(<target>...)
#
# compiles evit's kernels and the ElasticViT and AutoFormer forward passes once per ISA of the target platform
# (x86-64: SSE2, AVX2 + FMA, AVX-512 F/CD/DQ/BW/VL; AArch64: NEON), each with its own compiler
# flags, links them into every <target>, and defines EVIT_DISPATCH there: the program then runs
# the best ISA its CPU has (or the one EVIT_ISA / evit::simd::set_isa() asks for). The units are
# built once per project however many targets use them. The rest of the program must be built
# for the platform's baseline (no -mavx2 / -march=native in CMAKE_CXX_FLAGS): code outside the
# ISA units runs on every CPU.
#
# EVIT_ISA_UNIT_OPTIONS, if set, adds compile options to the ISA units (evit's own build: its
# warnings).
#
# The ISA units come first on each target's link line after its own objects, narrowest ISA
# first: where several units hold the same inline function (the standard library's, say), the
# linker keeps the first copy, which is then built for an ISA every caller's CPU has.

# evit_dispatch_isas(<out-var>): the ISAs of the target platform, narrowest first.
function(evit_dispatch_isas out)
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64|x64)$")
    set(${out} sse2 avx2 avx512 PARENT_SCOPE)
  elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64|ARM64)$")
    set(${out} neon PARENT_SCOPE)
  else()
    message(FATAL_ERROR "evit_enable_dispatch: no dispatch ISAs for processor "
                        "'${CMAKE_SYSTEM_PROCESSOR}' (x86-64 and AArch64 have them)")
  endif()
endfunction()

function(_evit_isa_options isa out_number out_flags)
  if(isa STREQUAL "sse2")
    set(number 1)
    set(flags "")
  elseif(isa STREQUAL "avx2")
    set(number 2)
    set(flags -mavx2 -mfma)
  elseif(isa STREQUAL "avx512")
    set(number 3)
    set(flags -mavx512f -mavx512cd -mavx512dq -mavx512bw -mavx512vl -mavx2 -mfma)
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      # GCC 12's own AVX-512 intrinsics headers trip these inside xsimd's math; they say nothing
      # about evit's code.
      list(APPEND flags -Wno-maybe-uninitialized -Wno-uninitialized)
    endif()
  elseif(isa STREQUAL "neon")
    set(number 4)
    set(flags "")
  endif()
  set(${out_number} ${number} PARENT_SCOPE)
  set(${out_flags} "${flags}" PARENT_SCOPE)
endfunction()

function(evit_enable_dispatch)
  if(CMAKE_CXX_FLAGS MATCHES "-march=|-mavx|-mfma|-msse4|-mssse3")
    message(FATAL_ERROR "evit_enable_dispatch: CMAKE_CXX_FLAGS (${CMAKE_CXX_FLAGS}) selects an "
                        "ISA; a dispatching program is built for the baseline and its ISA units "
                        "add their own flags. Remove the -m/-march flags.")
  endif()
  evit_dispatch_isas(isas)
  list(GET isas 0 first)
  if(NOT TARGET evit_isa_${first})
    foreach(isa ${isas})
      _evit_isa_options(${isa} number flags)
      add_library(evit_isa_${isa} OBJECT ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/evit_isa_unit.cpp)
      target_link_libraries(evit_isa_${isa} PRIVATE evit::evit)
      target_compile_definitions(evit_isa_${isa} PRIVATE EVIT_DISPATCH EVIT_ISA_UNIT=${number})
      target_compile_options(evit_isa_${isa} PRIVATE ${flags} ${EVIT_ISA_UNIT_OPTIONS})
      # Position-independent: the units also go into shared libraries (the Python module).
      set_target_properties(evit_isa_${isa} PROPERTIES POSITION_INDEPENDENT_CODE ON)
    endforeach()
  endif()
  foreach(target ${ARGN})
    target_compile_definitions(${target} PRIVATE EVIT_DISPATCH)
    foreach(isa ${isas})
      target_link_libraries(${target} PRIVATE evit_isa_${isa})
    endforeach()
  endforeach()
endfunction()
