#!/usr/bin/env bash
# Fails when docs/cli-reference.md is not what tools/gen-cli-reference.sh makes from the binaries'
# --help. Fix: tools/gen-cli-reference.sh <quire> <quire-bench> > docs/cli-reference.md
#
# The reference is generated with Debian 12's CLI11 (2.3). Newer CLI11 releases print the same
# help in another layout (2.4: `TEXT [warn]` for 2.3's `TEXT=warn`, columns realigned), so when
# the exact comparison fails the two are compared again in one normal form; a difference that
# survives it is a real one.
set -euo pipefail
quire="$1" bench="$2" reference="$3"
here="$(cd "$(dirname "$0")/../.." && pwd)"
generated="$(mktemp)"
trap 'rm -f "$generated"' EXIT
"$here/tools/gen-cli-reference.sh" "$quire" "$bench" > "$generated"
diff -q "$reference" "$generated" >/dev/null && exit 0

# Defaults as `=value`, no trailing blanks, a description wrapped onto its own line joined to
# its option, runs of blanks as one.
normalise() {
  sed -E 's/ \[([^] ]+)\]( |$)/=\1/g; s/[[:space:]]+$//' "$1" |
    awk '/^ {20,}[^ ]/ && prev != "" {sub(/^ +/, " "); prev = prev $0; next}
         NR > 1 {print prev}
         {prev = $0}
         END {print prev}' | tr -s ' '
}
if diff -q <(normalise "$reference") <(normalise "$generated") >/dev/null; then
  echo "docs/cli-reference.md matches in content; only this CLI11's layout differs"
  exit 0
fi
diff -u "$reference" "$generated" || true
echo "docs/cli-reference.md is out of date: regenerate it with tools/gen-cli-reference.sh" >&2
exit 1
