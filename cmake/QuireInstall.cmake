# The installable client package: libquire.so, the public headers and a CMake package, so that an
# application needs nothing but
#
#   find_package(Quire REQUIRED)
#   target_link_libraries(app PRIVATE Quire::quire)
#
# `quire_shared` (libquire.so, exported as Quire::quire) is the static quire_client (and what it links: metadata, protocol, common, proto) as one
# shared library. Consumers see only include/quire/*.h, which expose no third-party type; the
# third-party shared libraries (protobuf, spdlog, fmt, zookeeper_mt, libcrypto) are dependencies
# of libquire.so, not of the application.
#
# Everything here is in the install component "client":
#   cmake --build <build> --target quire_shared && cmake --install <build> --component client
# (a plain `cmake --install` also installs quire-bookie, which then has to be built too).
# tests/client/install_test.sh builds, installs and uses the package from a separate,
# non-sanitized build: an application linking a sanitized libquire.so would need -fsanitize too.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# A shared library needs at least one source of its own; the code comes from quire_client.
set(_quire_stub "${CMAKE_CURRENT_BINARY_DIR}/quire_shared_library.cc")
file(CONFIGURE OUTPUT "${_quire_stub}"
     CONTENT "// libquire.so: the code is quire_client, linked whole (cmake/QuireInstall.cmake).\n")
add_library(quire_shared SHARED "${_quire_stub}")
add_library(Quire::quire ALIAS quire_shared)  # the same name in-tree (examples/) as when installed
target_link_libraries(quire_shared PRIVATE "$<LINK_LIBRARY:WHOLE_ARCHIVE,quire_client>")
target_include_directories(quire_shared PUBLIC
  "$<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>"
  "$<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>")
# The public headers use C++20 (defaulted comparisons).
target_compile_features(quire_shared PUBLIC cxx_std_20)
set_target_properties(quire_shared PROPERTIES
  OUTPUT_NAME quire
  VERSION ${PROJECT_VERSION}
  SOVERSION 0
  EXPORT_NAME quire)
if(NOT QUIRE_SANITIZE)
  # Every symbol the library uses must be resolved when it is linked, not when an application is.
  # (Sanitized shared libraries leave the sanitizer runtime to the executable.)
  target_link_options(quire_shared PRIVATE "LINKER:--no-undefined")
endif()

set(QUIRE_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/Quire")
install(TARGETS quire_shared EXPORT QuireTargets
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT client
  INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(FILES
  "${PROJECT_SOURCE_DIR}/include/quire/client.h"
  "${PROJECT_SOURCE_DIR}/include/quire/ledger_metadata.h"
  "${PROJECT_SOURCE_DIR}/include/quire/status.h"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/quire" COMPONENT client)
install(EXPORT QuireTargets
  NAMESPACE Quire::
  DESTINATION "${QUIRE_INSTALL_CMAKEDIR}"
  COMPONENT client)

configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/QuireConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/QuireConfig.cmake"
  INSTALL_DESTINATION "${QUIRE_INSTALL_CMAKEDIR}")
# 0.x releases: only the same minor version is compatible.
write_basic_package_version_file("${PROJECT_BINARY_DIR}/QuireConfigVersion.cmake"
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES
  "${PROJECT_BINARY_DIR}/QuireConfig.cmake"
  "${PROJECT_BINARY_DIR}/QuireConfigVersion.cmake"
  DESTINATION "${QUIRE_INSTALL_CMAKEDIR}"
  COMPONENT client)
