# Finds evit's dependencies without a version in find_package (Debian's config-version files use
# SameMajorVersion, which would reject newer majors) and checks the minimum versions by hand.
# Used by the build and by the installed evitConfig.cmake.
include(CMakeFindDependencyMacro)

find_dependency(xsimd)
if(xsimd_VERSION VERSION_LESS 8.1)
  message(FATAL_ERROR "evit needs xsimd >= 8.1, found ${xsimd_VERSION}")
endif()
# Debian 12's xsimd package links a non-existent "xtl" (xtensor-stack/xsimd#869): drop it.
if(TARGET xsimd AND NOT TARGET xtl)
  get_target_property(_evit_xsimd_links xsimd INTERFACE_LINK_LIBRARIES)
  if(_evit_xsimd_links)
    list(REMOVE_ITEM _evit_xsimd_links xtl)
    set_property(TARGET xsimd PROPERTY INTERFACE_LINK_LIBRARIES "${_evit_xsimd_links}")
  endif()
endif()

find_dependency(nlohmann_json)
if(nlohmann_json_VERSION VERSION_LESS 3.11)
  message(FATAL_ERROR "evit needs nlohmann_json >= 3.11, found ${nlohmann_json_VERSION}")
endif()

find_dependency(Threads)
