# Shared by the shell tests (tests/*/*_test.sh); they source it after `set -euo pipefail`:
#
#   source "$(dirname "$0")/../util/shell_test.sh"
#   begin_test install_test      # $work: a fresh directory, removed at exit
#   fail "what went wrong"       # "install_test: FAIL: what went wrong" on stderr, exit 1
#
# As for the C++ tests (util/temp_dir.h), QUIRE_KEEP_TEST_DATA=1 keeps $work for a post-mortem.

begin_test() {
  test_name="$1"
  work="$(mktemp -d "${TMPDIR:-/tmp}/quire-$test_name.XXXXXX")"
  trap end_test EXIT
}

end_test() {
  if [ -n "${QUIRE_KEEP_TEST_DATA:-}" ]; then
    echo "$test_name: kept $work" >&2
  else
    rm -rf "$work"
  fi
}

fail() {
  echo "$test_name: FAIL: $*" >&2
  exit 1
}
