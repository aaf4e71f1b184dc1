# Provides the INTERFACE target `portsock_cmocka` that test executables link.
#
# Native builds use the system cmocka (Debian: libcmocka-dev). Its CMake
# package exports no imported target on Debian 12 (only CMOCKA_LIBRARY /
# CMOCKA_INCLUDE_DIR), so every form is accepted, with pkg-config last.
#
# Windows (mingw-w64 cross) builds compile cmocka from source as a static
# library: scripts/run-tests.sh fetches the sources into .deps/cmocka.

include_guard(GLOBAL)

if(TARGET portsock_cmocka)
  return()
endif()

add_library(portsock_cmocka INTERFACE)

if(WIN32)
  set(PORTSOCK_CMOCKA_SOURCE_DIR "${PROJECT_SOURCE_DIR}/.deps/cmocka"
      CACHE PATH "cmocka source tree used for Windows (cross) builds")
  if(NOT EXISTS "${PORTSOCK_CMOCKA_SOURCE_DIR}/CMakeLists.txt")
    message(FATAL_ERROR
      "cmocka sources not found in PORTSOCK_CMOCKA_SOURCE_DIR="
      "'${PORTSOCK_CMOCKA_SOURCE_DIR}'.\n"
      "Run scripts/run-tests.sh once (it fetches them with 'apt-get source "
      "cmocka' into .deps/cmocka), point PORTSOCK_CMOCKA_SOURCE_DIR at a "
      "cmocka 1.1.x source tree, or configure with -DPORTSOCK_BUILD_TESTS=OFF.")
  endif()

  if(NOT TARGET cmocka-static)
    # cmocka 1.1.5 options (DefineOptions.cmake). Normal variables override
    # option() in the subdirectory (policy CMP0077 via the caller's
    # cmake_minimum_required); the cache entries make it work either way.
    set(UNIT_TESTING OFF CACHE BOOL "cmocka: build its own tests" FORCE)
    set(WITH_EXAMPLES OFF CACHE BOOL "cmocka: build its examples" FORCE)
    set(WITH_STATIC_LIB ON CACHE BOOL "cmocka: build a static library" FORCE)
    set(WITH_CMOCKERY_SUPPORT OFF CACHE BOOL "cmocka: cmockery header" FORCE)
    set(PICKY_DEVELOPER OFF CACHE BOOL "cmocka: -Werror for cmocka" FORCE)
    mark_as_advanced(UNIT_TESTING WITH_EXAMPLES WITH_STATIC_LIB
                     WITH_CMOCKERY_SUPPORT PICKY_DEVELOPER)
    add_subdirectory("${PORTSOCK_CMOCKA_SOURCE_DIR}"
                     "${CMAKE_BINARY_DIR}/_deps/cmocka" EXCLUDE_FROM_ALL)
  endif()
  if(NOT TARGET cmocka-static)
    message(FATAL_ERROR "'${PORTSOCK_CMOCKA_SOURCE_DIR}' did not define the "
                        "target cmocka-static (expected cmocka 1.1.x)")
  endif()
  target_link_libraries(portsock_cmocka INTERFACE cmocka-static)
  target_include_directories(portsock_cmocka SYSTEM INTERFACE
                             "${PORTSOCK_CMOCKA_SOURCE_DIR}/include")
else()
  set(_portsock_cmocka_found FALSE)
  find_package(cmocka CONFIG QUIET)
  if(cmocka_FOUND)
    foreach(_t cmocka::cmocka cmocka::cmocka-shared cmocka cmocka-shared)
      if(TARGET ${_t})
        target_link_libraries(portsock_cmocka INTERFACE ${_t})
        set(_portsock_cmocka_found TRUE)
        break()
      endif()
    endforeach()
    if(NOT _portsock_cmocka_found AND CMOCKA_LIBRARY
       AND EXISTS "${CMOCKA_LIBRARY}")
      # Debian 12's cmocka-config.cmake: variables only.
      target_link_libraries(portsock_cmocka INTERFACE "${CMOCKA_LIBRARY}")
      if(CMOCKA_INCLUDE_DIR)
        target_include_directories(portsock_cmocka SYSTEM INTERFACE
                                   "${CMOCKA_INCLUDE_DIR}")
      endif()
      set(_portsock_cmocka_found TRUE)
    endif()
  endif()
  if(NOT _portsock_cmocka_found)
    find_package(PkgConfig QUIET)
    if(PKG_CONFIG_FOUND)
      pkg_check_modules(PORTSOCK_PC_CMOCKA QUIET IMPORTED_TARGET cmocka)
      if(PORTSOCK_PC_CMOCKA_FOUND)
        target_link_libraries(portsock_cmocka INTERFACE PkgConfig::PORTSOCK_PC_CMOCKA)
        set(_portsock_cmocka_found TRUE)
      endif()
    endif()
  endif()
  if(NOT _portsock_cmocka_found)
    message(FATAL_ERROR
      "cmocka not found: install it (Debian: apt-get install libcmocka-dev; "
      "scripts/run-tests.sh does this) or configure with "
      "-DPORTSOCK_BUILD_TESTS=OFF.")
  endif()
  unset(_portsock_cmocka_found)
endif()
