#!/bin/sh
# Runs libFuzzer targets built in build/fuzz/, from the repository's root.
#
#   fuzz/run.sh short SECONDS NAME...   each fuzzer for SECONDS: first the
#   fuzz/run.sh long SECONDS NAME...    reproducers of fixed crashes in
#                                       fuzz/crashes/NAME-*, then its corpus
#   fuzz/run.sh merge NAME...           add to fuzz/corpus/NAME/ the inputs
#                                       of long runs that cover more
#
# A run reads fuzz/corpus/NAME/ and writes what it finds to another
# folder (libFuzzer writes to its first corpus folder): a run never
# changes the repository.  A short run (make test) works in a folder of
# its own under build/fuzz/, removed unless something failed, so that
# runs at the same time do not meet; a long run (make fuzz) keeps its
# finds in build/fuzz/new-NAME/ for the next long run and for merge, its
# log in build/fuzz/new-NAME.log.  One process a fuzzer.  FUZZ_OPTS adds
# libFuzzer options.  A crash fails the run and says where its input is.

set -u

out=build/fuzz
opts="-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 ${FUZZ_OPTS:-}"
mode=$1
shift

if [ "$mode" = merge ]; then
    for name in "$@"; do
        mkdir -p "$out/new-$name"
        "$out/fuzz_$name" -merge=1 "fuzz/corpus/$name" "$out/new-$name" \
            > "$out/merge-$name.log" 2>&1 || {
            cat "$out/merge-$name.log"
            exit 1
        }
        grep 'MERGE-OUTER: .* new files' "$out/merge-$name.log" \
            | sed "s/^MERGE-OUTER:/fuzz_$name:/"
    done

    exit 0
fi

seconds=$1
shift

if [ "$mode" = short ]; then
    work=$(mktemp -d "$out/short.XXXXXX") || exit 1
    prefix="$work/"

else
    work=""
    prefix="$out/new-"
fi

for name in "$@"; do
    bin="$out/fuzz_$name"
    log="$prefix$name.log"
    dict=""

    [ -f "fuzz/$name.dict" ] && dict="-dict=fuzz/$name.dict"

    # fixed crashes first: each must run clean
    crashes=$(ls fuzz/crashes/"$name"-* 2>/dev/null)

    if [ -n "$crashes" ]; then
        # shellcheck disable=SC2086
        "$bin" $opts $crashes > "$log" 2>&1 || {
            cat "$log"
            echo "fuzz_$name: a fixed crash crashes again" >&2
            exit 1
        }
    fi

    mkdir -p "$prefix$name"

    # shellcheck disable=SC2086
    "$bin" $opts $dict -max_total_time="$seconds" \
        -artifact_prefix="$prefix$name-" "$prefix$name" "fuzz/corpus/$name" \
        > "$log" 2>&1 || {
        tail -n 60 "$log"
        echo "fuzz_$name: failed, the input is in $prefix$name-crash-*" \
             "(full log: $log)" >&2
        exit 1
    }

    awk -v name="fuzz_$name" '
        /[ \t]DONE[ \t]/ { for (i = 1; i <= NF; i++) {
                               if ($i == "cov:") cov = $(i + 1)
                               if ($i == "ft:") ft = $(i + 1)
                               if ($i == "corp:") corp = $(i + 1)
                           } }
        /^stat::number_of_executed_units:/ { runs = $2 }
        /^stat::average_exec_per_sec:/ { rate = $2 }
        END { printf "%s: %s runs, %s/s, cov %s, ft %s, corpus %s\n",
                     name, runs, rate, cov, ft, corp }' "$log"
done

[ -n "$work" ] && rm -rf "$work"

exit 0
