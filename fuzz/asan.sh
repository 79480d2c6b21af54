#!/bin/sh
# The unit tests and the builder built with ASan and UBSan (make test-asan),
# from the repository's root:
#
#   fuzz/asan.sh ASAN_BUILD_DIR UNIT_TEST...
#
# Runs every unit test, the builder on sample/ (build, --verify, --list)
# and t/builder.t and t/150-incremental.t (the reuse of a previous store's
# pages) with BULLETIN_BUILD at the sanitized builder.  The
# sanitizers write their reports to ASAN_BUILD_DIR/log/ (so none is lost
# to a test that reads stderr, or to an expected non-zero exit); any
# report, or any failure, fails the run.

set -u

dir=$1
shift

log="$(pwd)/$dir/log"
out="$dir/out"

rm -rf "$log" "$out"
mkdir -p "$log" "$out"

ASAN_OPTIONS="detect_leaks=1:log_path=$log/asan"
UBSAN_OPTIONS="print_stacktrace=1:log_path=$log/ubsan"
export ASAN_OPTIONS UBSAN_OPTIONS

failed=""

for t in "$@"; do
    echo "# $t"
    "$t" || failed="$failed $t"
done

builder="$dir/bulletin-build"

"$builder" -o "$out/sample.blt" sample/ || failed="$failed build"
"$builder" --verify "$out/sample.blt" || failed="$failed --verify"
"$builder" --list "$out/sample.blt" > /dev/null || failed="$failed --list"

BULLETIN_BUILD="$(pwd)/$dir" ${PROVE:-prove} t/builder.t t/150-incremental.t \
    || failed="$failed t/builder.t t/150-incremental.t"

reports=$(ls "$log")

if [ -n "$reports" ]; then
    for f in "$log"/*; do
        echo "== $f"
        cat "$f"
    done
fi

if [ -n "$failed" ] || [ -n "$reports" ]; then
    echo "test-asan: failed:$failed; $(echo "$reports" | grep -c .)" \
         "sanitizer reports (above)" >&2
    exit 1
fi

echo "test-asan: every test passed, no sanitizer report"
