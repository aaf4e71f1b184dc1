# Install rules for the `portsock` library target: header, library, CMake
# package (portsock::portsock) and pkg-config file. Included by the top-level
# CMakeLists.txt after add_library(portsock ...) when PORTSOCK_INSTALL is ON.

include_guard(GLOBAL)

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

if(NOT TARGET portsock)
  message(FATAL_ERROR "PortsockInstall.cmake: include it after add_library(portsock ...)")
endif()

set(PORTSOCK_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/portsock"
    CACHE STRING "Where portsockConfig.cmake is installed (relative to the prefix)")
mark_as_advanced(PORTSOCK_INSTALL_CMAKEDIR)

if(PROJECT_VERSION)
  set(_ps_version "${PROJECT_VERSION}")
else()
  # Fall back to the version in the header.
  file(STRINGS "${PROJECT_SOURCE_DIR}/include/portsock.h" _ps_vlines
       REGEX "^#define PS_VERSION_(MAJOR|MINOR|PATCH) ")
  set(_ps_version "")
  foreach(_part MAJOR MINOR PATCH)
    string(REGEX MATCH "PS_VERSION_${_part} ([0-9]+)" _m "${_ps_vlines}")
    list(APPEND _ps_version "${CMAKE_MATCH_1}")
  endforeach()
  list(JOIN _ps_version "." _ps_version)
endif()

# ---- library, header, CMake package -----------------------------------------

install(TARGETS portsock
        EXPORT portsockTargets
        RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}"
        LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

install(FILES "${PROJECT_SOURCE_DIR}/include/portsock.h"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

install(EXPORT portsockTargets
        NAMESPACE portsock::
        FILE portsockTargets.cmake
        DESTINATION "${PORTSOCK_INSTALL_CMAKEDIR}")

# Dependencies that the exported target names as imported targets must be
# found again by the consumer (e.g. Threads::Threads); plain system libraries
# such as ws2_32 need nothing.
get_target_property(_ps_link portsock LINK_LIBRARIES)
get_target_property(_ps_ilink portsock INTERFACE_LINK_LIBRARIES)
set(PORTSOCK_CONFIG_DEPENDENCIES "")
if("Threads::Threads" IN_LIST _ps_link OR "Threads::Threads" IN_LIST _ps_ilink
   OR "$<LINK_ONLY:Threads::Threads>" IN_LIST _ps_ilink)
  string(APPEND PORTSOCK_CONFIG_DEPENDENCIES
         "set(THREADS_PREFER_PTHREAD_FLAG ON)\nfind_dependency(Threads)\n")
endif()

configure_package_config_file(
  "${CMAKE_CURRENT_LIST_DIR}/portsockConfig.cmake.in"
  "${CMAKE_CURRENT_BINARY_DIR}/portsockConfig.cmake"
  INSTALL_DESTINATION "${PORTSOCK_INSTALL_CMAKEDIR}"
  NO_SET_AND_CHECK_MACRO)
write_basic_package_version_file(
  "${CMAKE_CURRENT_BINARY_DIR}/portsockConfigVersion.cmake"
  VERSION "${_ps_version}"
  COMPATIBILITY SameMajorVersion)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/portsockConfig.cmake"
              "${CMAKE_CURRENT_BINARY_DIR}/portsockConfigVersion.cmake"
        DESTINATION "${PORTSOCK_INSTALL_CMAKEDIR}")

# ---- pkg-config ---------------------------------------------------------------
# The .pc file repeats what the CMake target says: its INTERFACE compile
# definitions (PS_SHARED for a shared build) and, for a static library, the
# system libraries it links (ws2_32 on Windows). Those go in Libs as well as
# Libs.private, so both `pkg-config --libs` and `--libs --static` link a
# static build.

get_target_property(_ps_type portsock TYPE)

set(_ps_cflags "")
get_target_property(_ps_defs portsock INTERFACE_COMPILE_DEFINITIONS)
if(_ps_defs)
  foreach(_d IN LISTS _ps_defs)
    if(_d MATCHES "^\\$<")
      continue() # generator expressions: not expressible in a .pc file
    endif()
    string(REGEX REPLACE "^-D" "" _d "${_d}")
    list(APPEND _ps_cflags "-D${_d}")
  endforeach()
endif()

set(_ps_deps "")
if(_ps_type STREQUAL "STATIC_LIBRARY")
  set(_ps_items "")
  if(_ps_link)
    list(APPEND _ps_items ${_ps_link})
  endif()
  if(_ps_ilink)
    list(APPEND _ps_items ${_ps_ilink})
  endif()
  foreach(_l IN LISTS _ps_items)
    if(_l MATCHES "^\\$<LINK_ONLY:(.*)>$")
      set(_l "${CMAKE_MATCH_1}")
    endif()
    if(_l MATCHES "^\\$<" OR _l STREQUAL "")
      continue()
    elseif(_l STREQUAL "Threads::Threads")
      list(APPEND _ps_deps "-pthread")
    elseif(TARGET "${_l}")
      continue() # other targets: portsock links none today
    elseif(_l MATCHES "^-")
      list(APPEND _ps_deps "${_l}")
    elseif(IS_ABSOLUTE "${_l}")
      list(APPEND _ps_deps "${_l}")
    else()
      string(REGEX REPLACE "\\.lib$" "" _l "${_l}")
      list(APPEND _ps_deps "-l${_l}")
    endif()
  endforeach()
  if(WIN32 AND NOT "-lws2_32" IN_LIST _ps_deps)
    list(APPEND _ps_deps "-lws2_32")
  endif()
  list(REMOVE_DUPLICATES _ps_deps)
endif()
list(JOIN _ps_cflags " " PORTSOCK_PC_CFLAGS)
list(JOIN _ps_deps " " PORTSOCK_PC_LIBS_PRIVATE)
set(PORTSOCK_PC_LIBS "-L\${libdir} -lportsock")
if(PORTSOCK_PC_LIBS_PRIVATE)
  string(APPEND PORTSOCK_PC_LIBS " ${PORTSOCK_PC_LIBS_PRIVATE}")
endif()
if(PORTSOCK_PC_CFLAGS)
  set(PORTSOCK_PC_CFLAGS " ${PORTSOCK_PC_CFLAGS}")
endif()

# Relocatable: prefix is found from the .pc file's own location.
set(_ps_pcdir "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(PORTSOCK_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(_ps_pcdir_abs "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
else()
  string(REGEX REPLACE "[^/]+" ".." _ps_up "${_ps_pcdir}")
  string(REGEX REPLACE "/+$" "" _ps_up "${_ps_up}")
  set(PORTSOCK_PC_PREFIX "\${pcfiledir}/${_ps_up}")
endif()
foreach(_v LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_v}}")
    set(PORTSOCK_PC_${_v} "${CMAKE_INSTALL_${_v}}")
  else()
    set(PORTSOCK_PC_${_v} "\${prefix}/${CMAKE_INSTALL_${_v}}")
  endif()
endforeach()
set(PORTSOCK_PC_VERSION "${_ps_version}")

configure_file("${CMAKE_CURRENT_LIST_DIR}/portsock.pc.in"
               "${CMAKE_CURRENT_BINARY_DIR}/portsock.pc" @ONLY)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/portsock.pc"
        DESTINATION "${_ps_pcdir}")

unset(_ps_version)
unset(_ps_vlines)
unset(_ps_link)
unset(_ps_ilink)
unset(_ps_type)
unset(_ps_defs)
unset(_ps_cflags)
unset(_ps_deps)
unset(_ps_items)
unset(_ps_up)
unset(_ps_pcdir)
