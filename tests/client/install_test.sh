#!/usr/bin/env bash
# The installable client package works for an outside application: configures a separate,
# non-sanitized Release build of the Quire source tree, builds only libquire.so, installs the
# "client" component into a temporary prefix, checks what was installed, then configures and
# builds examples/ as an outside project (find_package(Quire) through CMAKE_PREFIX_PATH) and runs
# `producer --help`. Temporary directories are removed at exit (unless QUIRE_KEEP_TEST_DATA is
# set).
#
#   tests/client/install_test.sh <quire source dir> [c++ compiler] [c compiler]
#
# Run by CTest as client_install_test (label "slow"). ccache is used when installed, as in any
# Quire build, so reruns are quick.
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 <quire source dir> [c++ compiler] [c compiler]" >&2
  exit 2
fi
src="$(cd "$1" && pwd)"
cxx="${2:-c++}"
cc="${3:-cc}"

source "$(dirname "$0")/../util/shell_test.sh"
begin_test install_test

# The package must not depend on flags from the environment (or on a sanitizer runtime).
unset CFLAGS CXXFLAGS LDFLAGS CMAKE_PREFIX_PATH
generator=()
if command -v ninja >/dev/null 2>&1; then
  generator=(-G Ninja)
fi

echo "install_test: building libquire.so in $work/build" >&2
# -O1, not Release's -O3: what is installed and exported does not depend on it, and it builds
# faster (CI builds it from scratch, inside its test step).
cmake -S "$src" -B "$work/build" "${generator[@]}" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" \
  -DQUIRE_BUILD_TESTS=OFF -DQUIRE_BUILD_BENCH=OFF -DQUIRE_WERROR=OFF
cmake --build "$work/build" -j2 --target quire_shared
cmake --install "$work/build" --component client --prefix "$work/prefix"

prefix="$work/prefix"
for h in client.h ledger_metadata.h status.h; do
  [ -f "$prefix/include/quire/$h" ] || fail "include/quire/$h was not installed"
done
n_headers="$(find "$prefix/include" -type f | wc -l)"
[ "$n_headers" -eq 3 ] || fail "expected 3 installed headers, found $n_headers"
lib="$(find "$prefix" -name 'libquire.so.0' | head -n 1)"
[ -n "$lib" ] || fail "libquire.so.0 was not installed"
[ -L "$(dirname "$lib")/libquire.so" ] || fail "the libquire.so link was not installed"
config_dir="$(dirname "$(find "$prefix" -name QuireConfig.cmake | head -n 1)")"
[ -f "$config_dir/QuireConfigVersion.cmake" ] || fail "QuireConfigVersion.cmake was not installed"
[ -f "$config_dir/QuireTargets.cmake" ] || fail "QuireTargets.cmake was not installed"
if grep -rq "$src" "$config_dir"; then
  fail "the installed CMake package refers to the source tree"
fi
# What include/quire/*.h declare is defined in (and exported by) the library.
exported="$(nm -DC --defined-only "$lib")"
for function in quire::Client::Open quire::WriteHandle::Append quire::Status::ToString \
    quire::StatusCodeName quire::ErrnoStatus quire::LedgerMetadata::Validate \
    quire::LedgerMetadata::WriteSet quire::HashLedgerPassword quire::LedgerStateName; do
  grep -qE "${function}(\[abi:cxx11\])?\(" <<<"$exported" || fail "libquire.so does not export $function"
done

# ... and nothing else of Quire's: every exported symbol in namespace quire (typeinfo and vtables
# included) belongs to a declaration marked QUIRE_EXPORT in include/quire/. Instantiations of
# standard templates over public types (std::vector<quire::Ensemble>...) are the compiler's.
public_api='^quire::((Client|WriteHandle|ReadHandle|Status|LedgerMetadata)(::|$)|'
public_api+='(LedgerStateName|DigestTypeName|HashLedgerPassword|StatusCodeName|ErrnoStatus)'
public_api+='(\[abi:cxx11\])?\()'
ours="$(cut -d' ' -f3- <<<"$exported" | sed -E 's/^(typeinfo name|typeinfo|vtable) for //' |
  grep -E '^quire::' || true)"
internal="$(grep -vE "$public_api" <<<"$ours" || true)"
if [ -n "$internal" ]; then
  fail "libquire.so exports $(wc -l <<<"$internal") internal symbols, e.g.:
$(head -n 10 <<<"$internal")"
fi
echo "install_test: libquire.so exports $(grep -c . <<<"$ours") symbols of Quire's, all public" >&2

echo "install_test: building examples/ against $prefix" >&2
cmake -S "$src/examples" -B "$work/examples" "${generator[@]}" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_PREFIX_PATH="$prefix"
cmake --build "$work/examples" -j2
for program in producer tail_consumer; do
  [ -x "$work/examples/$program" ] || fail "examples/$program was not built"
done
"$work/examples/producer" --help >/dev/null || fail "producer --help failed"
"$work/examples/tail_consumer" --help >/dev/null || fail "tail_consumer --help failed"
echo "install_test: OK" >&2
