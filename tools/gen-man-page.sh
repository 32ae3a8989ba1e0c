#!/usr/bin/env bash
# Writes a program's man page (section 1, gzipped) from its --help with help2man. With --commands
# the page also holds the --help of every subcommand, walked by tools/gen-cli-reference.sh.
#
#   tools/gen-man-page.sh [--commands] <program> <version> "<one-line description>" <out.1.gz>
#
# cmake/QuirePackaging.cmake runs it when the packages are built (at install time), so that a man
# page always says what the installed binary says. The version is given, not asked for: help2man
# would otherwise run `<program> --version`.
set -euo pipefail

commands=0
if [ "${1:-}" = --commands ]; then
  commands=1
  shift
fi
if [ $# -ne 4 ]; then
  echo "usage: $0 [--commands] <program> <version> <description> <out.1.gz>" >&2
  exit 2
fi
program="$1" version="$2" description="$3" out="$4"
if ! command -v help2man >/dev/null; then
  echo "$0: help2man is not installed (tools/install-deps.sh installs it)" >&2
  exit 1
fi
name="$(basename "$program")"

work="$(mktemp -d "${TMPDIR:-/tmp}/quire-man.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# help2man copies an include file's sections into the page as roff. The subcommands' help goes in
# verbatim (.nf): backslashes escaped, a leading '.' or "'" protected from being read as a request.
cat >"$work/include" <<'END'
[SEE ALSO]
.BR quire (1),
.BR quire-bookie (1),
.BR quire-bench (1);
the guides in /usr/share/doc/quire and /usr/share/doc/quire-bookie.
END
if [ "$commands" = 1 ]; then
  here="$(cd "$(dirname "$0")" && pwd)"
  {
    echo '[COMMANDS]'
    echo "Every subcommand's \\fB\\-\\-help\\fR."
    "$here/gen-cli-reference.sh" "$program" | awk -v top="$name" '
      /^## `/ {
        heading = $0
        gsub(/^## `|`$/, "", heading)
        sub(/^[^ ]+/, top, heading)  # the walk names every program "quire"
        skip = (heading == top)      # the top level is the page itself
        if (!skip) printf ".SS \"%s\"\n", heading
        next
      }
      skip { next }
      /^```text$/ { in_help = 1; print ".nf"; next }
      /^```$/ { in_help = 0; print ".fi"; next }
      in_help {
        gsub(/\\/, "\\e")
        if ($0 ~ /^[.\047]/) $0 = "\\&" $0
        print
      }'
  } >>"$work/include"
fi

help2man --no-info --section=1 --version-string="$version" --name="$description" \
  --include="$work/include" --output="$work/page.1" "$program"
mkdir -p "$(dirname "$out")"
gzip -9n <"$work/page.1" >"$out"
