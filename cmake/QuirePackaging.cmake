# Debian packages, one per install component (CPack DEB):
#
#   quire-bookie  (component bookie)  bin/quire-bookie, its systemd unit, /etc/quire/bookie.conf
#                                     (conf/bookie.conf: every key commented out, at its default),
#                                     the operator's docs and conf/monitoring, quire-bookie(1)
#   quire         (component cli)     bin/quire, bin/quire-bench, quire(1), quire-bench(1), bash
#                                     completion of quire, the CLI docs
#   libquire-dev  (component client)  libquire.so, include/quire/*.h, the CMake package
#                                     (cmake/QuireInstall.cmake), quire.pc, docs/client.md
#
# Built by `cmake --build --preset release --target package` (build/release/packages/*.deb), or
# by `cpack` in any configured build directory once it is built. Run-time dependencies come from
# dpkg-shlibdeps; the packages install under /usr.
#
# Man pages, the completion, the unit and quire.pc are written when installing (into the build
# directory, then installed): the man pages and the completion from the binaries' --help
# (tools/gen-man-page.sh, tools/gen-bash-completion.sh), the unit and quire.pc with the prefix
# installed into. So `cmake --install <build> --component bookie --prefix /opt/quire` gives a
# unit that starts /opt/quire/bin/quire-bookie. The configuration file always goes to
# /etc/quire/bookie.conf, the path the unit names.
set(_quire_installed "${PROJECT_BINARY_DIR}/installed")

# quire_install_configured(<template> <destination> <component>): installs <template> with
# @QUIRE_PREFIX@ replaced by the prefix installed into, @QUIRE_VERSION@ by the version, and
# @QUIRE_BINDIR@, @QUIRE_LIBDIR@, @QUIRE_INCLUDEDIR@, @QUIRE_DATADIR@ by those directories
# relative to the prefix (bin, lib, include, share).
function(quire_install_configured template destination component)
  get_filename_component(name "${template}" NAME)
  string(REGEX REPLACE "\\.in$" "" name "${name}")
  set(out "${_quire_installed}/${component}/${name}")
  # Runs at install time: ${CMAKE_INSTALL_PREFIX} is then the prefix installed into.
  install(CODE "
    set(QUIRE_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
    set(QUIRE_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
    set(QUIRE_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
    set(QUIRE_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
    set(QUIRE_DATADIR \"${CMAKE_INSTALL_DATAROOTDIR}\")
    set(QUIRE_VERSION \"${PROJECT_VERSION}\")
    configure_file(\"${template}\" \"${out}\" @ONLY)"
    COMPONENT ${component})
  install(FILES "${out}" DESTINATION "${destination}" COMPONENT ${component})
endfunction()

# quire_install_man_page(<target> <description> <component> [--commands]): quire-X(1) from the
# built program's --help (tools/gen-man-page.sh; --commands adds every subcommand's help).
function(quire_install_man_page target description component)
  set(out "${_quire_installed}/${component}/${target}.1.gz")
  install(CODE "
    execute_process(
      COMMAND \"${PROJECT_SOURCE_DIR}/tools/gen-man-page.sh\" ${ARGN} \"$<TARGET_FILE:${target}>\"
              \"${PROJECT_VERSION}\" \"${description}\" \"${out}\"
      COMMAND_ERROR_IS_FATAL ANY)"
    COMPONENT ${component})
  install(FILES "${out}" DESTINATION "${CMAKE_INSTALL_MANDIR}/man1" COMPONENT ${component})
endfunction()

# Documentation goes to /usr/share/doc/<package>, Debian's place.
set(_quire_doc "${CMAKE_INSTALL_DATAROOTDIR}/doc")

# quire-bookie
quire_install_configured("${PROJECT_SOURCE_DIR}/conf/quire-bookie.service" lib/systemd/system
                         bookie)
install(FILES "${PROJECT_SOURCE_DIR}/conf/bookie.conf" DESTINATION /etc/quire COMPONENT bookie)
install(FILES
  "${PROJECT_SOURCE_DIR}/README.md"
  "${PROJECT_SOURCE_DIR}/docs/deploy.md"
  "${PROJECT_SOURCE_DIR}/docs/operations.md"
  "${PROJECT_SOURCE_DIR}/docs/semantics.md"
  "${PROJECT_SOURCE_DIR}/docs/coming-from-bookkeeper.md"
  DESTINATION "${_quire_doc}/quire-bookie" COMPONENT bookie)
install(FILES
  "${PROJECT_SOURCE_DIR}/conf/monitoring/quire-alerts.yml"
  "${PROJECT_SOURCE_DIR}/conf/monitoring/quire-alerts-test.yml"
  "${PROJECT_SOURCE_DIR}/conf/monitoring/quire-bookie.json"
  DESTINATION "${_quire_doc}/quire-bookie/monitoring" COMPONENT bookie)
quire_install_man_page(quire-bookie "Quire storage server (bookie)" bookie)

# quire
quire_install_man_page(quire "operate a Quire cluster" cli --commands)
quire_install_man_page(quire-bench "benchmark a Quire cluster" cli --commands)
install(CODE "
  execute_process(
    COMMAND \"${PROJECT_SOURCE_DIR}/tools/gen-bash-completion.sh\" \"$<TARGET_FILE:quire>\"
    OUTPUT_FILE \"${_quire_installed}/cli/quire\"
    COMMAND_ERROR_IS_FATAL ANY)"
  COMPONENT cli)
install(FILES "${_quire_installed}/cli/quire"
  DESTINATION "${CMAKE_INSTALL_DATAROOTDIR}/bash-completion/completions" COMPONENT cli)
install(FILES
  "${PROJECT_SOURCE_DIR}/docs/cli.md"
  "${PROJECT_SOURCE_DIR}/docs/cli-reference.md"
  "${PROJECT_SOURCE_DIR}/docs/operations-offline.md"
  DESTINATION "${_quire_doc}/quire" COMPONENT cli)

# libquire-dev (the rest of the component is in cmake/QuireInstall.cmake)
quire_install_configured("${PROJECT_SOURCE_DIR}/cmake/quire.pc.in" "${CMAKE_INSTALL_LIBDIR}/pkgconfig"
                         client)
install(FILES "${PROJECT_SOURCE_DIR}/docs/client.md" "${PROJECT_SOURCE_DIR}/docs/semantics.md"
        DESTINATION "${_quire_doc}/libquire-dev" COMPONENT client)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME quire)
set(CPACK_PACKAGE_VENDOR Quire)
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_DIRECTORY "${PROJECT_BINARY_DIR}/packages")
# Install with DESTDIR and the prefix /usr: /etc/quire is an absolute destination, and the
# install-time paths above must be the installed ones (/usr/...), not the staging directory.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_COMPONENTS_ALL bookie cli client)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # <name>_<version>_<arch>.deb
set(QUIRE_PACKAGE_MAINTAINER "Quire maintainers" CACHE STRING
    "The Maintainer field of the Debian packages")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${QUIRE_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)

set(CPACK_DEBIAN_BOOKIE_PACKAGE_NAME quire-bookie)
set(CPACK_DEBIAN_BOOKIE_PACKAGE_DEPENDS adduser)  # postinst creates the quire user
# The first line of a description is the package's summary.
set(CPACK_COMPONENT_BOOKIE_DESCRIPTION "Quire bookie: the storage server of a Quire cluster
Keeps ledger entries durable (journal, entry logs, RocksDB index) and serves
them; runs as the systemd service quire-bookie, configured in
/etc/quire/bookie.conf.")
set(CPACK_DEBIAN_BOOKIE_PACKAGE_CONTROL_EXTRA
  "${PROJECT_SOURCE_DIR}/cmake/debian/quire-bookie/conffiles"
  "${PROJECT_SOURCE_DIR}/cmake/debian/quire-bookie/postinst")
set(CPACK_DEBIAN_BOOKIE_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_CLI_PACKAGE_NAME quire)
set(CPACK_COMPONENT_CLI_DESCRIPTION "Quire command line: quire and quire-bench
Operates a Quire cluster (ledgers, bookies, metadata, recovery, offline
tools) and benchmarks it.")

set(CPACK_DEBIAN_CLIENT_PACKAGE_NAME libquire-dev)
set(CPACK_DEBIAN_CLIENT_PACKAGE_SECTION libdevel)
set(CPACK_COMPONENT_CLIENT_DESCRIPTION "Quire client library: libquire.so, C++20 headers, CMake and pkg-config
Writes ledger entries to a quorum of bookies and reads them back; use it
with find_package(Quire) or pkg-config quire.")

include(CPack)
