#!/usr/bin/env bash
# Fails when docs/cli-reference.md is not what tools/gen-cli-reference.sh makes from the binaries'
# --help. Fix: tools/gen-cli-reference.sh <quire> <quire-bench> > docs/cli-reference.md
#
#   check_cli_reference.sh <quire> <quire-bench> <reference> [<CLI11 version>]
#
# The reference is generated with Debian 12's CLI11 (2.1), and with it the comparison is exact.
# Other CLI11 releases lay the same help out differently (2.4 prints a default as `TEXT [warn]`
# where 2.1 prints `TEXT=warn`; 2.5 and later also wrap descriptions, capitalise the section
# headings and drop "Usage: "), so with them the reference is compared by what it says: the same
# commands, each with the same options.
set -euo pipefail
quire="$1" bench="$2" reference="$3" cli11="${4:-}"
here="$(cd "$(dirname "$0")/../.." && pwd)"
generated="$(mktemp)"
trap 'rm -f "$generated"' EXIT
"$here/tools/gen-cli-reference.sh" "$quire" "$bench" > "$generated"
diff -q "$reference" "$generated" >/dev/null && exit 0

stale() {
  echo "docs/cli-reference.md is out of date: regenerate it with tools/gen-cli-reference.sh" >&2
  exit 1
}
if [[ -z "$cli11" || "$cli11" == 2.1.* ]]; then
  diff -u "$reference" "$generated" || true
  stale
fi

# Each command's heading, and a line per option name of it ("-n", "--bookies"): the leading
# words of an option line that start with "-".
outline() {
  awk '/^## `/ {command = $0; print command; next}
       /^ +-/ {
         for (f = 1; f <= NF && $f ~ /^-/; f++) {
           n = split($f, names, ",")
           for (i = 1; i <= n; i++) {
             if (names[i] ~ /^--?[A-Za-z0-9][-A-Za-z0-9]*$/) print command " " names[i]
           }
         }
       }' "$1" | LC_ALL=C sort -u
}
if diff -u <(outline "$reference") <(outline "$generated"); then
  echo "docs/cli-reference.md: same commands and options; CLI11 $cli11 lays the help out otherwise"
  exit 0
fi
stale
