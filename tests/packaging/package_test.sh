#!/usr/bin/env bash
# The Debian packages (cmake/QuirePackaging.cmake) work on a clean tree: runs cpack on an already
# built build directory (no second build), unpacks the three .debs with `dpkg -x` into an empty
# directory, and checks from there what an operator and a developer get: `quire --help`,
# `quire-bookie --print-default-conf` equal to the installed /etc/quire/bookie.conf, the systemd
# unit naming the installed binary, the man pages, quire's bash completion, the headers, libquire.so
# and quire.pc through pkg-config (examples/producer.cc built with its flags alone), and the
# packages' dependencies and conffiles. The temporary tree is removed at exit (unless
# QUIRE_KEEP_TEST_DATA is set).
#
#   tests/packaging/package_test.sh <build dir> <source dir> [c++ compiler] [sanitizers]
#
# The sanitizers are the build's (QUIRE_SANITIZE): a program linking a sanitized libquire.so
# needs them too.
#
# Run by CTest as packaging_test (label "packaging": ctest -L packaging).
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 <build dir> <source dir> [c++ compiler] [sanitizers]" >&2
  exit 2
fi
build="$(cd "$1" && pwd)"
src="$(cd "$2" && pwd)"
cxx="${3:-c++}"
sanitize=()
if [ -n "${4:-}" ]; then
  sanitize=("-fsanitize=$4")
fi
source "$(dirname "$0")/../util/shell_test.sh"
begin_test package_test

echo "package_test: cpack in $build" >&2
cpack --config "$build/CPackConfig.cmake" -B "$work/packages" >"$work/cpack.log" 2>&1 ||
  { cat "$work/cpack.log" >&2; fail "cpack failed"; }

root="$work/root"
mkdir "$root"
declare -A deb
for package in quire-bookie quire libquire-dev; do
  deb[$package]="$(find "$work/packages" -maxdepth 1 -name "${package}_*.deb" | head -n 1)"
  [ -n "${deb[$package]}" ] || fail "no ${package}_*.deb in $(ls "$work/packages")"
  [ "$(dpkg-deb -f "${deb[$package]}" Package)" = "$package" ] || fail "${deb[$package]}: wrong Package"
  dpkg -x "${deb[$package]}" "$root"
done

# Dependencies: dpkg-shlibdeps found the shared libraries; the postinst's adduser is declared.
bookie_depends="$(dpkg-deb -f "${deb[quire-bookie]}" Depends)"
for dependency in libsystemd0 libzookeeper-mt adduser; do
  grep -q "$dependency" <<<"$bookie_depends" || fail "quire-bookie does not depend on $dependency: $bookie_depends"
done
# A build without sanitizers links the programs with jemalloc (QUIRE_JEMALLOC), never libquire.
if [ ${#sanitize[@]} -eq 0 ] && grep -q '^QUIRE_JEMALLOC:BOOL=ON' "$build/CMakeCache.txt"; then
  for package in quire-bookie quire; do
    grep -q libjemalloc2 <<<"$(dpkg-deb -f "${deb[$package]}" Depends)" ||
      fail "$package does not depend on libjemalloc2"
  done
  ! grep -q libjemalloc <<<"$(dpkg-deb -f "${deb[libquire-dev]}" Depends)" ||
    fail "libquire-dev depends on jemalloc: an application chooses its own malloc"
fi
grep -q libzookeeper-mt <<<"$(dpkg-deb -f "${deb[libquire-dev]}" Depends)" ||
  fail "libquire-dev does not depend on libzookeeper-mt"
dpkg-deb --ctrl-tarfile "${deb[quire-bookie]}" | tar -xO ./conffiles | grep -qx /etc/quire/bookie.conf ||
  fail "/etc/quire/bookie.conf is not a conffile of quire-bookie"

# The programs run from the tree.
"$root/usr/bin/quire" --help >"$work/help" || fail "quire --help failed"
# "Usage: quire [OPTIONS] SUBCOMMAND"; CLI11 2.5 and later leave out "Usage: ".
grep -Eq "^(Usage: )?quire \[OPTIONS\]" "$work/help" || fail "quire --help printed no usage"
"$root/usr/bin/quire-bench" --help >/dev/null || fail "quire-bench --help failed"
"$root/usr/bin/quire-bookie" --print-default-conf >"$work/default.conf" ||
  fail "quire-bookie --print-default-conf failed"
cmp -s "$work/default.conf" "$root/etc/quire/bookie.conf" ||
  fail "/etc/quire/bookie.conf is not quire-bookie's default configuration"

# The unit starts the installed binary with the installed configuration; no placeholder is left.
unit="$root/usr/lib/systemd/system/quire-bookie.service"
[ -f "$unit" ] || fail "no quire-bookie.service"
grep -qx "ExecStart=/usr/bin/quire-bookie --conf /etc/quire/bookie.conf" "$unit" ||
  fail "the unit's ExecStart is $(grep ExecStart "$unit")"
grep -qx "Type=notify" "$unit" || fail "the unit is not Type=notify"
! grep -q "@" "$unit" || fail "a placeholder is left in the unit: $(grep @ "$unit")"
for doc in $(grep -o 'file://[^ ]*' "$unit" | sed 's|^file://||'); do
  [ -f "$root$doc" ] || fail "the unit's Documentation $doc is not installed"
done

# The dashboard and alert rules docs/operations.md points at.
for file in quire-alerts.yml quire-alerts-test.yml quire-bookie.json; do
  [ -f "$root/usr/share/doc/quire-bookie/monitoring/$file" ] || fail "monitoring/$file is not installed"
done

# Man pages render without warnings; quire's holds every subcommand.
for program in quire quire-bookie quire-bench; do
  page="$root/usr/share/man/man1/$program.1.gz"
  [ -f "$page" ] || fail "no man page $program.1.gz"
  warnings="$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)"
  [ -z "$warnings" ] || fail "$program.1: $warnings"
done
zcat "$root/usr/share/man/man1/quire.1.gz" | grep -q '^\.SS "quire ledger write"' ||
  fail "quire.1 lacks quire ledger write"
zcat "$root/usr/share/man/man1/quire-bench.1.gz" | grep -q '^\.SS "quire-bench write"' ||
  fail "quire-bench.1 lacks quire-bench write"

# Completion: "quire led<TAB>" completes to ledger, "quire ledger w<TAB>" to write.
completion="$root/usr/share/bash-completion/completions/quire"
[ -f "$completion" ] || fail "no bash completion for quire"
complete_words() {
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _quire;
           echo "${COMPREPLY[*]}"' _ "$completion" "$@"
}
[ "$(complete_words quire led)" = ledger ] || fail "quire led<TAB>: '$(complete_words quire led)'"
[ "$(complete_words quire ledger w)" = write ] || fail "quire ledger w<TAB>: '$(complete_words quire ledger w)'"

# The library for a developer: headers, libquire.so, CMake package, pkg-config.
[ -f "$root/usr/include/quire/client.h" ] || fail "no quire/client.h"
[ -n "$(find "$root/usr/lib" -name libquire.so)" ] || fail "no libquire.so"
[ -n "$(find "$root/usr/lib" -name QuireConfig.cmake)" ] || fail "no QuireConfig.cmake"
pc="$(find "$root/usr/lib" -name quire.pc)"
[ -n "$pc" ] || fail "no quire.pc"
# --define-prefix: the prefix is where the tree is, not /usr.
flags="$(PKG_CONFIG_PATH="$(dirname "$pc")" pkg-config --define-prefix --cflags --libs quire)"
[[ "$flags" == *"-I$root/usr/include"* && "$flags" == *"-lquire"* ]] || fail "pkg-config quire: $flags"
# An application built with nothing but those flags links and runs.
"$cxx" -std=c++20 "${sanitize[@]}" "$src/examples/producer.cc" $flags -o "$work/producer" ||
  fail "examples/producer.cc does not build with pkg-config quire's flags: $flags"
LD_LIBRARY_PATH="$root/usr/lib" "$work/producer" --help >/dev/null || fail "producer --help failed"

echo "package_test: OK ($(cd "$work/packages" && ls ./*.deb | tr '\n' ' '))" >&2
