#!/usr/bin/env bash
# Installs every build, test and run-time dependency of Quire from Debian 12 packages.
# Run as root on a fresh Debian 12 (bookworm) machine. Safe to run again.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: must run as root (it calls apt-get)" >&2
  exit 1
fi

packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git
  clang libclang-rt-14-dev        # libFuzzer and sanitizer runtimes for clang
  # libraries on the design card (Boost from the versioned 1.81 family; libboost-dev is 1.74)
  libboost1.81-dev
  libprotobuf-dev protobuf-compiler
  librocksdb-dev
  libspdlog-dev libfmt-dev
  liburing-dev
  libssl-dev
  libcli11-dev nlohmann-json3-dev
  libsystemd-dev                  # sd_notify: quire-bookie under systemd (Type=notify, watchdog)
  # metadata: ZooKeeper C client and the server the tests start
  libzookeeper-mt-dev zookeeper
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  procps util-linux e2fsprogs iproute2
  # promtool, which checks /metrics and conf/monitoring's alert rules (Debian ships it only in
  # the server's package, whose service the tests never use)
  prometheus
  # the Debian packages (cmake/QuirePackaging.cmake): man pages from --help; tests/packaging
  # renders them with man
  help2man man-db
)

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${packages[@]}"
