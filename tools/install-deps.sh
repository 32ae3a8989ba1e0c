#!/usr/bin/env bash
# Installs every build, test and run-time dependency of Quire from Debian 12 packages.
# Run as root on a fresh Debian 12 (bookworm) machine (newer Debian releases: see docs/deploy.md,
# "Other distributions"). Safe to run again.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: must run as root (it calls apt-get)" >&2
  exit 1
fi

# Debian 12 is the reference; newer Debian and Ubuntu releases differ in two package names.
. /etc/os-release
case "${VERSION_CODENAME:-}" in
  bookworm)
    boost=libboost1.81-dev         # the versioned 1.81 family: libboost-dev is 1.74 there
    clang_rt=libclang-rt-14-dev ;;
  *)
    boost=libboost-dev             # 1.83 on Debian 13; CMake checks for >= 1.81
    clang_rt=libclang-rt-dev ;;
esac

packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git
  clang "$clang_rt"               # libFuzzer and sanitizer runtimes for clang
  # libraries on the design card
  "$boost"
  libprotobuf-dev protobuf-compiler
  librocksdb-dev
  libspdlog-dev libfmt-dev
  liburing-dev
  libjemalloc-dev                 # the programs' malloc (cmake/QuireDependencies.cmake, QUIRE_JEMALLOC)
  libssl-dev
  libcli11-dev nlohmann-json3-dev
  libsystemd-dev                  # sd_notify: quire-bookie under systemd (Type=notify, watchdog)
  # metadata: ZooKeeper C client and the server the tests start
  libzookeeper-mt-dev zookeeper
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  procps util-linux e2fsprogs iproute2
  # the fault-injection suite (tools/chaos): its runner and checker, partitions in namespaces
  python3 nftables
  openssl                         # the TLS tests make a throw-away CA with it (tests/util/test_ca.h)
  # promtool, which checks /metrics and conf/monitoring's alert rules (Debian ships it only in
  # the server's package, whose service the tests never use)
  prometheus
  # the Debian packages (cmake/QuirePackaging.cmake): man pages from --help; tests/packaging
  # renders them with man
  help2man man-db
  file                            # CPack's .deb generator needs it for dpkg-shlibdeps (minimal images lack it)
)

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${packages[@]}"
