#!/bin/sh
# Run a command and check its exit status, its output and the files it leaves, together (CTest's
# PASS_REGULAR_EXPRESSION alone ignores the exit status).
#
# Usage: expect.sh [CHECK]... -- COMMAND [ARG...]
#   --status 0        the command succeeds
#   --status error    it fails with an error (exit status 1 to 125: not a crash, not a signal)
#   --match ERE       its stdout + stderr match ERE (grep -E), e.g. the error message
#   --no-match ERE    ... do not match ERE
#   --file PATH       PATH exists afterwards (a non-empty file or a folder)
#   --no-file PATH    PATH does not exist afterwards
#   --file-match PATH ERE  the file PATH matches ERE
#   --no-glob PATTERN no file matches the shell pattern afterwards (e.g. a leftover temporary)
# and, before the command runs:
#   --fresh DIR       DIR is emptied (created)
#   --write PATH TEXT PATH is written with TEXT
#   --address-space KB  the command runs with its virtual memory limited (ulimit -v)
# Prints the command's output, then every check that failed; exits 1 if any did.
set -u
status=any
vlimit=""
failed=0
out=$(mktemp)
spec=$(mktemp)
trap 'rm -f "$out" "$spec" "$out.checks"' EXIT
note() { echo "expect.sh: $*"; failed=1; }
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    case $1 in
    --status) status=$2; shift 2 ;;
    --fresh) rm -rf "$2" && mkdir -p "$2"; shift 2 ;;
    --write) printf '%s\n' "$3" >"$2"; shift 3 ;;
    --address-space) vlimit=$2; shift 2 ;;
    --match | --no-match | --file | --no-file | --no-glob)
        printf '%s\n%s\n' "$1" "$2" >>"$spec"; shift 2 ;;
    --file-match) printf '%s\n%s\t%s\n' "$1" "$2" "$3" >>"$spec"; shift 3 ;;
    *) echo "expect.sh: unknown check $1" >&2; exit 2 ;;
    esac
done
[ "${1:-}" = "--" ] || { echo "expect.sh: missing -- COMMAND" >&2; exit 2; }
shift
if [ -n "$vlimit" ]; then
    (ulimit -v "$vlimit" && exec "$@") >"$out" 2>&1
else
    "$@" >"$out" 2>&1
fi
rc=$?
cat "$out"
echo "expect.sh: exit status $rc"
case $status in
0) [ $rc -eq 0 ] || note "expected success, got exit status $rc" ;;
error) { [ $rc -ge 1 ] && [ $rc -le 125 ]; } || note "expected an error (status 1-125), got $rc" ;;
esac
while IFS= read -r kind && IFS= read -r value; do
    case $kind in
    --match) grep -Eq -- "$value" "$out" || echo "expect.sh: output does not match: $value" ;;
    --no-match) ! grep -Eq -- "$value" "$out" || echo "expect.sh: output matches: $value" ;;
    --file) [ -s "$value" ] || [ -d "$value" ] || echo "expect.sh: missing: $value" ;;
    --no-file) [ ! -e "$value" ] || echo "expect.sh: should not exist: $value" ;;
    --no-glob)
        for f in $value; do
            [ ! -e "$f" ] || echo "expect.sh: should not exist: $f"
        done ;;
    --file-match)
        file=$(printf '%s' "$value" | cut -f1)
        pattern=$(printf '%s' "$value" | cut -f2-)
        grep -Eq -- "$pattern" "$file" 2>/dev/null || echo "expect.sh: $file does not match: $pattern" ;;
    esac
done <"$spec" >"$out.checks"
if [ -s "$out.checks" ]; then
    cat "$out.checks"
    failed=1
fi
[ $failed -eq 0 ] && echo "expect.sh: OK"
exit $failed
