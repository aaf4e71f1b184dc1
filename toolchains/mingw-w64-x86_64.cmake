# Cross-compile for 64-bit Windows with Debian's mingw-w64, and run the
# resulting .exe files (tests, via ctest) under Wine.
#
#   cmake -S . -B build/windows -DCMAKE_TOOLCHAIN_FILE=toolchains/mingw-w64-x86_64.cmake
#
# Extra prefixes to search (e.g. an install staging directory) may be given
# with -DCMAKE_FIND_ROOT_PATH=...; the mingw sysroot is appended to them.

set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(PORTSOCK_MINGW_TRIPLE x86_64-w64-mingw32)

set(CMAKE_C_COMPILER ${PORTSOCK_MINGW_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${PORTSOCK_MINGW_TRIPLE}-g++)
set(CMAKE_RC_COMPILER ${PORTSOCK_MINGW_TRIPLE}-windres)

# Searched before the find-root-path modes below apply to programs anyway, but
# NO_CMAKE_FIND_ROOT_PATH makes it independent of the order.
find_program(PORTSOCK_WINE_EXECUTABLE NAMES wine wine64 NO_CMAKE_FIND_ROOT_PATH)
if(PORTSOCK_WINE_EXECUTABLE)
  set(_portsock_wine "${PORTSOCK_WINE_EXECUTABLE}")
else()
  set(_portsock_wine wine)
endif()
# ctest (and add_test with a target name) run .exe files through this.
set(CMAKE_CROSSCOMPILING_EMULATOR env;WINEDEBUG=-all;${_portsock_wine})
unset(_portsock_wine)

# Keep whatever the user passed (-DCMAKE_FIND_ROOT_PATH=...) and add the
# mingw sysroot.
list(APPEND CMAKE_FIND_ROOT_PATH /usr/${PORTSOCK_MINGW_TRIPLE})
list(REMOVE_DUPLICATES CMAKE_FIND_ROOT_PATH)

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
