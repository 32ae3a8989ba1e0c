#!/usr/bin/env bash
# Fails when docs/cli-reference.md is not what tools/gen-cli-reference.sh makes from the binaries'
# --help. Fix: tools/gen-cli-reference.sh <quire> <quire-bench> > docs/cli-reference.md
set -euo pipefail
quire="$1" bench="$2" reference="$3"
here="$(cd "$(dirname "$0")/../.." && pwd)"
generated="$(mktemp)"
trap 'rm -f "$generated"' EXIT
"$here/tools/gen-cli-reference.sh" "$quire" "$bench" > "$generated"
if ! diff -u "$reference" "$generated"; then
  echo "docs/cli-reference.md is out of date: regenerate it with tools/gen-cli-reference.sh" >&2
  exit 1
fi
