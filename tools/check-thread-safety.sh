#!/usr/bin/env bash
# Clang's thread-safety analysis over every source file in src/: a QUIRE_GUARDED_BY field touched
# without its mutex, a QUIRE_REQUIRES function called without it, a lock not released on some
# path (src/common/mutex.h explains the annotations). Exits non-zero on any finding.
#
#   tools/check-thread-safety.sh [build-dir]     (default build/asan)
#
# It parses only (clang++ -fsyntax-only), with the defines and include paths of the build
# directory's compile_commands.json, whose generated protobuf headers must exist: run it after
# `cmake --build` of that directory (CI: after the asan build). The product is built with GCC;
# this check needs clang (tools/install-deps.sh installs it). About 4 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build/asan}"
db="$build/compile_commands.json"
if [ ! -f "$db" ]; then
  echo "check-thread-safety.sh: $db is missing; configure and build $build first" >&2
  exit 2
fi

# One line per source file: the clang command, as a NUL-separated argument list for xargs.
commands="$(mktemp "${TMPDIR:-/tmp}/quire-tsa.XXXXXX")"
trap 'rm -f "$commands"' EXIT
python3 - "$db" "$PWD/src/" > "$commands" <<'PY'
import json, shlex, sys
db, src = sys.argv[1], sys.argv[2]
for entry in json.load(open(db)):
    if not entry["file"].startswith(src):
        continue
    args = shlex.split(entry["command"])
    keep = []
    for i, arg in enumerate(args):
        if arg == "-isystem":
            keep += [arg, args[i + 1]]
        elif arg.startswith(("-D", "-I", "-std=")):
            keep.append(arg)
    # Only the analysis' findings matter here (GCC's warnings are checked by the build itself).
    cmd = ["clang++", "-fsyntax-only", "-Wno-everything", "-Wthread-safety",
           "-Werror=thread-safety"] + keep + [entry["file"]]
    sys.stdout.write("cd " + shlex.quote(entry["directory"]) + " && " + shlex.join(cmd) + "\0")
PY
count="$(tr -cd '\0' < "$commands" | wc -c)"
echo "check-thread-safety.sh: analysing $count files in src/ with $(clang++ --version | head -1)"
if ! xargs -0 -P "$(nproc)" -I{} sh -c '{}' < "$commands"; then
  echo "check-thread-safety.sh: thread-safety findings above (src/common/mutex.h says what the" \
       "annotations mean)" >&2
  exit 1
fi
echo "check-thread-safety.sh: no findings"
